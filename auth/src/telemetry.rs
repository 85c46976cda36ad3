//! Hooks through which the domain reports what happened (auth attempts, locks,
//! sessions, refused floods, dropped error events) so the gateway can count it, without the domain
//! depending on a metrics library. Every hook is a cheap, non-blocking call; the
//! default implementations do nothing, so a service without telemetry pays nothing.
use crate::events::AuthEvent;
use crate::lockout::Scope;
use crate::session::AuthLevel;
use std::sync::Arc;

/// Why sessions ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The user signed out.
    SignOut,
    /// Idle or past its absolute lifetime, found on lookup.
    Expired,
    /// Ended by the user's other-sessions sign-out, a password change or an admin.
    Revoked,
}

impl SessionEnd {
    pub const ALL: [SessionEnd; 3] = [
        SessionEnd::SignOut,
        SessionEnd::Expired,
        SessionEnd::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionEnd::SignOut => "sign_out",
            SessionEnd::Expired => "expired",
            SessionEnd::Revoked => "revoked",
        }
    }
}

/// What a rate limit refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// A form POST refused by the local per-IP limiter.
    UiPost,
    /// A sign-in or second-factor attempt refused because a lock is active.
    Locked,
    /// An e-mail or SMS code send refused (per user or per IP).
    CodeSend,
}

impl Limited {
    pub const ALL: [Limited; 3] = [Limited::UiPost, Limited::Locked, Limited::CodeSend];

    pub fn as_str(self) -> &'static str {
        match self {
            Limited::UiPost => "ui_post",
            Limited::Locked => "locked",
            Limited::CodeSend => "code_send",
        }
    }
}

/// Why an error page's `error` event was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorDrop {
    /// Over the process-wide budget of error events per second.
    Budget,
    /// The writer's queue was full (the database is slower than the errors come).
    QueueFull,
    /// The database refused the write, or the writer was not running.
    WriteFailed,
}

impl ErrorDrop {
    pub const ALL: [ErrorDrop; 3] = [
        ErrorDrop::Budget,
        ErrorDrop::QueueFull,
        ErrorDrop::WriteFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorDrop::Budget => "budget",
            ErrorDrop::QueueFull => "queue_full",
            ErrorDrop::WriteFailed => "write_failed",
        }
    }
}

pub trait Telemetry: Send + Sync + 'static {
    /// Every auth event as it is recorded (password and second-factor attempts,
    /// code sends, enrolment and settings changes).
    fn auth_event(&self, _event: &AuthEvent) {}
    /// A lock just started.
    fn lock_started(&self, _scope: Scope) {}
    /// A session was started at `level` (sign-in, not the rotation of an MFA step).
    fn session_created(&self, _level: AuthLevel) {}
    /// `count` sessions ended.
    fn sessions_ended(&self, _why: SessionEnd, _count: u64) {}
    /// A request was refused by a limit.
    fn rate_limited(&self, _what: Limited) {}
    /// An error page's `error` event was dropped instead of recorded.
    fn error_event_dropped(&self, _why: ErrorDrop) {}
}

/// Reports nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Telemetry for Silent {}

pub fn silent() -> Arc<dyn Telemetry> {
    Arc::new(Silent)
}
