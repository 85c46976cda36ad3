//! The phased MFA rollout through the real gateway, on both stores, with the fixed
//! clock: forced enrolment (and what it still lets through), the countdown before a
//! deadline with grace sign-ins, the recommendation and its snooze, optional and off,
//! the four-step wizard with authenticator app and e-mail codes, and the
//! started/completed/abandoned events.
use crate::harness::*;
use crate::mfa::{backup_codes, get, location, oathtool, post, Clock};
use reqwest::{Client, StatusCode};
use sekisho_config::Deadline;

/// 2027-01-25 00:00 in Tokyo; the harness clock starts at 2027-01-15 08:00 UTC, so
/// this is 9 days 7 hours ahead: "10 days left".
const DEADLINE: &str = "2027-01-25T00:00:00+09:00";

fn gateway(store: Store, rule: &str) -> TestGateway {
    TestGateway::start_with(store, &format!("\n[[enrollment]]\n{rule}\n"))
}

/// Attribute values as askama writes them (`&` is `&#38;`).
fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
}

async fn events(gw: &TestGateway, email: &str) -> Vec<(String, String, Option<String>)> {
    let mut out: Vec<_> = gw
        .handle
        .app
        .mfa
        .events()
        .recent(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.email.as_deref() == Some(email) && e.reason.starts_with("enrolment_"))
        .map(|e| (e.reason, e.kind, e.detail))
        .collect();
    out.reverse();
    out
}

async fn metric(gw: &TestGateway, series: &str) -> u64 {
    let body = reqwest::get(gw.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{series} missing from /metrics"))
}

fn nudges(kind: &str, outcome: &str) -> String {
    format!("sekisho_enrollment_nudges_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} ")
}

/// Submits the page's "later" form: remind me later, skip for now, or the wizard's
/// "not now" (`from_wizard`).
async fn later(
    c: &Client,
    gw: &TestGateway,
    page: &str,
    rd: &str,
    nudge: &str,
    from_wizard: bool,
) -> reqwest::Response {
    let csrf = form_csrf(page);
    let mut fields = vec![("csrf", csrf.as_str()), ("rd", rd), ("nudge", nudge)];
    if from_wizard {
        fields.push(("stage", "wizard"));
    }
    post(c, gw, "/_sekisho/enroll/later", &fields).await
}

/// Signs in and returns where the gateway sent the browser.
async fn sign_in_to(c: &Client, gw: &TestGateway, email: &str, rd: &str) -> String {
    let resp = sign_in(c, gw, email, PASSWORD, rd).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    location(&resp)
}

/// Walks the wizard with an authenticator app from step 1; returns the done page.
async fn wizard_with_app(c: &Client, gw: &TestGateway, start: &str, rd: &str) -> String {
    let step1 = get(c, gw, start).await;
    assert_eq!(step1.status(), StatusCode::OK);
    let body = step1.text().await.unwrap();
    assert!(body.contains("Step 1 of 4"), "{body}");
    assert!(body.contains("Google Authenticator") && body.contains("Microsoft Authenticator"));
    let href = unescape(scrape(&body, "id=\"use-totp\" href=\"").unwrap());
    let step2 = get(c, gw, &href).await;
    let body = step2.text().await.unwrap();
    assert!(
        body.contains("Step 2 of 4"),
        "the authenticator page is a wizard step"
    );
    let secret: String = body
        .split("id=\"totp-secret\" class=\"secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let rd_field = unescape(scrape(&body, "name=\"rd\" value=\"").unwrap());
    assert!(
        rd_field.starts_with("/_sekisho/enroll/done?rd="),
        "{rd_field}"
    );
    let code = oathtool(&secret, gw.clock.now());
    let step3 = post(
        c,
        gw,
        "/_sekisho/settings/totp",
        &[
            ("csrf", &form_csrf(&body)),
            ("code", &code),
            ("rd", &rd_field),
        ],
    )
    .await;
    assert_eq!(step3.status(), StatusCode::OK);
    let body = step3.text().await.unwrap();
    assert!(body.contains("Step 3 of 4"));
    assert_eq!(backup_codes(&body).len(), 10);
    let done = unescape(scrape(&body, "<a class=\"button\" href=\"").unwrap());
    assert_eq!(done, rd_field, "backup codes continue to the done page");
    let step4 = get(c, gw, &done).await;
    assert_eq!(step4.status(), StatusCode::OK);
    let body = step4.text().await.unwrap();
    assert!(body.contains("Step 4 of 4") && body.contains("all set"));
    let back = unescape(scrape(&body, "id=\"continue\" href=\"").unwrap());
    assert_eq!(back, rd, "the done page returns to rd");
    body
}

