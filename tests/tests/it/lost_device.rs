//! "I can't use any of my methods" end to end, on both stores: from the challenge
//! page to a recovery request in the admin queue, the reference by real SMTP, the
//! status page, one open request at a time, the daily cap, and the admin's approval
//! and execution leading to the re-enrolment mail.
use crate::admin::{act, add_user, page, reenrol_link, signed_in_with_totp, submit};
use crate::harness::*;
use crate::mfa::{get, location, sign_in_to_challenge};
use reqwest::{Client, StatusCode};

const LOST: &str = "/_sekisho/mfa/lost?rd=%2Fmembers";
const STORY: &str = "My phone was stolen on the train this morning.";

/// A browser past the password of `email` (who has an authenticator app and backup
/// codes), stopped at the challenge.
async fn at_the_challenge(gw: &TestGateway, email: &str) -> Client {
    let c = client();
    sign_in_to_challenge(&c, gw, email, "/members").await;
    c
}

/// Sends the recovery form from the lost-device page.
async fn file(c: &Client, gw: &TestGateway, description: &str, contact: &str) -> reqwest::Response {
    submit(
        c,
        gw,
        LOST,
        "/_sekisho/mfa/lost",
        &[
            ("rd", "/members"),
            ("situation", "lost_device"),
            ("description", description),
            ("contact", contact),
        ],
    )
    .await
}

