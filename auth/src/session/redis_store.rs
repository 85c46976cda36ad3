//! The shared session store: Redis (standalone for now).
//!
//! Layout, every key under the configured prefix and with a TTL:
//! - `{prefix}session:{sha256-hex}` → the session as JSON, expiring with the session;
//! - `{prefix}user:{user_id}:sessions` → a set of the user's session hashes, for
//!   "sign out everywhere"; it lives as long as the longest session can.
//!
//! Every removal is also published on `{prefix}revocations` (see `revocations.rs`).
//!
//! The connection is opened lazily inside whichever Tokio runtime first uses the store
//! (Pingora runs its own runtimes) and reconnects by itself.
use super::revocations::Revocation;
use super::{Session, SessionKey, SessionStore};
use crate::clock::{Clock, UnixTime};
use crate::error::StoreError;
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

pub struct RedisSessionStore {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    prefix: String,
    /// Where every removal is announced, for the other instances' caches.
    channel: String,
    clock: Arc<dyn Clock>,
    /// TTL of the per-user index: the absolute session lifetime.
    index_ttl: u64,
}

impl RedisSessionStore {
    pub fn new(
        url: &str,
        prefix: &str,
        lifetime: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Unavailable(format!("bad Redis URL: {}", e.kind_str())))?;
        Ok(Self {
            client,
            conn: OnceCell::new(),
            prefix: prefix.to_string(),
            channel: super::revocations::channel(prefix),
            clock,
            index_ttl: lifetime.as_secs().max(1) + 60,
        })
    }

    /// A client for the revocation listener (pub/sub needs its own connection).
    pub fn client(&self) -> redis::Client {
        self.client.clone()
    }

    async fn conn(&self) -> Result<ConnectionManager, StoreError> {
        lazy_connection(&self.client, &self.conn).await
    }

    fn session_key(&self, key: &SessionKey) -> String {
        format!("{}session:{}", self.prefix, key.to_hex())
    }

    fn user_key(&self, user_id: &str) -> String {
        format!("{}user:{}:sessions", self.prefix, user_id)
    }

    fn ttl(&self, expires_at: UnixTime) -> u64 {
        (expires_at - self.clock.now()).max(1) as u64
    }
}

/// Opens the connection on first use, inside whichever runtime uses it first.
pub(crate) async fn lazy_connection(
    client: &redis::Client,
    cell: &OnceCell<ConnectionManager>,
) -> Result<ConnectionManager, StoreError> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(2))
        .set_number_of_retries(1);
    cell.get_or_try_init(|| async {
        ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(unavailable)
    })
    .await
    .cloned()
}

pub(crate) fn unavailable(e: redis::RedisError) -> StoreError {
    // Redis errors can echo the URL on connection failures; keep the kind and code.
    StoreError::Unavailable(format!(
        "redis: {} {}",
        e.kind_str(),
        e.code().unwrap_or("")
    ))
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
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
        let mut c = self.conn().await?;
        let user_key = self.user_key(&session.user_id);
        redis::pipe()
            .atomic()
            .set_ex(
                self.session_key(key),
                encode(session)?,
                self.ttl(expires_at),
            )
            .ignore()
            .sadd(&user_key, key.to_hex())
            .ignore()
            .expire(&user_key, self.index_ttl as i64)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Arc<Session>>, StoreError> {
        let mut c = self.conn().await?;
        let raw: Option<Vec<u8>> = c.get(self.session_key(key)).await.map_err(unavailable)?;
        raw.map(|b| decode(&b).map(Arc::new)).transpose()
    }

    async fn update(
        &self,
        key: &SessionKey,
        session: &Session,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn().await?;
        // SET … XX: only if it still exists, so a concurrent sign-out is not undone.
        let done: Option<String> = redis::cmd("SET")
            .arg(self.session_key(key))
            .arg(encode(session)?)
            .arg("EX")
            .arg(self.ttl(expires_at))
            .arg("XX")
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(done.is_some())
    }

    async fn remove(&self, key: &SessionKey, user_id: &str) -> Result<bool, StoreError> {
        let mut c = self.conn().await?;
        let (deleted,): (i64,) = redis::pipe()
            .atomic()
            .del(self.session_key(key))
            .srem(self.user_key(user_id), key.to_hex())
            .ignore()
            .publish(&self.channel, Revocation::Session(*key).encode())
            .ignore()
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(deleted > 0)
    }

    async fn remove_user(&self, user_id: &str) -> Result<usize, StoreError> {
        let mut c = self.conn().await?;
        let user_key = self.user_key(user_id);
        let members: Vec<String> = c.smembers(&user_key).await.map_err(unavailable)?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for m in &members {
            pipe.del(format!("{}session:{}", self.prefix, m));
        }
        pipe.del(&user_key).ignore();
        pipe.publish(
            &self.channel,
            Revocation::User(user_id.to_string()).encode(),
        )
        .ignore();
        let deleted: Vec<i64> = pipe.query_async(&mut c).await.map_err(unavailable)?;
        Ok(deleted.iter().filter(|d| **d > 0).count())
    }

    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, Arc<Session>)>, StoreError> {
        let mut c = self.conn().await?;
        let members: Vec<String> = c
            .smembers(self.user_key(user_id))
            .await
            .map_err(unavailable)?;
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = members
            .iter()
            .map(|m| format!("{}session:{}", self.prefix, m))
            .collect();
        let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
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
        let mut c = self.conn().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