async fn forced_enrolment_blocks_everything_protected(gw: &TestGateway) {
    let c = client();
    let rd = gw.url("/members/page");
    let to = sign_in_to(&c, gw, "user@example.com", &rd).await;
    assert!(
        to.starts_with("/_sekisho/enroll?") && to.contains("nudge=forced"),
        "{to}"
    );

    // Protected routes lead to the enrolment page; API calls get a 401 saying why.
    for path in ["/members/page", "/fresh", "/admin"] {
        let resp = get(&c, gw, path).await;
        assert_eq!(resp.status(), StatusCode::FOUND, "{path}");
        assert!(
            location(&resp).starts_with("/_sekisho/enroll?rd="),
            "{path}"
        );
    }
    let api = c.get(gw.url("/api/x")).send().await.unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert!(api
        .text()
        .await
        .unwrap()
        .contains("mfa_enrollment_required"));
    assert!(
        gw.upstream
            .seen
            .lock()
            .unwrap()
            .iter()
            .all(|(p, _)| p != "/members/page"),
        "nothing reached the site"
    );
    // Bypass routes, settings and the page itself still work.
    assert_eq!(get(&c, gw, "/public/x").await.status(), StatusCode::OK);
    assert_eq!(
        get(&c, gw, "/_sekisho/settings").await.status(),
        StatusCode::OK
    );
    let page = get(&c, gw, &to).await;
    let body = page.text().await.unwrap();
    assert!(
        body.contains("Set up two-step verification to continue"),
        "{body}"
    );
    assert!(!body.contains("id=\"later\""), "forced: no way to skip");
    assert!(body.contains("id=\"sign-out\""), "sign-out stays available");
    // Sign-out works from the forced page (a second browser of the same user).
    let other = client();
    let to_other = sign_in_to(&other, gw, "user@example.com", &rd).await;
    let forced_page = get(&other, gw, &to_other).await.text().await.unwrap();
    let out = post(
        &other,
        gw,
        "/_sekisho/logout",
        &[("csrf", &form_csrf(&forced_page))],
    )
    .await;
    assert_eq!(out.status(), StatusCode::OK);
    let after = get(&other, gw, "/members/page").await;
    assert!(
        location(&after).starts_with("/_sekisho/login?"),
        "signed out"
    );
    // Skipping anyway is refused.
    let skip = later(&c, gw, &body, &rd, "countdown", false).await;
    assert!(
        location(&skip).starts_with("/_sekisho/enroll?"),
        "still forced"
    );
    assert_eq!(
        get(&c, gw, "/members/page").await.status(),
        StatusCode::FOUND
    );

    let start = unescape(scrape(&body, "id=\"setup-now\" href=\"").unwrap());
    let step1 = get(&c, gw, &start).await.text().await.unwrap();
    assert!(
        !step1.contains("id=\"not-now\""),
        "the forced wizard has no 'not now'"
    );
    wizard_with_app(&c, gw, &start, &rd).await;
    let through = get(&c, gw, "/members/page").await;
    assert_eq!(
        through.status(),
        StatusCode::OK,
        "enrolled: the site is reachable"
    );
    assert_eq!(
        metric(gw, &nudges("forced", "shown")).await,
        2,
        "two sign-ins"
    );
    assert_eq!(metric(gw, &nudges("forced", "accepted")).await, 1);
    let ev = events(gw, "user@example.com").await;
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(
        (ev[0].0.as_str(), ev[0].2.as_deref()),
        ("enrolment_started", Some("from=forced"))
    );
    assert_eq!(ev[1].0, "enrolment_completed");
    assert!(ev[1].2.as_deref().unwrap().starts_with("wizard seconds="));

    // Next sign-in: an enrolled user meets the challenge, never the rollout.
    let c2 = client();
    let to = sign_in_to(&c2, gw, "user@example.com", &rd).await;
    assert!(to.starts_with("/_sekisho/mfa?"), "{to}");
}

#[test]
fn forced_enrolment_memory() {
    let gw = gateway(
        Store::Memory,
        "users = [\"user@example.com\"]\nmode = \"require\"",
    );
    block_on(forced_enrolment_blocks_everything_protected(&gw));
}

