//! One suite, run against every backend.
use super::*;
use crate::clock::ManualClock;
use crate::redis_conn::RedisConn;
use sekisho_config::{RedisSettings, RedisTopology};
use sekisho_testkit::{RedisCluster, RedisSentinel, RedisServer};

fn redis_store(conn: RedisConn, prefix: &str, clock: Arc<ManualClock>) -> Arc<RedisSessionStore> {
    Arc::new(RedisSessionStore::new(
        Arc::new(conn),
        prefix,
        Duration::from_secs(3600),
        clock,
    ))
}

fn settings(topology: RedisTopology) -> RedisSettings {
    RedisSettings {
        topology,
        ..RedisSettings::from_url("redis://unused/")
    }
}

const T0: i64 = 1_700_000_000;

fn timeouts() -> SessionTimeouts {
    SessionTimeouts {
        idle: Duration::from_secs(600),
        lifetime: Duration::from_secs(3600),
    }
}

fn who(user_id: &str) -> SessionSubject<'_> {
    static GROUPS: [String; 0] = [];
    SessionSubject {
        user_id,
        email: "a@example.com",
        display_name: "A",
        groups: &GROUPS,
        credential_version: 1,
    }
}

/// A cache that is listening, as when the revocation listener is connected.
fn cache(clock: &Arc<ManualClock>) -> Arc<SessionCache> {
    let c = Arc::new(SessionCache::new(
        SessionCacheSettings {
            capacity: 100,
            max_age: 30,
            outage_grace: 0,
        },
        clock.clone(),
    ));
    c.set_listening(true);
    c
}

async fn suite(store: Arc<dyn SessionStore>, clock: Arc<ManualClock>) {
    suite_with(store, clock, None).await;
}

async fn suite_with(
    store: Arc<dyn SessionStore>,
    clock: Arc<ManualClock>,
    cache: Option<Arc<SessionCache>>,
) {
    let mut svc = SessionService::new(store.clone(), clock.clone(), timeouts());
    if let Some(c) = cache {
        svc = svc.with_cache(c);
    }
    store.ping().await.unwrap();

    // Start and resolve.
    let (id, s) = svc
        .start(
            who("u1"),
            AuthLevel::Password,
            Some("127.0.0.1".into()),
            Some("UA"),
        )
        .await
        .unwrap();
    assert_eq!(id.as_cookie_value().len(), 43);
    let got = svc.resolve(&id.key()).await.unwrap().expect("live session");
    assert_eq!(*got, s);
    assert_eq!(got.level, AuthLevel::Password);
    assert!(svc
        .resolve(&SessionId::generate().key())
        .await
        .unwrap()
        .is_none());

    // Touch: after the touch interval, last_seen moves forward in the store.
    clock.advance(120);
    let touched = svc.resolve(&id.key()).await.unwrap().unwrap();
    assert_eq!(touched.last_seen, T0 + 120);
    assert_eq!(
        store.get(&id.key()).await.unwrap().unwrap().last_seen,
        T0 + 120
    );

    // Idle timeout: 600 s after the last touch the session is gone, also from the store.
    clock.advance(599);
    assert!(svc.resolve(&id.key()).await.unwrap().is_some());
    clock.advance(601);
    assert!(svc.resolve(&id.key()).await.unwrap().is_none());
    assert!(store.get(&id.key()).await.unwrap().is_none());

    // Absolute lifetime: activity does not keep a session alive past it.
    let start = clock.now();
    let (id2, _) = svc
        .start(who("u2"), AuthLevel::Mfa, None, None)
        .await
        .unwrap();
    for _ in 0..11 {
        clock.advance(300);
        assert!(svc.resolve(&id2.key()).await.unwrap().is_some());
    }
    clock.set(start + 3600);
    assert!(svc.resolve(&id2.key()).await.unwrap().is_none());

    // Per-user index: revoke all.
    let (a, _) = svc
        .start(who("u3"), AuthLevel::Password, None, None)
        .await
        .unwrap();
    let (b, _) = svc
        .start(who("u3"), AuthLevel::Password, None, None)
        .await
        .unwrap();
    let (other, _) = svc
        .start(who("u4"), AuthLevel::Password, None, None)
        .await
        .unwrap();
    let listed = store.list_user("u3").await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|(k, _)| *k == a.key()));
    assert_eq!(svc.end_all("u3").await.unwrap(), 2);
    assert!(svc.resolve(&a.key()).await.unwrap().is_none());
    assert!(svc.resolve(&b.key()).await.unwrap().is_none());
    assert!(store.list_user("u3").await.unwrap().is_empty());
    assert!(
        svc.resolve(&other.key()).await.unwrap().is_some(),
        "other users keep theirs"
    );

    // Sign-out removes the record; a second sign-out finds nothing.
    assert!(svc.end(&other.key()).await.unwrap());
    assert!(!svc.end(&other.key()).await.unwrap());
    assert!(store.get(&other.key()).await.unwrap().is_none());

    // An update never resurrects a removed session.
    let (c, cs) = svc
        .start(who("u5"), AuthLevel::Password, None, None)
        .await
        .unwrap();
    assert!(store.remove(&c.key(), "u5").await.unwrap());
    assert!(!store
        .update(&c.key(), &cs, clock.now() + 100)
        .await
        .unwrap());
    assert!(store.get(&c.key()).await.unwrap().is_none());

    // Secrets stay out of Debug output.
    let printed = format!("{cs:?} {c:?}");
    assert!(!printed.contains(&cs.csrf_secret));
    assert!(!printed.contains(c.as_cookie_value()));

    // A completed second factor rotates the id and keeps the absolute lifetime.
    let (p, ps) = svc
        .start(who("u6"), AuthLevel::Partial, None, None)
        .await
        .unwrap();
    clock.advance(30);
    let (m, ms) = svc
        .elevate(&p.key(), &ps, crate::factors::MfaMethod::Totp)
        .await
        .unwrap();
    assert_ne!(m.as_cookie_value(), p.as_cookie_value());
    assert!(
        svc.resolve(&p.key()).await.unwrap().is_none(),
        "old id is void"
    );
    let got = svc.resolve(&m.key()).await.unwrap().unwrap();
    assert_eq!(got.level, AuthLevel::Mfa);
    assert_eq!(got.mfa_at, Some(clock.now()));
    assert_eq!(got.mfa_method, Some(crate::factors::MfaMethod::Totp));
    assert_eq!(got.created_at, ps.created_at);
    assert_ne!(ms.csrf_secret, ps.csrf_secret);
    assert!(AuthLevel::Partial < AuthLevel::Password);
}

