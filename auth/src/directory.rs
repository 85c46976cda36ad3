//! The admin console's user directory: search by name, e-mail or department with
//! filters on MFA status, groups and last sign-in, one page at a time, each row with
//! its MFA status and backup codes left — one SQL query per page, whatever its size.
use crate::clock::UnixTime;
use crate::error::AuthError;
use sqlx::{AnyPool, Row};
use std::fmt;

/// The shortest search text: shorter ones would list half the company.
pub const MIN_SEARCH_CHARS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaFilter {
    Enrolled,
    NotEnrolled,
    /// Enrolled, with no unused backup code left.
    NoBackupCodes,
}

impl MfaFilter {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "enrolled" => Some(Self::Enrolled),
            "not_enrolled" => Some(Self::NotEnrolled),
            "no_backup_codes" => Some(Self::NoBackupCodes),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enrolled => "enrolled",
            Self::NotEnrolled => "not_enrolled",
            Self::NoBackupCodes => "no_backup_codes",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastSignIn {
    Never,
    /// Signed in at or after this time.
    Since(UnixTime),
    /// Last signed in before this time (or never).
    Before(UnixTime),
}

#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Matched case-insensitively anywhere in the e-mail, name or department.
    pub text: Option<String>,
    pub mfa: Option<MfaFilter>,
    /// Members of any of these groups (empty: no group filter).
    pub groups: Vec<String>,
    pub last_sign_in: Option<LastSignIn>,
    pub limit: i64,
    pub offset: i64,
}

/// One directory row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub department: String,
    pub disabled: bool,
    pub last_sign_in: Option<UnixTime>,
    pub totp: bool,
    pub email_codes: bool,
    pub sms: bool,
    pub backup_codes_left: i64,
}

impl UserSummary {
    pub fn enrolled(&self) -> bool {
        self.totp || self.email_codes || self.sms
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("type at least {MIN_SEARCH_CHARS} characters")]
    TooShort,
    #[error(transparent)]
    Store(#[from] AuthError),
}

#[derive(Clone)]
pub struct Directory {
    pool: AnyPool,
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Directory")
    }
}

/// `%`, `_` and the escape character (`!`, the same on SQLite and PostgreSQL, unlike
/// the backslash) match literally.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out.push('%');
    out
}

const ROW: &str = "SELECT u.id, u.email, u.display_name, u.department, u.disabled, u.last_sign_in,
    (SELECT COUNT(*) FROM mfa_totp t WHERE t.user_id = u.id AND t.secret_sealed IS NOT NULL) AS n_totp,
    (SELECT COUNT(*) FROM mfa_settings s WHERE s.user_id = u.id AND s.email_enabled <> 0) AS n_email,
    (SELECT COUNT(*) FROM mfa_settings s WHERE s.user_id = u.id AND s.phone IS NOT NULL) AS n_sms,
    (SELECT COUNT(*) FROM backup_codes b WHERE b.user_id = u.id AND b.used_at IS NULL) AS n_codes
    FROM users u";

/// Binds the filter parameters ($1…$4, then one per group) to `sql`.
fn bind_filters<'q>(
    sql: &'q str,
    pattern: &str,
    mfa: &'static str,
    ls_kind: &'static str,
    ls_at: i64,
    groups: &[String],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut query = sqlx::query(sql)
        .bind(pattern.to_string())
        .bind(mfa)
        .bind(ls_kind)
        .bind(ls_at);
    for g in groups {
        query = query.bind(g.clone());
    }
    query
}

