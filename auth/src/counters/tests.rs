//! One suite for both backends, including the races the flows rely on.
use super::*;
use crate::clock::ManualClock;
use crate::redis_conn::RedisConn;
use sekisho_config::{RedisSettings, RedisTopology};
use sekisho_testkit::{RedisCluster, RedisServer};

fn redis_store(url: &str, prefix: &str) -> RedisCounterStore {
    RedisCounterStore::new(Arc::new(RedisConn::from_url(url).unwrap()), prefix)
}
use std::sync::Arc;

const T0: i64 = 1_700_000_000;

async fn suite(store: Arc<dyn CounterStore>) {
    assert_eq!(store.get("missing").await.unwrap(), None);
    store.put("a", b"one", 60).await.unwrap();
    assert_eq!(store.get("a").await.unwrap().as_deref(), Some(&b"one"[..]));
    store.put("a", b"two", 60).await.unwrap();
    assert_eq!(store.get("a").await.unwrap().as_deref(), Some(&b"two"[..]));

    assert!(!store.put_if_absent("a", b"three", 60).await.unwrap());
    assert!(store.put_if_absent("b", b"x", 60).await.unwrap());
    assert_eq!(store.get("a").await.unwrap().as_deref(), Some(&b"two"[..]));

    assert!(store.take("a").await.unwrap());
    assert!(!store.take("a").await.unwrap());
    assert_eq!(store.get("a").await.unwrap(), None);

    assert_eq!(store.incr("n", 60).await.unwrap(), 1);
    assert_eq!(store.incr("n", 60).await.unwrap(), 2);
    assert!(store.take("n").await.unwrap());
    assert_eq!(store.incr("n", 60).await.unwrap(), 1);

    // Exactly one of many parallel takers wins.
    store.put("race", b"code", 60).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.take("race").await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);

    // Parallel increments are all counted.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.incr("many", 60).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_suite() {
    let clock = Arc::new(ManualClock::new(T0));
    suite(Arc::new(MemoryCounterStore::new(1000, clock))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_passes_the_suite() {
    let redis = RedisServer::start();
    suite(Arc::new(redis_store(&redis.url(), "t:"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_store_passes_the_suite() {
    let cluster = RedisCluster::start();
    let conn = RedisConn::new(&RedisSettings {
        topology: RedisTopology::Cluster {
            nodes: cluster.nodes(),
        },
        ..RedisSettings::from_url("redis://unused/")
    })
    .unwrap();
    let store = Arc::new(RedisCounterStore::new(Arc::new(conn), "t:"));
    suite(store.clone()).await;
    for i in 0..30 {
        store.incr(&format!("spread:{i}"), 60).await.unwrap();
    }
    let spread = cluster.key_counts().iter().filter(|n| **n > 0).count();
    assert_eq!(spread, 3, "{:?}", cluster.key_counts());
}

#[tokio::test]
async fn memory_keys_expire_by_the_injected_clock() {
    let clock = Arc::new(ManualClock::new(T0));
    let store = MemoryCounterStore::new(1000, clock.clone());
    store.put("k", b"v", 10).await.unwrap();
    assert_eq!(store.incr("n", 10).await.unwrap(), 1);
    clock.advance(9);
    assert!(store.get("k").await.unwrap().is_some());
    clock.advance(1);
    assert_eq!(store.get("k").await.unwrap(), None);
    assert!(!store.take("k").await.unwrap());
    assert_eq!(
        store.incr("n", 10).await.unwrap(),
        1,
        "expired counter restarts"
    );
    assert!(store.put_if_absent("k", b"w", 10).await.unwrap());
}

#[tokio::test]
async fn memory_store_stays_bounded() {
    let clock = Arc::new(ManualClock::new(T0));
    let store = MemoryCounterStore::new(16, clock);
    for i in 0..1000 {
        store.put(&format!("k{i}"), b"v", 60 + i).await.unwrap();
    }
    assert!(store.len() <= 16);
    // The newest (latest-expiring) keys survive a flood.
    assert!(store.get("k999").await.unwrap().is_some());
}

#[tokio::test]
async fn redis_keys_are_prefixed_and_expire() {
    let redis = RedisServer::start();
    let store = redis_store(&redis.url(), "pfx:");
    store.put("code", b"v", 600).await.unwrap();
    store.incr("n", 3600).await.unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg("pfx:c:code")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!((590..=600).contains(&ttl), "ttl {ttl}");
    let ttl: i64 = redis::cmd("TTL")
        .arg("pfx:c:n")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!((3590..=3600).contains(&ttl), "ttl {ttl}");
}

#[tokio::test]
async fn redis_down_is_an_error_not_a_panic() {
    let port = sekisho_testkit::free_port();
    let store = redis_store(&format!("redis://127.0.0.1:{port}/"), "t:");
    assert!(matches!(
        store.get("k").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(store.incr("k", 10).await.is_err());
}
