//! Router tests with `oneshot`: real SQLite, real memory session store.
use super::*;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use sekisho_auth::{
    AccountStore, Email, ManualClock, MemorySessionStore, NewUser, PasswordHasher, PasswordInput,
    SessionService, SessionTimeouts,
};
use sekisho_config::{load_str, DatabaseKind, DatabaseSettings, SecretString};
use std::collections::HashMap;
use tower::ServiceExt;

struct Fixture {
    ctx: Arc<UiContext>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    fixture_with("").await
}

/// `extra` is appended to the config.
async fn fixture_with(extra: &str) -> Fixture {
    let settings = load_str(
        &format!("[password]\nmemory_kib = 1024\niterations = 1\n[email]\ntransport = \"off\"\n[[sites]]\nhost = \"app.test\"\nupstreams = [\"127.0.0.1:9\"]\n{extra}"),
        "t",
        &HashMap::new(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let accounts = AccountStore::connect(&DatabaseSettings {
        kind: DatabaseKind::Sqlite,
        url: SecretString::new(format!("sqlite://{}", dir.path().join("t.db").display())),
        max_connections: 2,
    })
    .await
    .unwrap();
    let hasher = PasswordHasher::new(&settings.password).unwrap();
    let hash = hasher
        .hash(PasswordInput::new("correct password".into()))
        .await
        .unwrap();
    accounts
        .create_user(
            NewUser {
                email: Email::parse("user@example.com").unwrap(),
                display_name: "User".into(),
                groups: vec!["staff".into()],
                department: String::new(),
                password_hash: Some(hash),
            },
            1,
        )
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let sessions = Arc::new(SessionService::new(
        Arc::new(MemorySessionStore::new(100, clock.clone())),
        clock.clone(),
        SessionTimeouts::from_settings(&settings.session),
    ));
    let mfa = Arc::new(sekisho_auth::MfaService::new(
        accounts.factors(),
        accounts.events(),
        Arc::new(sekisho_auth::MemoryCounterStore::new(100, clock.clone())),
        sekisho_auth::mfa::secretbox::Keyring::new(
            &sekisho_config::SecretBytes::new(vec![7; 32]).unwrap(),
            &[],
        ),
        sekisho_config::SecretBytes::new(vec![8; 32]).unwrap(),
        clock,
        settings.mfa.clone(),
    ));
    let notifier =
        sekisho_notify::Notifier::new(&settings.email, &settings.sms, "Sekisho").unwrap();
    let ctx = Arc::new(UiContext::new(
        UiConfig::from_settings(&settings),
        accounts,
        sessions,
        hasher,
        mfa,
        notifier,
        &[9u8; 32],
    ));
    Fixture { ctx, _dir: dir }
}

async fn call(ctx: &Arc<UiContext>, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let resp = router(Arc::clone(ctx)).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn set_cookies(h: &HeaderMap) -> Vec<String> {
    h.get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// Fetches the form and returns (csrf cookie pair, token).
async fn csrf_pair(ctx: &Arc<UiContext>) -> (String, String) {
    let (_, h, body) = call(
        ctx,
        Request::get("/_sekisho/login")
            .header("host", "app.test")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let cookie = set_cookies(&h)
        .into_iter()
        .find(|c| c.starts_with("sekisho_csrf="))
        .unwrap();
    let pair = cookie.split(';').next().unwrap().to_string();
    let token = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (pair, token)
}

fn post(path: &str, cookie: &str, body: String) -> Request<Body> {
    Request::post(path)
        .header("host", "app.test")
        .header("origin", "http://app.test")
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

/// Signs user@example.com in with the right password. Returns the answer's status and
/// `Location`, and the cookies for the next requests (CSRF nonce and the new session).
async fn sign_in_user(
    ctx: &Arc<UiContext>,
    csrf_cookie: &str,
    token: &str,
    rd: &str,
) -> (StatusCode, String, String) {
    let (status, h, _) = call(
        ctx,
        post(
            "/_sekisho/login",
            csrf_cookie,
            format!("csrf={token}&rd={rd}&email=user%40example.com&password=correct+password"),
        ),
    )
    .await;
    let location = h["location"].to_str().unwrap().to_string();
    let session = set_cookies(&h)
        .into_iter()
        .find(|c| c.starts_with("sekisho_session="))
        .unwrap();
    let cookies = format!("{csrf_cookie}; {}", session.split(';').next().unwrap());
    (status, location, cookies)
}

#[tokio::test]
async fn login_page_is_localised_and_hardened() {
    let f = fixture().await;
    let (status, h, body) = call(
        &f.ctx,
        Request::get("/_sekisho/login?rd=%2Fmembers")
            .header("host", "app.test")
            .header("accept-language", "ja,en;q=0.5")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<html lang=\"ja\">"), "{body}");
    assert!(body.contains("サインイン"));
    assert!(body.contains("name=\"rd\" value=\"/members\""));
    assert!(body.contains("<label for=\"email\">"));
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("form-action 'self' http://app.test https://app.test"),
        "{csp}"
    );
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    assert_eq!(h.get("referrer-policy").unwrap(), "same-origin");
    let csrf = set_cookies(&h)
        .into_iter()
        .find(|c| c.starts_with("sekisho_csrf="))
        .unwrap();
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Lax"),
        "{csrf}"
    );
}

#[tokio::test]
async fn sign_in_and_out() {
    let f = fixture().await;
    let (csrf_cookie, token) = csrf_pair(&f.ctx).await;

    // Wrong password: 401, the form again, no session cookie.
    let (status, h, body) = call(
        &f.ctx,
        post(
            "/_sekisho/login",
            &csrf_cookie,
            format!("csrf={token}&rd=%2Fmembers&email=user%40example.com&password=wrong+password"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("incorrect"));
    assert!(body.contains("aria-describedby=\"form-error\""));
    assert!(!set_cookies(&h)
        .iter()
        .any(|c| c.starts_with("sekisho_session=")));

    // Right password: 303 to rd with a session cookie.
    let (status, h, _) = call(
        &f.ctx,
        post(
            "/_sekisho/login",
            &csrf_cookie,
            format!("csrf={token}&rd=%2Fmembers%3Fa%3D1&email=USER%40example.com&password=correct+password"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h.get("location").unwrap(), "/members?a=1");
    let session = set_cookies(&h)
        .into_iter()
        .find(|c| c.starts_with("sekisho_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("Path=/"),
        "{session}"
    );
    let session_pair = session.split(';').next().unwrap().to_string();

    // The account page shows who is signed in.
    let (status, _, body) = call(
        &f.ctx,
        Request::get("/_sekisho/")
            .header("host", "app.test")
            .header("cookie", &session_pair)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("user@example.com"), "{body}");

    // Sign out ends it in the store.
    let key =
        sekisho_auth::SessionKey::from_cookie(session_pair.split('=').nth(1).unwrap()).unwrap();
    assert!(f.ctx.sessions.store().get(&key).await.unwrap().is_some());
    let (status, h, _) = call(
        &f.ctx,
        post(
            "/_sekisho/logout",
            &format!("{csrf_cookie}; {session_pair}"),
            format!("csrf={token}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(set_cookies(&h)
        .iter()
        .any(|c| c.starts_with("sekisho_session=;")));
    assert!(f.ctx.sessions.store().get(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn forged_and_malformed_posts_are_refused() {
    let f = fixture().await;
    let (csrf_cookie, token) = csrf_pair(&f.ctx).await;
    let good = format!("csrf={token}&email=user%40example.com&password=correct+password");

    // Another origin.
    let mut req = post("/_sekisho/login", &csrf_cookie, good.clone());
    req.headers_mut()
        .insert("origin", "http://evil.test".parse().unwrap());
    let (status, h, _) = call(&f.ctx, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!set_cookies(&h)
        .iter()
        .any(|c| c.starts_with("sekisho_session=")));

    // Missing or wrong token.
    let (status, _, body) = call(
        &f.ctx,
        post(
            "/_sekisho/login",
            &csrf_cookie,
            "email=user%40example.com&password=correct+password".into(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("expired"));
    let (status, _, _) = call(
        &f.ctx,
        post(
            "/_sekisho/login",
            "sekisho_csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            good.clone(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bad UTF-8 and broken escapes: a clean 400 page.
    let (status, h, body) = call(
        &f.ctx,
        post(
            "/_sekisho/login",
            &csrf_cookie,
            "email=%ff%fe&password=x".into(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Request ID"));
    assert!(h.get("content-security-policy").is_some());

    // Oversized body: 413 page.
    let big = format!("{good}&pad={}", "a".repeat(70 * 1024));
    let (status, _, _) = call(&f.ctx, post("/_sekisho/login", &csrf_cookie, big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn open_redirects_fall_back_to_default() {
    let f = fixture().await;
    let (csrf_cookie, token) = csrf_pair(&f.ctx).await;
    for rd in [
        "%2F%2Fevil.test",
        "https%3A%2F%2Fevil.test%2F",
        "https%3Aevil.test",
        "%2F%5Cevil.test",
    ] {
        let (status, h, _) = call(
            &f.ctx,
            post(
                "/_sekisho/login",
                &csrf_cookie,
                format!("csrf={token}&rd={rd}&email=user%40example.com&password=correct+password"),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(h.get("location").unwrap(), "/", "rd={rd}");
    }
}

#[tokio::test]
async fn language_switch_returns_to_the_page() {
    let f = fixture().await;
    let (status, h, _) = call(
        &f.ctx,
        Request::get("/_sekisho/lang?to=ja&back=%2F_sekisho%2Flogin%3Frd%3D%252Fmembers")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h.get("location").unwrap(), "/_sekisho/login?rd=%2Fmembers");
    assert!(set_cookies(&h)
        .iter()
        .any(|c| c.starts_with("sekisho_lang=ja")));
    // The switcher refuses to leave the host.
    let (_, h, _) = call(
        &f.ctx,
        Request::get("/_sekisho/lang?to=en&back=%2F%2Fevil.test")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(h.get("location").unwrap(), "/_sekisho/login");
    // Unknown pages get the 404 page with security headers.
    let (status, h, _) = call(
        &f.ctx,
        Request::get("/_sekisho/nope").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(h.get("content-security-policy").is_some());
}

#[tokio::test]
async fn rollout_pages_refuse_bad_input() {
    let f = fixture_with("[[enrollment]]\ngroups = [\"staff\"]\nmode = \"require\"\n").await;
    // No session: the pages send the visitor to sign in.
    let (status, h, _) = call(
        &f.ctx,
        Request::get("/_sekisho/enroll/start")
            .header("host", "app.test")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(h["location"]
        .to_str()
        .unwrap()
        .starts_with("/_sekisho/login?"));

    let (csrf_cookie, token) = csrf_pair(&f.ctx).await;
    let (status, location, cookies) =
        sign_in_user(&f.ctx, &csrf_cookie, &token, "%2Fmembers").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/_sekisho/enroll?rd=%2Fmembers&nudge=forced");
    let get = |path: &str| {
        Request::get(path)
            .header("host", "app.test")
            .header("cookie", &cookies)
            .body(Body::empty())
            .unwrap()
    };
    // A forged nudge or an open redirect changes nothing: still forced, rd local.
    let (status, _, body) = call(
        &f.ctx,
        get("/_sekisho/enroll?nudge=recommend&rd=https%3A%2F%2Fevil.example%2F"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Set up two-step verification to continue"));
    assert!(!body.contains("evil.example"), "rd refused");
    let (status, _, _) = call(&f.ctx, get("/_sekisho/enroll?nudge=%FF%FE")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not UTF-8: a clear 400");
    // "Later" without a CSRF token, or with a forged origin, is refused.
    let (status, _, _) = call(
        &f.ctx,
        post(
            "/_sekisho/enroll/later",
            &cookies,
            "rd=%2F&nudge=recommend".into(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut forged = post(
        "/_sekisho/enroll/later",
        &cookies,
        format!("csrf={token}&rd=%2F&nudge=recommend"),
    );
    forged
        .headers_mut()
        .insert("origin", HeaderValue::from_static("https://evil.example"));
    let (status, _, _) = call(&f.ctx, forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The done page before any factor goes back to step 1.
    let (status, h, _) = call(&f.ctx, get("/_sekisho/enroll/done?rd=%2Fmembers")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(h["location"]
        .to_str()
        .unwrap()
        .starts_with("/_sekisho/enroll/start?"));
}

mod events;
mod help;

#[tokio::test]
async fn locked_sign_in_says_how_long_in_japanese() {
    let f = fixture().await;
    let (csrf_cookie, token) = csrf_pair(&f.ctx).await;
    let attempt = |password: &str| {
        let mut req = post(
            "/_sekisho/login",
            &csrf_cookie,
            format!("csrf={token}&rd=%2F&email=user%40example.com&password={password}"),
        );
        req.headers_mut()
            .insert("accept-language", "ja".parse().unwrap());
        req
    };
    for _ in 0..5 {
        let (status, _, _) = call(&f.ctx, attempt("wrong")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, h, body) = call(&f.ctx, attempt("correct+password")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(h["retry-after"], "60");
    assert!(body.contains("1分後にもう一度お試しください。"), "{body}");
    assert!(body.contains("aria-describedby=\"form-error\""));
}
