//! The audit log: every administrative action (reset requests and their decisions,
//! unlocks, revocations, bulk resets, suspensions, exports) and the security-relevant
//! changes users make to their own accounts, in one append-only, hash-chained table.
//!
//! # The hash chain
//!
//! Entries are numbered `seq` = 1, 2, 3, … with no gaps. Each stores `prev_hash`, the
//! `hash` of the entry before it (64 `0` characters for entry 1), and its own
//!
//! ```text
//! hash = lower-case hex of SHA-256( prev_hash || canonical(entry) )
//! ```
//!
//! where `prev_hash` is fed as its 64 ASCII hex characters and `canonical(entry)` is
//! the concatenation, in this order, of the fields
//!
//! ```text
//! seq, at, actor, actor_role, action, target, ip, request_id, detail
//! ```
//!
//! each encoded as
//!
//! - absent (SQL NULL): the single byte `0x00`;
//! - present: the byte `0x01`, then the length of the value in bytes as an unsigned
//!   64-bit big-endian integer, then the value's bytes. Text (including the empty
//!   string, whose length is 0) is its UTF-8 bytes exactly as stored; `seq` and `at`
//!   (Unix seconds) are 8 bytes, the two's-complement big-endian `i64`.
//!
//! `detail` is hashed as the stored JSON text, not re-serialised. Because every field
//! carries its presence and length, no two different entries have the same encoding.
//!
//! [`AuditLog::verify`] walks the table in `seq` order and reports the first entry
//! whose number skips ahead (entries removed), whose `prev_hash` is not its
//! predecessor's `hash` (entries removed or reordered), or whose `hash` does not match
//! its contents (entry edited). There is no key: someone who can write the table can
//! also rewrite every later entry consistently. That changes the head hash, so record
//! the head that `sekisho audit verify` prints somewhere the database's writers cannot
//! reach (a ticket, a signed e-mail) and compare later; the same applies to entries
//! cut off the end of the log, which leave no gap behind.
//!
//! # Concurrency
//!
//! The appender reads the head and inserts `seq` = head + 1; the primary key makes two
//! writers that read the same head collide, and the loser reads the new head and tries
//! again after a short random pause. No transaction spans the two statements, so no
//! lock is held while waiting.
use crate::clock::UnixTime;
use crate::error::{AuthError, StoreError};
use crate::sql_filter::{like_pattern, Bind, Filter};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use std::fmt;
use std::time::Duration;

mod chain;
mod export;

pub use chain::{BreakKind, ChainBreak, ChainReport, GENESIS_HASH};
pub use export::{rfc3339_utc, to_csv, to_json};

/// What was done. The names are stable: searches, exports and alerts key on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    ResetRequested,
    ResetApproved,
    ResetRejected,
    ResetExpired,
    ResetExecuted,
    ReenrolStarted,
    ReenrolCompleted,
    MfaEnrolled,
    MfaRemoved,
    BackupCodesRegenerated,
    AccountLocked,
    AccountUnlocked,
    SessionsRevoked,
    SessionRevoked,
    DeviceRevoked,
    BulkResetStarted,
    BulkResetUser,
    BulkResetFinished,
    GroupSessionsRevoked,
    GroupSuspended,
    GroupUnsuspended,
    ConfigReloaded,
    AuditExported,
    PasswordReset,
}

