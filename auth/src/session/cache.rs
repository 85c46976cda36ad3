//! A bounded in-process copy of recently used sessions, in front of a shared (Redis)
//! store, so that a proxied request usually costs no store round trip.
//!
//! Correctness rests on three rules:
//! - An entry is trusted for at most `max_age`, and only while revocations can be
//!   heard ([`SessionCache::set_listening`]): the Redis store publishes every removal,
//!   a listener evicts what they name, and when the listener loses its connection the
//!   cache stops answering until it is back (and then starts empty, since removals may
//!   have been missed).
//! - A copy read from the store is only kept if no eviction touched its shard while
//!   the read was in flight ([`SessionCache::ticket`]): otherwise a read that began
//!   before a revocation could put the revoked session back after it.
//! - Anything that would change the session (a `last_seen` write, idle or expired) is
//!   decided on the store's copy, never on the cached one, so two instances never
//!   disagree about an active session.
use super::{Session, SessionKey};
use crate::clock::{Clock, UnixTime};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

const SHARDS: usize = 16;

struct Entry {
    session: Arc<Session>,
    cached_at: UnixTime,
}

#[derive(Default)]
struct Shard {
    map: HashMap<SessionKey, Entry>,
    /// Bumped by every eviction in this shard.
    epoch: u64,
}

/// The shard's epoch before a store read; see [`SessionCache::put`].
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCacheSettings {
    /// Most entries held (spread over shards); 0 disables the cache.
    pub capacity: usize,
    /// Seconds an entry is trusted without asking the store.
    pub max_age: i64,
    /// Seconds an entry may still be used while the store cannot be reached (0: fail
    /// closed).
    pub outage_grace: i64,
}

pub struct SessionCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    settings: SessionCacheSettings,
    listening: AtomicBool,
    clock: Arc<dyn Clock>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("settings", &self.settings)
            .field("len", &self.len())
            .field("listening", &self.is_listening())
            .finish()
    }
}

impl SessionCache {
    /// A cache that answers nothing until a revocation listener says it is connected.
    pub fn new(settings: SessionCacheSettings, clock: Arc<dyn Clock>) -> Self {
        let per_shard = settings.capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard,
            settings,
            listening: AtomicBool::new(false),
            clock,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn settings(&self) -> SessionCacheSettings {
        self.settings
    }

    fn shard(&self, key: &SessionKey) -> &Mutex<Shard> {
        // The key is a SHA-256 digest: any byte is uniformly spread.
        &self.shards[key.0[31] as usize % SHARDS]
    }

    /// Called by the revocation listener: `false` when it lost its connection (the
    /// cache stops answering), `true` once subscribed again (the cache restarts empty).
    pub fn set_listening(&self, on: bool) {
        if on {
            self.clear();
        }
        self.listening.store(on, Ordering::SeqCst);
    }

    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    /// A cached session still within `max_age` and not revoked since it was cached.
    pub fn get(&self, key: &SessionKey) -> Option<Arc<Session>> {
        if !self.is_listening() {
            return None;
        }
        let found = self.lookup(key, self.settings.max_age);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// While the store is unreachable: an entry within `outage_grace`, listening or not
    /// (revocations cannot be written to an unreachable store either).
    pub fn get_during_outage(&self, key: &SessionKey) -> Option<Arc<Session>> {
        if self.settings.outage_grace <= 0 {
            return None;
        }
        self.lookup(key, self.settings.outage_grace)
    }

    fn lookup(&self, key: &SessionKey, max_age: i64) -> Option<Arc<Session>> {
        let now = self.clock.now();
        let shard = self.shard(key).lock();
        let e = shard.map.get(key)?;
        (now - e.cached_at < max_age).then(|| Arc::clone(&e.session))
    }

    /// Take before reading the store; [`Self::put`] then keeps the copy only if
    /// nothing in its shard was evicted meanwhile.
    pub fn ticket(&self, key: &SessionKey) -> Ticket {
        Ticket(self.shard(key).lock().epoch)
    }

    /// Remembers a session the store just returned (or accepted).
    pub fn put(&self, key: &SessionKey, session: Arc<Session>, ticket: Ticket) {
        if self.settings.capacity == 0 {
            return;
        }
        let now = self.clock.now();
        let mut shard = self.shard(key).lock();
        if shard.epoch != ticket.0 {
            return;
        }
        if shard.map.len() >= self.per_shard && !shard.map.contains_key(key) {
            let max_age = self.settings.max_age.max(self.settings.outage_grace);
            shard.map.retain(|_, e| now - e.cached_at < max_age);
            if shard.map.len() >= self.per_shard {
                // Still full of live entries: drop an arbitrary one (HashMap order is
                // randomised per process, so no client can aim at a victim).
                if let Some(victim) = shard.map.keys().next().copied() {
                    shard.map.remove(&victim);
                }
            }
        }
        shard.map.insert(
            *key,
            Entry {
                session,
                cached_at: now,
            },
        );
    }

    pub fn evict(&self, key: &SessionKey) {
        let mut shard = self.shard(key).lock();
        shard.epoch += 1;
        shard.map.remove(key);
    }

    /// Forgets every session of a user.
    pub fn evict_user(&self, user_id: &str) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.epoch += 1;
            shard.map.retain(|_, e| e.session.user_id != user_id);
        }
    }

    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.epoch += 1;
            shard.map.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (hits, misses) since start, for metrics.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests;