impl Directory {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// One page of matching users ordered by e-mail, and how many match in all.
    pub async fn search(&self, q: &UserQuery) -> Result<(Vec<UserSummary>, i64), SearchError> {
        let text = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
        if text.is_some_and(|t| t.chars().count() < MIN_SEARCH_CHARS) {
            return Err(SearchError::TooShort);
        }
        let pattern = text.map(like_pattern).unwrap_or_default();
        let (ls_kind, ls_at) = match q.last_sign_in {
            None => ("", 0),
            Some(LastSignIn::Never) => ("never", 0),
            Some(LastSignIn::Since(t)) => ("since", t),
            Some(LastSignIn::Before(t)) => ("before", t),
        };
        // Group names are bound one placeholder each ($5, $6, …).
        let group_filter = if q.groups.is_empty() {
            String::new()
        } else {
            let slots: Vec<String> = (0..q.groups.len()).map(|i| format!("${}", i + 5)).collect();
            format!(
                " AND EXISTS (SELECT 1 FROM user_groups g WHERE g.user_id = x.id AND g.group_name IN ({}))",
                slots.join(", ")
            )
        };
        let (limit_slot, offset_slot) = (q.groups.len() + 5, q.groups.len() + 6);
        // Filters are written against the derived columns so one statement serves
        // both the page and the count; empty parameters switch a filter off.
        let filtered = format!(
            "SELECT * FROM ({ROW}) x WHERE
             ($1 = '' OR LOWER(x.email) LIKE $1 ESCAPE '!' OR LOWER(x.display_name) LIKE $1 ESCAPE '!' OR LOWER(x.department) LIKE $1 ESCAPE '!')
             AND ($2 = '' OR ($2 = 'enrolled' AND (x.n_totp + x.n_email + x.n_sms) > 0)
                  OR ($2 = 'not_enrolled' AND (x.n_totp + x.n_email + x.n_sms) = 0)
                  OR ($2 = 'no_backup_codes' AND (x.n_totp + x.n_email + x.n_sms) > 0 AND x.n_codes = 0))
             AND ($3 = '' OR ($3 = 'never' AND x.last_sign_in IS NULL)
                  OR ($3 = 'since' AND x.last_sign_in >= $4)
                  OR ($3 = 'before' AND (x.last_sign_in IS NULL OR x.last_sign_in < $4))){group_filter}"
        );
        let mfa = q.mfa.map_or("", MfaFilter::as_str);
        let bind_filters = |sql| bind_filters(sql, &pattern, mfa, ls_kind, ls_at, &q.groups);
        let count_sql = format!("SELECT COUNT(*) AS n FROM ({filtered}) c");
        let count = bind_filters(&count_sql)
            .fetch_one(&self.pool)
            .await
            .map_err(AuthError::from)?;
        let total: i64 = count.try_get("n").map_err(AuthError::from)?;
        let page_sql =
            format!("{filtered} ORDER BY LOWER(x.email) LIMIT ${limit_slot} OFFSET ${offset_slot}");
        let rows = bind_filters(&page_sql)
            .bind(q.limit.clamp(1, 200))
            .bind(q.offset.max(0))
            .fetch_all(&self.pool)
            .await
            .map_err(AuthError::from)?;
        let page = rows
            .iter()
            .map(|r| {
                Ok(UserSummary {
                    id: r.try_get("id")?,
                    email: r.try_get("email")?,
                    display_name: r.try_get("display_name")?,
                    department: r.try_get("department")?,
                    disabled: r.try_get::<i64, _>("disabled")? != 0,
                    last_sign_in: r.try_get("last_sign_in")?,
                    totp: r.try_get::<i64, _>("n_totp")? > 0,
                    email_codes: r.try_get::<i64, _>("n_email")? > 0,
                    sms: r.try_get::<i64, _>("n_sms")? > 0,
                    backup_codes_left: r.try_get("n_codes")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(AuthError::from)?;
        Ok((page, total))
    }

    /// Every enabled member of a group (emergency actions).
    pub async fn members_of(&self, group: &str) -> Result<Vec<(String, String)>, AuthError> {
        let rows = sqlx::query(
            "SELECT u.id, u.email FROM users u JOIN user_groups g ON g.user_id = u.id WHERE g.group_name = $1 ORDER BY u.email",
        )
        .bind(group)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("email")?)))
            .collect()
    }

    /// Every group name in use, for the filters.
    pub async fn groups(&self) -> Result<Vec<String>, AuthError> {
        let rows = sqlx::query("SELECT DISTINCT group_name FROM user_groups ORDER BY group_name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("group_name")?)).collect()
    }
}

#[cfg(test)]
impl Directory {
    pub(crate) async fn set_department_for_test(&self, id: &str, dept: &str) {
        sqlx::query("UPDATE users SET department = $1 WHERE id = $2")
            .bind(dept)
            .bind(id)
            .execute(&self.pool)
            .await
            .unwrap();
    }
}

#[cfg(test)]
mod tests;
