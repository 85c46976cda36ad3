//! Everything the proxy needs, built once from validated settings.
//!
//! Pingora owns the runtimes that serve traffic and may start and stop them on its
//! own schedule. The SQL pool and the store clients therefore live on a small
//! dedicated runtime ([`IoRuntime`]) that outlives the server, so their background
//! tasks and sockets never die with a Pingora runtime.
use crate::adoption::AdoptionGauges;
use crate::identity::IdentityHeaders;
use crate::metrics::SiteSeries;
use crate::telemetry::GatewayTelemetry;
use crate::upstream::Upstreams;
use ipnet::IpNet;
use sekisho_auth::mfa::secretbox::Keyring;
use sekisho_auth::{
    AccountStore, Clock, CounterStore, MemoryCounterStore, MemorySessionStore, MfaService,
    PasswordHasher, RedisConn, RedisCounterStore, RedisSessionStore, SessionService, SessionStore,
    SessionTimeouts,
};
use sekisho_config::{DatabaseKind, DatabaseSettings, SecretBytes, SessionStoreKind, Settings};
use sekisho_login_ui::{UiConfig, UiContext};
use sekisho_notify::Notifier;
use sekisho_policy::Policy;
use std::fmt;
use std::sync::Arc;

#[derive(Debug)]
pub enum AppError {
    Config(String),
    Startup(String),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Config(m) => write!(f, "configuration error: {m}"),
            AppError::Startup(m) => write!(f, "cannot start: {m}"),
        }
    }
}

impl std::error::Error for AppError {}

/// A Tokio runtime for store and database I/O, shut down without blocking on drop.
pub struct IoRuntime(Option<tokio::runtime::Runtime>);

impl IoRuntime {
    pub fn new() -> Result<Self, AppError> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sekisho-io")
            .enable_all()
            .build()
            .map(|rt| Self(Some(rt)))
            .map_err(|e| AppError::Startup(format!("I/O runtime: {e}")))
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> Option<F::Output> {
        self.0.as_ref().map(|rt| rt.block_on(f))
    }

    /// Runs `f` in the background on this runtime.
    pub fn spawn<F>(&self, f: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Some(rt) = &self.0 {
            rt.spawn(f);
        }
    }
}

impl Drop for IoRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

