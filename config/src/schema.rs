//! The TOML file as written by operators. Every table rejects unknown keys; defaults
//! live here so that an empty file is a valid (if useless) configuration.
pub use crate::notify::{EmailSection, EmailTransportKind, SmsFields, SmsSection, SmtpSection};
pub use crate::sites::{HealthCheckSection, PassiveHealthSection, SiteSection};
use crate::values::{Action, Factor, HttpMethod, HumanDuration, Lang};
use ipnet::IpNet;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub ui: UiSection,
    #[serde(default)]
    pub session: SessionSection,
    #[serde(default)]
    pub cookie: CookieSection,
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default)]
    pub password: PasswordSection,
    #[serde(default)]
    pub headers: HeadersSection,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub upstream: UpstreamSection,
    #[serde(default)]
    pub secrets: SecretsSection,
    #[serde(default)]
    pub sites: Vec<SiteSection>,
    #[serde(default)]
    pub policy: PolicySection,
    #[serde(default)]
    pub rules: Vec<RuleSection>,
    #[serde(default)]
    pub mfa: crate::mfa::MfaSection,
    #[serde(default)]
    pub email: EmailSection,
    #[serde(default)]
    pub sms: SmsSection,
    #[serde(default)]
    pub enrollment: Vec<crate::enrollment::EnrollmentSection>,
    #[serde(default)]
    pub rollout: crate::enrollment::RolloutSection,
    #[serde(default)]
    pub support: crate::support::SupportSection,
    #[serde(default)]
    pub tls: crate::tls::TlsSection,
    #[serde(default)]
    pub lockout: crate::abuse::LockoutSection,
    #[serde(default)]
    pub rate_limit: crate::abuse::RateLimitSection,
    #[serde(default)]
    pub sign_in: crate::sign_in::SignInSection,
    #[serde(default)]
    pub log: crate::observability::LogSection,
    #[serde(default)]
    pub admin: crate::admin::AdminSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Metrics and health; `""` disables it.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: String,
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// Allows cookies without `Secure` on plain-HTTP listeners that are not loopback.
    #[serde(default)]
    pub dev_mode: bool,
    #[serde(default = "default_grace")]
    pub grace_period: HumanDuration,
    /// Where an old process hands its listening sockets to a new one (`run --upgrade`).
    #[serde(default = "default_upgrade_sock")]
    pub upgrade_sock: String,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            admin_listen: default_admin_listen(),
            threads: default_threads(),
            dev_mode: false,
            grace_period: default_grace(),
            upgrade_sock: default_upgrade_sock(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_admin_listen() -> String {
    "127.0.0.1:9090".into()
}
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
fn default_upgrade_sock() -> String {
    "/tmp/sekisho-upgrade.sock".into()
}
fn default_grace() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(5))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiSection {
    #[serde(default = "default_prefix")]
    pub prefix: String,
    #[serde(default)]
    pub default_language: Lang,
    /// Where sign-in lands when no `rd` was given.
    #[serde(default = "default_redirect")]
    pub default_redirect: String,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    #[serde(default = "default_title")]
    pub title: String,
}

impl Default for UiSection {
    fn default() -> Self {
        Self {
            prefix: default_prefix(),
            default_language: Lang::En,
            default_redirect: default_redirect(),
            max_body_bytes: default_max_body(),
            title: default_title(),
        }
    }
}

fn default_prefix() -> String {
    "/_sekisho/".into()
}
fn default_redirect() -> String {
    "/".into()
}
fn default_max_body() -> usize {
    64 * 1024
}
fn default_title() -> String {
    "Sekisho".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    /// `memory`, a `redis://` / `rediss://` URL, or `redis` (servers in `[session.redis]`).
    #[serde(default = "default_store")]
    pub store: String,
    /// Topology, credentials, TLS and time limits of the Redis store.
    #[serde(default)]
    pub redis: Option<crate::redis::RedisSection>,
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    #[serde(default = "default_capacity")]
    pub memory_capacity: usize,
    #[serde(default = "default_idle")]
    pub idle_timeout: HumanDuration,
    #[serde(default = "default_lifetime")]
    pub lifetime: HumanDuration,
    #[serde(default)]
    pub cache: SessionCacheSection,
}

impl Default for SessionSection {
    fn default() -> Self {
        Self {
            store: default_store(),
            redis: None,
            key_prefix: default_key_prefix(),
            memory_capacity: default_capacity(),
            idle_timeout: default_idle(),
            lifetime: default_lifetime(),
            cache: SessionCacheSection::default(),
        }
    }
}

/// `[session.cache]`: the in-process copy of recently used sessions (Redis store only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCacheSection {
    #[serde(default = "default_cache_capacity")]
    pub capacity: usize,
    #[serde(default = "default_cache_max_age")]
    pub max_age: HumanDuration,
    #[serde(default = "default_outage_grace")]
    pub outage_grace: HumanDuration,
}

impl Default for SessionCacheSection {
    fn default() -> Self {
        Self {
            capacity: default_cache_capacity(),
            max_age: default_cache_max_age(),
            outage_grace: default_outage_grace(),
        }
    }
}

fn default_cache_capacity() -> usize {
    100_000
}
fn default_cache_max_age() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}
fn default_outage_grace() -> HumanDuration {
    HumanDuration(std::time::Duration::ZERO)
}

