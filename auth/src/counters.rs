//! The counter store: short-lived values shared by every gateway instance — one-time
//! codes (as MACs), attempt counters, rate windows — beside the sessions, in memory or
//! in Redis. Every key expires.
//!
//! The operations are the few atomic ones the flows need, so that "exactly one of two
//! parallel requests wins" holds on both backends:
//! - [`CounterStore::take`] deletes and reports whether *this* call deleted it;
//! - [`CounterStore::incr`] counts atomically and sets the expiry on creation;
//! - [`CounterStore::put_if_absent`] is a set-if-not-exists.
//!
//! Validity (code expiry, cool-downs) is decided by callers against the injected clock;
//! store expiry only collects garbage.
use crate::error::StoreError;
use async_trait::async_trait;

mod memory;
mod redis_store;

pub use memory::MemoryCounterStore;
pub use redis_store::RedisCounterStore;

#[async_trait]
pub trait CounterStore: Send + Sync + 'static {
    async fn put(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), StoreError>;
    /// Stores only when the key is absent; returns whether it stored.
    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl_secs: u64,
    ) -> Result<bool, StoreError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deletes the key; true only for the one caller that removed it.
    async fn take(&self, key: &str) -> Result<bool, StoreError>;
    /// Adds one and returns the new count; a new counter expires after `ttl_secs`.
    async fn incr(&self, key: &str, ttl_secs: u64) -> Result<u64, StoreError>;
    fn name(&self) -> &'static str;
}

#[cfg(test)]
mod tests;
