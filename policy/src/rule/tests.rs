use super::*;

#[test]
fn method_bits_are_distinct_and_case_insensitive() {
    let bits: Vec<u16> = HttpMethod::ALL
        .iter()
        .map(|m| method_bit(m.as_str()))
        .collect();
    for (i, a) in bits.iter().enumerate() {
        assert_eq!(a.count_ones(), 1);
        assert_ne!(*a, UNKNOWN_METHOD);
        assert!(bits[i + 1..].iter().all(|b| b != a));
    }
    assert_eq!(method_bit("get"), method_bit("GET"));
    assert_eq!(method_bit("pAtCh"), method_bit("PATCH"));
    assert_eq!(method_bit("PROPFIND"), UNKNOWN_METHOD);
    assert_eq!(method_bit(""), UNKNOWN_METHOD);
    assert_eq!(ANY_METHOD & UNKNOWN_METHOD, UNKNOWN_METHOD);
}

fn base(action: Action) -> RuleSettings {
    RuleSettings {
        name: "r".into(),
        index: 3,
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

#[test]
fn identity_decision_asks_for_a_sign_in_level() {
    for (action, asked) in [
        (Action::Bypass, Action::OneFactor),
        (Action::Deny, Action::OneFactor),
        (Action::OneFactor, Action::OneFactor),
        (Action::TwoFactor, Action::TwoFactor),
    ] {
        let r = CompiledRule::compile(&RuleSettings {
            groups: vec!["g".into()],
            ..base(action)
        })
        .unwrap();
        let d = decide(&r, None).unwrap();
        assert!(d.needs_identity);
        assert_eq!(d.action, asked);
        let groups = vec!["g".to_string()];
        let d = decide(
            &r,
            Some(&Subject {
                user: "u@x",
                groups: &groups,
            }),
        )
        .unwrap();
        assert!(!d.needs_identity);
        assert_eq!(d.action, action);
        assert_eq!(
            decide(
                &r,
                Some(&Subject {
                    user: "u@x",
                    groups: &[]
                })
            ),
            None
        );
    }
}

#[test]
fn users_are_trimmed_and_lower_cased() {
    let r = CompiledRule::compile(&RuleSettings {
        users: vec![" Bob@Example.com ".into()],
        ..base(Action::OneFactor)
    })
    .unwrap();
    assert!(r.user_ok("bob@example.com"));
    assert!(!r.user_ok("bob@example.co"));
}

#[test]
fn empty_users_are_refused() {
    let err = CompiledRule::compile(&RuleSettings {
        users: vec!["a@x".into(), "".into()],
        ..base(Action::OneFactor)
    })
    .unwrap_err();
    assert_eq!(err.key, "rules[3].users[1]");
}