#[test]
fn forced_enrolment_redis() {
    let gw = gateway(Store::Redis, "groups = [\"staff\"]\nmode = \"off\"\n[[enrollment]]\nusers = [\"user@example.com\"]\nmode = \"require\"");
    block_on(forced_enrolment_blocks_everything_protected(&gw));
}

async fn countdown_with_grace_then_forced(gw: &TestGateway) {
    let deadline = Deadline::parse(DEADLINE).unwrap();
    let rd = gw.url("/members/x");
    for (round, grace_text) in [
        (1, "You can skip this 1 more times."),
        (2, "This is the last time you can skip this."),
    ] {
        let c = client();
        let to = sign_in_to(&c, gw, "user@example.com", &rd).await;
        assert!(to.contains("nudge=countdown"), "round {round}: {to}");
        let body = get(&c, gw, &to).await.text().await.unwrap();
        assert!(
            body.contains("Two-step verification becomes mandatory on 25 January 2027"),
            "{body}"
        );
        assert!(body.contains("10 days left."), "{body}");
        assert!(body.contains(grace_text), "round {round}: {body}");
        // Not restricted: the site is reachable before skipping, and after.
        assert_eq!(get(&c, gw, "/members/x").await.status(), StatusCode::OK);
        let skip = later(&c, gw, &body, &rd, "countdown", false).await;
        assert_eq!(location(&skip), rd);
    }
    // Grace sign-ins used up: forced although the deadline is still ahead.
    let c = client();
    let to = sign_in_to(&c, gw, "user@example.com", &rd).await;
    assert!(to.contains("nudge=forced"), "{to}");
    assert_eq!(get(&c, gw, "/members/x").await.status(), StatusCode::FOUND);

    // The admin (no grace used) sees the countdown in Japanese until the deadline…
    let c = client();
    let to = sign_in_to(&c, gw, "admin@example.com", &rd).await;
    assert!(to.contains("nudge=countdown"), "{to}");
    let ja = c
        .get(gw.url(&to))
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        ja.contains("2027年1月25日から2段階認証が必須になります"),
        "{ja}"
    );
    assert!(ja.contains("あと10日です。"), "{ja}");
    // …and from the deadline on enrolment is forced, saying since when.
    gw.clock.set(deadline.unix());
    let c = client();
    let to = sign_in_to(&c, gw, "admin@example.com", &rd).await;
    assert!(to.contains("nudge=forced"), "{to}");
    let body = get(&c, gw, &to).await.text().await.unwrap();
    assert!(body.contains("Mandatory since 25 January 2027."), "{body}");
    assert_eq!(metric(gw, &nudges("countdown", "shown")).await, 3);
    assert_eq!(metric(gw, &nudges("countdown", "snoozed")).await, 2);
    assert_eq!(metric(gw, &nudges("forced", "shown")).await, 2);
}

#[test]
fn countdown_memory() {
    let gw = gateway(
        Store::Memory,
        &format!(
            "mode = \"require\"\ndeadline = \"{DEADLINE}\"\ngrace_logins = 2\nnotice_days = [7]"
        ),
    );
    block_on(countdown_with_grace_then_forced(&gw));
}

#[test]
fn countdown_redis() {
    let gw = gateway(
        Store::Redis,
        &format!("mode = \"require\"\ndeadline = \"{DEADLINE}\"\ngrace_logins = 2"),
    );
    block_on(countdown_with_grace_then_forced(&gw));
}

