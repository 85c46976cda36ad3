use super::*;
use crate::Policy;
use sekisho_config::{HttpMethod, PolicySettings, RuleSettings};

fn rule(name: &str, action: Action) -> RuleSettings {
    RuleSettings {
        name: name.to_string(),
        index: 0,
        hosts: vec![],
        paths: vec![],
        methods: vec![],
        networks: vec![],
        groups: vec![],
        users: vec![],
        action,
        max_mfa_age: None,
        trusted_device: true,
        mfa_methods: sekisho_config::FactorSet::ALL,
    }
}

fn policy() -> Policy {
    let rules = vec![
        RuleSettings {
            hosts: vec!["app.example.com".into()],
            paths: vec!["/static".into(), "/favicon.ico".into()],
            ..rule("assets", Action::Bypass)
        },
        RuleSettings {
            methods: vec![HttpMethod::Get],
            paths: vec!["/reports".into()],
            ..rule("reports", Action::OneFactor)
        },
        RuleSettings {
            networks: vec!["10.0.0.0/8".parse().unwrap()],
            paths: vec!["/internal".into()],
            ..rule("internal", Action::Bypass)
        },
        RuleSettings {
            paths: vec!["/admin".into()],
            groups: vec!["admins".into()],
            users: vec!["root@example.com".into()],
            max_mfa_age: Some(Duration::from_secs(900)),
            trusted_device: false,
            ..rule("admin", Action::TwoFactor)
        },
        rule("rules[4]", Action::OneFactor),
        RuleSettings {
            paths: vec!["/never".into()],
            ..rule("never", Action::Deny)
        },
    ];
    let rules = rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| RuleSettings { index: i, ..r })
        .collect();
    Policy::compile(&PolicySettings {
        default: Action::Deny,
        rules,
    })
    .unwrap()
}

fn req<'a>(path: &'a str, method: &'a str) -> RequestFacts<'a> {
    RequestFacts {
        host: "App.Example.com:8443",
        path,
        method,
        client_ip: "::ffff:192.0.2.7".parse().unwrap(),
    }
}

#[test]
fn reasons_for_each_condition() {
    let p = policy();
    let ex = p.explain(&req("/%61dmin/users", "POST"), None);
    let text = ex.to_string();
    assert_eq!(ex.host, "app.example.com");
    assert_eq!(ex.path, "/admin/users");
    assert!(
        text.contains("path:     /admin/users (normalised from /%61dmin/users)"),
        "{text}"
    );
    assert!(
        text.contains("host:     app.example.com (Host: App.Example.com:8443)"),
        "{text}"
    );
    assert!(
        text.contains("✓ host app.example.com matches app.example.com"),
        "{text}"
    );
    assert!(
        text.contains("✗ path /admin/users matches none of [/static, /favicon.ico]"),
        "{text}"
    );
    assert!(text.contains("✗ method POST not in [GET]"), "{text}");
    assert!(
        text.contains("✗ network 192.0.2.7 (::ffff:192.0.2.7) not in [10.0.0.0/8]"),
        "{text}"
    );
    assert!(
        text.contains("✗ needs a signed-in user (users [root@example.com] or groups [admins])"),
        "{text}"
    );
    assert!(
        text.contains("rules[3] \"admin\": MATCH, but needs a signed-in user"),
        "{text}"
    );
    assert!(text.contains("(2 later rules not evaluated)"), "{text}");
    assert!(text.contains("action:          two_factor"), "{text}");
    assert!(
        text.contains("decided by:      rules[3] \"admin\""),
        "{text}"
    );
    assert!(text.contains("needs_identity:  yes"), "{text}");
    assert!(text.contains("max_mfa_age:     15m"), "{text}");
    assert!(text.contains("trusted_device:  no"), "{text}");
    assert!(text.contains("user:     none (not signed in)"), "{text}");
    assert_eq!(ex.rules.len(), 4);
    assert_eq!(ex.rules[3].outcome, RuleOutcome::NeedsIdentity);
    assert!(ex.decision.needs_identity);
}

