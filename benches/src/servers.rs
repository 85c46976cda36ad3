//! The servers of a run, each on an ephemeral loopback port with one worker: the
//! upstream (nginx `return 200`), the bare Pingora passthrough, nginx as a plain
//! proxy, nginx + `auth_request` with its nginx auth backend (204), Caddy
//! `forward_auth` and Traefik `forwardAuth` when their binaries are installed, and
//! `redis-server`.
use crate::children::Running;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A loopback port that was free a moment ago and that this process never handed out
/// before (two `bind(0)` calls may get the same port).
pub fn free_port() -> Result<u16, String> {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
    Err("no new free loopback port after 100 tries".into())
}

/// Where `name` is on `PATH` (also `/usr/sbin`, where Debian puts nginx).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

/// A started server: its port and its processes (CPU is counted over their trees).
pub struct Server {
    pub name: String,
    pub port: u16,
    pub procs: Vec<Running>,
}

impl Server {
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(Running::pid).collect()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Waits up to 15 s until the port accepts connections; fails with the log's
    /// tail if a process exits first.
    pub fn wait_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            for p in &mut self.procs {
                if p.exited() {
                    return Err(format!("{} exited at start:\n{}", p.name, p.log_tail()));
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen on {} within 15 s",
                    self.name, self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// Options shared by every server of a run.
#[derive(Debug, Clone)]
pub struct Lab {
    pub dir: PathBuf,
    pub bin_dir: PathBuf,
    pub access_log: bool,
    pub threads: usize,
}

impl Lab {
    fn nginx_conf(
        &self,
        name: &str,
        port: u16,
        http: &str,
        locations: &str,
    ) -> Result<PathBuf, String> {
        let d = self.dir.display();
        let tmp = self.dir.join(format!("{name}-tmp"));
        std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        let access = if self.access_log {
            format!("access_log {d}/{name}-access.log combined buffer=64k;")
        } else {
            "access_log off;".to_string()
        };
        let t = tmp.display();
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes {workers};\nworker_rlimit_nofile 65536;\n\
             pid {d}/{name}.pid;\nerror_log {d}/{name}-error.log warn;\n\
             events {{ worker_connections 16384; }}\n\
             http {{\n  {access}\n  keepalive_timeout 300s;\n  keepalive_requests 100000000;\n\
             client_body_temp_path {t}/body;\n  proxy_temp_path {t}/proxy;\n  fastcgi_temp_path {t}/fcgi;\n\
             uwsgi_temp_path {t}/uwsgi;\n  scgi_temp_path {t}/scgi;\n\
             {http}\n  server {{\n    listen 127.0.0.1:{port};\n{locations}\n  }}\n}}\n",
            workers = self.threads,
        );
        let path = self.dir.join(format!("{name}.conf"));
        std::fs::write(&path, conf).map_err(|e| e.to_string())?;
        Ok(path)
    }

    fn start_nginx(&self, name: &str, http: &str, locations: &str) -> Result<Server, String> {
        let nginx = which("nginx").ok_or("nginx is not installed (benches/run.sh installs it)")?;
        let port = free_port()?;
        let conf = self.nginx_conf(name, port, http, locations)?;
        let mut cmd = Command::new(nginx);
        cmd.arg("-p")
            .arg(&self.dir)
            .arg("-e")
            .arg(self.dir.join(format!("{name}-error.log")))
            .arg("-c")
            .arg(&conf);
        let mut s = Server {
            name: name.into(),
            port,
            procs: vec![Running::spawn(name, &mut cmd, &self.dir)?],
        };
        s.wait_listening()?;
        Ok(s)
    }

    /// The upstream every proxy forwards to: `200 upstream ok` on every path, and
    /// `stub_status` on `/__status` to count its accepted connections.
    pub fn upstream(&self) -> Result<Server, String> {
        self.start_nginx(
            "upstream",
            "",
            "    location = /__status { stub_status; }\n    location / { return 200 \"upstream ok\\n\"; }",
        )
    }

    /// An auth backend that allows everything (`204`).
    pub fn auth_backend(&self) -> Result<Server, String> {
        self.start_nginx(
            "auth-backend",
            "",
            "    location = /__status { stub_status; }\n    location / { return 204; }",
        )
    }

    /// nginx as a plain reverse proxy, with keep-alive to the upstream.
    pub fn nginx_proxy(&self, upstream: u16) -> Result<Server, String> {
        let body = format!(
            "upstream backend {{ server 127.0.0.1:{upstream}; keepalive 64; keepalive_requests 100000000; keepalive_timeout 300s; }}"
        );
        let locations = "    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }";
        self.start_nginx("nginx-proxy", &body, locations)
    }

    /// nginx + `auth_request` to `auth` (one subrequest per request), both upstreams
    /// with keep-alive.
    pub fn nginx_auth_request(&self, upstream: u16, auth: u16) -> Result<Server, String> {
        let body = format!(
            "upstream backend {{ server 127.0.0.1:{upstream}; keepalive 64; keepalive_requests 100000000; keepalive_timeout 300s; }}\n\
             upstream authsrv {{ server 127.0.0.1:{auth}; keepalive 64; keepalive_requests 100000000; keepalive_timeout 300s; }}"
        );
        let locations = "    location / { auth_request /__auth; proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }\n\
             location = /__auth { internal; proxy_pass http://authsrv/check; proxy_http_version 1.1; proxy_set_header Connection \"\";\n\
             proxy_pass_request_body off; proxy_set_header Content-Length \"\"; proxy_set_header X-Original-URI $request_uri; }";
        self.start_nginx("nginx-auth", &body, locations)
    }

    /// The bare Pingora passthrough (`bare-pingora` from `bin_dir`), with the
    /// gateway's default upstream timeouts on its peer when `timeouts`.
    pub fn bare_pingora(&self, upstream: u16, timeouts: bool) -> Result<Server, String> {
        let bin = self.bin_dir.join("bare-pingora");
        if !bin.is_file() {
            return Err(format!(
                "{} is missing: build it with cargo build --release -p sekisho-benches",
                bin.display()
            ));
        }
        let port = free_port()?;
        let mut cmd = Command::new(bin);
        cmd.arg(format!("127.0.0.1:{port}"))
            .arg(format!("127.0.0.1:{upstream}"))
            .arg(self.threads.to_string());
        if timeouts {
            cmd.arg("timeouts");
        }
        let mut s = Server {
            name: "bare-pingora".into(),
            port,
            procs: vec![Running::spawn("bare-pingora", &mut cmd, &self.dir)?],
        };
        s.wait_listening()?;
        Ok(s)
    }

    /// Caddy `forward_auth` to `auth`, then `reverse_proxy` to the upstream, with
    /// `GOMAXPROCS` = threads. `None` when `caddy` is not installed.
    pub fn caddy(&self, upstream: u16, auth: u16) -> Result<Option<Server>, String> {
        let Some(caddy) = which("caddy") else {
            return Ok(None);
        };
        let port = free_port()?;
        let log = if self.access_log { "\n  log" } else { "" };
        let file = self.dir.join("Caddyfile");
        let conf = format!(
            "{{\n  admin off\n  auto_https off\n}}\n\
             http://127.0.0.1:{port} {{{log}\n  forward_auth 127.0.0.1:{auth} {{\n    uri /check\n  }}\n  reverse_proxy 127.0.0.1:{upstream}\n}}\n"
        );
        std::fs::write(&file, conf).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(caddy);
        cmd.args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("GOMAXPROCS", self.threads.to_string())
            .env("XDG_DATA_HOME", &self.dir)
            .env("XDG_CONFIG_HOME", &self.dir);
        let mut s = Server {
            name: "caddy".into(),
            port,
            procs: vec![Running::spawn("caddy", &mut cmd, &self.dir)?],
        };
        s.wait_listening()?;
        Ok(Some(s))
    }

    /// Traefik `forwardAuth` to `auth`, with `GOMAXPROCS` = threads. `None` when
    /// `traefik` is not installed.
    pub fn traefik(&self, upstream: u16, auth: u16) -> Result<Option<Server>, String> {
        let Some(traefik) = which("traefik") else {
            return Ok(None);
        };
        let port = free_port()?;
        let dynamic = self.dir.join("traefik-dynamic.yml");
        let d = format!(
            "http:\n  routers:\n    all:\n      rule: \"PathPrefix(`/`)\"\n      entryPoints: [web]\n      service: up\n      middlewares: [auth]\n\
             \x20 middlewares:\n    auth:\n      forwardAuth:\n        address: \"http://127.0.0.1:{auth}/check\"\n\
             \x20 services:\n    up:\n      loadBalancer:\n        servers:\n          - url: \"http://127.0.0.1:{upstream}\"\n"
        );
        std::fs::write(&dynamic, d).map_err(|e| e.to_string())?;
        let file = self.dir.join("traefik.yml");
        let s = format!(
            "global:\n  checkNewVersion: false\n  sendAnonymousUsage: false\n\
             entryPoints:\n  web:\n    address: \"127.0.0.1:{port}\"\n\
             providers:\n  file:\n    filename: \"{}\"\nlog:\n  level: ERROR\n{}",
            dynamic.display(),
            if self.access_log {
                "accessLog: {}\n"
            } else {
                ""
            }
        );
        std::fs::write(&file, s).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(traefik);
        cmd.arg(format!("--configFile={}", file.display()))
            .env("GOMAXPROCS", self.threads.to_string());
        let mut s = Server {
            name: "traefik".into(),
            port,
            procs: vec![Running::spawn("traefik", &mut cmd, &self.dir)?],
        };
        s.wait_listening()?;
        Ok(Some(s))
    }

    /// A private `redis-server` that keeps nothing on disk.
    pub fn redis(&self) -> Result<Server, String> {
        let redis = which("redis-server")
            .ok_or("redis-server is not installed (scripts/install-deps.sh)")?;
        let port = free_port()?;
        let mut cmd = Command::new(redis);
        cmd.args([
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
        .arg(&self.dir);
        let mut s = Server {
            name: "redis".into(),
            port,
            procs: vec![Running::spawn("redis-server", &mut cmd, &self.dir)?],
        };
        s.wait_listening()?;
        Ok(s)
    }
}

/// nginx `stub_status` counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NginxStatus {
    pub accepts: u64,
    pub requests: u64,
}

/// Reads `/__status` of an nginx started by [`Lab::upstream`] or [`Lab::auth_backend`].
pub fn nginx_status(port: u16) -> Result<NginxStatus, String> {
    let text = crate::http::get_text(port, "/__status", &[])?.1;
    parse_stub_status(&text).ok_or_else(|| format!("unreadable stub_status: {text}"))
}

fn parse_stub_status(text: &str) -> Option<NginxStatus> {
    let line = text.lines().skip_while(|l| !l.contains("accepts")).nth(1)?;
    let n: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    Some(NginxStatus {
        accepts: *n.first()?,
        requests: *n.get(2)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_status() {
        let t = "Active connections: 2 \nserver accepts handled requests\n 16 16 31 \nReading: 0 Writing: 1 Waiting: 1 \n";
        assert_eq!(
            parse_stub_status(t),
            Some(NginxStatus {
                accepts: 16,
                requests: 31
            })
        );
        assert_eq!(parse_stub_status("nope"), None);
    }

    #[test]
    fn ports_are_new() {
        let a = free_port().unwrap();
        let b = free_port().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn finds_programs() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-here").is_none());
    }
}
