//! "Forgot your password?" end to end, on both stores: the link by e-mail (the same
//! answer for unknown addresses), the strength rule, single use, expiry, sessions and
//! trusted browsers ended, the second factor still asked, the notice mail.
use crate::harness::*;
use crate::mfa::{enrol_totp, get, location, post};
use crate::on_both_stores;
use reqwest::StatusCode;
use std::time::Duration;

const NEW_PASSWORD: &str = "ferry cobalt mango drizzle";

/// The link in the `nth` (1-based) "Reset your password" mail, once it arrived.
fn reset_link(gw: &TestGateway, nth: usize) -> String {
    let resets = wait_for_mails(gw, nth, |m| m.subject() == "[Sekisho] Reset your password");
    resets[nth - 1]
        .text()
        .lines()
        .map(str::trim)
        .find(|l| l.contains("/_sekisho/password/reset?token="))
        .expect("a link")
        .to_string()
}

async fn ask_for_link(c: &reqwest::Client, gw: &TestGateway, email: &str) -> String {
    let page = get(c, gw, "/_sekisho/password/forgot").await;
    assert_eq!(page.status(), StatusCode::OK);
    let token = form_csrf(&page.text().await.unwrap());
    let resp = post(
        c,
        gw,
        "/_sekisho/password/forgot",
        &[("csrf", &token), ("email", email)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

async fn submit(
    c: &reqwest::Client,
    gw: &TestGateway,
    link: &str,
    password: &str,
    confirm: &str,
) -> reqwest::Response {
    let page = c.get(link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    let csrf = form_csrf(&body);
    let token = scrape(&body, "name=\"token\" value=\"")
        .unwrap()
        .to_string();
    post(
        c,
        gw,
        "/_sekisho/password/reset",
        &[
            ("csrf", &csrf),
            ("token", &token),
            ("password", password),
            ("confirm", confirm),
        ],
    )
    .await
}

async fn reset_with_a_link(gw: &TestGateway) {
    let signed_in = client();
    sign_in(&signed_in, gw, "user@example.com", PASSWORD, "/members").await;
    assert_eq!(
        get(&signed_in, gw, "/members").await.status(),
        StatusCode::OK
    );

    let c = client();
    let login = get(&c, gw, "/_sekisho/login").await.text().await.unwrap();
    assert!(login.contains("href=\"/_sekisho/password/forgot\">Forgot your password?</a>"));
    let known = ask_for_link(&c, gw, "user@example.com").await;
    assert!(known.contains("If an account uses this address, we have sent it a link"));
    assert!(known.contains("for 30 minutes"));
    let link = reset_link(gw, 1);
    // An unknown address gets the very same page.
    let unknown = ask_for_link(&c, gw, "nobody@example.com").await;
    let message = |b: &str| scrape(b, "role=\"status\">").map(str::to_string);
    assert_eq!(message(&known), message(&unknown));

    // The new password must be confirmed and hard to guess.
    let resp = submit(&c, gw, &link, NEW_PASSWORD, "something else").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("are not the same"));
    let resp = submit(&c, gw, &link, "password123", "password123").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("too easy to guess"));
    let resp = submit(&c, gw, &link, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Your password was changed."));

    // Once only.
    let again = c.get(&link).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::GONE);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("This link no longer works"));

    // Signed out everywhere; the old password is gone, the new one works.
    assert_ne!(
        get(&signed_in, gw, "/members").await.status(),
        StatusCode::OK
    );
    let resp = sign_in(&client(), gw, "user@example.com", PASSWORD, "/members").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = sign_in(&client(), gw, "user@example.com", NEW_PASSWORD, "/members").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    let mails = gw.mail.wait_for(2, Duration::from_secs(10));
    assert!(mails
        .iter()
        .any(|m| m.subject() == "[Sekisho] Your password was changed"));
    assert_eq!(
        mails.len(),
        2,
        "no mail for the unknown address: {:?}",
        mails.iter().map(|m| m.subject()).collect::<Vec<_>>()
    );
}

on_both_stores!(reset_with_a_link);

/// Links expire, and a reset does not skip the second factor.
#[test]
fn links_expire_and_mfa_is_still_asked() {
    let gw = TestGateway::start(Store::Memory);
    block_on(async {
        let c = client();
        sign_in(&c, &gw, "admin@example.com", PASSWORD, "/").await;
        enrol_totp(&c, &gw).await;

        ask_for_link(&client(), &gw, "admin@example.com").await;
        let link = reset_link(&gw, 1);
        gw.clock.advance(30 * 60);
        let late = client().get(&link).send().await.unwrap();
        assert_eq!(late.status(), StatusCode::GONE);

        let c = client();
        ask_for_link(&c, &gw, "admin@example.com").await;
        let link = reset_link(&gw, 2);
        let resp = submit(&c, &gw, &link, NEW_PASSWORD, NEW_PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let resp = sign_in(
            &client(),
            &gw,
            "admin@example.com",
            NEW_PASSWORD,
            "/members",
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert!(
            location(&resp).starts_with("/_sekisho/mfa"),
            "{}",
            location(&resp)
        );
    });
}
