//! MFA end to end through the real gateway, on both stores: TOTP (codes from Debian's
//! `oathtool`, an independent implementation), e-mail codes through a real SMTP
//! server, SMS through a local HTTP provider, backup codes, step-up rules, trusted
//! browsers, and secrets kept out of the logs.
use crate::harness::*;
use reqwest::{Client, Response, StatusCode};
pub use sekisho_auth::Clock;
use std::process::Command;

mod codes;
mod rules;
pub mod totp;

/// The TOTP code for `secret` (base32) at Unix time `at`, from oathtool.
pub fn oathtool(secret: &str, at: i64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret, "-N", &format!("@{at}")])
        .output()
        .expect("oathtool is missing: run scripts/install-deps.sh");
    assert!(out.status.success(), "oathtool failed: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub async fn get(c: &Client, gw: &TestGateway, path: &str) -> Response {
    c.get(gw.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
}

pub async fn post(c: &Client, gw: &TestGateway, path: &str, fields: &[(&str, &str)]) -> Response {
    c.post(gw.url(path))
        .header("origin", &gw.base)
        .header("accept", "text/html")
        .form(fields)
        .send()
        .await
        .unwrap()
}

pub fn location(resp: &Response) -> String {
    resp.headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Enrols an authenticator app from the settings page; returns the secret and the
/// backup codes shown once.
pub async fn enrol_totp(c: &Client, gw: &TestGateway) -> (String, Vec<String>) {
    let page = get(c, gw, "/_sekisho/settings/totp").await;
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    assert!(body.contains("<svg"), "QR code is on the page");
    let secret: String = body
        .split("id=\"totp-secret\" class=\"secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the key is shown for manual entry")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(secret.len() >= 32, "at least 160 bits: {secret}");
    let code = oathtool(&secret, gw.clock.now());
    let resp = post(
        c,
        gw,
        "/_sekisho/settings/totp",
        &[("csrf", &form_csrf(&body)), ("code", &code)],
    )
    .await;
    // A first factor shows the backup codes; another one goes back to settings.
    match resp.status() {
        StatusCode::OK => {
            let body = resp.text().await.unwrap();
            (secret, backup_codes(&body))
        }
        StatusCode::SEE_OTHER => (secret, Vec::new()),
        other => panic!("enrolment failed: {other} {}", resp.text().await.unwrap()),
    }
}

pub fn backup_codes(body: &str) -> Vec<String> {
    let list = body
        .split("id=\"backup-codes\"")
        .nth(1)
        .and_then(|s| s.split("</ol>").next())
        .expect("the backup codes are shown");
    list.split("<code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next())
        .map(str::to_string)
        .collect()
}

/// Signs in with the password; expects the challenge (a partial session).
pub async fn sign_in_to_challenge(c: &Client, gw: &TestGateway, email: &str, rd: &str) {
    let resp = sign_in(c, gw, email, PASSWORD, rd).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = location(&resp);
    assert!(
        to.starts_with("/_sekisho/mfa?"),
        "challenge expected, got {to}"
    );
    assert_eq!(location_param(&resp, "rd").as_deref(), Some(rd));
}

/// Loads the challenge page for `method` and submits `code`.
pub async fn submit_code(
    c: &Client,
    gw: &TestGateway,
    method: &str,
    code: &str,
    rd: &str,
    extra: &[(&str, &str)],
) -> Response {
    let page = get(c, gw, &format!("/_sekisho/mfa?m={method}&rd={}", enc(rd))).await;
    let body = page.text().await.unwrap();
    let csrf = form_csrf(&body);
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("m", method),
        ("code", code),
        ("rd", rd),
    ];
    fields.extend_from_slice(extra);
    post(c, gw, "/_sekisho/mfa/verify", &fields).await
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Sends an e-mail code from the challenge page and returns it from the SMTP sink.
pub async fn email_code(c: &Client, gw: &TestGateway, rd: &str) -> String {
    let before = gw.mail.messages().len();
    let page = get(c, gw, &format!("/_sekisho/mfa?m=email&rd={}", enc(rd))).await;
    let body = page.text().await.unwrap();
    let resp = post(
        c,
        gw,
        "/_sekisho/mfa/send",
        &[("csrf", &form_csrf(&body)), ("m", "email"), ("rd", rd)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("We sent a code"));
    last_code(gw, before + 1)
}

/// The code in the newest mail carrying one, among those after the first `n - 1`
/// (security notices sent in the background may arrive in between).
pub fn last_code(gw: &TestGateway, n: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mails = gw.mail.messages();
        if let Some(code) = mails
            .iter()
            .skip(n - 1)
            .rev()
            .find_map(|m| six_digits(&m.text()))
        {
            return code;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no mail with a code arrived"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn six_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_string)
}

/// Signs `n` browsers in to the challenge, then submits one `code` from all of them at
/// once; returns how many got through (every other one must be refused).
pub async fn parallel_submissions(
    gw: &TestGateway,
    email: &str,
    method: &str,
    code: &str,
    n: usize,
) -> usize {
    let mut ready = Vec::new();
    for _ in 0..n {
        let c = client();
        sign_in_to_challenge(&c, gw, email, "/members").await;
        let page = get(&c, gw, &format!("/_sekisho/mfa?m={method}&rd=/members")).await;
        ready.push((c, form_csrf(&page.text().await.unwrap())));
    }
    let tasks: Vec<_> = ready
        .into_iter()
        .map(|(c, csrf)| {
            let (url, origin) = (gw.url("/_sekisho/mfa/verify"), gw.base.clone());
            let (method, code) = (method.to_string(), code.to_string());
            tokio::spawn(async move {
                c.post(url)
                    .header("origin", origin)
                    .form(&[
                        ("csrf", csrf.as_str()),
                        ("m", &method),
                        ("code", &code),
                        ("rd", "/members"),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        if status == StatusCode::SEE_OTHER {
            ok += 1;
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    ok
}
