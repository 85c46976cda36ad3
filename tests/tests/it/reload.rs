//! Configuration reloads through the real gateway, on both stores: a changed rule
//! takes effect while a load loop runs without one failed request, a file that does
//! not validate changes nothing, changes that need a restart are reported and not
//! applied, and every reload is counted and audited.
use crate::harness::*;
use sekisho_auth::{AuditAction, AuditQuery};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    denied: AtomicU64,
    failed: AtomicU64,
}

pub(crate) async fn reload(gw: &TestGateway) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(gw.admin_url("/reload"))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn metric(gw: &TestGateway, line_start: &str) -> String {
    let text = reqwest::get(gw.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("{line_start} in\n{text}"))
        .to_string()
}

pub(crate) fn edit_config(gw: &TestGateway, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(&gw.config_path).unwrap();
    let new = edit(text.clone());
    assert_ne!(new, text, "the edit changes the file");
    std::fs::write(&gw.config_path, new).unwrap();
}

const PUBLIC_BYPASS: &str = "paths = [\"/public\"]\naction = \"bypass\"";
const PUBLIC_DENIED: &str = "paths = [\"/public\"]\naction = \"deny\"";

async fn reload_applies_rules_without_dropping_requests(gw: &TestGateway) {
    let c = client();
    assert_eq!(c.get(gw.url("/public")).send().await.unwrap().status(), 200);

    // Four clients on keep-alive connections, as fast as they can.
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let loops: Vec<_> = (0..4)
        .map(|_| {
            let (stop, tally, url) = (stop.clone(), tally.clone(), gw.url("/public"));
            tokio::spawn(async move {
                let c = reqwest::Client::new();
                while !stop.load(Ordering::Relaxed) {
                    match c.get(&url).send().await.map(|r| r.status().as_u16()) {
                        Ok(200) => tally.ok.fetch_add(1, Ordering::Relaxed),
                        Ok(403) => tally.denied.fetch_add(1, Ordering::Relaxed),
                        _ => tally.failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    until_count(&tally.ok, 20, "answered before the reload").await;

    // The rule and the support contact change; the help page and the rule follow.
    edit_config(gw, |t| {
        t.replace(PUBLIC_BYPASS, PUBLIC_DENIED) + "\n[support]\nphone = \"03-1234-5678\"\n"
    });
    let (status, body) = reload(gw).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("applied generation 2"), "{body}");
    assert!(body.contains("changed: rules, support"), "{body}");
    assert!(body.contains("needs restart: none"), "{body}");
    until_count(&tally.denied, 20, "denied after the reload").await;
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        l.await.unwrap();
    }
    let (ok, denied, failed) = (
        tally.ok.load(Ordering::Relaxed),
        tally.denied.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    assert_eq!(failed, 0, "no request failed ({ok} ok, {denied} denied)");
    assert!(ok > 0 && denied > 0, "{ok} before, {denied} after");
    assert_eq!(c.get(gw.url("/public")).send().await.unwrap().status(), 403);
    let help = c
        .get(gw.url("/_sekisho/help"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(help.contains("03-1234-5678"), "new texts are live");
    assert!(metric(gw, "sekisho_config_generation")
        .await
        .ends_with(" 2"));
    assert!(
        metric(gw, "sekisho_config_reloads_total{result=\"applied\"}")
            .await
            .ends_with(" 1")
    );

    // A file that does not validate changes nothing.
    edit_config(gw, |t| {
        t.replace(PUBLIC_DENIED, "paths = [\"/public\"]\naction = \"maybe\"")
    });
    let (status, body) = reload(gw).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.starts_with("rejected: "), "{body}");
    assert!(
        body.contains("maybe"),
        "the error names the bad value: {body}"
    );
    assert_eq!(c.get(gw.url("/public")).send().await.unwrap().status(), 403);
    assert!(metric(gw, "sekisho_config_generation")
        .await
        .ends_with(" 2"));
    assert!(
        metric(gw, "sekisho_config_reloads_total{result=\"rejected\"}")
            .await
            .ends_with(" 1")
    );

    // A new listen address needs a restart: reported, not applied; the rest is.
    let port = gw.handle.proxy_addr.port();
    let other = sekisho_testkit::free_port();
    edit_config(gw, |t| {
        t.replace("action = \"maybe\"", "action = \"bypass\"")
            .replace(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{other}"))
    });
    let (status, body) = reload(gw).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("changed: rules"), "{body}");
    assert!(body.contains("needs restart: server"), "{body}");
    assert_eq!(c.get(gw.url("/public")).send().await.unwrap().status(), 200);
    assert!(metric(gw, "sekisho_config_needs_restart")
        .await
        .ends_with(" 1"));

    // Every attempt is in the audit log, actor `system`.
    let app = &gw.handle.app;
    let entries = app
        .ui
        .accounts
        .audit()
        .search(&AuditQuery {
            action: Some(AuditAction::ConfigReloaded),
            ..Default::default()
        })
        .await
        .unwrap();
    let results: Vec<String> = entries
        .iter()
        .rev()
        .map(|e| {
            assert_eq!(e.actor, "system");
            let d: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
            format!(
                "{}:{}",
                d["result"].as_str().unwrap(),
                d["trigger"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            "applied:admin_endpoint",
            "rejected:admin_endpoint",
            "applied:admin_endpoint"
        ]
    );
}
crate::on_both_stores!(reload_applies_rules_without_dropping_requests);

/// Waits (10 s at most) until the load loop has counted `n` of something.
async fn until_count(counter: &AtomicU64, n: u64, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while counter.load(std::sync::atomic::Ordering::Relaxed) < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: fewer than {n}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
