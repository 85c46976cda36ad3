//! The auth event log: every sign-in and second-factor attempt, success or failure,
//! with a reason code, for the user's activity list, the admin console and audits.
use crate::clock::UnixTime;
use crate::error::AuthError;
use crate::factors::MfaMethod;
use sqlx::{AnyPool, Row};
use std::fmt;

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
        }
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
        }
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
    "at, user_id, email, kind, success, reason, method, ip, user_agent, detail";

impl EventLog {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub async fn record(&self, e: &AuthEvent) -> Result<(), AuthError> {
        sqlx::query(&format!(
            "INSERT INTO auth_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user's latest events, newest first.
    pub async fn recent_for_user(
        &self,
        user_id: &str,
        limit: i64,
    ) -> Result<Vec<AuthEvent>, AuthError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM auth_events WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2"
        ))
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
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
    })
}
