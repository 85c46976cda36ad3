//! The `[session.redis]` table: which Redis deployment holds sessions and counters
//! (one server, a Cluster, or a master found through Sentinel), how to authenticate
//! (ACL user and a password from the environment or a file, never from the TOML
//! itself), TLS, and the time limits that keep requests from hanging on an
//! unreachable Redis.
//!
//! `store = "redis://…"` alone still works and means one server at that URL; the
//! table can then add timeouts, a user, a password or a CA. `store = "redis"` takes
//! the servers from `nodes`.
use crate::load::{Validator, R};
use crate::secret::SecretString;
use crate::values::HumanDuration;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    #[default]
    Standalone,
    Cluster,
    Sentinel,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSection {
    #[serde(default)]
    pub mode: RedisMode,
    /// `host:port` of the server (standalone), of some cluster nodes (the rest are
    /// discovered), or of the sentinels.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// The master's name as the sentinels know it (`sentinel` mode).
    #[serde(default)]
    pub sentinel_master: Option<String>,
    /// Logical database (not in cluster mode).
    #[serde(default)]
    pub db: Option<i64>,
    /// ACL user; the password comes from `SEKISHO_REDIS_PASSWORD[_FILE]` or
    /// `password_file`.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_file: Option<String>,
    /// TLS to every node (`rediss://`).
    #[serde(default)]
    pub tls: bool,
    /// PEM file of the CA that signed the servers' certificates, instead of the
    /// system's trust store.
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default = "default_timeout")]
    pub connect_timeout: HumanDuration,
    /// The longest any one store call may take before the request gets the
    /// "temporarily unavailable" answer.
    #[serde(default = "default_timeout")]
    pub command_timeout: HumanDuration,
}

impl Default for RedisSection {
    fn default() -> Self {
        Self {
            mode: RedisMode::default(),
            nodes: Vec::new(),
            sentinel_master: None,
            db: None,
            username: None,
            password_file: None,
            tls: false,
            ca_file: None,
            connect_timeout: default_timeout(),
            command_timeout: default_timeout(),
        }
    }
}

fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(1))
}

/// Where the servers are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTopology {
    /// `store = "redis://…"`: one server at that URL, which may carry a user, a
    /// password, a database and TLS (`rediss://`).
    Url(SecretString),
    Standalone {
        node: String,
    },
    /// Seed nodes; the client learns the others and the slot map from them.
    Cluster {
        nodes: Vec<String>,
    },
    Sentinel {
        master: String,
        sentinels: Vec<String>,
    },
}

/// A validated Redis connection description. `Debug` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    pub topology: RedisTopology,
    pub db: i64,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub tls: bool,
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

impl RedisSettings {
    /// One plain server at `url` with default timeouts (tests, tools).
    pub fn from_url(url: &str) -> Self {
        Self {
            topology: RedisTopology::Url(SecretString::new(url.to_string())),
            db: 0,
            username: None,
            password: None,
            tls: false,
            ca_file: None,
            connect_timeout: default_timeout().0,
            command_timeout: default_timeout().0,
        }
    }

    /// Where the store is, without secrets: for `check-config` and logs.
    pub fn describe(&self) -> String {
        let tls = if self.tls { " (TLS)" } else { "" };
        match &self.topology {
            RedisTopology::Url(url) => crate::secret::redact_url(url.expose()),
            RedisTopology::Standalone { node } => format!("redis {node}{tls}"),
            RedisTopology::Cluster { nodes } => {
                format!("redis cluster {}{tls}", nodes.join(", "))
            }
            RedisTopology::Sentinel { master, sentinels } => {
                format!("redis sentinel {master} via {}{tls}", sentinels.join(", "))
            }
        }
    }

    /// Whether two settings reach the same servers the same way, secrets compared by
    /// value (their `Debug` is redacted).
    pub fn same_as(&self, other: &Self) -> bool {
        let url = |s: &Self| match &s.topology {
            RedisTopology::Url(u) => Some(u.expose().to_string()),
            _ => None,
        };
        let password = |s: &Self| s.password.as_ref().map(|p| p.expose().to_string());
        self == other && url(self) == url(other) && password(self) == password(other)
    }
}

const MAX_TIMEOUT: Duration = Duration::from_secs(60);

