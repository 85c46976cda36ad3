use crate::{load_str, ConfigError, LockoutSettings, RateLimitSettings, Settings};
use std::collections::HashMap;
use std::time::Duration;

fn load(text: &str) -> Settings {
    load_str(text, "t.toml", &HashMap::<String, String>::new()).unwrap()
}

fn err(text: &str) -> ConfigError {
    load_str(text, "t.toml", &HashMap::<String, String>::new()).expect_err("should be rejected")
}

#[test]
fn defaults_lock_the_pair_first() {
    let s = load("");
    assert_eq!(s.lockout, LockoutSettings::default());
    assert!(s.lockout.enabled && s.lockout.notify_user);
    assert_eq!(s.lockout.window, Duration::from_secs(900));
    assert_eq!(
        (
            s.lockout.pair_threshold,
            s.lockout.account_threshold,
            s.lockout.ip_threshold
        ),
        (5, 20, 50)
    );
    assert_eq!(s.lockout.base_lock, Duration::from_secs(60));
    assert_eq!(s.lockout.max_lock, Duration::from_secs(3600));
    assert_eq!(s.rate_limit, RateLimitSettings::default());
    assert_eq!(s.rate_limit.ui_posts_per_minute, 30);
    assert_eq!(s.rate_limit.ui_post_burst, 10);
    assert_eq!(s.rate_limit.code_sends_per_ip_per_hour, 20);
}

#[test]
fn every_key_parses() {
    let s = load(
        r#"
[lockout]
enabled = false
window = "10m"
pair_threshold = 3
account_threshold = 10
ip_threshold = 30
base_lock = "30s"
max_lock = "2h"
notify_user = false

[rate_limit]
ui_posts_per_minute = 0
ui_post_burst = 0
code_sends_per_ip_per_hour = 5
"#,
    );
    assert!(!s.lockout.enabled && !s.lockout.notify_user);
    assert_eq!(s.lockout.window, Duration::from_secs(600));
    assert_eq!(s.lockout.pair_threshold, 3);
    assert_eq!(s.lockout.account_threshold, 10);
    assert_eq!(s.lockout.ip_threshold, 30);
    assert_eq!(s.lockout.base_lock, Duration::from_secs(30));
    assert_eq!(s.lockout.max_lock, Duration::from_secs(7200));
    assert_eq!(s.rate_limit.ui_posts_per_minute, 0);
    assert_eq!(s.rate_limit.code_sends_per_ip_per_hour, 5);
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        (
            "[lockout]\naccount_threshold = 3\npair_threshold = 5",
            "lockout.account_threshold",
            "pair locks first",
        ),
        (
            "[lockout]\npair_threshold = 0",
            "lockout.pair_threshold",
            "between 1",
        ),
        (
            "[lockout]\nwindow = \"0s\"",
            "lockout.window",
            "whole seconds",
        ),
        ("[lockout]\nbase_lock = \"2d\"", "lockout.base_lock", "24h"),
        (
            "[lockout]\nbase_lock = \"10m\"\nmax_lock = \"5m\"",
            "lockout.max_lock",
            "at least lockout.base_lock",
        ),
        (
            "[rate_limit]\nui_post_burst = 0",
            "rate_limit.ui_post_burst",
            "at least 1",
        ),
        (
            "[rate_limit]\ncode_sends_per_ip_per_hour = 0",
            "rate_limit.code_sends_per_ip_per_hour",
            "at least 1",
        ),
        ("[lockout]\nthreshold = 5", "lockout", "unknown field"),
    ];
    for (text, key, words) in cases {
        let e = err(text);
        assert!(e.key.starts_with(key), "{text}: key {} ≠ {key}", e.key);
        assert!(e.to_string().contains(words), "{text}: {e}");
    }
}
