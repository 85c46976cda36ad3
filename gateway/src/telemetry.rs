//! [`GatewayTelemetry`]: one gateway's Prometheus registry and every series in it, and
//! the gateway's implementation of the auth domain's [`Telemetry`] hooks.
//!
//! Each `App` has its own registry rather than the process-wide default one: a process
//! may run several gateways (the test suite does), and each must report only its own
//! traffic. The admin listener renders it on `/metrics`.
//!
//! Series fed by the auth domain (installed on the `SessionService` and `MfaService`;
//! the lockout and the UI limiters report through the `MfaService`'s hooks):
//!
//! - `sekisho_auth_attempts_total{factor, result, reason}`: password and second-factor
//!   attempts; `factor` is `password` or the method (`totp`, `email`, `sms`,
//!   `backup_code`, `trusted_device`), `result` is `success` or `failure`, `reason`
//!   the event's reason code;
//! - `sekisho_lockouts_total{scope}`, `sekisho_rate_limited_total{limit}`;
//! - `sekisho_sessions_created_total{level}`, `sekisho_sessions_ended_total{reason}`;
//! - `sekisho_error_events_dropped_total{reason}`: error pages whose `error` event was
//!   not recorded (`budget`, `queue_full`, `write_failed`).
//!
//! The request-path series are in [`crate::metrics`], the store series in
//! [`crate::store_metrics`].
use crate::metrics::{counter_vec, RequestMetrics, SeriesResult};
use crate::store_metrics::StoreMetrics;
use pingora_prometheus::prometheus::{IntCounter, IntCounterVec, IntGauge, Registry};
use sekisho_auth::{AuthEvent, AuthLevel, ErrorDrop, Limited, Scope, SessionEnd, Telemetry};

const SCOPES: [Scope; 3] = [Scope::Pair, Scope::Account, Scope::Ip];
const LEVELS: [AuthLevel; 3] = [AuthLevel::Partial, AuthLevel::Password, AuthLevel::Mfa];

fn level_label(level: AuthLevel) -> &'static str {
    match level {
        AuthLevel::Partial => "partial",
        AuthLevel::Password => "password",
        AuthLevel::Mfa => "mfa",
    }
}

/// A label value from the domain's code sets (`invalid_otp`, `backup_code`), or
/// `other`: the fields are strings, and a label must never take an unbounded value.
fn bounded(value: &str) -> &str {
    if !value.is_empty()
        && value.len() <= 32
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        value
    } else {
        "other"
    }
}

/// Counters resolved once, indexed by an enum's position in its list.
fn resolved<T: Copy>(
    vec: &IntCounterVec,
    all: &[T],
    label: impl Fn(T) -> &'static str,
) -> SeriesResult<Vec<IntCounter>> {
    all.iter()
        .map(|v| vec.get_metric_with_label_values(&[label(*v)]))
        .collect()
}

fn position<T: PartialEq>(all: &[T], v: &T) -> Option<usize> {
    all.iter().position(|x| x == v)
}

struct AuthMetrics {
    attempts: IntCounterVec,
    lockouts: Vec<IntCounter>,
    rate_limited: Vec<IntCounter>,
    created: Vec<IntCounter>,
    ended: Vec<IntCounter>,
    error_drops: Vec<IntCounter>,
}

