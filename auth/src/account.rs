//! Accounts: the [`User`] type, e-mail addresses, and the SQL [`AccountStore`].
//!
//! One code path serves SQLite (embedded default) and PostgreSQL through sqlx's `Any`
//! driver with runtime queries (`$N` placeholders work on both), so builds need no
//! database. Timestamps are Unix seconds in BIGINT columns; booleans are 0/1 integers
//! so both engines decode them the same way.
use crate::clock::UnixTime;
use crate::error::AuthError;
use crate::password::PasswordHash;
use sekisho_config::{DatabaseKind, DatabaseSettings};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::fmt;

/// A validated, lower-cased e-mail address. Addresses are unique case-insensitively.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let s = raw.trim();
        let valid = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                }
                None => false,
            };
        if !valid {
            return Err(AuthError::InvalidEmail);
        }
        Ok(Self(s.to_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: Email,
    pub display_name: String,
    pub groups: Vec<String>,
    pub department: String,
    pub password_hash: Option<PasswordHash>,
    pub disabled: bool,
    /// Bumped by password changes, resets and admin actions; older sessions are void.
    pub credential_version: i64,
    pub created_at: UnixTime,
    pub last_sign_in: Option<UnixTime>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub display_name: String,
    pub groups: Vec<String>,
    pub department: String,
    pub password_hash: Option<PasswordHash>,
}

/// Checks group names: non-empty, no commas (they travel comma-separated in headers).
pub fn normalize_groups(groups: &[String]) -> Result<Vec<String>, AuthError> {
    let mut out: Vec<String> = Vec::new();
    for g in groups {
        let g = g.trim();
        if g.is_empty() {
            continue;
        }
        if g.contains(',') || g.chars().any(char::is_control) || g.len() > 100 {
            return Err(AuthError::Invalid(format!("bad group name `{g}`")));
        }
        if !out.iter().any(|o| o == g) {
            out.push(g.to_string());
        }
    }
    out.sort();
    Ok(out)
}

#[derive(Clone)]
pub struct AccountStore {
    pool: AnyPool,
    kind: DatabaseKind,
}

impl fmt::Debug for AccountStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountStore({:?})", self.kind)
    }
}

const USER_COLUMNS: &str = "id, email, display_name, department, password_hash, disabled, credential_version, created_at, last_sign_in";

