//! Session revocations between instances. The Redis session store publishes every
//! removal on one channel; each gateway's [`RevocationListener`] evicts what the
//! messages name from its [`SessionCache`], so a sign-out or "revoke all" on one
//! instance reaches the caches of all the others within milliseconds.
//!
//! The listener pings its connection every second. When the connection is lost (or a
//! ping goes unanswered) it tells the cache, which stops answering until the listener
//! has subscribed again: a cache that might have missed a revocation never answers.
use super::cache::SessionCache;
use super::SessionKey;
use crate::redis_conn::RedisConn;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// What one message names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    Session(SessionKey),
    User(String),
}

impl Revocation {
    pub fn encode(&self) -> String {
        match self {
            Revocation::Session(k) => format!("s:{}", k.to_hex()),
            Revocation::User(u) => format!("u:{u}"),
        }
    }

    pub fn decode(msg: &str) -> Option<Self> {
        match msg.split_once(':')? {
            ("s", hex) => SessionKey::from_hex(hex).map(Revocation::Session),
            ("u", user) if !user.is_empty() => Some(Revocation::User(user.to_string())),
            _ => None,
        }
    }

    pub fn apply(&self, cache: &SessionCache) {
        match self {
            Revocation::Session(k) => cache.evict(k),
            Revocation::User(u) => cache.evict_user(u),
        }
    }
}

/// The channel for a key prefix.
pub fn channel(prefix: &str) -> String {
    format!("{prefix}revocations")
}

const PING_EVERY: Duration = Duration::from_secs(1);
const PING_TIMEOUT: Duration = Duration::from_millis(800);

pub struct RevocationListener {
    conn: Arc<RedisConn>,
    channel: String,
    cache: Arc<SessionCache>,
}

impl RevocationListener {
    pub fn new(conn: Arc<RedisConn>, prefix: &str, cache: Arc<SessionCache>) -> Self {
        Self {
            conn,
            channel: channel(prefix),
            cache,
        }
    }

    /// Listens until the task is dropped, reconnecting with a capped backoff.
    pub async fn run(self) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.listen_once().await {
                Ok(()) => backoff = Duration::from_millis(50),
                Err(e) => tracing::debug!(error = %e, "revocation listener reconnecting"),
            }
            self.cache.set_listening(false);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// One connection's life: subscribe, then apply messages until it fails.
    async fn listen_once(&self) -> Result<(), redis::RedisError> {
        let pubsub = tokio::time::timeout(Duration::from_secs(2), self.conn.pubsub())
            .await
            .map_err(|_| timeout_error("connect"))??;
        let (mut sink, mut stream) = pubsub.split();
        sink.subscribe(&self.channel).await?;
        self.cache.set_listening(true);
        tracing::info!(channel = %self.channel, "session revocations: listening");
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        loop {
            tokio::select! {
                msg = stream.next() => {
                    let Some(msg) = msg else { return Ok(()) };
                    let payload: String = msg.get_payload().unwrap_or_default();
                    match Revocation::decode(&payload) {
                        Some(r) => r.apply(&self.cache),
                        // Something we cannot read might have been a revocation.
                        None => self.cache.clear(),
                    }
                }
                _ = tick.tick() => {
                    // Subscribed (RESP2), PING answers ["pong", ""]: any answer will do.
                    tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>())
                        .await
                        .map_err(|_| timeout_error("ping"))??;
                }
            }
        }
    }
}

fn timeout_error(what: &'static str) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::IoError, "timed out", what.to_string()))
}

#[cfg(test)]
mod tests;
