//! The admin console end to end through the real gateway, on both stores: the
//! permission matrix over HTTP, four-eyes approval, privileged accounts, expiry with
//! the fixed clock, simultaneous approvals, executing a reset and the user's
//! re-enrolment through the e-mailed link, bulk resets and emergency suspensions, and
//! the event view found by the request ids of error pages and log lines.
use crate::harness::*;
use crate::mfa::{enrol_totp, get, location, post};
use reqwest::{Client, StatusCode};
use sekisho_auth::{Clock, Email};
use sekisho_gateway::app::App;

mod events;
mod flows;
mod matrix;

/// The roles, as the tests configure them.
pub const ADMIN_CONFIG: &str = r#"
[admin]
helpdesk = ["helpdesk"]
sysadmin = ["sysadmins"]
secadmin = ["secadmins"]
auditor = ["auditors"]
privileged_groups = ["admins"]
"#;

pub const REASON: &str =
    "Lost phone reported by the user in person; identity checked against the staff ID card.";

fn on_io<T: Send, F: std::future::Future<Output = T> + Send>(app: &App, f: F) -> T {
    std::thread::scope(|s| s.spawn(|| app.io.block_on(f).unwrap()).join().unwrap())
}

/// Creates a user with the test password (callable from inside a test's runtime).
pub fn add_user(gw: &TestGateway, email: &str, groups: &[&str]) -> String {
    let app = &gw.handle.app;
    let hash = app
        .ui
        .hasher
        .hash_blocking(&sekisho_auth::PasswordInput::new(PASSWORD.into()))
        .unwrap();
    let new = sekisho_auth::NewUser {
        email: Email::parse(email).unwrap(),
        display_name: email.split('@').next().unwrap().to_string(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        department: if groups.contains(&"staff") {
            "Sales".into()
        } else {
            String::new()
        },
        password_hash: Some(hash),
    };
    on_io(app, app.ui.accounts.create_user(new, T0)).unwrap().id
}

pub fn user_id(gw: &TestGateway, email: &str) -> String {
    let app = &gw.handle.app;
    on_io(
        app,
        app.ui.accounts.find_by_email(&Email::parse(email).unwrap()),
    )
    .unwrap()
    .unwrap()
    .id
}

/// A browser signed in as `email` with a freshly enrolled authenticator app (so its
/// session has a second factor proven just now); returns the TOTP secret too.
pub async fn signed_in_with_totp(gw: &TestGateway, email: &str) -> (Client, String) {
    let c = client();
    let resp = sign_in(&c, gw, email, PASSWORD, "/_sekisho/settings").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{email} signs in");
    let (secret, _) = enrol_totp(&c, gw).await;
    (c, secret)
}

/// GETs a console page and returns its status and body.
pub async fn page(c: &Client, gw: &TestGateway, path: &str) -> (StatusCode, String) {
    let resp = get(c, gw, path).await;
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

/// POSTs a console form with the CSRF token of `from` (a page with a form).
pub async fn submit(
    c: &Client,
    gw: &TestGateway,
    from: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (status, body) = page(c, gw, from).await;
    assert!(
        body.contains("name=\"csrf\""),
        "{from} has no form ({status}): {}",
        &body[..body.len().min(3000)]
    );
    let csrf = form_csrf(&body);
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    post(c, gw, action, &all).await
}

/// Files a reset request for `target` as `c`; returns the request id.
pub async fn file_request(c: &Client, gw: &TestGateway, target: &str, scope: &str) -> String {
    let uid = user_id(gw, target);
    let from = format!("/_sekisho/admin/user?id={uid}");
    let resp = submit(
        c,
        gw,
        &from,
        "/_sekisho/admin/requests",
        &[
            ("id", &uid),
            ("scope", scope),
            ("urgency", "high"),
            ("reason", REASON),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "request filed");
    location_param(&resp, "id").expect("the request id")
}

/// Approves, rejects or executes request `id` as `c`.
pub async fn act(c: &Client, gw: &TestGateway, id: &str, what: &str) -> reqwest::Response {
    // The settings page always has a form (the request page only shows what the
    // admin may do): the server must refuse the rest on its own.
    let from = "/_sekisho/settings";
    match what {
        "execute" => {
            submit(
                c,
                gw,
                from,
                "/_sekisho/admin/request/execute",
                &[("id", id)],
            )
            .await
        }
        decision => {
            submit(
                c,
                gw,
                from,
                "/_sekisho/admin/request/decide",
                &[("id", id), ("decision", decision)],
            )
            .await
        }
    }
}

/// The re-enrolment link of the `nth` such mail to `to`.
pub fn reenrol_link(gw: &TestGateway, to: &str, nth: usize) -> String {
    let mails = wait_for_mails(gw, nth, |m| {
        m.to.iter().any(|t| t == to) && m.subject().contains("Set up two-step verification again")
    });
    let text = mails[nth - 1].text();
    let link = text
        .lines()
        .map(str::trim)
        .find(|l| l.contains("/_sekisho/reenrol?token="))
        .expect("a link")
        .to_string();
    assert!(
        link.starts_with(&gw.base),
        "the link points at the gateway: {link}"
    );
    link[gw.base.len()..].to_string()
}