#[tokio::test]
async fn memory_store_passes_the_suite() {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Arc::new(MemorySessionStore::new(1000, clock.clone()));
    suite(store, clock).await;
}

#[tokio::test]
async fn redis_store_passes_the_suite() {
    let redis = RedisServer::start();
    let clock = Arc::new(ManualClock::new(T0));
    let store = redis_store(
        RedisConn::from_url(&redis.url()).unwrap(),
        "t:",
        clock.clone(),
    );
    suite(store, clock).await;
}

/// The same suite through the local cache: every answer must be what the store alone
/// gives (sign-out, revoke-all, idle and expiry included).
#[tokio::test]
async fn cached_memory_and_redis_stores_pass_the_suite() {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Arc::new(MemorySessionStore::new(1000, clock.clone()));
    suite_with(store, clock.clone(), Some(cache(&clock))).await;

    let redis = RedisServer::start();
    let clock = Arc::new(ManualClock::new(T0));
    let store = redis_store(
        RedisConn::from_url(&redis.url()).unwrap(),
        "t:",
        clock.clone(),
    );
    suite_with(store, clock.clone(), Some(cache(&clock))).await;
}

/// Sessions and their per-user index live on different slots of a real cluster.
#[tokio::test]
async fn redis_cluster_store_passes_the_suite() {
    let cluster = RedisCluster::start();
    let clock = Arc::new(ManualClock::new(T0));
    let conn = RedisConn::new(&settings(RedisTopology::Cluster {
        nodes: cluster.nodes(),
    }))
    .unwrap();
    let store = redis_store(conn, "t:", clock.clone());
    suite(store.clone(), clock.clone()).await;
    // Many sessions of one user spread over the nodes, and all of them end together.
    let svc = SessionService::new(store.clone(), clock, timeouts());
    for _ in 0..12 {
        svc.start(who("many"), AuthLevel::Password, None, None)
            .await
            .unwrap();
    }
    assert_eq!(store.list_user("many").await.unwrap().len(), 12);
    let spread = cluster.key_counts().iter().filter(|n| **n > 0).count();
    assert!(
        spread >= 2,
        "keys on {spread} node(s): {:?}",
        cluster.key_counts()
    );
    assert_eq!(svc.end_all("many").await.unwrap(), 12);
    assert!(store.list_user("many").await.unwrap().is_empty());
}

