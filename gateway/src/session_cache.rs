//! The local session cache of a gateway on Redis: built from `[session.cache]`, kept
//! honest by a revocation listener on the I/O runtime, and reported on `/metrics`.
use crate::app::IoRuntime;
use sekisho_auth::{Clock, RedisConn, RevocationListener, SessionCache, SessionCacheSettings};
use sekisho_config::SessionSettings;
use std::fmt::Write;
use std::sync::Arc;

/// The cache and its listener for a Redis store (the memory store is in-process
/// already); `None` with `capacity = 0`.
pub fn start(
    settings: &SessionSettings,
    conn: Arc<RedisConn>,
    clock: &Arc<dyn Clock>,
    io: &IoRuntime,
) -> Option<Arc<SessionCache>> {
    let c = settings.cache;
    if c.capacity == 0 {
        return None;
    }
    let cache = Arc::new(SessionCache::new(
        SessionCacheSettings {
            capacity: c.capacity,
            max_age: c.max_age.as_secs() as i64,
            outage_grace: c.outage_grace.as_secs() as i64,
        },
        Arc::clone(clock),
    ));
    io.spawn(RevocationListener::new(conn, &settings.key_prefix, Arc::clone(&cache)).run());
    Some(cache)
}

/// The cache's series in the Prometheus text format.
pub fn render(cache: &SessionCache) -> String {
    let (hits, misses) = cache.counts();
    let mut out = String::new();
    for (name, kind, help, value) in [
        (
            "sekisho_session_cache_hits_total",
            "counter",
            "Session lookups answered by the local cache",
            hits,
        ),
        (
            "sekisho_session_cache_misses_total",
            "counter",
            "Session lookups the local cache passed to the store",
            misses,
        ),
        (
            "sekisho_session_cache_entries",
            "gauge",
            "Sessions held in the local cache",
            cache.len() as u64,
        ),
        (
            "sekisho_session_cache_listening",
            "gauge",
            "1 while revocations are heard (the cache answers), 0 while the listener reconnects",
            u64::from(cache.is_listening()),
        ),
    ] {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    }
    out
}
