use crate::{load_str, RedisTopology, SessionStoreKind};
use std::collections::HashMap;
use std::time::Duration;

fn redis(text: &str, env: &HashMap<String, String>) -> Result<crate::RedisSettings, String> {
    let s = load_str(text, "t.toml", env).map_err(|e| e.to_string())?;
    match s.session.store {
        SessionStoreKind::Redis(r) => Ok(r),
        SessionStoreKind::Memory { .. } => Err("memory".into()),
    }
}

fn no_env() -> HashMap<String, String> {
    HashMap::new()
}

#[test]
fn a_url_alone_is_one_server_with_default_limits() {
    let r = redis(
        "[session]\nstore = \"rediss://u:pw@cache.internal:6380/2\"",
        &no_env(),
    )
    .unwrap();
    assert!(matches!(&r.topology, RedisTopology::Url(u) if u.expose().ends_with(":6380/2")));
    assert!(r.tls, "rediss:// means TLS");
    assert_eq!(r.command_timeout, Duration::from_secs(1));
    assert_eq!(r.connect_timeout, Duration::from_secs(1));
    assert!(!format!("{r:?}").contains("pw"), "{r:?}");
    assert_eq!(r.describe(), "rediss://u:***@cache.internal:6380/2");
}

#[test]
fn cluster_and_sentinel_take_their_nodes_from_the_table() {
    let r = redis(
        r#"
[session]
store = "redis"
[session.redis]
mode = "cluster"
nodes = ["10.0.0.1:7000", "10.0.0.2:7000"]
username = "sekisho"
tls = true
command_timeout = "250ms"
"#,
        &[("SEKISHO_REDIS_PASSWORD", "s3cret")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .unwrap();
    assert_eq!(
        r.topology,
        RedisTopology::Cluster {
            nodes: vec!["10.0.0.1:7000".into(), "10.0.0.2:7000".into()]
        }
    );
    assert_eq!(r.username.as_deref(), Some("sekisho"));
    assert_eq!(r.password.as_ref().unwrap().expose(), "s3cret");
    assert_eq!(r.command_timeout, Duration::from_millis(250));
    assert!(!format!("{r:?}").contains("s3cret"));
    assert!(!r.describe().contains("s3cret"));

    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "from-file\n").unwrap();
    let r = redis(
        &format!(
            r#"
[session]
store = "redis"
[session.redis]
mode = "sentinel"
sentinel_master = "mymaster"
nodes = ["[::1]:26379", "s2:26379"]
db = 3
password_file = "{}"
"#,
            pw.display()
        ),
        &no_env(),
    )
    .unwrap();
    assert_eq!(
        r.topology,
        RedisTopology::Sentinel {
            master: "mymaster".into(),
            sentinels: vec!["[::1]:26379".into(), "s2:26379".into()]
        }
    );
    assert_eq!(r.db, 3);
    assert_eq!(r.password.as_ref().unwrap().expose(), "from-file");
}

#[test]
fn mistakes_name_the_key() {
    let cases = [
        (
            "[session]\nstore = \"redis\"",
            "session.redis.nodes",
            "needs the servers",
        ),
        (
            "[session]\nstore = \"redis\"\n[session.redis]\nnodes = [\"a:1\", \"b:2\"]",
            "session.redis.nodes",
            "one server",
        ),
        (
            "[session]\nstore = \"redis\"\n[session.redis]\nnodes = [\"redis://a:1\"]",
            "session.redis.nodes[0]",
            "host:port",
        ),
        (
            "[session]\nstore = \"redis\"\n[session.redis]\nmode = \"sentinel\"\nnodes = [\"a:26379\"]",
            "session.redis.sentinel_master",
            "master's name",
        ),
        (
            "[session]\nstore = \"redis\"\n[session.redis]\nmode = \"cluster\"\nnodes = [\"a:1\"]\ndb = 2",
            "session.redis.db",
            "only has database 0",
        ),
        (
            "[session]\nstore = \"redis://a:1/0\"\n[session.redis]\nmode = \"cluster\"",
            "session.store",
            "set store = \"redis\"",
        ),
        (
            "[session]\nstore = \"redis\"\n[session.redis]\nnodes = [\"a:1\"]\nusername = \"u\"",
            "session.redis.password_file",
            "no password",
        ),
        (
            "[session]\nstore = \"redis\"\n[session.redis]\nnodes = [\"a:1\"]\ncommand_timeout = \"0s\"",
            "session.redis.command_timeout",
            "between",
        ),
        (
            "[session]\nstore = \"redis\"\n[session.redis]\nnodes = [\"a:1\"]\nca_file = \"/nonexistent/ca.pem\"",
            "session.redis.ca_file",
            "cannot read",
        ),
        (
            "[session]\n[session.redis]\nnodes = [\"a:1\"]",
            "session.redis",
            "memory",
        ),
        (
            "[session]\nstore = \"redis\"\n[session.redis]\nnodes = [\"a:1\"]\nmode = \"ring\"",
            "session.redis.mode",
            "unknown variant",
        ),
        (
            "[session]\nkey_prefix = \"{app}:\"",
            "session.key_prefix",
            "{ or }",
        ),
    ];
    for (text, key, words) in cases {
        let e = load_str(text, "t.toml", &no_env()).expect_err(text);
        assert_eq!(e.key, key, "{text}: {e}");
        assert!(e.to_string().contains(words), "{text}: {e}");
    }
}
