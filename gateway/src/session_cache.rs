//! The local session cache of a gateway on Redis: built from `[session.cache]`, kept
//! honest by a revocation listener on the I/O runtime, and reported on `/metrics`.
use crate::app::{AppError, IoRuntime};
use sekisho_auth::{Clock, RevocationListener, SessionCache, SessionCacheSettings};
use sekisho_config::{SessionSettings, SessionStoreKind};
use std::fmt::Write;
use std::sync::Arc;

/// The cache and its listener, for a Redis store with a cache capacity; `None` for
/// the memory store (already in-process) or `capacity = 0`.
pub fn start(
    settings: &SessionSettings,
    clock: &Arc<dyn Clock>,
    io: &IoRuntime,
) -> Result<Option<Arc<SessionCache>>, AppError> {
    let SessionStoreKind::Redis { url } = &settings.store else {
        return Ok(None);
    };
    let c = settings.cache;
    if c.capacity == 0 {
        return Ok(None);
    }
    let cache = Arc::new(SessionCache::new(
        SessionCacheSettings {
            capacity: c.capacity,
            max_age: c.max_age.as_secs() as i64,
            outage_grace: c.outage_grace.as_secs() as i64,
        },
        Arc::clone(clock),
    ));
    let listener =
        RevocationListener::for_url(url.expose(), &settings.key_prefix, Arc::clone(&cache))
            .map_err(|e| AppError::Config(format!("session.store: {e}")))?;
    io.spawn(listener.run());
    Ok(Some(cache))
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
