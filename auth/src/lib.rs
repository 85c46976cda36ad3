//! Sekisho's domain: accounts and their passwords, sessions, and the stores behind them.
//!
//! - [`account`]: users, e-mail addresses, the SQL account store (SQLite or PostgreSQL).
//! - [`audit`]: the append-only, hash-chained audit log of administrative actions,
//!   its search, verification and CSV/JSON export ([`csv`] writes spreadsheet-safe CSV).
//! - The admin console's domain: [`resets`] (reset requests with four-eyes approval
//!   and their execution), [`reenrol`] (the single-use links executed resets e-mail),
//!   [`bulk`] (bulk resets, safe to re-run), [`directory`] (user search) and
//!   [`suspensions`] (emergency sign-in suspensions per group).
//! - [`mfa`]: the building blocks of second factors: TOTP, sealing secrets at rest,
//!   backup codes, e-mail/SMS one-time codes, QR codes for enrolment.
//! - [`password`]: argon2id hashing on a bounded pool of dedicated threads, so that a
//!   sign-in storm never runs on (or stalls) the proxy's async workers.
//! - [`session`]: session ids, records, validity rules, and the [`SessionStore`] trait
//!   with its in-memory and Redis backends.
//! - [`redis_conn`]: the Redis connection both Redis stores share: standalone,
//!   Sentinel (follows failovers) or Cluster, with TLS, ACL users and time limits.
//! - [`reports`]: the admin console's figures (adoption over time, factor outcomes,
//!   failure reasons, lockouts, reset requests) over a time range.
//! - [`sign_ins`]: the bounded per-user history of completed sign-ins, and whether a
//!   sign-in came from a new browser or network.
//!
//! Time is always passed in (see [`clock`]) so tests can fix it.

pub mod account;
pub mod audit;
pub mod bulk;
pub mod clock;
pub mod counters;
pub mod csv;
pub mod directory;
pub mod error;
pub mod events;
pub mod factors;
pub mod lockout;
pub mod mfa;
pub mod mfa_service;
pub mod password;
pub mod recovery;
pub mod redis_conn;
pub mod reenrol;
pub mod reports;
pub mod resets;
pub mod rollout;
pub mod session;
pub mod sign_ins;
mod sql_filter;
pub mod suspensions;
pub mod telemetry;
#[cfg(test)]
mod testdb;
mod token;

pub use account::{AccountStore, Email, NewUser, User};
pub use audit::{
    AuditAction, AuditEntry, AuditLog, AuditQuery, BreakKind, ChainBreak, ChainReport,
    NewAuditEntry,
};
pub use bulk::{BulkJob, BulkJobs, BulkResult, Selector};
pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use counters::{CounterStore, MemoryCounterStore, RedisCounterStore};
pub use directory::{Directory, LastSignIn, MfaFilter, SearchError, UserQuery, UserSummary};
pub use error::{AuthError, StoreError};
pub use events::{
    AuthEvent, ErrorEvent, ErrorEventWriter, ErrorEvents, EventKind, EventLog, EventQuery, Reason,
};
pub use factors::{Enrollment, FactorStore, MfaMethod, SealedTotp, TrustedDevice};
pub use lockout::{Gate, Lockout, LockoutPolicy, NewLock, Scope};
pub use mfa_service::{
    BackupOutcome, CodeChannel, CodeOutcome, IssueOutcome, MfaService, RotationReport,
    TotpEnrollment, TotpOutcome,
};
pub use password::{PasswordHash, PasswordHasher, PasswordInput};
pub use recovery::{check_strength, LinkIssue, ResetGrant, ResetLinks, ResetToken, Weakness};
pub use redis_conn::RedisConn;
pub use reenrol::{IssuedLink, LinkInProgress, LinkStatus, LinkToken, ReenrolLinks, ValidLink};
pub use reports::{AdoptionPoint, FactorOutcome, Reports, ResetFigures};
pub use resets::{
    Actor, Executed, NewResetRequest, Origin, RequestQuery, RequestState, ResetError, ResetRequest,
    ResetRequests, ResetScope, SelfServiceRequest, Situation, Urgency,
};
pub use rollout::{Adoption, AdoptionRow, NoticeState, RolloutRow, RolloutStore, UnenrolledUser};
pub use session::{
    AuthLevel, MemorySessionStore, RedisSessionStore, RevocationListener, Session, SessionCache,
    SessionCacheSettings, SessionId, SessionKey, SessionService, SessionStore, SessionTimeouts,
};
pub use sign_ins::{NewSignIn, Novelty, SignInHistory, SignInMethod, SignInRow};
pub use suspensions::{Suspension, Suspensions};
pub use telemetry::{ErrorDrop, Limited, SessionEnd, Silent, Telemetry};
pub use token::{constant_time_eq, random_token};
