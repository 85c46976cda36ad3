//! The validated settings. Everything here has been checked: addresses parse, durations
//! are consistent, names are legal. Other crates take these types, never the schema.
use crate::redis::RedisSettings;
use crate::secret::{SecretBytes, SecretString};
use crate::values::{Action, FactorSet, HttpMethod, Lang};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::time::Duration;

pub use crate::abuse::{LockoutSettings, RateLimitSettings};
pub use crate::admin::{AdminRole, AdminSettings};
pub use crate::enrollment::{Deadline, EnrollmentMode, EnrollmentRuleSettings, RolloutSettings};
pub use crate::notify::{
    EmailSettings, EmailTransport, SmsBody, SmsMethod, SmsProvider, SmsSettings, SmtpSecurity,
    SmtpSettings,
};
pub use crate::observability::{LogFormat, LogSettings};
pub use crate::schema::CookieSecure;
pub use crate::sign_in::SignInSettings;
pub use crate::sites::{
    Balance, HashKey, HealthCheckSettings, PassiveHealthSettings, PoolSettings, UpstreamServer,
    UpstreamTls,
};
pub use crate::support::SupportSettings;
pub use crate::tls::{CertFiles, SniCert, TlsSettings};

#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the settings came from, for messages.
    pub source: String,
    pub server: ServerSettings,
    pub ui: UiSettings,
    pub session: SessionSettings,
    pub cookie: CookieSettings,
    pub database: DatabaseSettings,
    pub password: PasswordSettings,
    pub headers: IdentityHeaderNames,
    pub trusted_proxies: Vec<IpNet>,
    pub upstream: UpstreamSettings,
    pub sites: Vec<Site>,
    pub policy: PolicySettings,
    /// Server key for CSRF tokens and other MACs. `None` means a random per-process key.
    pub secret_key: Option<SecretBytes>,
    pub mfa: crate::mfa::MfaSettings,
    /// Seals TOTP secrets. `None`: the gateway keeps a key file beside a SQLite
    /// database, and refuses to start on PostgreSQL.
    pub encryption_key: Option<SecretBytes>,
    pub previous_encryption_keys: Vec<SecretBytes>,
    pub email: EmailSettings,
    pub sms: SmsSettings,
    /// `[[enrollment]]` rules in file order (first match wins).
    pub enrollment: Vec<EnrollmentRuleSettings>,
    pub rollout: RolloutSettings,
    /// `[support]`: the help desk shown on the help and error pages.
    pub support: SupportSettings,
    /// `[tls]`: the HTTPS listener, if any.
    pub tls: Option<TlsSettings>,
    pub lockout: LockoutSettings,
    pub rate_limit: RateLimitSettings,
    /// `[sign_in]`: new-browser/new-network notices and the history kept.
    pub sign_in: SignInSettings,
    /// `[admin]`: console roles, privileged accounts, reset request and link lifetimes.
    pub admin: AdminSettings,
    /// `[log]`: text or JSON, the access log, the level.
    pub log: LogSettings,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub admin_listen: Option<SocketAddr>,
    pub threads: usize,
    pub dev_mode: bool,
    pub grace_period: Duration,
    /// Absolute path of the Unix socket used for the listening-socket handover.
    pub upgrade_sock: std::path::PathBuf,
}

#[derive(Debug, Clone)]
pub struct UiSettings {
    /// Starts and ends with `/`, e.g. `/_sekisho/`.
    pub prefix: String,
    pub default_language: Lang,
    pub default_redirect: String,
    pub max_body_bytes: usize,
    pub title: String,
}

#[derive(Debug, Clone)]
pub enum SessionStoreKind {
    Memory { capacity: usize },
    Redis(RedisSettings),
}

#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub store: SessionStoreKind,
    pub key_prefix: String,
    pub idle_timeout: Duration,
    pub lifetime: Duration,
    pub cache: SessionCacheConfig,
}

/// The local session cache in front of Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCacheConfig {
    /// 0 turns the cache off.
    pub capacity: usize,
    /// How long a cached session answers without asking Redis (revocations evict
    /// sooner, through pub/sub).
    pub max_age: Duration,
    /// How long a cached session still answers while Redis cannot be reached; zero
    /// fails closed.
    pub outage_grace: Duration,
}

#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub name: String,
    pub secure: CookieSecure,
    pub domain: Option<String>,
}

