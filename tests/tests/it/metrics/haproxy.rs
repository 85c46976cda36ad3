//! `deploy/haproxy/sekisho.cfg` run by a real HAProxy (Debian's `haproxy`) in front of
//! a real gateway, with test ports and a throw-away certificate: HAProxy accepts the
//! file, terminates TLS, redirects plain HTTP, and replaces a client's forged
//! `X-Forwarded-For` and `X-Request-Id` before Sekisho (which trusts it) sees them.
use crate::harness::{block_on, Store, TestGateway};
use sekisho_testkit::free_port;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian puts it in /usr/sbin, which a non-root PATH may lack.
fn haproxy() -> Command {
    let sbin = std::path::Path::new("/usr/sbin/haproxy");
    Command::new(if sbin.exists() {
        sbin
    } else {
        std::path::Path::new("haproxy")
    })
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "the example has `{from}` once"
    );
    text.replace(from, to)
}

#[test]
fn haproxy_example_fronts_a_real_gateway() {
    let gw = TestGateway::start_with(
        Store::Memory,
        "\n[network]\ntrusted_proxies = [\"127.0.0.1/32\"]\n\n\
         [[rules]]\nname = \"open\"\npaths = [\"/open\"]\naction = \"bypass\"\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("k.pem"), dir.path().join("c.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success());
    let pem = dir.path().join("site.pem");
    std::fs::write(
        &pem,
        std::fs::read_to_string(&cert).unwrap() + &std::fs::read_to_string(&key).unwrap(),
    )
    .unwrap();

    let (http, https) = (free_port(), free_port());
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy/sekisho.cfg"),
    )
    .unwrap();
    let cfg = replace_once(&example, "bind :80\n", &format!("bind 127.0.0.1:{http}\n"));
    let cfg = replace_once(
        &cfg,
        "bind :443 ssl crt /etc/haproxy/certs/app.example.com.pem",
        &format!("bind 127.0.0.1:{https} ssl crt {}", pem.display()),
    );
    let cfg = replace_once(
        &cfg,
        "server sekisho1 127.0.0.1:8080 check port 9090",
        &format!(
            "server sekisho1 {} check port {}",
            gw.handle.proxy_addr,
            gw.handle.admin_addr.unwrap().port()
        ),
    );
    let file = dir.path().join("haproxy.cfg");
    std::fs::write(&file, cfg).unwrap();

    let check = haproxy()
        .arg("-c")
        .arg("-f")
        .arg(&file)
        .output()
        .expect("haproxy is installed (scripts/install-deps.sh)");
    assert!(
        check.status.success(),
        "haproxy -c: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _haproxy = Killed(
        haproxy()
            .arg("-db")
            .arg("-f")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }

    block_on(async {
        let c = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // The health check must have marked the server up before traffic flows.
        let deadline = Instant::now() + Duration::from_secs(15);
        let resp = loop {
            let resp = c
                .get(format!("https://127.0.0.1:{https}/open"))
                .header("x-forwarded-for", "203.0.113.9")
                .header("x-request-id", "forged-id")
                .send()
                .await
                .unwrap();
            if resp.status() != 503 || Instant::now() > deadline {
                break resp;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().contains_key("strict-transport-security"));
        let seen = gw.upstream.last("/open");
        let header = |name: &str| {
            seen.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let xff = header("x-forwarded-for");
        assert!(
            !xff.is_empty() && xff.split(", ").all(|ip| ip == "127.0.0.1"),
            "the forged address must not pass: {xff}"
        );
        assert_eq!(header("x-forwarded-proto"), "https");
        let id = header("x-request-id");
        assert!(id.len() >= 32 && id != "forged-id", "{id}");

        let plain = c
            .get(format!("http://127.0.0.1:{http}/open?x=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(plain.status(), 308);
        assert_eq!(
            plain.headers()["location"],
            format!("https://127.0.0.1:{http}/open?x=1").as_str()
        );
    });
}