impl AccountStore {
    /// Connects (creating a SQLite file if needed) and applies migrations.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, AuthError> {
        sqlx::any::install_default_drivers();
        let mut url = settings.url.expose().to_string();
        if settings.kind == DatabaseKind::Sqlite && !url.contains("mode=") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&url)
            .await?;
        let store = Self {
            pool,
            kind: settings.kind.clone(),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), AuthError> {
        let migrator = match self.kind {
            DatabaseKind::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            DatabaseKind::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| AuthError::Database(format!("migration failed: {e}")))
    }

    /// The second factors kept beside the accounts, in the same database.
    pub fn factors(&self) -> crate::factors::FactorStore {
        crate::factors::FactorStore::new(self.pool.clone())
    }

    /// Rollout nudges, reminder claims and adoption figures, in the same database.
    pub fn rollout(&self) -> crate::rollout::RolloutStore {
        crate::rollout::RolloutStore::new(self.pool.clone())
    }

    /// Completed sign-ins (bounded per user), in the same database.
    pub fn sign_ins(&self) -> crate::sign_ins::SignInHistory {
        crate::sign_ins::SignInHistory::new(self.pool.clone())
    }

    /// The sign-in and MFA event log, in the same database.
    pub fn events(&self) -> crate::events::EventLog {
        crate::events::EventLog::new(self.pool.clone())
    }

    /// MFA reset requests (four eyes) and their execution.
    pub fn resets(&self) -> crate::resets::ResetRequests {
        crate::resets::ResetRequests::new(self.pool.clone())
    }

    /// The links executed resets e-mail.
    pub fn reenrol_links(&self) -> crate::reenrol::ReenrolLinks {
        crate::reenrol::ReenrolLinks::new(self.pool.clone())
    }

    pub fn bulk_jobs(&self) -> crate::bulk::BulkJobs {
        crate::bulk::BulkJobs::new(self.pool.clone())
    }

    /// The admin console's user search.
    pub fn directory(&self) -> crate::directory::Directory {
        crate::directory::Directory::new(self.pool.clone())
    }

    pub fn suspensions(&self) -> crate::suspensions::Suspensions {
        crate::suspensions::Suspensions::new(self.pool.clone())
    }

    /// The hash-chained audit log of administrative actions, in the same database.
    pub fn audit(&self) -> crate::audit::AuditLog {
        crate::audit::AuditLog::new(self.pool.clone())
    }

    /// Report figures for the admin console, and the daily adoption history.
    pub fn reports(&self) -> crate::reports::Reports {
        crate::reports::Reports::new(self.pool.clone())
    }

    pub async fn ping(&self) -> Result<(), AuthError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn create_user(&self, new: NewUser, now: UnixTime) -> Result<User, AuthError> {
        let groups = normalize_groups(&new.groups)?;
        let display_name = new.display_name.trim().to_string();
        if display_name.is_empty() || display_name.len() > 200 {
            return Err(AuthError::Invalid(
                "display name must be 1–200 characters".into(),
            ));
        }
        let id = crate::token::random_token(16);
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, email_lower, display_name, department, password_hash, disabled, credential_version, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, 1, $7)",
        )
        .bind(&id)
        .bind(new.email.as_str())
        .bind(new.email.as_str())
        .bind(&display_name)
        .bind(new.department.trim())
        .bind(new.password_hash.as_ref().map(|h| h.as_phc().to_string()))
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            let unique = matches!(&e, sqlx::Error::Database(db) if db.is_unique_violation());
            return Err(if unique {
                AuthError::DuplicateEmail
            } else {
                e.into()
            });
        }
        for g in &groups {
            sqlx::query("INSERT INTO user_groups (user_id, group_name) VALUES ($1, $2)")
                .bind(&id)
                .bind(g)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(User {
            id,
            email: new.email,
            display_name,
            groups,
            department: new.department.trim().to_string(),
            password_hash: new.password_hash,
            disabled: false,
            credential_version: 1,
            created_at: now,
            last_sign_in: None,
        })
    }

    pub async fn find_by_email(&self, email: &Email) -> Result<Option<User>, AuthError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_lower = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.with_groups(user_from_row(&row)?).await?)),
            None => Ok(None),
        }
    }

    pub async fn find_by_id(&self, id: &str) -> Result<Option<User>, AuthError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.with_groups(user_from_row(&row)?).await?)),
            None => Ok(None),
        }
    }

    /// Every user, ordered by e-mail.
    pub async fn list_users(&self) -> Result<Vec<User>, AuthError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY email_lower"
        ))
        .fetch_all(&self.pool)
        .await?;
        let group_rows =
            sqlx::query("SELECT user_id, group_name FROM user_groups ORDER BY group_name")
                .fetch_all(&self.pool)
                .await?;
        let mut users = rows
            .iter()
            .map(user_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for row in &group_rows {
            let uid: String = row.try_get("user_id")?;
            let group: String = row.try_get("group_name")?;
            if let Some(u) = users.iter_mut().find(|u| u.id == uid) {
                u.groups.push(group);
            }
        }
        Ok(users)
    }

    /// Sets a new password and bumps the credential version (voiding old sessions).
    pub async fn set_password(
        &self,
        email: &Email,
        hash: &PasswordHash,
    ) -> Result<User, AuthError> {
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, credential_version = credential_version + 1 WHERE email_lower = $2",
        )
        .bind(hash.as_phc())
        .bind(email.as_str())
        .execute(&self.pool)
        .await?;
        self.after_update(done.rows_affected(), email).await
    }

    /// Disables or re-enables sign-in; bumps the credential version.
    pub async fn set_disabled(&self, email: &Email, disabled: bool) -> Result<User, AuthError> {
        let done = sqlx::query(
            "UPDATE users SET disabled = $1, credential_version = credential_version + 1 WHERE email_lower = $2",
        )
        .bind(i64::from(disabled))
        .bind(email.as_str())
        .execute(&self.pool)
        .await?;
        self.after_update(done.rows_affected(), email).await
    }

    pub async fn record_sign_in(&self, user_id: &str, now: UnixTime) -> Result<(), AuthError> {
        sqlx::query("UPDATE users SET last_sign_in = $1 WHERE id = $2")
            .bind(now)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn after_update(&self, rows: u64, email: &Email) -> Result<User, AuthError> {
        if rows == 0 {
            return Err(AuthError::UnknownUser);
        }
        self.find_by_email(email)
            .await?
            .ok_or(AuthError::UnknownUser)
    }

    async fn with_groups(&self, mut user: User) -> Result<User, AuthError> {
        let rows = sqlx::query(
            "SELECT group_name FROM user_groups WHERE user_id = $1 ORDER BY group_name",
        )
        .bind(&user.id)
        .fetch_all(&self.pool)
        .await?;
        user.groups = rows
            .iter()
            .map(|r| r.try_get::<String, _>("group_name"))
            .collect::<Result<_, _>>()?;
        Ok(user)
    }
}

fn user_from_row(row: &AnyRow) -> Result<User, AuthError> {
    let hash: Option<String> = row.try_get("password_hash")?;
    Ok(User {
        id: row.try_get("id")?,
        email: Email::parse(&row.try_get::<String, _>("email")?)?,
        display_name: row.try_get("display_name")?,
        groups: Vec::new(),
        department: row.try_get("department")?,
        password_hash: hash.map(PasswordHash::from_phc).transpose()?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        credential_version: row.try_get("credential_version")?,
        created_at: row.try_get("created_at")?,
        last_sign_in: row.try_get("last_sign_in")?,
    })
}

#[cfg(test)]
mod tests;
