//! One Redis connection layer for the session and counter stores, over the three
//! topologies Sekisho supports:
//!
//! - **standalone**: a [`ConnectionManager`], which reconnects by itself;
//! - **cluster**: a [`ClusterConnection`], which learns the slot map from the seed
//!   nodes, follows `MOVED`/`ASK` and reconnects by itself;
//! - **sentinel**: a multiplexed connection to the master the sentinels name. It is
//!   dropped on a connection error, a timeout or a `READONLY` answer (the old master
//!   was demoted), and the next call asks the sentinels again, so a failover is
//!   followed without a restart.
//!
//! Every call goes through [`RedisConn::run`], which bounds it: connecting by the
//! connect timeout, the command itself by the command timeout. An unreachable Redis
//! therefore turns into [`StoreError::Unavailable`] within about a second instead of
//! a request that hangs. The connection is opened lazily, inside whichever Tokio
//! runtime first uses it (Pingora runs its own runtimes), and never at construction,
//! so a gateway starts even while Redis is down and connects once it is back.
//!
//! TLS (`rediss://` or `tls = true`) uses rustls with the system's roots or the
//! configured CA; ACL users authenticate with `AUTH user password` on every new
//! connection. Errors keep only the kind and code: Redis errors may echo URLs.
use crate::error::StoreError;
use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisFuture, RedisResult, TlsCertificates, Value};
use sekisho_config::{RedisSettings, RedisTopology};
use std::fmt;
use std::future::Future;
use std::time::Duration;

/// How to reach the servers, built once from the settings.
enum Target {
    Standalone(redis::Client),
    /// The cluster client, and one plain client per seed node for pub/sub (a
    /// PUBLISH on any node reaches the subscribers of every node).
    Cluster(redis::cluster::ClusterClient, Vec<redis::Client>),
    Sentinel(Box<tokio::sync::Mutex<SentinelClient>>),
}

/// A live connection of any topology; cheap to clone (all share one socket set).
#[derive(Clone)]
pub(crate) enum Live {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(MultiplexedConnection),
}

impl ConnectionLike for Live {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Live::Standalone(c) => c.req_packed_command(cmd),
            Live::Cluster(c) => c.req_packed_command(cmd),
            Live::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Live::Standalone(c) => c.req_packed_commands(cmd, offset, count),
            Live::Cluster(c) => c.req_packed_commands(cmd, offset, count),
            Live::Sentinel(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Live::Standalone(c) => c.get_db(),
            Live::Cluster(c) => c.get_db(),
            Live::Sentinel(c) => c.get_db(),
        }
    }
}

/// The shared Redis client of a gateway: both stores use one.
pub struct RedisConn {
    target: Target,
    /// The current connection and its generation, so that a failed call only
    /// drops the connection it used, not a newer one.
    live: parking_lot::RwLock<Option<(u64, Live)>>,
    /// Serialises connecting; holds the last generation handed out.
    connecting: tokio::sync::Mutex<u64>,
    connect_timeout: Duration,
    command_timeout: Duration,
    describe: String,
}

impl fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConn")
            .field("target", &self.describe)
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

fn invalid(what: &str, e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {what}: {:?}", e.kind()))
}

/// A Redis error as a store error, without the details that may quote the URL.
pub(crate) fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {:?} {}", e.kind(), e.code().unwrap_or("")))
}

