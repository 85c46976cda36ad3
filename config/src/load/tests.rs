use super::*;
use crate::redis::RedisTopology;
use std::collections::HashMap;

fn env() -> HashMap<String, String> {
    HashMap::new()
}

fn err(text: &str) -> ConfigError {
    load_str(text, "t.toml", &env()).expect_err("config should be rejected")
}

#[test]
fn empty_file_gives_defaults() {
    let s = load_str("", "t.toml", &env()).unwrap();
    assert_eq!(s.ui.prefix, "/_sekisho/");
    assert_eq!(s.headers.user, "Remote-User");
    assert!(matches!(
        s.session.store,
        SessionStoreKind::Memory { capacity: 200_000 }
    ));
    assert_eq!(s.database.kind, DatabaseKind::Sqlite);
    assert_eq!(s.password.memory_kib, 19456);
    assert_eq!(s.policy.default, Action::Deny);
    assert_eq!(
        s.session.cache,
        SessionCacheConfig {
            capacity: 100_000,
            max_age: std::time::Duration::from_secs(30),
            outage_grace: std::time::Duration::ZERO,
        }
    );
    assert_eq!(
        s.server.upgrade_sock,
        std::path::Path::new("/tmp/sekisho-upgrade.sock")
    );
}

#[test]
fn production_example_is_valid_with_its_secrets_from_the_environment() {
    let text = include_str!("../../../deploy/sekisho.production.toml");
    let env: HashMap<String, String> = [
        ("SEKISHO_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("SEKISHO_ENCRYPTION_KEY", "fedcba9876543210fedcba9876543210"),
        ("SEKISHO_SMTP_PASSWORD", "smtp-secret"),
        (
            "SEKISHO_DATABASE_URL",
            "postgres://sekisho:pw@db.internal/sekisho",
        ),
        ("SEKISHO_SESSION_STORE", "redis://:pw@redis.internal:6379/0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let s = load_str(text, "production", &env).unwrap();
    assert_eq!(s.database.kind, DatabaseKind::Postgres);
    assert_eq!(
        s.database.url.expose(),
        "postgres://sekisho:pw@db.internal/sekisho"
    );
    assert!(
        matches!(&s.session.store, SessionStoreKind::Redis(r) if matches!(&r.topology, RedisTopology::Url(url) if url.expose().contains("redis.internal")))
    );
    assert!(s.secret_key.is_some() && s.encryption_key.is_some());
    let admin = &s.policy.rules[1];
    assert_eq!(admin.action, Action::TwoFactor);
    assert_eq!(admin.max_mfa_age, Some(std::time::Duration::from_secs(900)));
    assert!(!admin.trusted_device);
    assert!(s.cookie.is_secure(&s.server.listen, false));
    assert_eq!(s.trusted_proxies.len(), 1);
}

#[test]
fn example_config_is_valid() {
    let text = include_str!("../../../deploy/sekisho.example.toml");
    let s = load_str(text, "example", &env()).unwrap();
    assert_eq!(s.sites.len(), 1);
    assert_eq!(s.policy.rules.len(), 5);
    assert_eq!(
        s.policy.rules[1].max_mfa_age,
        Some(std::time::Duration::from_secs(900))
    );
    assert!(matches!(s.email.transport, EmailTransport::Folder { .. }));
    assert!(s.sms.provider.is_none());
    assert_eq!(s.support.email.as_deref(), Some("helpdesk@example.com"));
    assert_eq!(s.support.hours.as_deref(), Some("Mon–Fri 9:00–18:00 JST"));
    assert_eq!(s.support.url, None);
    assert_eq!(s.sign_in, crate::SignInSettings::default());
}

#[test]
fn unknown_key_names_key_and_line() {
    let e = err("[server]\nlisten = \"127.0.0.1:1\"\nlisten_typo = 3\n");
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("listen_typo"), "{e}");
    assert!(e.to_string().starts_with("t.toml:3"), "{e}");
}

#[test]
fn bad_value_names_the_path() {
    let e = err("[[rules]]\naction = \"bypass\"\n[[rules]]\naction = \"deny\"\nnetworks = [\"10.0.0.0/33\"]\n");
    assert_eq!(e.key, "rules[1].networks[0]", "{e}");
    assert_eq!(e.line, Some(5), "{e}");

    let e = err("[[rules]]\naction = \"maybe\"\n");
    assert!(e.key.starts_with("rules[0].action"), "{e}");
    assert!(e.message.contains("unknown variant"), "{e}");

    let e = err("[session]\nidle_timeout = \"soon\"\n");
    assert_eq!(e.key, "session.idle_timeout");
    assert!(e.message.contains("invalid duration"), "{e}");

    let e = err("[[rules]]\naction = \"bypass\"\nmethods = [\"FETCH\"]\n");
    assert!(e.message.contains("unknown HTTP method"), "{e}");
}

#[test]
fn semantic_errors_name_the_key() {
    assert_eq!(err("[server]\nlisten = \"nope\"\n").key, "server.listen");
    for admin in ["127.0.0.1:8080", "0.0.0.0:8080"] {
        let e = err(&format!(
            "[server]\nlisten = \"127.0.0.1:8080\"\nadmin_listen = \"{admin}\"\n"
        ));
        assert_eq!(e.key, "server.admin_listen", "{admin}");
        assert!(e.message.contains("overlaps"), "{e}");
    }
    for sock in ["relative.sock", &format!("/{}", "s".repeat(120))] {
        let e = err(&format!("[server]\nupgrade_sock = \"{sock}\"\n"));
        assert_eq!(e.key, "server.upgrade_sock", "{sock}");
    }
    for (toml, key) in [
        ("max_age = \"0s\"", "session.cache.max_age"),
        ("max_age = \"10m\"", "session.cache.max_age"),
        ("outage_grace = \"2h\"", "session.cache.outage_grace"),
        ("capacity = 20000000", "session.cache.capacity"),
    ] {
        assert_eq!(
            err(&format!("[session.cache]\n{toml}\n")).key,
            key,
            "{toml}"
        );
    }
    assert_eq!(err("[ui]\nprefix = \"/x\"\n").key, "ui.prefix");
    assert_eq!(
        err("[session]\nstore = \"mongodb://x\"\n").key,
        "session.store"
    );
    assert_eq!(
        err("[session]\nidle_timeout = \"2h\"\nlifetime = \"1h\"\n").key,
        "session.idle_timeout"
    );
    assert_eq!(err("[database]\nurl = \"mysql://x\"\n").key, "database.url");
    assert_eq!(err("[headers]\nuser = \"Cookie\"\n").key, "headers.user");
    assert_eq!(
        err("[headers]\nuser = \"X-A\"\nemail = \"x-a\"\n").key,
        "headers.email"
    );
    assert_eq!(err("[headers]\nname = \"Bad Name\"\n").key, "headers.name");
    assert_eq!(err("[cookie]\nname = \"__Host-x\"\n").key, "cookie.name");
    assert_eq!(
        err("[[sites]]\nhost = \"a.com:80\"\nupstreams = [\"x:1\"]\n").key,
        "sites[0].host"
    );
    assert_eq!(
        err("[[sites]]\nhost = \"a.com\"\nupstreams = [\"x\"]\n").key,
        "sites[0].upstreams[0]"
    );
    assert_eq!(
        err("[[sites]]\nhost = \"a.com\"\nupstreams = []\n").key,
        "sites[0].upstreams"
    );
    assert_eq!(
        err("[[sites]]\nhost = \"a.com\"\nupstreams = [\"x:1\"]\n[[sites]]\nhost = \"A.com\"\nupstreams = [\"x:1\"]\n").key,
        "sites[1].host"
    );
    assert_eq!(
        err("[[rules]]\naction = \"bypass\"\npaths = [\"admin\"]\n").key,
        "rules[0].paths[0]"
    );
    assert_eq!(
        err("[[rules]]\naction = \"one_factor\"\nmax_mfa_age = \"5m\"\n").key,
        "rules[0].max_mfa_age"
    );
    assert_eq!(
        err("[password]\nparallelism = 0\n").key,
        "password.parallelism"
    );
    assert_eq!(err("[ui]\nmax_body_bytes = 10\n").key, "ui.max_body_bytes");
}

#[test]
fn syntax_error_has_line() {
    let e = err("[server]\nlisten = \n");
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn env_overrides_store_urls_and_secret() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key");
    std::fs::write(&key_path, format!("{}\n", "ab".repeat(32))).unwrap();
    let mut env = HashMap::new();
    env.insert(
        "SEKISHO_SESSION_STORE".to_string(),
        "redis://:pw@127.0.0.1:1/0".to_string(),
    );
    env.insert(
        "SEKISHO_DATABASE_URL".to_string(),
        "postgres://u:pw@localhost/db".to_string(),
    );
    env.insert(
        "SEKISHO_SECRET_KEY_FILE".to_string(),
        key_path.display().to_string(),
    );
    let s = load_str("", "t", &env).unwrap();
    assert!(
        matches!(&s.session.store, SessionStoreKind::Redis(r) if matches!(&r.topology, RedisTopology::Url(url) if url.expose().ends_with("/0")))
    );
    assert_eq!(s.database.kind, DatabaseKind::Postgres);
    assert_eq!(s.secret_key.as_ref().unwrap().expose(), &[0xab; 32][..]);
    // Nothing secret shows up when settings are printed.
    let printed = format!("{s:?}");
    assert!(!printed.contains("pw@"), "{printed}");
    assert!(!printed.contains("abab"), "{printed}");

    let mut short = HashMap::new();
    short.insert("SEKISHO_SECRET_KEY".to_string(), "too-short".to_string());
    let e = load_str("", "t", &short).unwrap_err();
    assert_eq!(e.key, "SEKISHO_SECRET_KEY");

    let mut missing = HashMap::new();
    missing.insert(
        "SEKISHO_SECRET_KEY_FILE".to_string(),
        "/nonexistent/key".to_string(),
    );
    let e = load_str("", "t", &missing).unwrap_err();
    assert_eq!(e.key, "SEKISHO_SECRET_KEY_FILE");
}

#[test]
fn rule_defaults_and_normalisation() {
    let s = load_str(
        "[[rules]]\nhosts = [\"App.Example.com\", \"*.Example.org\"]\nusers = [\" Bob@Example.com \"]\naction = \"one_factor\"\n",
        "t",
        &env(),
    )
    .unwrap();
    let r = &s.policy.rules[0];
    assert_eq!(r.name, "rules[0]");
    assert_eq!(r.hosts, vec!["app.example.com", "*.example.org"]);
    assert_eq!(r.users, vec!["bob@example.com"]);
    assert!(r.trusted_device);
}

#[test]
fn host_patterns() {
    assert!(host_pattern_matches("app.example.com", "APP.example.com"));
    assert!(!host_pattern_matches("app.example.com", "xapp.example.com"));
    assert!(host_pattern_matches("*.example.com", "a.example.com"));
    assert!(host_pattern_matches("*.example.com", "a.b.Example.com"));
    assert!(!host_pattern_matches("*.example.com", "example.com"));
    assert!(!host_pattern_matches("*.example.com", "aexample.com"));
}

#[test]
fn cookie_security_follows_listener() {
    let c = load_str("", "t", &env()).unwrap().cookie;
    let lo: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let public: SocketAddr = "0.0.0.0:1".parse().unwrap();
    assert!(!c.is_secure(&lo, false));
    assert!(c.is_secure(&public, false));
    assert!(!c.is_secure(&public, true));
    assert_eq!(c.wire_name(true), "__Host-sekisho_session");
    assert_eq!(c.wire_name(false), "sekisho_session");
}

#[test]
fn tls_needs_readable_files_and_its_own_port() {
    let e = err("[tls]\nlisten = \"127.0.0.1:8443\"\n");
    assert_eq!(e.key, "tls.cert");
    let e = err("[tls]\nlisten = \"127.0.0.1:8443\"\ncert = \"/nonexistent.pem\"\nkey = \"/nonexistent.key\"\n");
    assert_eq!(e.key, "tls.cert");
    assert!(e.message.contains("/nonexistent.pem"), "{e}");
    let e = err("[tls]\ncert = \"a.pem\"\n");
    assert_eq!(e.key, "tls.listen");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.pem");
    std::fs::write(&f, "not checked here").unwrap();
    let f = f.display();
    let e = err(&format!(
        "[server]\nlisten = \"0.0.0.0:8443\"\n[tls]\nlisten = \"127.0.0.1:8443\"\ncert = \"{f}\"\nkey = \"{f}\"\n"
    ));
    assert_eq!(e.key, "tls.listen");
    assert!(e.message.contains("overlaps server.listen"), "{e}");
    let s = load_str(
        &format!("[tls]\nlisten = \"127.0.0.1:8443\"\ncert = \"{f}\"\nkey = \"{f}\"\nhsts = \"max-age=60\"\n"),
        "t.toml",
        &env(),
    )
    .unwrap();
    let t = s.tls.as_ref().unwrap();
    assert!(t.http2 && t.redirect_http);
    assert_eq!(t.hsts.as_deref(), Some("max-age=60"));
    assert!(
        s.cookies_secure(),
        "TLS makes cookies Secure even on a loopback listener"
    );
}
