//! MFA reset requests with four-eyes approval.
//!
//! A request moves `pending → approved → executed`, or ends `rejected` or `expired`.
//! Every transition is one conditional `UPDATE … WHERE state = …`, so when two admins
//! act on one request at once exactly one wins and the other is told what happened.
//! The rules that do not depend on roles live here: the requester never approves
//! their own request, an unapproved request expires, and a privileged target needs an
//! approver allowed to decide for privileged accounts (the console maps that to
//! secadmin); each expiry is written to the audit log once, by the sweep that made it.
//! Executing — removing factors, revoking browsers and sessions, bumping
//! the credential version, issuing the re-enrolment link — is in [`execute`].
use crate::audit::{AuditAction, AuditLog, NewAuditEntry};
use crate::clock::UnixTime;
use crate::error::AuthError;
use crate::token::random_token;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use std::fmt;

mod execute;
mod self_service;
pub use execute::{apply_reset, Executed};
pub use self_service::{
    SelfServiceRequest, Situation, MAX_CONTACT_CHARS, MIN_DESCRIPTION_CHARS, SELF_REQUESTS_PER_DAY,
};

/// The shortest reason a request may carry: enough for a later reader to judge it.
pub const MIN_REASON_CHARS: usize = 50;
const MAX_REASON_CHARS: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetScope {
    /// Every factor: authenticator app, e-mail and SMS codes, backup codes.
    Full,
    Totp,
    BackupCodes,
}

impl ResetScope {
    pub const ALL: [ResetScope; 3] = [ResetScope::Full, ResetScope::Totp, ResetScope::BackupCodes];
    pub fn as_str(self) -> &'static str {
        match self {
            ResetScope::Full => "full",
            ResetScope::Totp => "totp",
            ResetScope::BackupCodes => "backup_codes",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Urgency {
    High,
    Medium,
    Low,
}

impl Urgency {
    pub const ALL: [Urgency; 3] = [Urgency::High, Urgency::Medium, Urgency::Low];
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::High => "high",
            Urgency::Medium => "medium",
            Urgency::Low => "low",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestState {
    Pending,
    Approved,
    Executed,
    Rejected,
    Expired,
}

impl RequestState {
    pub const ALL: [RequestState; 5] = [
        RequestState::Pending,
        RequestState::Approved,
        RequestState::Executed,
        RequestState::Rejected,
        RequestState::Expired,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Executed => "executed",
            RequestState::Rejected => "rejected",
            RequestState::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
    pub fn is_open(self) -> bool {
        matches!(self, RequestState::Pending | RequestState::Approved)
    }
}

/// Who acts on a request. The console decides `may_decide_privileged` from roles.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub may_decide_privileged: bool,
}

impl Actor<'static> {
    /// The command line: an operator with shell access to the gateway.
    pub const CLI: Actor<'static> = Actor {
        id: "cli",
        email: "cli",
        may_decide_privileged: true,
    };
}

/// Who filed a request: an administrator (or the CLI), or the user from the
/// challenge page's "I can't use any of my methods".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Admin,
    SelfService,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Admin => "admin",
            Origin::SelfService => "self",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Origin::Admin, Origin::SelfService]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRequest {
    pub id: String,
    pub user_id: String,
    pub user_email: String,
    pub requested_by: String,
    pub requested_by_email: String,
    pub reason: String,
    pub scope: ResetScope,
    pub urgency: Urgency,
    pub privileged: bool,
    pub state: RequestState,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub decided_by_email: Option<String>,
    pub decided_at: Option<UnixTime>,
    pub decision_note: Option<String>,
    pub executed_by_email: Option<String>,
    pub executed_at: Option<UnixTime>,
    pub bulk_job: Option<String>,
    pub origin: Origin,
    /// What happened, as the user chose it (self-service requests).
    pub situation: Option<Situation>,
    /// How the helpdesk can reach the user, as they wrote it (self-service requests).
    pub contact: Option<String>,
}