impl AuditAction {
    pub const ALL: [AuditAction; 24] = [
        AuditAction::ResetRequested,
        AuditAction::ResetApproved,
        AuditAction::ResetRejected,
        AuditAction::ResetExpired,
        AuditAction::ResetExecuted,
        AuditAction::ReenrolStarted,
        AuditAction::ReenrolCompleted,
        AuditAction::MfaEnrolled,
        AuditAction::MfaRemoved,
        AuditAction::BackupCodesRegenerated,
        AuditAction::AccountLocked,
        AuditAction::AccountUnlocked,
        AuditAction::SessionsRevoked,
        AuditAction::SessionRevoked,
        AuditAction::DeviceRevoked,
        AuditAction::BulkResetStarted,
        AuditAction::BulkResetUser,
        AuditAction::BulkResetFinished,
        AuditAction::GroupSessionsRevoked,
        AuditAction::GroupSuspended,
        AuditAction::GroupUnsuspended,
        AuditAction::ConfigReloaded,
        AuditAction::AuditExported,
        AuditAction::PasswordReset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ResetRequested => "reset_requested",
            AuditAction::ResetApproved => "reset_approved",
            AuditAction::ResetRejected => "reset_rejected",
            AuditAction::ResetExpired => "reset_expired",
            AuditAction::ResetExecuted => "reset_executed",
            AuditAction::ReenrolStarted => "reenrol_started",
            AuditAction::ReenrolCompleted => "reenrol_completed",
            AuditAction::MfaEnrolled => "mfa_enrolled",
            AuditAction::MfaRemoved => "mfa_removed",
            AuditAction::BackupCodesRegenerated => "backup_codes_regenerated",
            AuditAction::AccountLocked => "account_locked",
            AuditAction::AccountUnlocked => "account_unlocked",
            AuditAction::SessionsRevoked => "sessions_revoked",
            AuditAction::SessionRevoked => "session_revoked",
            AuditAction::DeviceRevoked => "device_revoked",
            AuditAction::BulkResetStarted => "bulk_reset_started",
            AuditAction::BulkResetUser => "bulk_reset_user",
            AuditAction::BulkResetFinished => "bulk_reset_finished",
            AuditAction::GroupSessionsRevoked => "group_sessions_revoked",
            AuditAction::GroupSuspended => "group_suspended",
            AuditAction::GroupUnsuspended => "group_unsuspended",
            AuditAction::ConfigReloaded => "config_reloaded",
            AuditAction::AuditExported => "audit_exported",
            AuditAction::PasswordReset => "password_reset",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The roles an actor can act in: the admin console's roles, a user acting on their
/// own account, the command line, and the gateway itself (expiries, reloads).
pub const ACTOR_ROLES: [&str; 7] = [
    "helpdesk", "sysadmin", "secadmin", "auditor", "user", "cli", "system",
];

/// An entry to append. `detail` is always a JSON object of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    actor: String,
    actor_role: Option<String>,
    action: AuditAction,
    target: Option<String>,
    ip: Option<String>,
    request_id: Option<String>,
    detail: String,
}

impl NewAuditEntry {
    /// `actor` is an admin's or user's e-mail, `cli` or `system`; `role` one of
    /// [`ACTOR_ROLES`] (empty for none). [`AuditLog::append`] refuses anything else.
    pub fn new(actor: &str, role: &str, action: AuditAction) -> Self {
        Self {
            actor: actor.to_string(),
            actor_role: (!role.is_empty()).then(|| role.to_string()),
            action,
            target: None,
            ip: None,
            request_id: None,
            detail: "{}".to_string(),
        }
    }

    /// The user (e-mail), group or reset request acted on.
    pub fn target(mut self, target: &str) -> Self {
        self.target = Some(target.to_string());
        self
    }

    pub fn ip(mut self, ip: Option<&str>) -> Self {
        self.ip = ip.map(str::to_string);
        self
    }

    /// The gateway's request id, to find the access-log line of the action.
    pub fn request_id(mut self, request_id: &str) -> Self {
        self.request_id = Some(request_id.to_string());
        self
    }

    /// Extra facts as a JSON object with the keys in the given order (a repeated key
    /// keeps its first value). Never a secret: the log is exported and kept for good.
    pub fn detail<V: AsRef<str>>(mut self, pairs: &[(&str, V)]) -> Self {
        let mut seen: Vec<&str> = Vec::with_capacity(pairs.len());
        let mut out = String::from("{");
        for (key, value) in pairs {
            if seen.contains(key) {
                continue;
            }
            if !seen.is_empty() {
                out.push(',');
            }
            seen.push(key);
            out.push_str(&json_string(key));
            out.push(':');
            out.push_str(&json_string(value.as_ref()));
        }
        out.push('}');
        self.detail = out;
        self
    }

