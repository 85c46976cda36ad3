use crate::{load_str, ConfigError, LogFormat, LogSettings, Settings};
use std::collections::HashMap;

fn load(text: &str) -> Settings {
    load_str(text, "t.toml", &HashMap::<String, String>::new()).unwrap()
}

fn err(text: &str) -> ConfigError {
    load_str(text, "t.toml", &HashMap::<String, String>::new()).expect_err("should be rejected")
}

#[test]
fn defaults_are_text_with_an_access_log_at_info() {
    let s = load("");
    assert_eq!(s.log, LogSettings::default());
    assert_eq!(s.log.format, LogFormat::Text);
    assert!(s.log.access_log);
    assert_eq!(s.log.level, "info");
}

#[test]
fn every_key_parses() {
    let s = load(
        "[log]\nformat = \"json\"\naccess_log = false\nlevel = \" warn, sekisho::access=INFO,sekisho_gateway=debug \"\n",
    );
    assert_eq!(s.log.format, LogFormat::Json);
    assert!(!s.log.access_log);
    assert_eq!(
        s.log.level, "warn, sekisho::access=INFO,sekisho_gateway=debug",
        "trimmed, otherwise as written"
    );
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("[log]\nformat = \"xml\"", "log.format", "unknown variant"),
        ("[log]\nlevel = \"loud\"", "log.level", "is not a level"),
        ("[log]\nlevel = \"\"", "log.level", "is not a level"),
        (
            "[log]\nlevel = \"info,=debug\"",
            "log.level",
            "is not a level",
        ),
        (
            "[log]\nlevel = \"info,my target=debug\"",
            "log.level",
            "is not a level",
        ),
        ("[log]\nlevel = \"info,\"", "log.level", "is not a level"),
        ("[log]\naccess = true", "log", "unknown field"),
    ];
    for (text, key, words) in cases {
        let e = err(text);
        assert!(e.key.starts_with(key), "{text}: key {} ≠ {key}", e.key);
        assert!(e.to_string().contains(words), "{text}: {e}");
    }
    let long = format!("[log]\nlevel = \"{}\"", "info,".repeat(200) + "info");
    assert!(err(&long).to_string().contains("at most 512 bytes"));
}
