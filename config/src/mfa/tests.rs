use crate::{load_str, ConfigError, Factor, FactorSet, MfaAtLogin};
use std::collections::HashMap;
use std::time::Duration;

fn err(text: &str) -> ConfigError {
    load_str(text, "t.toml", &HashMap::<String, String>::new()).expect_err("should be rejected")
}

#[test]
fn defaults_follow_the_design() {
    let s = load_str(
        "[ui]\ntitle = \"Acme\"\n",
        "t.toml",
        &HashMap::<String, String>::new(),
    )
    .unwrap();
    let m = &s.mfa;
    assert_eq!(m.issuer, "Acme");
    assert_eq!(m.at_login, MfaAtLogin::Enrolled);
    assert!(m.factors.contains(Factor::Totp) && m.factors.contains(Factor::Email));
    assert!(!m.factors.contains(Factor::Sms), "SMS is off by default");
    assert_eq!((m.totp_skew, m.totp_drift_window), (1, 10));
    assert_eq!(m.code_ttl, Duration::from_secs(600));
    assert_eq!((m.code_attempts, m.codes_per_hour), (5, 5));
    assert_eq!(m.code_resend_after, Duration::from_secs(60));
    assert_eq!(m.trusted_device_for, Some(Duration::from_secs(30 * 86_400)));
    assert!(s.encryption_key.is_none());
}

#[test]
fn settings_and_rule_options_parse() {
    let s = load_str(
        r#"
[mfa]
at_login = "when_required"
factors = ["totp", "sms"]
issuer = "Example"
trusted_device_for = "0s"

[[rules]]
paths = ["/admin"]
action = "two_factor"
mfa_methods = ["totp", "backup_code"]

[[rules]]
paths = ["/x"]
action = "two_factor"
"#,
        "t.toml",
        &HashMap::<String, String>::new(),
    )
    .unwrap();
    assert_eq!(s.mfa.at_login, MfaAtLogin::WhenRequired);
    assert_eq!(s.mfa.factors, FactorSet::of(&[Factor::Totp, Factor::Sms]));
    assert_eq!(s.mfa.trusted_device_for, None);
    assert_eq!(s.policy.rules[0].mfa_methods.to_list(), "totp,backup_code");
    assert!(s.policy.rules[1].mfa_methods.is_all());
    assert_eq!(
        FactorSet::from_list("backup_code,nonsense,totp").to_list(),
        "totp,backup_code"
    );
}

#[test]
fn bad_values_name_the_key() {
    for (text, key) in [
        ("[mfa]\ntotp_skew = 5\n", "mfa.totp_skew"),
        ("[mfa]\ntotp_drift_window = 50\n", "mfa.totp_drift_window"),
        ("[mfa]\ncode_ttl = \"2h\"\n", "mfa.code_ttl"),
        ("[mfa]\ncode_attempts = 0\n", "mfa.code_attempts"),
        ("[mfa]\nfactors = []\n", "mfa.factors"),
        ("[mfa]\nissuer = \"  \"\n", "mfa.issuer"),
        ("[mfa]\nreauth_within = \"1s\"\n", "mfa.reauth_within"),
        ("[mfa]\nfactors = [\"carrier_pigeon\"]\n", "mfa.factors[0]"),
        (
            "[[rules]]\npaths = [\"/\"]\naction = \"one_factor\"\nmfa_methods = [\"totp\"]\n",
            "rules[0].mfa_methods",
        ),
    ] {
        let e = err(text);
        assert_eq!(e.key, key, "{text}: {e}");
    }
}

#[test]
fn encryption_keys_from_env_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.key");
    std::fs::write(&old, "ab".repeat(32)).unwrap();
    let env: HashMap<String, String> =
        [("SEKISHO_ENCRYPTION_KEY".to_string(), "cd".repeat(32))].into();
    let text = format!(
        "[secrets]\nprevious_encryption_key_files = [\"{}\"]\n",
        old.display()
    );
    let s = load_str(&text, "t.toml", &env).unwrap();
    assert_eq!(s.encryption_key.unwrap().expose(), &[0xcd; 32]);
    assert_eq!(s.previous_encryption_keys[0].expose(), &[0xab; 32]);
    assert!(!format!("{:?}", s.previous_encryption_keys).contains("abab"));
    let short: HashMap<String, String> =
        [("SEKISHO_ENCRYPTION_KEY".to_string(), "short".into())].into();
    let e = load_str("", "t.toml", &short).unwrap_err();
    assert_eq!(e.key, "SEKISHO_ENCRYPTION_KEY");
}
