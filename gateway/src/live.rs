//! The live configuration and its reloads.
//!
//! [`LiveApp`] holds the [`App`] that new requests use. A reload (SIGHUP, `sekisho
//! reload`, `POST /reload` on the admin listener) reads the file again, validates it
//! completely and builds the next `App` over the same stores, runtime and metrics,
//! then swaps it in at once: a request in flight keeps the `App` it started with, the
//! next one sees only the new one. A file that fails validation changes nothing.
//!
//! Some sections cannot change under a running process (listeners, stores, keys,
//! hashing, mail transports): a reload keeps their running values, applies the rest,
//! and reports them as "needs restart" (log, answer, metric, audit entry).
use crate::app::App;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use sekisho_auth::{AuditAction, NewAuditEntry};
use sekisho_config::{load_file, ProcessEnv, SessionStoreKind, Settings};
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub struct LiveApp {
    current: ArcSwap<App>,
    /// The file reloads read; `None` when the configuration came from text.
    path: Option<PathBuf>,
    /// One reload at a time: two would both build from the same generation.
    reloading: Mutex<()>,
    /// The live generation, for background work that follows reloads.
    generations: tokio::sync::watch::Sender<u64>,
}

/// What an applied reload changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    pub generation: u64,
    /// Sections now live with new values.
    pub applied: Vec<&'static str>,
    /// Sections whose new values wait for a restart (the old ones stay in force).
    pub needs_restart: Vec<&'static str>,
}

impl Reloaded {
    /// The answer of `POST /reload` and `sekisho reload`.
    pub fn summary(&self) -> String {
        let list = |v: &[&str]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        format!(
            "applied generation {}\nchanged: {}\nneeds restart: {}\n",
            self.generation,
            list(&self.applied),
            list(&self.needs_restart)
        )
    }
}

impl LiveApp {
    pub fn new(app: Arc<App>, path: Option<PathBuf>) -> Arc<Self> {
        let generations = tokio::sync::watch::Sender::new(app.generation);
        Arc::new(Self {
            current: ArcSwap::new(app),
            path,
            reloading: Mutex::new(()),
            generations,
        })
    }

    /// The configuration new requests use.
    pub fn current(&self) -> Arc<App> {
        self.current.load_full()
    }

    /// Changes each time a reload swaps a new configuration in.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generations.subscribe()
    }

    /// Reads and validates the file, then swaps the new configuration in. Counted in
    /// the metrics either way; [`LiveApp::reload_recorded`] also writes the audit log.
    pub fn reload(&self) -> Result<Reloaded, String> {
        let _one = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.current();
        let outcome = self.next(&old);
        let metrics = &old.telemetry.reloads;
        metrics.counted(outcome.is_ok());
        match &outcome {
            Ok((app, report)) => {
                // The gauges first: whoever sees the new configuration answer also
                // finds it in the metrics.
                metrics.generation.set(report.generation as i64);
                metrics
                    .needs_restart
                    .set(i64::from(!report.needs_restart.is_empty()));
                metrics.last_success.set(app.sessions.clock().now());
                self.current.store(Arc::clone(app));
                // Then the background work that follows the configuration.
                self.generations.send_replace(report.generation);
                tracing::info!(
                    generation = report.generation,
                    changed = ?report.applied,
                    needs_restart = ?report.needs_restart,
                    "configuration reloaded"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration reload rejected; the running configuration stays");
            }
        }
        outcome.map(|(_, report)| report)
    }

    fn next(&self, old: &App) -> Result<(Arc<App>, Reloaded), String> {
        let Some(path) = &self.path else {
            return Err("this gateway was not started from a configuration file".into());
        };
        let new = load_file(path, &ProcessEnv).map_err(|e| e.to_string())?;
        let needs_restart = restart_only_changes(&old.settings, &new);
        let applied = live_changes(&old.settings, &new);
        let effective = keep_restart_only(&old.settings, new);
        let app = old.reconfigured(effective).map_err(|e| e.to_string())?;
        let report = Reloaded {
            generation: app.generation,
            applied,
            needs_restart,
        };
        Ok((Arc::new(app), report))
    }

    /// [`LiveApp::reload`], then an audit entry (actor `system`) saying who asked
    /// (`trigger`) and what happened, applied or rejected.
    pub async fn reload_recorded(&self, trigger: &str) -> Result<Reloaded, String> {
        let outcome = self.reload();
        let app = self.current();
        let source = self
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let detail: Vec<(&str, String)> = match &outcome {
            Ok(r) => vec![
                ("result", "applied".into()),
                ("trigger", trigger.into()),
                ("generation", r.generation.to_string()),
                ("changed", r.applied.join(",")),
                ("needs_restart", r.needs_restart.join(",")),
                ("source", source),
            ],
            Err(e) => vec![
                ("result", "rejected".into()),
                ("trigger", trigger.into()),
                ("error", e.clone()),
                ("source", source),
            ],
        };
        let entry =
            NewAuditEntry::new("system", "system", AuditAction::ConfigReloaded).detail(&detail);
        if let Err(e) = app
            .ui
            .accounts
            .audit()
            .append(entry, app.sessions.clock().now())
            .await
        {
            tracing::error!(error = %e, "AUDIT LOG WRITE FAILED (config reload)");
        }
        outcome
    }
}

