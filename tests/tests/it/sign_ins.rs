//! Sign-in notices and history through the real gateway, on both stores: no notice for
//! a first sign-in or a known browser, a mail through the real SMTP sink for a new
//! browser (English and Japanese) or, when asked, a new network (client addresses
//! from a trusted proxy's `X-Forwarded-For`), the bound on the history, the settings
//! list, and second-factor sign-ins counted once (not at enrolment or step-up).
use crate::harness::*;
use crate::mfa::{enrol_totp, get, location, oathtool, sign_in_to_challenge, submit_code};
use crate::on_both_stores;
use reqwest::StatusCode;
use sekisho_auth::{Clock, SignInMethod, SignInRow};
use std::sync::Arc;
use std::time::Duration;

const CHROME_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const WAIT: Duration = Duration::from_secs(10);

/// A browser with its own user agent, language and (through a trusted proxy) client
/// address; `jar` lets two of them share one cookie store, i.e. be one browser.
fn browser(
    jar: &Arc<reqwest::cookie::Jar>,
    lang: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("user-agent", CHROME_LINUX.parse().unwrap());
    headers.insert("accept-language", lang.parse().unwrap());
    if let Some(ip) = forwarded_for {
        headers.insert("x-forwarded-for", ip.parse().unwrap());
    }
    reqwest::Client::builder()
        .cookie_provider(Arc::clone(jar))
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn fresh(lang: &str) -> reqwest::Client {
    browser(&Arc::default(), lang, None)
}

async fn history(gw: &TestGateway, email: &str) -> Vec<SignInRow> {
    let uid = crate::mfa::totp::user_id(gw, email).await;
    gw.handle
        .app
        .ui
        .accounts
        .sign_ins()
        .recent(&uid, 1000)
        .await
        .unwrap()
}

async fn signed_in(c: &reqwest::Client, gw: &TestGateway, email: &str) -> reqwest::Response {
    let resp = sign_in(c, gw, email, PASSWORD, "/members").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/members");
    resp
}

async fn settings(c: &reqwest::Client, gw: &TestGateway) -> String {
    let resp = get(c, gw, "/_sekisho/settings").await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

/// The "Recent sign-ins" table of a settings page.
fn listed(page: &str) -> &str {
    page.split("<table id=\"sign-ins\">")
        .nth(1)
        .and_then(|s| s.split("</table>").next())
        .unwrap_or_else(|| panic!("the recent sign-ins are listed: {page}"))
}

fn browser_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sekisho_browser="))
        .map(str::to_string)
}

async fn notices_for_new_browsers(gw: &TestGateway) {
    // First sign-in ever: recorded, no notice (nothing to compare with).
    let laptop = fresh("en");
    let resp = signed_in(&laptop, gw, "user@example.com").await;
    let cookie = browser_cookie(&resp).expect("the browser cookie is set");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=34560000"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    let value = cookie.split(';').next().unwrap().to_string();
    let rows = history(gw, "user@example.com").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].method, Some(SignInMethod::Password));
    assert_eq!(rows[0].browser, "Chrome on Linux");
    assert_eq!(rows[0].ip.as_deref(), Some("127.0.0.1"));
    assert!(!rows[0].new_browser && !rows[0].new_network);

    // The site never sees the browser cookie.
    assert_eq!(get(&laptop, gw, "/members").await.status(), StatusCode::OK);
    let seen = gw.upstream.last("/members");
    assert!(
        header(&seen, "cookie")
            .iter()
            .all(|c| !c.contains("sekisho_browser")),
        "{seen:?}"
    );

    // Again from the same browser: no notice, the same cookie refreshed.
    gw.clock.advance(3600);
    let resp = signed_in(&laptop, gw, "user@example.com").await;
    let again = browser_cookie(&resp).expect("refreshed at every sign-in");
    assert!(again.starts_with(&format!("{value};")), "{again}");
    let rows = history(gw, "user@example.com").await;
    assert_eq!(rows.len(), 2);
    assert!(!rows[0].new_browser);

    // A browser without the cookie: the notice, in English, with what to do.
    gw.clock.advance(3600);
    let phone = fresh("en");
    signed_in(&phone, gw, "user@example.com").await;
    let mails = gw.mail.wait_for(1, WAIT);
    assert_eq!(mails.len(), 1, "no notice for the first two sign-ins");
    let mail = &mails[0];
    assert_eq!(mail.to, ["user@example.com"]);
    assert_eq!(mail.subject(), "[Sekisho] New sign-in to your account");
    let body = mail.text();
    for part in [
        "Hello Test User,",
        "signed in to from a new browser.",
        "When: 2027-01-15 10:00 UTC",
        "Browser: Chrome on Linux",
        "IP address: 127.0.0.1",
        "change your password",
        &format!("    {}/_sekisho/settings", gw.base),
        &format!("    {}/_sekisho/help#unexpected-prompt", gw.base),
    ] {
        assert!(body.contains(part), "{part:?} in {body}");
    }
    let rows = history(gw, "user@example.com").await;
    assert_eq!(rows.len(), 3);
    assert!(rows[0].new_browser && !rows[0].new_network);

    // The settings page lists them, newest first, the new browser marked.
    let page = settings(&phone, gw).await;
    let list = listed(&page);
    assert!(page.contains("Recent sign-ins"), "{page}");
    assert_eq!(list.matches("<tr><td><time>").count(), 3, "{list}");
    assert_eq!(list.matches("New browser").count(), 1, "{list}");
    assert!(list.contains("<time>2027-01-15 10:00 UTC</time>"), "{list}");
    assert!(list.contains("<td>Chrome on Linux</td><td>127.0.0.1</td><td>Password</td>"));
    assert!(page.contains("/_sekisho/help#unexpected-prompt"));

    // A Japanese browser gets the notice in Japanese, and a Japanese list.
    let ja = fresh("ja");
    signed_in(&ja, gw, "user@example.com").await;
    let mails = gw.mail.wait_for(2, WAIT);
    assert_eq!(mails.len(), 2);
    let mail = &mails[1];
    assert_eq!(
        mail.subject(),
        "【Sekisho】アカウントへの新しいサインインがありました"
    );
    let body = mail.text();
    for part in [
        "Test User 様",
        "新しいブラウザーからサインインがありました",
        "IP アドレス: 127.0.0.1",
        "パスワードを変更",
        "help#unexpected-prompt",
    ] {
        assert!(body.contains(part), "{part:?} in {body}");
    }
    let page = settings(&ja, gw).await;
    assert!(page.contains("最近のサインイン"), "{page}");
    assert_eq!(page.matches("新しいブラウザー</strong>").count(), 2);
}
on_both_stores!(notices_for_new_browsers);

