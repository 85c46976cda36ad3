//! Every role × every console action, over HTTP: allowed actions never answer 403
//! (they may answer 404 or 400 for the made-up target used here), forbidden ones
//! always do — the server checks, whatever the page shows.
use super::*;

struct Action {
    name: &'static str,
    post: bool,
    path: &'static str,
    fields: &'static [(&'static str, &'static str)],
    /// helpdesk, sysadmin, secadmin, auditor
    allowed: [bool; 4],
}

const NOPE: (&str, &str) = ("id", "no-such-id");

const ACTIONS: &[Action] = &[
    Action {
        name: "home",
        post: false,
        path: "/_sekisho/admin",
        fields: &[],
        allowed: [true, true, true, true],
    },
    Action {
        name: "search users",
        post: false,
        path: "/_sekisho/admin/users?q=example",
        fields: &[],
        allowed: [true, true, true, false],
    },
    Action {
        name: "user detail",
        post: false,
        path: "/_sekisho/admin/user?id=no-such-id",
        fields: &[],
        allowed: [true, true, true, false],
    },
    Action {
        name: "list requests",
        post: false,
        path: "/_sekisho/admin/requests",
        fields: &[],
        allowed: [true, true, true, false],
    },
    Action {
        name: "request detail",
        post: false,
        path: "/_sekisho/admin/request?id=no-such-id",
        fields: &[],
        allowed: [true, true, true, false],
    },
    Action {
        name: "file request",
        post: true,
        path: "/_sekisho/admin/requests",
        fields: &[
            NOPE,
            ("scope", "full"),
            ("urgency", "low"),
            ("reason", super::REASON),
        ],
        allowed: [true, true, true, false],
    },
    Action {
        name: "approve",
        post: true,
        path: "/_sekisho/admin/request/decide",
        fields: &[NOPE, ("decision", "approve")],
        allowed: [false, true, true, false],
    },
    Action {
        name: "reject",
        post: true,
        path: "/_sekisho/admin/request/decide",
        fields: &[NOPE, ("decision", "reject")],
        allowed: [false, true, true, false],
    },
    Action {
        name: "execute",
        post: true,
        path: "/_sekisho/admin/request/execute",
        fields: &[NOPE],
        allowed: [false, true, true, false],
    },
    Action {
        name: "unlock",
        post: true,
        path: "/_sekisho/admin/user/unlock",
        fields: &[NOPE],
        allowed: [false, true, true, false],
    },
    Action {
        name: "revoke sessions",
        post: true,
        path: "/_sekisho/admin/user/sessions/revoke",
        fields: &[NOPE],
        allowed: [false, true, true, false],
    },
    Action {
        name: "revoke browsers",
        post: true,
        path: "/_sekisho/admin/user/devices/revoke",
        fields: &[NOPE],
        allowed: [false, true, true, false],
    },
    Action {
        name: "bulk page",
        post: false,
        path: "/_sekisho/admin/bulk",
        fields: &[],
        allowed: [false, false, true, false],
    },
    Action {
        name: "bulk preview",
        post: true,
        path: "/_sekisho/admin/bulk",
        fields: &[("kind", "nonsense")],
        allowed: [false, false, true, false],
    },
    Action {
        name: "bulk start",
        post: true,
        path: "/_sekisho/admin/bulk/start",
        fields: &[("kind", "nonsense")],
        allowed: [false, false, true, false],
    },
    Action {
        name: "bulk job",
        post: false,
        path: "/_sekisho/admin/bulk/job?id=no-such-id",
        fields: &[],
        allowed: [false, false, true, false],
    },
    Action {
        name: "emergency page",
        post: false,
        path: "/_sekisho/admin/emergency",
        fields: &[],
        allowed: [false, false, true, false],
    },
    Action {
        name: "revoke group",
        post: true,
        path: "/_sekisho/admin/emergency/revoke",
        fields: &[],
        allowed: [false, false, true, false],
    },
    Action {
        name: "suspend group",
        post: true,
        path: "/_sekisho/admin/emergency/suspend",
        fields: &[],
        allowed: [false, false, true, false],
    },
    Action {
        name: "lift suspension",
        post: true,
        path: "/_sekisho/admin/emergency/lift",
        fields: &[("group", "none")],
        allowed: [false, false, true, false],
    },
    Action {
        name: "events",
        post: false,
        path: "/_sekisho/admin/events?request_id=no-such-id&kind=error",
        fields: &[],
        allowed: [true, true, true, true],
    },
    Action {
        name: "audit log",
        post: false,
        path: "/_sekisho/admin/audit",
        fields: &[],
        allowed: [false, false, true, true],
    },
    Action {
        name: "audit export",
        post: false,
        path: "/_sekisho/admin/audit/export?format=csv",
        fields: &[],
        allowed: [false, false, true, true],
    },
    Action {
        name: "reports",
        post: false,
        path: "/_sekisho/admin/reports",
        fields: &[],
        allowed: [false, true, true, true],
    },
    Action {
        name: "reports csv",
        post: false,
        path: "/_sekisho/admin/reports/csv?table=failures",
        fields: &[],
        allowed: [false, true, true, true],
    },
];