impl CookieSettings {
    /// Whether cookies get the `Secure` attribute for a given proxy listener.
    pub fn is_secure(&self, listen: &SocketAddr, dev_mode: bool) -> bool {
        match self.secure {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            // No TLS listener exists yet, so a plain-HTTP listener is only trusted
            // without `Secure` where traffic cannot leave the machine or in dev mode.
            CookieSecure::Auto => !(listen.ip().is_loopback() || dev_mode),
        }
    }

    /// The cookie name on the wire: `__Host-` is added when the browser will accept it.
    pub fn wire_name(&self, secure: bool) -> String {
        if secure && self.domain.is_none() {
            format!("__Host-{}", self.name)
        } else {
            self.name.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub kind: DatabaseKind,
    pub url: SecretString,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub max_concurrent: usize,
    pub thread_priority: HashThreadPriority,
    pub queue: usize,
    pub min_length: usize,
    pub self_service_reset: bool,
    pub reset_link_ttl: std::time::Duration,
}

/// How the hashing threads compete with the proxy workers for the CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashThreadPriority {
    /// Linux `SCHED_IDLE`: a proxy worker that wakes up takes the core at once, so a
    /// sign-in storm does not add latency to proxied traffic. When every core is busy
    /// with proxying, sign-ins wait (and the queue answers "busy" when full).
    #[default]
    Idle,
    /// Nice 19: hashing yields to proxying but still gets a small share of a busy CPU.
    Low,
    /// The same priority as the proxy workers.
    Normal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeaderNames {
    pub user: String,
    pub email: String,
    pub groups: String,
    pub name: String,
}

impl IdentityHeaderNames {
    pub fn all(&self) -> [&str; 4] {
        [&self.user, &self.email, &self.groups, &self.name]
    }
}

#[derive(Debug, Clone, Copy)]
pub struct UpstreamSettings {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub idle_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Site {
    /// Lower-case host name without port, or `*.suffix`.
    pub host: String,
    /// The site's upstream servers, in file order.
    pub upstreams: Vec<UpstreamServer>,
    pub scheme: Option<String>,
    /// Balancing, health checks, retries and TLS for `upstreams`.
    pub pool: PoolSettings,
}

impl Site {
    pub fn matches(&self, host: &str) -> bool {
        host_pattern_matches(&self.host, host)
    }
}

/// `pattern` is an exact lower-case host or `*.suffix`; `host` may be any case.
pub fn host_pattern_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

#[derive(Debug, Clone)]
pub struct PolicySettings {
    pub default: Action,
    pub rules: Vec<RuleSettings>,
}

#[derive(Debug, Clone)]
pub struct RuleSettings {
    /// Given name, or `rules[N]`.
    pub name: String,
    /// Index in the file, for messages.
    pub index: usize,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub methods: Vec<HttpMethod>,
    pub networks: Vec<IpNet>,
    pub groups: Vec<String>,
    /// Lower-case e-mail addresses.
    pub users: Vec<String>,
    pub action: Action,
    pub max_mfa_age: Option<Duration>,
    pub trusted_device: bool,
    /// Factors accepted by a `two_factor` rule.
    pub mfa_methods: FactorSet,
}

impl Settings {
    /// Whether cookies get `Secure` (and `__Host-`): always with a TLS listener unless
    /// `cookie.secure = "never"`, else as [`CookieSettings::is_secure`] decides.
    pub fn cookies_secure(&self) -> bool {
        match self.cookie.secure {
            CookieSecure::Never => false,
            _ if self.tls.is_some() => true,
            _ => self
                .cookie
                .is_secure(&self.server.listen, self.server.dev_mode),
        }
    }

    /// Where links in e-mails point when no browser request tells the host (reminders,
    /// the command line, background jobs): the first site with a concrete host. When
    /// that host is the listener's own loopback or unspecified address (the demo,
    /// development) browsers reach the listener directly, so its port is added.
    /// `None` when every site is a wildcard.
    pub fn public_base(&self) -> Option<String> {
        let site = self.sites.iter().find(|x| !x.host.starts_with("*."))?;
        let secure = self.cookies_secure();
        let scheme = site
            .scheme
            .clone()
            .unwrap_or_else(|| if secure { "https" } else { "http" }.to_string());
        let direct = site.host == "localhost"
            || site
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip == self.server.listen.ip());
        Some(if direct {
            format!("{scheme}://{}:{}", site.host, self.server.listen.port())
        } else {
            format!("{scheme}://{}", site.host)
        })
    }
}
