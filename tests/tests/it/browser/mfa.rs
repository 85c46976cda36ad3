//! Second factors in Chromium: an admin is led to set up an authenticator app on the
//! way to `/admin`, keeps the backup codes, and signs in with a code the next time; a
//! wrong code is announced and tied to its field. Enrolment, backup codes, challenge
//! and settings pages are captured and audited.
use super::a11y::assert_accessible;
use super::session::{Browser, Setup};
use crate::browser_journey;
use crate::harness::{Store, TestGateway, PASSWORD};
use crate::mfa::{oathtool, Clock};

async fn enrol_then_sign_in_with_an_authenticator_app(gw: &TestGateway, b: &Browser) {
    let admin = gw.url("/admin/panel");
    b.goto(&admin).await;
    b.submit_sign_in("admin@example.com", PASSWORD).await;
    // Not enrolled yet: straight to the enrolment page, keeping where we were going.
    assert_eq!(b.url().await.path(), "/_sekisho/settings/totp");
    assert!(b.exists("figure.qr svg").await, "QR code shown");
    b.capture("enrolment").await;
    assert_accessible(b, "en").await;
    let secret: String = b
        .text("#totp-secret")
        .await
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    b.fill("#code", &oathtool(&secret, gw.clock.now())).await;
    b.click("#activate").await;

    assert_eq!(b.text("h1").await, "Your backup codes");
    let codes: usize = b
        .exec(
            "return document.querySelectorAll('#backup-codes code').length",
            vec![],
        )
        .await;
    assert_eq!(codes, 10);
    b.capture("backup-codes").await;
    assert_accessible(b, "en").await;
    b.click("a.button:not([download])").await;
    assert_eq!(
        b.url().await.as_str(),
        admin,
        "back where the user was going"
    );

    b.goto(&gw.url("/_sekisho/settings")).await;
    assert!(b.text("#method-totp").await.contains("On"));
    b.capture("settings").await;
    assert_accessible(b, "en").await;

    // Sign out; next time the password leads to the challenge.
    b.goto(&gw.url("/_sekisho/logout")).await;
    b.click("form button[type=submit]").await;
    b.goto(&admin).await;
    b.submit_sign_in("admin@example.com", PASSWORD).await;
    assert_eq!(b.url().await.path(), "/_sekisho/mfa");
    b.capture("challenge").await;
    assert_accessible(b, "en").await;

    // A wrong code is announced and tied to the field.
    b.fill("#code", "000000").await;
    b.click("#verify").await;
    let message = b.text("[role=alert]").await;
    assert!(message.contains("not correct"), "{message}");
    let described_by = b
        .attr("#code", "aria-describedby")
        .await
        .unwrap_or_default();
    assert!(
        described_by.split_whitespace().any(|id| id == "code-error"),
        "{described_by}"
    );
    assert_accessible(b, "en").await;

    gw.clock.advance(30);
    b.fill("#code", &oathtool(&secret, gw.clock.now())).await;
    b.click("#verify").await;
    assert_eq!(b.url().await.as_str(), admin);
    assert!(b.source().await.contains("admin@example.com"));
}
browser_journey!(
    enrol_then_sign_in_with_an_authenticator_app,
    memory: Setup::new(Store::Memory),
);

/// The challenge in Japanese, with JavaScript off: the same forms work.
async fn challenge_in_japanese_without_javascript(gw: &TestGateway, b: &Browser) {
    b.goto(&gw.url("/members")).await;
    b.submit_sign_in("admin@example.com", PASSWORD).await;
    b.goto(&gw.url("/_sekisho/settings/totp")).await;
    let secret: String = b
        .text("#totp-secret")
        .await
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    b.fill("#code", &oathtool(&secret, gw.clock.now())).await;
    b.click("#activate").await;
    b.goto(&gw.url("/_sekisho/logout")).await;
    b.click("form button[type=submit]").await;
    b.goto(&gw.url("/members")).await;
    b.click("a.lang").await;
    b.submit_sign_in("admin@example.com", PASSWORD).await;
    assert_eq!(b.url().await.path(), "/_sekisho/mfa");
    assert_eq!(b.text("h1").await, "2段階認証");
    b.capture("challenge-ja").await;
    assert_accessible(b, "ja").await;
    gw.clock.advance(30);
    b.fill("#code", &oathtool(&secret, gw.clock.now())).await;
    b.click("#verify").await;
    assert_eq!(b.url().await.as_str(), gw.url("/members"));
}
browser_journey!(
    challenge_in_japanese_without_javascript,
    memory_no_js: Setup::new(Store::Memory).without_javascript(),
);
