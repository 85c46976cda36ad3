//! `sekisho run` with `[log] format = "json"`: every stderr line is a JSON object, and
//! the access line of a request carries the id its error page shows — with neither
//! the query string nor the cookies the request came with.
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills the gateway even when an assertion fails first.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A configuration for `sekisho run` on `listen`/`admin` with a SQLite file and one
/// site (nothing listens upstream), followed by `extra` tables.
pub(crate) fn run_config(listen: &str, admin: &str, db: &std::path::Path, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "{listen}"
admin_listen = "{admin}"
threads = 1
grace_period = "0s"

[database]
url = "sqlite://{db}"

[password]
memory_kib = 1024
iterations = 1

[[sites]]
host = "127.0.0.1"
upstreams = ["127.0.0.1:9"]

{extra}"#,
        db = db.display()
    )
}

/// One HTTP/1.1 request over a raw socket; returns the whole response, or `None`
/// while nothing listens yet.
pub(crate) fn raw(addr: &str, path: &str, extra_headers: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra_headers}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    Some(buf)
}

#[test]
fn json_access_log_matches_the_error_page() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", sekisho_testkit::free_port());
    let admin = format!("127.0.0.1:{}", sekisho_testkit::free_port());
    let config = dir.path().join("sekisho.toml");
    std::fs::write(
        &config,
        run_config(
            &listen,
            &admin,
            &dir.path().join("t.db"),
            "[log]\nformat = \"json\"\nlevel = \"info\"\n\n[[rules]]\nname = \"blocked\"\npaths = [\"/deny\"]\naction = \"deny\"\n",
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sekisho"))
        .args(["run", "--config"])
        .arg(&config)
        .env_remove("SEKISHO_LOG")
        .env_remove("SEKISHO_CONFIG")
        .env_remove("SEKISHO_SECRET_KEY")
        .env_remove("SEKISHO_SESSION_STORE")
        .env_remove("SEKISHO_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    while raw(&admin, "/healthz", "").is_none_or(|r| !r.starts_with("HTTP/1.1 200")) {
        assert!(Instant::now() < deadline, "the gateway did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let page = raw(
        &listen,
        "/deny/x?token=tok-secret-5",
        "Accept: text/html\r\nCookie: sekisho_session=cookie-secret-5; other=crumb-secret-5\r\n",
    )
    .unwrap();
    assert!(page.starts_with("HTTP/1.1 403"), "{page}");
    let id = page
        .split("<code id=\"request-id\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the error page shows a request id")
        .to_string();

    let mut lines = Vec::new();
    let access = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no access line for {id} in {lines:#?}"));
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        lines.push(line);
        if v["target"] == "sekisho::access" && v["request_id"] == id.as_str() {
            break v;
        }
    };
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["path"], "/deny/x");
    assert_eq!(access["status"], 403);
    assert_eq!(access["action"], "deny");
    assert_eq!(access["site"], "127.0.0.1");
    assert_eq!(access["client_ip"], "127.0.0.1");
    assert!(access["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(access.get("user").is_none() && access.get("upstream_status").is_none());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("error page") && l.contains(&id)),
        "the error page's own line has the id too: {lines:#?}"
    );
    for secret in ["tok-secret-5", "cookie-secret-5", "crumb-secret-5"] {
        assert!(
            !lines.iter().any(|l| l.contains(secret)),
            "{secret} was logged"
        );
    }
}