/// One browser (one cookie jar) seen from `ip` through the trusted proxy.
fn from(jar: &Arc<reqwest::cookie::Jar>, ip: &str) -> reqwest::Client {
    browser(jar, "en", Some(ip))
}

async fn notices_for_new_networks_when_asked(gw: &TestGateway) {
    let laptop = Arc::default();
    signed_in(&from(&laptop, "203.0.113.5"), gw, "user@example.com").await;
    // New browser, known /24: browser notices are off here, so nothing.
    signed_in(
        &from(&Arc::default(), "203.0.113.77"),
        gw,
        "user@example.com",
    )
    .await;
    let rows = history(gw, "user@example.com").await;
    assert_eq!(rows[0].ip.as_deref(), Some("203.0.113.77"));
    assert_eq!(rows[0].network.as_deref(), Some("203.0.113.0/24"));
    assert!(rows[0].new_browser && !rows[0].new_network);

    // The known laptop from another network: the notice says so.
    gw.clock.advance(60);
    signed_in(&from(&laptop, "198.51.100.7"), gw, "user@example.com").await;
    let mails = gw.mail.wait_for(1, WAIT);
    assert_eq!(mails.len(), 1, "no mail for the new browser alone");
    let body = mails[0].text();
    assert!(body.contains("signed in to from a new network."), "{body}");
    assert!(body.contains("IP address: 198.51.100.7"), "{body}");
    let rows = history(gw, "user@example.com").await;
    assert!(!rows[0].new_browser && rows[0].new_network);
    let page = settings(&from(&laptop, "198.51.100.7"), gw).await;
    assert!(page.contains("<td>198.51.100.7</td>"), "{page}");
    assert_eq!(page.matches("New network</strong>").count(), 1, "{page}");
}
on_both_stores!(
    notices_for_new_networks_when_asked,
    "\n[network]\ntrusted_proxies = [\"127.0.0.1/32\"]\n\n[sign_in]\nnotify_new_browser = false\nnotify_new_network = true\n"
);

