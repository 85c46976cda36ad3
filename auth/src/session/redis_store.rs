//! The shared session store in Redis: standalone, Sentinel or Cluster (see
//! [`RedisConn`]).
//!
//! Layout, every key under the configured prefix and with a TTL:
//! - `{prefix}session:{sha256-hex}` → the session as JSON, expiring with the session;
//! - `{prefix}user:{user_id}:sessions` → a set of the user's session hashes, for
//!   "sign out everywhere"; it lives as long as the longest session can.
//!
//! **Cluster safety.** A session is found by its cookie alone, so its key cannot
//! carry the user's hash tag, and the user's index cannot share a slot with all of
//! the user's sessions. Rather than tagging keys that would still live apart, no
//! command, script or transaction here touches more than one key; the two keys are
//! written in an order that keeps every interleaving and every half-done write safe:
//! - insert: index first, then the session. A crash in between leaves an index entry
//!   without a session, which every reader skips; never a session the index misses
//!   (that one would survive "sign out everywhere").
//! - remove: the session first, then its index entry (the same argument).
//! - remove all: read the index, delete each session, then remove exactly those
//!   entries (`SREM`, not `DEL`), so a session started meanwhile stays indexed.
//! - list: read the index, then the sessions, skipping entries whose session expired.
//!
//! The layout is the same on every topology, so moving from one Redis to a cluster
//! keeps the keys' meaning.
//!
//! Every removal is then published on `{prefix}revocations`, after the keys are gone,
//! for the other instances' session caches (see `revocations.rs`).
use super::revocations::{self, Revocation};
use super::{Session, SessionKey, SessionStore};
use crate::clock::{Clock, UnixTime};
use crate::error::StoreError;
use crate::redis_conn::RedisConn;
use async_trait::async_trait;
use redis::AsyncCommands;
use std::sync::Arc;
use std::time::Duration;

pub struct RedisSessionStore {
    conn: Arc<RedisConn>,
    prefix: String,
    /// Where every removal is announced, for the other instances' caches.
    channel: String,
    clock: Arc<dyn Clock>,
    /// TTL of the per-user index: the absolute session lifetime.
    index_ttl: u64,
    /// SADD and EXPIRE of the index as one step on its one key, so an index never
    /// lingers without a TTL.
    index_add: redis::Script,
}

impl RedisSessionStore {
    pub fn new(
        conn: Arc<RedisConn>,
        prefix: &str,
        lifetime: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            conn,
            prefix: prefix.to_string(),
            channel: revocations::channel(prefix),
            clock,
            index_ttl: lifetime.as_secs().max(1) + 60,
            index_add: redis::Script::new(
                "redis.call('SADD', KEYS[1], ARGV[1]) \
                 redis.call('EXPIRE', KEYS[1], ARGV[2]) \
                 return 1",
            ),
        }
    }

    fn session_key(&self, hex: &str) -> String {
        format!("{}session:{}", self.prefix, hex)
    }

    /// Tells every instance's cache; an error here is an error of the removal, so
    /// the caller does not report a revocation other caches may not have heard.
    async fn announce(&self, r: Revocation) -> Result<(), StoreError> {
        let (channel, message) = (self.channel.clone(), r.encode());
        self.conn
            .run(|mut c| async move { c.publish::<_, _, ()>(channel, message).await })
            .await
    }

    fn user_key(&self, user_id: &str) -> String {
        format!("{}user:{}:sessions", self.prefix, user_id)
    }

    fn ttl(&self, expires_at: UnixTime) -> u64 {
        (expires_at - self.clock.now()).max(1) as u64
    }

    async fn members(&self, user_key: &str) -> Result<Vec<String>, StoreError> {
        self.conn
            .run(|mut c| async move { c.smembers(user_key).await })
            .await
    }
}

fn decode(bytes: &[u8]) -> Result<Session, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode(session: &Session) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(session).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn insert(
        &self,
        key: &SessionKey,
        session: &Session,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        let hex = key.to_hex();
        let user_key = self.user_key(&session.user_id);
        let mut index = self.index_add.key(&user_key);
        index.arg(&hex).arg(self.index_ttl);
        self.conn
            .run(|mut c| async move { index.invoke_async::<i64>(&mut c).await })
            .await?;
        let session_key = self.session_key(&hex);
        let value = encode(session)?;
        let ttl = self.ttl(expires_at);
        self.conn
            .run(|mut c| async move { c.set_ex::<_, _, ()>(session_key, value, ttl).await })
            .await
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Arc<Session>>, StoreError> {
        let session_key = self.session_key(&key.to_hex());
        let raw: Option<Vec<u8>> = self
            .conn
            .run(|mut c| async move { c.get(session_key).await })
            .await?;
        raw.map(|b| decode(&b).map(Arc::new)).transpose()
    }

    async fn update(
        &self,
        key: &SessionKey,
        session: &Session,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        // SET … XX: only if it still exists, so a concurrent sign-out is not undone.
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.session_key(&key.to_hex()))
            .arg(encode(session)?)
            .arg("EX")
            .arg(self.ttl(expires_at))
            .arg("XX");
        let done: Option<String> = self
            .conn
            .run(|mut c| async move { cmd.query_async(&mut c).await })
            .await?;
        Ok(done.is_some())
    }

    async fn remove(&self, key: &SessionKey, user_id: &str) -> Result<bool, StoreError> {
        let hex = key.to_hex();
        let session_key = self.session_key(&hex);
        let deleted: i64 = self
            .conn
            .run(|mut c| async move { c.del(session_key).await })
            .await?;
        let user_key = self.user_key(user_id);
        self.conn
            .run(|mut c| async move { c.srem::<_, _, ()>(user_key, hex).await })
            .await?;
        self.announce(Revocation::Session(*key)).await?;
        Ok(deleted > 0)
    }

    async fn remove_user(&self, user_id: &str) -> Result<usize, StoreError> {
        let user_key = self.user_key(user_id);
        let members = self.members(&user_key).await?;
        if members.is_empty() {
            return Ok(0);
        }
        // A DEL of many keys: the cluster client splits it by slot and adds up.
        let keys: Vec<String> = members.iter().map(|m| self.session_key(m)).collect();
        let deleted: usize = self
            .conn
            .run(|mut c| async move { c.del(keys).await })
            .await?;
        self.conn
            .run(|mut c| async move { c.srem::<_, _, ()>(&user_key, members).await })
            .await?;
        self.announce(Revocation::User(user_id.to_string())).await?;
        Ok(deleted)
    }

    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, Arc<Session>)>, StoreError> {
        let members = self.members(&self.user_key(user_id)).await?;
        if members.is_empty() {
            return Ok(Vec::new());
        }
        // MGET: the cluster client splits it by slot and keeps the order.
        let keys: Vec<String> = members.iter().map(|m| self.session_key(m)).collect();
        let values: Vec<Option<Vec<u8>>> = self
            .conn
            .run(|mut c| async move { redis::cmd("MGET").arg(keys).query_async(&mut c).await })
            .await?;
        let mut out = Vec::new();
        for (m, v) in members.iter().zip(values) {
            if let (Some(k), Some(bytes)) = (SessionKey::from_hex(m), v) {
                out.push((k, Arc::new(decode(&bytes)?)));
            }
        }
        out.sort_by_key(|(_, s)| s.created_at);
        Ok(out)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // On a cluster PING goes to one node; a real key read checks that the
        // slot's owner answers (the key need not exist).
        let probe = format!("{}ping", self.prefix);
        self.conn
            .run(|mut c| async move { c.exists::<_, bool>(probe).await })
            .await
            .map(|_| ())
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
