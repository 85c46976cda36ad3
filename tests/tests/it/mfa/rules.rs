//! `two_factor` rule options (`max_mfa_age`, `mfa_methods`), re-authentication for
//! sensitive settings, and secrets kept out of the logs.
use super::*;
use crate::on_both_stores;

async fn max_mfa_age_steps_up_then_returns(gw: &TestGateway) {
    let c = client();
    sign_in(&c, gw, "admin@example.com", PASSWORD, "/").await;
    let (secret, _) = enrol_totp(&c, gw).await;
    assert_eq!(get(&c, gw, "/fresh/report").await.status(), StatusCode::OK);
    // Six minutes later the 5-minute rule asks again; other two_factor pages don't.
    gw.clock.advance(360);
    assert_eq!(get(&c, gw, "/admin/x").await.status(), StatusCode::OK);
    let resp = get(&c, gw, "/fresh/report").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let rd = location_param(&resp, "rd").unwrap();
    assert_eq!(rd, gw.url("/fresh/report"));
    let resp = submit_code(&c, gw, "totp", &oathtool(&secret, gw.clock.now()), &rd, &[]).await;
    assert_eq!(location(&resp), rd, "back where the user was going");
    assert_eq!(get(&c, gw, "/fresh/report").await.status(), StatusCode::OK);
    // API clients get a 401 naming the MFA page instead of a redirect.
    gw.clock.advance(360);
    let resp = c
        .get(gw.url("/fresh/api"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("mfa_required"));
}
on_both_stores!(max_mfa_age_steps_up_then_returns);

async fn mfa_methods_restrict_what_a_rule_accepts(gw: &TestGateway) {
    // E-mail codes only: the TOTP-only page cannot be reached with them.
    let c = client();
    sign_in(&c, gw, "user@example.com", PASSWORD, "/").await;
    let page = get(&c, gw, "/_sekisho/settings/email")
        .await
        .text()
        .await
        .unwrap();
    let before = gw.mail.messages().len();
    let page2 = post(
        &c,
        gw,
        "/_sekisho/settings/email/send",
        &[("csrf", &form_csrf(&page))],
    )
    .await
    .text()
    .await
    .unwrap();
    let code = last_code(gw, before + 1);
    post(
        &c,
        gw,
        "/_sekisho/settings/email/confirm",
        &[("csrf", &form_csrf(&page2)), ("code", &code)],
    )
    .await;
    assert_eq!(get(&c, gw, "/members").await.status(), StatusCode::OK);
    let resp = get(&c, gw, "/totp-only/x").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(
        location_param(&resp, "methods").as_deref(),
        Some("totp,backup_code")
    );
    // The challenge offers only what the rule accepts: the backup codes, not e-mail.
    let resp = get(&c, gw, &location(&resp)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(body.contains("name=\"m\" value=\"backup_code\""), "{body}");
    assert!(!body.contains("m=email"), "e-mail is not offered: {body}");

    // Adding an authenticator app (the e-mail MFA is recent) opens the page.
    let (_, codes) = enrol_totp(&c, gw).await;
    assert!(
        codes.is_empty(),
        "backup codes came with the first factor already"
    );
    assert_eq!(get(&c, gw, "/totp-only/x").await.status(), StatusCode::OK);
}
on_both_stores!(mfa_methods_restrict_what_a_rule_accepts);

async fn sensitive_settings_need_a_recent_mfa(gw: &TestGateway) {
    let c = client();
    sign_in(&c, gw, "admin@example.com", PASSWORD, "/").await;
    let (secret, _) = enrol_totp(&c, gw).await;
    // Right after MFA: regenerating backup codes works and shows a new set once.
    let page = get(&c, gw, "/_sekisho/settings")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("10 of 10 left"), "{page}");
    let resp = post(
        &c,
        gw,
        "/_sekisho/settings/backup",
        &[("csrf", &form_csrf(&page))],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(backup_codes(&resp.text().await.unwrap()).len(), 10);
    // Eleven minutes later: re-challenge first.
    gw.clock.advance(660);
    let page = get(&c, gw, "/_sekisho/settings")
        .await
        .text()
        .await
        .unwrap();
    let resp = post(
        &c,
        gw,
        "/_sekisho/settings/totp/remove",
        &[("csrf", &form_csrf(&page))],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(location(&resp).starts_with("/_sekisho/mfa?rd="));
    let resp = submit_code(
        &c,
        gw,
        "totp",
        &oathtool(&secret, gw.clock.now()),
        "/_sekisho/settings",
        &[],
    )
    .await;
    assert_eq!(location(&resp), "/_sekisho/settings");
    let page = get(&c, gw, "/_sekisho/settings")
        .await
        .text()
        .await
        .unwrap();
    let resp = post(
        &c,
        gw,
        "/_sekisho/settings/totp/remove",
        &[("csrf", &form_csrf(&page))],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let uid = super::totp::user_id(gw, "admin@example.com").await;
    assert!(!gw.handle.app.mfa.enrollment(&uid).await.unwrap().has_totp());
    // Recent activity lists what happened.
    let body = resp.text().await.unwrap();
    assert!(body.contains("id=\"activity\""));
    assert!(body.contains("enrollment (totp): enrolled"), "{body}");
}
on_both_stores!(sensitive_settings_need_a_recent_mfa);

#[test]
fn secrets_never_reach_the_logs() {
    crate::logs::init();
    let gw = TestGateway::start(Store::Memory);
    let (secret, codes, email_code, cookies) = block_on(async {
        let c = client();
        let resp = sign_in(&c, &gw, "admin@example.com", PASSWORD, "/").await;
        let mut cookies = vec![session_cookie(&resp).unwrap()];
        let (secret, codes) = enrol_totp(&c, &gw).await;
        // Turn on e-mail codes too, and use one.
        let page = get(&c, &gw, "/_sekisho/settings/email")
            .await
            .text()
            .await
            .unwrap();
        let before = gw.mail.messages().len();
        let page2 = post(
            &c,
            &gw,
            "/_sekisho/settings/email/send",
            &[("csrf", &form_csrf(&page))],
        )
        .await
        .text()
        .await
        .unwrap();
        let code = last_code(&gw, before + 1);
        post(
            &c,
            &gw,
            "/_sekisho/settings/email/confirm",
            &[("csrf", &form_csrf(&page2)), ("code", &code)],
        )
        .await;
        let c = client();
        let resp = sign_in(&c, &gw, "admin@example.com", PASSWORD, "/members").await;
        cookies.extend(session_cookie(&resp));
        let resp = submit_code(
            &c,
            &gw,
            "backup_code",
            &codes[0],
            "/members",
            &[("trust", "1")],
        )
        .await;
        cookies.extend(session_cookie(&resp));
        (secret, codes, code, cookies)
    });
    let logs = crate::logs::captured();
    assert!(logs.contains("second factor accepted"), "the capture works");
    let mut needles = vec![PASSWORD.to_string(), secret.clone(), email_code];
    needles.extend(codes);
    needles.extend(cookies);
    // The secret also in the grouped form shown on the page.
    needles.push(secret.chars().take(8).collect());
    for n in needles {
        assert!(!logs.contains(&n), "a secret reached the logs: {n}");
    }
}

#[test]
fn when_required_asks_only_where_a_rule_needs_it() {
    let gw = TestGateway::start_with(Store::Memory, "\n[mfa]\nat_login = \"when_required\"\n");
    block_on(async {
        let c = client();
        sign_in(&c, &gw, "admin@example.com", PASSWORD, "/").await;
        let (secret, _) = enrol_totp(&c, &gw).await;
        gw.clock.advance(30);
        let c = client();
        let resp = sign_in(&c, &gw, "admin@example.com", PASSWORD, "/members").await;
        assert_eq!(location(&resp), "/members", "no challenge at sign-in");
        assert_eq!(get(&c, &gw, "/members").await.status(), StatusCode::OK);
        let resp = get(&c, &gw, "/admin/x").await;
        assert!(
            location(&resp).starts_with("/_sekisho/mfa?"),
            "step-up on demand"
        );
        let rd = location_param(&resp, "rd").unwrap();
        let resp = submit_code(
            &c,
            &gw,
            "totp",
            &oathtool(&secret, gw.clock.now()),
            &rd,
            &[],
        )
        .await;
        assert_eq!(location(&resp), rd);
        assert_eq!(get(&c, &gw, "/admin/x").await.status(), StatusCode::OK);
    });
}

/// Codes cannot be guessed at request speed: five wrong ones from one place lock the
/// challenge there for a minute (the shared lockout), with `Retry-After`.
#[test]
fn wrong_codes_lock_the_challenge() {
    let gw = TestGateway::start(Store::Memory);
    block_on(async {
        let c = client();
        sign_in(&c, &gw, "admin@example.com", PASSWORD, "/").await;
        let (secret, _) = enrol_totp(&c, &gw).await;
        gw.clock.advance(30);
        let c = client();
        sign_in_to_challenge(&c, &gw, "admin@example.com", "/members").await;
        let right = oathtool(&secret, gw.clock.now());
        let wrong = if right == "000000" {
            "111111"
        } else {
            "000000"
        };
        for _ in 0..5 {
            let resp = submit_code(&c, &gw, "totp", wrong, "/members", &[]).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        }
        let resp = submit_code(&c, &gw, "totp", &right, "/members", &[]).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "60");
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("Too many wrong codes. For your security, try again in 1 minute."),
            "{body}"
        );
        // The lock ends after its minute.
        gw.clock.advance(61);
        let right = oathtool(&secret, gw.clock.now());
        let resp = submit_code(&c, &gw, "totp", &right, "/members", &[]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    });
}
