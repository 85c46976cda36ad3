//! What a person does on the hosted pages, done in Chromium: sign in from a deep link,
//! mistype the password, sign out, switch language, meet a cross-site form, and sign in
//! with JavaScript switched off.
use super::other_origin::{OtherOrigin, JS_RAN_TITLE};
use super::session::{Browser, Setup};
use crate::browser_journey;
use crate::harness::{Store, TestGateway, PASSWORD};

const SESSION_COOKIE: &str = "sekisho_session";

/// The `rd` the sign-in page carries.
async fn rd_of_current_page(b: &Browser) -> String {
    b.url()
        .await
        .query_pairs()
        .find(|(k, _)| k == "rd")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Opens a protected page, is sent to sign-in, signs in and lands on that page.
async fn sign_in_from_a_deep_link(gw: &TestGateway, b: &Browser) {
    let deep_link = gw.url("/members/page?x=1");
    b.goto(&deep_link).await;
    assert_eq!(b.url().await.path(), "/_sekisho/login");
    assert_eq!(rd_of_current_page(b).await, deep_link);
    assert_eq!(b.text("h1").await, "Sign in");
    assert_eq!(b.value("input[name=rd]").await, deep_link);
    b.capture("sign-in").await;

    b.submit_sign_in("user@example.com", PASSWORD).await;
    assert_eq!(b.url().await.as_str(), deep_link);
    assert!(b.cookie(SESSION_COOKIE).await.is_some());
    // The page is the upstream's echo of the headers it got: the identity is on it.
    let seen = gw.upstream.last("/members/page");
    assert!(seen.contains(&("remote-user".into(), "user@example.com".into())));
    assert!(b.source().await.contains("user@example.com"));
}
browser_journey!(
    sign_in_from_a_deep_link,
    memory: Setup::new(Store::Memory),
    redis: Setup::new(Store::Redis),
);

async fn wrong_password_says_so_and_keeps_the_email(gw: &TestGateway, b: &Browser) {
    b.goto(&gw.url("/members")).await;
    assert!(!b.exists("[role=alert]").await);
    b.submit_sign_in("user@example.com", "not the password")
        .await;
    assert_eq!(b.url().await.path(), "/_sekisho/login");
    assert_eq!(
        b.text("[role=alert]").await,
        "The email address or password is incorrect."
    );
    assert_eq!(b.value("#email").await, "user@example.com");
    assert_eq!(
        b.value("#password").await,
        "",
        "a wrong password is not echoed"
    );
    assert!(b.cookie(SESSION_COOKIE).await.is_none());
    b.capture("sign-in-error").await;

    // The form still knows where to go: the right password lands on the page.
    b.submit_sign_in("user@example.com", PASSWORD).await;
    assert_eq!(b.url().await.as_str(), gw.url("/members"));
}
browser_journey!(wrong_password_says_so_and_keeps_the_email, memory: Setup::new(Store::Memory));

async fn sign_out_from_the_account_page(gw: &TestGateway, b: &Browser) {
    b.goto(&gw.url("/members")).await;
    b.submit_sign_in("user@example.com", PASSWORD).await;
    b.goto(&gw.url("/_sekisho/")).await;
    assert_eq!(b.text("#signed-in-email").await, "user@example.com");
    b.capture("account").await;

    b.click("form button[type=submit]").await;
    assert_eq!(b.text("h1").await, "You are signed out");
    assert!(b.cookie(SESSION_COOKIE).await.is_none());
    let visits = gw.upstream.seen.lock().unwrap().len();
    b.goto(&gw.url("/members")).await;
    assert_eq!(
        b.url().await.path(),
        "/_sekisho/login",
        "signed out for real"
    );
    assert_eq!(gw.upstream.seen.lock().unwrap().len(), visits);
}
browser_journey!(sign_out_from_the_account_page, memory: Setup::new(Store::Memory));

async fn language_switch_keeps_the_page(gw: &TestGateway, b: &Browser) {
    let deep_link = gw.url("/members/page?x=1");
    b.goto(&deep_link).await;
    let sign_in_url = b.url().await;
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("en"));

    b.click("a.lang").await;
    assert_eq!(b.url().await, sign_in_url, "the same page, in Japanese");
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("ja"));
    assert_eq!(b.text("h1").await, "サインイン");
    assert_eq!(b.text("label[for=email]").await, "メールアドレス");
    assert_eq!(b.text("a.lang").await, "English");
    assert_eq!(b.value("input[name=rd]").await, deep_link);
    b.capture("sign-in-ja").await;

    // Signing in from the Japanese page still lands on the deep link.
    b.submit_sign_in("user@example.com", PASSWORD).await;
    assert_eq!(b.url().await.as_str(), deep_link);

    // The choice is remembered, and switching back works on any hosted page.
    b.goto(&gw.url("/_sekisho/")).await;
    assert_eq!(b.text("h1").await, "サインインしています");
    b.click("a.lang").await;
    assert_eq!(b.url().await.as_str(), gw.url("/_sekisho/"));
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("en"));
    assert_eq!(b.text("h1").await, "You are signed in");
}
browser_journey!(language_switch_keeps_the_page, memory: Setup::new(Store::Memory));

