//! "Forgot your password?" in Chromium: from the sign-in page to the e-mailed link,
//! a refused weak password announced on the field, the new password, and signing in
//! with it; each page audited and captured.
use super::a11y::assert_accessible;
use super::session::{Browser, Setup};
use crate::browser_journey;
use crate::harness::{Store, TestGateway};
use std::time::Duration;

async fn reset_a_forgotten_password(gw: &TestGateway, b: &Browser) {
    b.goto(&gw.url("/members")).await;
    b.click("#forgot-link").await;
    assert_eq!(b.url().await.path(), "/_sekisho/password/forgot");
    assert_eq!(b.text("h1").await, "Reset your password");
    assert_accessible(b, "en").await;
    b.capture("forgot").await;
    b.fill("#email", "user@example.com").await;
    b.click("button[type=submit]").await;
    assert_eq!(b.text("h1").await, "Check your e-mail");

    let mail = gw.mail.wait_for(1, Duration::from_secs(10));
    let link = mail[0]
        .text()
        .lines()
        .map(str::trim)
        .find(|l| l.contains("/_sekisho/password/reset?token="))
        .expect("a link")
        .to_string();
    b.goto(&link).await;
    assert_eq!(b.text("h1").await, "Choose a new password");
    assert_accessible(b, "en").await;
    b.fill("#password", "password123").await;
    b.fill("#confirm", "password123").await;
    b.click("button[type=submit]").await;
    assert!(b.text("#form-error").await.contains("too easy to guess"));
    assert_eq!(
        b.attr("#password", "aria-describedby").await.as_deref(),
        Some("password-hint form-error")
    );
    b.capture("reset-refused").await;
    assert_accessible(b, "en").await;
    b.fill("#password", "ferry cobalt mango drizzle").await;
    b.fill("#confirm", "ferry cobalt mango drizzle").await;
    b.click("button[type=submit]").await;
    assert_eq!(b.text("h1").await, "Password changed");
    b.click("a.button").await;
    b.submit_sign_in("user@example.com", "ferry cobalt mango drizzle")
        .await;
    assert_eq!(b.url().await.path(), "/");
}
browser_journey!(
    reset_a_forgotten_password,
    memory: Setup::new(Store::Memory),
);