pub struct App {
    pub settings: Settings,
    pub policy: Policy,
    pub ui: Arc<UiContext>,
    pub router: axum::Router,
    pub sessions: Arc<SessionService>,
    pub upstreams: Upstreams,
    pub identity: IdentityHeaders,
    pub trusted_proxies: Vec<IpNet>,
    /// Sekisho's own cookies, never forwarded upstream.
    pub own_cookies: [String; 4],
    /// This configuration's per-site request series.
    pub site_series: SiteSeries,
    /// `Strict-Transport-Security` for HTTPS answers, made once per configuration.
    pub hsts: Option<http::HeaderValue>,
    pub mfa: Arc<MfaService>,
    pub notifier: Notifier,
    /// One-time codes, attempt counters and the rollout jobs' lease: memory, or Redis
    /// shared by every instance.
    pub counters: Arc<dyn CounterStore>,
    /// MFA adoption per group, refreshed by the rollout jobs.
    pub adoption: Arc<AdoptionGauges>,
    /// Reminder passes this instance ran (took the slot's lease), for `/metrics`.
    pub reminder_passes: Arc<std::sync::atomic::AtomicU64>,
    /// This gateway's Prometheus series and the auth domain's telemetry hooks,
    /// installed on `sessions` and `mfa` (and through `mfa` on the lockout and the
    /// UI's limiters).
    pub telemetry: Arc<GatewayTelemetry>,
    /// Scheme browsers use to reach the proxy listener.
    pub scheme: &'static str,
    pub io: Arc<IoRuntime>,
    /// 1 for the configuration the process started with, one more per reload.
    pub generation: u64,
    /// The server key (CSRF and other MACs), kept for the UI a reload rebuilds.
    key: zeroize::Zeroizing<Vec<u8>>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("source", &self.settings.source)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Compiles the policy, opens the stores and builds the UI.
    pub fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Arc<Self>, AppError> {
        if let Some(t) = &settings.tls {
            // Unreadable or mismatched certificate files stop the start, with the file.
            crate::tls::listener_settings(t)?;
        }
        let io = Arc::new(IoRuntime::new()?);
        let telemetry = Arc::new(
            GatewayTelemetry::new().map_err(|e| AppError::Startup(format!("metrics: {e}")))?,
        );
        let compiled = compile(&settings, &telemetry, None)?;
        let metrics_error = |e| AppError::Startup(format!("metrics: {e}"));
        let mut redis_conn = None;
        let (store, counters): (Arc<dyn SessionStore>, Arc<dyn CounterStore>) =
            match &settings.session.store {
                SessionStoreKind::Memory { capacity } => (
                    Arc::new(MemorySessionStore::new(*capacity, clock.clone())),
                    Arc::new(MemoryCounterStore::new(*capacity, clock.clone())),
                ),
                SessionStoreKind::Redis(redis) => {
                    // One client for both stores: one set of sockets, one outage.
                    let conn = Arc::new(
                        RedisConn::new(redis)
                            .map_err(|e| AppError::Config(format!("session.store: {e}")))?,
                    );
                    telemetry
                        .stores
                        .health
                        .set_target(conn.describe().to_string());
                    let prefix = &settings.session.key_prefix;
                    redis_conn = Some(Arc::clone(&conn));
                    (
                        Arc::new(RedisSessionStore::new(
                            Arc::clone(&conn),
                            prefix,
                            settings.session.lifetime,
                            clock.clone(),
                        )),
                        Arc::new(RedisCounterStore::new(conn, prefix)),
                    )
                }
            };
        let store = telemetry
            .stores
            .session_store(store)
            .map_err(metrics_error)?;
        let counters = telemetry
            .stores
            .counter_store(counters)
            .map_err(metrics_error)?;
        let mut sessions = SessionService::new(
            store,
            clock.clone(),
            SessionTimeouts::from_settings(&settings.session),
        )
        .with_telemetry(telemetry.clone());
        if let Some(cache) = redis_conn
            .and_then(|conn| crate::session_cache::start(&settings.session, conn, &clock, &io))
        {
            sessions = sessions.with_cache(cache);
        }
        let sessions = Arc::new(sessions);
        let accounts = io
            .block_on(AccountStore::connect(&settings.database))
            .ok_or_else(|| AppError::Startup("I/O runtime is gone".into()))?
            .map_err(|e| AppError::Startup(format!("database: {e}")))?;
        let hasher = PasswordHasher::new(&settings.password)
            .map_err(|e| AppError::Startup(e.to_string()))?;
        let key = match &settings.secret_key {
            Some(k) => k.expose().to_vec(),
            None => {
                tracing::warn!(
                    "no secret key configured (SEKISHO_SECRET_KEY / secrets.key_file): using a random one; \
                     open sign-in forms break on restart and instances cannot share forms"
                );
                let mut k = vec![0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
                k
            }
        };
        let keyring = Keyring::new(
            &encryption_key(&settings)?,
            &settings.previous_encryption_keys,
        );
        let otp_key = SecretBytes::new(derive(&key, b"sekisho/one-time-code-mac/v1"))
            .ok_or_else(|| AppError::Startup("key derivation failed".into()))?;
        let mfa = Arc::new(
            MfaService::new(
                accounts.factors(),
                accounts.events(),
                Arc::clone(&counters),
                keyring,
                otp_key,
                clock,
                settings.mfa.clone(),
            )
            .with_codes_per_ip_per_hour(settings.rate_limit.code_sends_per_ip_per_hour)
            .with_telemetry(telemetry.clone()),
        );
        let notifier = Notifier::new(&settings.email, &settings.sms, &settings.ui.title)
            .map_err(|e| AppError::Config(format!("notifications: {e}")))?;
        let ui_config = UiConfig::from_settings(&settings);
        let ui = Arc::new(UiContext::new(
            ui_config,
            accounts,
            Arc::clone(&sessions),
            hasher,
            Arc::clone(&mfa),
            notifier.clone(),
            &key,
        ));
        // Error pages' events are written by one task next to the database pool.
        if let Some(writer) = ui.take_error_writer() {
            io.spawn(writer.run());
        }
        telemetry.reloads.last_success.set(ui.mfa.clock().now());
        Ok(Arc::new(Self::assemble(
            settings,
            compiled,
            ui,
            Shared {
                sessions,
                mfa,
                notifier,
                counters,
                adoption: Arc::new(AdoptionGauges::new()),
                reminder_passes: Arc::default(),
                telemetry,
                io,
            },
            1,
            zeroize::Zeroizing::new(key),
        )))
    }

    fn assemble(
        settings: Settings,
        c: Compiled,
        ui: Arc<UiContext>,
        s: Shared,
        generation: u64,
        key: zeroize::Zeroizing<Vec<u8>>,
    ) -> Self {
        let own_cookies = [
            ui.config.session_cookie.clone(),
            ui.config.csrf_cookie.clone(),
            ui.config.device_cookie.clone(),
            ui.config.browser_cookie.clone(),
        ];
        let router = sekisho_login_ui::router(Arc::clone(&ui));
        // Validated as a header value by the config (printable, `max-age=…`).
        let hsts = settings
            .tls
            .as_ref()
            .and_then(|t| t.hsts.as_deref())
            .and_then(|h| http::HeaderValue::from_str(h).ok());
        Self {
            hsts,
            trusted_proxies: settings.trusted_proxies.clone(),
            scheme: ui.config.scheme,
            settings,
            policy: c.policy,
            ui,
            router,
            sessions: s.sessions,
            upstreams: c.upstreams,
            identity: c.identity,
            own_cookies,
            site_series: c.site_series,
            mfa: s.mfa,
            notifier: s.notifier,
            counters: s.counters,
            adoption: s.adoption,
            reminder_passes: s.reminder_passes,
            telemetry: s.telemetry,
            io: s.io,
            generation,
            key,
        }
    }

    /// The next configuration: `settings` (already validated, with the sections that
    /// need a restart put back to this one's by the caller) compiled into a new rule
    /// set, upstream table and UI over the same stores, runtime and metrics.
    pub fn reconfigured(&self, settings: Settings) -> Result<Self, AppError> {
        let compiled = compile(&settings, &self.telemetry, Some(&self.upstreams))?;
        let mut ui = UiContext::new(
            UiConfig::from_settings(&settings),
            self.ui.accounts.clone(),
            Arc::clone(&self.sessions),
            Arc::clone(&self.ui.hasher),
            Arc::clone(&self.mfa),
            self.notifier.clone(),
            &self.key,
        );
        ui.carry_over(&self.ui);
        let shared = Shared {
            sessions: Arc::clone(&self.sessions),
            mfa: Arc::clone(&self.mfa),
            notifier: self.notifier.clone(),
            counters: Arc::clone(&self.counters),
            adoption: Arc::clone(&self.adoption),
            reminder_passes: Arc::clone(&self.reminder_passes),
            telemetry: Arc::clone(&self.telemetry),
            io: Arc::clone(&self.io),
        };
        Ok(Self::assemble(
            settings,
            compiled,
            Arc::new(ui),
            shared,
            self.generation + 1,
            self.key.clone(),
        ))
    }
}

/// What a configuration compiles to on its own (no I/O).
struct Compiled {
    policy: Policy,
    identity: IdentityHeaders,
    upstreams: Upstreams,
    site_series: SiteSeries,
}

/// `previous`: the upstreams of the configuration being replaced, whose pools pass
/// their health state on to unchanged ones.
fn compile(
    settings: &Settings,
    telemetry: &GatewayTelemetry,
    previous: Option<&Upstreams>,
) -> Result<Compiled, AppError> {
    Ok(Compiled {
        policy: Policy::compile(&settings.policy)
            .map_err(|e| AppError::Config(format!("{}: {e}", settings.source)))?,
        identity: IdentityHeaders::new(&settings.headers)
            .map_err(|e| AppError::Config(e.to_string()))?,
        upstreams: Upstreams::new(
            &settings.sites,
            settings.upstream,
            telemetry.requests.pools.clone(),
            previous,
        )
        .map_err(AppError::Config)?,
        site_series: telemetry
            .requests
            .for_sites(&settings.sites)
            .map_err(|e| AppError::Startup(format!("metrics: {e}")))?,
    })
}

/// What every configuration of one process shares: stores, runtime, metrics.
struct Shared {
    sessions: Arc<SessionService>,
    mfa: Arc<MfaService>,
    notifier: Notifier,
    counters: Arc<dyn CounterStore>,
    adoption: Arc<AdoptionGauges>,
    reminder_passes: Arc<std::sync::atomic::AtomicU64>,
    telemetry: Arc<GatewayTelemetry>,
    io: Arc<IoRuntime>,
}

/// HMAC-SHA256(key, label): a separate key per purpose from the one server key.
fn derive(key: &[u8], label: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    match <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(label);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The key sealing TOTP secrets: configured, or (SQLite only) a key file kept beside
/// the database and created on first start, so a single instance needs no setup.
pub fn encryption_key(settings: &Settings) -> Result<SecretBytes, AppError> {
    if let Some(k) = &settings.encryption_key {
        return Ok(k.clone());
    }
    if settings.database.kind != DatabaseKind::Sqlite {
        return Err(AppError::Config(
            "set SEKISHO_ENCRYPTION_KEY (or secrets.encryption_key_file): every instance sharing \
             the PostgreSQL database needs the same key to read TOTP secrets"
                .into(),
        ));
    }
    let Some(db) = sqlite_file(&settings.database) else {
        let mut k = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
        return SecretBytes::new(k).ok_or_else(|| AppError::Startup("random key".into()));
    };
    let file = db.with_extension("key");
    crate::keyfile::load_or_create(&file)
        .map_err(|e| AppError::Startup(format!("encryption key file {}: {e}", file.display())))
}

/// The file of a SQLite database; `None` for PostgreSQL and in-memory SQLite.
pub fn sqlite_file(db: &DatabaseSettings) -> Option<std::path::PathBuf> {
    if db.kind != DatabaseKind::Sqlite {
        return None;
    }
    let path = db
        .url
        .expose()
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or("");
    (!path.is_empty() && !path.contains(":memory:")).then(|| std::path::PathBuf::from(path))
}
