//! Sign-in, identity headers, sign-out and session expiry, on both stores.
use crate::harness::*;
use crate::on_both_stores;
use reqwest::StatusCode;

async fn protected_paths_challenge(gw: &TestGateway) {
    let c = client();
    // A browser navigation is sent to sign-in with the original URL.
    let resp = c
        .get(gw.url("/members/page?x=1"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()["location"].to_str().unwrap();
    let expected_rd = format!("{}/members/page?x=1", gw.base);
    let rd = url::form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "rd")
        .unwrap()
        .1
        .into_owned();
    assert!(location.starts_with("/_sekisho/login?rd="), "{location}");
    assert_eq!(rd, expected_rd);
    // An API call gets 401 instead.
    let resp = c
        .get(gw.url("/api/items"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("unauthorized"));
    assert!(
        gw.upstream.seen.lock().unwrap().is_empty(),
        "nothing reached the upstream"
    );
}
on_both_stores!(protected_paths_challenge);

async fn sign_in_reaches_upstream_with_identity(gw: &TestGateway) {
    let c = client();
    // Wrong password: the form again, no session.
    let resp = sign_in(&c, gw, "user@example.com", "wrong password!", "/members").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&resp).is_none());
    let body = resp.text().await.unwrap();
    assert!(body.contains("incorrect"), "{body}");
    // Unknown user: the same answer.
    let resp = sign_in(&c, gw, "nobody@example.com", "wrong password!", "/members").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("incorrect"));

    // Right password: back to rd.
    let rd = gw.url("/members/page?x=1");
    let resp = sign_in(&c, gw, "USER@example.com", PASSWORD, &rd).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"].to_str().unwrap(), rd);
    let sid = session_cookie(&resp).expect("a session cookie");
    assert!(gw.stored(&sid).await);

    // The upstream sees who it is, and neither forged identity nor our cookie.
    let resp = reqwest::Client::new()
        .get(&rd)
        .header(
            "cookie",
            format!("app_pref=dark; sekisho_session={sid}; sekisho_csrf=abc"),
        )
        .header("Remote-User", "mallory@example.com")
        .header("remote-user", "eve@example.com")
        .header("REMOTE-GROUPS", "admins")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let seen = gw.upstream.last("/members/page");
    assert_eq!(header(&seen, "remote-user"), vec!["user@example.com"]);
    assert_eq!(header(&seen, "remote-email"), vec!["user@example.com"]);
    assert_eq!(header(&seen, "remote-groups"), vec![""]);
    assert_eq!(header(&seen, "remote-name"), vec!["Test User"]);
    assert_eq!(header(&seen, "x-forwarded-for"), vec!["127.0.0.1"]);
    assert_eq!(header(&seen, "x-forwarded-proto"), vec!["http"]);
    let cookies = header(&seen, "cookie").join("; ");
    assert!(!cookies.contains("sekisho_session"), "{cookies}");
    assert!(!cookies.contains("sekisho_csrf"), "{cookies}");
    assert!(
        cookies.contains("app_pref=dark"),
        "the site's own cookies still pass: {cookies}"
    );

    // The account page says who is signed in.
    let body = c
        .get(gw.url("/_sekisho/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("user@example.com"));

    // Signing in again rotates the session id.
    let resp = sign_in(&c, gw, "user@example.com", PASSWORD, "/members").await;
    let sid2 = session_cookie(&resp).unwrap();
    assert_ne!(sid, sid2);
    assert!(!gw.stored(&sid).await, "the old session ended");
    assert!(gw.stored(&sid2).await);
}
on_both_stores!(sign_in_reaches_upstream_with_identity);

async fn bypass_deny_and_two_factor(gw: &TestGateway) {
    let c = client();
    let resp = c
        .get(gw.url("/public/info"))
        .header("remote-user", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        header(&gw.upstream.last("/public/info"), "remote-user").is_empty(),
        "forged identity stripped on bypass too"
    );
    let resp = c.get(gw.url("/deny/x")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("Request ID"));
    // Default policy is deny.
    assert_eq!(
        c.get(gw.url("/elsewhere")).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // An admin with only a password never passes a two_factor rule: API calls get a
    // 401 naming the MFA page, navigations go to it.
    let resp = sign_in(&c, gw, "admin@example.com", PASSWORD, "/admin").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = c
        .get(gw.url("/admin/users"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("mfa_required"));
    let resp = c
        .get(gw.url("/admin/users"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let to = resp.headers()["location"].to_str().unwrap();
    assert!(to.starts_with("/_sekisho/mfa?rd="), "{to}");
    // A non-admin falls through to the deny rule.
    let other = client();
    sign_in(&other, gw, "user@example.com", PASSWORD, "/").await;
    assert_eq!(
        other.get(gw.url("/admin")).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert!(gw
        .upstream
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|(p, _)| !p.starts_with("/admin")));
    // Admins can use one_factor routes; their Japanese name travels as UTF-8.
    assert_eq!(
        c.get(gw.url("/members")).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        header(&gw.upstream.last("/members"), "remote-name"),
        vec!["山田 管理者"]
    );
    assert_eq!(
        header(&gw.upstream.last("/members"), "remote-groups"),
        vec!["admins"]
    );
}
on_both_stores!(bypass_deny_and_two_factor);

async fn sign_out_ends_the_session(gw: &TestGateway) {
    let c = client();
    let resp = sign_in(&c, gw, "user@example.com", PASSWORD, "/members").await;
    let sid = session_cookie(&resp).unwrap();
    assert_eq!(
        c.get(gw.url("/members")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let token = csrf_token(&c, gw).await;
    let resp = c
        .post(gw.url("/_sekisho/logout"))
        .header("origin", &gw.base)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!gw.stored(&sid).await, "the session is gone from the store");
    // Even a client that kept the cookie is refused now.
    let replay = client();
    let resp = replay
        .get(gw.url("/members"))
        .header("cookie", format!("sekisho_session={sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
on_both_stores!(sign_out_ends_the_session);

async fn idle_and_expired_sessions_are_refused(gw: &TestGateway) {
    let c = client();
    sign_in(&c, gw, "user@example.com", PASSWORD, "/members").await;
    assert_eq!(
        c.get(gw.url("/members")).send().await.unwrap().status(),
        StatusCode::OK
    );
    // 29 minutes idle: still fine (and this use resets the idle clock).
    gw.clock.advance(29 * 60);
    assert_eq!(
        c.get(gw.url("/members")).send().await.unwrap().status(),
        StatusCode::OK
    );
    // 31 more minutes idle: gone.
    gw.clock.advance(31 * 60);
    assert_eq!(
        c.get(gw.url("/api/x")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // Absolute lifetime: steady use does not stretch a session past 8 hours.
    let c = client();
    sign_in(&c, gw, "user@example.com", PASSWORD, "/members").await;
    for _ in 0..16 {
        gw.clock.advance(29 * 60);
        assert_eq!(
            c.get(gw.url("/api/x")).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    gw.clock.advance(20 * 60); // 8h04m after sign-in
    assert_eq!(
        c.get(gw.url("/api/x")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}
on_both_stores!(idle_and_expired_sessions_are_refused);
