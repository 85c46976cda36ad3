//! Request ids on auth events, and error pages recorded as `error` events through the
//! background writer: with the request id, the path but never its query, the client
//! address, and the user of the session cookie.
use super::*;
use sekisho_auth::{AuthEvent, EventKind, EventQuery};
use std::net::{IpAddr, Ipv4Addr};

/// `req` as the gateway hands it over: with the client's address and request id.
fn from_gateway(mut req: Request<Body>, request_id: &str) -> Request<Body> {
    req.extensions_mut().insert(ClientInfo {
        ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        scheme: "http",
        request_id: request_id.to_string(),
    });
    req
}

/// The events of `request_id`, once at least `n` are written (up to 10 s).
async fn events_of(ctx: &UiContext, request_id: &str, n: usize) -> Vec<AuthEvent> {
    let q = EventQuery {
        request_id: Some(request_id.to_string()),
        ..EventQuery::default()
    };
    for _ in 0..1000 {
        let found = ctx.mfa.events().search(&q).await.unwrap();
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} events of {request_id}");
}

#[tokio::test]
async fn auth_events_carry_the_request_id() {
    let f = fixture().await;
    let (cookie, token) = csrf_pair(&f.ctx).await;
    let req = post(
        "/_sekisho/login",
        &cookie,
        format!("csrf={token}&rd=%2F&email=user%40example.com&password=wrong"),
    );
    let (status, _, _) = call(&f.ctx, from_gateway(req, "req-wrong-pw")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Recorded before the answer, so already there.
    let found = f
        .ctx
        .mfa
        .events()
        .search(&EventQuery {
            request_id: Some("req-wrong-pw".into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, "password");
    assert_eq!(found[0].reason, "invalid_password");
    assert_eq!(found[0].email.as_deref(), Some("user@example.com"));
    assert_eq!(found[0].ip.as_deref(), Some("192.0.2.7"));
}

#[tokio::test]
async fn error_pages_are_recorded_in_the_background() {
    let f = fixture().await;
    let writer = f.ctx.take_error_writer().expect("the writer, once");
    assert!(f.ctx.take_error_writer().is_none());
    tokio::spawn(writer.run());

    // Anonymous: no user, the path without its query.
    let req = Request::get("/_sekisho/nope?token=secret&email=a%40b")
        .header("host", "app.test")
        .header("user-agent", "TestBrowser/1.0")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&f.ctx, from_gateway(req, "req-404")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("req-404"), "the page shows the id");
    let found = events_of(&f.ctx, "req-404", 1).await;
    assert_eq!(found.len(), 1);
    let e = &found[0];
    assert_eq!(
        (e.kind.as_str(), e.reason.as_str(), e.success),
        (EventKind::Error.as_str(), "not_found", false)
    );
    assert_eq!(e.detail.as_deref(), Some("status=404 path=/_sekisho/nope"));
    assert_eq!(e.user_id, None);
    assert_eq!(e.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(e.user_agent.as_deref(), Some("TestBrowser/1.0"));

    // Signed in: the session cookie names the user, looked up by the writer.
    let (csrf_cookie, token) = csrf_pair(&f.ctx).await;
    let (_, _, cookies) = sign_in_user(&f.ctx, &csrf_cookie, &token, "%2F").await;
    let req = Request::get("/_sekisho/settings/nothing-here")
        .header("host", "app.test")
        .header("cookie", &cookies)
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = call(&f.ctx, from_gateway(req, "req-404-user")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let e = &events_of(&f.ctx, "req-404-user", 1).await[0];
    assert_eq!(e.email.as_deref(), Some("user@example.com"));
    assert!(e.user_id.is_some());
    let detail = e.detail.as_deref().unwrap_or("");
    assert!(!detail.contains("sekisho_session"), "{detail}");

    // A refused form (another origin) is an error page too.
    let req = Request::post("/_sekisho/logout")
        .header("host", "app.test")
        .header("origin", "http://evil.test")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("csrf=x"))
        .unwrap();
    let (status, _, _) = call(&f.ctx, from_gateway(req, "req-403")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let e = &events_of(&f.ctx, "req-403", 1).await[0];
    assert_eq!(e.reason, "cross_site");
    assert_eq!(
        e.detail.as_deref(),
        Some("status=403 path=/_sekisho/logout")
    );
}
