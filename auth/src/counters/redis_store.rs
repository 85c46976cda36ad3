//! The shared counter store in Redis: `{prefix}c:{key}`, every key with a TTL.
//!
//! Every operation touches exactly one key (the increment script names it in
//! `KEYS[1]`), so the store works unchanged on a Redis Cluster: related counters need
//! no common hash tag because nothing reads or writes two of them in one step.
use super::CounterStore;
use crate::error::StoreError;
use crate::redis_conn::RedisConn;
use async_trait::async_trait;
use redis::AsyncCommands;
use std::sync::Arc;

pub struct RedisCounterStore {
    conn: Arc<RedisConn>,
    prefix: String,
    incr_script: redis::Script,
}

impl RedisCounterStore {
    pub fn new(conn: Arc<RedisConn>, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_string(),
            // INCR and the first EXPIRE must be one step, or a crash between them
            // would leave a counter that never expires.
            incr_script: redis::Script::new(
                "local n = redis.call('INCR', KEYS[1]) \
                 if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end \
                 return n",
            ),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}c:{}", self.prefix, key)
    }
}

#[async_trait]
impl CounterStore for RedisCounterStore {
    async fn put(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), StoreError> {
        let key = self.key(key);
        self.conn
            .run(|mut c| async move { c.set_ex::<_, _, ()>(key, value, ttl_secs.max(1)).await })
            .await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl_secs: u64,
    ) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(value)
            .arg("EX")
            .arg(ttl_secs.max(1))
            .arg("NX");
        let done: Option<String> = self
            .conn
            .run(|mut c| async move { cmd.query_async(&mut c).await })
            .await?;
        Ok(done.is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.key(key);
        self.conn.run(|mut c| async move { c.get(key).await }).await
    }

    async fn take(&self, key: &str) -> Result<bool, StoreError> {
        let key = self.key(key);
        let n: i64 = self
            .conn
            .run(|mut c| async move { c.del(key).await })
            .await?;
        Ok(n > 0)
    }

    async fn incr(&self, key: &str, ttl_secs: u64) -> Result<u64, StoreError> {
        let key = self.key(key);
        let mut invocation = self.incr_script.key(key);
        invocation.arg(ttl_secs.max(1));
        let n: i64 = self
            .conn
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
