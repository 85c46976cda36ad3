//! File → schema → validated [`Settings`], with environment overrides for secrets.
use crate::error::ConfigError;
use crate::model::*;
use crate::schema::{FileConfig, RuleSection};
use crate::secret::{SecretBytes, SecretString};
use crate::values::Action;
use crate::values::FactorSet;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Where environment overrides come from; tests pass a map instead of the process env.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// Reads and validates a config file.
pub fn load_file(path: &Path, env: &dyn Env) -> Result<Settings, ConfigError> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(&source, "", format!("cannot read the file: {e}")))?;
    load_str(&text, &source, env)
}

/// Parses and validates config text; `source` names it in errors.
pub fn load_str(text: &str, source: &str, env: &dyn Env) -> Result<Settings, ConfigError> {
    let file = parse(text, source)?;
    Validator { source, env }.settings(file)
}

fn parse(text: &str, source: &str) -> Result<FileConfig, ConfigError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize::<_, FileConfig>(de).map_err(|err| {
        let key = err.path().to_string();
        let inner = err.into_inner();
        let line = inner
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        ConfigError {
            source: source.to_string(),
            key: if key == "." { String::new() } else { key },
            line,
            message: inner.message().to_string(),
        }
    })
}

/// Two listen addresses that would claim the same port on some interface.
fn listeners_overlap(a: std::net::SocketAddr, b: std::net::SocketAddr) -> bool {
    a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

pub(crate) struct Validator<'a> {
    source: &'a str,
    env: &'a dyn Env,
}

pub(crate) type R<T> = Result<T, ConfigError>;