impl RedisConn {
    /// Prepares the client; nothing is connected until the first call.
    pub fn new(s: &RedisSettings) -> Result<Self, StoreError> {
        if s.tls {
            // Explicit, so that another crate enabling a second rustls provider
            // cannot leave rustls unable to pick one. Fails only if one is installed.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let certs = match &s.ca_file {
            Some(path) => Some(TlsCertificates {
                client_tls: None,
                root_cert: Some(std::fs::read(path).map_err(|e| {
                    StoreError::Unavailable(format!(
                        "redis: cannot read ca_file {}: {}",
                        path.display(),
                        e.kind()
                    ))
                })?),
            }),
            None => None,
        };
        let scheme = if s.tls { "rediss" } else { "redis" };
        let password = s.password.as_ref().map(|p| p.expose().to_string());
        let target = match &s.topology {
            RedisTopology::Url(url) => {
                let mut info = url
                    .expose()
                    .into_connection_info()
                    .map_err(|e| invalid("bad URL", e))?;
                if s.username.is_some() {
                    info.redis.username.clone_from(&s.username);
                }
                if password.is_some() {
                    info.redis.password.clone_from(&password);
                }
                Target::Standalone(standalone_client(info, certs)?)
            }
            RedisTopology::Standalone { node } => {
                let mut info = format!("{scheme}://{node}/{}", s.db)
                    .into_connection_info()
                    .map_err(|e| invalid("bad node", e))?;
                info.redis.username.clone_from(&s.username);
                info.redis.password.clone_from(&password);
                Target::Standalone(standalone_client(info, certs)?)
            }
            RedisTopology::Cluster { nodes } => {
                let urls: Vec<String> = nodes.iter().map(|n| format!("{scheme}://{n}")).collect();
                let mut b = redis::cluster::ClusterClientBuilder::new(urls)
                    .connection_timeout(s.connect_timeout)
                    .response_timeout(s.command_timeout)
                    // The caller's command timeout is the budget; no long retry loops.
                    .retries(2);
                if let Some(u) = &s.username {
                    b = b.username(u.clone());
                }
                if let Some(p) = &password {
                    b = b.password(p.clone());
                }
                if s.tls {
                    b = b.tls(redis::TlsMode::Secure);
                }
                if let Some(c) = certs.clone() {
                    b = b.certs(c);
                }
                let seeds = nodes
                    .iter()
                    .map(|n| {
                        let mut info = format!("{scheme}://{n}")
                            .into_connection_info()
                            .map_err(|e| invalid("bad node", e))?;
                        info.redis.username.clone_from(&s.username);
                        info.redis.password.clone_from(&password);
                        standalone_client(info, certs.clone())
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Target::Cluster(b.build().map_err(|e| invalid("cluster", e))?, seeds)
            }
            RedisTopology::Sentinel { master, sentinels } => {
                let addrs = sentinels
                    .iter()
                    .map(|n| {
                        format!("{scheme}://{n}")
                            .into_connection_info()
                            .map(|i| i.addr)
                            .map_err(|e| invalid("bad sentinel", e))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut b =
                    SentinelClientBuilder::new(addrs, master.clone(), SentinelServerType::Master)
                        .map_err(|e| invalid("sentinel", e))?
                        .set_client_to_redis_db(s.db);
                if let Some(u) = &s.username {
                    b = b.set_client_to_redis_username(u.clone());
                }
                if let Some(p) = &password {
                    b = b.set_client_to_redis_password(p.clone());
                }
                if s.tls {
                    b = b
                        .set_client_to_redis_tls_mode(redis::TlsMode::Secure)
                        .set_client_to_sentinel_tls_mode(redis::TlsMode::Secure);
                }
                if let Some(c) = certs {
                    b = b
                        .set_client_to_redis_certificates(c.clone())
                        .set_client_to_sentinel_certificates(c);
                }
                Target::Sentinel(Box::new(tokio::sync::Mutex::new(
                    b.build().map_err(|e| invalid("sentinel", e))?,
                )))
            }
        };
        Ok(Self {
            target,
            live: parking_lot::RwLock::new(None),
            connecting: tokio::sync::Mutex::new(0),
            connect_timeout: s.connect_timeout,
            command_timeout: s.command_timeout,
            describe: s.describe(),
        })
    }

    /// One plain server with default time limits (tests and tools).
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        Self::new(&RedisSettings::from_url(url))
    }

    /// Where this client connects, without secrets.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Runs one store operation on the current connection, within the time limits.
    pub(crate) async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Live) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let (generation, conn) =
            match tokio::time::timeout(self.connect_timeout, self.connection()).await {
                Ok(c) => c?,
                Err(_) => {
                    return Err(StoreError::Unavailable(format!(
                        "redis: no connection within {} ms",
                        self.connect_timeout.as_millis()
                    )))
                }
            };
        match tokio::time::timeout(self.command_timeout, op(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if is_stale_master(&e) {
                    self.forget(generation);
                }
                Err(unavailable(e))
            }
            Err(_) => {
                // A master that stopped answering may be failing over.
                self.forget(generation);
                Err(StoreError::Unavailable(format!(
                    "redis: no answer within {} ms",
                    self.command_timeout.as_millis()
                )))
            }
        }
    }

    async fn connection(&self) -> Result<(u64, Live), StoreError> {
        if let Some(live) = self.live.read().as_ref() {
            return Ok(live.clone());
        }
        let mut generation = self.connecting.lock().await;
        if let Some(live) = self.live.read().as_ref() {
            return Ok(live.clone());
        }
        let live = self.connect().await.map_err(unavailable)?;
        *generation += 1;
        *self.live.write() = Some((*generation, live.clone()));
        Ok((*generation, live))
    }

    async fn connect(&self) -> RedisResult<Live> {
        match &self.target {
            Target::Standalone(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(self.connect_timeout)
                    .set_response_timeout(self.command_timeout)
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(client.clone(), config)
                    .await
                    .map(Live::Standalone)
            }
            Target::Cluster(client, _) => client.get_async_connection().await.map(Live::Cluster),
            Target::Sentinel(sentinel) => {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(self.connect_timeout)
                    .set_response_timeout(self.command_timeout);
                sentinel
                    .lock()
                    .await
                    .get_async_connection_with_config(&config)
                    .await
                    .map(Live::Sentinel)
            }
        }
    }

    /// A connection of its own for pub/sub (the revocation listener): the server,
    /// the first cluster seed node that answers, or the master the sentinels name.
    pub async fn pubsub(&self) -> RedisResult<redis::aio::PubSub> {
        match &self.target {
            Target::Standalone(client) => client.get_async_pubsub().await,
            Target::Cluster(_, seeds) => {
                let mut last = None;
                for seed in seeds {
                    match seed.get_async_pubsub().await {
                        Ok(p) => return Ok(p),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| {
                    redis::RedisError::from((redis::ErrorKind::ClientError, "no cluster nodes"))
                }))
            }
            Target::Sentinel(sentinel) => {
                let client = sentinel.lock().await.async_get_client().await?;
                client.get_async_pubsub().await
            }
        }
    }

    /// Drops a Sentinel master connection that failed, so the next call asks the
    /// sentinels again. The other topologies heal their own connections.
    fn forget(&self, generation: u64) {
        if !matches!(self.target, Target::Sentinel(_)) {
            return;
        }
        let mut live = self.live.write();
        if live.as_ref().is_some_and(|(g, _)| *g == generation) {
            *live = None;
        }
    }
}

/// Errors after which the master we talk to may no longer be the master.
fn is_stale_master(e: &redis::RedisError) -> bool {
    e.kind() == redis::ErrorKind::ReadOnly
        || e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

fn standalone_client(
    info: redis::ConnectionInfo,
    certs: Option<TlsCertificates>,
) -> Result<redis::Client, StoreError> {
    match certs {
        Some(c) => redis::Client::build_with_tls(info, c).map_err(|e| invalid("TLS", e)),
        None => redis::Client::open(info).map_err(|e| invalid("bad URL", e)),
    }
}

#[cfg(test)]
mod tests;
