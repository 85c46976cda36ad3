//! "Can't use any of these?" in Chromium: a user with an authenticator app signs in on
//! a new browser, cannot produce a code, and sends a recovery request from the
//! challenge page; the reference shows on the status page and arrives by e-mail.
//! Both pages are audited and captured, in English and Japanese.
use super::a11y::assert_accessible;
use super::admin::sign_in_with_new_app;
use super::session::{Browser, Setup};
use crate::browser_journey;
use crate::harness::{wait_for_mails, Store, TestGateway, PASSWORD};

async fn ask_for_a_reset_from_the_challenge(gw: &TestGateway, b: &Browser) {
    sign_in_with_new_app(gw, b, "user@example.com").await;
    b.goto(&gw.url("/_sekisho/logout")).await;
    b.click("form button[type=submit]").await;

    b.goto(&gw.url("/members")).await;
    b.submit_sign_in("user@example.com", PASSWORD).await;
    assert_eq!(b.url().await.path(), "/_sekisho/mfa");
    b.click("#lost-device-link").await;
    assert_eq!(b.url().await.path(), "/_sekisho/mfa/lost");
    assert_eq!(b.text("h1").await, "Can't use any of your methods?");
    assert!(b.exists("#use-backup-code").await, "backup codes offered");
    assert_accessible(b, "en").await;
    b.capture("lost-device").await;

    // Too short an account: the error is announced on the field, the rest is kept.
    b.click("#situation-new_phone").await;
    b.fill("#description", "new phone").await;
    b.fill("#contact", "+81 90 1234 5678").await;
    // The browser's own minlength check would stop the form: this is the server's.
    b.exec::<Option<bool>>(
        "document.querySelector('#description').removeAttribute('minlength'); return null;",
        vec![],
    )
    .await;
    b.click("#send-request").await;
    assert!(b
        .text("#form-error")
        .await
        .contains("at least 10 characters"));
    assert_eq!(
        b.attr("#description", "aria-describedby").await.as_deref(),
        Some("description-hint form-error")
    );
    assert_eq!(b.value("#contact").await, "+81 90 1234 5678");
    assert_accessible(b, "en").await;

    b.fill(
        "#description",
        "I switched to a new phone and the old one is wiped.",
    )
    .await;
    b.click("#send-request").await;
    assert_eq!(b.url().await.path(), "/_sekisho/mfa/lost/status");
    let filed = b.text("#filed").await;
    let reference = filed
        .split_whitespace()
        .find(|w| w.starts_with("RR-"))
        .map(|w| w.trim_end_matches([',', '.']).to_string())
        .expect("a reference number");
    assert_eq!(
        b.attr(&format!("#request-{reference}"), "data-state")
            .await
            .as_deref(),
        Some("pending")
    );
    assert!(
        !b.exists("#new-request").await,
        "one open request at a time"
    );
    assert_accessible(b, "en").await;
    b.capture("lost-status").await;

    let mails = wait_for_mails(gw, 1, |m| m.subject().contains("recovery request"));
    assert!(mails[0].text().contains(&reference), "{}", mails[0].text());

    // The same pages in Japanese.
    b.click("a.lang").await;
    assert_eq!(b.text("h1").await, "リセット申請の状況");
    assert_accessible(b, "ja").await;
    b.click("#back-to-verification").await;
    b.click("#lost-device-link").await;
    assert_eq!(b.text("h1").await, "どの方法も使えない場合");
    assert!(b.text("#open-request").await.contains(&reference));
    assert_accessible(b, "ja").await;
    b.capture("lost-device-ja").await;
}
browser_journey!(
    ask_for_a_reset_from_the_challenge,
    memory: Setup::new(Store::Memory).config(crate::admin::ADMIN_CONFIG),
);
