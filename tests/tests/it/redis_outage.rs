//! Redis going away mid-session and coming back, seen from the browser: protected
//! routes fail closed quickly with the localized 503 page and `Retry-After`, bypass
//! routes keep serving, sign-in says it is temporarily unavailable, the outage is
//! counted once, and the same session works again without restarting the gateway.
use crate::harness::*;
use reqwest::StatusCode;
use std::time::{Duration, Instant};

async fn metrics(c: &reqwest::Client, gw: &TestGateway) -> String {
    c.get(gw.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[test]
fn a_redis_restart_is_a_short_503_then_the_same_session_works() {
    crate::logs::init();
    let gw = TestGateway::start(Store::RedisPersistent);
    block_on(async {
        let c = client();
        sign_in(&c, &gw, "user@example.com", PASSWORD, "/members").await;
        assert_eq!(
            c.get(gw.url("/members")).send().await.unwrap().status(),
            StatusCode::OK
        );
        let m = metrics(&c, &gw).await;
        assert!(has_line(&m, "sekisho_store_available 1"), "{m}");
        assert!(has_line(&m, "sekisho_store_outages_total 0"), "{m}");

        gw.stop_redis();
        for _ in 0..10 {
            let start = Instant::now();
            let resp = c
                .get(gw.url("/members"))
                .header("accept", "text/html")
                .header("accept-language", "ja")
                .send()
                .await
                .unwrap();
            let took = start.elapsed();
            assert!(took < Duration::from_secs(2), "took {took:?}");
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(resp.headers()["retry-after"], "5");
            let body = resp.text().await.unwrap();
            assert!(body.contains("一時的に利用できません"), "{body}");
        }
        let start = Instant::now();
        let api = c.get(gw.url("/api/items")).send().await.unwrap();
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(
            c.get(gw.url("/public/x")).send().await.unwrap().status(),
            StatusCode::OK,
            "bypass routes need no store"
        );
        // Signing in anew is refused with a clear page, not a generic error.
        let other = client();
        let resp = sign_in(&other, &gw, "user@example.com", PASSWORD, "/members").await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().contains_key("retry-after"));
        assert!(resp
            .text()
            .await
            .unwrap()
            .contains("Sign-in is temporarily unavailable"));
        let m = metrics(&c, &gw).await;
        assert!(has_line(&m, "sekisho_store_available 0"), "{m}");
        assert!(
            has_line(&m, "sekisho_store_outages_total 1"),
            "one outage however many requests failed: {m}"
        );

        // The server comes back with its append-only file: the same cookie works.
        gw.restart_redis();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let status = c.get(gw.url("/members")).send().await.unwrap().status();
            if status == StatusCode::OK {
                break;
            }
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert!(Instant::now() < deadline, "never recovered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let m = metrics(&c, &gw).await;
        assert!(has_line(&m, "sekisho_store_available 1"), "{m}");
        assert!(has_line(&m, "sekisho_store_outages_total 1"), "{m}");
        let resp = sign_in(&other, &gw, "user@example.com", PASSWORD, "/members").await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "sign-in works again");

        // One warning per outage, not one per failed request.
        let logs = crate::logs::captured();
        let ours = format!("127.0.0.1:{}/", gw.redis_port().unwrap());
        let lines = |what: &str| {
            logs.lines()
                .filter(|l| l.contains(what) && l.contains(&ours))
                .count()
        };
        assert_eq!(lines("session store unreachable"), 1, "{logs}");
        assert_eq!(lines("session store reachable again"), 1, "{logs}");
    });
}
