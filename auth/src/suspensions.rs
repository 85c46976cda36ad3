//! Emergency suspensions: while a group is suspended its members cannot sign in.
//! The console shows a banner for as long as any suspension is active.
use crate::clock::UnixTime;
use crate::error::AuthError;
use sqlx::{AnyPool, Row};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    pub group: String,
    pub reason: String,
    pub suspended_by: String,
    pub suspended_at: UnixTime,
}

#[derive(Clone)]
pub struct Suspensions {
    pool: AnyPool,
}

impl fmt::Debug for Suspensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Suspensions")
    }
}

impl Suspensions {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Suspends a group; false when it already was (the first reason stays).
    pub async fn suspend(
        &self,
        group: &str,
        reason: &str,
        by: &str,
        now: UnixTime,
    ) -> Result<bool, AuthError> {
        let done = sqlx::query(
            "INSERT INTO group_suspensions (group_name, reason, suspended_by, suspended_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (group_name) DO NOTHING",
        )
        .bind(group)
        .bind(reason.trim())
        .bind(by)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Lifts a suspension; false when there was none.
    pub async fn lift(&self, group: &str) -> Result<bool, AuthError> {
        let done = sqlx::query("DELETE FROM group_suspensions WHERE group_name = $1")
            .bind(group)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn active(&self) -> Result<Vec<Suspension>, AuthError> {
        let rows = sqlx::query(
            "SELECT group_name, reason, suspended_by, suspended_at FROM group_suspensions ORDER BY group_name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Suspension {
                    group: r.try_get("group_name")?,
                    reason: r.try_get("reason")?,
                    suspended_by: r.try_get("suspended_by")?,
                    suspended_at: r.try_get("suspended_at")?,
                })
            })
            .collect()
    }

    /// The first suspended group among `groups`, if any (checked at every sign-in).
    pub async fn blocking(&self, groups: &[String]) -> Result<Option<String>, AuthError> {
        if groups.is_empty() {
            return Ok(None);
        }
        Ok(self
            .active()
            .await?
            .into_iter()
            .map(|s| s.group)
            .find(|g| groups.contains(g)))
    }
}

#[cfg(test)]
mod tests;