/// Why an action on a request was refused. Messages are shown to admins as they are.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("no such reset request")]
    NotFound,
    #[error("the reason must be at least {MIN_REASON_CHARS} characters")]
    ReasonTooShort,
    #[error("the reason must be at most {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    #[error("an open reset request for this user already exists ({0})")]
    AlreadyOpen(String),
    #[error("you made this request: another administrator must approve it")]
    OwnRequest,
    #[error("the account is privileged: only a security administrator may decide")]
    NeedsSecadmin,
    #[error("the request is already {}", .0.as_str())]
    NotPending(RequestState),
    #[error("the request is {}, not approved", .0.as_str())]
    NotApproved(RequestState),
    #[error("tell us in at least {MIN_DESCRIPTION_CHARS} characters what happened")]
    DescriptionTooShort,
    #[error("the contact details must be at most {MAX_CONTACT_CHARS} characters")]
    ContactTooLong,
    #[error("at most {SELF_REQUESTS_PER_DAY} recovery requests a day")]
    TooManyRequests,
    #[error("this bulk job already reset the user")]
    BulkAlreadyDone,
    #[error(transparent)]
    Store(#[from] AuthError),
}

impl From<sqlx::Error> for ResetError {
    fn from(e: sqlx::Error) -> Self {
        ResetError::Store(e.into())
    }
}

/// What a new request asks for.
#[derive(Debug, Clone)]
pub struct NewResetRequest<'a> {
    pub user_id: &'a str,
    pub scope: ResetScope,
    pub urgency: Urgency,
    pub reason: &'a str,
    /// The target is privileged now (decided by the console from its groups).
    pub privileged: bool,
}

/// Which requests to list.
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    pub state: Option<RequestState>,
    pub user_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Clone)]
pub struct ResetRequests {
    pool: AnyPool,
}

impl fmt::Debug for ResetRequests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResetRequests")
    }
}

const COLUMNS: &str = "r.id, r.user_id, u.email AS user_email, r.requested_by, r.requested_by_email, r.reason, r.scope, r.urgency, r.privileged, r.state, r.created_at, r.expires_at, r.decided_by_email, r.decided_at, r.decision_note, r.executed_by_email, r.executed_at, r.bulk_job, r.origin, r.situation, r.contact";

/// Checks and trims a reason; counts characters, not bytes (Japanese reasons).
pub fn check_reason(reason: &str) -> Result<&str, ResetError> {
    let r = reason.trim();
    let n = r.chars().count();
    if n < MIN_REASON_CHARS {
        return Err(ResetError::ReasonTooShort);
    }
    if n > MAX_REASON_CHARS {
        return Err(ResetError::ReasonTooLong);
    }
    Ok(r)
}

impl ResetRequests {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Files a request that expires `expires_in` seconds from `now` unless approved.
    pub async fn create(
        &self,
        by: Actor<'_>,
        new: NewResetRequest<'_>,
        expires_in: i64,
        now: UnixTime,
    ) -> Result<ResetRequest, ResetError> {
        let reason = check_reason(new.reason)?;
        self.expire_due(now).await?;
        if let Some(id) = self.open_request(new.user_id).await? {
            return Err(ResetError::AlreadyOpen(id));
        }
        let id = format!("RR-{}", random_token(9));
        let inserted = sqlx::query(
            "INSERT INTO reset_requests (id, user_id, requested_by, requested_by_email, reason, scope, urgency, privileged, state, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)",
        )
        .bind(&id)
        .bind(new.user_id)
        .bind(by.id)
        .bind(by.email)
        .bind(reason)
        .bind(new.scope.as_str())
        .bind(new.urgency.as_str())
        .bind(i64::from(new.privileged))
        .bind(now)
        .bind(now + expires_in.max(60))
        .execute(&self.pool)
        .await;
        if let Err(e) = inserted {
            return Err(self.insert_failed(e, new.user_id).await);
        }
        self.get(&id, now).await
    }

