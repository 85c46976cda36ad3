//! Bulk MFA resets: a secadmin picks a group or a department, sees how many users it
//! touches, confirms with a reason, and a background task resets each user.
//!
//! The users are fixed when the job is created (one `bulk_results` row each), so the
//! preview, the progress and the result all count the same people. Each user's reset
//! claims their row in the reset's own transaction ([`crate::resets::ResetRequests::execute_direct`]),
//! which makes running a job again — after a crash, or twice at once — safe: nobody is
//! reset twice, and failed rows are tried again.
use crate::clock::UnixTime;
use crate::error::AuthError;
use crate::resets::{check_reason, Actor, ResetError, ResetScope};
use crate::token::random_token;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use std::fmt;

/// Whom a bulk reset covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Group(String),
    Department(String),
}

impl Selector {
    pub fn kind(&self) -> &'static str {
        match self {
            Selector::Group(_) => "group",
            Selector::Department(_) => "department",
        }
    }
    pub fn value(&self) -> &str {
        match self {
            Selector::Group(v) | Selector::Department(v) => v,
        }
    }
    pub fn parse(kind: &str, value: &str) -> Option<Self> {
        let v = value.trim();
        if v.is_empty() || v.len() > 200 {
            return None;
        }
        match kind {
            "group" => Some(Selector::Group(v.to_string())),
            "department" => Some(Selector::Department(v.to_string())),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkJob {
    pub id: String,
    pub created_by_email: String,
    pub selector: Selector,
    pub scope: ResetScope,
    pub reason: String,
    /// `running` until every row is done or failed, then `done`.
    pub finished: bool,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub created_at: UnixTime,
    pub finished_at: Option<UnixTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkResult {
    pub user_id: String,
    pub email: String,
    /// pending | done | failed
    pub state: String,
    /// The reset request id when done; the error when failed.
    pub detail: Option<String>,
    pub done_at: Option<UnixTime>,
}

#[derive(Clone)]
pub struct BulkJobs {
    pool: AnyPool,
}

impl fmt::Debug for BulkJobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BulkJobs")
    }
}

const SELECT_USERS: &str = "SELECT u.id, u.email FROM users u WHERE u.disabled = 0 AND u.id <> $3 AND (
    ($1 = 'group' AND EXISTS (SELECT 1 FROM user_groups g WHERE g.user_id = u.id AND g.group_name = $2))
    OR ($1 = 'department' AND u.department = $2))";

