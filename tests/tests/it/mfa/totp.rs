//! Authenticator apps: enrolment on the way to a `two_factor` page, sign-in with a
//! code from oathtool, replay, parallel submissions, clock drift, trusted browsers.
use super::*;
use crate::on_both_stores;

async fn totp_enrolment_then_sign_in(gw: &TestGateway) {
    let c = client();
    let admin = gw.url("/admin/panel");
    // A password session reaching a two_factor page without MFA is led to enrolment.
    let resp = sign_in(&c, gw, "admin@example.com", PASSWORD, &admin).await;
    assert_eq!(
        location(&resp),
        admin,
        "not enrolled: no challenge at sign-in"
    );
    let resp = get(&c, gw, "/admin/panel").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(location(&resp).starts_with("/_sekisho/mfa?rd="));
    let resp = get(&c, gw, &location(&resp)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&resp).starts_with("/_sekisho/settings/totp?"),
        "{}",
        location(&resp)
    );

    let (secret, codes) = enrol_totp(&c, gw).await;
    assert_eq!(codes.len(), 10, "a first factor comes with backup codes");
    // The enrolment itself is a completed second factor.
    let resp = get(&c, gw, "/admin/panel").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let seen = gw.upstream.last("/admin/panel");
    assert_eq!(header(&seen, "remote-user"), ["admin@example.com"]);
    // The secret is sealed at rest.
    let stored = gw
        .handle
        .app
        .mfa
        .factors()
        .sealed_totp(&user_id(gw, "admin@example.com").await)
        .await
        .unwrap();
    assert!(!stored.active.unwrap().contains(&secret));

    // Next sign-in: password, then the challenge; nothing protected before it.
    let c = client();
    sign_in_to_challenge(&c, gw, "admin@example.com", &admin).await;
    let resp = get(&c, gw, "/members").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(
        location(&resp).starts_with("/_sekisho/mfa?"),
        "partial session stays in the challenge"
    );
    gw.clock.advance(30);
    let code = oathtool(&secret, gw.clock.now());
    let resp = submit_code(&c, gw, "totp", &code, &admin, &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), admin);
    assert_eq!(get(&c, gw, "/admin/panel").await.status(), StatusCode::OK);

    // The same code again, from another browser: refused as replayed.
    let c2 = client();
    sign_in_to_challenge(&c2, gw, "admin@example.com", &admin).await;
    let resp = submit_code(&c2, gw, "totp", &code, &admin, &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("already used"));

    // A device clock 3 minutes slow: refused with a hint, drift recorded.
    gw.clock.advance(300);
    let slow = oathtool(&secret, gw.clock.now() - 180);
    let resp = submit_code(&c2, gw, "totp", &slow, &admin, &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body = resp.text().await.unwrap();
    assert!(body.contains("about 3 minutes slow"), "{body}");
    let events = gw.handle.app.mfa.events().recent(5).await.unwrap();
    let drift = events
        .iter()
        .find(|e| e.reason == "clock_drift")
        .expect("drift recorded");
    assert_eq!(drift.detail.as_deref(), Some("drift_steps=-6"));
    let replay = gw.handle.app.mfa.events().recent(10).await.unwrap();
    assert!(replay.iter().any(|e| e.reason == "otp_replayed"));

    // Japanese hint too.
    let resp = c2
        .get(gw.url("/_sekisho/mfa?m=totp"))
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap();
    let csrf = form_csrf(&resp.text().await.unwrap());
    let resp = c2
        .post(gw.url("/_sekisho/mfa/verify"))
        .header("origin", &gw.base)
        .header("accept-language", "ja")
        .form(&[
            ("csrf", csrf.as_str()),
            ("m", "totp"),
            ("code", &oathtool(&secret, gw.clock.now() - 180)),
            ("rd", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains("約3分遅れている"));
}
on_both_stores!(totp_enrolment_then_sign_in);

/// Sessions, the TOTP replay guard and the code counters on a real Redis Cluster.
#[test]
fn totp_enrolment_then_sign_in_on_a_cluster() {
    let gw = TestGateway::start_with(Store::RedisCluster, "");
    block_on(totp_enrolment_then_sign_in(&gw));
}

pub async fn user_id(gw: &TestGateway, email: &str) -> String {
    gw.handle
        .app
        .ui
        .accounts
        .find_by_email(&sekisho_auth::Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn parallel_totp_submissions_one_wins(gw: &TestGateway) {
    let c = client();
    sign_in(&c, gw, "admin@example.com", PASSWORD, "/").await;
    let (secret, _) = enrol_totp(&c, gw).await;
    gw.clock.advance(30);
    let code = oathtool(&secret, gw.clock.now());
    let ok = parallel_submissions(gw, "admin@example.com", "totp", &code, 4).await;
    assert_eq!(ok, 1, "exactly one of the parallel submissions passes");
}
on_both_stores!(parallel_totp_submissions_one_wins);

async fn trusted_browser_skips_the_challenge_until_revoked(gw: &TestGateway) {
    let c = client();
    sign_in(&c, gw, "admin@example.com", PASSWORD, "/").await;
    let (secret, _) = enrol_totp(&c, gw).await;
    gw.clock.advance(30);
    let c = client();
    sign_in_to_challenge(&c, gw, "admin@example.com", "/members").await;
    let resp = submit_code(
        &c,
        gw,
        "totp",
        &oathtool(&secret, gw.clock.now()),
        "/members",
        &[("trust", "1")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let device_cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sekisho_device="))
        .expect("device cookie")
        .to_string();
    assert!(
        device_cookie.contains("HttpOnly") && device_cookie.contains("Max-Age=2592000"),
        "{device_cookie}"
    );
    // The device cookie never reaches the upstream.
    assert_eq!(get(&c, gw, "/members").await.status(), StatusCode::OK);
    let seen = gw.upstream.last("/members");
    assert!(header(&seen, "cookie")
        .iter()
        .all(|v| !v.contains("sekisho_device")));

    // Sign out and in again: no challenge on this browser.
    let page = get(&c, gw, "/_sekisho/logout").await.text().await.unwrap();
    post(&c, gw, "/_sekisho/logout", &[("csrf", &form_csrf(&page))]).await;
    let resp = sign_in(&c, gw, "admin@example.com", PASSWORD, "/members").await;
    assert_eq!(
        location(&resp),
        "/members",
        "trusted browser skips the challenge"
    );
    assert_eq!(get(&c, gw, "/admin/x").await.status(), StatusCode::OK);
    // A rule that refuses remembered browsers asks again.
    let resp = get(&c, gw, "/strict-device/x").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(location(&resp).starts_with("/_sekisho/mfa?"));

    // Listed in settings; revoking it brings the challenge back.
    let page = get(&c, gw, "/_sekisho/settings")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"devices\""), "listed");
    let resp = post(
        &c,
        gw,
        "/_sekisho/settings/devices/revoke",
        &[("csrf", &form_csrf(&page)), ("id", "all")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = sign_in(&c, gw, "admin@example.com", PASSWORD, "/members").await;
    assert!(
        location(&resp).starts_with("/_sekisho/mfa?"),
        "revoked: challenge again"
    );
}
on_both_stores!(trusted_browser_skips_the_challenge_until_revoked);
