use crate::{load_str, ConfigError, Settings, SupportSettings};
use std::collections::HashMap;

fn load(text: &str) -> Settings {
    load_str(text, "t.toml", &HashMap::<String, String>::new()).unwrap()
}

fn err(text: &str) -> ConfigError {
    load_str(text, "t.toml", &HashMap::<String, String>::new()).expect_err("should be rejected")
}

#[test]
fn absent_means_no_contact() {
    let s = load("");
    assert_eq!(s.support, SupportSettings::default());
    assert!(!s.support.has_contact());
}

#[test]
fn every_key_parses_and_is_trimmed() {
    let s = load(
        r#"
[support]
email = " helpdesk@example.co.jp "
phone = "+81 3-1234-5678 (内線 100)"
hours = "Mon–Fri 9:00–18:00 JST"
url = "https://help.example.com/sekisho?lang=ja"
"#,
    );
    let sup = &s.support;
    assert_eq!(sup.email.as_deref(), Some("helpdesk@example.co.jp"));
    assert_eq!(sup.phone.as_deref(), Some("+81 3-1234-5678 (内線 100)"));
    assert_eq!(sup.hours.as_deref(), Some("Mon–Fri 9:00–18:00 JST"));
    assert_eq!(
        sup.url.as_deref(),
        Some("https://help.example.com/sekisho?lang=ja")
    );
    assert!(sup.has_contact());
}

#[test]
fn blank_values_count_as_unset() {
    let s = load("[support]\nemail = \"\"\nphone = \"  \"\nhours = \"9-17\"\n");
    assert_eq!(s.support.email, None);
    assert_eq!(s.support.phone, None);
    assert_eq!(s.support.hours.as_deref(), Some("9-17"));
    assert!(
        !s.support.has_contact(),
        "hours alone are no way to reach anyone"
    );
}

#[test]
fn limits_are_counted_in_characters() {
    // 40 Japanese characters are 120 bytes: still allowed.
    let phone = "電".repeat(40);
    let hours = "時".repeat(80);
    let s = load(&format!(
        "[support]\nphone = \"{phone}\"\nhours = \"{hours}\"\n"
    ));
    assert_eq!(s.support.phone.as_deref(), Some(phone.as_str()));
    assert_eq!(s.support.hours.as_deref(), Some(hours.as_str()));
}

#[test]
fn bad_values_name_the_key() {
    let long_phone = "1".repeat(41);
    let long_hours = "h".repeat(81);
    let long_url = format!("https://example.com/{}", "a".repeat(2100));
    for (body, key, hint) in [
        ("email = \"helpdesk\"", "support.email", "not an address"),
        (
            "email = \"Help <help@example.com>\"",
            "support.email",
            "no display name",
        ),
        ("email = \"a@b@\"", "support.email", "not an address"),
        ("phone = \"+81\\n3\"", "support.phone", "printable"),
        (
            &format!("phone = \"{long_phone}\""),
            "support.phone",
            "at most 40",
        ),
        ("hours = \"9\\u0007-17\"", "support.hours", "printable"),
        (
            &format!("hours = \"{long_hours}\""),
            "support.hours",
            "at most 80",
        ),
        ("url = \"javascript:alert(1)\"", "support.url", "http"),
        ("url = \"ftp://example.com/\"", "support.url", "http"),
        ("url = \"/help\"", "support.url", "absolute URL"),
        (
            "url = \"https://user:pw@example.com/\"",
            "support.url",
            "password",
        ),
        (
            &format!("url = \"{long_url}\""),
            "support.url",
            "at most 2048",
        ),
        ("fax = \"123\"", "support", "unknown field"),
        ("email = 3", "support.email", "invalid type"),
    ] {
        let e = err(&format!("[support]\n{body}\n"));
        assert!(e.key.starts_with(key), "{body}: {e}");
        assert!(e.message.contains(hint), "{body}: {e}");
    }
}
