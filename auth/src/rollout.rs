//! Rollout state in SQL: per-user nudge facts (snooze, grace sign-ins, wizard start),
//! the reminder-notice claims, and the adoption figures behind the gauges and
//! `sekisho report adoption`.
//!
//! Every write that must happen once is a conditional statement whose row count says
//! who won: a notice is claimed by inserting its row, an abandoned wizard by clearing
//! the exact start time that was read.
use crate::clock::UnixTime;
use crate::error::AuthError;
use sqlx::{AnyPool, Row};
use std::fmt;

/// One user's rollout facts as stored (see `sekisho_policy::RolloutFacts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RolloutRow {
    pub snoozed_until: Option<UnixTime>,
    /// Countdown sign-ins used towards `deadline` (0 for any other deadline).
    pub grace_used: u32,
    pub wizard_started_at: Option<UnixTime>,
}

/// Where a reminder notice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeState {
    /// Claimed by a job run, not yet confirmed sent.
    Claimed,
    Sent,
    /// A later notice was due at the same time; only that one was mailed.
    Superseded,
}

impl NoticeState {
    fn as_str(self) -> &'static str {
        match self {
            NoticeState::Claimed => "claimed",
            NoticeState::Sent => "sent",
            NoticeState::Superseded => "superseded",
        }
    }
}

/// A user without a second factor, for the reminder job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnenrolledUser {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub groups: Vec<String>,
}

/// Enabled users per group, and how many have each factor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdoptionRow {
    /// Group name; `""` for users in no group.
    pub group: String,
    pub users: i64,
    pub enrolled: i64,
    pub totp: i64,
    pub email: i64,
    pub sms: i64,
    /// Enrolled users with unused backup codes.
    pub backup_codes: i64,
}

impl AdoptionRow {
    /// Share of users enrolled, 0–100.
    pub fn percent(&self) -> f64 {
        if self.users == 0 {
            0.0
        } else {
            self.enrolled as f64 * 100.0 / self.users as f64
        }
    }
}

/// Adoption per group plus the whole population (users in several groups count once
/// in `total`, once in each group row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adoption {
    pub groups: Vec<AdoptionRow>,
    pub total: AdoptionRow,
}

#[derive(Clone)]
pub struct RolloutStore {
    pool: AnyPool,
}

impl fmt::Debug for RolloutStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RolloutStore")
    }
}

/// Whether a user has a second factor, as one SQL expression over `u` (users),
/// `t` (confirmed TOTP) and `s` (mfa_settings); matches `Enrollment::is_enrolled`.
const ENROLLED: &str =
    "(t.user_id IS NOT NULL OR COALESCE(s.email_enabled, 0) <> 0 OR s.phone IS NOT NULL)";
const FACTOR_JOINS: &str =
    "LEFT JOIN mfa_totp t ON t.user_id = u.id AND t.secret_sealed IS NOT NULL \
     LEFT JOIN mfa_settings s ON s.user_id = u.id";

impl RolloutStore {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// The stored facts; grace sign-ins only count towards the same `deadline`.
    pub async fn row(&self, user_id: &str, deadline: Option<i64>) -> Result<RolloutRow, AuthError> {
        let row = sqlx::query(
            "SELECT snoozed_until, grace_used, grace_deadline, wizard_started_at FROM mfa_rollout WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(RolloutRow::default());
        };
        let grace_deadline: Option<i64> = row.try_get("grace_deadline")?;
        let used: i64 = row.try_get("grace_used")?;
        Ok(RolloutRow {
            snoozed_until: row.try_get("snoozed_until")?,
            grace_used: if deadline.is_some() && grace_deadline == deadline {
                u32::try_from(used).unwrap_or(u32::MAX)
            } else {
                0
            },
            wizard_started_at: row.try_get("wizard_started_at")?,
        })
    }