    /// The request that already holds the user's one open slot.
    async fn open_request(&self, user_id: &str) -> Result<Option<String>, ResetError> {
        let row = sqlx::query(
            "SELECT id FROM reset_requests WHERE user_id = $1 AND state IN ('pending', 'approved')",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("id")?),
            None => None,
        })
    }

    /// A unique violation on insert means a simultaneous request took the user's open
    /// slot (the partial unique index): name that request. Anything else is a store
    /// error.
    async fn insert_failed(&self, e: sqlx::Error, user_id: &str) -> ResetError {
        let taken = matches!(&e, sqlx::Error::Database(db) if db.is_unique_violation());
        if !taken {
            return e.into();
        }
        match self.open_request(user_id).await {
            Ok(Some(id)) => ResetError::AlreadyOpen(id),
            Ok(None) => e.into(),
            Err(other) => other,
        }
    }

    /// One request; a pending one past its expiry is expired first.
    pub async fn get(&self, id: &str, now: UnixTime) -> Result<ResetRequest, ResetError> {
        self.expire_due(now).await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM reset_requests r JOIN users u ON u.id = r.user_id WHERE r.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(from_row(&row)?),
            None => Err(ResetError::NotFound),
        }
    }

    /// Newest first (urgent pending ones are not reordered: the console shows urgency).
    pub async fn list(
        &self,
        q: &RequestQuery,
        now: UnixTime,
    ) -> Result<Vec<ResetRequest>, ResetError> {
        self.expire_due(now).await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM reset_requests r JOIN users u ON u.id = r.user_id
             WHERE ($1 = '' OR r.state = $1) AND ($2 = '' OR r.user_id = $2)
             ORDER BY r.created_at DESC, r.id LIMIT $3 OFFSET $4"
        ))
        .bind(q.state.map_or("", |s| s.as_str()))
        .bind(q.user_id.as_deref().unwrap_or(""))
        .bind(q.limit.clamp(1, 500))
        .bind(q.offset.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(from_row(r)?)).collect()
    }

    /// Requests waiting for a decision (the console's badge).
    pub async fn pending_count(&self, now: UnixTime) -> Result<i64, ResetError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM reset_requests WHERE state = 'pending' AND expires_at > $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Marks pending requests past their expiry as expired and returns them (each
    /// once, even when several instances sweep at the same moment).
    pub async fn expire_due(&self, now: UnixTime) -> Result<Vec<ResetRequest>, ResetError> {
        let due = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM reset_requests r JOIN users u ON u.id = r.user_id
             WHERE r.state = 'pending' AND r.expires_at <= $1"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut expired = Vec::new();
        for row in &due {
            let mut req = from_row(row)?;
            let done = sqlx::query(
                "UPDATE reset_requests SET state = 'expired', decided_at = $1 WHERE id = $2 AND state = 'pending'",
            )
            .bind(req.expires_at)
            .bind(&req.id)
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 1 {
                req.state = RequestState::Expired;
                req.decided_at = Some(req.expires_at);
                // Only the sweep that expired it writes the entry: exactly once.
                let entry = NewAuditEntry::new("system", "system", AuditAction::ResetExpired)
                    .target(&req.user_email)
                    .detail(&[
                        ("request", req.id.clone()),
                        ("requested_by", req.requested_by_email.clone()),
                        ("scope", req.scope.as_str().to_string()),
                    ]);
                AuditLog::new(self.pool.clone()).append(entry, now).await?;
                expired.push(req);
            }
        }
        Ok(expired)
    }

    fn may_decide(req: &ResetRequest, by: &Actor<'_>) -> Result<(), ResetError> {
        if req.privileged && !by.may_decide_privileged {
            return Err(ResetError::NeedsSecadmin);
        }
        Ok(())
    }

    /// pending → approved, by someone other than the requester.
    pub async fn approve(
        &self,
        id: &str,
        by: Actor<'_>,
        now: UnixTime,
    ) -> Result<ResetRequest, ResetError> {
        let req = self.get(id, now).await?;
        if req.state != RequestState::Pending {
            return Err(ResetError::NotPending(req.state));
        }
        if req.requested_by == by.id {
            return Err(ResetError::OwnRequest);
        }
        Self::may_decide(&req, &by)?;
        let done = sqlx::query(
            "UPDATE reset_requests SET state = 'approved', decided_by = $1, decided_by_email = $2, decided_at = $3
             WHERE id = $4 AND state = 'pending' AND expires_at > $3 AND requested_by <> $1",
        )
        .bind(by.id)
        .bind(by.email)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.after_transition(id, done.rows_affected(), now, ResetError::NotPending)
            .await
    }

    /// pending → rejected, with a note. The requester may withdraw their own request.
    pub async fn reject(
        &self,
        id: &str,
        by: Actor<'_>,
        note: &str,
        now: UnixTime,
    ) -> Result<ResetRequest, ResetError> {
        let req = self.get(id, now).await?;
        if req.state != RequestState::Pending {
            return Err(ResetError::NotPending(req.state));
        }
        if req.requested_by != by.id {
            Self::may_decide(&req, &by)?;
        }
        let note: String = note.trim().chars().take(MAX_REASON_CHARS).collect();
        let done = sqlx::query(
            "UPDATE reset_requests SET state = 'rejected', decided_by = $1, decided_by_email = $2, decided_at = $3, decision_note = $4
             WHERE id = $5 AND state = 'pending'",
        )
        .bind(by.id)
        .bind(by.email)
        .bind(now)
        .bind(note)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.after_transition(id, done.rows_affected(), now, ResetError::NotPending)
            .await
    }

    /// Re-reads a request after a conditional update; when the update lost a race the
    /// error says what the request became meanwhile.
    async fn after_transition(
        &self,
        id: &str,
        rows: u64,
        now: UnixTime,
        lost: fn(RequestState) -> ResetError,
    ) -> Result<ResetRequest, ResetError> {
        let req = self.get(id, now).await?;
        if rows == 1 {
            Ok(req)
        } else {
            Err(lost(req.state))
        }
    }
}

