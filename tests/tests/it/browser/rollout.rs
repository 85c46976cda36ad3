//! The MFA rollout in Chromium: the "we recommend" nudge snoozed with "remind me
//! later" and then accepted, and forced enrolment (in Japanese, without JavaScript)
//! walked through all four wizard steps back to the page the user wanted. Each
//! page is captured and audited.
use super::a11y::assert_accessible;
use super::session::{Browser, Setup};
use crate::browser_journey;
use crate::harness::{Store, TestGateway, PASSWORD};
use crate::mfa::{oathtool, Clock};

async fn sign_out(gw: &TestGateway, b: &Browser) {
    b.goto(&gw.url("/_sekisho/logout")).await;
    b.click("form button[type=submit]").await;
}

async fn recommendation_snoozed_then_accepted(gw: &TestGateway, b: &Browser) {
    let members = gw.url("/members/home");
    b.goto(&members).await;
    b.submit_sign_in("user@example.com", PASSWORD).await;
    assert_eq!(b.url().await.path(), "/_sekisho/enroll");
    assert_eq!(b.text("h1").await, "We recommend two-step verification");
    b.capture("nudge").await;
    assert_accessible(b, "en").await;
    b.click("#later").await;
    assert_eq!(b.url().await.as_str(), members, "remind me later goes on");

    // A week later the nudge is back; this time the user sets it up.
    sign_out(gw, b).await;
    gw.clock.advance(7 * 86_400 + 60);
    b.goto(&members).await;
    b.submit_sign_in("user@example.com", PASSWORD).await;
    assert_eq!(b.url().await.path(), "/_sekisho/enroll");
    b.click("#setup-now").await;
    assert_eq!(b.text(".step").await, "Step 1 of 4");
    assert!(b
        .text("#choice-totp")
        .await
        .contains("Google Authenticator"));
    b.capture("wizard-choose").await;
    assert_accessible(b, "en").await;
    b.click("#use-totp").await;
    assert!(b.text(".step").await.starts_with("Step 2 of 4"));
    let secret: String = b
        .text("#totp-secret")
        .await
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    b.fill("#code", &oathtool(&secret, gw.clock.now())).await;
    b.click("#activate").await;
    assert!(b.text(".step").await.starts_with("Step 3 of 4"));
    b.click("a.button:not([download])").await;
    assert_eq!(b.text("#enrolment-done").await, "You're all set");
    b.capture("wizard-done").await;
    assert_accessible(b, "en").await;
    b.click("#continue").await;
    assert_eq!(b.url().await.as_str(), members);
}
browser_journey!(
    recommendation_snoozed_then_accepted,
    memory: Setup::new(Store::Memory).config(
        "[[enrollment]]\nmode = \"recommend\"\nsnooze = \"7d\"\n"
    ),
);

/// Forced enrolment in Japanese with JavaScript off: the site stays closed until
/// the wizard is done, then opens on the page the user asked for.
async fn forced_enrolment_in_japanese_without_javascript(gw: &TestGateway, b: &Browser) {
    let members = gw.url("/members/report");
    b.goto(&members).await;
    b.click("a.lang").await;
    b.submit_sign_in("user@example.com", PASSWORD).await;
    assert_eq!(b.url().await.path(), "/_sekisho/enroll");
    assert_eq!(
        b.text("h1").await,
        "続行するには2段階認証を設定してください"
    );
    assert!(!b.exists("#later").await, "no way to skip");
    b.capture("forced-ja").await;
    assert_accessible(b, "ja").await;

    // The site itself stays closed.
    b.goto(&members).await;
    assert_eq!(b.url().await.path(), "/_sekisho/enroll");

    b.click("#setup-now").await;
    assert_eq!(b.text(".step").await, "ステップ 1/4");
    b.capture("wizard-choose-ja").await;
    assert_accessible(b, "ja").await;
    b.click("#use-totp").await;
    let secret: String = b
        .text("#totp-secret")
        .await
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    b.capture("wizard-app-ja").await;
    assert_accessible(b, "ja").await;
    b.fill("#code", &oathtool(&secret, gw.clock.now())).await;
    b.click("#activate").await;
    assert!(b.text(".step").await.starts_with("ステップ 3/4"));
    b.click("a.button:not([download])").await;
    assert_eq!(b.text("#enrolment-done").await, "設定が完了しました");
    assert_accessible(b, "ja").await;
    b.click("#continue").await;
    assert_eq!(b.url().await.as_str(), members, "the site opens");
}
browser_journey!(
    forced_enrolment_in_japanese_without_javascript,
    memory_no_js: Setup::new(Store::Memory)
        .without_javascript()
        .config("[[enrollment]]\nmode = \"require\"\n"),
);
