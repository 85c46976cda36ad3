//! The embedded session store: a bounded map in this process.
//!
//! Records expire at the time the caller gives; expired records are invisible at once
//! and swept when the map is full. When it is still full, the record closest to
//! expiry is dropped, so memory stays bounded under a session-creation flood.
use super::{Session, SessionKey, SessionStore};
use crate::clock::{Clock, UnixTime};
use crate::error::StoreError;
use async_trait::async_trait;
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

struct Entry {
    session: Arc<Session>,
    expires_at: UnixTime,
}

#[derive(Default)]
struct Maps {
    sessions: HashMap<SessionKey, Entry>,
    by_user: HashMap<String, HashSet<SessionKey>>,
}

impl Maps {
    fn remove(&mut self, key: &SessionKey) -> Option<Entry> {
        let entry = self.sessions.remove(key)?;
        if let Some(set) = self.by_user.get_mut(&entry.session.user_id) {
            set.remove(key);
            if set.is_empty() {
                self.by_user.remove(&entry.session.user_id);
            }
        }
        Some(entry)
    }

    fn make_room(&mut self, now: UnixTime, capacity: usize) {
        if self.sessions.len() < capacity {
            return;
        }
        let expired: Vec<SessionKey> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in &expired {
            self.remove(k);
        }
        while self.sessions.len() >= capacity {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, e)| e.expires_at)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => {
                    self.remove(&k);
                }
                None => break,
            }
        }
    }
}

pub struct MemorySessionStore {
    maps: RwLock<Maps>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

impl MemorySessionStore {
    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            maps: RwLock::new(Maps::default()),
            capacity: capacity.max(1),
            clock,
        }
    }

    /// Live records, for metrics and tests.
    pub fn len(&self) -> usize {
        let now = self.clock.now();
        self.maps
            .read()
            .sessions
            .values()
            .filter(|e| e.expires_at > now)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn insert(
        &self,
        key: &SessionKey,
        session: &Session,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut maps = self.maps.write();
        maps.remove(key);
        maps.make_room(now, self.capacity);
        maps.by_user
            .entry(session.user_id.clone())
            .or_default()
            .insert(*key);
        maps.sessions.insert(
            *key,
            Entry {
                session: Arc::new(session.clone()),
                expires_at,
            },
        );
        Ok(())
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Arc<Session>>, StoreError> {
        let now = self.clock.now();
        let maps = self.maps.read();
        Ok(maps
            .sessions
            .get(key)
            .filter(|e| e.expires_at > now)
            .map(|e| Arc::clone(&e.session)))
    }

    async fn update(
        &self,
        key: &SessionKey,
        session: &Session,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut maps = self.maps.write();
        match maps.sessions.get_mut(key) {
            Some(e) if e.expires_at > now => {
                e.session = Arc::new(session.clone());
                e.expires_at = expires_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove(&self, key: &SessionKey, _user_id: &str) -> Result<bool, StoreError> {
        let now = self.clock.now();
        Ok(self
            .maps
            .write()
            .remove(key)
            .is_some_and(|e| e.expires_at > now))
    }

    async fn remove_user(&self, user_id: &str) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut maps = self.maps.write();
        let keys: Vec<SessionKey> = maps
            .by_user
            .get(user_id)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        Ok(keys
            .iter()
            .filter_map(|k| maps.remove(k))
            .filter(|e| e.expires_at > now)
            .count())
    }

    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, Arc<Session>)>, StoreError> {
        let now = self.clock.now();
        let maps = self.maps.read();
        let mut out: Vec<(SessionKey, Arc<Session>)> = maps
            .by_user
            .get(user_id)
            .into_iter()
            .flatten()
            .filter_map(|k| {
                maps.sessions
                    .get(k)
                    .filter(|e| e.expires_at > now)
                    .map(|e| (*k, Arc::clone(&e.session)))
            })
            .collect();
        out.sort_by_key(|(_, s)| s.created_at);
        Ok(out)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}