impl AuthMetrics {
    fn new(registry: &Registry) -> SeriesResult<Self> {
        let attempts = counter_vec(
            registry,
            "sekisho_auth_attempts_total",
            "Password and second-factor attempts by factor, result and reason code",
            &["factor", "result", "reason"],
        )?;
        // Exported from the start, so dashboards and ratios have a series to read.
        for (result, reason) in [("success", "ok"), ("failure", "invalid_password")] {
            attempts.get_metric_with_label_values(&["password", result, reason])?;
        }
        let lockouts = counter_vec(
            registry,
            "sekisho_lockouts_total",
            "Temporary sign-in locks started, by scope (pair = account + IP)",
            &["scope"],
        )?;
        let limited = counter_vec(
            registry,
            "sekisho_rate_limited_total",
            "Requests refused by a limit: ui_post (form POSTs per IP), locked (attempt during a lock), code_send",
            &["limit"],
        )?;
        let created = counter_vec(
            registry,
            "sekisho_sessions_created_total",
            "Sessions started at sign-in, by level (partial = second factor still owed)",
            &["level"],
        )?;
        let ended = counter_vec(
            registry,
            "sekisho_sessions_ended_total",
            "Sessions ended, by reason",
            &["reason"],
        )?;
        let error_drops = counter_vec(
            registry,
            "sekisho_error_events_dropped_total",
            "Error pages whose error event was not recorded: budget (over the events per second), queue_full (the writer is behind), write_failed",
            &["reason"],
        )?;
        Ok(Self {
            attempts,
            lockouts: resolved(&lockouts, &SCOPES, Scope::as_str)?,
            rate_limited: resolved(&limited, &Limited::ALL, Limited::as_str)?,
            created: resolved(&created, &LEVELS, level_label)?,
            ended: resolved(&ended, &SessionEnd::ALL, SessionEnd::as_str)?,
            error_drops: resolved(&error_drops, &ErrorDrop::ALL, ErrorDrop::as_str)?,
        })
    }
}

/// Configuration reloads: how many were applied or rejected, which configuration is
/// live, and whether a change waits for a restart.
pub struct ReloadMetrics {
    reloads: IntCounterVec,
    pub generation: IntGauge,
    pub needs_restart: IntGauge,
    pub last_success: IntGauge,
}

impl ReloadMetrics {
    fn new(registry: &Registry) -> SeriesResult<Self> {
        let gauge = |name: &str, help: &str| -> SeriesResult<IntGauge> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let m = Self {
            reloads: counter_vec(
                registry,
                "sekisho_config_reloads_total",
                "Configuration reloads (SIGHUP, sekisho reload, POST /reload) by result",
                &["result"],
            )?,
            generation: gauge(
                "sekisho_config_generation",
                "The live configuration: 1 at start, one more per applied reload",
            )?,
            needs_restart: gauge(
                "sekisho_config_needs_restart",
                "1 when the file holds changes that only a restart applies (listeners, stores, keys)",
            )?,
            last_success: gauge(
                "sekisho_config_last_reload_success_timestamp_seconds",
                "When the live configuration was loaded (start or reload), Unix time",
            )?,
        };
        m.generation.set(1);
        for result in ["applied", "rejected"] {
            m.reloads.get_metric_with_label_values(&[result])?;
        }
        Ok(m)
    }

    pub fn counted(&self, applied: bool) {
        let result = if applied { "applied" } else { "rejected" };
        self.reloads.with_label_values(&[result]).inc();
    }
}

pub struct GatewayTelemetry {
    registry: Registry,
    pub requests: RequestMetrics,
    pub reloads: ReloadMetrics,
    pub stores: StoreMetrics,
    auth: AuthMetrics,
}

impl std::fmt::Debug for GatewayTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatewayTelemetry")
    }
}

impl GatewayTelemetry {
    /// Fails only if a series definition is invalid (a programming error).
    pub fn new() -> SeriesResult<Self> {
        let registry = Registry::new();
        Ok(Self {
            requests: RequestMetrics::new(&registry)?,
            reloads: ReloadMetrics::new(&registry)?,
            stores: StoreMetrics::new(&registry)?,
            auth: AuthMetrics::new(&registry)?,
            registry,
        })
    }

    /// Every series of this gateway in the Prometheus text format.
    pub fn render(&self) -> String {
        crate::metrics::render(&self.registry)
    }
}

impl Telemetry for GatewayTelemetry {
    fn auth_event(&self, e: &AuthEvent) {
        let factor = match e.kind.as_str() {
            "password" => "password",
            "second_factor" => e.method.as_deref().map_or("unknown", bounded),
            _ => return,
        };
        let result = if e.success { "success" } else { "failure" };
        self.auth
            .attempts
            .with_label_values(&[factor, result, bounded(&e.reason)])
            .inc();
    }