impl Validator<'_> {
    pub(crate) fn err(&self, key: impl Into<String>, msg: impl Into<String>) -> ConfigError {
        ConfigError::new(self.source, key, msg)
    }

    fn settings(&self, f: FileConfig) -> R<Settings> {
        let listen = self.addr("server.listen", &f.server.listen)?;
        let admin_listen = if f.server.admin_listen.is_empty() {
            None
        } else {
            Some(self.addr("server.admin_listen", &f.server.admin_listen)?)
        };
        if let Some(admin) = admin_listen {
            // One socket cannot serve both listeners: the second bind would fail, or
            // with an inherited socket table two services would own one descriptor.
            if listeners_overlap(listen, admin) {
                return Err(self.err(
                    "server.admin_listen",
                    format!("`{admin}` overlaps server.listen `{listen}`; use another port"),
                ));
            }
        }
        if f.server.threads == 0 || f.server.threads > 256 {
            return Err(self.err("server.threads", "must be between 1 and 256"));
        }
        let upgrade_sock = std::path::PathBuf::from(&f.server.upgrade_sock);
        if !upgrade_sock.is_absolute() || f.server.upgrade_sock.len() > 100 {
            // A relative path would depend on the directory each process starts in, and
            // sun_path holds at most 107 bytes.
            return Err(self.err(
                "server.upgrade_sock",
                "must be an absolute path of at most 100 bytes",
            ));
        }
        let server = ServerSettings {
            listen,
            admin_listen,
            threads: f.server.threads,
            dev_mode: f.server.dev_mode,
            grace_period: f.server.grace_period.0,
            upgrade_sock,
        };
        let ui = self.ui(f.ui)?;
        let session = self.session(f.session)?;
        let cookie = self.cookie(f.cookie)?;
        let database = self.database(f.database)?;
        let password = self.password(f.password)?;
        let headers = self.headers(f.headers)?;
        let upstream = UpstreamSettings {
            connect_timeout: f.upstream.connect_timeout.0,
            read_timeout: f.upstream.read_timeout.0,
            write_timeout: f.upstream.write_timeout.0,
            idle_timeout: f.upstream.idle_timeout.0,
        };
        let sites = self.sites(f.sites)?;
        let rules = f
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| self.rule(i, r))
            .collect::<R<Vec<_>>>()?;
        let secret_key = self.secret_key(f.secrets.key_file.as_deref())?;
        let mfa = self.mfa(f.mfa, &ui)?;
        let encryption_key = self.key_material(
            "SEKISHO_ENCRYPTION_KEY",
            "secrets.encryption_key_file",
            f.secrets.encryption_key_file.as_deref(),
        )?;
        let previous_encryption_keys = f
            .secrets
            .previous_encryption_key_files
            .iter()
            .enumerate()
            .map(|(i, path)| {
                self.key_file(&format!("secrets.previous_encryption_key_files[{i}]"), path)
            })
            .collect::<R<Vec<_>>>()?;
        let email = self.email(f.email)?;
        let sms = self.sms(f.sms)?;
        let enrollment = f
            .enrollment
            .into_iter()
            .enumerate()
            .map(|(i, e)| self.enrollment_rule(i, e, mfa.factors))
            .collect::<R<Vec<_>>>()?;
        let rollout = self.rollout(f.rollout)?;
        let support = self.support(f.support)?;
        let tls = self.tls(f.tls)?;
        if let Some(t) = &tls {
            let taken = std::iter::once(("server.listen", listen))
                .chain(admin_listen.map(|a| ("server.admin_listen", a)));
            for (name, addr) in taken {
                if listeners_overlap(t.listen, addr) {
                    return Err(self.err(
                        "tls.listen",
                        format!("`{}` overlaps {name} `{addr}`", t.listen),
                    ));
                }
            }
        }
        let lockout = self.lockout(f.lockout)?;
        let rate_limit = self.rate_limit(f.rate_limit)?;
        let sign_in = self.sign_in(f.sign_in)?;
        let log = self.log(f.log)?;
        let admin = self.admin(f.admin)?;
        Ok(Settings {
            source: self.source.to_string(),
            server,
            ui,
            session,
            cookie,
            database,
            password,
            headers,
            trusted_proxies: f.network.trusted_proxies,
            upstream,
            sites,
            policy: PolicySettings {
                default: f.policy.default,
                rules,
            },
            secret_key,
            mfa,
            encryption_key,
            previous_encryption_keys,
            email,
            sms,
            enrollment,
            rollout,
            support,
            tls,
            lockout,
            rate_limit,
            sign_in,
            log,
            admin,
        })
    }

    fn addr(&self, key: &str, value: &str) -> R<SocketAddr> {
        value.parse().map_err(|_| {
            self.err(
                key,
                format!("`{value}` is not an address like 127.0.0.1:8080"),
            )
        })
    }

    fn ui(&self, u: crate::schema::UiSection) -> R<UiSettings> {
        let p = &u.prefix;
        let legal = p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-.".contains(&b));
        if !(p.starts_with('/') && p.ends_with('/') && p.len() > 2 && legal) || p.contains("//") {
            return Err(self.err(
                "ui.prefix",
                format!("`{p}` must look like /_sekisho/ (starts and ends with /, letters, digits, _ - .)"),
            ));
        }
        if !u.default_redirect.starts_with('/') || u.default_redirect.starts_with("//") {
            return Err(self.err(
                "ui.default_redirect",
                "must be a path starting with a single /",
            ));
        }
        if !(1024..=10 * 1024 * 1024).contains(&u.max_body_bytes) {
            return Err(self.err("ui.max_body_bytes", "must be between 1024 and 10485760"));
        }
        Ok(UiSettings {
            prefix: u.prefix,
            default_language: u.default_language,
            default_redirect: u.default_redirect,
            max_body_bytes: u.max_body_bytes,
            title: u.title,
        })
    }

    fn session(&self, s: crate::schema::SessionSection) -> R<SessionSettings> {
        let store_value = self.env_secret("SEKISHO_SESSION_STORE")?.unwrap_or(s.store);
        let store = if store_value == "memory" {
            if s.memory_capacity == 0 {
                return Err(self.err("session.memory_capacity", "must be at least 1"));
            }
            if s.redis.is_some() {
                return Err(self.err(
                    "session.redis",
                    "session.store is \"memory\": set store = \"redis\" (or a redis:// URL) to use [session.redis]",
                ));
            }
            SessionStoreKind::Memory {
                capacity: s.memory_capacity,
            }
        } else if store_value == "redis" {
            SessionStoreKind::Redis(self.redis(None, s.redis)?)
        } else if ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .any(|p| store_value.starts_with(p))
        {
            SessionStoreKind::Redis(self.redis(Some(store_value), s.redis)?)
        } else {
            return Err(self.err(
                "session.store",
                "must be \"memory\", \"redis\" (with [session.redis]) or a redis:// / rediss:// URL",
            ));
        };
        if s.idle_timeout.0.is_zero() || s.lifetime.0.is_zero() {
            return Err(self.err("session.idle_timeout", "timeouts must be longer than zero"));
        }
        if s.idle_timeout.0 > s.lifetime.0 {
            return Err(self.err(
                "session.idle_timeout",
                "must not be longer than session.lifetime",
            ));
        }
        if s.key_prefix.len() > 64 || s.key_prefix.chars().any(|c| c.is_whitespace()) {
            return Err(self.err("session.key_prefix", "at most 64 characters, no spaces"));
        }
        if s.key_prefix.contains(['{', '}']) {
            // Braces would make Redis Cluster place keys by a part of the prefix.
            return Err(self.err("session.key_prefix", "must not contain { or }"));
        }
        let c = s.cache;
        if c.max_age.0 < Duration::from_secs(1) || c.max_age.0 > Duration::from_secs(300) {
            return Err(self.err("session.cache.max_age", "must be between 1s and 5m"));
        }
        if c.outage_grace.0 > Duration::from_secs(3600) {
            return Err(self.err("session.cache.outage_grace", "at most 1h"));
        }
        if c.capacity > 10_000_000 {
            return Err(self.err("session.cache.capacity", "at most 10,000,000"));
        }
        Ok(SessionSettings {
            store,
            key_prefix: s.key_prefix,
            idle_timeout: s.idle_timeout.0,
            lifetime: s.lifetime.0,
            cache: SessionCacheConfig {
                capacity: c.capacity,
                max_age: c.max_age.0,
                outage_grace: c.outage_grace.0,
            },
        })
    }

    fn cookie(&self, c: crate::schema::CookieSection) -> R<CookieSettings> {
        if c.name.is_empty() || !c.name.bytes().all(is_token_byte) {
            return Err(self.err(
                "cookie.name",
                "must be a non-empty token (letters, digits, - _)",
            ));
        }
        if c.name.starts_with("__") {
            return Err(self.err(
                "cookie.name",
                "leave out __Host-/__Secure-: Sekisho adds the prefix itself",
            ));
        }
        if let Some(d) = &c.domain {
            if d.is_empty() || d.contains(['/', ' ', ':']) {
                return Err(self.err("cookie.domain", format!("`{d}` is not a domain")));
            }
        }
        Ok(CookieSettings {
            name: c.name,
            secure: c.secure,
            domain: c
                .domain
                .map(|d| d.trim_start_matches('.').to_ascii_lowercase()),
        })
    }

    fn database(&self, d: crate::schema::DatabaseSection) -> R<DatabaseSettings> {
        let url = self.env_secret("SEKISHO_DATABASE_URL")?.unwrap_or(d.url);
        let kind = if url.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DatabaseKind::Postgres
        } else {
            return Err(self.err("database.url", "must start with sqlite: or postgres://"));
        };
        if d.max_connections == 0 {
            return Err(self.err("database.max_connections", "must be at least 1"));
        }
        Ok(DatabaseSettings {
            kind,
            url: SecretString::new(url),
            max_connections: d.max_connections,
        })
    }

    fn password(&self, p: crate::schema::PasswordSection) -> R<PasswordSettings> {
        if p.parallelism == 0 || p.parallelism > 16 {
            return Err(self.err("password.parallelism", "must be between 1 and 16"));
        }
        if p.memory_kib < 8 * p.parallelism || p.memory_kib > 4 * 1024 * 1024 {
            return Err(self.err(
                "password.memory_kib",
                "must be at least 8 × parallelism and at most 4194304",
            ));
        }
        if p.iterations == 0 || p.iterations > 100 {
            return Err(self.err("password.iterations", "must be between 1 and 100"));
        }
        if p.max_concurrent == 0 || p.max_concurrent > 64 {
            return Err(self.err("password.max_concurrent", "must be between 1 and 64"));
        }
        if !(8..=128).contains(&p.min_length) {
            return Err(self.err("password.min_length", "must be between 8 and 128"));
        }
        let ttl = p.reset_link_ttl.0;
        if ttl < std::time::Duration::from_secs(300) || ttl > std::time::Duration::from_secs(86_400)
        {
            return Err(self.err("password.reset_link_ttl", "must be between 5m and 24h"));
        }
        Ok(PasswordSettings {
            memory_kib: p.memory_kib,
            iterations: p.iterations,
            parallelism: p.parallelism,
            max_concurrent: p.max_concurrent,
            thread_priority: p.thread_priority,
            queue: p.queue,
            min_length: p.min_length,
            self_service_reset: p.self_service_reset,
            reset_link_ttl: ttl,
        })
    }

    fn headers(&self, h: crate::schema::HeadersSection) -> R<IdentityHeaderNames> {
        let names = [
            ("headers.user", &h.user),
            ("headers.email", &h.email),
            ("headers.groups", &h.groups),
            ("headers.name", &h.name),
        ];
        const RESERVED: [&str; 8] = [
            "host",
            "cookie",
            "connection",
            "content-length",
            "transfer-encoding",
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
        ];
        for (i, (key, name)) in names.iter().enumerate() {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(self.err(*key, format!("`{name}` is not a valid header name")));
            }
            if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                return Err(self.err(*key, format!("`{name}` is reserved")));
            }
            if names[..i].iter().any(|(_, n)| n.eq_ignore_ascii_case(name)) {
                return Err(self.err(*key, format!("`{name}` is used twice")));
            }
        }
        Ok(IdentityHeaderNames {
            user: h.user,
            email: h.email,
            groups: h.groups,
            name: h.name,
        })
    }

    pub(crate) fn host_pattern(&self, key: &str, raw: &str) -> R<String> {
        let host = raw.to_ascii_lowercase();
        let bare = host.strip_prefix("*.").unwrap_or(&host);
        let legal = !bare.is_empty()
            && bare.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !legal {
            return Err(self.err(
                key,
                format!("`{raw}` must be a host name such as app.example.com or *.example.com (no port)"),
            ));
        }
        Ok(host)
    }

    fn rule(&self, i: usize, r: RuleSection) -> R<RuleSettings> {
        let hosts = r
            .hosts
            .iter()
            .enumerate()
            .map(|(j, h)| self.host_pattern(&format!("rules[{i}].hosts[{j}]"), h))
            .collect::<R<Vec<_>>>()?;
        for (j, p) in r.paths.iter().enumerate() {
            if p.is_empty() || !(p.starts_with('/') || p.starts_with("regex:")) {
                return Err(self.err(
                    format!("rules[{i}].paths[{j}]"),
                    format!("`{p}` must start with / (prefix or glob) or regex:"),
                ));
            }
        }
        for (j, g) in r.groups.iter().enumerate() {
            if g.trim().is_empty() || g.contains(',') {
                return Err(self.err(
                    format!("rules[{i}].groups[{j}]"),
                    "group names are non-empty and have no commas",
                ));
            }
        }
        if !r.mfa_methods.is_empty() && r.action != Action::TwoFactor {
            return Err(self.err(
                format!("rules[{i}].mfa_methods"),
                "only applies to action = \"two_factor\"",
            ));
        }
        if let Some(age) = r.max_mfa_age {
            if r.action != Action::TwoFactor {
                return Err(self.err(
                    format!("rules[{i}].max_mfa_age"),
                    "only applies to action = \"two_factor\"",
                ));
            }
            if age.0.is_zero() {
                return Err(self.err(
                    format!("rules[{i}].max_mfa_age"),
                    "must be longer than zero",
                ));
            }
        }
        Ok(RuleSettings {
            name: r.name.unwrap_or_else(|| format!("rules[{i}]")),
            index: i,
            hosts,
            paths: r.paths,
            methods: r.methods,
            networks: r.networks,
            groups: r.groups.into_iter().map(|g| g.trim().to_string()).collect(),
            users: r.users.iter().map(|u| u.trim().to_lowercase()).collect(),
            action: r.action,
            max_mfa_age: r.max_mfa_age.map(|d| d.0),
            trusted_device: r.trusted_device.unwrap_or(true),
            mfa_methods: if r.mfa_methods.is_empty() {
                FactorSet::ALL
            } else {
                FactorSet::of(&r.mfa_methods)
            },
        })
    }

    /// Reads `NAME` or the file named by `NAME_FILE`.
    pub(crate) fn env_secret(&self, name: &str) -> R<Option<String>> {
        if let Some(v) = self.env.var(name) {
            return Ok(Some(v));
        }
        let file_var = format!("{name}_FILE");
        match self.env.var(&file_var) {
            Some(path) => std::fs::read_to_string(&path)
                .map(|s| Some(s.trim().to_string()))
                .map_err(|e| {
                    ConfigError::new("<env>", file_var, format!("cannot read `{path}`: {e}"))
                }),
            None => Ok(None),
        }
    }

    fn secret_key(&self, key_file: Option<&str>) -> R<Option<SecretBytes>> {
        self.key_material("SEKISHO_SECRET_KEY", "secrets.key_file", key_file)
    }

    /// A key from `ENV` / `ENV_FILE`, else from the configured file.
    fn key_material(
        &self,
        env: &str,
        file_key: &str,
        file: Option<&str>,
    ) -> R<Option<SecretBytes>> {
        match self.env_secret(env)? {
            Some(raw) => self.parse_key(env, raw).map(Some),
            None => file.map(|path| self.key_file(file_key, path)).transpose(),
        }
    }

    fn key_file(&self, key: &str, path: &str) -> R<SecretBytes> {
        let raw = std::fs::read_to_string(path)
            .map_err(|e| self.err(key, format!("cannot read `{path}`: {e}")))?;
        self.parse_key(key, raw.trim().to_string())
    }

    fn parse_key(&self, key: &str, raw: String) -> R<SecretBytes> {
        let bytes = decode_hex(&raw).unwrap_or_else(|| raw.into_bytes());
        SecretBytes::new(bytes)
            .ok_or_else(|| self.err(key, "the key must be at least 32 bytes (or 64 hex digits)"))
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_".contains(&b)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() < 64 || !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests;