impl BulkJobs {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// How many users a job would reset (enabled accounts, never the admin asking).
    pub async fn preview(&self, selector: &Selector, exclude_user: &str) -> Result<i64, AuthError> {
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM ({SELECT_USERS}) x"))
            .bind(selector.kind())
            .bind(selector.value())
            .bind(exclude_user)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Creates a job with one pending row per selected user.
    pub async fn create(
        &self,
        by: Actor<'_>,
        selector: &Selector,
        scope: ResetScope,
        reason: &str,
        now: UnixTime,
    ) -> Result<BulkJob, ResetError> {
        let reason = check_reason(reason)?;
        let id = format!("BJ-{}", random_token(9));
        let mut tx = self.pool.begin().await?;
        let users = sqlx::query(SELECT_USERS)
            .bind(selector.kind())
            .bind(selector.value())
            .bind(by.id)
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO bulk_jobs (id, created_by, created_by_email, selector_kind, selector, scope, reason, state, total, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9)",
        )
        .bind(&id)
        .bind(by.id)
        .bind(by.email)
        .bind(selector.kind())
        .bind(selector.value())
        .bind(scope.as_str())
        .bind(reason)
        .bind(users.len() as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for u in &users {
            sqlx::query(
                "INSERT INTO bulk_results (job_id, user_id, email, state) VALUES ($1, $2, $3, 'pending')",
            )
            .bind(&id)
            .bind(u.try_get::<String, _>("id")?)
            .bind(u.try_get::<String, _>("email")?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.get(&id).await?.ok_or(ResetError::NotFound)
    }

    pub async fn get(&self, id: &str) -> Result<Option<BulkJob>, AuthError> {
        let row = sqlx::query(&format!("{JOB_SELECT} WHERE j.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Newest first.
    pub async fn list(&self, limit: i64) -> Result<Vec<BulkJob>, AuthError> {
        let rows = sqlx::query(&format!(
            "{JOB_SELECT} ORDER BY j.created_at DESC, j.id LIMIT $1"
        ))
        .bind(limit.clamp(1, 200))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    pub async fn results(&self, id: &str) -> Result<Vec<BulkResult>, AuthError> {
        let rows = sqlx::query(
            "SELECT user_id, email, state, detail, done_at FROM bulk_results WHERE job_id = $1 ORDER BY email",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BulkResult {
                    user_id: r.try_get("user_id")?,
                    email: r.try_get("email")?,
                    state: r.try_get("state")?,
                    detail: r.try_get("detail")?,
                    done_at: r.try_get("done_at")?,
                })
            })
            .collect()
    }

    /// The rows a run still has to do: pending, and failed ones (tried again).
    pub async fn to_do(&self, id: &str) -> Result<Vec<BulkResult>, AuthError> {
        Ok(self
            .results(id)
            .await?
            .into_iter()
            .filter(|r| r.state != "done")
            .collect())
    }

    /// Records that one user's reset failed (it is tried again on the next run).
    pub async fn mark_failed(
        &self,
        id: &str,
        user_id: &str,
        why: &str,
        now: UnixTime,
    ) -> Result<(), AuthError> {
        sqlx::query(
            "UPDATE bulk_results SET state = 'failed', detail = $1, done_at = $2 WHERE job_id = $3 AND user_id = $4 AND state <> 'done'",
        )
        .bind(why.chars().take(500).collect::<String>())
        .bind(now)
        .bind(id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a run: `done` when nothing is pending (failed rows may be retried later,
    /// which reopens the job).
    pub async fn finish_run(&self, id: &str, now: UnixTime) -> Result<Option<BulkJob>, AuthError> {
        sqlx::query(
            "UPDATE bulk_jobs SET state = 'done', finished_at = $1 WHERE id = $2
             AND NOT EXISTS (SELECT 1 FROM bulk_results r WHERE r.job_id = $2 AND r.state = 'pending')",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.get(id).await
    }

    /// Deletes a job that never ran (the admin's confirmed count no longer matched).
    pub async fn abandon(&self, id: &str) -> Result<(), AuthError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "SELECT COUNT(*) AS n FROM bulk_results WHERE job_id = $1 AND state <> 'pending'",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if done.try_get::<i64, _>("n")? == 0 {
            for sql in [
                "DELETE FROM bulk_results WHERE job_id = $1",
                "DELETE FROM bulk_jobs WHERE id = $1",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks a job as running again before a retry.
    pub async fn reopen(&self, id: &str) -> Result<(), AuthError> {
        sqlx::query("UPDATE bulk_jobs SET state = 'running', finished_at = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

const JOB_SELECT: &str = "SELECT j.id, j.created_by_email, j.selector_kind, j.selector, j.scope, j.reason, j.state, j.total, j.created_at, j.finished_at,
    (SELECT COUNT(*) FROM bulk_results r WHERE r.job_id = j.id AND r.state = 'done') AS n_done,
    (SELECT COUNT(*) FROM bulk_results r WHERE r.job_id = j.id AND r.state = 'failed') AS n_failed
    FROM bulk_jobs j";

fn job_from_row(row: &AnyRow) -> Result<BulkJob, AuthError> {
    let kind: String = row.try_get("selector_kind")?;
    let value: String = row.try_get("selector")?;
    let scope: String = row.try_get("scope")?;
    let state: String = row.try_get("state")?;
    Ok(BulkJob {
        id: row.try_get("id")?,
        created_by_email: row.try_get("created_by_email")?,
        selector: Selector::parse(&kind, &value)
            .ok_or_else(|| AuthError::Database(format!("bad bulk selector `{kind}`")))?,
        scope: ResetScope::parse(&scope)
            .ok_or_else(|| AuthError::Database(format!("bad bulk scope `{scope}`")))?,
        reason: row.try_get("reason")?,
        finished: state == "done",
        total: row.try_get("total")?,
        done: row.try_get("n_done")?,
        failed: row.try_get("n_failed")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

#[cfg(test)]
mod tests;