#[test]
fn subject_mismatch_is_explained() {
    let p = policy();
    let groups = vec!["staff".to_string()];
    let bob = Subject {
        user: "bob@example.com",
        groups: &groups,
    };
    let ex = p.explain(&req("/admin", "GET"), Some(&bob));
    let text = ex.to_string();
    assert!(
        text.contains("✗ user bob@example.com not in users [root@example.com] and none of groups [staff] in [admins]"),
        "{text}"
    );
    assert!(
        text.contains("rules[3] \"admin\": no match for this user"),
        "{text}"
    );
    assert!(
        text.contains("user:     bob@example.com (groups [staff])"),
        "{text}"
    );
    // The unnamed catch-all decides; it is shown by key only.
    assert!(text.contains("rules[4]: MATCH"), "{text}");
    assert!(
        text.contains("✓ no conditions: matches every request"),
        "{text}"
    );
    assert!(text.contains("decided by:      rules[4]\n"), "{text}");
    assert!(text.contains("(1 later rule not evaluated)"), "{text}");
    assert_eq!(ex.decision.rule.as_ref().map(|r| r.index), Some(4));
}

#[test]
fn subject_match_is_explained() {
    let p = policy();
    let groups = vec!["staff".to_string(), "admins".to_string()];
    let alice = Subject {
        user: "alice@example.com",
        groups: &groups,
    };
    let text = p.explain(&req("/admin", "GET"), Some(&alice)).to_string();
    assert!(text.contains("✓ group admins in groups [admins]"), "{text}");
    let root = Subject {
        user: "root@example.com",
        groups: &[],
    };
    let text = p.explain(&req("/admin", "GET"), Some(&root)).to_string();
    assert!(
        text.contains("✓ user root@example.com in users [root@example.com]"),
        "{text}"
    );
    assert!(
        text.contains("user:     root@example.com (no groups)"),
        "{text}"
    );
    let carol = Subject {
        user: "carol@example.com",
        groups: &[],
    };
    let text = p.explain(&req("/admin", "GET"), Some(&carol)).to_string();
    assert!(
        text.contains("✗ user carol@example.com not in users [root@example.com] and no groups (needs one of [admins])"),
        "{text}"
    );
    assert!(text.contains("needs_identity:  no"), "{text}");
}

#[test]
fn default_policy_is_explained() {
    let p = Policy::compile(&PolicySettings {
        default: Action::OneFactor,
        rules: vec![RuleSettings {
            paths: vec!["/x".into()],
            ..rule("x", Action::Bypass)
        }],
    })
    .unwrap();
    let ex = p.explain(&req("/y", "GET"), None);
    let text = ex.to_string();
    assert!(
        text.contains("decided by:      default policy (no rule matched)"),
        "{text}"
    );
    assert!(text.contains("action:          one_factor"), "{text}");
    assert!(text.contains("max_mfa_age:     none"), "{text}");
    assert!(text.contains("trusted_device:  yes"), "{text}");
    assert!(!text.contains("later rule"), "{text}");
    assert_eq!(ex.decision.rule, None);
    assert_eq!(ex.not_evaluated, 0);
}

#[test]
fn empty_policy_is_explained() {
    let p = Policy::compile(&PolicySettings {
        default: Action::Deny,
        rules: vec![],
    })
    .unwrap();
    let text = p.explain(&req("/", "GET"), None).to_string();
    assert!(text.contains("Rules: none configured"), "{text}");
    assert!(text.contains("action:          deny"), "{text}");
}

#[test]
fn matched_rule_lists_what_held() {
    let p = policy();
    let r = RequestFacts {
        client_ip: "10.2.3.4".parse().unwrap(),
        ..req("/internal/metrics", "GET")
    };
    let text = p.explain(&r, None).to_string();
    assert!(text.contains("rules[2] \"internal\": MATCH"), "{text}");
    assert!(
        text.contains("✓ path /internal/metrics matches /internal"),
        "{text}"
    );
    assert!(
        text.contains("✓ network 10.2.3.4 in [10.0.0.0/8]"),
        "{text}"
    );
    assert!(!text.contains("(normalised from"), "{text}");
}

#[test]
fn explain_agrees_with_evaluate() {
    let p = policy();
    for path in [
        "/static/a.css",
        "/reports",
        "/internal",
        "/admin",
        "/other",
        "/never",
    ] {
        for method in ["GET", "POST"] {
            let r = req(path, method);
            let d = p.evaluate(&r, None);
            assert_eq!(
                p.explain(&r, None).decision,
                ExplainedDecision::from(d),
                "{path} {method}"
            );
        }
    }
}

#[test]
fn durations_read_naturally() {
    assert_eq!(human_duration(Duration::from_secs(900)), "15m");
    assert_eq!(human_duration(Duration::from_secs(5400)), "1h30m");
    assert_eq!(human_duration(Duration::from_secs(90)), "1m30s");
    assert_eq!(human_duration(Duration::from_secs(86_400 * 2 + 1)), "2d1s");
    assert_eq!(human_duration(Duration::from_millis(500)), "500ms");
}
