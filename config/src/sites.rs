//! `[[sites]]`: the hosts Sekisho serves and each one's pool of upstream servers —
//! how requests are spread over them (round-robin or hashing), active HTTP health
//! checks, passive ejection after failures, retries for idempotent requests, and TLS
//! to the upstreams (a CA file, SNI, verification).
//!
//! The CA file is only checked to exist here; the gateway reads the certificates.
use crate::load::{Validator, R};
use crate::model::Site;
use crate::values::HumanDuration;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Most retries a site may ask for; each can wait a whole connect timeout.
const MAX_RETRIES: u32 = 10;
/// Upper bound of health-check intervals and ejection cool-downs.
const MAX_PERIOD: Duration = Duration::from_secs(3600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    pub host: String,
    /// `host:port`, `http://host[:port]` or `https://host[:port]`.
    pub upstreams: Vec<String>,
    /// Scheme users reach the site with, for building `rd` URLs (`http` or `https`).
    #[serde(default)]
    pub scheme: Option<String>,
    #[serde(default)]
    pub balance: Balance,
    /// `client_ip`, `cookie:NAME` or `header:NAME`; only with `balance = "hash"`.
    #[serde(default)]
    pub hash_key: Option<String>,
    /// Other servers tried after a failed connection, for idempotent requests.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Every upstream of the site speaks TLS (as if written `https://`).
    #[serde(default)]
    pub tls: bool,
    /// PEM file of the CAs that sign the upstreams' certificates (default: the system's).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Name sent as SNI and checked against the upstream's certificate (default: the
    /// upstream's host name).
    #[serde(default)]
    pub sni: Option<String>,
    /// Check the upstream's certificate chain and name.
    #[serde(default = "yes")]
    pub verify: bool,
    #[serde(default)]
    pub health_check: Option<HealthCheckSection>,
    #[serde(default)]
    pub passive_health: PassiveHealthSection,
}

fn default_retries() -> u32 {
    2
}
fn yes() -> bool {
    true
}

/// How a site's requests are spread over its upstreams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    #[default]
    RoundRobin,
    /// Consistent hashing on [`HashKey`]: the same key keeps its server while it is up.
    Hash,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSection {
    /// Path of the `GET` request, e.g. `/healthz`.
    pub path: String,
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// Connect and answer within this (default: 2 s, or the interval if shorter).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// `200-399`, or one status such as `204`.
    #[serde(default = "default_expected")]
    pub expected_status: String,
    /// Consecutive passed checks that bring an unhealthy server back.
    #[serde(default = "default_healthy")]
    pub healthy_threshold: u32,
    /// Consecutive failed checks that take a server out.
    #[serde(default = "default_unhealthy")]
    pub unhealthy_threshold: u32,
    /// `Host` header of the check (default: the site's host, or the upstream's for a
    /// wildcard site).
    #[serde(default)]
    pub host: Option<String>,
}

fn default_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn default_expected() -> String {
    "200-399".into()
}
fn default_healthy() -> u32 {
    2
}
fn default_unhealthy() -> u32 {
    3
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassiveHealthSection {
    /// Consecutive failures (connection refused or timed out, TLS handshake, broken
    /// answer, a `failure_statuses` status) that eject a server; 0 turns it off.
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    /// How long an ejected server gets no requests.
    #[serde(default = "default_cooldown")]
    pub cooldown: HumanDuration,
    /// Upstream answers that count as failures, e.g. `[502, 503, 504]` (default none).
    #[serde(default)]
    pub failure_statuses: Vec<u16>,
}

impl Default for PassiveHealthSection {
    fn default() -> Self {
        Self {
            max_failures: default_max_failures(),
            cooldown: default_cooldown(),
            failure_statuses: Vec::new(),
        }
    }
}

fn default_max_failures() -> u32 {
    3
}
fn default_cooldown() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

/// One upstream server of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamServer {
    /// `host:port` to connect to (names are resolved when the configuration is built).
    pub address: String,
    /// The host part without brackets: the default SNI name.
    pub host: String,
    pub tls: bool,
}

