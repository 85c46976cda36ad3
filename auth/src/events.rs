//! The auth event log: every sign-in and second-factor attempt, success or failure,
//! with a reason code, for the user's activity list, the admin console and audits.
use crate::clock::UnixTime;
use crate::error::AuthError;
use crate::factors::MfaMethod;
use crate::sql_filter::{like_pattern, Bind, Filter};
use sqlx::{AnyPool, Row};
use std::fmt;

mod errors;

pub use errors::{ErrorEvent, ErrorEventWriter, ErrorEvents, ERROR_EVENT_BUDGET, ERROR_QUEUE};

/// Why an attempt ended as it did. The codes are stable: reports and alerts key on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Ok,
    InvalidPassword,
    UnknownUser,
    AccountDisabled,
    InvalidOtp,
    OtpReplayed,
    ClockDrift,
    CodeExpired,
    TooManyAttempts,
    BackupCodeUsed,
    InvalidBackupCode,
    TrustedDevice,
    DeniedByPolicy,
    SendFailed,
    RateLimited,
    Enrolled,
    Removed,
    Regenerated,
    Revoked,
    SignedOut,
    EnrolmentStarted,
    EnrolmentCompleted,
    EnrolmentAbandoned,
    ResetLinkSent,
    PasswordReset,
    /// Sign-in refused: an administrator suspended a group the user is in.
    Suspended,
    /// The user asked for an MFA reset ("I can't use any of my methods").
    RecoveryRequested,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::InvalidPassword => "invalid_password",
            Reason::UnknownUser => "unknown_user",
            Reason::AccountDisabled => "account_disabled",
            Reason::InvalidOtp => "invalid_otp",
            Reason::OtpReplayed => "otp_replayed",
            Reason::ClockDrift => "clock_drift",
            Reason::CodeExpired => "code_expired",
            Reason::TooManyAttempts => "too_many_attempts",
            Reason::BackupCodeUsed => "backup_code_used",
            Reason::InvalidBackupCode => "invalid_backup_code",
            Reason::TrustedDevice => "trusted_device",
            Reason::DeniedByPolicy => "denied_by_policy",
            Reason::SendFailed => "send_failed",
            Reason::RateLimited => "rate_limited",
            Reason::Enrolled => "enrolled",
            Reason::Removed => "removed",
            Reason::Regenerated => "regenerated",
            Reason::Revoked => "revoked",
            Reason::SignedOut => "signed_out",
            Reason::EnrolmentStarted => "enrolment_started",
            Reason::EnrolmentCompleted => "enrolment_completed",
            Reason::EnrolmentAbandoned => "enrolment_abandoned",
            Reason::ResetLinkSent => "reset_link_sent",
            Reason::PasswordReset => "password_reset",
            Reason::Suspended => "suspended",
            Reason::RecoveryRequested => "recovery_requested",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Password,
    SecondFactor,
    CodeSent,
    Enrollment,
    Settings,
    SignOut,
    /// "Forgot your password?" links and resets.
    Recovery,
    /// A lock that a failed attempt started (`detail`: `scope=… until=…`); not an attempt.
    Lockout,
    /// An error page the gateway showed (`reason`: the page's code such as
    /// `not_found`; `detail`: `status=404 path=/x`); not an attempt.
    Error,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Password => "password",
            EventKind::SecondFactor => "second_factor",
            EventKind::CodeSent => "code_sent",
            EventKind::Enrollment => "enrollment",
            EventKind::Settings => "settings",
            EventKind::SignOut => "sign_out",
            EventKind::Recovery => "recovery",
            EventKind::Lockout => "lockout",
            EventKind::Error => "error",
        }
    }

    pub const ALL: [EventKind; 9] = [
        EventKind::Password,
        EventKind::SecondFactor,
        EventKind::CodeSent,
        EventKind::Enrollment,
        EventKind::Settings,
        EventKind::SignOut,
        EventKind::Recovery,
        EventKind::Lockout,
        EventKind::Error,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent {
    pub at: UnixTime,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub kind: String,
    pub success: bool,
    pub reason: String,
    pub method: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Extra facts for the helpdesk, e.g. `drift_steps=-6`. Never a secret.
    pub detail: Option<String>,
    /// The gateway's id of the request that caused the event: shown on error pages,
    /// written to the logs. `None` outside a request (background jobs).
    pub request_id: Option<String>,
}

impl AuthEvent {
    pub fn new(at: UnixTime, kind: EventKind, success: bool, reason: Reason) -> Self {
        Self {
            at,
            user_id: None,
            email: None,
            kind: kind.as_str().to_string(),
            success,
            reason: reason.as_str().to_string(),
            method: None,
            ip: None,
            user_agent: None,
            detail: None,
            request_id: None,
        }
    }

    /// An error page shown for a request: `code` is the page's reason code (e.g.
    /// `not_found`, `bad_gateway`), `path` the request's path, of which only the part
    /// before any query is kept (queries may carry tokens or addresses), at most
    /// [`MAX_PATH`] characters.
    pub fn error_page(at: UnixTime, code: &str, status: u16, path: &str) -> Self {
        let path: String = path
            .split('?')
            .next()
            .unwrap_or("")
            .chars()
            .take(MAX_PATH)
            .collect();
        let mut e = Self::new(at, EventKind::Error, false, Reason::Ok);
        e.reason = code.to_string();
        e.detail = Some(format!("status={status} path={path}"));
        e
    }

    pub fn user(mut self, user_id: &str, email: &str) -> Self {
        self.user_id = Some(user_id.to_string());
        self.email = Some(email.to_string());
        self
    }

    pub fn method(mut self, m: MfaMethod) -> Self {
        self.method = Some(m.as_str().to_string());
        self
    }

    pub fn client(mut self, ip: Option<&str>, user_agent: Option<&str>) -> Self {
        self.ip = ip.map(str::to_string);
        self.user_agent = user_agent.map(|ua| ua.chars().take(256).collect());
        self
    }

    pub fn detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The id of the request that caused the event.
    pub fn request(mut self, request_id: &str) -> Self {
        self.request_id = Some(request_id.to_string());
        self
    }
}

/// The longest path an `error` event keeps.
pub const MAX_PATH: usize = 512;

/// Which events to search. `email` is a case-insensitive substring (for non-ASCII
/// letters only on PostgreSQL; `%` and `_` match themselves); the rest match exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub kind: Option<EventKind>,
    /// Inclusive bounds on `at`.
    pub from: Option<UnixTime>,
    pub to: Option<UnixTime>,
    /// A page (at most [`MAX_PAGE`] events) and where it starts.
    pub limit: i64,
    pub offset: i64,
}