async fn recommend_once_per_snooze(gw: &TestGateway) {
    let rd = gw.url("/members/x");
    let c = client();
    let to = sign_in_to(&c, gw, "user@example.com", &rd).await;
    assert!(to.contains("nudge=recommend"), "{to}");
    let body = get(&c, gw, &to).await.text().await.unwrap();
    assert!(body.contains("We recommend two-step verification"));
    let snoozed = later(&c, gw, &body, &rd, "recommend", false).await;
    assert_eq!(location(&snoozed), rd);
    // Within the snooze period: straight to rd.
    gw.clock.advance(6 * 86_400);
    assert_eq!(sign_in_to(&client(), gw, "user@example.com", &rd).await, rd);
    // After it: the recommendation again; "set up now" starts the wizard.
    gw.clock.advance(86_400 + 1);
    let c = client();
    let to = sign_in_to(&c, gw, "user@example.com", &rd).await;
    assert!(to.contains("nudge=recommend"), "{to}");
    let body = get(&c, gw, &to).await.text().await.unwrap();
    let start = unescape(scrape(&body, "id=\"setup-now\" href=\"").unwrap());
    let step1 = get(&c, gw, &start).await.text().await.unwrap();
    // "Not now" in the wizard counts as abandoned.
    let not_now = later(&c, gw, &step1, &rd, "recommend", true).await;
    assert_eq!(location(&not_now), rd);
    assert_eq!(metric(gw, &nudges("recommend", "shown")).await, 2);
    assert_eq!(metric(gw, &nudges("recommend", "snoozed")).await, 2);
    assert_eq!(metric(gw, &nudges("recommend", "accepted")).await, 1);
    let ev = events(gw, "user@example.com").await;
    let reasons: Vec<&str> = ev.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(reasons, ["enrolment_started", "enrolment_abandoned"]);
    assert_eq!(ev[1].2.as_deref(), Some("skipped"));
}

#[test]
fn recommend_memory() {
    let gw = gateway(Store::Memory, "mode = \"recommend\"\nsnooze = \"7d\"");
    block_on(recommend_once_per_snooze(&gw));
}

#[test]
fn recommend_redis() {
    let gw = gateway(Store::Redis, "mode = \"recommend\"\nsnooze = \"7d\"");
    block_on(recommend_once_per_snooze(&gw));
}

#[test]
fn optional_and_off_show_nothing_at_sign_in() {
    let gw = gateway(
        Store::Memory,
        "users = [\"admin@example.com\"]\nmode = \"off\"\n[[enrollment]]\nmode = \"optional\"",
    );
    block_on(async {
        let rd = gw.url("/members/x");
        for (who, invited) in [("user@example.com", true), ("admin@example.com", false)] {
            let c = client();
            assert_eq!(sign_in_to(&c, &gw, who, &rd).await, rd, "{who}");
            let settings = get(&c, &gw, "/_sekisho/settings")
                .await
                .text()
                .await
                .unwrap();
            assert_eq!(settings.contains("id=\"enrol-invite\""), invited, "{who}");
        }
        assert_eq!(metric(&gw, &nudges("recommend", "shown")).await, 0);
    });
}

#[test]
fn wizard_with_email_codes() {
    let gw = gateway(Store::Memory, "mode = \"require\"\nmethods = [\"email\"]");
    block_on(async {
        let c = client();
        let rd = gw.url("/members/x");
        let to = sign_in_to(&c, &gw, "user@example.com", &rd).await;
        let body = get(&c, &gw, &to).await.text().await.unwrap();
        let start = unescape(scrape(&body, "id=\"setup-now\" href=\"").unwrap());
        let step1 = get(&c, &gw, &start).await.text().await.unwrap();
        assert!(
            !step1.contains("id=\"use-totp\""),
            "the rule allows e-mail only"
        );
        assert!(step1.contains("u***@example.com") || step1.contains("@example.com"));
        let href = unescape(scrape(&step1, "id=\"use-email\" href=\"").unwrap());
        let step2 = get(&c, &gw, &href).await.text().await.unwrap();
        assert!(step2.contains("Step 2 of 4"), "{step2}");
        let rd_field = unescape(scrape(&step2, "name=\"rd\" value=\"").unwrap());
        let sent = post(
            &c,
            &gw,
            "/_sekisho/settings/email/send",
            &[("csrf", &form_csrf(&step2)), ("rd", &rd_field)],
        )
        .await;
        let sent_body = sent.text().await.unwrap();
        let code = crate::mfa::last_code(&gw, 1);
        let step3 = post(
            &c,
            &gw,
            "/_sekisho/settings/email/confirm",
            &[
                ("csrf", &form_csrf(&sent_body)),
                ("code", &code),
                ("rd", &rd_field),
            ],
        )
        .await;
        let body = step3.text().await.unwrap();
        assert!(body.contains("Step 3 of 4"), "{body}");
        let done = unescape(scrape(&body, "<a class=\"button\" href=\"").unwrap());
        let step4 = get(&c, &gw, &done).await.text().await.unwrap();
        assert!(step4.contains("all set"));
        assert_eq!(get(&c, &gw, "/members/x").await.status(), StatusCode::OK);
        let ev = events(&gw, "user@example.com").await;
        assert_eq!(ev.last().unwrap().0, "enrolment_completed");
    });
}