/// Through a sentinel; after a failover the store follows the new master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sentinel_store_passes_the_suite_and_follows_a_failover() {
    let sentinel = RedisSentinel::start();
    let clock = Arc::new(ManualClock::new(T0));
    let conn = RedisConn::new(&settings(RedisTopology::Sentinel {
        master: RedisSentinel::MASTER.into(),
        sentinels: vec![sentinel.sentinel_node()],
    }))
    .unwrap();
    let store = redis_store(conn, "t:", clock.clone());
    suite(store.clone(), clock.clone()).await;
    let svc = SessionService::new(store.clone(), clock, timeouts());
    let (before, _) = svc
        .start(who("fo"), AuthLevel::Password, None, None)
        .await
        .unwrap();

    let new_master = tokio::task::spawn_blocking(move || {
        let port = sentinel.failover();
        (sentinel, port)
    })
    .await
    .unwrap();
    let (sentinel, port) = new_master;
    assert_eq!(port, sentinel.replica_port, "the replica was promoted");

    // The old connection breaks or answers READONLY; within a few calls the store
    // is writing to the new master, and the replicated session is still there.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let after = loop {
        match svc.start(who("fo"), AuthLevel::Password, None, None).await {
            Ok((id, _)) => break id,
            Err(StoreError::Unavailable(_)) => {
                assert!(std::time::Instant::now() < deadline, "never recovered");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(svc.resolve(&after.key()).await.unwrap().is_some());
    assert!(svc.resolve(&before.key()).await.unwrap().is_some());
    assert_eq!(store.list_user("fo").await.unwrap().len(), 2);
}

#[tokio::test]
async fn redis_keys_are_prefixed_hashed_and_expire() {
    let redis = RedisServer::start();
    let clock = Arc::new(ManualClock::new(T0));
    let store = redis_store(
        RedisConn::from_url(&redis.url()).unwrap(),
        "pfx:",
        clock.clone(),
    );
    let svc = SessionService::new(store, clock, timeouts());
    let (id, _) = svc
        .start(who("u1"), AuthLevel::Password, None, None)
        .await
        .unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut c)
        .await
        .unwrap();
    let session_key = format!("pfx:session:{}", id.key().to_hex());
    assert!(keys.contains(&session_key), "{keys:?}");
    assert!(
        keys.contains(&"pfx:user:u1:sessions".to_string()),
        "{keys:?}"
    );
    assert!(
        keys.iter().all(|k| !k.contains(id.as_cookie_value())),
        "cookie value never stored"
    );
    for k in &keys {
        let ttl: i64 = redis::cmd("TTL").arg(k).query_async(&mut c).await.unwrap();
        assert!(ttl > 0, "{k} has no TTL");
    }
    let ttl: i64 = redis::cmd("TTL")
        .arg(&session_key)
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        (590..=600).contains(&ttl),
        "session TTL follows the idle timeout: {ttl}"
    );
}

#[tokio::test]
async fn redis_down_is_an_error_not_a_panic() {
    let port = sekisho_testkit::free_port();
    let clock = Arc::new(ManualClock::new(T0));
    let conn = RedisConn::from_url(&format!("redis://127.0.0.1:{port}/0")).unwrap();
    let store = redis_store(conn, "x:", clock);
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(store.get(&SessionId::generate().key()).await.is_err());
}

#[tokio::test]
async fn memory_store_stays_bounded() {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Arc::new(MemorySessionStore::new(3, clock.clone()));
    let svc = SessionService::new(store.clone(), clock.clone(), timeouts());
    let mut ids = Vec::new();
    for _ in 0..5 {
        clock.advance(1);
        ids.push(
            svc.start(who("u"), AuthLevel::Password, None, None)
                .await
                .unwrap()
                .0,
        );
    }
    assert_eq!(store.len(), 3);
    // The ones closest to expiry (the oldest) were dropped.
    assert!(svc.resolve(&ids[0].key()).await.unwrap().is_none());
    assert!(svc.resolve(&ids[4].key()).await.unwrap().is_some());
}

#[test]
fn ids_and_keys() {
    let id = SessionId::generate();
    assert_eq!(SessionId::parse(id.as_cookie_value()), Some(id.clone()));
    assert!(SessionId::parse("short").is_none());
    assert!(SessionId::parse(&"a".repeat(42)).is_none());
    assert!(SessionId::parse(&format!("{}=", &"a".repeat(42))).is_none());
    assert!(SessionKey::from_cookie("../../etc/passwd").is_none());
    assert_eq!(
        SessionKey::from_cookie(id.as_cookie_value()),
        Some(id.key())
    );
    let hex = id.key().to_hex();
    assert_eq!(SessionKey::from_hex(&hex), Some(id.key()));
    assert!(SessionKey::from_hex("zz").is_none());
    assert_ne!(SessionId::generate(), SessionId::generate());
}