async fn recovery_request_reaches_the_admin_queue(gw: &TestGateway) {
    signed_in_with_totp(gw, "user@example.com").await;
    add_user(gw, "sys@example.com", &["sysadmins"]);
    let c = at_the_challenge(gw, "user@example.com").await;

    // The challenge links to the page; it offers the backup codes the user still has.
    let (_, challenge) = page(&c, gw, "/_sekisho/mfa?rd=%2Fmembers").await;
    assert!(
        challenge.contains("id=\"lost-device-link\" href=\"/_sekisho/mfa/lost?rd=%2Fmembers\""),
        "{challenge}"
    );
    let (status, body) = page(&c, gw, LOST).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=\"use-backup-code\""), "{body}");
    assert!(body.contains("id=\"send-request\""));

    // Too short an account is refused, and what was typed is kept.
    let resp = file(&c, gw, "gone", "090-1234-5678").await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = resp.text().await.unwrap();
    assert!(body.contains("at least 10 characters"), "{body}");
    assert!(body.contains("value=\"090-1234-5678\""), "{body}");

    let resp = file(&c, gw, STORY, "090-1234-5678, weekdays 9-17").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let id = location_param(&resp, "filed").expect("the reference");
    assert!(id.starts_with("RR-"), "{id}");
    let (status, body) = page(&c, gw, &location(&resp)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(&format!("Your reference number is {id}")),
        "{body}"
    );
    assert!(body.contains(&format!("id=\"request-{id}\" data-state=\"pending\"")));

    // The reference arrives by real SMTP, with a status link on this site.
    let mails = wait_for_mails(gw, 1, |m| {
        m.to.iter().any(|t| t == "user@example.com")
            && m.subject().contains("We received your recovery request")
    });
    let text = mails[0].text();
    assert!(text.contains(&id), "{text}");
    assert!(
        text.contains(&format!("{}/_sekisho/mfa/lost/status", gw.base)),
        "{text}"
    );

    // One open request: sending again files nothing and shows the open one.
    // (The page shows no form now; a tab left open still has one.)
    let again = submit(
        &c,
        gw,
        "/_sekisho/mfa?rd=%2Fmembers",
        "/_sekisho/mfa/lost",
        &[("situation", "new_phone"), ("description", STORY)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(location_param(&again, "filed"), None);
    let (_, body) = page(&c, gw, LOST).await;
    assert!(
        body.contains(&format!("You already have an open request ({id})")),
        "{body}"
    );
    assert!(!body.contains("id=\"send-request\""));

    // The admin queue shows it as the user's own, with what they said.
    let (sys, _) = signed_in_with_totp(gw, "sys@example.com").await;
    let (_, queue) = page(&sys, gw, "/_sekisho/admin/requests").await;
    assert!(queue.contains(&id), "{queue}");
    assert!(queue.contains("self-service"));
    let (_, detail) = page(&sys, gw, &format!("/_sekisho/admin/request?id={id}")).await;
    assert!(
        detail.contains("id=\"request-situation\">lost or stolen phone"),
        "{detail}"
    );
    assert!(detail.contains("090-1234-5678, weekdays 9-17"));
    assert!(detail.contains("id=\"verify-identity\""));
    assert!(detail.contains(STORY));

    assert_eq!(
        act(&sys, gw, &id, "approve").await.status(),
        StatusCode::SEE_OTHER
    );
    let (_, body) = page(&c, gw, "/_sekisho/mfa/lost/status?rd=%2Fmembers").await;
    assert!(
        body.contains(&format!("id=\"request-{id}\" data-state=\"approved\"")),
        "{body}"
    );
    assert_eq!(
        act(&sys, gw, &id, "execute").await.status(),
        StatusCode::SEE_OTHER
    );
    // Executing ends the user's sessions and mails the re-enrolment link.
    let link = reenrol_link(gw, "user@example.com", 1);
    assert!(link.starts_with("/_sekisho/reenrol?token="), "{link}");
    let after = get(&c, gw, "/_sekisho/mfa/lost/status").await;
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "the partial session ended"
    );

    // The user filed it: the audit log says so.
    add_user(gw, "aud@example.com", &["auditors"]);
    let (aud, _) = signed_in_with_totp(gw, "aud@example.com").await;
    let (status, export) = page(
        &aud,
        gw,
        "/_sekisho/admin/audit/export?format=json&action=reset_requested",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let rows: serde_json::Value = serde_json::from_str(&export).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{export}");
    assert_eq!(rows[0]["actor"], "user@example.com");
    assert_eq!(rows[0]["actor_role"], "user");
    assert!(
        rows[0]["detail"].to_string().contains("lost_device"),
        "{export}"
    );
}
crate::on_both_stores!(
    recovery_request_reaches_the_admin_queue,
    crate::admin::ADMIN_CONFIG
);

async fn recovery_requests_are_guarded(gw: &TestGateway) {
    signed_in_with_totp(gw, "user@example.com").await;
    add_user(gw, "sys@example.com", &["sysadmins"]);

    // Without the password's session the page sends the browser to sign in.
    let anon = client();
    let resp = get(&anon, gw, LOST).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&resp).starts_with("/_sekisho/login?"),
        "{}",
        location(&resp)
    );

    let c = at_the_challenge(gw, "user@example.com").await;
    // A post without the form's token files nothing.
    let forged = crate::mfa::post(
        &c,
        gw,
        "/_sekisho/mfa/lost",
        &[("situation", "lost_device"), ("description", STORY)],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // In Japanese too.
    let ja = c
        .get(gw.url(LOST))
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ja.contains("<h1>どの方法も使えない場合</h1>"), "{ja}");

    // Three a day, whatever became of them; the fourth is refused with 429.
    let (sys, _) = signed_in_with_totp(gw, "sys@example.com").await;
    for n in 0..3 {
        let resp = file(&c, gw, STORY, "").await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "request {n}");
        let id = location_param(&resp, "filed").expect("filed");
        assert_eq!(
            act(&sys, gw, &id, "reject").await.status(),
            StatusCode::SEE_OTHER
        );
    }
    let resp = file(&c, gw, STORY, "").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("most recovery requests allowed in a day"));
    let (_, body) = page(&c, gw, "/_sekisho/mfa/lost/status").await;
    assert_eq!(body.matches("data-state=\"rejected\"").count(), 3, "{body}");
    // A day later the user may ask again (after the password again: the partial
    // session has long expired).
    gw.clock.advance(86_400);
    let c = at_the_challenge(gw, "user@example.com").await;
    let resp = file(&c, gw, STORY, "").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}
crate::on_both_stores!(recovery_requests_are_guarded, crate::admin::ADMIN_CONFIG);
