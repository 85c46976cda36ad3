//! Rules with `users` / `groups`: identity requests, OR semantics, skipping on mismatch.
use super::{compile, req, rule, s};
use crate::{Policy, Subject};
use sekisho_config::{Action, RuleSettings};
use std::time::Duration;

fn subject_policy() -> Policy {
    compile(
        Action::OneFactor,
        vec![
            RuleSettings {
                paths: s(&["/public"]),
                ..rule("public", Action::Bypass)
            },
            RuleSettings {
                paths: s(&["/admin"]),
                groups: s(&["admins", "secadmin"]),
                users: s(&["root@example.com"]),
                max_mfa_age: Some(Duration::from_secs(900)),
                trusted_device: false,
                ..rule("admins", Action::TwoFactor)
            },
            RuleSettings {
                paths: s(&["/admin"]),
                ..rule("admin-others", Action::Deny)
            },
            RuleSettings {
                paths: s(&["/ops"]),
                groups: s(&["ops"]),
                ..rule("ops-bypass", Action::Bypass)
            },
            RuleSettings {
                paths: s(&["/blocked"]),
                users: s(&["mallory@example.com"]),
                ..rule("deny-mallory", Action::Deny)
            },
        ],
    )
}

#[test]
fn needs_identity_without_subject() {
    let p = subject_policy();
    let d = p.evaluate(&req("h", "/admin/x"), None);
    assert!(d.needs_identity);
    assert_eq!(d.action, Action::TwoFactor);
    assert_eq!(d.rule.map(|r| r.name.as_str()), Some("admins"));
    assert_eq!(d.max_mfa_age, Some(Duration::from_secs(900)));
    assert!(!d.trusted_device);
    // bypass and deny rules ask for a one-factor sign-in first.
    let d = p.evaluate(&req("h", "/ops"), None);
    assert!(d.needs_identity);
    assert_eq!(d.action, Action::OneFactor);
    let d = p.evaluate(&req("h", "/blocked"), None);
    assert!(d.needs_identity);
    assert_eq!(d.action, Action::OneFactor);
    // Rules without subject conditions before it decide as usual.
    let d = p.evaluate(&req("h", "/public"), None);
    assert!(!d.needs_identity);
    assert_eq!(d.action, Action::Bypass);
    // Requests no subject rule applies to do not need an identity.
    let d = p.evaluate(&req("h", "/other"), None);
    assert!(!d.needs_identity);
    assert_eq!(d.rule, None);
}

#[test]
fn subject_users_or_groups() {
    let p = compile(
        Action::Deny,
        vec![RuleSettings {
            groups: s(&["admins"]),
            users: s(&["root@example.com"]),
            ..rule("r", Action::OneFactor)
        }],
    );
    let who = |user: &str, groups: &[String]| {
        let subject = Subject { user, groups };
        p.evaluate(&req("h", "/"), Some(&subject))
            .rule
            .map(|r| r.name.clone())
    };
    assert_eq!(who("root@example.com", &[]), Some("r".into()));
    assert_eq!(who("ROOT@example.com", &[]), Some("r".into()));
    assert_eq!(
        who("bob@example.com", &s(&["staff", "admins"])),
        Some("r".into())
    );
    assert_eq!(who("bob@example.com", &s(&["staff"])), None);
    assert_eq!(
        who("bob@example.com", &s(&["Admins"])),
        None,
        "groups are case-sensitive"
    );
    assert_eq!(who("bob@example.com", &[]), None);
}

#[test]
fn subject_mismatch_skips_to_the_next_rule() {
    let p = subject_policy();
    let admin_groups = s(&["admins"]);
    let admin = Subject {
        user: "alice@example.com",
        groups: &admin_groups,
    };
    let root = Subject {
        user: "root@example.com",
        groups: &[],
    };
    let nobody = Subject {
        user: "bob@example.com",
        groups: &[],
    };
    for who in [&admin, &root] {
        let d = p.evaluate(&req("h", "/admin"), Some(who));
        assert!(!d.needs_identity);
        assert_eq!(d.action, Action::TwoFactor);
        assert_eq!(d.rule.map(|r| r.name.as_str()), Some("admins"));
        assert_eq!(d.max_mfa_age, Some(Duration::from_secs(900)));
        assert!(!d.trusted_device);
    }
    let d = p.evaluate(&req("h", "/admin"), Some(&nobody));
    assert!(!d.needs_identity);
    assert_eq!(d.action, Action::Deny);
    assert_eq!(d.rule.map(|r| r.name.as_str()), Some("admin-others"));
    // A user not named falls through to the default policy.
    let d = p.evaluate(&req("h", "/blocked"), Some(&nobody));
    assert_eq!((d.action, d.rule), (Action::OneFactor, None));
    let mallory = Subject {
        user: "mallory@example.com",
        groups: &[],
    };
    let d = p.evaluate(&req("h", "/blocked"), Some(&mallory));
    assert_eq!(d.action, Action::Deny);
}

#[test]
fn decision_carries_rule_options() {
    let p = compile(
        Action::Deny,
        vec![RuleSettings {
            max_mfa_age: Some(Duration::from_secs(300)),
            trusted_device: false,
            ..rule("strict", Action::TwoFactor)
        }],
    );
    let d = p.evaluate(&req("h", "/"), None);
    assert_eq!(d.max_mfa_age, Some(Duration::from_secs(300)));
    assert!(!d.trusted_device);
    assert!(!d.needs_identity);
}
