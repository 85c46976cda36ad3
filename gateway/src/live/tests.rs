use super::*;
use std::collections::HashMap;

fn settings_with(extra: &str, env: &[(&str, &str)]) -> Settings {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:8080\"\n[[sites]]\nhost = \"a.example\"\nupstreams = [\"127.0.0.1:9\"]\n{extra}"
    );
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    sekisho_config::load_str(&text, "<t>", &env).unwrap()
}

fn settings(extra: &str) -> Settings {
    settings_with(extra, &[])
}

#[test]
fn sections_sort_into_live_and_restart_only() {
    let old = settings("[[rules]]\npaths = [\"/a\"]\naction = \"deny\"\n");
    let new = settings(
        "[session]\nidle_timeout = \"5m\"\n[support]\nemail = \"help@example.com\"\n[[rules]]\npaths = [\"/a\"]\naction = \"bypass\"\n",
    );
    assert_eq!(live_changes(&old, &new), ["rules", "support"]);
    assert_eq!(restart_only_changes(&old, &new), ["session"]);
    let effective = keep_restart_only(&old, new);
    assert_eq!(effective.session.idle_timeout, old.session.idle_timeout);
    assert_eq!(effective.support.email.as_deref(), Some("help@example.com"));
    assert!(live_changes(&old, &old).is_empty());
    assert!(restart_only_changes(&old, &old).is_empty());
}

#[test]
fn secrets_are_compared_by_value() {
    let key = |k| settings_with("", &[("SEKISHO_SECRET_KEY", k)]);
    let a = key("0123456789abcdef0123456789abcdef");
    let b = key("fedcba9876543210fedcba9876543210");
    assert_eq!(format!("{:?}", a.secret_key), format!("{:?}", b.secret_key));
    assert_eq!(restart_only_changes(&a, &b), ["secrets.key"]);
}

#[test]
fn the_summary_lists_both() {
    let r = Reloaded {
        generation: 4,
        applied: vec!["rules"],
        needs_restart: vec![],
    };
    assert_eq!(
        r.summary(),
        "applied generation 4\nchanged: rules\nneeds restart: none\n"
    );
}
