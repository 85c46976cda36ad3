//! The event view and request ids end to end: the id an error page shows (a hosted
//! 404, a proxied 502) finds exactly its event on the console's events page; a wrong
//! code's event on the user page carries the id of its log line; a flood of 404s is
//! answered at once and records no more than the budget.
use super::*;
use crate::help::error_page;
use crate::metrics::{scrape as metrics, value};
use crate::mfa::{enc, oathtool, sign_in_to_challenge, submit_code};
use sekisho_auth::events::ERROR_EVENT_BUDGET;
use sekisho_auth::{EventKind, EventQuery};
use std::time::{Duration, Instant};

/// The console's roles, and a site whose upstream nothing listens on.
fn config() -> String {
    let dead = sekisho_testkit::free_port();
    format!("{ADMIN_CONFIG}\n[[sites]]\nhost = \"down.test\"\nupstreams = [\"127.0.0.1:{dead}\"]\n")
}

/// The events page for `query`, once it lists `n` events (the writer is in the
/// background), up to 10 s.
async fn events_page(c: &Client, gw: &TestGateway, query: &str, n: usize) -> String {
    let path = format!("/_sekisho/admin/events?{query}");
    let want = format!("id=\"event-count\">{n} events<");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = page(c, gw, &path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body.contains(&want) {
            return body;
        }
        assert!(Instant::now() < deadline, "{path}: not {n} events:\n{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The cells of the rows of the table `id` on a page.
fn rows(body: &str, id: &str) -> Vec<String> {
    let table = body
        .split(&format!("<table id=\"{id}\">"))
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no table {id}"));
    table
        .split("<tr>")
        .skip(2)
        .map(|r| r.split("</tr>").next().unwrap_or("").to_string())
        .collect()
}

/// The request id in a row's request-id cell.
fn row_request_id(row: &str) -> &str {
    row.split("<td class=\"request-id\">")
        .nth(1)
        .and_then(|c| c.split("<code>").nth(1))
        .and_then(|c| c.split('<').next())
        .unwrap_or_else(|| panic!("no request id in {row}"))
}

async fn error_pages_are_found_by_their_request_id(gw: &TestGateway) {
    add_user(gw, "hd@example.com", &["helpdesk"]);
    let (hd, _) = signed_in_with_totp(gw, "hd@example.com").await;
    let (user, _) = signed_in_with_totp(gw, "user@example.com").await;

    // A hosted 404 and a proxied 502, each with a query that must not be kept.
    let resp = get(&user, gw, "/_sekisho/no-such-page?token=s3cret").await;
    let (status, _, not_found) = error_page(resp).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let resp = user
        .get(gw.url("/public/app?email=kim%40example.com"))
        .header("host", "down.test")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let (status, _, bad_gateway) = error_page(resp).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_ne!(not_found, bad_gateway);

    let (_, home) = page(&hd, gw, "/_sekisho/admin").await;
    assert!(
        home.contains("href=\"/_sekisho/admin/events\""),
        "the console links to the events page"
    );
    for (id, reason, detail) in [
        (
            &not_found,
            "not_found",
            "status=404 path=/_sekisho/no-such-page",
        ),
        (&bad_gateway, "bad_gateway", "status=502 path=/public/app"),
    ] {
        let body = events_page(&hd, gw, &format!("request_id={}", enc(id)), 1).await;
        let found = rows(&body, "found-events");
        assert_eq!(found.len(), 1, "exactly the one event of {id}");
        let row = &found[0];
        assert_eq!(row_request_id(row), id.as_str());
        assert!(row.contains("<td>error</td>"), "{row}");
        assert!(row.contains(&format!("<code>{reason}</code>")), "{row}");
        assert!(
            row.contains(&format!("<td class=\"detail\">{detail}</td>")),
            "{row}"
        );
        // The signed-in user is named (from the session cookie, in the background).
        assert!(row.contains("user@example.com"), "{row}");
        for secret in ["s3cret", "token=", "kim%40", "kim@", "sekisho_session"] {
            assert!(!row.contains(secret), "{secret} in {row}");
        }
    }
    // Kinds and e-mail addresses filter too; an unknown kind is refused politely.
    let body = events_page(&hd, gw, "kind=error&email=USER%40example", 2).await;
    assert_eq!(rows(&body, "found-events").len(), 2);
    let (status, body) = page(&hd, gw, "/_sekisho/admin/events?kind=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("unknown kind"), "{body}");
}
crate::on_both_stores!(error_pages_are_found_by_their_request_id, &super::config());

async fn a_wrong_code_has_the_request_id_of_its_log_line(gw: &TestGateway) {
    crate::logs::init();
    add_user(gw, "hd@example.com", &["helpdesk"]);
    let (hd, _) = signed_in_with_totp(gw, "hd@example.com").await;
    let (_, secret) = signed_in_with_totp(gw, "user@example.com").await;

    // The user signs in elsewhere and mistypes the code.
    let c = client();
    sign_in_to_challenge(&c, gw, "user@example.com", "/members").await;
    let right = oathtool(&secret, gw.clock.now());
    let wrong = if right == "000000" {
        "999999"
    } else {
        "000000"
    };
    let resp = submit_code(&c, gw, "totp", wrong, "/members", &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // The helpdesk sees it on the user's page, with a request id…
    let uid = user_id(gw, "user@example.com");
    let (_, body) = page(&hd, gw, &format!("/_sekisho/admin/user?id={uid}")).await;
    let wrong_rows: Vec<String> = rows(&body, "events")
        .into_iter()
        .filter(|r| r.contains("<code>invalid_otp</code>"))
        .collect();
    assert_eq!(wrong_rows.len(), 1, "{body}");
    let id = row_request_id(&wrong_rows[0]).to_string();
    assert!(id.len() >= 16, "{id}");
    // …that the log line of the refusal and the access line carry.
    let logs = crate::logs::captured();
    assert!(
        logs.lines()
            .any(|l| l.contains("second factor refused") && l.contains(&id)),
        "no log line with {id}"
    );
    assert!(
        logs.lines().any(|l| l.contains("sekisho::access")
            && l.contains(&format!("request_id=\"{id}\""))
            && l.contains("/_sekisho/mfa/verify")),
        "no access line with {id}"
    );
    // The id links to the events page, filtered by it: that one attempt.
    let href = scrape(&wrong_rows[0], "<td class=\"request-id\"><a href=\"").expect("a link");
    let query = href
        .strip_prefix("/_sekisho/admin/events?")
        .unwrap_or_else(|| panic!("not the events page: {href}"));
    let body = events_page(&hd, gw, query, 1).await;
    let found = rows(&body, "found-events");
    assert_eq!(row_request_id(&found[0]), id);
    assert!(found[0].contains("<code>invalid_otp</code>"), "{body}");
}
crate::on_both_stores!(
    a_wrong_code_has_the_request_id_of_its_log_line,
    super::ADMIN_CONFIG
);

/// How many error events the log holds for the clock's current second.
fn errors_now(gw: &TestGateway) -> u64 {
    let app = &gw.handle.app;
    let now = gw.clock.now();
    let q = EventQuery {
        kind: Some(EventKind::Error),
        from: Some(now),
        to: Some(now),
        ..EventQuery::default()
    };
    on_io(app, app.ui.accounts.events().count(&q)).unwrap()
}

async fn a_flood_of_404s_records_at_most_the_budget(gw: &TestGateway) {
    const FLOOD: u64 = 500;
    let dropped = r#"sekisho_error_events_dropped_total{reason="budget"}"#;
    let before = value(&metrics(gw).await, dropped).unwrap_or(0.0);
    // A fresh second of budget; the manual clock stays in it for the whole flood.
    gw.clock.advance(1);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..10 {
        let c = client();
        let url = gw.url("/_sekisho/flood");
        tasks.spawn(async move {
            for i in 0..FLOOD / 10 {
                let resp = c.get(format!("{url}/{worker}/{i}")).send().await.unwrap();
                assert_eq!(resp.status(), StatusCode::NOT_FOUND);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "{FLOOD} 404s took {took:?}");

    // Every drop is counted; the budget's worth is written.
    let budget = u64::from(ERROR_EVENT_BUDGET);
    let deadline = Instant::now() + Duration::from_secs(10);
    while errors_now(gw) < budget && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(errors_now(gw), budget);
    let after = value(&metrics(gw).await, dropped).unwrap_or(0.0);
    assert_eq!(after - before, (FLOOD - budget) as f64);
    // The next second has a budget again.
    gw.clock.advance(1);
    let resp = client()
        .get(gw.url("/_sekisho/flood/after"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let deadline = Instant::now() + Duration::from_secs(10);
    while errors_now(gw) < 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(errors_now(gw), 1);
}
crate::on_both_stores!(a_flood_of_404s_records_at_most_the_budget);

/// Waits (up to 10 s) until the log holds `n` error events for this second.
async fn wait_for_errors(gw: &TestGateway, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while errors_now(gw) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(errors_now(gw), n);
}

async fn not_found(c: &Client, gw: &TestGateway, n: u64) {
    for i in 0..n {
        let resp = c
            .get(gw.url(&format!("/_sekisho/missing/{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
}

/// A reload builds a new UI over the same stores: error events keep their one
/// writer and their process-wide budget.
async fn error_events_survive_a_reload(gw: &TestGateway) {
    let c = client();
    gw.clock.advance(1);
    not_found(&c, gw, 5).await;
    wait_for_errors(gw, 5).await;
    crate::reload::edit_config(gw, |t| t + "\n[support]\nphone = \"03-1234-5678\"\n");
    let (status, body) = crate::reload::reload(gw).await;
    assert_eq!(status, 200, "{body}");
    // The same second: the new configuration spends what is left of the budget.
    not_found(&c, gw, u64::from(ERROR_EVENT_BUDGET)).await;
    wait_for_errors(gw, u64::from(ERROR_EVENT_BUDGET)).await;
    // The next second: written by the writer the first configuration started.
    gw.clock.advance(1);
    not_found(&c, gw, 1).await;
    wait_for_errors(gw, 1).await;
}
crate::on_both_stores!(error_events_survive_a_reload);