    async fn ensure(&self, user_id: &str) -> Result<(), AuthError> {
        sqlx::query(
            "INSERT INTO mfa_rollout (user_id, grace_used) VALUES ($1, 0) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// No recommendation page before `until`.
    pub async fn snooze(&self, user_id: &str, until: UnixTime) -> Result<(), AuthError> {
        self.ensure(user_id).await?;
        sqlx::query("UPDATE mfa_rollout SET snoozed_until = $2 WHERE user_id = $1")
            .bind(user_id)
            .bind(until)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Counts one countdown sign-in towards `deadline` (restarting the count when the
    /// deadline changed); returns the count after this one.
    pub async fn use_grace_login(&self, user_id: &str, deadline: i64) -> Result<u32, AuthError> {
        self.ensure(user_id).await?;
        sqlx::query(
            "UPDATE mfa_rollout SET \
               grace_used = CASE WHEN grace_deadline = $2 THEN grace_used + 1 ELSE 1 END, \
               grace_deadline = $2 \
             WHERE user_id = $1",
        )
        .bind(user_id)
        .bind(deadline)
        .execute(&self.pool)
        .await?;
        Ok(self.row(user_id, Some(deadline)).await?.grace_used)
    }

    /// Marks the wizard started; `true` when it was not already running (so the
    /// caller records `enrolment_started` once per attempt).
    pub async fn start_wizard(&self, user_id: &str, now: UnixTime) -> Result<bool, AuthError> {
        self.ensure(user_id).await?;
        let done = sqlx::query(
            "UPDATE mfa_rollout SET wizard_started_at = $2 WHERE user_id = $1 AND wizard_started_at IS NULL",
        )
        .bind(user_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a running wizard (completed or given up); returns when it started, or
    /// `None` if none was running (someone else ended it).
    pub async fn end_wizard(&self, user_id: &str) -> Result<Option<UnixTime>, AuthError> {
        let started = self.row(user_id, None).await?.wizard_started_at;
        let Some(at) = started else {
            return Ok(None);
        };
        Ok(self.end_wizard_started_at(user_id, at).await?.then_some(at))
    }

    /// Clears the wizard only if it is still the attempt that started at `at`.
    pub async fn end_wizard_started_at(
        &self,
        user_id: &str,
        at: UnixTime,
    ) -> Result<bool, AuthError> {
        let done = sqlx::query(
            "UPDATE mfa_rollout SET wizard_started_at = NULL WHERE user_id = $1 AND wizard_started_at = $2",
        )
        .bind(user_id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Wizards started before `cutoff` and never finished: `(user_id, email, started_at)`.
    pub async fn stale_wizards(
        &self,
        cutoff: UnixTime,
    ) -> Result<Vec<(String, String, UnixTime)>, AuthError> {
        let rows = sqlx::query(
            "SELECT r.user_id, u.email, r.wizard_started_at FROM mfa_rollout r JOIN users u ON u.id = r.user_id \
             WHERE r.wizard_started_at IS NOT NULL AND r.wizard_started_at < $1 ORDER BY r.wizard_started_at",
        )
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("user_id")?,
                    r.try_get("email")?,
                    r.try_get("wizard_started_at")?,
                ))
            })
            .collect()
    }

    /// Enabled users with no second factor, with their groups.
    pub async fn unenrolled_users(&self) -> Result<Vec<UnenrolledUser>, AuthError> {
        let rows = sqlx::query(&format!(
            "SELECT u.id, u.email, u.display_name, g.group_name FROM users u {FACTOR_JOINS} \
             LEFT JOIN user_groups g ON g.user_id = u.id \
             WHERE u.disabled = 0 AND NOT {ENROLLED} ORDER BY u.email_lower, g.group_name"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<UnenrolledUser> = Vec::new();
        for row in &rows {
            let id: String = row.try_get("id")?;
            let group: Option<String> = row.try_get("group_name")?;
            if out.last().is_none_or(|u| u.id != id) {
                out.push(UnenrolledUser {
                    id,
                    email: row.try_get("email")?,
                    display_name: row.try_get("display_name")?,
                    groups: Vec::new(),
                });
            }
            if let (Some(g), Some(u)) = (group, out.last_mut()) {
                u.groups.push(g);
            }
        }
        Ok(out)
    }

    /// Claims one reminder; `true` means this caller sends it, `false` that it was
    /// already claimed (by this or another gateway).
    pub async fn claim_notice(
        &self,
        user_id: &str,
        deadline: i64,
        days: u32,
        now: UnixTime,
        state: NoticeState,
    ) -> Result<bool, AuthError> {
        let done = sqlx::query(
            "INSERT INTO enrollment_notices (user_id, deadline, days, claimed_at, state) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, deadline, days) DO NOTHING",
        )
        .bind(user_id)
        .bind(deadline)
        .bind(i64::from(days))
        .bind(now)
        .bind(state.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn mark_notice_sent(
        &self,
        user_id: &str,
        deadline: i64,
        days: u32,
    ) -> Result<(), AuthError> {
        sqlx::query(
            "UPDATE enrollment_notices SET state = 'sent' WHERE user_id = $1 AND deadline = $2 AND days = $3",
        )
        .bind(user_id)
        .bind(deadline)
        .bind(i64::from(days))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives a claim back after a failed send, so a later run tries again.
    pub async fn release_notice(
        &self,
        user_id: &str,
        deadline: i64,
        days: u32,
    ) -> Result<(), AuthError> {
        sqlx::query(
            "DELETE FROM enrollment_notices WHERE user_id = $1 AND deadline = $2 AND days = $3 AND state = 'claimed'",
        )
        .bind(user_id)
        .bind(deadline)
        .bind(i64::from(days))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// `(days, state)` of the notices recorded for a user and deadline, most days first.
    pub async fn notices(
        &self,
        user_id: &str,
        deadline: i64,
    ) -> Result<Vec<(u32, String)>, AuthError> {
        let rows = sqlx::query(
            "SELECT days, state FROM enrollment_notices WHERE user_id = $1 AND deadline = $2 ORDER BY days DESC",
        )
        .bind(user_id)
        .bind(deadline)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let d: i64 = r.try_get("days")?;
                Ok((u32::try_from(d).unwrap_or(0), r.try_get("state")?))
            })
            .collect()
    }

    /// Adoption per group and in total, in two aggregate queries.
    pub async fn adoption(&self) -> Result<Adoption, AuthError> {
        let select = format!(
            "COUNT(*) AS users, \
             SUM(CASE WHEN {ENROLLED} THEN 1 ELSE 0 END) AS enrolled, \
             SUM(CASE WHEN t.user_id IS NOT NULL THEN 1 ELSE 0 END) AS totp, \
             SUM(CASE WHEN s.email_enabled <> 0 THEN 1 ELSE 0 END) AS email, \
             SUM(CASE WHEN s.phone IS NOT NULL THEN 1 ELSE 0 END) AS sms, \
             SUM(CASE WHEN {ENROLLED} AND EXISTS (SELECT 1 FROM backup_codes b WHERE b.user_id = u.id AND b.used_at IS NULL) THEN 1 ELSE 0 END) AS backup"
        );
        let rows = sqlx::query(&format!(
            "SELECT COALESCE(g.group_name, '') AS grp, {select} FROM users u {FACTOR_JOINS} \
             LEFT JOIN user_groups g ON g.user_id = u.id WHERE u.disabled = 0 \
             GROUP BY COALESCE(g.group_name, '') ORDER BY COALESCE(g.group_name, '')"
        ))
        .fetch_all(&self.pool)
        .await?;
        let groups = rows
            .iter()
            .map(|r| adoption_row(r, r.try_get("grp")?))
            .collect::<Result<Vec<_>, AuthError>>()?;
        let total = sqlx::query(&format!(
            "SELECT {select} FROM users u {FACTOR_JOINS} WHERE u.disabled = 0"
        ))
        .fetch_one(&self.pool)
        .await?;
        Ok(Adoption {
            groups,
            total: adoption_row(&total, String::new())?,
        })
    }
}

fn adoption_row(r: &sqlx::any::AnyRow, group: String) -> Result<AdoptionRow, AuthError> {
    // SUM over no rows is NULL.
    let n =
        |c: &str| -> Result<i64, AuthError> { Ok(r.try_get::<Option<i64>, _>(c)?.unwrap_or(0)) };
    Ok(AdoptionRow {
        group,
        users: n("users")?,
        enrolled: n("enrolled")?,
        totp: n("totp")?,
        email: n("email")?,
        sms: n("sms")?,
        backup_codes: n("backup")?,
    })
}

#[cfg(test)]
mod tests;
