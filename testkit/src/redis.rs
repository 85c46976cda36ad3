//! One `redis-server` process on ephemeral loopback ports, and a throw-away CA for
//! the TLS variants.
use crate::free_port;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A private `redis-server`, killed on drop.
pub struct RedisServer {
    /// The plain-TCP port (also open on TLS servers, for readiness checks).
    pub port: u16,
    /// The TLS port, for servers started with [`RedisServer::start_tls`].
    pub tls_port: Option<u16>,
    child: Mutex<Child>,
    extra: Vec<String>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// With an append-only file written on every command, so that
    /// [`Self::restart`] brings the data back (an outage that loses nothing).
    pub fn start_persistent() -> Self {
        Self::start_with(&["--appendonly", "yes", "--appendfsync", "always"])
    }

    /// With an ACL user `user` / `password` and the default user switched off.
    pub fn start_with_acl(user: &str, password: &str) -> Self {
        // One argument per word: redis-server quotes each argument as one token.
        let secret = format!(">{password}");
        Self::start_with(&[
            "--user", user, "on", &secret, "~*", "&*", "+@all", "--user", "default", "off",
        ])
    }

    /// TLS on an extra port with a certificate for 127.0.0.1 from `pki`.
    pub fn start_tls(pki: &TestPki) -> Self {
        let tls_port = free_port();
        let cert = pki.server_cert.display().to_string();
        let key = pki.server_key.display().to_string();
        let ca = pki.ca.display().to_string();
        let mut s = Self::start_with(&[
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
        ]);
        s.tls_port = Some(tls_port);
        s
    }

    /// `extra` are more `redis-server` options.
    pub fn start_with(extra: &[&str]) -> Self {
        for _ in 0..5 {
            if let Some(s) = Self::try_start(extra) {
                return s;
            }
        }
        panic!("could not start redis-server; is it installed? (scripts/install-deps.sh)");
    }

    fn try_start(extra: &[&str]) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let port = free_port();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let child = spawn_server(port, dir.path(), &extra);
        let server = Self {
            port,
            tls_port: None,
            child: Mutex::new(child),
            extra,
            dir,
        };
        server.wait_until_up().then_some(server)
    }

    /// Whether the server answers within 5 s (false if it exited: port race lost).
    fn wait_until_up(&self) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if answers(self.port) {
                return true;
            }
            if let Ok(Some(_)) = self.child.lock().unwrap().try_wait() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Starts the server again on the same port after [`Self::kill`] (an outage
    /// that ends). Only a server from [`Self::start_persistent`] keeps its data.
    pub fn restart(&self) {
        self.kill();
        for _ in 0..50 {
            *self.child.lock().unwrap() = spawn_server(self.port, self.dir.path(), &self.extra);
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

    /// `host:port` of the plain port.
    pub fn node(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Whether the server answers PING with PONG (no ACL user needed).
    pub fn ping(&self) -> bool {
        reply(self.port, b"PING\r\n").is_some_and(|r| r.starts_with("+PONG"))
    }

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

pub(crate) fn spawn_server(port: u16, dir: &Path, extra: &[String]) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is not installed: run scripts/install-deps.sh")
}

/// The first line a server answers to `request`, if it answers at all.
pub(crate) fn reply(port: u16, request: &[u8]) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    s.write_all(request).ok()?;
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Whether something speaking RESP listens on `port` (a NOAUTH error counts).
pub(crate) fn answers(port: u16) -> bool {
    reply(port, b"PING\r\n").is_some_and(|r| r.starts_with('+') || r.starts_with('-'))
}

/// A CA and a server certificate for 127.0.0.1 / localhost signed by it, as PEM
/// files in a temporary directory.
pub struct TestPki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestPki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (ca_key, ca_cert) = certificate("Sekisho Test CA", None).unwrap();
        let (key, cert) = certificate("127.0.0.1", Some((&ca_key, &ca_cert))).unwrap();
        let write = |name: &str, bytes: Vec<u8>| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        Self {
            ca: write("ca.pem", ca_cert.to_pem().unwrap()),
            server_cert: write("server.pem", cert.to_pem().unwrap()),
            server_key: write("server.key", key.private_key_to_pem_pkcs8().unwrap()),
            _dir: dir,
        }
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

/// A P-256 key and a one-day certificate: a CA without `issuer`, else a server
/// certificate for 127.0.0.1 and localhost signed by it.
fn certificate(
    cn: &str,
    issuer: Option<(&PKey<Private>, &X509)>,
) -> Result<(PKey<Private>, X509), openssl::error::ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", cn)?;
    let name = name.build();
    let mut cert = X509::builder()?;
    cert.set_version(2)?;
    let serial = BigNum::from_u32(rand::random::<u32>() >> 1)?.to_asn1_integer()?;
    cert.set_serial_number(&serial)?;
    cert.set_subject_name(&name)?;
    cert.set_pubkey(&key)?;
    cert.set_not_before(&*Asn1Time::days_from_now(0)?)?;
    cert.set_not_after(&*Asn1Time::days_from_now(1)?)?;
    match issuer {
        None => {
            cert.set_issuer_name(&name)?;
            cert.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            cert.sign(&key, MessageDigest::sha256())?;
        }
        Some((ca_key, ca_cert)) => {
            cert.set_issuer_name(ca_cert.subject_name())?;
            let san = SubjectAlternativeName::new()
                .dns("localhost")
                .ip("127.0.0.1")
                .build(&cert.x509v3_context(Some(ca_cert), None))?;
            cert.append_extension(san)?;
            cert.sign(ca_key, MessageDigest::sha256())?;
        }
    }
    Ok((key, cert.build()))
}