async fn history_is_bounded(gw: &TestGateway) {
    let c = fresh("en");
    for _ in 0..5 {
        gw.clock.advance(60);
        signed_in(&c, gw, "user@example.com").await;
    }
    let rows = history(gw, "user@example.com").await;
    let ages: Vec<i64> = rows.iter().map(|r| gw.clock.now() - r.at).collect();
    assert_eq!(ages, [0, 60, 120], "the last three are kept, newest first");
    let page = settings(&c, gw).await;
    assert_eq!(listed(&page).matches("<tr><td><time>").count(), 3, "{page}");
    // Another user's history is their own.
    signed_in(&c, gw, "admin@example.com").await;
    assert_eq!(history(gw, "admin@example.com").await.len(), 1);
    assert_eq!(history(gw, "user@example.com").await.len(), 3);
    assert!(gw.mail.messages().is_empty(), "one browser throughout");
}
on_both_stores!(history_is_bounded, "\n[sign_in]\nhistory = 3\n");

async fn second_factor_sign_ins_count_once(gw: &TestGateway) {
    // Password sign-in (no MFA yet), then enrolment on the way to /admin: the
    // enrolment elevates the session but is no new sign-in.
    let admin = gw.url("/admin/panel");
    let c = fresh("en");
    signed_in(&c, gw, "admin@example.com").await;
    let (secret, _) = enrol_totp(&c, gw).await;
    let rows = history(gw, "admin@example.com").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].method, Some(SignInMethod::Password));

    // A new browser: the password alone does not complete the sign-in…
    let other = fresh("en");
    sign_in_to_challenge(&other, gw, "admin@example.com", &admin).await;
    assert_eq!(history(gw, "admin@example.com").await.len(), 1);
    // …the code does, once.
    gw.clock.advance(30);
    let resp = submit_code(
        &other,
        gw,
        "totp",
        &oathtool(&secret, gw.clock.now()),
        &admin,
        &[("trust", "1")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(browser_cookie(&resp).is_some());
    let rows = history(gw, "admin@example.com").await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].method,
        Some(SignInMethod::SecondFactor(sekisho_auth::MfaMethod::Totp))
    );
    assert!(rows[0].new_browser);
    // MfaEnabled from the enrolment, then the new sign-in.
    let mails = gw.mail.wait_for(2, WAIT);
    let subjects: Vec<String> = mails.iter().map(|m| m.subject()).collect();
    assert!(
        subjects.contains(&"[Sekisho] New sign-in to your account".to_string()),
        "{subjects:?}"
    );

    // A step-up for max_mfa_age inside that sign-in is not another one.
    gw.clock.advance(600);
    let resp = get(&other, gw, "/fresh").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(location(&resp).starts_with("/_sekisho/mfa?"));
    let fresh_url = gw.url("/fresh");
    let code = oathtool(&secret, gw.clock.now());
    let resp = submit_code(&other, gw, "totp", &code, &fresh_url, &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(browser_cookie(&resp).is_none(), "no sign-in, no refresh");
    assert_eq!(history(gw, "admin@example.com").await.len(), 2);
    let page = settings(&other, gw).await;
    assert!(
        page.contains("<td>127.0.0.1</td><td>Authenticator app</td>"),
        "{page}"
    );

    // The trusted browser skips the challenge next time: a sign-in by trusted browser,
    // from a known browser, so no mail.
    gw.clock.advance(60);
    let resp = sign_in(&other, gw, "admin@example.com", PASSWORD, &admin).await;
    assert_eq!(location(&resp), admin, "no challenge");
    let rows = history(gw, "admin@example.com").await;
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0].method,
        Some(SignInMethod::SecondFactor(
            sekisho_auth::MfaMethod::TrustedDevice
        ))
    );
    assert!(!rows[0].new_browser);
    let page = settings(&other, gw).await;
    assert!(
        listed(&page).contains("<td>127.0.0.1</td><td>Trusted browser</td><td></td>"),
        "{page}"
    );
    assert_eq!(gw.mail.messages().len(), 2, "nothing since the new sign-in");
}

on_both_stores!(second_factor_sign_ins_count_once);