fn default_store() -> String {
    "memory".into()
}
fn default_key_prefix() -> String {
    "sekisho:".into()
}
fn default_capacity() -> usize {
    200_000
}
fn default_idle() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30 * 60))
}
fn default_lifetime() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(12 * 3600))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CookieSecure {
    /// `Secure` unless the proxy listener is plain HTTP on loopback or dev mode is on.
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieSection {
    #[serde(default = "default_cookie_name")]
    pub name: String,
    #[serde(default)]
    pub secure: CookieSecure,
    /// Share the cookie with subdomains; disables the `__Host-` prefix.
    #[serde(default)]
    pub domain: Option<String>,
}

impl Default for CookieSection {
    fn default() -> Self {
        Self {
            name: default_cookie_name(),
            secure: CookieSecure::Auto,
            domain: None,
        }
    }
}

fn default_cookie_name() -> String {
    "sekisho_session".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// `sqlite://path.db` or `postgres://…`.
    #[serde(default = "default_db_url")]
    pub url: String,
    #[serde(default = "default_db_conns")]
    pub max_connections: u32,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            url: default_db_url(),
            max_connections: default_db_conns(),
        }
    }
}

fn default_db_url() -> String {
    "sqlite://sekisho.db".into()
}
fn default_db_conns() -> u32 {
    8
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSection {
    #[serde(default = "default_m")]
    pub memory_kib: u32,
    #[serde(default = "default_t")]
    pub iterations: u32,
    #[serde(default = "default_p")]
    pub parallelism: u32,
    /// Hashes computed at once; each uses `memory_kib` of RAM and one core.
    #[serde(default = "default_hash_workers")]
    pub max_concurrent: usize,
    /// `idle` (default), `low` or `normal`: see [`crate::HashThreadPriority`].
    #[serde(default)]
    pub thread_priority: crate::HashThreadPriority,
    /// Hash requests allowed to wait; beyond this sign-in answers "busy".
    #[serde(default = "default_hash_queue")]
    pub queue: usize,
    #[serde(default = "default_min_len")]
    pub min_length: usize,
    /// "Forgot your password?": users reset it with an e-mailed link.
    #[serde(default = "default_self_reset")]
    pub self_service_reset: bool,
    /// How long a reset link works (5m–24h).
    #[serde(default = "default_reset_ttl")]
    pub reset_link_ttl: HumanDuration,
}

impl Default for PasswordSection {
    fn default() -> Self {
        Self {
            memory_kib: default_m(),
            iterations: default_t(),
            parallelism: default_p(),
            max_concurrent: default_hash_workers(),
            thread_priority: crate::HashThreadPriority::default(),
            queue: default_hash_queue(),
            min_length: default_min_len(),
            self_service_reset: default_self_reset(),
            reset_link_ttl: default_reset_ttl(),
        }
    }
}

fn default_m() -> u32 {
    19456
}
fn default_t() -> u32 {
    2
}
fn default_p() -> u32 {
    1
}
fn default_hash_workers() -> usize {
    1
}
fn default_hash_queue() -> usize {
    256
}
fn default_min_len() -> usize {
    10
}
fn default_self_reset() -> bool {
    true
}
fn default_reset_ttl() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(1800))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadersSection {
    #[serde(default = "h_user")]
    pub user: String,
    #[serde(default = "h_email")]
    pub email: String,
    #[serde(default = "h_groups")]
    pub groups: String,
    #[serde(default = "h_name")]
    pub name: String,
}

impl Default for HeadersSection {
    fn default() -> Self {
        Self {
            user: h_user(),
            email: h_email(),
            groups: h_groups(),
            name: h_name(),
        }
    }
}

fn h_user() -> String {
    "Remote-User".into()
}
fn h_email() -> String {
    "Remote-Email".into()
}
fn h_groups() -> String {
    "Remote-Groups".into()
}
fn h_name() -> String {
    "Remote-Name".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Peers whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<IpNet>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    #[serde(default = "d_connect")]
    pub connect_timeout: HumanDuration,
    #[serde(default = "d_read")]
    pub read_timeout: HumanDuration,
    #[serde(default = "d_read")]
    pub write_timeout: HumanDuration,
    #[serde(default = "d_idle")]
    pub idle_timeout: HumanDuration,
}

impl Default for UpstreamSection {
    fn default() -> Self {
        Self {
            connect_timeout: d_connect(),
            read_timeout: d_read(),
            write_timeout: d_read(),
            idle_timeout: d_idle(),
        }
    }
}

fn d_connect() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(5))
}
fn d_read() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(60))
}
fn d_idle() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(60))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSection {
    /// File holding the server key (≥ 32 bytes; hex, base64 or raw). The environment
    /// variables `SEKISHO_SECRET_KEY` / `SEKISHO_SECRET_KEY_FILE` take precedence.
    #[serde(default)]
    pub key_file: Option<String>,
    /// File holding the key that seals TOTP secrets at rest (≥ 32 bytes). The
    /// environment variables `SEKISHO_ENCRYPTION_KEY` / `_FILE` take precedence.
    #[serde(default)]
    pub encryption_key_file: Option<String>,
    /// Older encryption keys, still accepted for reading until `sekisho keys rotate`.
    #[serde(default)]
    pub previous_encryption_key_files: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// Decision when no rule matches.
    #[serde(default = "default_action")]
    pub default: Action,
}

impl Default for PolicySection {
    fn default() -> Self {
        Self {
            default: default_action(),
        }
    }
}

fn default_action() -> Action {
    Action::Deny
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSection {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub methods: Vec<HttpMethod>,
    #[serde(default)]
    pub networks: Vec<IpNet>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    pub action: Action,
    /// Step-up: MFA older than this is asked again (enforced with the MFA factors).
    #[serde(default)]
    pub max_mfa_age: Option<HumanDuration>,
    /// May a remembered browser skip MFA here.
    #[serde(default)]
    pub trusted_device: Option<bool>,
    /// Second factors accepted here (default: any the user has).
    #[serde(default)]
    pub mfa_methods: Vec<Factor>,
}
