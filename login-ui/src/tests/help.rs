//! The help page, the help links of the flows, and the error pages' contact box.
use super::*;
use crate::challenge::{code_verdict, totp_verdict, Verdict};
use crate::help::HelpTopic;
use crate::i18n::mfa_texts;
use sekisho_auth::{CodeOutcome, TotpOutcome};

const SUPPORT: &str = r#"
[support]
email = "help+desk@example.com"
phone = "+81 3-1234-5678"
hours = "<script>alert(1)</script> Mon–Fri"
url = "https://help.example.com/it?a=1&b=2"
"#;

fn get(path: &str, lang: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path)
        .header("host", "app.test")
        .header("accept-language", lang);
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    b.body(Body::empty()).unwrap()
}

/// Every `help#anchor` a template links to.
fn template_anchors() -> Vec<(String, String)> {
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/templates"
    ))];
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for rest in text.split("help#").skip(1) {
            let anchor: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                .collect();
            out.push((path.display().to_string(), anchor));
        }
    }
    out
}

#[tokio::test]
async fn help_page_has_every_entry_in_both_languages() {
    let f = fixture().await;
    for (lang, title, entry) in [
        ("en", "<h1>Help</h1>", "The code doesn&#39;t arrive"),
        ("ja", "<h1>ヘルプ</h1>", "コードが届かない"),
    ] {
        let (status, h, body) = call(&f.ctx, get("/_sekisho/help", lang, None)).await;
        assert_eq!(status, StatusCode::OK, "{lang}");
        assert!(body.contains(&format!("<html lang=\"{lang}\">")), "{body}");
        assert!(body.contains(title), "{body}");
        assert!(body.contains(entry), "{body}");
        for topic in HelpTopic::ALL {
            let id = topic.anchor();
            assert!(body.contains(&format!("id=\"{id}\"")), "{lang}: no #{id}");
            assert!(
                body.contains(&format!("href=\"#{id}\"")),
                "{lang}: no link to #{id}"
            );
        }
        // Placeholders are filled from [mfa]: 10-minute codes, 60 s cool-down, issuer.
        assert!(!body.contains("{ttl}") && !body.contains("{n}") && !body.contains("{issuer}"));
        assert!(body.contains("10") && body.contains("60") && body.contains("Sekisho"));
        // No contact configured: a generic pointer, no box.
        assert!(!body.contains("id=\"support-contact\""), "{body}");
        assert!(body.contains("id=\"support-fallback\""), "{body}");
        assert!(body.contains("id=\"footer-help\" href=\"/_sekisho/help\""));
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h.get("cache-control").unwrap(), "no-store");
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
        assert!(
            set_cookies(&h).is_empty(),
            "no session, no CSRF cookie needed"
        );
    }
}

#[tokio::test]
async fn help_page_shows_the_configured_contact_escaped() {
    let f = fixture_with(SUPPORT).await;
    let (status, _, body) = call(&f.ctx, get("/_sekisho/help", "en", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=\"support-contact\""), "{body}");
    assert!(!body.contains("id=\"support-fallback\""));
    assert!(
        body.contains("<a id=\"support-email\" href=\"mailto:help+desk@example.com\">help+desk@example.com</a>"),
        "{body}"
    );
    assert!(body.contains("+81 3-1234-5678"));
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62; Mon–Fri"),
        "{body}"
    );
    assert!(!body.contains("<script>"), "hours are text, never markup");
    assert!(
        body.contains("href=\"https://help.example.com/it?a=1&#38;b=2\""),
        "{body}"
    );
    let (_, _, ja) = call(&f.ctx, get("/_sekisho/help", "ja", None)).await;
    assert!(
        ja.contains("サポートへのお問い合わせ") && ja.contains("受付時間"),
        "{ja}"
    );
}

