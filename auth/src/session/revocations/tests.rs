use super::*;
use crate::clock::{Clock, SystemClock};
use crate::session::{
    AuthLevel, RedisSessionStore, SessionCacheSettings, SessionId, SessionService, SessionStore,
    SessionSubject, SessionTimeouts,
};
use sekisho_config::{RedisSettings, RedisTopology};
use sekisho_testkit::{RedisCluster, RedisServer};
use std::time::Instant;

#[test]
fn messages_round_trip_and_garbage_is_refused() {
    let k = SessionId::generate().key();
    for r in [Revocation::Session(k), Revocation::User("u-1:x".into())] {
        assert_eq!(Revocation::decode(&r.encode()), Some(r));
    }
    for bad in ["", "s:", "s:zz", "u:", "x:1", "nothing"] {
        assert_eq!(Revocation::decode(bad), None, "{bad}");
    }
}

/// One gateway instance: a service over the shared Redis with its own cache and
/// listener.
struct Instance {
    svc: SessionService,
    cache: Arc<SessionCache>,
    store: Arc<RedisSessionStore>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

fn instance(url: &str) -> Instance {
    instance_on(RedisConn::from_url(url).unwrap())
}

fn instance_on(conn: RedisConn) -> Instance {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let conn = Arc::new(conn);
    let store = Arc::new(RedisSessionStore::new(
        Arc::clone(&conn),
        "rv:",
        Duration::from_secs(3600),
        clock.clone(),
    ));
    let cache = Arc::new(SessionCache::new(
        SessionCacheSettings {
            capacity: 1000,
            max_age: 60,
            outage_grace: 0,
        },
        clock.clone(),
    ));
    let listener = tokio::spawn(RevocationListener::new(conn, "rv:", Arc::clone(&cache)).run());
    let timeouts = SessionTimeouts {
        idle: Duration::from_secs(3600),
        lifetime: Duration::from_secs(7200),
    };
    let svc = SessionService::new(store.clone(), clock, timeouts).with_cache(Arc::clone(&cache));
    Instance {
        svc,
        cache,
        store,
        listener,
    }
}

async fn until(what: &str, within: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

fn user(id: &str) -> SessionSubject<'_> {
    SessionSubject {
        user_id: id,
        email: "x@example.com",
        display_name: "X",
        groups: &[],
        credential_version: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_instance_reaches_the_others_cache_within_a_second() {
    let redis = RedisServer::start();
    two_instances(instance(&redis.url()), instance(&redis.url())).await;
}

/// On a cluster the two instances may publish and listen on different nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_cross_a_redis_cluster() {
    let cluster = RedisCluster::start();
    let on_cluster = |nodes: Vec<String>| {
        let settings = RedisSettings {
            topology: RedisTopology::Cluster { nodes },
            ..RedisSettings::from_url("redis://unused/")
        };
        instance_on(RedisConn::new(&settings).unwrap())
    };
    let mut reversed = cluster.nodes();
    reversed.reverse();
    two_instances(on_cluster(cluster.nodes()), on_cluster(reversed)).await;
}

async fn two_instances(a: Instance, b: Instance) {
    for i in [&a, &b] {
        until("listening", Duration::from_secs(5), || {
            i.cache.is_listening()
        })
        .await;
    }

    // Signed in on A, used on B: B now answers from its cache.
    let (id, _) = a
        .svc
        .start(user("u1"), AuthLevel::Mfa, None, None)
        .await
        .unwrap();
    let (other, _) = a
        .svc
        .start(user("u2"), AuthLevel::Mfa, None, None)
        .await
        .unwrap();
    for k in [id.key(), other.key()] {
        assert!(b.svc.resolve(&k).await.unwrap().is_some());
    }
    assert!(b.cache.get(&id.key()).is_some(), "cached on B");

    // Sign-out on A: B's copy goes, and B's next lookup finds nothing.
    assert!(a.svc.end(&id.key()).await.unwrap());
    let took = until("evicted on B", Duration::from_secs(1), || {
        b.cache.get(&id.key()).is_none()
    })
    .await;
    assert!(b.svc.resolve(&id.key()).await.unwrap().is_none());
    assert!(
        b.cache.get(&other.key()).is_some(),
        "other sessions stay cached"
    );

    // "Revoke all" written straight to the store (as the CLI does) reaches B too.
    let (again, _) = a
        .svc
        .start(user("u2"), AuthLevel::Mfa, None, None)
        .await
        .unwrap();
    assert!(b.svc.resolve(&again.key()).await.unwrap().is_some());
    assert_eq!(a.store.remove_user("u2").await.unwrap(), 2);
    until("user evicted on B", Duration::from_secs(1), || {
        b.cache.get(&other.key()).is_none() && b.cache.get(&again.key()).is_none()
    })
    .await;
    assert!(b.svc.resolve(&again.key()).await.unwrap().is_none());
    eprintln!("sign-out reached the other instance in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_disables_the_cache_until_it_is_back() {
    let redis = RedisServer::start();
    let a = instance(&redis.url());
    until("listening", Duration::from_secs(5), || {
        a.cache.is_listening()
    })
    .await;
    let (id, _) = a
        .svc
        .start(user("u"), AuthLevel::Mfa, None, None)
        .await
        .unwrap();
    assert!(a.svc.resolve(&id.key()).await.unwrap().is_some());
    assert!(a.cache.get(&id.key()).is_some());

    redis.kill();
    until("stopped listening", Duration::from_secs(3), || {
        !a.cache.is_listening()
    })
    .await;
    assert!(a.cache.get(&id.key()).is_none(), "no answers while deaf");
    assert!(a.svc.resolve(&id.key()).await.is_err(), "fails closed");

    redis.restart();
    until("listening again", Duration::from_secs(10), || {
        a.cache.is_listening()
    })
    .await;
    assert!(a.cache.is_empty(), "starts over after a gap");
}
