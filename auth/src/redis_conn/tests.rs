//! The connection layer against real servers: ACL users, TLS with a private CA, the
//! time limits, and reconnecting after a restart.
use super::*;
use crate::counters::{CounterStore, RedisCounterStore};
use sekisho_config::SecretString;
use sekisho_testkit::{RedisServer, TestPki};
use std::sync::Arc;
use std::time::Instant;

fn node(node: String) -> RedisSettings {
    RedisSettings {
        topology: RedisTopology::Standalone { node },
        ..RedisSettings::from_url("redis://unused/")
    }
}

fn counters(s: &RedisSettings) -> RedisCounterStore {
    RedisCounterStore::new(Arc::new(RedisConn::new(s).unwrap()), "t:")
}

#[tokio::test]
async fn acl_user_and_password() {
    let redis = RedisServer::start_with_acl("sekisho", "pa55word");
    let mut s = node(redis.node());
    s.username = Some("sekisho".into());
    s.password = Some(SecretString::new("pa55word".into()));
    let store = counters(&s);
    assert_eq!(store.incr("n", 60).await.unwrap(), 1);

    s.password = Some(SecretString::new("wrong".into()));
    let err = counters(&s).incr("n", 60).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(!err.to_string().contains("wrong"), "{err}");
    let anonymous = counters(&node(redis.node())).get("n").await;
    assert!(anonymous.is_err(), "the default user is off");
}

#[tokio::test]
async fn tls_with_a_private_ca() {
    let pki = TestPki::new();
    let redis = RedisServer::start_tls(&pki);
    let tls_node = format!("127.0.0.1:{}", redis.tls_port.unwrap());
    let mut s = node(tls_node);
    s.tls = true;
    s.ca_file = Some(pki.ca.clone());
    let store = counters(&s);
    store.put("k", b"over tls", 60).await.unwrap();
    assert_eq!(
        store.get("k").await.unwrap().as_deref(),
        Some(&b"over tls"[..])
    );

    // The same server is not trusted without the CA.
    s.ca_file = None;
    assert!(counters(&s).get("k").await.is_err());
    // A rediss:// URL with the CA works as well.
    let mut by_url =
        RedisSettings::from_url(&format!("rediss://127.0.0.1:{}/0", redis.tls_port.unwrap()));
    by_url.tls = true;
    by_url.ca_file = Some(pki.ca.clone());
    assert_eq!(
        counters(&by_url).get("t:k").await.unwrap(),
        None,
        "other key, same server"
    );
}

#[tokio::test]
async fn a_silent_server_costs_at_most_the_command_timeout() {
    // Accepts connections (the kernel does) but never answers a byte.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut s = node(silent.local_addr().unwrap().to_string());
    s.connect_timeout = Duration::from_millis(300);
    s.command_timeout = Duration::from_millis(300);
    let store = counters(&s);
    for _ in 0..2 {
        let start = Instant::now();
        let err = store.get("k").await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "{:?}",
            start.elapsed()
        );
    }
}

#[tokio::test]
async fn a_restarted_server_is_used_again_without_a_new_client() {
    let redis = RedisServer::start_persistent();
    let store = counters(&node(redis.node()));
    store.put("kept", b"v", 600).await.unwrap();
    redis.kill();
    let start = Instant::now();
    assert!(store.get("kept").await.is_err());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    let value = loop {
        match store.get("kept").await {
            Ok(v) => break v,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("never reconnected: {e}"),
        }
    };
    assert_eq!(
        value.as_deref(),
        Some(&b"v"[..]),
        "the append-only file kept it"
    );
}

#[test]
fn debug_and_describe_hide_the_password() {
    let mut s = node("10.0.0.1:6379".into());
    s.password = Some(SecretString::new("hunter2".into()));
    let conn = RedisConn::new(&s).unwrap();
    assert!(!format!("{conn:?}").contains("hunter2"));
    assert_eq!(conn.describe(), "redis 10.0.0.1:6379");
    let url = RedisConn::from_url("redis://:hunter2@10.0.0.1:6379/0").unwrap();
    assert!(!url.describe().contains("hunter2"), "{}", url.describe());
    assert!(RedisConn::from_url("http://nope").is_err());
}
