use super::*;
use crate::clock::ManualClock;
use crate::error::StoreError;
use crate::session::{
    AuthLevel, MemorySessionStore, SessionId, SessionService, SessionStore, SessionSubject,
    SessionTimeouts,
};
use async_trait::async_trait;
use std::time::Duration;

const T0: i64 = 1_700_000_000;

fn settings(capacity: usize, outage_grace: i64) -> SessionCacheSettings {
    SessionCacheSettings {
        capacity,
        max_age: 30,
        outage_grace,
    }
}

fn session(user: &str) -> Arc<Session> {
    Arc::new(Session {
        user_id: user.into(),
        email: format!("{user}@example.com"),
        display_name: user.into(),
        groups: vec![],
        level: AuthLevel::Mfa,
        mfa_at: Some(T0),
        mfa_method: None,
        created_at: T0,
        last_seen: T0,
        ip: None,
        user_agent: None,
        device_id: None,
        csrf_secret: "c".into(),
        credential_version: 1,
        enrolment_due: false,
    })
}

fn listening(capacity: usize, clock: &Arc<ManualClock>) -> SessionCache {
    let c = SessionCache::new(settings(capacity, 0), clock.clone());
    c.set_listening(true);
    c
}

#[test]
fn answers_only_while_listening_and_within_max_age() {
    let clock = Arc::new(ManualClock::new(T0));
    let c = SessionCache::new(settings(10, 0), clock.clone());
    let k = SessionId::generate().key();
    c.put(&k, session("u"), c.ticket(&k));
    assert!(c.get(&k).is_none(), "not listening yet");

    c.set_listening(true);
    assert!(c.is_empty(), "a (re)connected listener starts from nothing");
    c.put(&k, session("u"), c.ticket(&k));
    assert_eq!(c.get(&k).unwrap().user_id, "u");
    clock.advance(29);
    assert!(c.get(&k).is_some());
    clock.advance(1);
    assert!(c.get(&k).is_none(), "max_age reached");

    c.put(&k, session("u"), c.ticket(&k));
    c.set_listening(false);
    assert!(c.get(&k).is_none(), "revocations could be missed");
    assert_eq!(c.counts(), (2, 1));
}

#[test]
fn a_read_overtaken_by_an_eviction_is_not_kept() {
    let clock = Arc::new(ManualClock::new(T0));
    let c = listening(10, &clock);
    let k = SessionId::generate().key();
    let ticket = c.ticket(&k);
    // The revocation arrives while the store read is in flight.
    c.evict(&k);
    c.put(&k, session("u"), ticket);
    assert!(c.get(&k).is_none());

    let ticket = c.ticket(&k);
    c.evict_user("someone-else");
    c.put(&k, session("u"), ticket);
    assert!(
        c.get(&k).is_none(),
        "a user-wide eviction bumps every shard"
    );

    c.put(&k, session("u"), c.ticket(&k));
    assert!(c.get(&k).is_some());
}

#[test]
fn evict_user_removes_only_that_users_sessions() {
    let clock = Arc::new(ManualClock::new(T0));
    let c = listening(100, &clock);
    let keys: Vec<_> = (0..20).map(|_| SessionId::generate().key()).collect();
    for (i, k) in keys.iter().enumerate() {
        let user = if i % 2 == 0 { "even" } else { "odd" };
        c.put(k, session(user), c.ticket(k));
    }
    c.evict_user("even");
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(c.get(k).is_some(), i % 2 == 1, "{i}");
    }
}

#[test]
fn stays_within_capacity() {
    let clock = Arc::new(ManualClock::new(T0));
    let c = listening(160, &clock);
    for _ in 0..5_000 {
        let k = SessionId::generate().key();
        c.put(&k, session("u"), c.ticket(&k));
    }
    assert!(c.len() <= 160, "{}", c.len());
    assert!(c.len() >= 100, "{}", c.len());
    let zero = listening(0, &clock);
    let k = SessionId::generate().key();
    zero.put(&k, session("u"), zero.ticket(&k));
    assert!(zero.is_empty());
}