    fn check(&self) -> Result<(), AuthError> {
        if self.actor.trim().is_empty() {
            return Err(AuthError::Invalid("audit entry without an actor".into()));
        }
        if let Some(role) = &self.actor_role {
            if !ACTOR_ROLES.contains(&role.as_str()) {
                return Err(AuthError::Invalid(format!("unknown actor role `{role}`")));
            }
        }
        Ok(())
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: UnixTime,
    pub actor: String,
    pub actor_role: Option<String>,
    /// An [`AuditAction`] name (kept as text: a newer version may write others).
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// A JSON object, as stored and hashed.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// The hash this entry's contents and `prev_hash` call for (see the module doc);
    /// equal to `hash` unless the entry was altered.
    pub fn computed_hash(&self) -> String {
        chain::entry_hash(self)
    }
}

/// Which entries to search or export. Text filters are case-insensitive substrings
/// (for non-ASCII letters only on PostgreSQL); `%` and `_` match themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub target: Option<String>,
    pub action: Option<AuditAction>,
    /// Inclusive bounds on `at`.
    pub from: Option<UnixTime>,
    pub to: Option<UnixTime>,
    /// A page of [`AuditLog::search`] (at most [`MAX_PAGE`]); exports ignore both.
    pub limit: i64,
    pub offset: i64,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            actor: None,
            target: None,
            action: None,
            from: None,
            to: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// The largest page a search returns, and the page size of exports and verification.
pub const MAX_PAGE: i64 = 1000;

/// Appends that lose the race for the next `seq` this many times give up.
const MAX_ATTEMPTS: u32 = 64;

#[derive(Clone)]
pub struct AuditLog {
    pool: AnyPool,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditLog")
    }
}

const COLUMNS: &str =
    "seq, at, actor, actor_role, action, target, ip, request_id, detail, prev_hash, hash";

/// The `WHERE` clause of a query.
fn filter_of(q: &AuditQuery) -> Filter {
    let mut f = Filter::default();
    if let Some(actor) = &q.actor {
        f.push(
            "LOWER(actor) LIKE ? ESCAPE '\\'",
            Bind::Text(like_pattern(actor)),
        );
    }
    if let Some(target) = &q.target {
        f.push(
            "LOWER(target) LIKE ? ESCAPE '\\'",
            Bind::Text(like_pattern(target)),
        );
    }
    if let Some(action) = q.action {
        f.push("action = ?", Bind::Text(action.as_str().to_string()));
    }
    f.time_range("at", q.from, q.to);
    f
}

impl AuditLog {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Appends `e` at `now` as the next entry of the chain and returns it as stored.
    pub async fn append(&self, e: NewAuditEntry, now: UnixTime) -> Result<AuditEntry, AuthError> {
        e.check()?;
        for attempt in 0..MAX_ATTEMPTS {
            let (head_seq, head_hash) = self.head().await?;
            let mut entry = AuditEntry {
                seq: head_seq
                    .checked_add(1)
                    .ok_or_else(|| AuthError::Invalid("audit log is full".into()))?,
                at: now,
                actor: e.actor.clone(),
                actor_role: e.actor_role.clone(),
                action: e.action.as_str().to_string(),
                target: e.target.clone(),
                ip: e.ip.clone(),
                request_id: e.request_id.clone(),
                detail: e.detail.clone(),
                prev_hash: head_hash,
                hash: String::new(),
            };
            entry.hash = entry.computed_hash();
            match self.insert(&entry).await {
                Ok(()) => return Ok(entry),
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    // Another writer took this number; spread the retries so the
                    // same writers do not collide again at once.
                    let cap_us = 1000u64 << attempt.min(5);
                    let pause = rand::Rng::gen_range(&mut rand::thread_rng(), 0..=cap_us);
                    tokio::time::sleep(Duration::from_micros(pause)).await;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Unavailable(format!(
            "audit log: no free entry number after {MAX_ATTEMPTS} attempts (too many writers)"
        ))
        .into())
    }

    /// The highest `seq` and its hash; `(0, GENESIS_HASH)` for an empty log.
    async fn head(&self) -> Result<(i64, String), AuthError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => (r.try_get("seq")?, r.try_get("hash")?),
            None => (0, GENESIS_HASH.to_string()),
        })
    }

    async fn insert(&self, e: &AuditEntry) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(e.seq)
        .bind(e.at)
        .bind(&e.actor)
        .bind(e.actor_role.as_deref())
        .bind(&e.action)
        .bind(e.target.as_deref())
        .bind(e.ip.as_deref())
        .bind(e.request_id.as_deref())
        .bind(&e.detail)
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One page of matching entries, newest first.
    pub async fn search(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, AuthError> {
        let rows = filter_of(q)
            .page(
                &self.pool,
                &format!("SELECT {COLUMNS} FROM audit_log"),
                "seq DESC",
                (q.limit, q.offset, MAX_PAGE),
            )
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// How many entries match (regardless of `limit` and `offset`).
    pub async fn count(&self, q: &AuditQuery) -> Result<u64, AuthError> {
        filter_of(q).count(&self.pool, "audit_log").await
    }

    /// Every matching entry, oldest first (`limit` and `offset` are ignored).
    pub async fn export(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, AuthError> {
        let f = filter_of(q);
        let mut out = Vec::new();
        let mut after = None;
        while let Some(page) = self.page(&f, after).await? {
            after = page.last().map(|e| e.seq);
            out.extend(page);
        }
        Ok(out)
    }

    /// The next [`MAX_PAGE`] entries matching `f` after `seq` (from the start when
    /// `None`) in `seq` order; `None` when there are no more.
    async fn page(
        &self,
        f: &Filter,
        after: Option<i64>,
    ) -> Result<Option<Vec<AuditEntry>>, AuthError> {
        let n = f.next();
        let mut clauses = f.clauses.clone();
        if after.is_some() {
            clauses.push(format!("seq > ${}", n + 1));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let sql = format!("SELECT {COLUMNS} FROM audit_log{filter} ORDER BY seq LIMIT ${n}");
        let mut query = f.bind(sqlx::query(&sql)).bind(MAX_PAGE);
        if let Some(seq) = after {
            query = query.bind(seq);
        }
        let rows = query.fetch_all(&self.pool).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        rows.iter()
            .map(entry_from_row)
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// Walks the whole log in `seq` order and reports the first break in the chain.
    /// Rows numbered below 1 are walked too: they can only come from tampering.
    pub async fn verify(&self) -> Result<ChainReport, AuthError> {
        let all = Filter::default();
        let mut walk = chain::Walker::default();
        let mut after = None;
        while let Some(page) = self.page(&all, after).await? {
            after = page.last().map(|e| e.seq);
            for e in &page {
                walk.push(e);
            }
        }
        Ok(walk.finish())
    }
}

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry, AuthError> {
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        actor_role: row.try_get("actor_role")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        ip: row.try_get("ip")?,
        request_id: row.try_get("request_id")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

#[cfg(test)]
mod tests;