fn differs<T: Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") != format!("{b:?}")
}

/// Whether two store settings differ, secrets compared by value.
fn store_changed(a: &SessionStoreKind, b: &SessionStoreKind) -> bool {
    match (a, b) {
        (SessionStoreKind::Redis(a), SessionStoreKind::Redis(b)) => !a.same_as(b),
        _ => differs(a, b),
    }
}

fn key_bytes(k: &Option<sekisho_config::SecretBytes>) -> Option<&[u8]> {
    k.as_ref().map(|k| k.expose())
}

/// Sections a running process keeps until it restarts. Secrets are compared by value
/// (their `Debug` is redacted).
fn restart_only_changes(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let previous = |s: &Settings| -> Vec<Vec<u8>> {
        s.previous_encryption_keys
            .iter()
            .map(|k| k.expose().to_vec())
            .collect()
    };
    [
        ("server", differs(&old.server, &new.server)),
        (
            "session",
            differs(&old.session, &new.session)
                || store_changed(&old.session.store, &new.session.store),
        ),
        ("cookie", differs(&old.cookie, &new.cookie)),
        (
            "database",
            differs(&old.database, &new.database)
                || old.database.url.expose() != new.database.url.expose(),
        ),
        ("password", differs(&old.password, &new.password)),
        (
            "secrets.key",
            key_bytes(&old.secret_key) != key_bytes(&new.secret_key),
        ),
        (
            "secrets.encryption_key",
            key_bytes(&old.encryption_key) != key_bytes(&new.encryption_key)
                || previous(old) != previous(new),
        ),
        ("mfa", differs(&old.mfa, &new.mfa)),
        ("email", differs(&old.email, &new.email)),
        ("sms", differs(&old.sms, &new.sms)),
        ("log", differs(&old.log, &new.log)),
        ("tls", differs(&old.tls, &new.tls)),
        (
            "rate_limit.code_sends_per_ip_per_hour",
            old.rate_limit.code_sends_per_ip_per_hour != new.rate_limit.code_sends_per_ip_per_hour,
        ),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

/// Sections a reload applies at once.
fn live_changes(old: &Settings, new: &Settings) -> Vec<&'static str> {
    [
        ("ui", differs(&old.ui, &new.ui)),
        ("headers", differs(&old.headers, &new.headers)),
        (
            "trusted_proxies",
            differs(&old.trusted_proxies, &new.trusted_proxies),
        ),
        ("upstream", differs(&old.upstream, &new.upstream)),
        ("sites", differs(&old.sites, &new.sites)),
        ("rules", differs(&old.policy, &new.policy)),
        ("enrollment", differs(&old.enrollment, &new.enrollment)),
        ("rollout", differs(&old.rollout, &new.rollout)),
        ("support", differs(&old.support, &new.support)),
        ("lockout", differs(&old.lockout, &new.lockout)),
        ("rate_limit", differs(&old.rate_limit, &new.rate_limit)),
        ("sign_in", differs(&old.sign_in, &new.sign_in)),
        ("admin", differs(&old.admin, &new.admin)),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

/// `new`, with every restart-only section put back to the running values.
fn keep_restart_only(old: &Settings, mut new: Settings) -> Settings {
    new.server = old.server.clone();
    new.session = old.session.clone();
    new.cookie = old.cookie.clone();
    new.database = old.database.clone();
    new.password = old.password;
    new.secret_key = old.secret_key.clone();
    new.encryption_key = old.encryption_key.clone();
    new.previous_encryption_keys = old.previous_encryption_keys.clone();
    new.mfa = old.mfa.clone();
    new.email = old.email.clone();
    new.sms = old.sms.clone();
    new.log = old.log.clone();
    new.tls = old.tls.clone();
    new.rate_limit.code_sends_per_ip_per_hour = old.rate_limit.code_sends_per_ip_per_hour;
    new
}

/// Reloads on SIGHUP (the process's own signal: only `sekisho run` installs it).
pub struct ReloadOnHangup(pub Arc<LiveApp>);

#[async_trait]
impl BackgroundService for ReloadOnHangup {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP: reload with `sekisho reload`");
                return;
            }
        };
        loop {
            tokio::select! {
                got = hangups.recv() => {
                    if got.is_none() {
                        return;
                    }
                    let _ = self.0.reload_recorded("sighup").await;
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests;
