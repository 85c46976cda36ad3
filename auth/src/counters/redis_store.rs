//! The shared counter store in Redis: `{prefix}c:{key}`, every key with a TTL.
use super::CounterStore;
use crate::error::StoreError;
use crate::session::redis_store::{lazy_connection, unavailable};
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use tokio::sync::OnceCell;

pub struct RedisCounterStore {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    prefix: String,
    incr_script: redis::Script,
}

impl RedisCounterStore {
    pub fn new(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Unavailable(format!("bad Redis URL: {:?}", e.kind())))?;
        Ok(Self {
            client,
            conn: OnceCell::new(),
            prefix: prefix.to_string(),
            // INCR and the first EXPIRE must be one step, or a crash between them
            // would leave a counter that never expires.
            incr_script: redis::Script::new(
                "local n = redis.call('INCR', KEYS[1]) \
                 if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end \
                 return n",
            ),
        })
    }

    async fn conn(&self) -> Result<ConnectionManager, StoreError> {
        lazy_connection(&self.client, &self.conn).await
    }

    fn key(&self, key: &str) -> String {
        format!("{}c:{}", self.prefix, key)
    }
}

#[async_trait]
impl CounterStore for RedisCounterStore {
    async fn put(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        c.set_ex::<_, _, ()>(self.key(key), value, ttl_secs.max(1))
            .await
            .map_err(unavailable)
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl_secs: u64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn().await?;
        let done: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("EX")
            .arg(ttl_secs.max(1))
            .arg("NX")
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(done.is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.conn().await?;
        c.get(self.key(key)).await.map_err(unavailable)
    }

    async fn take(&self, key: &str) -> Result<bool, StoreError> {
        let mut c = self.conn().await?;
        let n: i64 = c.del(self.key(key)).await.map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn incr(&self, key: &str, ttl_secs: u64) -> Result<u64, StoreError> {
        let mut c = self.conn().await?;
        let n: i64 = self
            .incr_script
            .key(self.key(key))
            .arg(ttl_secs.max(1))
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