impl Default for EventQuery {
    fn default() -> Self {
        Self {
            request_id: None,
            user_id: None,
            email: None,
            kind: None,
            from: None,
            to: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// The largest page [`EventLog::search`] returns.
pub const MAX_PAGE: i64 = 1000;

fn filter_of(q: &EventQuery) -> Filter {
    let mut f = Filter::default();
    if let Some(id) = &q.request_id {
        f.push("request_id = ?", Bind::Text(id.clone()));
    }
    if let Some(user_id) = &q.user_id {
        f.push("user_id = ?", Bind::Text(user_id.clone()));
    }
    if let Some(email) = &q.email {
        f.push(
            "LOWER(email) LIKE ? ESCAPE '\\'",
            Bind::Text(like_pattern(email)),
        );
    }
    if let Some(kind) = q.kind {
        f.push("kind = ?", Bind::Text(kind.as_str().to_string()));
    }
    f.time_range("at", q.from, q.to);
    f
}

#[derive(Clone)]
pub struct EventLog {
    pool: AnyPool,
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventLog")
    }
}

const EVENT_COLUMNS: &str =
    "at, user_id, email, kind, success, reason, method, ip, user_agent, detail, request_id";

impl EventLog {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub async fn record(&self, e: &AuthEvent) -> Result<(), AuthError> {
        sqlx::query(&format!(
            "INSERT INTO auth_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(e.at)
        .bind(e.user_id.as_deref())
        .bind(e.email.as_deref())
        .bind(&e.kind)
        .bind(i64::from(e.success))
        .bind(&e.reason)
        .bind(e.method.as_deref())
        .bind(e.ip.as_deref())
        .bind(e.user_agent.as_deref())
        .bind(e.detail.as_deref())
        .bind(e.request_id.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user's latest events of every kind, newest first.
    pub async fn recent_for_user(
        &self,
        user_id: &str,
        limit: i64,
    ) -> Result<Vec<AuthEvent>, AuthError> {
        self.for_user(user_id, limit, None).await
    }

    /// The user's latest sign-in and account activity, newest first: every kind but
    /// the error pages they saw (their own activity list is about security, and a
    /// burst of errors must not push sign-ins out of it).
    pub async fn activity_for_user(
        &self,
        user_id: &str,
        limit: i64,
    ) -> Result<Vec<AuthEvent>, AuthError> {
        self.for_user(user_id, limit, Some(EventKind::Error)).await
    }

    /// The user's latest events but those of kind `except`.
    async fn for_user(
        &self,
        user_id: &str,
        limit: i64,
        except: Option<EventKind>,
    ) -> Result<Vec<AuthEvent>, AuthError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM auth_events WHERE user_id = $1 AND kind <> $2 ORDER BY at DESC, id DESC LIMIT $3"
        ))
        .bind(user_id)
        .bind(except.map_or("", EventKind::as_str))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// One page of the events matching `q`, newest first.
    pub async fn search(&self, q: &EventQuery) -> Result<Vec<AuthEvent>, AuthError> {
        let rows = filter_of(q)
            .page(
                &self.pool,
                &format!("SELECT {EVENT_COLUMNS} FROM auth_events"),
                "at DESC, id DESC",
                (q.limit, q.offset, MAX_PAGE),
            )
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// How many events match `q` (regardless of `limit` and `offset`).
    pub async fn count(&self, q: &EventQuery) -> Result<u64, AuthError> {
        filter_of(q).count(&self.pool, "auth_events").await
    }

    /// How many events of `kind` each reason had since `since` (for the enrolment
    /// funnel in `sekisho report adoption`); reasons with none are absent.
    pub async fn count_by_reason(
        &self,
        kind: EventKind,
        since: UnixTime,
    ) -> Result<Vec<(String, i64)>, AuthError> {
        let rows = sqlx::query(
            "SELECT reason, COUNT(*) AS n FROM auth_events WHERE kind = $1 AND at >= $2 GROUP BY reason ORDER BY reason",
        )
        .bind(kind.as_str())
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("reason")?, r.try_get("n")?)))
            .collect()
    }

    /// The latest events of everyone, newest first.
    pub async fn recent(&self, limit: i64) -> Result<Vec<AuthEvent>, AuthError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM auth_events ORDER BY at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }
}

fn event_from_row(row: &sqlx::any::AnyRow) -> Result<AuthEvent, AuthError> {
    Ok(AuthEvent {
        at: row.try_get("at")?,
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        kind: row.try_get("kind")?,
        success: row.try_get::<i64, _>("success")? != 0,
        reason: row.try_get("reason")?,
        method: row.try_get("method")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        detail: row.try_get("detail")?,
        request_id: row.try_get("request_id")?,
    })
}

#[cfg(test)]
mod tests;
