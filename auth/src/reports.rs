//! The admin console's report figures, read from SQL over a time range `from..to`
//! (Unix seconds, `from` included, `to` excluded):
//!
//! - [`Reports::adoption_history`]: daily MFA adoption snapshots, which the gateways'
//!   adoption refresh writes with [`Reports::record_adoption`] (built by
//!   [`AdoptionPoint::snapshot`] from the figures the gauges already use).
//! - [`Reports::factor_outcomes`]: second-factor verifications per method.
//! - [`Reports::failure_reasons`]: the most frequent reasons of failed attempts.
//! - [`Reports::lockouts`]: lock starts per UTC day.
//! - [`Reports::resets`]: MFA reset requests by state and how long they took.
//!
//! Every query takes its values as bound parameters and runs unchanged on SQLite and
//! PostgreSQL; anything an engine would compute differently (the median) is done here.
use crate::clock::UnixTime;
use crate::error::AuthError;
use crate::events::EventKind;
use crate::rollout::{Adoption, AdoptionRow};
use sqlx::{AnyPool, Row};
use std::fmt;

/// Seconds in a UTC day (Unix time has no leap seconds).
pub const DAY: i64 = 86_400;

/// The `group` of the snapshot rows that cover every enabled user once.
pub const ALL_USERS: &str = "";

/// The `group` of users in no group (the gauges' label for them, too): `""` already
/// means everyone in the history.
pub const NO_GROUP: &str = "(none)";

/// The `method` of the rows that count users with any second factor.
pub const ANY_METHOD: &str = "any";

/// 00:00 UTC of the day that contains `at`.
pub fn utc_day(at: UnixTime) -> UnixTime {
    at.div_euclid(DAY) * DAY
}

/// One day's adoption for one group and one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdoptionPoint {
    /// 00:00 UTC of the day.
    pub day: UnixTime,
    /// [`ALL_USERS`], [`NO_GROUP`] or a group name.
    pub group: String,
    /// [`ANY_METHOD`], `totp`, `email`, `sms` or `backup_codes`.
    pub method: String,
    /// Enabled users in the group.
    pub users: i64,
    /// Of those, the users with this method (with any second factor for `any`).
    pub enrolled: i64,
}

impl AdoptionPoint {
    /// The snapshot of `adoption` as rows for the day containing `at`: the total as
    /// [`ALL_USERS`] first, then each group, each with `any` and the four methods.
    pub fn snapshot(at: UnixTime, adoption: &Adoption) -> Vec<AdoptionPoint> {
        let day = utc_day(at);
        let rows =
            std::iter::once((ALL_USERS, &adoption.total)).chain(adoption.groups.iter().map(|g| {
                (
                    if g.group.is_empty() {
                        NO_GROUP
                    } else {
                        g.group.as_str()
                    },
                    g,
                )
            }));
        rows.flat_map(|(group, row)| {
            per_method(row).map(move |(method, enrolled)| AdoptionPoint {
                day,
                group: group.to_string(),
                method: method.to_string(),
                users: row.users,
                enrolled,
            })
        })
        .collect()
    }

    /// Share of users enrolled, 0–100 (0 for an empty group).
    pub fn percent(&self) -> f64 {
        if self.users <= 0 {
            0.0
        } else {
            self.enrolled as f64 * 100.0 / self.users as f64
        }
    }
}

fn per_method(row: &AdoptionRow) -> [(&'static str, i64); 5] {
    [
        (ANY_METHOD, row.enrolled),
        ("totp", row.totp),
        ("email", row.email),
        ("sms", row.sms),
        ("backup_codes", row.backup_codes),
    ]
}

/// Second-factor verifications of one method in a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorOutcome {
    /// `totp`, `email`, `sms` or `backup_code`.
    pub method: String,
    pub successes: u64,
    pub failures: u64,
}

/// MFA reset requests created in a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResetFigures {
    /// `(state, requests)` for each state that has any, by state name.
    pub by_state: Vec<(String, u64)>,
    /// Median seconds from request to execution or rejection (rounded down between
    /// the two middle values); `None` when none was resolved.
    pub median_seconds_to_resolve: Option<i64>,
    /// Requests executed or rejected.
    pub resolved: u64,
}

