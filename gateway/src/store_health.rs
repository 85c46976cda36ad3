//! Whether the session and counter store answers, as the calls themselves find out.
//!
//! The first call that finds the store unreachable starts an outage: one warning in
//! the log, `sekisho_store_available` drops to 0 and `sekisho_store_outages_total`
//! counts it. Further failures only count in `sekisho_store_operations_total{result="error"}`,
//! so a busy gateway does not log once per request. The first call that succeeds
//! again ends the outage with one log line that says how long it lasted. Reconnecting
//! is the store client's job (see `sekisho_auth::redis_conn`); nothing here retries.
//! Request handlers therefore log store failures at debug level only; each failed
//! request still has its `error page` line with the request id.
//!
//! A call that succeeds costs one relaxed atomic load.
use crate::metrics::SeriesResult;
use pingora_prometheus::prometheus::{IntCounter, IntGauge, Registry};
use sekisho_auth::StoreError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

pub struct StoreHealth {
    /// Where the store is (no secrets), for the log lines.
    target: std::sync::OnceLock<String>,
    down: AtomicBool,
    since: Mutex<Option<Instant>>,
    available: IntGauge,
    outages: IntCounter,
}

impl StoreHealth {
    pub fn new(registry: &Registry) -> SeriesResult<Self> {
        let available = IntGauge::new(
            "sekisho_store_available",
            "0 while the session/counter store is unreachable (since the last failed call), else 1",
        )?;
        registry.register(Box::new(available.clone()))?;
        let outages = IntCounter::new(
            "sekisho_store_outages_total",
            "Times the session/counter store became unreachable",
        )?;
        registry.register(Box::new(outages.clone()))?;
        available.set(1);
        Ok(Self {
            target: std::sync::OnceLock::new(),
            down: AtomicBool::new(false),
            since: Mutex::new(None),
            available,
            outages,
        })
    }

    /// Names the store in the outage log lines, e.g. `redis 10.0.0.5:6379`.
    pub fn set_target(&self, target: String) {
        let _ = self.target.set(target);
    }

    fn target(&self) -> &str {
        self.target.get().map_or("memory", String::as_str)
    }

    /// Notes the outcome of one store call.
    pub fn observe<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Ok(_) => {
                if self.down.load(Ordering::Relaxed) {
                    self.recovered();
                }
            }
            // A corrupt record is a data problem, not an unreachable store; rare
            // enough to log each one.
            Err(StoreError::Corrupt(why)) => {
                tracing::error!(error = why.as_str(), "corrupt record in the session store");
            }
            Err(StoreError::Unavailable(why)) => {
                if !self.down.load(Ordering::Relaxed) {
                    self.failed(why);
                }
            }
        }
    }

    /// Whether the last store call failed for want of a store.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    fn failed(&self, why: &str) {
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        if self.down.swap(true, Ordering::Relaxed) {
            return;
        }
        *since = Some(Instant::now());
        self.available.set(0);
        self.outages.inc();
        tracing::warn!(
            error = why,
            store = self.target(),
            "session store unreachable: protected routes answer 503 until it is back"
        );
    }

    fn recovered(&self) {
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        if !self.down.swap(false, Ordering::Relaxed) {
            return;
        }
        self.available.set(1);
        let seconds = since.take().map_or(0.0, |t| t.elapsed().as_secs_f64());
        tracing::info!(
            outage_seconds = format!("{seconds:.1}"),
            store = self.target(),
            "session store reachable again"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_outage_is_counted_once_and_ends_on_success() {
        let registry = Registry::new();
        let h = StoreHealth::new(&registry).unwrap();
        let down: Result<(), StoreError> = Err(StoreError::Unavailable("redis: IoError".into()));
        let corrupt: Result<(), StoreError> = Err(StoreError::Corrupt("bad json".into()));
        h.observe(&corrupt);
        assert!(!h.is_down(), "corrupt data is not an outage");
        for _ in 0..100 {
            h.observe(&down);
        }
        assert!(h.is_down());
        let text = crate::metrics::render(&registry);
        assert!(text.contains("sekisho_store_outages_total 1"), "{text}");
        assert!(text.contains("sekisho_store_available 0"), "{text}");
        h.observe(&Ok::<(), StoreError>(()));
        assert!(!h.is_down());
        h.observe(&down);
        let text = crate::metrics::render(&registry);
        assert!(text.contains("sekisho_store_outages_total 2"), "{text}");
        h.observe(&Ok::<(), StoreError>(()));
        let text = crate::metrics::render(&registry);
        assert!(text.contains("sekisho_store_available 1"), "{text}");
    }
}
