use crate::sms_only;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use sekisho_config::{load_str, Lang, SmsSettings};
use sekisho_notify::{Notice, Notifier, NotifyCounts, NotifyError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the fake provider saw.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Provider {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Provider {
    /// Serves `/ok` (200), `/fail` (500), `/slow` (answers after 5 s) and `/moved`
    /// (302 to `/ok`) on an ephemeral loopback port, until the test's runtime ends.
    async fn start() -> (Self, SocketAddr) {
        let provider = Provider::default();
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(provider.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (provider, addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    State(provider): State<Provider>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    provider.seen.lock().unwrap().push(Seen {
        method,
        path: uri.path().to_string(),
        headers,
        body,
    });
    match uri.path() {
        "/ok" => StatusCode::OK.into_response(),
        "/fail" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::OK.into_response()
        }
        "/moved" => (StatusCode::FOUND, [("location", "/ok")]).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// SMS settings through the real config loader, with `SEKISHO_SMS_AUTH` when given.
fn settings(sms_table: &str, auth: Option<&str>) -> SmsSettings {
    let mut env = HashMap::new();
    if let Some(value) = auth {
        env.insert("SEKISHO_SMS_AUTH".to_string(), value.to_string());
    }
    load_str(
        &format!("[sms]\nenabled = true\n{sms_table}"),
        "t.toml",
        &env,
    )
    .unwrap()
    .sms
}

const CODE: Notice<'static> = Notice::SignInCode {
    code: "314159",
    valid_minutes: 10,
};

/// A provider at `url` with the plainest fields; `extra` adds `[sms]` keys.
fn plain_provider(url: &str, extra: &str, auth: Option<&str>) -> Notifier {
    sms_only(settings(
        &format!("url = \"{url}\"\nfields = {{ to = \"{{to}}\", text = \"{{text}}\" }}\n{extra}"),
        auth,
    ))
}

async fn send_code(notifier: &Notifier) -> Result<(), NotifyError> {
    notifier.send_sms("+819012345678", Lang::En, &CODE).await
}

#[tokio::test]
async fn form_body_with_auth_header() {
    let (provider, addr) = Provider::start().await;
    let notifier = sms_only(settings(
        &format!(
            "url = \"http://{addr}/ok\"\nauth_header = \"Authorization\"\nfields = {{ to = \"{{to}}\", text = \"{{text}}\", sender = \"Sekisho & Co\" }}\n"
        ),
        Some("Bearer t0ken"),
    ));
    assert!(notifier.sms_enabled() && !notifier.email_enabled());
    notifier
        .send_sms("+81 90-1234-5678", Lang::En, &CODE)
        .await
        .unwrap();

    let seen = provider.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.headers["authorization"], "Bearer t0ken");
    assert_eq!(
        request.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert!(request.headers.get("cookie").is_none());
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    assert_eq!(form[0], ("to".into(), "+819012345678".into()));
    assert_eq!(form[1].0, "text");
    assert!(
        form[1].1.starts_with("314159 is your Sekisho sign-in code"),
        "{form:?}"
    );
    assert_eq!(form[2], ("sender".into(), "Sekisho & Co".into()));
    assert_eq!(
        notifier.counts(),
        NotifyCounts {
            sms_sent: 1,
            ..NotifyCounts::default()
        }
    );
}

#[tokio::test]
async fn json_body_with_put() {
    let (provider, addr) = Provider::start().await;
    let notifier = sms_only(settings(
        &format!(
            "url = \"http://{addr}/ok\"\nmethod = \"PUT\"\nbody = \"json\"\nfields = {{ number = \"{{to}}\", message = \"{{text}}\", tag = \"a\\\"b\" }}\n"
        ),
        None,
    ));
    notifier
        .send_sms("09012345678", Lang::Ja, &CODE)
        .await
        .unwrap();
    let request = &provider.seen()[0];
    assert_eq!(request.method, Method::PUT);
    assert_eq!(request.headers["content-type"], "application/json");
    assert!(request.headers.get("authorization").is_none());
    let json: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(json["number"], "09012345678");
    assert_eq!(json["tag"], "a\"b");
    let text = json["message"].as_str().unwrap();
    assert!(
        text.starts_with("314159 は Sekisho のサインイン確認コードです"),
        "{text}"
    );
}

#[tokio::test]
async fn provider_errors_are_rejections() {
    let (_provider, addr) = Provider::start().await;
    let notifier = plain_provider(&format!("http://{addr}/fail"), "", None);
    let err = send_code(&notifier).await.unwrap_err();
    assert!(
        matches!(&err, NotifyError::Rejected(s) if s == "HTTP 500"),
        "{err:?}"
    );
    assert_eq!(notifier.counts().sms_failed, 1);
    assert_eq!(notifier.counts().sms_sent, 0);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (provider, addr) = Provider::start().await;
    let notifier = plain_provider(&format!("http://{addr}/moved"), "", None);
    let err = send_code(&notifier).await.unwrap_err();
    assert!(
        matches!(&err, NotifyError::Rejected(s) if s == "HTTP 302"),
        "{err:?}"
    );
    let paths: Vec<String> = provider.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/moved"]);
}

#[tokio::test]
async fn slow_provider_times_out() {
    let (_provider, addr) = Provider::start().await;
    let notifier = plain_provider(&format!("http://{addr}/slow"), "timeout = \"1s\"\n", None);
    let started = Instant::now();
    let err = send_code(&notifier).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, NotifyError::Timeout), "{err:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(notifier.counts().sms_failed, 1);
}

#[tokio::test]
async fn unreachable_provider_errors_carry_no_secrets() {
    let port = sekisho_testkit::free_port();
    let notifier = plain_provider(
        &format!("http://127.0.0.1:{port}/send?api_key=KEY-42"),
        "auth_header = \"X-Auth\"\n",
        Some("AUTH-99"),
    );
    let err = send_code(&notifier).await.unwrap_err();
    assert!(matches!(err, NotifyError::Transport(_)), "{err:?}");
    let shown = format!("{err} {err:?} {notifier:?}");
    for secret in ["KEY-42", "AUTH-99", "314159", "9012345678"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

#[tokio::test]
async fn disabled_and_invalid_numbers_send_nothing() {
    let off = sms_only(SmsSettings::default());
    assert!(!off.sms_enabled());
    let err = send_code(&off).await.unwrap_err();
    assert!(matches!(err, NotifyError::Disabled));
    assert_eq!(off.counts(), NotifyCounts::default());

    let (provider, addr) = Provider::start().await;
    let notifier = plain_provider(&format!("http://{addr}/ok"), "", None);
    for bad in ["", "call me", "12", "+81-90-1234-5678;drop"] {
        let err = notifier.send_sms(bad, Lang::En, &CODE).await.unwrap_err();
        assert!(
            matches!(err, NotifyError::InvalidRecipient),
            "{bad}: {err:?}"
        );
    }
    assert!(provider.seen().is_empty());
    assert_eq!(notifier.counts().sms_failed, 4);
}