#[derive(Clone)]
pub struct Reports {
    pool: AnyPool,
}

impl fmt::Debug for Reports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reports")
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Second-factor checks that did not check a code: a lock refused them first (the
/// lock start is its own `lockout` event) — they would count one guess many times.
const NOT_REFUSED_BY_LOCK: &str = "COALESCE(detail, '') NOT LIKE 'locked=%'";

impl Reports {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Stores `points` as the snapshot of the UTC day containing `day` (their own
    /// `day` is not read). It replaces any earlier snapshot of that day as a whole,
    /// so a group that vanished since leaves no stale row. Several gateways refresh
    /// independently: racing writers wait for each other on the rows and the last
    /// one's figures stand (on PostgreSQL, a group that only the earlier one saw can
    /// remain until the next refresh).
    pub async fn record_adoption(
        &self,
        day: UnixTime,
        points: &[AdoptionPoint],
    ) -> Result<(), AuthError> {
        let day = utc_day(day);
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM adoption_daily WHERE day = $1")
            .bind(day)
            .execute(&mut *tx)
            .await?;
        for p in points {
            // An upsert rather than a plain insert: a writer that started before our
            // commit and inserts the same keys must update them, not fail.
            sqlx::query(
                "INSERT INTO adoption_daily (day, group_name, method, users, enrolled) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (day, group_name, method) \
                 DO UPDATE SET users = excluded.users, enrolled = excluded.enrolled",
            )
            .bind(day)
            .bind(&p.group)
            .bind(&p.method)
            .bind(p.users)
            .bind(p.enrolled)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The snapshots of the days in `from..to`, by day, group and method.
    pub async fn adoption_history(
        &self,
        from: UnixTime,
        to: UnixTime,
    ) -> Result<Vec<AdoptionPoint>, AuthError> {
        let rows = sqlx::query(
            "SELECT day, group_name, method, users, enrolled FROM adoption_daily \
             WHERE day >= $1 AND day < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut points = rows
            .iter()
            .map(|r| {
                Ok(AdoptionPoint {
                    day: r.try_get("day")?,
                    group: r.try_get("group_name")?,
                    method: r.try_get("method")?,
                    users: r.try_get("users")?,
                    enrolled: r.try_get("enrolled")?,
                })
            })
            .collect::<Result<Vec<_>, AuthError>>()?;
        // Text order is the database's collation (PostgreSQL's may skip punctuation,
        // so `(none)` would move); byte order here is the same on every engine.
        points.sort_by(|a, b| (a.day, &a.group, &a.method).cmp(&(b.day, &b.group, &b.method)));
        Ok(points)
    }

    /// Successes and failures of second-factor verifications per method, by method.
    ///
    /// Counted: `second_factor` events with a method, i.e. the sign-in challenge's
    /// code checks (TOTP, e-mail and SMS codes, backup codes; a code's own try limit
    /// is a failure). Not counted: trusted-browser skips (no factor was checked),
    /// attempts a lock refused before any check (`detail` `locked=…`), sending codes
    /// (`code_sent`), and enrolment or settings changes (`enrollment`, `settings`),
    /// even though those verify a code too: they say how setup goes, not sign-in.
    pub async fn factor_outcomes(
        &self,
        from: UnixTime,
        to: UnixTime,
    ) -> Result<Vec<FactorOutcome>, AuthError> {
        let rows = sqlx::query(&format!(
            "SELECT method, \
               SUM(CASE WHEN success <> 0 THEN 1 ELSE 0 END) AS ok, \
               SUM(CASE WHEN success = 0 THEN 1 ELSE 0 END) AS failed \
             FROM auth_events \
             WHERE at >= $1 AND at < $2 AND kind = $3 AND method IS NOT NULL \
               AND method <> 'trusted_device' AND {NOT_REFUSED_BY_LOCK} \
             GROUP BY method"
        ))
        .bind(from)
        .bind(to)
        .bind(EventKind::SecondFactor.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut outcomes = rows
            .iter()
            .map(|r| {
                Ok(FactorOutcome {
                    method: r.try_get("method")?,
                    successes: count(r.try_get("ok")?),
                    failures: count(r.try_get("failed")?),
                })
            })
            .collect::<Result<Vec<_>, AuthError>>()?;
        outcomes.sort_by(|a, b| a.method.cmp(&b.method));
        Ok(outcomes)
    }

    /// `(reason, events)` of the failed attempts of every kind, most frequent first
    /// (ties by reason), at most `limit`. Lock starts are not attempts (the failure
    /// that caused them is already counted) and are left out, and so are the error
    /// pages visitors saw (`error` events).
    pub async fn failure_reasons(
        &self,
        from: UnixTime,
        to: UnixTime,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, AuthError> {
        // Reasons are a small fixed set, so all of them come back and the ranking is
        // done here, where ties order the same on every engine.
        let rows = sqlx::query(
            "SELECT reason, COUNT(*) AS n FROM auth_events \
             WHERE at >= $1 AND at < $2 AND success = 0 AND kind <> $3 AND kind <> $4 \
             GROUP BY reason",
        )
        .bind(from)
        .bind(to)
        .bind(EventKind::Lockout.as_str())
        .bind(EventKind::Error.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut reasons = rows
            .iter()
            .map(|r| Ok((r.try_get("reason")?, count(r.try_get("n")?))))
            .collect::<Result<Vec<(String, u64)>, AuthError>>()?;
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        reasons.truncate(limit);
        Ok(reasons)
    }

    /// `(day, locks started)` per UTC day (00:00 UTC), for the days that had any.
    ///
    /// Counts lock *starts*: the sign-in guard records one `lockout` event per lock a
    /// failure starts (pair, account or address), so three scopes locking at once
    /// count three. Attempts refused while locked (`too_many_attempts` with
    /// `locked=…`) are not counted: one patient attacker would look like many locks.
    pub async fn lockouts(
        &self,
        from: UnixTime,
        to: UnixTime,
    ) -> Result<Vec<(UnixTime, u64)>, AuthError> {
        // Integer division on both engines; `at` is never negative.
        let rows = sqlx::query(&format!(
            "SELECT (at / {DAY}) * {DAY} AS day, COUNT(*) AS n FROM auth_events \
             WHERE at >= $1 AND at < $2 AND kind = $3 \
             GROUP BY (at / {DAY}) * {DAY} ORDER BY day"
        ))
        .bind(from)
        .bind(to)
        .bind(EventKind::Lockout.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("day")?, count(r.try_get("n")?))))
            .collect()
    }

    /// Reset requests created in `from..to`: how many are in each state now, and how
    /// long the resolved ones took (execution time for executed requests, decision
    /// time for rejected ones).
    pub async fn resets(&self, from: UnixTime, to: UnixTime) -> Result<ResetFigures, AuthError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM reset_requests \
             WHERE created_at >= $1 AND created_at < $2 GROUP BY state",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut by_state = rows
            .iter()
            .map(|r| Ok((r.try_get("state")?, count(r.try_get("n")?))))
            .collect::<Result<Vec<(String, u64)>, AuthError>>()?;
        by_state.sort();
        let rows = sqlx::query(
            "SELECT CASE WHEN state = 'executed' THEN executed_at - created_at \
                         ELSE decided_at - created_at END AS secs \
             FROM reset_requests WHERE created_at >= $1 AND created_at < $2 \
               AND ((state = 'executed' AND executed_at IS NOT NULL) \
                 OR (state = 'rejected' AND decided_at IS NOT NULL))",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut secs = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("secs"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ResetFigures {
            by_state,
            resolved: u64::try_from(secs.len()).unwrap_or(u64::MAX),
            median_seconds_to_resolve: median(&mut secs),
        })
    }
}

/// The median of `values` (sorted in place); for an even count, the mean of the two
/// middle values rounded down. `None` for no values.
pub fn median(values: &mut [i64]) -> Option<i64> {
    values.sort_unstable();
    let n = values.len();
    let upper = *values.get(n / 2)?;
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = *values.get(n / 2 - 1)?;
    // In i128 the sum cannot overflow, and its half fits in i64 again.
    i64::try_from((i128::from(lower) + i128::from(upper)).div_euclid(2)).ok()
}

#[cfg(test)]
mod tests;
