//! Store instrumentation: decorators around the App's [`SessionStore`] and
//! [`CounterStore`] that count and time every call.
//!
//! - `sekisho_store_operations_total{store, op, result}`: `store` is `session` or
//!   `counter`, `op` the trait method (`get`, `incr`, …), `result` `ok` or `error`;
//! - `sekisho_store_operation_duration_seconds{store, op}` (histogram);
//! - outages, through [`StoreHealth`].
//!
//! The session lookup runs on every protected request, so each operation's counters
//! and histogram are resolved once when the store is wrapped: a call costs two clock
//! reads and three atomic updates on top of the store itself.
use crate::metrics::{counter_vec, histogram_vec, SeriesResult};
use crate::store_health::StoreHealth;
use async_trait::async_trait;
use pingora_prometheus::prometheus::{
    Histogram, HistogramVec, IntCounter, IntCounterVec, Registry,
};
use sekisho_auth::{CounterStore, Session, SessionKey, SessionStore, StoreError, UnixTime};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// Store latency buckets (seconds): 50 µs (memory) to 1 s (a struggling Redis).
const STORE_BUCKETS: [f64; 12] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0,
];

pub struct StoreMetrics {
    operations: IntCounterVec,
    seconds: HistogramVec,
    /// Outages seen by calls of either store (one Redis serves both).
    pub health: Arc<StoreHealth>,
}

/// One operation's series.
#[derive(Clone)]
struct Op {
    ok: IntCounter,
    error: IntCounter,
    seconds: Histogram,
    health: Arc<StoreHealth>,
}

impl Op {
    async fn time<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let start = Instant::now();
        let result = call.await;
        self.seconds.observe(start.elapsed().as_secs_f64());
        match &result {
            Ok(_) => self.ok.inc(),
            Err(_) => self.error.inc(),
        }
        self.health.observe(&result);
        result
    }
}

impl StoreMetrics {
    pub fn new(registry: &Registry) -> SeriesResult<Self> {
        Ok(Self {
            operations: counter_vec(
                registry,
                "sekisho_store_operations_total",
                "Session and counter store calls by store, operation and result",
                &["store", "op", "result"],
            )?,
            seconds: histogram_vec(
                registry,
                "sekisho_store_operation_duration_seconds",
                "Session and counter store call latency by store and operation",
                &["store", "op"],
                &STORE_BUCKETS,
            )?,
            health: Arc::new(StoreHealth::new(registry)?),
        })
    }

    fn op(&self, store: &str, op: &str) -> SeriesResult<Op> {
        Ok(Op {
            ok: self
                .operations
                .get_metric_with_label_values(&[store, op, "ok"])?,
            error: self
                .operations
                .get_metric_with_label_values(&[store, op, "error"])?,
            seconds: self.seconds.get_metric_with_label_values(&[store, op])?,
            health: Arc::clone(&self.health),
        })
    }

    /// `inner`, counted and timed as `store="session"`.
    pub fn session_store(
        &self,
        inner: Arc<dyn SessionStore>,
    ) -> SeriesResult<Arc<dyn SessionStore>> {
        let op = |name| self.op("session", name);
        Ok(Arc::new(InstrumentedSessionStore {
            insert: op("insert")?,
            get: op("get")?,
            update: op("update")?,
            remove: op("remove")?,
            remove_user: op("remove_user")?,
            list_user: op("list_user")?,
            ping: op("ping")?,
            inner,
        }))
    }

    /// `inner`, counted and timed as `store="counter"`.
    pub fn counter_store(
        &self,
        inner: Arc<dyn CounterStore>,
    ) -> SeriesResult<Arc<dyn CounterStore>> {
        let op = |name| self.op("counter", name);
        Ok(Arc::new(InstrumentedCounterStore {
            put: op("put")?,
            put_if_absent: op("put_if_absent")?,
            get: op("get")?,
            take: op("take")?,
            incr: op("incr")?,
            inner,
        }))
    }
}

struct InstrumentedSessionStore {
    inner: Arc<dyn SessionStore>,
    insert: Op,
    get: Op,
    update: Op,
    remove: Op,
    remove_user: Op,
    list_user: Op,
    ping: Op,
}

#[async_trait]
impl SessionStore for InstrumentedSessionStore {
    async fn insert(
        &self,
        key: &SessionKey,
        session: &Session,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        self.insert
            .time(self.inner.insert(key, session, expires_at))
            .await
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Arc<Session>>, StoreError> {
        self.get.time(self.inner.get(key)).await
    }

    async fn update(
        &self,
        key: &SessionKey,
        session: &Session,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        self.update
            .time(self.inner.update(key, session, expires_at))
            .await
    }

    async fn remove(&self, key: &SessionKey, user_id: &str) -> Result<bool, StoreError> {
        self.remove.time(self.inner.remove(key, user_id)).await
    }

    async fn remove_user(&self, user_id: &str) -> Result<usize, StoreError> {
        self.remove_user.time(self.inner.remove_user(user_id)).await
    }

    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, Arc<Session>)>, StoreError> {
        self.list_user.time(self.inner.list_user(user_id)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.ping.time(self.inner.ping()).await
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

struct InstrumentedCounterStore {
    inner: Arc<dyn CounterStore>,
    put: Op,
    put_if_absent: Op,
    get: Op,
    take: Op,
    incr: Op,
}

#[async_trait]
impl CounterStore for InstrumentedCounterStore {
    async fn put(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), StoreError> {
        self.put.time(self.inner.put(key, value, ttl_secs)).await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl_secs: u64,
    ) -> Result<bool, StoreError> {
        self.put_if_absent
            .time(self.inner.put_if_absent(key, value, ttl_secs))
            .await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get.time(self.inner.get(key)).await
    }

    async fn take(&self, key: &str) -> Result<bool, StoreError> {
        self.take.time(self.inner.take(key)).await
    }

    async fn incr(&self, key: &str, ttl_secs: u64) -> Result<u64, StoreError> {
        self.incr.time(self.inner.incr(key, ttl_secs)).await
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sekisho_auth::{ManualClock, MemoryCounterStore};

    #[test]
    fn calls_are_counted_by_store_op_and_result() {
        let registry = Registry::new();
        let m = StoreMetrics::new(&registry).unwrap();
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let counters = m
            .counter_store(Arc::new(MemoryCounterStore::new(100, clock)))
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(counters.incr("k", 60).await.unwrap(), 1);
            assert_eq!(counters.incr("k", 60).await.unwrap(), 2);
            assert!(counters.take("k").await.unwrap());
            assert_eq!(counters.get("k").await.unwrap(), None);
        });
        assert_eq!(counters.name(), "memory");
        let text = crate::metrics::render(&registry);
        for line in [
            r#"sekisho_store_operations_total{op="incr",result="ok",store="counter"} 2"#,
            r#"sekisho_store_operations_total{op="take",result="ok",store="counter"} 1"#,
            r#"sekisho_store_operations_total{op="get",result="ok",store="counter"} 1"#,
            r#"sekisho_store_operations_total{op="put",result="error",store="counter"} 0"#,
            r#"sekisho_store_operation_duration_seconds_count{op="incr",store="counter"} 2"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
