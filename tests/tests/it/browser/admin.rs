//! The reset-with-approval journey in Chromium: a helpdesk agent files an MFA reset
//! for a user who lost their phone, a second administrator in another browser
//! approves and executes it, and the user re-enrols through the e-mailed link. Every
//! console page (the event view too) is audited for accessibility and captured.
use super::a11y::assert_accessible;
use super::session::{run_pair, Browser, Setup};
use crate::admin::{add_user, reenrol_link, ADMIN_CONFIG, REASON};
use crate::harness::{Store, TestGateway, PASSWORD};
use crate::mfa::{oathtool, Clock};

/// Signs in and enrols an authenticator app from the settings page; returns the secret.
pub(super) async fn sign_in_with_new_app(gw: &TestGateway, b: &Browser, email: &str) -> String {
    b.goto(&gw.url("/_sekisho/settings/totp")).await;
    b.submit_sign_in(email, PASSWORD).await;
    assert_eq!(b.url().await.path(), "/_sekisho/settings");
    b.goto(&gw.url("/_sekisho/settings/totp")).await;
    let secret: String = b
        .text("#totp-secret")
        .await
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    b.fill("#code", &oathtool(&secret, gw.clock.now())).await;
    b.click("#activate").await;
    assert_eq!(b.text("h1").await, "Your backup codes");
    secret
}

async fn reset_with_approval(gw: &TestGateway, helpdesk: &Browser, approver: &Browser) {
    add_user(gw, "hd@example.com", &["helpdesk"]);
    add_user(gw, "sys@example.com", &["sysadmins"]);
    // The user had an authenticator app, then lost the phone.
    sign_in_with_new_app(gw, approver, "user@example.com").await;
    approver.goto(&gw.url("/_sekisho/logout")).await;
    approver.click("form button[type=submit]").await;

    // Helpdesk: find the user, file the request.
    sign_in_with_new_app(gw, helpdesk, "hd@example.com").await;
    helpdesk.goto(&gw.url("/_sekisho/admin")).await;
    assert_eq!(helpdesk.text("h1").await, "Admin console");
    helpdesk.click(".admin-nav a[href$='/admin/users']").await;
    helpdesk.fill("#q", "user@").await;
    helpdesk.click("form.filters button[type=submit]").await;
    assert_eq!(helpdesk.text("#result-count").await, "1 users");
    assert_accessible(helpdesk, "en").await;
    helpdesk.capture("admin-users").await;
    helpdesk.click("#users a").await;
    assert!(helpdesk.text("#mfa-status").await.contains("enrolled"));
    assert_accessible(helpdesk, "en").await;
    helpdesk.capture("admin-user").await;
    // A recent event's request id leads to the event view, filtered by it.
    let user_page = helpdesk.url().await;
    helpdesk.click("#events td.request-id a").await;
    assert_eq!(helpdesk.text("h1").await, "Events");
    assert!(helpdesk.text("#event-count").await.ends_with(" events"));
    assert_accessible(helpdesk, "en").await;
    helpdesk.capture("admin-events").await;
    helpdesk.goto(user_page.as_str()).await;
    helpdesk.fill("#reason", REASON).await;
    helpdesk.click("#request-form button[type=submit]").await;
    assert_eq!(helpdesk.text("#request-state").await, "pending");
    assert!(
        !helpdesk.exists("#approve-form").await,
        "the helpdesk cannot approve"
    );
    assert_accessible(helpdesk, "en").await;
    helpdesk.capture("admin-request-pending").await;
    let request_url = helpdesk.url().await;
    let request_title = helpdesk.text("h1").await;

    // Another administrator, in another browser: the badge, then approve and execute.
    sign_in_with_new_app(gw, approver, "sys@example.com").await;
    approver.goto(&gw.url("/_sekisho/admin")).await;
    assert_eq!(approver.text("#pending-badge").await, "1");
    approver
        .click(".admin-nav a[href$='/admin/requests']")
        .await;
    assert_accessible(approver, "en").await;
    approver.capture("admin-requests").await;
    approver.click("#requests a").await;
    assert_eq!(approver.text("h1").await, request_title, "the same request");
    approver.click("#approve-form button").await;
    assert_eq!(approver.text("#request-state").await, "approved");
    assert_accessible(approver, "en").await;
    approver.capture("admin-request-approved").await;
    approver.click("#execute-form button").await;
    assert_eq!(approver.text("#request-state").await, "executed");
    assert!(approver
        .text("#flash")
        .await
        .contains("re-enrolment link was e-mailed"));

    // The helpdesk's page, reloaded, shows the outcome.
    helpdesk.goto(request_url.as_str()).await;
    assert_eq!(helpdesk.text("#request-state").await, "executed");

    // The user, on a new phone: the link, the password, a new authenticator app.
    let link = reenrol_link(gw, "user@example.com", 1);
    helpdesk.goto(&gw.url("/_sekisho/logout")).await;
    helpdesk.click("form button[type=submit]").await;
    helpdesk.goto(&gw.url(&link)).await;
    assert_eq!(
        helpdesk.text("h1").await,
        "Set up two-step verification again"
    );
    assert_accessible(helpdesk, "en").await;
    helpdesk.capture("reenrol").await;
    helpdesk.fill("#password", PASSWORD).await;
    helpdesk.click("form button[type=submit]").await;
    assert_eq!(helpdesk.url().await.path(), "/_sekisho/enroll/start");
    helpdesk.goto(&gw.url("/_sekisho/settings/totp")).await;
    let secret: String = helpdesk
        .text("#totp-secret")
        .await
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    helpdesk
        .fill("#code", &oathtool(&secret, gw.clock.now()))
        .await;
    helpdesk.click("#activate").await;
    assert_eq!(helpdesk.text("h1").await, "Your backup codes");
    // The link was single-use.
    helpdesk.goto(&gw.url(&link)).await;
    assert!(helpdesk.text("#link-gone").await.contains("already used"));
}

#[test]
fn reset_with_approval_two_admins_then_reenrolment() {
    run_pair(
        "reset_with_approval",
        Setup::new(Store::Memory).config(ADMIN_CONFIG),
        reset_with_approval,
    );
}
