use crate::{AdminRole, AdminSettings};
use std::collections::HashMap;
use std::time::Duration;

fn load(text: &str) -> Result<crate::Settings, crate::ConfigError> {
    crate::load_str(text, "t.toml", &HashMap::<String, String>::new())
}

fn groups(g: &[&str]) -> Vec<String> {
    g.iter().map(|s| s.to_string()).collect()
}

#[test]
fn defaults_close_the_console() {
    let a = load("").unwrap().admin;
    assert_eq!(a, AdminSettings::default());
    assert!(a.roles_of(&groups(&["admins", "helpdesk"])).is_empty());
    assert_eq!(a.max_mfa_age, Duration::from_secs(900));
    assert_eq!(a.request_expiry, Duration::from_secs(72 * 3600));
    assert_eq!(a.reenrol_link_ttl, Duration::from_secs(86_400));
}

#[test]
fn roles_come_from_groups_and_make_accounts_privileged() {
    let a = load(
        r#"[admin]
helpdesk = ["hd"]
sysadmin = ["ops"]
secadmin = ["sec"]
auditor = ["audit", "sec"]
privileged_groups = ["admins"]
"#,
    )
    .unwrap()
    .admin;
    assert_eq!(a.roles_of(&groups(&["hd"])), vec![AdminRole::Helpdesk]);
    assert_eq!(
        a.roles_of(&groups(&["sec", "x"])),
        vec![AdminRole::Secadmin, AdminRole::Auditor]
    );
    assert!(a.roles_of(&groups(&["staff"])).is_empty());
    assert!(a.is_privileged(&groups(&["admins"])));
    assert!(
        a.is_privileged(&groups(&["hd"])),
        "every role holder is privileged"
    );
    assert!(!a.is_privileged(&groups(&["staff"])));
}

#[test]
fn link_ttl_is_clamped_to_the_bounds() {
    let a = load("[admin]\nreenrol_link_ttl = \"2h\"\nreenrol_link_min_ttl = \"30m\"\nreenrol_link_max_ttl = \"1d\"\n")
        .unwrap()
        .admin;
    assert_eq!(a.clamp_link_ttl(None), Duration::from_secs(7200));
    assert_eq!(
        a.clamp_link_ttl(Some(Duration::from_secs(60))),
        Duration::from_secs(1800)
    );
    assert_eq!(
        a.clamp_link_ttl(Some(Duration::from_secs(10 * 86_400))),
        Duration::from_secs(86_400)
    );
}

#[test]
fn bad_values_name_the_key() {
    for (text, key) in [
        ("max_mfa_age = \"16m\"", "admin.max_mfa_age"),
        ("max_mfa_age = \"10s\"", "admin.max_mfa_age"),
        ("request_expiry = \"30m\"", "admin.request_expiry"),
        ("request_expiry = \"31d\"", "admin.request_expiry"),
        ("reenrol_link_ttl = \"10d\"", "admin.reenrol_link_ttl"),
        (
            "reenrol_link_min_ttl = \"1m\"",
            "admin.reenrol_link_min_ttl",
        ),
        (
            "reenrol_link_max_ttl = \"30m\"",
            "admin.reenrol_link_max_ttl",
        ),
        ("helpdesk = [\"a,b\"]", "admin.helpdesk"),
        ("privileged_groups = [\" \"]", "admin.privileged_groups"),
    ] {
        let e = load(&format!("[admin]\n{text}\n")).unwrap_err().to_string();
        assert!(e.contains(key), "{text}: {e}");
    }
    let e = load("[admin]\nroles = []\n").unwrap_err().to_string();
    assert!(e.contains("roles"), "{e}");
}
