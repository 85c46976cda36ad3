//! Test helpers that start real servers for the test suites: `redis-server` on an
//! ephemeral port, a throw-away PostgreSQL database, an SMTP sink ([`SmtpSink`]), a
//! small HTTPS upstream ([`HttpsServer`]), free loopback ports. Everything started
//! here is stopped (or dropped) when its guard is dropped. Missing servers are a loud
//! failure, never a silent skip: run `scripts/install-deps.sh` first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod https;
mod smtp;

pub use https::HttpsServer;
pub use smtp::{ReceivedMail, SmtpSink, SmtpSinkBuilder};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port that was free a moment ago and that no other caller in this process
/// has been given. The kernel may hand the same ephemeral port to two `bind(0)` calls
/// in a row; two servers of one process then race for it, and a gateway whose proxy
/// and admin listeners got the same port would share one socket between two services.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free loopback port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A private `redis-server`, killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: std::sync::Mutex<Child>,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> Self {
        for _ in 0..5 {
            if let Some(s) = Self::try_start() {
                return s;
            }
        }
        panic!("could not start redis-server; is it installed? (scripts/install-deps.sh)");
    }

    fn try_start() -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let port = free_port();
        let child = Self::spawn(port, dir.path());
        let server = Self {
            port,
            child: std::sync::Mutex::new(child),
            _dir: dir,
        };
        server.wait_until_up().then_some(server)
    }

    fn spawn(port: u16, dir: &std::path::Path) -> Child {
        Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed: run scripts/install-deps.sh")
    }

    /// Whether the server answers within 5 s (false if it exited: port race lost).
    fn wait_until_up(&self) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if self.ping() {
                return true;
            }
            if let Ok(Some(_)) = self.child.lock().unwrap().try_wait() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Starts an empty server again on the same port after [`Self::kill`] (an
    /// outage that ends; nothing stored survives it).
    pub fn restart(&self) {
        self.kill();
        for _ in 0..50 {
            *self.child.lock().unwrap() = Self::spawn(self.port, self._dir.path());
            if self.wait_until_up() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not come back on port {}", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }
}

impl RedisServer {
    /// Stops the server now (to test outages); dropping does the same.
    pub fn kill(&self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh PostgreSQL database, dropped on drop.
///
/// The server comes from `SEKISHO_TEST_PG` (a `postgres://` URL to an admin database),
/// by default `postgres://postgres@127.0.0.1:5432/postgres`.
pub struct PostgresDb {
    pub url: String,
    name: String,
    admin: String,
}

impl PostgresDb {
    pub fn create() -> Self {
        let admin = std::env::var("SEKISHO_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("sekisho_t_{:016x}", rand::random::<u64>());
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            name,
            admin,
        }
    }
}

impl Drop for PostgresDb {
    fn drop(&mut self) {
        psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql is not installed: run scripts/install-deps.sh");
    assert!(
        out.status.success(),
        "PostgreSQL is needed for the tests ({sql}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(test)]
mod free_port_tests {
    #[test]
    fn ports_are_never_given_twice() {
        let mut ports: Vec<u16> = (0..500).map(|_| super::free_port()).collect();
        ports.sort_unstable();
        let before = ports.len();
        ports.dedup();
        assert_eq!(ports.len(), before, "free_port handed out a port twice");
    }
}
