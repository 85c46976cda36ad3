//! The help page and the error pages end to end, through the real gateway: a wrong
//! authenticator code links to its help entry and the link works in the partial
//! session; help opens for signed-out and forced-enrolment sessions too; the 403, 404
//! and 413 pages come in both languages with the configured support contact and a
//! request id that the logs hold as well.
use crate::harness::*;
use crate::mfa::{enrol_totp, get, sign_in_to_challenge, submit_code};
use reqwest::{Client, StatusCode};

/// The support contact, and forced enrolment for one user (the other one enrols an
/// authenticator app and meets the challenge).
const CONFIG: &str = r#"
[support]
email = "helpdesk@example.com"
phone = "+81 3-1234-5678"
hours = "Mon–Fri 9:00–18:00 JST"

[[enrollment]]
users = ["user@example.com"]
mode = "require"
"#;

fn gateway() -> TestGateway {
    TestGateway::start_with(Store::Memory, CONFIG)
}

/// The href of the help link beside the page's error message.
fn error_help_href(body: &str) -> String {
    scrape(body, "id=\"error-help\" href=\"")
        .expect("a help link beside the error")
        .to_string()
}

async fn help_follows(c: &Client, gw: &TestGateway, href: &str, anchor: &str) {
    let (path, fragment) = href.split_once('#').expect("the link names an entry");
    assert_eq!(path, "/_sekisho/help");
    assert_eq!(fragment, anchor);
    let resp = get(c, gw, path).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(body.contains(&format!("id=\"{anchor}\"")), "{body}");
    assert!(body.contains("id=\"support-contact\""), "{body}");
}

#[test]
fn flows_link_to_help_and_help_needs_no_full_session() {
    let gw = gateway();
    block_on(async {
        // Signed out: the page opens.
        let c = client();
        let resp = get(&c, &gw, "/_sekisho/help").await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.text().await.unwrap().contains("id=\"why-mfa\""));

        // The administrator sets up an authenticator app, then signs in again.
        let resp = sign_in(&c, &gw, "admin@example.com", PASSWORD, "/members").await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        enrol_totp(&c, &gw).await;
        let c = client();
        sign_in_to_challenge(&c, &gw, "admin@example.com", "/members").await;
        let resp = submit_code(&c, &gw, "totp", "000000", "/members", &[]).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body = resp.text().await.unwrap();
        assert!(body.contains("id=\"code-error\""), "{body}");
        // "Can't use any of these?" leads to the backup code and the recovery request.
        assert!(
            body.contains("href=\"/_sekisho/mfa/lost?rd=%2Fmembers\""),
            "{body}"
        );
        let lost = get(&c, &gw, "/_sekisho/mfa/lost?rd=%2Fmembers").await;
        assert_eq!(lost.status(), StatusCode::OK);
        assert!(lost
            .text()
            .await
            .unwrap()
            .contains("id=\"use-backup-code\""));
        let href = error_help_href(&body);
        // Still a partial session: the site is closed, help is open.
        let resp = get(&c, &gw, "/members").await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        help_follows(&c, &gw, &href, "code-rejected").await;

        // Forced enrolment: the site is closed, the rollout page links to help.
        let c = client();
        let resp = sign_in(&c, &gw, "user@example.com", PASSWORD, "/members").await;
        assert!(crate::mfa::location(&resp).starts_with("/_sekisho/enroll"));
        let resp = get(&c, &gw, "/members").await;
        assert!(crate::mfa::location(&resp).starts_with("/_sekisho/enroll"));
        let enroll = get(&c, &gw, &crate::mfa::location(&resp)).await;
        let body = enroll.text().await.unwrap();
        let href = scrape(&body, "id=\"why-mfa-link\" href=\"").expect("a link to help");
        help_follows(&c, &gw, href, "why-mfa").await;
    });
}

/// Reads an error page: (status, body, request id).
pub(crate) async fn error_page(resp: reqwest::Response) -> (StatusCode, String, String) {
    let status = resp.status();
    let body = resp.text().await.unwrap();
    let id = body
        .split("<code id=\"request-id\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("no request id: {body}"))
        .to_string();
    (status, body, id)
}

#[test]
fn error_pages_carry_request_id_and_support_in_both_languages() {
    crate::logs::init();
    let gw = gateway();
    block_on(async {
        let c = client();
        let big = vec![b'a'; 200 * 1024];
        for (lang, texts) in [
            (
                "en",
                [
                    "Page not found",
                    "Access denied",
                    "Request too large",
                    "Contact support",
                    "Request ID",
                ],
            ),
            (
                "ja",
                [
                    "ページが見つかりません",
                    "アクセスできません",
                    "リクエストが大きすぎます",
                    "サポートへのお問い合わせ",
                    "リクエストID",
                ],
            ),
        ] {
            let answers = [
                c.get(gw.url("/_sekisho/no-such-page")),
                c.get(gw.url("/deny/x")),
                c.post(gw.url("/_sekisho/login")).body(big.clone()),
            ];
            let mut seen = Vec::new();
            for (req, (status, heading)) in answers.into_iter().zip([
                (StatusCode::NOT_FOUND, texts[0]),
                (StatusCode::FORBIDDEN, texts[1]),
                (StatusCode::PAYLOAD_TOO_LARGE, texts[2]),
            ]) {
                let resp = req
                    .header("accept-language", lang)
                    .header("accept", "text/html")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.headers()["cache-control"], "no-store");
                let (got, body, id) = error_page(resp).await;
                assert_eq!(got, status, "{body}");
                assert!(body.contains(&format!("<html lang=\"{lang}\">")), "{body}");
                assert!(body.contains(&format!("<h1>{heading}</h1>")), "{body}");
                assert!(body.contains(texts[3]) && body.contains(texts[4]), "{body}");
                assert!(
                    body.contains("href=\"mailto:helpdesk@example.com\""),
                    "{body}"
                );
                assert!(body.contains("+81 3-1234-5678") && body.contains("9:00–18:00"));
                assert!(body.contains("id=\"error-help\" href=\"/_sekisho/help\""));
                assert!(id.len() >= 8, "{id}");
                assert!(!seen.contains(&id), "one id per request");
                seen.push(id);
            }
            // The id users quote is the one the logs hold.
            let logs = crate::logs::captured();
            for id in &seen {
                assert!(
                    logs.lines()
                        .any(|l| l.contains(id.as_str()) && l.contains("error page")),
                    "request id {id} is not in the logs"
                );
            }
        }
    });
}