    fn lock_started(&self, scope: Scope) {
        if let Some(c) = position(&SCOPES, &scope).and_then(|i| self.auth.lockouts.get(i)) {
            c.inc();
        }
    }

    fn session_created(&self, level: AuthLevel) {
        if let Some(c) = position(&LEVELS, &level).and_then(|i| self.auth.created.get(i)) {
            c.inc();
        }
    }

    fn sessions_ended(&self, why: SessionEnd, count: u64) {
        if let Some(c) = position(&SessionEnd::ALL, &why).and_then(|i| self.auth.ended.get(i)) {
            c.inc_by(count);
        }
    }

    fn rate_limited(&self, what: Limited) {
        if let Some(c) = position(&Limited::ALL, &what).and_then(|i| self.auth.rate_limited.get(i))
        {
            c.inc();
        }
    }

    fn error_event_dropped(&self, why: ErrorDrop) {
        if let Some(c) = position(&ErrorDrop::ALL, &why).and_then(|i| self.auth.error_drops.get(i))
        {
            c.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sekisho_auth::{EventKind, MfaMethod, Reason};

    fn value(text: &str, series: &str) -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn hooks_count_with_bounded_labels() {
        let t = GatewayTelemetry::new().unwrap();
        let at = 1_800_000_000;
        t.auth_event(&AuthEvent::new(
            at,
            EventKind::Password,
            false,
            Reason::InvalidPassword,
        ));
        t.auth_event(&AuthEvent::new(at, EventKind::Password, true, Reason::Ok));
        t.auth_event(
            &AuthEvent::new(at, EventKind::SecondFactor, false, Reason::InvalidOtp)
                .method(MfaMethod::Totp),
        );
        // Not attempts: code sends and settings changes are not counted here.
        t.auth_event(&AuthEvent::new(at, EventKind::CodeSent, true, Reason::Ok));
        let mut odd = AuthEvent::new(at, EventKind::SecondFactor, false, Reason::Ok);
        odd.method = Some("User Supplied!".into());
        odd.reason = "x".repeat(100);
        t.auth_event(&odd);
        t.lock_started(Scope::Account);
        t.session_created(AuthLevel::Partial);
        t.sessions_ended(SessionEnd::Revoked, 3);
        t.rate_limited(Limited::CodeSend);
        t.error_event_dropped(ErrorDrop::Budget);
        t.error_event_dropped(ErrorDrop::Budget);
        t.error_event_dropped(ErrorDrop::WriteFailed);
        let text = t.render();
        for (series, n) in [
            (
                r#"sekisho_auth_attempts_total{factor="password",reason="invalid_password",result="failure"}"#,
                1,
            ),
            (
                r#"sekisho_auth_attempts_total{factor="password",reason="ok",result="success"}"#,
                1,
            ),
            (
                r#"sekisho_auth_attempts_total{factor="totp",reason="invalid_otp",result="failure"}"#,
                1,
            ),
            (
                r#"sekisho_auth_attempts_total{factor="other",reason="other",result="failure"}"#,
                1,
            ),
            (r#"sekisho_lockouts_total{scope="account"}"#, 1),
            (r#"sekisho_lockouts_total{scope="pair"}"#, 0),
            (r#"sekisho_sessions_created_total{level="partial"}"#, 1),
            (r#"sekisho_sessions_ended_total{reason="revoked"}"#, 3),
            (r#"sekisho_sessions_ended_total{reason="sign_out"}"#, 0),
            (r#"sekisho_rate_limited_total{limit="code_send"}"#, 1),
            (r#"sekisho_rate_limited_total{limit="ui_post"}"#, 0),
            (r#"sekisho_error_events_dropped_total{reason="budget"}"#, 2),
            (
                r#"sekisho_error_events_dropped_total{reason="queue_full"}"#,
                0,
            ),
            (
                r#"sekisho_error_events_dropped_total{reason="write_failed"}"#,
                1,
            ),
        ] {
            assert_eq!(value(&text, series), Some(n), "{series} in\n{text}");
        }
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("sekisho_auth_attempts_total{"))
                .count(),
            4,
            "{text}"
        );
    }
}