/// A store that can be switched off, standing for an unreachable Redis.
struct Flaky {
    inner: MemorySessionStore,
    down: std::sync::atomic::AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("down".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SessionStore for Flaky {
    async fn insert(&self, k: &SessionKey, s: &Session, e: UnixTime) -> Result<(), StoreError> {
        self.check()?;
        self.inner.insert(k, s, e).await
    }
    async fn get(&self, k: &SessionKey) -> Result<Option<Arc<Session>>, StoreError> {
        self.check()?;
        self.inner.get(k).await
    }
    async fn update(&self, k: &SessionKey, s: &Session, e: UnixTime) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.update(k, s, e).await
    }
    async fn remove(&self, k: &SessionKey, u: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.remove(k, u).await
    }
    async fn remove_user(&self, u: &str) -> Result<usize, StoreError> {
        self.check()?;
        self.inner.remove_user(u).await
    }
    async fn list_user(&self, u: &str) -> Result<Vec<(SessionKey, Arc<Session>)>, StoreError> {
        self.check()?;
        self.inner.list_user(u).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.check()
    }
    fn name(&self) -> &'static str {
        "flaky"
    }
}

fn subject() -> SessionSubject<'static> {
    SessionSubject {
        user_id: "u",
        email: "u@example.com",
        display_name: "U",
        groups: &[],
        credential_version: 1,
    }
}

#[tokio::test]
async fn service_hits_the_cache_and_survives_an_outage_only_within_grace() {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Arc::new(Flaky {
        inner: MemorySessionStore::new(100, clock.clone()),
        down: Default::default(),
    });
    let timeouts = SessionTimeouts {
        idle: Duration::from_secs(3600),
        lifetime: Duration::from_secs(7200),
    };
    let run = |grace: i64| {
        let cache = Arc::new(SessionCache::new(settings(100, grace), clock.clone()));
        cache.set_listening(true);
        let svc = SessionService::new(store.clone(), clock.clone(), timeouts)
            .with_cache(Arc::clone(&cache));
        (svc, cache)
    };

    // Fail closed (grace 0): the store is asked once, then the cache answers; with the
    // store down and the cache entry too old, the error stands.
    store.down.store(false, Ordering::SeqCst);
    let (svc, cache) = run(0);
    let (id, _) = svc
        .start(subject(), AuthLevel::Mfa, None, None)
        .await
        .unwrap();
    assert!(svc.resolve(&id.key()).await.unwrap().is_some());
    assert!(svc.resolve(&id.key()).await.unwrap().is_some());
    assert_eq!(cache.counts(), (1, 1));
    store.down.store(true, Ordering::SeqCst);
    assert!(
        svc.resolve(&id.key()).await.is_ok(),
        "fresh entry needs no store"
    );
    clock.advance(31);
    assert!(matches!(
        svc.resolve(&id.key()).await,
        Err(StoreError::Unavailable(_))
    ));

    // With a 120 s grace the cached copy keeps answering while the store is down, but
    // not past the grace.
    store.down.store(false, Ordering::SeqCst);
    let (svc, _) = run(120);
    assert!(svc.resolve(&id.key()).await.unwrap().is_some());
    store.down.store(true, Ordering::SeqCst);
    clock.advance(60);
    assert!(svc.resolve(&id.key()).await.unwrap().is_some());
    clock.advance(60);
    assert!(svc.resolve(&id.key()).await.is_err());

    // Sign-out and revoke-all evict at once.
    store.down.store(false, Ordering::SeqCst);
    let (svc, _) = run(0);
    let (a, _) = svc
        .start(subject(), AuthLevel::Mfa, None, None)
        .await
        .unwrap();
    let (b, _) = svc
        .start(subject(), AuthLevel::Mfa, None, None)
        .await
        .unwrap();
    for k in [a.key(), b.key()] {
        assert!(svc.resolve(&k).await.unwrap().is_some());
    }
    assert!(svc.end(&a.key()).await.unwrap());
    assert!(svc.resolve(&a.key()).await.unwrap().is_none());
    assert!(svc.resolve(&b.key()).await.unwrap().is_some());
    svc.end_all("u").await.unwrap();
    assert!(svc.resolve(&b.key()).await.unwrap().is_none());
}