/// What a `hash` site hashes to pick a server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HashKey {
    /// The client's address (after `network.trusted_proxies`).
    #[default]
    ClientIp,
    /// A cookie's value; clients without it fall back to their address.
    Cookie(String),
    /// A request header's value (lower-case name); clients without it fall back to
    /// their address.
    Header(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckSettings {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Inclusive range of statuses that pass.
    pub expected_status: (u16, u16),
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub host: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassiveHealthSettings {
    /// 0: passive ejection is off.
    pub max_failures: u32,
    pub cooldown: Duration,
    pub failure_statuses: Vec<u16>,
}

impl Default for PassiveHealthSettings {
    fn default() -> Self {
        Self {
            max_failures: default_max_failures(),
            cooldown: default_cooldown().0,
            failure_statuses: Vec::new(),
        }
    }
}

/// TLS to a site's `https` upstreams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTls {
    pub ca_file: Option<PathBuf>,
    pub sni: Option<String>,
    pub verify: bool,
}

impl Default for UpstreamTls {
    fn default() -> Self {
        Self {
            ca_file: None,
            sni: None,
            verify: true,
        }
    }
}

/// How a site uses its upstream servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    pub balance: Balance,
    pub hash_key: HashKey,
    pub retries: u32,
    pub health_check: Option<HealthCheckSettings>,
    pub passive: PassiveHealthSettings,
    pub tls: UpstreamTls,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            balance: Balance::RoundRobin,
            hash_key: HashKey::ClientIp,
            retries: default_retries(),
            health_check: None,
            passive: PassiveHealthSettings::default(),
            tls: UpstreamTls::default(),
        }
    }
}

/// `expected_status`: `200-399` or `204`, within 100–599.
fn status_range(raw: &str) -> Option<(u16, u16)> {
    let (low, high) = raw.split_once('-').unwrap_or((raw, raw));
    let low: u16 = low.trim().parse().ok()?;
    let high: u16 = high.trim().parse().ok()?;
    ((100..=599).contains(&low) && (100..=599).contains(&high) && low <= high)
        .then_some((low, high))
}

