//! One-time codes by e-mail (a real SMTP server) and SMS (a local HTTP provider), and
//! backup codes.
use super::*;
use crate::on_both_stores;
use std::sync::{Arc, Mutex};

/// Turns on e-mail codes for the signed-in user from the settings page.
async fn enable_email(c: &Client, gw: &TestGateway) -> Vec<String> {
    let before = gw.mail.messages().len();
    let page = get(c, gw, "/_sekisho/settings/email")
        .await
        .text()
        .await
        .unwrap();
    let resp = post(
        c,
        gw,
        "/_sekisho/settings/email/send",
        &[("csrf", &form_csrf(&page))],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    let code = last_code(gw, before + 1);
    let resp = post(
        c,
        gw,
        "/_sekisho/settings/email/confirm",
        &[("csrf", &form_csrf(&page)), ("code", &code)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    backup_codes(&resp.text().await.unwrap())
}

async fn email_codes_through_smtp(gw: &TestGateway) {
    let c = client();
    sign_in(&c, gw, "user@example.com", PASSWORD, "/").await;
    let codes = enable_email(&c, gw).await;
    assert_eq!(codes.len(), 10);
    let enabled_notice = gw.mail.wait_for(2, std::time::Duration::from_secs(10));
    assert!(enabled_notice
        .iter()
        .any(|m| m.to.contains(&"user@example.com".to_string())));

    // Sign in: password, then a code by e-mail.
    let c = client();
    sign_in_to_challenge(&c, gw, "user@example.com", "/members").await;
    let code = email_code(&c, gw, "/members").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let resp = submit_code(&c, gw, "email", wrong, "/members", &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("4 attempts left"));
    let resp = submit_code(&c, gw, "email", &code, "/members", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(get(&c, gw, "/members").await.status(), StatusCode::OK);

    // Resend cool-down, then expiry after 10 minutes (fixed clock).
    let c = client();
    sign_in_to_challenge(&c, gw, "user@example.com", "/members").await;
    gw.clock.advance(61);
    let code = email_code(&c, gw, "/members").await;
    let page = get(&c, gw, "/_sekisho/mfa?m=email&rd=/members")
        .await
        .text()
        .await
        .unwrap();
    let resp = post(
        &c,
        gw,
        "/_sekisho/mfa/send",
        &[
            ("csrf", &form_csrf(&page)),
            ("m", "email"),
            ("rd", "/members"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    gw.clock.advance(600);
    let resp = submit_code(&c, gw, "email", &code, "/members", &[]).await;
    assert!(resp.text().await.unwrap().contains("expired"));

    // Five wrong tries void the code.
    let code = email_code(&c, gw, "/members").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        submit_code(&c, gw, "email", wrong, "/members", &[]).await;
    }
    let resp = submit_code(&c, gw, "email", wrong, "/members", &[]).await;
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Too many wrong attempts"));
    let resp = submit_code(&c, gw, "email", &code, "/members", &[]).await;
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "the right code no longer works"
    );
    let reasons: Vec<String> = gw
        .handle
        .app
        .mfa
        .events()
        .recent(50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.reason)
        .collect();
    for r in ["code_expired", "too_many_attempts", "invalid_otp"] {
        assert!(reasons.iter().any(|x| x == r), "{r} recorded: {reasons:?}");
    }
}
// The code's own try limit is under test here, so the lockout (which would lock the
// pair at the fifth failure) gets more room.
on_both_stores!(
    email_codes_through_smtp,
    "\n[lockout]\npair_threshold = 10\n"
);

#[test]
fn smtp_failure_says_use_another_method() {
    let mut gw = TestGateway::start(Store::Memory);
    let c = client();
    let codes = block_on(async {
        sign_in(&c, &gw, "user@example.com", PASSWORD, "/").await;
        enable_email(&c, &gw).await
    });
    // The mail server goes away (the gateway still points at its port).
    drop(std::mem::replace(
        &mut gw.mail,
        sekisho_testkit::SmtpSink::start(),
    ));
    let gw = gw;
    block_on(async {
        let c = client();
        sign_in_to_challenge(&c, &gw, "user@example.com", "/members").await;
        let page = get(&c, &gw, "/_sekisho/mfa?m=email&rd=/members")
            .await
            .text()
            .await
            .unwrap();
        let resp = post(
            &c,
            &gw,
            "/_sekisho/mfa/send",
            &[
                ("csrf", &form_csrf(&page)),
                ("m", "email"),
                ("rd", "/members"),
            ],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("couldn&#39;t send the code") || body.contains("couldn't send the code"),
            "{body}"
        );
        assert!(body.contains("m=backup_code"), "another method is offered");
        // The backup code gets the user in.
        let resp = submit_code(&c, &gw, "backup_code", &codes[0], "/members", &[]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert!(gw.handle.app.notifier.counts().email_failed >= 1);
        let metrics = reqwest::get(gw.admin_url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let failed = metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix("sekisho_notifications_total{channel=\"email\",result=\"failed\"} ")
            })
            .and_then(|n| n.parse::<u64>().ok());
        assert!(failed.is_some_and(|n| n >= 1), "{metrics}");
    });
}

async fn backup_code_spent_once_in_parallel(gw: &TestGateway) {
    let c = client();
    sign_in(&c, gw, "admin@example.com", PASSWORD, "/").await;
    let (_, codes) = enrol_totp(&c, gw).await;
    let code = codes[3].to_uppercase().replace('-', " ");
    let ok = parallel_submissions(gw, "admin@example.com", "backup_code", &code, 4).await;
    assert_eq!(ok, 1, "one backup code, one sign-in");
    let uid = super::totp::user_id(gw, "admin@example.com").await;
    assert_eq!(
        gw.handle
            .app
            .mfa
            .enrollment(&uid)
            .await
            .unwrap()
            .backup_remaining,
        9
    );
    // The user is told by e-mail (among other notices, e.g. of new sign-ins).
    let notices = wait_for_mails(gw, 1, |m| m.subject().contains("A backup code was used"));
    let notice = &notices[0];
    assert!(
        notice.text().contains("You have 9 backup codes left"),
        "backup-code notice mentions what is left: {}",
        notice.text()
    );
}
on_both_stores!(backup_code_spent_once_in_parallel);

/// A local SMS provider: records form bodies and the auth header.
struct Provider {
    port: u16,
    got: Arc<Mutex<Vec<(String, String)>>>,
    _rt: tokio::runtime::Runtime,
}

fn provider() -> Provider {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let rec = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/send",
        axum::routing::post(move |headers: http::HeaderMap, body: String| {
            let rec = Arc::clone(&rec);
            async move {
                let auth = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                rec.lock().unwrap().push((auth, body));
                "queued"
            }
        }),
    );
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Provider { port, got, _rt: rt }
}

#[test]
fn sms_codes_through_a_local_provider() {
    let p = provider();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("sms-token");
    std::fs::write(&token_file, "Bearer test-token\n").unwrap();
    let extra = format!(
        "\n[sms]\nenabled = true\nurl = \"http://127.0.0.1:{}/send\"\nbody = \"form\"\nfields = {{ to = \"{{to}}\", text = \"{{text}}\" }}\nauth_header = \"Authorization\"\nauth_value_file = \"{}\"\n",
        p.port,
        token_file.display()
    );
    let gw = TestGateway::start_with(
        Store::Memory,
        &extra.replace(
            "[sms]",
            "[mfa]\nfactors = [\"totp\", \"email\", \"sms\", \"backup_code\"]\n\n[sms]",
        ),
    );
    block_on(async {
        let c = client();
        sign_in(&c, &gw, "user@example.com", PASSWORD, "/").await;
        let page = get(&c, &gw, "/_sekisho/settings/sms")
            .await
            .text()
            .await
            .unwrap();
        let resp = post(
            &c,
            &gw,
            "/_sekisho/settings/sms/send",
            &[("csrf", &form_csrf(&page)), ("phone", "not a phone")],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let resp = post(
            &c,
            &gw,
            "/_sekisho/settings/sms/send",
            &[("csrf", &form_csrf(&page)), ("phone", "+81 90-1234-5678")],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let page = resp.text().await.unwrap();
        let (auth, body) = p
            .got
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the provider got a request");
        assert_eq!(auth, "Bearer test-token");
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert!(
            form.contains(&("to".into(), "+819012345678".into())),
            "{form:?}"
        );
        let code = six_digits(&form.iter().find(|(k, _)| k == "text").unwrap().1).unwrap();
        let resp = post(
            &c,
            &gw,
            "/_sekisho/settings/sms/confirm",
            &[("csrf", &form_csrf(&page)), ("code", &code)],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);

        // Sign in with an SMS code.
        let c = client();
        sign_in_to_challenge(&c, &gw, "user@example.com", "/members").await;
        let page = get(&c, &gw, "/_sekisho/mfa?m=sms&rd=/members")
            .await
            .text()
            .await
            .unwrap();
        let resp = post(
            &c,
            &gw,
            "/_sekisho/mfa/send",
            &[
                ("csrf", &form_csrf(&page)),
                ("m", "sms"),
                ("rd", "/members"),
            ],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let (_, body) = p.got.lock().unwrap().last().cloned().unwrap();
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let code = six_digits(&form.iter().find(|(k, _)| k == "text").unwrap().1).unwrap();
        let resp = submit_code(&c, &gw, "sms", &code, "/members", &[]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(get(&c, &gw, "/members").await.status(), StatusCode::OK);
    });
}
