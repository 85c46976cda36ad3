//! Test helpers that start real servers for the test suites: `redis-server` on an
//! ephemeral port (alone, as a Cluster, or behind a Sentinel; with TLS, ACL users or
//! an append-only file), a throw-away PostgreSQL database, an SMTP sink ([`SmtpSink`]), a
//! small HTTPS upstream ([`HttpsServer`]), free loopback ports. Everything started
//! here is stopped (or dropped) when its guard is dropped. Missing servers are a loud
//! failure, never a silent skip: run `scripts/install-deps.sh` first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod https;
mod redis;
mod redis_topologies;
mod smtp;

pub use https::HttpsServer;
pub use redis::{RedisServer, TestPki};
pub use redis_topologies::{RedisCluster, RedisSentinel};
pub use smtp::{ReceivedMail, SmtpSink, SmtpSinkBuilder};

use std::net::TcpListener;
use std::process::Command;

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