async fn call(c: &Client, gw: &TestGateway, a: &Action) -> StatusCode {
    if a.post {
        submit(c, gw, "/_sekisho/settings", a.path, a.fields)
            .await
            .status()
    } else {
        get(c, gw, a.path).await.status()
    }
}

async fn permission_matrix(gw: &TestGateway) {
    let roles = [
        ("hd@example.com", "helpdesk"),
        ("sys@example.com", "sysadmins"),
        ("sec@example.com", "secadmins"),
        ("aud@example.com", "auditors"),
    ];
    for (email, group) in roles {
        add_user(gw, email, &[group]);
    }
    let mut checked = 0;
    for (i, (email, group)) in roles.iter().enumerate() {
        let (c, _) = signed_in_with_totp(gw, email).await;
        for a in ACTIONS {
            let status = call(&c, gw, a).await;
            if a.allowed[i] {
                assert!(
                    status != StatusCode::FORBIDDEN && !status.is_server_error(),
                    "{group} may {}: got {status}",
                    a.name
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{group} may not {}", a.name);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * ACTIONS.len());

    // No role: nothing, even with a fresh second factor. No session: the sign-in page.
    let (nobody, _) = signed_in_with_totp(gw, "user@example.com").await;
    let anonymous = client();
    for a in ACTIONS {
        assert_eq!(
            call(&nobody, gw, a).await,
            StatusCode::FORBIDDEN,
            "no role: {}",
            a.name
        );
        if !a.post {
            let resp = get(&anonymous, gw, a.path).await;
            assert_eq!(
                resp.status(),
                StatusCode::SEE_OTHER,
                "anonymous: {}",
                a.name
            );
            assert!(
                location(&resp).starts_with("/_sekisho/login?rd="),
                "anonymous: {}",
                a.name
            );
        }
    }
}
crate::on_both_stores!(permission_matrix, super::ADMIN_CONFIG);

async fn console_needs_a_recent_second_factor(gw: &TestGateway) {
    add_user(gw, "sec@example.com", &["secadmins"]);
    let (c, secret) = signed_in_with_totp(gw, "sec@example.com").await;
    assert_eq!(
        get(&c, gw, "/_sekisho/admin").await.status(),
        StatusCode::OK
    );
    gw.clock.advance(15 * 60);
    assert_eq!(
        get(&c, gw, "/_sekisho/admin").await.status(),
        StatusCode::OK,
        "15 minutes is still fresh"
    );
    gw.clock.advance(60);
    let resp = get(&c, gw, "/_sekisho/admin/users?q=example").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&resp).starts_with("/_sekisho/mfa?rd="),
        "{}",
        location(&resp)
    );
    assert_eq!(
        location_param(&resp, "rd").as_deref(),
        Some("/_sekisho/admin/users?q=example")
    );
    // A stale POST is not carried out either.
    let resp = submit(
        &c,
        gw,
        "/_sekisho/settings",
        "/_sekisho/admin/emergency/suspend",
        &[("group", "staff"), ("reason", "should not happen")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // After the challenge the console opens again.
    let code = crate::mfa::oathtool(&secret, gw.clock.now());
    let resp = crate::mfa::submit_code(&c, gw, "totp", &code, "/_sekisho/admin", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (status, body) = page(&c, gw, "/_sekisho/admin/emergency").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("id=\"no-suspensions\""),
        "the stale POST suspended nothing"
    );
}
crate::on_both_stores!(console_needs_a_recent_second_factor, super::ADMIN_CONFIG);
