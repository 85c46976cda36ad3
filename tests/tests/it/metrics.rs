//! Metrics and access logs end to end: a scripted session against a real gateway,
//! then the admin listener's `/metrics` must hold exactly what happened, the access
//! log one line per request without query strings or cookies, and the shipped
//! Grafana dashboard and alert rules only series the gateway really exports.
use crate::harness::{
    block_on, client, form_csrf, header, session_cookie, Store, TestGateway, PASSWORD,
};
use crate::on_both_stores;
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub(crate) async fn scrape(gw: &TestGateway) -> String {
    reqwest::get(gw.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of one exact series (`name{labels}` as exported, labels sorted).
pub(crate) fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn lines<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    let prefix = format!("{family}{{");
    text.lines().filter(|l| l.starts_with(&prefix)).collect()
}

fn sum(text: &str, family: &str) -> f64 {
    lines(text, family)
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Requests are counted in the logging phase, just after the response went out:
/// scrape until `total` have been counted.
async fn counted(gw: &TestGateway, total: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(gw).await;
        let n = sum(&text, "sekisho_requests_total");
        if n >= total || Instant::now() > deadline {
            assert_eq!(n, total, "requests counted:\n{text}");
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// What the client saw: (action, status class) → requests.
#[derive(Default)]
struct Tally(BTreeMap<(&'static str, &'static str), u64>);

impl Tally {
    fn add(&mut self, action: &'static str, status: StatusCode) {
        *self.0.entry((action, class(status))).or_default() += 1;
    }
    fn total(&self) -> f64 {
        self.0.values().sum::<u64>() as f64
    }
}

/// Loads the sign-in page (counted as a `ui` request) and returns its CSRF token.
async fn login_form(c: &reqwest::Client, gw: &TestGateway, seen: &mut Tally) -> String {
    let resp = c.get(gw.url("/_sekisho/login")).send().await.unwrap();
    seen.add("ui", resp.status());
    form_csrf(&resp.text().await.unwrap())
}

async fn post_login(
    c: &reqwest::Client,
    gw: &TestGateway,
    seen: &mut Tally,
    password: &str,
) -> reqwest::Response {
    let token = login_form(c, gw, seen).await;
    let resp = c
        .post(gw.url("/_sekisho/login"))
        .header("origin", &gw.base)
        .form(&[
            ("csrf", token.as_str()),
            ("email", "user@example.com"),
            ("password", password),
            ("rd", "/members"),
        ])
        .send()
        .await
        .unwrap();
    seen.add("ui", resp.status());
    resp
}

/// The access-log lines (text format) of one request id.
fn access_lines(id: &str) -> Vec<String> {
    let needle = format!("request_id=\"{id}\"");
    crate::logs::captured()
        .lines()
        .filter(|l| l.contains("sekisho::access") && l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// Waits for the access line of `id` (written after the response went out).
async fn access_line(id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = access_lines(id);
        if !found.is_empty() || Instant::now() > deadline {
            assert_eq!(found.len(), 1, "one access line for {id}: {found:?}");
            return found[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn requests_are_counted_and_logged(gw: &TestGateway) {
    crate::logs::init();
    let c = client();
    let mut seen = Tally::default();

    let resp = c.get(gw.url("/public/x")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    seen.add("bypass", resp.status());

    let resp = c
        .get(gw.url("/members"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    seen.add("one_factor", resp.status());

    let resp = post_login(&c, gw, &mut seen, "wrong password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = post_login(&c, gw, &mut seen, PASSWORD).await;
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let cookie = session_cookie(&resp).expect("signed in");

    let resp = c
        .get(gw.url("/members?q=secret-query-7"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    seen.add("one_factor", resp.status());

    let token = login_form(&c, gw, &mut seen).await;
    let resp = c
        .post(gw.url("/_sekisho/logout"))
        .header("origin", &gw.base)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    seen.add("ui", resp.status());

    let text = counted(gw, seen.total()).await;
    for ((action, class), n) in &seen.0 {
        let series = format!(
            "sekisho_requests_total{{action=\"{action}\",site=\"127.0.0.1\",status_class=\"{class}\"}}"
        );
        assert_eq!(value(&text, &series), Some(*n as f64), "{series}\n{text}");
    }
    assert_eq!(lines(&text, "sekisho_requests_total").len(), seen.0.len());
    assert_eq!(
        sum(&text, "sekisho_request_duration_seconds_count"),
        seen.total()
    );

    for (series, n) in [
        (
            r#"sekisho_auth_attempts_total{factor="password",reason="invalid_password",result="failure"}"#,
            1.0,
        ),
        (
            r#"sekisho_auth_attempts_total{factor="password",reason="ok",result="success"}"#,
            1.0,
        ),
        (r#"sekisho_sessions_created_total{level="password"}"#, 1.0),
        (r#"sekisho_sessions_created_total{level="mfa"}"#, 0.0),
        (r#"sekisho_sessions_ended_total{reason="sign_out"}"#, 1.0),
        (r#"sekisho_sessions_ended_total{reason="expired"}"#, 0.0),
        (
            r#"sekisho_upstream_duration_seconds_count{site="127.0.0.1"}"#,
            2.0,
        ),
        (
            r#"sekisho_upstream_duration_seconds_count{site="other.test"}"#,
            0.0,
        ),
    ] {
        assert_eq!(value(&text, series), Some(n), "{series}\n{text}");
    }
    assert_eq!(sum(&text, "sekisho_auth_attempts_total"), 2.0);
    for family in [
        "sekisho_lockouts_total",
        "sekisho_rate_limited_total",
        "sekisho_upstream_errors_total",
    ] {
        assert!(!lines(&text, family).is_empty(), "{family} exported");
        assert_eq!(sum(&text, family), 0.0, "{family}\n{text}");
    }
    for (series, at_least) in [
        (
            r#"sekisho_store_operations_total{op="get",result="ok",store="session"}"#,
            2.0,
        ),
        (
            r#"sekisho_store_operations_total{op="insert",result="ok",store="session"}"#,
            1.0,
        ),
        (
            r#"sekisho_store_operations_total{op="remove",result="ok",store="session"}"#,
            1.0,
        ),
        (
            r#"sekisho_store_operation_duration_seconds_count{op="get",store="session"}"#,
            2.0,
        ),
    ] {
        let v = value(&text, series).unwrap_or(0.0);
        assert!(v >= at_least, "{series} = {v}\n{text}");
    }
    let store_lines = lines(&text, "sekisho_store_operations_total");
    let counter_ok: f64 = store_lines
        .iter()
        .filter(|l| l.contains("result=\"ok\",store=\"counter\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(counter_ok > 0.0, "the counter store was used:\n{text}");
    assert!(
        store_lines
            .iter()
            .filter(|l| l.contains("result=\"error\""))
            .all(|l| l.ends_with(" 0")),
        "no store errors:\n{text}"
    );

    // The upstream got the request id; the access line under it tells the story
    // without the query string or any cookie.
    let upstream = gw.upstream.last("/members");
    let ids = header(&upstream, "x-request-id");
    assert_eq!(ids.len(), 1, "{upstream:?}");
    let line = access_line(ids[0]).await;
    for field in [
        "method=\"GET\"",
        "path=\"/members\"",
        "status=200",
        "upstream_status=200",
        "action=\"one_factor\"",
        "site=\"127.0.0.1\"",
        "client_ip=127.0.0.1",
        "user=\"",
        "duration_ms=",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    let logs = crate::logs::captured();
    assert!(
        !logs.contains("secret-query-7"),
        "a query string was logged"
    );
    assert!(!logs.contains(&cookie), "a session cookie was logged");
    for l in logs.lines().filter(|l| l.contains("sekisho::access")) {
        assert!(!l.contains('@') && !l.contains("?q="), "{l}");
    }
}
on_both_stores!(requests_are_counted_and_logged);

/// The id on an error page is the access log's and the upstream's; a client cannot
/// choose it, and nothing secret from the request reaches the log.
#[test]
fn error_pages_and_request_ids() {
    crate::logs::init();
    let gw = TestGateway::start(Store::Memory);
    block_on(async {
        let c = client();
        let resp = c
            .get(gw.url("/deny/x?token=tok-secret-9"))
            .header("x-request-id", "forged-id")
            .header(
                "cookie",
                "sekisho_session=cookie-secret-9; other=also-secret-9",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let body = resp.text().await.unwrap();
        let id = crate::harness::scrape(&body, "<code id=\"request-id\">")
            .and_then(|s| s.split('<').next())
            .expect("the page shows a request id")
            .to_string();
        assert_ne!(id, "forged-id", "an untrusted client's id is not adopted");
        assert_eq!(id.len(), 16, "{id}");
        let line = access_line(&id).await;
        for field in ["status=403", "path=\"/deny/x\"", "action=\"deny\""] {
            assert!(line.contains(field), "{field} in {line}");
        }
        assert!(!line.contains("user="), "no session, no user: {line}");

        let resp = c
            .get(gw.url("/public/x"))
            .header("x-request-id", "forged-id")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let ids = header(&gw.upstream.last("/public/x"), "x-request-id")
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>();
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_ne!(ids[0], "forged-id");

        let resp = c
            .get(gw.url("/public/x"))
            .header("host", "nowhere.example")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let text = counted(&gw, 3.0).await;
        assert_eq!(
            value(
                &text,
                r#"sekisho_requests_total{action="unknown_site",site="unknown",status_class="4xx"}"#
            ),
            Some(1.0),
            "{text}"
        );
        let logs = crate::logs::captured();
        for secret in ["tok-secret-9", "cookie-secret-9", "also-secret-9"] {
            assert!(!logs.contains(secret), "{secret} reached the log");
        }
    });
}

/// Behind a trusted proxy its request id is kept end to end; a dead upstream is
/// counted as an upstream error of its site.
#[test]
fn trusted_request_ids_and_upstream_errors() {
    crate::logs::init();
    let dead = sekisho_testkit::free_port();
    let gw = TestGateway::start_with(
        Store::Memory,
        &format!(
            "\n[network]\ntrusted_proxies = [\"127.0.0.1/32\"]\n\n\
             [[sites]]\nhost = \"down.test\"\nupstreams = [\"127.0.0.1:{dead}\"]\n"
        ),
    );
    block_on(async {
        let c = client();
        c.get(gw.url("/public/y"))
            .header("x-request-id", "front.proxy-id:42")
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&gw.upstream.last("/public/y"), "x-request-id"),
            vec!["front.proxy-id:42"]
        );
        c.get(gw.url("/public/z"))
            .header("x-request-id", "not <acceptable>")
            .send()
            .await
            .unwrap();
        let seen_z = gw.upstream.last("/public/z");
        let replaced = header(&seen_z, "x-request-id");
        assert_eq!(replaced.len(), 1);
        assert_eq!(replaced[0].len(), 16, "a fresh id instead: {replaced:?}");

        let resp = c
            .get(gw.url("/public/x"))
            .header("host", "down.test")
            .header("x-request-id", "front-502")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        assert!(resp.text().await.unwrap().contains("front-502"));
        let text = counted(&gw, 3.0).await;
        for (series, n) in [
            (
                r#"sekisho_upstream_errors_total{kind="connect",site="down.test"}"#,
                1.0,
            ),
            (
                r#"sekisho_requests_total{action="bypass",site="down.test",status_class="5xx"}"#,
                1.0,
            ),
            (
                r#"sekisho_requests_total{action="bypass",site="127.0.0.1",status_class="2xx"}"#,
                2.0,
            ),
            (
                r#"sekisho_upstream_duration_seconds_count{site="down.test"}"#,
                0.0,
            ),
        ] {
            assert_eq!(value(&text, series), Some(n), "{series}\n{text}");
        }
        let line = access_line("front-502").await;
        assert!(line.contains("status=502") && line.contains("site=\"down.test\""));
        assert!(!line.contains("upstream_status="), "{line}");
    });
}

/// `[log] access_log = false` writes no access line (the request is still counted).
#[test]
fn the_access_log_can_be_turned_off() {
    crate::logs::init();
    let gw = TestGateway::start_with(Store::Memory, "\n[log]\naccess_log = false\n");
    block_on(async {
        let resp = client().get(gw.url("/public/quiet")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        // Counted after the access line would have been written.
        counted(&gw, 1.0).await;
        let seen = gw.upstream.last("/public/quiet");
        let id = header(&seen, "x-request-id")[0];
        assert!(access_lines(id).is_empty(), "no access line for {id}");
    });
}

/// A dead Redis shows up as failing store calls (and 503s), not as silence.
#[test]
fn store_errors_are_counted() {
    let gw = TestGateway::start(Store::Redis);
    block_on(async {
        let c = client();
        let mut seen = Tally::default();
        post_login(&c, &gw, &mut seen, PASSWORD).await;
        gw.stop_redis();
        let resp = c.get(gw.url("/members")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        seen.add("one_factor", resp.status());
        let text = counted(&gw, seen.total()).await;
        let errors = value(
            &text,
            r#"sekisho_store_operations_total{op="get",result="error",store="session"}"#,
        );
        assert!(errors.is_some_and(|n| n >= 1.0), "{text}");
        assert_eq!(
            value(
                &text,
                r#"sekisho_requests_total{action="one_factor",site="127.0.0.1",status_class="5xx"}"#
            ),
            Some(1.0)
        );
    });
}

mod deploy;
mod haproxy;
