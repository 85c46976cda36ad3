//! Session lookup on a hit, as the proxy does it: find the cookie, hash it into a
//! key, `SessionService::resolve` (store read + validity check).
use criterion::{BenchmarkId, Criterion};
use sekisho_auth::session::SessionSubject;
use sekisho_auth::{
    AuthLevel, Clock, MemorySessionStore, MfaMethod, SessionCache, SessionCacheSettings, SessionId,
    SessionKey, SessionService, SessionStore, SessionTimeouts, SystemClock,
};
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The store the sessions live in; with `cached`, the service answers from the local
/// session cache a gateway on Redis puts in front (a hit never reaches the store).
fn store_under_test(capacity: usize, clock: Arc<dyn Clock>) -> Arc<dyn SessionStore> {
    Arc::new(MemorySessionStore::new(capacity, clock))
}

/// Polls a future that never waits (the memory store's) to completion, without a
/// runtime's overhead in the measurement.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the session store waited"),
    }
}

fn filled(n: usize, cached: bool) -> (SessionService, Vec<SessionId>) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let timeouts = SessionTimeouts {
        idle: Duration::from_secs(8 * 3600),
        lifetime: Duration::from_secs(12 * 3600),
    };
    let mut service = SessionService::new(
        store_under_test(n + 1, clock.clone()),
        clock.clone(),
        timeouts,
    );
    if cached {
        let cache = Arc::new(SessionCache::new(
            SessionCacheSettings {
                capacity: n + 1,
                max_age: 30,
                outage_grace: 0,
            },
            clock,
        ));
        // As when the revocation listener is subscribed.
        cache.set_listening(true);
        service = service.with_cache(cache);
    }
    let groups = vec!["staff".to_string(), "admins".to_string()];
    let ids = (0..n)
        .map(|i| {
            let (user_id, email) = (format!("u-{i}"), format!("user{i}@example.com"));
            let who = SessionSubject {
                user_id: &user_id,
                email: &email,
                display_name: "山田 太郎",
                groups: &groups,
                credential_version: 1,
            };
            ready(service.start_with(
                who,
                AuthLevel::Mfa,
                Some(MfaMethod::Totp),
                false,
                Some("203.0.113.9".into()),
                Some("Mozilla/5.0"),
            ))
            .unwrap()
            .0
        })
        .collect();
    (service, ids)
}

pub fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("session_lookup_hit");
    for n in [1_000, 100_000] {
        let (cached, cached_ids) = filled(n, true);
        let cached_key = cached_ids[n / 2].key();
        // The first lookup reads the store and fills the cache; the rest are hits.
        assert!(ready(cached.resolve(&cached_key)).unwrap().is_some());
        g.bench_with_input(
            BenchmarkId::new("cache_hit_resolve", n),
            &cached_key,
            |b, k| b.iter(|| ready(cached.resolve(black_box(k))).unwrap().is_some()),
        );
        let cache = cached.cache().unwrap();
        assert!(cache.counts().0 > 0, "the benchmark hit the cache");

        let (service, ids) = filled(n, false);
        let id = &ids[n / 2];
        let key = id.key();
        assert!(ready(service.resolve(&key)).unwrap().is_some());
        g.bench_with_input(BenchmarkId::new("store_get", n), &key, |b, k| {
            b.iter(|| ready(service.store().get(black_box(k))).unwrap().is_some())
        });
        g.bench_with_input(BenchmarkId::new("service_resolve", n), &key, |b, k| {
            b.iter(|| ready(service.resolve(black_box(k))).unwrap().is_some())
        });
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            format!("_ga=GA1.2.3.4; theme=dark; sekisho_csrf=abcdefghijklmnopqrstuvwxyz; sekisho_session={}", id.as_cookie_value())
                .parse()
                .unwrap(),
        );
        g.bench_with_input(
            BenchmarkId::new("cookie_to_session", n),
            &headers,
            |b, h| {
                b.iter(|| {
                    let key = sekisho_login_ui::cookies::find(black_box(h), "sekisho_session")
                        .and_then(SessionKey::from_cookie)
                        .unwrap();
                    ready(service.resolve(&key)).unwrap().is_some()
                })
            },
        );
    }
    g.finish();
}