pub(crate) fn from_row(row: &AnyRow) -> Result<ResetRequest, AuthError> {
    let bad =
        |what: &str, v: String| AuthError::Database(format!("bad {what} `{v}` in reset_requests"));
    let scope: String = row.try_get("scope")?;
    let urgency: String = row.try_get("urgency")?;
    let state: String = row.try_get("state")?;
    let origin: String = row.try_get("origin")?;
    let situation: Option<String> = row.try_get("situation")?;
    Ok(ResetRequest {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        user_email: row.try_get("user_email")?,
        requested_by: row.try_get("requested_by")?,
        requested_by_email: row.try_get("requested_by_email")?,
        reason: row.try_get("reason")?,
        scope: ResetScope::parse(&scope).ok_or_else(|| bad("scope", scope.clone()))?,
        urgency: Urgency::parse(&urgency).ok_or_else(|| bad("urgency", urgency.clone()))?,
        privileged: row.try_get::<i64, _>("privileged")? != 0,
        state: RequestState::parse(&state).ok_or_else(|| bad("state", state.clone()))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        decided_by_email: row.try_get("decided_by_email")?,
        decided_at: row.try_get("decided_at")?,
        decision_note: row.try_get("decision_note")?,
        executed_by_email: row.try_get("executed_by_email")?,
        executed_at: row.try_get("executed_at")?,
        bulk_job: row.try_get("bulk_job")?,
        origin: Origin::parse(&origin).ok_or_else(|| bad("origin", origin.clone()))?,
        situation: match situation {
            Some(v) => Some(Situation::parse(&v).ok_or_else(|| bad("situation", v.clone()))?),
            None => None,
        },
        contact: row.try_get("contact")?,
    })
}

#[cfg(test)]
mod tests;