impl Validator<'_> {
    /// `url` is `Some` for `store = "redis://…"`, `None` for `store = "redis"`.
    pub(crate) fn redis(
        &self,
        url: Option<String>,
        section: Option<RedisSection>,
    ) -> R<RedisSettings> {
        let r = section.unwrap_or_default();
        let key = |k: &str| format!("session.redis.{k}");
        let topology = match (url, r.mode) {
            (Some(url), RedisMode::Standalone) if r.nodes.is_empty() => {
                RedisTopology::Url(SecretString::new(url))
            }
            (Some(_), _) => {
                return Err(self.err(
                    "session.store",
                    "a redis:// URL names one server; for session.redis.nodes or another mode set store = \"redis\"",
                ))
            }
            (None, mode) => {
                if r.nodes.is_empty() {
                    return Err(self.err(
                        key("nodes"),
                        "store = \"redis\" needs the servers: nodes = [\"host:port\", …]",
                    ));
                }
                for (i, n) in r.nodes.iter().enumerate() {
                    if !is_host_port(n) {
                        return Err(self.err(
                            format!("session.redis.nodes[{i}]"),
                            format!("`{n}` must be host:port"),
                        ));
                    }
                }
                match mode {
                    RedisMode::Standalone => {
                        let [node] = <[String; 1]>::try_from(r.nodes).map_err(|_| {
                            self.err(
                                key("nodes"),
                                "standalone mode takes one server; use mode = \"cluster\" or \"sentinel\" for several",
                            )
                        })?;
                        RedisTopology::Standalone { node }
                    }
                    RedisMode::Cluster => RedisTopology::Cluster { nodes: r.nodes },
                    RedisMode::Sentinel => {
                        let master = r
                            .sentinel_master
                            .clone()
                            .filter(|m| !m.trim().is_empty())
                            .ok_or_else(|| {
                                self.err(
                                    key("sentinel_master"),
                                    "sentinel mode needs the master's name, e.g. \"mymaster\"",
                                )
                            })?;
                        RedisTopology::Sentinel {
                            master,
                            sentinels: r.nodes,
                        }
                    }
                }
            }
        };
        if r.sentinel_master.is_some() && r.mode != RedisMode::Sentinel {
            return Err(self.err(key("sentinel_master"), "only used with mode = \"sentinel\""));
        }
        let db = r.db.unwrap_or(0);
        if !(0..=1_000_000).contains(&db) {
            return Err(self.err(key("db"), "must be a database number, 0 or more"));
        }
        if db != 0 && r.mode == RedisMode::Cluster {
            return Err(self.err(key("db"), "Redis Cluster only has database 0"));
        }
        if db != 0 && matches!(topology, RedisTopology::Url(_)) {
            return Err(self.err(key("db"), "put the database in the URL: redis://host/1"));
        }
        let password = match self.env_secret("SEKISHO_REDIS_PASSWORD")? {
            Some(p) => Some(p),
            None => match &r.password_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map(|s| s.trim().to_string())
                        .map_err(|e| {
                            self.err(key("password_file"), format!("cannot read `{path}`: {e}"))
                        })?,
                ),
                None => None,
            },
        };
        let username = r.username.filter(|u| !u.is_empty());
        if username.is_some() && password.is_none() {
            return Err(self.err(
                key("password_file"),
                "session.redis.username is set but no password: set password_file or SEKISHO_REDIS_PASSWORD[_FILE]",
            ));
        }
        let ca_file = match r.ca_file {
            Some(path) => {
                if !std::path::Path::new(&path).is_file() {
                    return Err(self.err(key("ca_file"), format!("cannot read `{path}`")));
                }
                Some(PathBuf::from(path))
            }
            None => None,
        };
        let url_tls =
            matches!(&topology, RedisTopology::Url(u) if u.expose().starts_with("rediss://"));
        if ca_file.is_some() && !(r.tls || url_tls) {
            return Err(self.err(
                key("ca_file"),
                "a CA file is only used with tls = true (or a rediss:// URL)",
            ));
        }
        for (name, t) in [
            ("connect_timeout", r.connect_timeout.0),
            ("command_timeout", r.command_timeout.0),
        ] {
            if t.is_zero() || t > MAX_TIMEOUT {
                return Err(self.err(key(name), "must be between 1ms and 60s"));
            }
        }
        Ok(RedisSettings {
            topology,
            db,
            username,
            password: password.map(SecretString::new),
            tls: r.tls || url_tls,
            ca_file,
            connect_timeout: r.connect_timeout.0,
            command_timeout: r.command_timeout.0,
        })
    }
}

fn is_host_port(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    !host.is_empty() && !host.contains(['/', ' ', '@']) && port.parse::<u16>().is_ok_and(|p| p != 0)
}

#[cfg(test)]
mod tests;
