//! The embedded counter store: a bounded map in this process, expiring by the injected
//! clock so tests that move time see keys vanish.
use super::CounterStore;
use crate::clock::{Clock, UnixTime};
use crate::error::StoreError;
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

enum Value {
    Bytes(Vec<u8>),
    Count(u64),
}

struct Entry {
    value: Value,
    expires_at: UnixTime,
}

pub struct MemoryCounterStore {
    map: Mutex<HashMap<String, Entry>>,
    clock: Arc<dyn Clock>,
    capacity: usize,
}

impl MemoryCounterStore {
    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            clock,
            capacity: capacity.max(16),
        }
    }

    fn live<'a>(
        map: &'a mut HashMap<String, Entry>,
        key: &str,
        now: UnixTime,
    ) -> Option<&'a mut Entry> {
        if map.get(key).is_some_and(|e| e.expires_at <= now) {
            map.remove(key);
        }
        map.get_mut(key)
    }

    /// Keeps memory bounded under a flood: expired entries go first, then the ones
    /// closest to expiry.
    fn make_room(&self, map: &mut HashMap<String, Entry>, now: UnixTime) {
        if map.len() < self.capacity {
            return;
        }
        map.retain(|_, e| e.expires_at > now);
        while map.len() >= self.capacity {
            let Some(k) = map
                .iter()
                .min_by_key(|(_, e)| e.expires_at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&k);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().len()
    }

    fn expiry(&self, ttl_secs: u64) -> UnixTime {
        self.clock
            .now()
            .saturating_add(i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX))
    }
}

#[async_trait]
impl CounterStore for MemoryCounterStore {
    async fn put(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut map = self.map.lock();
        if !map.contains_key(key) {
            self.make_room(&mut map, now);
        }
        map.insert(
            key.to_string(),
            Entry {
                value: Value::Bytes(value.to_vec()),
                expires_at: self.expiry(ttl_secs),
            },
        );
        Ok(())
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl_secs: u64,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut map = self.map.lock();
        if Self::live(&mut map, key, now).is_some() {
            return Ok(false);
        }
        self.make_room(&mut map, now);
        map.insert(
            key.to_string(),
            Entry {
                value: Value::Bytes(value.to_vec()),
                expires_at: self.expiry(ttl_secs),
            },
        );
        Ok(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = self.clock.now();
        let mut map = self.map.lock();
        Ok(match Self::live(&mut map, key, now).map(|e| &e.value) {
            Some(Value::Bytes(b)) => Some(b.clone()),
            Some(Value::Count(n)) => Some(n.to_string().into_bytes()),
            None => None,
        })
    }

    async fn take(&self, key: &str) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut map = self.map.lock();
        let live = Self::live(&mut map, key, now).is_some();
        map.remove(key);
        Ok(live)
    }

    async fn incr(&self, key: &str, ttl_secs: u64) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let mut map = self.map.lock();
        if let Some(entry) = Self::live(&mut map, key, now) {
            return match &mut entry.value {
                Value::Count(n) => {
                    *n = n.saturating_add(1);
                    Ok(*n)
                }
                Value::Bytes(_) => Err(StoreError::Corrupt(
                    "counter key holds a value, not a count".into(),
                )),
            };
        }
        self.make_room(&mut map, now);
        map.insert(
            key.to_string(),
            Entry {
                value: Value::Count(1),
                expires_at: self.expiry(ttl_secs),
            },
        );
        Ok(1)
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}
