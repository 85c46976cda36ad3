//! Bad input, forged requests and broken upstreams: clear answers, never a panic.
use crate::harness::*;
use crate::on_both_stores;
use reqwest::StatusCode;

async fn open_redirects_are_refused(gw: &TestGateway) {
    for rd in [
        "//evil.example/",
        "/\\evil.example/",
        "https:evil.example",
        "https://evil.example/",
        "http://127.0.0.1.evil.example/",
        "%2F%2Fevil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
    ] {
        let c = client();
        let resp = sign_in(&c, gw, "user@example.com", PASSWORD, rd).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{rd}");
        assert_eq!(
            resp.headers()["location"],
            "/",
            "rd {rd:?} must not be followed"
        );
    }
    // A configured site is a fine target.
    let c = client();
    let resp = sign_in(
        &c,
        gw,
        "user@example.com",
        PASSWORD,
        "http://other.test/members",
    )
    .await;
    assert_eq!(resp.headers()["location"], "http://other.test/members");
}
on_both_stores!(open_redirects_are_refused);

async fn cross_site_forms_are_refused(gw: &TestGateway) {
    let c = client();
    let token = csrf_token(&c, gw).await;
    let resp = c
        .post(gw.url("/_sekisho/login"))
        .header("origin", "http://evil.example")
        .form(&[
            ("csrf", token.as_str()),
            ("email", "user@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&resp).is_none());
    // No token at all (a form on another site cannot read ours).
    let stranger = client();
    let resp = stranger
        .post(gw.url("/_sekisho/login"))
        .form(&[("email", "user@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&resp).is_none());
}
on_both_stores!(cross_site_forms_are_refused);

async fn malformed_input_gets_clean_errors(gw: &TestGateway) {
    let c = client();
    // Malformed session cookies are simply no session.
    for cookie in [
        "sekisho_session=",
        "sekisho_session=%%%%",
        "sekisho_session=../../../../etc/passwd",
        "sekisho_session=\"unterminated",
        "sekisho_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "sekisho_session; other",
        ";;;=;=",
    ] {
        let resp = c
            .get(gw.url("/api/x"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{cookie}");
    }
    let long = format!("sekisho_session={}", "A".repeat(8000));
    assert_eq!(
        c.get(gw.url("/api/x"))
            .header("cookie", long)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let token = csrf_token(&c, gw).await;
    // Bad UTF-8 in a form.
    let resp = c
        .post(gw.url("/_sekisho/login"))
        .header("origin", &gw.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&email=%ff%fe&password=%c3%28"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("Request ID"));
    // Oversized bodies, declared and chunked.
    let big = vec![b'a'; 200 * 1024];
    let resp = c
        .post(gw.url("/_sekisho/login"))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let addr = gw.handle.proxy_addr;
    let status =
        tokio::task::spawn_blocking(move || chunked_post(addr, "/_sekisho/login", 200 * 1024))
            .await
            .unwrap();
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    // Odd encodings in the path and query of the UI.
    let resp = c
        .get(gw.url("/_sekisho/login?rd=%ff"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // The gateway is still fine afterwards.
    assert_eq!(
        c.get(gw.url("/public/ok")).send().await.unwrap().status(),
        StatusCode::OK
    );
}
on_both_stores!(malformed_input_gets_clean_errors);

/// Sends a chunked POST by hand and returns the status line.
fn chunked_post(addr: std::net::SocketAddr, path: &str, total: usize) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n");
    let _ = s.write_all(head.as_bytes());
    let chunk = vec![b'a'; 16 * 1024];
    let mut sent = 0;
    while sent < total {
        // The gateway may answer and close early; later writes then fail, which is fine.
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
            || s.write_all(&chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
        sent += chunk.len();
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

async fn unknown_hosts_and_dead_upstreams(gw: &TestGateway) {
    let c = client();
    let resp = c
        .get(gw.url("/public/x"))
        .header("host", "unknown.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.text().await.unwrap().contains("Unknown site"));
}
on_both_stores!(unknown_hosts_and_dead_upstreams);

#[test]
fn dead_upstream_gives_a_502_page() {
    let dead = sekisho_testkit::free_port();
    let gw = TestGateway::start_with(
        Store::Memory,
        &format!("\n[[sites]]\nhost = \"down.test\"\nupstreams = [\"127.0.0.1:{dead}\"]\n"),
    );
    block_on(async {
        let c = client();
        let resp = c
            .get(gw.url("/public/x"))
            .header("host", "down.test")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        let body = resp.text().await.unwrap();
        assert!(body.contains("The site is not responding"), "{body}");
        assert!(body.contains("Request ID"));
    });
}

#[test]
fn health_and_metrics_on_the_admin_listener() {
    let gw = TestGateway::start(Store::Memory);
    block_on(async {
        let c = client();
        assert_eq!(
            c.get(gw.admin_url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        let ready = c.get(gw.admin_url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
        assert_eq!(ready.text().await.unwrap(), "session_store ok\nsql ok\n");
        c.get(gw.url("/deny/x")).send().await.unwrap();
        // The counter is bumped in the logging phase, just after the response is sent.
        let mut count = 0u64;
        for _ in 0..100 {
            let metrics = c
                .get(gw.admin_url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            count = metrics
                .lines()
                .find(|l| {
                    l.starts_with(
                        "sekisho_requests_total{action=\"deny\",site=\"127.0.0.1\",status_class=\"4xx\"}",
                    )
                })
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
                .unwrap_or(0);
            if count >= 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(count >= 1, "the denied request was counted");
    });
}

/// Protected routes fail closed while Redis is down, bypass routes keep serving,
/// `/readyz` says so, and everything recovers by itself when Redis is back.
#[test]
fn redis_outage_fails_closed_but_bypass_keeps_working() {
    let gw = TestGateway::start(Store::Redis);
    block_on(async {
        let c = client();
        sign_in(&c, &gw, "user@example.com", PASSWORD, "/members").await;
        assert_eq!(
            c.get(gw.url("/members")).send().await.unwrap().status(),
            StatusCode::OK
        );
        gw.stop_redis();
        let resp = c.get(gw.url("/members")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.text().await.unwrap().contains("Request ID"));
        assert_eq!(
            c.get(gw.url("/public/x")).send().await.unwrap().status(),
            StatusCode::OK
        );
        let ready = c.get(gw.admin_url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(ready
            .text()
            .await
            .unwrap()
            .contains("session_store unavailable"));
        assert_eq!(
            c.get(gw.admin_url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK,
            "the process is up"
        );

        gw.restart_redis();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let ready = c.get(gw.admin_url("/readyz")).send().await.unwrap();
            if ready.status() == StatusCode::OK {
                break;
            }
            assert!(std::time::Instant::now() < until, "/readyz never recovered");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // The sessions went with the old server: sign in again, and it all works.
        let c = client();
        let resp = c.get(gw.url("/members")).send().await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::UNAUTHORIZED,
            "no session, no outage"
        );
        // Each store client notices the old connection is gone on its first command
        // and reconnects; that request may get the 503 page, the next one works.
        let mut blips = 0;
        loop {
            let resp = sign_in(&c, &gw, "user@example.com", PASSWORD, "/members").await;
            if resp.status() == StatusCode::SEE_OTHER {
                break;
            }
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
            blips += 1;
            assert!(blips <= 2, "still failing after {blips} sign-ins");
        }
        assert_eq!(
            c.get(gw.url("/members")).send().await.unwrap().status(),
            StatusCode::OK
        );
    });
}