/// A header or cookie name: an HTTP token.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Validator<'_> {
    pub(crate) fn sites(&self, sites: Vec<SiteSection>) -> R<Vec<Site>> {
        let mut out: Vec<Site> = Vec::with_capacity(sites.len());
        for (i, s) in sites.into_iter().enumerate() {
            let key = format!("sites[{i}].host");
            let host = self.host_pattern(&key, &s.host)?;
            if out.iter().any(|o| o.host == host) {
                return Err(self.err(key, format!("`{host}` is configured twice")));
            }
            if let Some(scheme) = &s.scheme {
                if scheme != "http" && scheme != "https" {
                    return Err(self.err(format!("sites[{i}].scheme"), "must be http or https"));
                }
            }
            let upstreams = self.upstream_servers(i, &s)?;
            let pool = self.pool(i, &s, &upstreams)?;
            out.push(Site {
                host,
                upstreams,
                scheme: s.scheme,
                pool,
            });
        }
        Ok(out)
    }

    fn upstream_servers(&self, i: usize, s: &SiteSection) -> R<Vec<UpstreamServer>> {
        if s.upstreams.is_empty() {
            return Err(self.err(
                format!("sites[{i}].upstreams"),
                "needs at least one host:port",
            ));
        }
        let mut servers: Vec<UpstreamServer> = Vec::with_capacity(s.upstreams.len());
        for (j, raw) in s.upstreams.iter().enumerate() {
            let key = format!("sites[{i}].upstreams[{j}]");
            let server = upstream_server(raw, s.tls).map_err(|m| self.err(&key, m))?;
            if servers.iter().any(|o| o.address == server.address) {
                return Err(self.err(key, format!("`{raw}` is listed twice")));
            }
            if server.tls && s.verify && s.sni.is_none() && is_ip(&server.host) {
                return Err(self.err(
                    key,
                    format!(
                        "`{raw}`: a certificate cannot be checked against an IP address; set \
                         sites[{i}].sni to the name in the upstream's certificate (or verify = false)"
                    ),
                ));
            }
            servers.push(server);
        }
        Ok(servers)
    }

    fn pool(&self, i: usize, s: &SiteSection, servers: &[UpstreamServer]) -> R<PoolSettings> {
        let key = |k: &str| format!("sites[{i}].{k}");
        let hash_key = match (&s.hash_key, s.balance) {
            (None, _) => HashKey::ClientIp,
            (Some(_), Balance::RoundRobin) => {
                return Err(self.err(key("hash_key"), "only applies to balance = \"hash\""))
            }
            (Some(raw), Balance::Hash) => self.hash_key(&key("hash_key"), raw)?,
        };
        if s.retries > MAX_RETRIES {
            return Err(self.err(
                key("retries"),
                format!("must be between 0 and {MAX_RETRIES}"),
            ));
        }
        let any_tls = servers.iter().any(|u| u.tls);
        for (name, set) in [
            ("ca_file", s.ca_file.is_some()),
            ("sni", s.sni.is_some()),
            ("verify", !s.verify),
        ] {
            if set && !any_tls {
                return Err(self.err(
                    key(name),
                    "only applies to TLS upstreams: set tls = true or write the upstreams as https://…",
                ));
            }
        }
        let ca_file = match &s.ca_file {
            Some(path) if !std::path::Path::new(path).is_file() => {
                return Err(self.err(key("ca_file"), format!("`{path}` is not a readable file")))
            }
            Some(path) => Some(PathBuf::from(path)),
            None => None,
        };
        let sni = match &s.sni {
            Some(name) => {
                let name = name.trim().to_ascii_lowercase();
                let legal = !name.is_empty()
                    && name.split('.').all(|l| {
                        !l.is_empty()
                            && l.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
                    });
                if !legal {
                    return Err(self.err(
                        key("sni"),
                        format!("`{name}` is not a host name such as app.internal"),
                    ));
                }
                Some(name)
            }
            None => None,
        };
        Ok(PoolSettings {
            balance: s.balance,
            hash_key,
            retries: s.retries,
            health_check: s
                .health_check
                .as_ref()
                .map(|h| self.health_check(i, h))
                .transpose()?,
            passive: self.passive_health(i, &s.passive_health)?,
            tls: UpstreamTls {
                ca_file,
                sni,
                verify: s.verify,
            },
        })
    }

    fn hash_key(&self, key: &str, raw: &str) -> R<HashKey> {
        let parsed = match raw.split_once(':') {
            None if raw == "client_ip" => Some(HashKey::ClientIp),
            Some(("cookie", name)) if is_token(name) => Some(HashKey::Cookie(name.to_string())),
            Some(("header", name)) if is_token(name) => {
                Some(HashKey::Header(name.to_ascii_lowercase()))
            }
            _ => None,
        };
        parsed.ok_or_else(|| {
            self.err(
                key,
                format!("`{raw}` must be client_ip, cookie:NAME or header:NAME"),
            )
        })
    }

    fn health_check(&self, i: usize, h: &HealthCheckSection) -> R<HealthCheckSettings> {
        let key = |k: &str| format!("sites[{i}].health_check.{k}");
        if !h.path.starts_with('/') || h.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(self.err(
                key("path"),
                format!("`{}` must be a path starting with / (no spaces)", h.path),
            ));
        }
        let interval = h.interval.0;
        if interval.is_zero() || interval > MAX_PERIOD {
            return Err(self.err(key("interval"), "must be longer than zero and at most 1h"));
        }
        let timeout = match h.timeout {
            Some(t) if t.0.is_zero() => {
                return Err(self.err(key("timeout"), "must be longer than zero"))
            }
            Some(t) if t.0 > interval => {
                return Err(self.err(
                    key("timeout"),
                    "must not be longer than the interval (checks would overlap)",
                ))
            }
            Some(t) => t.0,
            None => interval.min(Duration::from_secs(2)),
        };
        let expected_status = status_range(&h.expected_status).ok_or_else(|| {
            self.err(
                key("expected_status"),
                format!(
                    "`{}` must be a status or a range such as 200-399 (100-599)",
                    h.expected_status
                ),
            )
        })?;
        for (name, n) in [
            ("healthy_threshold", h.healthy_threshold),
            ("unhealthy_threshold", h.unhealthy_threshold),
        ] {
            if !(1..=100).contains(&n) {
                return Err(self.err(key(name), "must be between 1 and 100"));
            }
        }
        let host = match &h.host {
            Some(v) if v.is_empty() || v.bytes().any(|b| b <= b' ' || b == 0x7f) => {
                return Err(self.err(key("host"), format!("`{v}` is not a Host header value")))
            }
            other => other.clone(),
        };
        Ok(HealthCheckSettings {
            path: h.path.clone(),
            interval,
            timeout,
            expected_status,
            healthy_threshold: h.healthy_threshold,
            unhealthy_threshold: h.unhealthy_threshold,
            host,
        })
    }

    fn passive_health(&self, i: usize, p: &PassiveHealthSection) -> R<PassiveHealthSettings> {
        let key = |k: &str| format!("sites[{i}].passive_health.{k}");
        if p.max_failures > 1000 {
            return Err(self.err(key("max_failures"), "must be between 0 (off) and 1000"));
        }
        if p.max_failures > 0 && (p.cooldown.0.is_zero() || p.cooldown.0 > MAX_PERIOD) {
            return Err(self.err(key("cooldown"), "must be longer than zero and at most 1h"));
        }
        if let Some(bad) = p
            .failure_statuses
            .iter()
            .find(|s| !(500..=599).contains(*s))
        {
            return Err(self.err(
                key("failure_statuses"),
                format!("{bad} is not a 5xx status"),
            ));
        }
        Ok(PassiveHealthSettings {
            max_failures: p.max_failures,
            cooldown: p.cooldown.0,
            failure_statuses: p.failure_statuses.clone(),
        })
    }
}