/// Another site's form posts straight to the sign-in endpoint. Both origins are on
/// 127.0.0.1, so the browser even sends the gateway's cookies with it, and the form
/// carries a genuine CSRF token: only the Origin check stands in the way. The second
/// page hides its origin (`Origin: null`), which is refused as well.
async fn form_from_another_origin_is_refused(gw: &TestGateway, b: &Browser) {
    let attacker = OtherOrigin::start();
    b.goto(&attacker.url("/js-probe")).await;
    assert_eq!(
        b.title().await,
        JS_RAN_TITLE,
        "JavaScript runs in this test"
    );

    b.goto(&gw.url("/members")).await;
    let token = b.value("input[name=csrf]").await;
    assert!(!token.is_empty());
    for head in ["", r#"<meta name="referrer" content="no-referrer">"#] {
        attacker.set_page(format!(
            r#"<!doctype html><html lang="en"><head><title>Prize</title>{head}</head><body>
<form method="post" action="{action}">
<input type="hidden" name="csrf" value="{token}">
<input type="hidden" name="email" value="user@example.com">
<input type="hidden" name="password" value="{PASSWORD}">
<input type="hidden" name="rd" value="{rd}">
<button id="claim" type="submit">Claim your prize</button>
</form></body></html>"#,
            action = gw.url("/_sekisho/login"),
            rd = gw.url("/members"),
        ));
        b.goto(&attacker.url("/prize")).await;
        b.click("#claim").await;

        assert_eq!(b.url().await.as_str(), gw.url("/_sekisho/login"));
        assert_eq!(b.text("h1").await, "Access denied", "{head}");
        assert!(
            b.text("main").await.contains("sent from another site"),
            "{}",
            b.source().await
        );
        assert!(b.cookie(SESSION_COOKIE).await.is_none());
    }
    b.goto(&gw.url("/members")).await;
    assert_eq!(b.url().await.path(), "/_sekisho/login", "still signed out");
    assert!(gw.upstream.seen.lock().unwrap().is_empty());
    // The same browser signs in fine from the gateway's own form.
    b.submit_sign_in("user@example.com", PASSWORD).await;
    assert_eq!(b.url().await.as_str(), gw.url("/members"));
}
browser_journey!(form_from_another_origin_is_refused, memory: Setup::new(Store::Memory));

async fn sign_in_and_out_without_javascript(gw: &TestGateway, b: &Browser) {
    let probe = OtherOrigin::start();
    b.goto(&probe.url("/js-probe")).await;
    assert_ne!(b.title().await, JS_RAN_TITLE, "JavaScript is off");

    sign_in_from_a_deep_link(gw, b).await;
    b.goto(&gw.url("/_sekisho/logout")).await;
    b.click("form button[type=submit]").await;
    assert_eq!(b.text("h1").await, "You are signed out");
    assert!(b.cookie(SESSION_COOKIE).await.is_none());
}
browser_journey!(sign_in_and_out_without_javascript, memory_no_js: Setup::new(Store::Memory).without_javascript());
