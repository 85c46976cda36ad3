//! The console's workflows end to end.
use super::*;
use crate::mfa::{enc, oathtool};

/// Four eyes, executing, the e-mailed link (single use), the user enrolling again,
/// and the audit trail of every step.
async fn reset_with_approval_and_reenrolment(gw: &TestGateway) {
    add_user(gw, "hd@example.com", &["helpdesk"]);
    add_user(gw, "sys@example.com", &["sysadmins"]);
    let (user, _) = signed_in_with_totp(gw, "user@example.com").await;
    assert_eq!(get(&user, gw, "/members").await.status(), StatusCode::OK);
    let (hd, _) = signed_in_with_totp(gw, "hd@example.com").await;
    let (sys, _) = signed_in_with_totp(gw, "sys@example.com").await;

    // Too short a reason is refused with the rule.
    let uid = user_id(gw, "user@example.com");
    let resp = submit(
        &hd,
        gw,
        &format!("/_sekisho/admin/user?id={uid}"),
        "/_sekisho/admin/requests",
        &[
            ("id", &uid),
            ("scope", "full"),
            ("urgency", "high"),
            ("reason", "lost phone"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("at least 50 characters"));

    let id = file_request(&hd, gw, "user@example.com", "full").await;
    let (_, body) = page(&sys, gw, "/_sekisho/admin").await;
    assert!(
        body.contains("id=\"pending-badge\" aria-label=\"1 pending\""),
        "badge shows one pending"
    );
    // The helpdesk cannot approve or execute; the approver is never the requester.
    assert_eq!(
        act(&hd, gw, &id, "approve").await.status(),
        StatusCode::FORBIDDEN
    );
    let own = file_request(&sys, gw, "hd@example.com", "totp").await;
    let resp = act(&sys, gw, &own, "approve").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("another administrator must approve it"));
    assert_eq!(
        act(&sys, gw, &own, "reject").await.status(),
        StatusCode::SEE_OTHER,
        "withdrawn"
    );

    assert_eq!(
        act(&sys, gw, &id, "execute").await.status(),
        StatusCode::CONFLICT,
        "not approved yet"
    );
    assert_eq!(
        act(&sys, gw, &id, "approve").await.status(),
        StatusCode::SEE_OTHER
    );
    let resp = act(&sys, gw, &id, "execute").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, body) = page(&sys, gw, &format!("/_sekisho/admin/request?id={id}")).await;
    assert!(body.contains("id=\"request-state\">executed<"), "executed");

    // The user was signed out and has no factor left.
    let resp = get(&user, gw, "/members").await;
    assert_eq!(resp.status(), StatusCode::FOUND, "signed out everywhere");
    let link = reenrol_link(gw, "user@example.com", 1);
    let (status, body) = page(&client(), gw, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("u•••@example.com"),
        "the page names the account, masked"
    );

    // Wrong password: refused, link still usable. Right password: on to the wizard.
    let browser = client();
    let token = link.split("token=").nth(1).unwrap().to_string();
    let resp = submit(
        &browser,
        gw,
        &link,
        "/_sekisho/reenrol",
        &[("token", &token), ("password", "wrong one")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = submit(
        &browser,
        gw,
        &link,
        "/_sekisho/reenrol",
        &[("token", &token), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&resp).starts_with("/_sekisho/enroll/start"),
        "{}",
        location(&resp)
    );
    // Until a factor is set up, nothing protected opens.
    assert_eq!(
        get(&browser, gw, "/members").await.status(),
        StatusCode::FOUND
    );
    // The link works once.
    let (status, body) = page(&client(), gw, &link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(body.contains("already used"));
    let (secret, codes) = enrol_totp(&browser, gw).await;
    assert!(!codes.is_empty(), "new backup codes");
    assert_eq!(get(&browser, gw, "/members").await.status(), StatusCode::OK);

    // The next sign-in asks for the new factor.
    let again = client();
    crate::mfa::sign_in_to_challenge(&again, gw, "user@example.com", "/members").await;
    let code = oathtool(&secret, gw.clock.now() + 30);
    gw.clock.advance(30);
    assert_eq!(
        crate::mfa::submit_code(&again, gw, "totp", &code, "/members", &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    // The user page shows that second factor as the last MFA use.
    let (_, detail) = page(&sys, gw, &format!("/_sekisho/admin/user?id={uid}")).await;
    let last = scrape(&detail, "id=\"last-mfa\">").map(|s| s.split('<').next().unwrap_or(""));
    assert!(
        last.is_some_and(|l| l.ends_with("(totp)")),
        "last MFA use: {last:?}"
    );

    // Every step is in the audit log, and the chain is intact.
    add_user(gw, "aud@example.com", &["auditors"]);
    let (aud, _) = signed_in_with_totp(gw, "aud@example.com").await;
    let (_, body) = page(
        &aud,
        gw,
        &format!("/_sekisho/admin/audit?target={}", enc("user@example.com")),
    )
    .await;
    for action in [
        "reset_requested",
        "reset_approved",
        "reset_executed",
        "reenrol_started",
        "reenrol_completed",
        "mfa_enrolled",
    ] {
        assert!(
            body.contains(&format!("<code>{action}</code>")),
            "{action} audited"
        );
    }
    assert!(body.contains("Hash chain intact"), "chain intact");
    let export = get(
        &aud,
        gw,
        "/_sekisho/admin/audit/export?format=json&action=reset_executed",
    )
    .await;
    assert_eq!(export.status(), StatusCode::OK);
    let rows: serde_json::Value = serde_json::from_str(&export.text().await.unwrap()).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["actor"], "sys@example.com");
}
crate::on_both_stores!(reset_with_approval_and_reenrolment, super::ADMIN_CONFIG);

async fn privileged_accounts_need_a_secadmin(gw: &TestGateway) {
    add_user(gw, "hd@example.com", &["helpdesk"]);
    add_user(gw, "sys@example.com", &["sysadmins"]);
    add_user(gw, "sec@example.com", &["secadmins"]);
    let (hd, _) = signed_in_with_totp(gw, "hd@example.com").await;
    let (sys, _) = signed_in_with_totp(gw, "sys@example.com").await;
    let (sec, _) = signed_in_with_totp(gw, "sec@example.com").await;
    // admin@example.com is in `admins`, a privileged group.
    let id = file_request(&hd, gw, "admin@example.com", "totp").await;
    let resp = act(&sys, gw, &id, "approve").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("only a security administrator"));
    let admin_id = user_id(gw, "admin@example.com");
    let unlock = submit(
        &sys,
        gw,
        "/_sekisho/settings",
        "/_sekisho/admin/user/unlock",
        &[("id", &admin_id)],
    )
    .await;
    assert_eq!(unlock.status(), StatusCode::FORBIDDEN, "nor unlock it");
    assert_eq!(
        act(&sec, gw, &id, "approve").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        act(&sys, gw, &id, "execute").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        act(&sec, gw, &id, "execute").await.status(),
        StatusCode::SEE_OTHER
    );
    reenrol_link(gw, "admin@example.com", 1);
}
crate::on_both_stores!(privileged_accounts_need_a_secadmin, super::ADMIN_CONFIG);

async fn unapproved_requests_expire(gw: &TestGateway) {
    add_user(gw, "hd@example.com", &["helpdesk"]);
    add_user(gw, "sys@example.com", &["sysadmins"]);
    let (hd, _) = signed_in_with_totp(gw, "hd@example.com").await;
    let id = file_request(&hd, gw, "user@example.com", "backup_codes").await;
    // 72 hours later (the default) the request is expired; a fresh admin session.
    gw.clock.advance(72 * 3600);
    let (sys, _) = signed_in_with_totp(gw, "sys@example.com").await;
    let resp = act(&sys, gw, &id, "approve").await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.text().await.unwrap().contains("already expired"));
    let (_, body) = page(&sys, gw, "/_sekisho/admin/requests?state=expired").await;
    assert!(body.contains(&id));
    let (_, body) = page(&sys, gw, "/_sekisho/admin").await;
    assert!(
        !body.contains("pending-badge"),
        "no badge for expired requests"
    );
    // An expired request no longer blocks a new one.
    file_request(&sys, gw, "user@example.com", "backup_codes").await;
}
crate::on_both_stores!(unapproved_requests_expire, super::ADMIN_CONFIG);

async fn simultaneous_approvals_one_wins(gw: &TestGateway) {
    add_user(gw, "hd@example.com", &["helpdesk"]);
    let mut approvers = Vec::new();
    for i in 0..3 {
        let email = format!("sys{i}@example.com");
        add_user(gw, &email, &["sysadmins"]);
        approvers.push(signed_in_with_totp(gw, &email).await.0);
    }
    let (hd, _) = signed_in_with_totp(gw, "hd@example.com").await;
    let id = file_request(&hd, gw, "user@example.com", "full").await;
    // Each admin loads the page first, then all submit at once.
    let mut forms = Vec::new();
    for c in &approvers {
        let (_, body) = page(c, gw, &format!("/_sekisho/admin/request?id={id}")).await;
        forms.push(form_csrf(&body));
    }
    let posts: Vec<_> = approvers
        .iter()
        .zip(&forms)
        .map(|(c, csrf)| {
            let (c, url, origin) = (
                c.clone(),
                gw.url("/_sekisho/admin/request/decide"),
                gw.base.clone(),
            );
            let fields = vec![
                ("csrf", csrf.clone()),
                ("id", id.clone()),
                ("decision", "approve".to_string()),
            ];
            tokio::spawn(async move {
                c.post(url)
                    .header("origin", origin)
                    .header("accept", "text/html")
                    .form(&fields)
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut results = Vec::new();
    for p in posts {
        results.push(p.await.unwrap());
    }
    let statuses: Vec<StatusCode> = results.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::SEE_OTHER)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        2,
        "{statuses:?}"
    );
    for r in results
        .into_iter()
        .filter(|r| r.status() == StatusCode::CONFLICT)
    {
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("the request is already approved"));
    }
}
crate::on_both_stores!(simultaneous_approvals_one_wins, super::ADMIN_CONFIG);

async fn emergency_suspension_and_revocation(gw: &TestGateway) {
    add_user(gw, "sec@example.com", &["secadmins"]);
    add_user(gw, "s1@example.com", &["staff"]);
    let staff = client();
    assert_eq!(
        sign_in(&staff, gw, "s1@example.com", PASSWORD, "/members")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(get(&staff, gw, "/members").await.status(), StatusCode::OK);
    let (sec, _) = signed_in_with_totp(gw, "sec@example.com").await;
    let resp = submit(
        &sec,
        gw,
        "/_sekisho/admin/emergency",
        "/_sekisho/admin/emergency/suspend",
        &[("group", "staff"), ("reason", "x")],
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reason is required"
    );
    let resp = submit(
        &sec,
        gw,
        "/_sekisho/admin/emergency",
        "/_sekisho/admin/emergency/suspend",
        &[
            ("group", "staff"),
            ("reason", "Credential stuffing against sales"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        get(&staff, gw, "/members").await.status(),
        StatusCode::FOUND,
        "sessions ended"
    );
    let resp = sign_in(&client(), gw, "s1@example.com", PASSWORD, "/members").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("suspended for your group"));
    let (_, body) = page(&sec, gw, "/_sekisho/admin/users?q=example").await;
    assert!(
        body.contains("class=\"banner\""),
        "banner on every console page"
    );
    assert!(body.contains("Credential stuffing against sales"));
    // Others still sign in.
    assert_eq!(
        sign_in(&client(), gw, "user@example.com", PASSWORD, "/members")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let resp = submit(
        &sec,
        gw,
        "/_sekisho/admin/emergency",
        "/_sekisho/admin/emergency/lift",
        &[("group", "staff")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        sign_in(&client(), gw, "s1@example.com", PASSWORD, "/members")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    // Revoking a group's sessions.
    let again = client();
    sign_in(&again, gw, "s1@example.com", PASSWORD, "/members").await;
    assert_eq!(get(&again, gw, "/members").await.status(), StatusCode::OK);
    let resp = submit(
        &sec,
        gw,
        "/_sekisho/admin/emergency",
        "/_sekisho/admin/emergency/revoke",
        &[
            ("group", "staff"),
            ("reason", "Laptop stolen from the sales office"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        get(&again, gw, "/members").await.status(),
        StatusCode::FOUND
    );
}
crate::on_both_stores!(emergency_suspension_and_revocation, super::ADMIN_CONFIG);

/// Polls a bulk job's page (up to 20 s) until the job has finished.
async fn finished_job_page(c: &Client, gw: &TestGateway, job: &str) -> String {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, body) = page(c, gw, job).await;
        if body.contains("— finished") {
            return body;
        }
        assert!(std::time::Instant::now() < until, "the job finishes");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn bulk_reset_by_group(gw: &TestGateway) {
    add_user(gw, "sec@example.com", &["secadmins", "staff"]);
    for i in 0..4 {
        add_user(gw, &format!("b{i}@example.com"), &["staff"]);
    }
    let (sec, _) = signed_in_with_totp(gw, "sec@example.com").await;
    let resp = submit(
        &sec,
        gw,
        "/_sekisho/admin/bulk",
        "/_sekisho/admin/bulk",
        &[("kind", "group"), ("value", "staff"), ("scope", "full")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("This resets <strong>4</strong> users"),
        "preview counts 4, not the admin"
    );
    let csrf = form_csrf(&body);
    let short = post(
        &sec,
        gw,
        "/_sekisho/admin/bulk/start",
        &[
            ("csrf", &csrf),
            ("kind", "group"),
            ("value", "staff"),
            ("scope", "full"),
            ("count", "4"),
            ("reason", "too short"),
        ],
    )
    .await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let stale = post(
        &sec,
        gw,
        "/_sekisho/admin/bulk/start",
        &[
            ("csrf", &csrf),
            ("kind", "group"),
            ("value", "staff"),
            ("scope", "full"),
            ("count", "3"),
            ("reason", super::REASON),
        ],
    )
    .await;
    assert_eq!(
        stale.status(),
        StatusCode::CONFLICT,
        "the confirmed count must match"
    );
    let resp = post(
        &sec,
        gw,
        "/_sekisho/admin/bulk/start",
        &[
            ("csrf", &csrf),
            ("kind", "group"),
            ("value", "staff"),
            ("scope", "full"),
            ("count", "4"),
            ("reason", super::REASON),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let job = location(&resp);
    // The job runs in the background; its page shows the progress.
    let body = finished_job_page(&sec, gw, &job).await;
    assert!(body.contains("4 of 4 done, 0 failed"), "{body}");
    for i in 0..4 {
        reenrol_link(gw, &format!("b{i}@example.com"), 1);
    }
    let mails = gw.mail.messages().len();
    // Retrying a finished job resets nobody again.
    let id = url::form_urlencoded::parse(job.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "id")
        .unwrap()
        .1
        .into_owned();
    let resp = submit(
        &sec,
        gw,
        "/_sekisho/settings",
        "/_sekisho/admin/bulk/retry",
        &[("id", &id)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let body = finished_job_page(&sec, gw, &job).await;
    assert!(body.contains("4 of 4 done, 0 failed"));
    assert_eq!(gw.mail.messages().len(), mails, "no second link");
}
crate::on_both_stores!(bulk_reset_by_group, super::ADMIN_CONFIG);

/// A scripted scenario, then the reports page and its CSV show exactly its figures.
async fn reports_match_a_scripted_scenario(gw: &TestGateway) {
    add_user(gw, "hd@example.com", &["helpdesk"]);
    add_user(gw, "sys@example.com", &["sysadmins"]);
    add_user(gw, "aud@example.com", &["auditors"]);
    add_user(gw, "u2@example.com", &[]);
    // One wrong and one right authenticator code from the user.
    let (user, secret) = signed_in_with_totp(gw, "user@example.com").await;
    drop(user);
    gw.clock.advance(60);
    let c = client();
    crate::mfa::sign_in_to_challenge(&c, gw, "user@example.com", "/members").await;
    let wrong = crate::mfa::submit_code(&c, gw, "totp", "000000", "/members", &[]).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let code = oathtool(&secret, gw.clock.now());
    let right = crate::mfa::submit_code(&c, gw, "totp", &code, "/members", &[]).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    // Two requests: one executed an hour after it was filed, one rejected.
    let (hd, _) = signed_in_with_totp(gw, "hd@example.com").await;
    let (sys, _) = signed_in_with_totp(gw, "sys@example.com").await;
    let done = file_request(&hd, gw, "user@example.com", "totp").await;
    let refused = file_request(&hd, gw, "u2@example.com", "backup_codes").await;
    gw.clock.advance(600);
    assert_eq!(
        act(&sys, gw, &refused, "reject").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        act(&sys, gw, &done, "approve").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        act(&sys, gw, &done, "execute").await.status(),
        StatusCode::SEE_OTHER
    );

    let (aud, _) = signed_in_with_totp(gw, "aud@example.com").await;
    let (status, body) = page(&aud, gw, "/_sekisho/admin/reports?days=7").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.matches("<svg").count() >= 5, "a chart per section");
    assert!(!body.contains("<script"), "no script");
    let csv = get(&aud, gw, "/_sekisho/admin/reports/csv?table=resets&days=7").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("state,requests\n"), "{text}");
    assert!(
        text.contains("executed,1\n") && text.contains("rejected,1\n"),
        "{text}"
    );
    assert!(
        body.contains("Median time to resolve: 10 min (2 resolved)."),
        "both took 10 minutes"
    );
    let factors = get(&aud, gw, "/_sekisho/admin/reports/csv?table=factors&days=7")
        .await
        .text()
        .await
        .unwrap();
    let totp = factors
        .lines()
        .find(|l| l.starts_with("totp,"))
        .expect("a totp row");
    assert_eq!(totp, "totp,1,1,50.0", "{factors}");
    let reasons = get(
        &aud,
        gw,
        "/_sekisho/admin/reports/csv?table=failures&days=7",
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(reasons.contains("invalid_otp,1"), "{reasons}");
}
crate::on_both_stores!(reports_match_a_scripted_scenario, super::ADMIN_CONFIG);