fn is_ip(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}

/// `host:port`, `http://host[:port]`, `https://host[:port]` (IPv6 in brackets).
fn upstream_server(raw: &str, site_tls: bool) -> Result<UpstreamServer, String> {
    let (scheme, rest) = match raw.split_once("://") {
        Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
        None => (None, raw),
    };
    let tls = match scheme.as_deref() {
        None => site_tls,
        Some("https") => true,
        Some("http") if site_tls => {
            return Err(format!(
                "`{raw}` is plain HTTP but the site sets tls = true"
            ))
        }
        Some("http") => false,
        Some(other) => return Err(format!("`{other}://` is not http:// or https://")),
    };
    let bad = || {
        format!("`{raw}` must be host:port or http(s)://host[:port] without a path, e.g. 127.0.0.1:3000")
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad());
    }
    let (host, port) = match rest.rsplit_once(':') {
        // `[::1]` alone: the colon is inside the brackets.
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (rest, None),
    };
    let port = match (port, &scheme) {
        (Some(p), _) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?,
        (None, Some(_)) if tls => 443,
        (None, Some(_)) => 80,
        (None, None) => return Err(bad()),
    };
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let bracketed = host.starts_with('[');
    let valid = if bracketed {
        bare.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !bare.is_empty()
            && bare
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    };
    if !valid {
        return Err(bad());
    }
    Ok(UpstreamServer {
        address: format!("{host}:{port}"),
        host: bare.to_ascii_lowercase(),
        tls,
    })
}

#[cfg(test)]
mod tests;