#[test]
fn mailto_links_encode_what_could_start_a_query() {
    let view = crate::help::SupportView::of(&sekisho_config::SupportSettings {
        email: Some("a?b%c#d@example.com".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(view.mailto, "mailto:a%3Fb%25c%23d@example.com");
    let hours_only = sekisho_config::SupportSettings {
        hours: Some("9-17".into()),
        ..Default::default()
    };
    assert!(crate::help::SupportView::of(&hours_only).is_none());
}

/// Enrols user@example.com (e-mail codes, which this deployment cannot send, and
/// backup codes) and signs in with the password, which gives a partial session.
/// Returns the CSRF token and the cookies (CSRF nonce and session).
async fn partial_session(f: &Fixture) -> (String, String) {
    let user = f
        .ctx
        .accounts
        .find_by_email(&Email::parse("user@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let factors = f.ctx.mfa.factors();
    factors.set_email_enabled(&user.id, true).await.unwrap();
    f.ctx.mfa.regenerate_backup_codes(&user.id).await.unwrap();
    let (csrf_cookie, token) = csrf_pair(&f.ctx).await;
    let (status, location, cookies) = sign_in_user(&f.ctx, &csrf_cookie, &token, "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/_sekisho/mfa?"), "{location}");
    (token, cookies)
}

#[tokio::test]
async fn help_needs_no_full_session() {
    let f = fixture().await;
    let (_, cookies) = partial_session(&f).await;
    let (status, _, _) = call(&f.ctx, get("/_sekisho/", "en", Some(&cookies))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the session is partial");
    let (status, _, body) = call(&f.ctx, get("/_sekisho/help", "en", Some(&cookies))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=\"lost-device\""));
}

#[tokio::test]
async fn wrong_backup_codes_link_to_help_and_the_pause_to_locked_out() {
    let f = fixture().await;
    // The challenge offers backup codes only (e-mail cannot be sent here).
    let (token, cookies) = partial_session(&f).await;
    let (status, _, body) = call(&f.ctx, get("/_sekisho/mfa", "en", Some(&cookies))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<a id=\"lost-device-link\" href=\"/_sekisho/mfa/lost?rd="),
        "{body}"
    );
    assert!(body.contains(">Can&#39;t use this method?</a>"), "{body}");
    // The page behind it offers the backup code first, and the recovery request.
    let (status, _, lost) = call(&f.ctx, get("/_sekisho/mfa/lost", "en", Some(&cookies))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        lost.contains("id=\"use-backup-code\" href=\"/_sekisho/mfa?m=backup_code&#38;rd="),
        "{lost}"
    );
    assert!(lost.contains("action=\"/_sekisho/mfa/lost\""), "{lost}");
    assert!(
        !body.contains("id=\"error-help\""),
        "no error, no help link"
    );

    let wrong = format!("csrf={token}&m=backup_code&code=aaaa-bbbb-cccc-dddd");
    let (status, _, body) = call(
        &f.ctx,
        post("/_sekisho/mfa/verify", &cookies, wrong.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("<a id=\"error-help\" href=\"/_sekisho/help#lost-device\" aria-describedby=\"code-error\">Help with this</a>"),
        "{body}"
    );
    // Wrong codes lock the challenge; the message links to "too many attempts".
    let mut last = (StatusCode::OK, String::new());
    for _ in 0..5 {
        let (status, _, body) = call(
            &f.ctx,
            post("/_sekisho/mfa/verify", &cookies, wrong.clone()),
        )
        .await;
        last = (status, body);
    }
    let (status, last) = last;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(last.contains("try again in 1 minute."), "{last}");
    assert!(
        last.contains("href=\"/_sekisho/help#locked-out\""),
        "{last}"
    );
}

#[test]
fn refusals_name_their_help_entry() {
    let help = |v: Verdict| match v {
        Verdict::Refused { help, .. } => help,
        Verdict::Accepted { .. } => panic!("accepted"),
    };
    for lang in Lang::ALL {
        let m = mfa_texts(lang);
        for outcome in [
            TotpOutcome::Replayed,
            TotpOutcome::Drift {
                minutes: -3,
                steps: -6,
            },
            TotpOutcome::Invalid,
            TotpOutcome::Malformed,
        ] {
            assert_eq!(
                help(totp_verdict(m, outcome)),
                Some(HelpTopic::CodeRejected)
            );
        }
        for (outcome, topic) in [
            (
                CodeOutcome::Invalid { attempts_left: 2 },
                Some(HelpTopic::CodeNotArriving),
            ),
            (CodeOutcome::Expired, Some(HelpTopic::CodeNotArriving)),
            (CodeOutcome::NoCode, Some(HelpTopic::CodeNotArriving)),
            (CodeOutcome::TooManyAttempts, Some(HelpTopic::LockedOut)),
            (CodeOutcome::Malformed, None),
        ] {
            assert_eq!(help(code_verdict(m, outcome)), topic);
        }
    }
}

#[tokio::test]
async fn every_help_link_in_the_templates_resolves() {
    let f = fixture().await;
    let (_, _, page) = call(&f.ctx, get("/_sekisho/help", "en", None)).await;
    let anchors = template_anchors();
    assert!(
        anchors
            .iter()
            .any(|(file, a)| file.ends_with("enroll.html") && a == "why-mfa"),
        "{anchors:?}"
    );
    assert!(anchors
        .iter()
        .any(|(file, _)| file.ends_with("enroll_start.html")));
    for (file, anchor) in anchors {
        assert!(
            HelpTopic::ALL.iter().any(|t| t.anchor() == anchor),
            "{file} links to help#{anchor}, which is no HelpTopic"
        );
        assert!(page.contains(&format!("id=\"{anchor}\"")), "{anchor}");
    }
    for topic in HelpTopic::ALL {
        assert_eq!(
            topic.href("/_sekisho/"),
            format!("/_sekisho/help#{}", topic.anchor())
        );
    }
}

#[tokio::test]
async fn error_pages_are_localised_with_request_id_contact_and_help() {
    let f = fixture_with(SUPPORT).await;
    let cases = [
        (
            ErrorKind::BadRequest,
            400,
            "Bad request",
            "不正なリクエスト",
        ),
        (
            ErrorKind::Forbidden,
            403,
            "Access denied",
            "アクセスできません",
        ),
        (
            ErrorKind::NotFound,
            404,
            "Page not found",
            "ページが見つかりません",
        ),
        (
            ErrorKind::PayloadTooLarge,
            413,
            "Request too large",
            "リクエストが大きすぎます",
        ),
        (
            ErrorKind::TooManyRequests,
            429,
            "Too many requests",
            "リクエストが多すぎます",
        ),
        (
            ErrorKind::BadGateway,
            502,
            "The site is not responding",
            "サイトが応答しません",
        ),
        (
            ErrorKind::Unavailable,
            503,
            "Temporarily unavailable",
            "一時的に利用できません",
        ),
    ];
    for (kind, code, en, ja) in cases {
        for (lang, heading) in [("en", en), ("ja", ja)] {
            let mut headers = HeaderMap::new();
            headers.insert("accept-language", HeaderValue::from_static(lang));
            let resp = f.ctx.error_response(
                kind,
                &headers,
                "/x?token=1",
                &Requester {
                    request_id: "req-42",
                    ..Requester::default()
                },
            );
            assert_eq!(resp.status().as_u16(), code);
            let body = resp.body();
            assert!(
                body.contains(&format!("<h1>{heading}</h1>")),
                "{kind:?} {lang}: {body}"
            );
            assert!(
                body.contains("<code id=\"request-id\">req-42</code>"),
                "{body}"
            );
            assert!(body.contains("id=\"support-contact\""), "{body}");
            assert!(body.contains("href=\"mailto:help+desk@example.com\""));
            let help = if kind == ErrorKind::TooManyRequests {
                "href=\"/_sekisho/help#locked-out\""
            } else {
                "id=\"error-help\" href=\"/_sekisho/help\""
            };
            assert!(body.contains(help), "{kind:?}: {body}");
            assert_eq!(resp.headers()["cache-control"], "no-store");
            assert!(resp.headers().contains_key("content-security-policy"));
        }
    }
    // An unknown host is not served the hosted pages: no link there to another 404.
    let resp = f.ctx.error_response(
        ErrorKind::UnknownSite,
        &HeaderMap::new(),
        "/",
        &Requester {
            request_id: "req-43",
            ..Requester::default()
        },
    );
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(!resp.body().contains("/_sekisho/help"), "{}", resp.body());
    assert!(resp.body().contains("req-43") && resp.body().contains("support-contact"));
}

#[tokio::test]
async fn router_404_carries_the_contact_and_no_contact_without_config() {
    let f = fixture_with(SUPPORT).await;
    let (status, _, body) = call(&f.ctx, get("/_sekisho/nowhere", "ja", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("ページが見つかりません") && body.contains("support-contact"));
    let plain = fixture().await;
    let (_, _, body) = call(&plain.ctx, get("/_sekisho/nowhere", "en", None)).await;
    assert!(!body.contains("support-contact"), "{body}");
    assert!(body.contains("id=\"error-help\""));
}
