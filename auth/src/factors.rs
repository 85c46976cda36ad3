//! The second factors a user has enrolled, in SQL beside the account: TOTP (sealed
//! secret, pending secret, last accepted step), e-mail and SMS codes, backup-code
//! hashes and trusted browsers.
//!
//! Everything that must happen once — accepting a TOTP step, spending a backup code,
//! confirming a pending secret — is a single conditional `UPDATE` whose affected-row
//! count decides, so parallel requests cannot both succeed on either engine.
use crate::clock::UnixTime;
use crate::error::AuthError;
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};
use std::fmt;

/// How a session's second factor was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaMethod {
    Totp,
    Email,
    Sms,
    BackupCode,
    /// A browser the user trusted after an earlier MFA (not a factor rules can ask for).
    TrustedDevice,
}

impl MfaMethod {
    /// The factors a user can pick in the challenge, preferred order.
    pub const CHALLENGE_ORDER: [MfaMethod; 4] = [
        MfaMethod::Totp,
        MfaMethod::Sms,
        MfaMethod::Email,
        MfaMethod::BackupCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MfaMethod::Totp => "totp",
            MfaMethod::Email => "email",
            MfaMethod::Sms => "sms",
            MfaMethod::BackupCode => "backup_code",
            MfaMethod::TrustedDevice => "trusted_device",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "totp" => MfaMethod::Totp,
            "email" => MfaMethod::Email,
            "sms" => MfaMethod::Sms,
            "backup_code" => MfaMethod::BackupCode,
            "trusted_device" => MfaMethod::TrustedDevice,
            _ => return None,
        })
    }
}

impl fmt::Display for MfaMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a user has set up. `methods()` lists what the challenge may offer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enrollment {
    pub totp_confirmed_at: Option<UnixTime>,
    pub email_enabled: bool,
    pub phone: Option<String>,
    pub preferred: Option<MfaMethod>,
    pub backup_remaining: usize,
    pub backup_total: usize,
}

impl Enrollment {
    pub fn has_totp(&self) -> bool {
        self.totp_confirmed_at.is_some()
    }

    /// A user counts as enrolled with any factor other than backup codes alone.
    pub fn is_enrolled(&self) -> bool {
        self.has_totp() || self.email_enabled || self.phone.is_some()
    }

    /// Usable factors, the preferred one first.
    pub fn methods(&self) -> Vec<MfaMethod> {
        let mut out: Vec<MfaMethod> = MfaMethod::CHALLENGE_ORDER
            .into_iter()
            .filter(|m| match m {
                MfaMethod::Totp => self.has_totp(),
                MfaMethod::Email => self.email_enabled,
                MfaMethod::Sms => self.phone.is_some(),
                MfaMethod::BackupCode => self.is_enrolled() && self.backup_remaining > 0,
                MfaMethod::TrustedDevice => false,
            })
            .collect();
        if let Some(p) = self.preferred {
            if let Some(i) = out.iter().position(|m| *m == p) {
                let m = out.remove(i);
                out.insert(0, m);
            }
        }
        out
    }
}

/// A sealed TOTP secret as stored (see `mfa::secretbox`).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedTotp {
    pub user_id: String,
    pub active: Option<String>,
    pub pending: Option<String>,
}

impl fmt::Debug for SealedTotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedTotp")
            .field("user_id", &self.user_id)
            .field("active", &self.active.is_some())
            .field("pending", &self.pending.is_some())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedDevice {
    pub id: String,
    pub user_id: String,
    pub ua_summary: String,
    pub ip: Option<String>,
    pub created_at: UnixTime,
    pub last_used_at: UnixTime,
    pub expires_at: UnixTime,
}

#[derive(Clone)]
pub struct FactorStore {
    pool: AnyPool,
}

impl fmt::Debug for FactorStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FactorStore")
    }
}

impl FactorStore {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub async fn enrollment(&self, user_id: &str) -> Result<Enrollment, AuthError> {
        let mut e = Enrollment::default();
        if let Some(row) = sqlx::query(
            "SELECT confirmed_at FROM mfa_totp WHERE user_id = $1 AND secret_sealed IS NOT NULL",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?
        {
            e.totp_confirmed_at = row.try_get("confirmed_at")?;
        }
        if let Some(row) = sqlx::query(
            "SELECT email_enabled, phone, preferred FROM mfa_settings WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?
        {
            e.email_enabled = row.try_get::<i64, _>("email_enabled")? != 0;
            e.phone = row.try_get("phone")?;
            e.preferred = row
                .try_get::<Option<String>, _>("preferred")?
                .as_deref()
                .and_then(MfaMethod::parse);
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, COUNT(*) - COUNT(used_at) AS remaining FROM backup_codes WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        e.backup_total = count(row.try_get::<i64, _>("total")?);
        e.backup_remaining = count(row.try_get::<i64, _>("remaining")?);
        Ok(e)
    }

    // --- TOTP ---

    /// Stores a new secret awaiting its first code; an active secret stays usable
    /// until the new one is confirmed.
    pub async fn put_pending_totp(
        &self,
        user_id: &str,
        sealed: &str,
        now: UnixTime,
    ) -> Result<(), AuthError> {
        let updated = sqlx::query(
            "UPDATE mfa_totp SET pending_sealed = $2, pending_created_at = $3 WHERE user_id = $1",
        )
        .bind(user_id)
        .bind(sealed)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO mfa_totp (user_id, pending_sealed, pending_created_at) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(sealed)
            .bind(now)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    pub async fn sealed_totp(&self, user_id: &str) -> Result<SealedTotp, AuthError> {
        let row =
            sqlx::query("SELECT secret_sealed, pending_sealed FROM mfa_totp WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => SealedTotp {
                user_id: user_id.to_string(),
                active: r.try_get("secret_sealed")?,
                pending: r.try_get("pending_sealed")?,
            },
            None => SealedTotp {
                user_id: user_id.to_string(),
                active: None,
                pending: None,
            },
        })
    }

    /// Makes the pending secret active, if it is still the one the caller checked the
    /// code against; `step` becomes the last accepted step.
    pub async fn confirm_pending_totp(
        &self,
        user_id: &str,
        pending: &str,
        step: i64,
        now: UnixTime,
    ) -> Result<bool, AuthError> {
        let done = sqlx::query(
            "UPDATE mfa_totp SET secret_sealed = pending_sealed, pending_sealed = NULL, pending_created_at = NULL, confirmed_at = $3, last_step = $4
             WHERE user_id = $1 AND pending_sealed = $2",
        )
        .bind(user_id)
        .bind(pending)
        .bind(now)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Accepts time step `step` once: false if it (or a later one) was used already.
    pub async fn accept_totp_step(&self, user_id: &str, step: i64) -> Result<bool, AuthError> {
        let done = sqlx::query(
            "UPDATE mfa_totp SET last_step = $2
             WHERE user_id = $1 AND secret_sealed IS NOT NULL AND (last_step IS NULL OR last_step < $2)",
        )
        .bind(user_id)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn remove_totp(&self, user_id: &str) -> Result<bool, AuthError> {
        let done = sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every stored TOTP secret, for key rotation.
    pub async fn all_sealed_totp(&self) -> Result<Vec<SealedTotp>, AuthError> {
        let rows = sqlx::query(
            "SELECT user_id, secret_sealed, pending_sealed FROM mfa_totp ORDER BY user_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SealedTotp {
                    user_id: r.try_get("user_id")?,
                    active: r.try_get("secret_sealed")?,
                    pending: r.try_get("pending_sealed")?,
                })
            })
            .collect()
    }

    /// Replaces sealed values, only if they are still what the caller read.
    pub async fn reseal_totp(&self, old: &SealedTotp, new: &SealedTotp) -> Result<bool, AuthError> {
        let done = sqlx::query(
            "UPDATE mfa_totp SET secret_sealed = $2, pending_sealed = $3
             WHERE user_id = $1 AND secret_sealed IS NOT DISTINCT FROM $4 AND pending_sealed IS NOT DISTINCT FROM $5",
        )
        .bind(&old.user_id)
        .bind(new.active.as_deref())
        .bind(new.pending.as_deref())
        .bind(old.active.as_deref())
        .bind(old.pending.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    // --- e-mail and SMS codes ---

    async fn ensure_settings_row(&self, user_id: &str) -> Result<(), AuthError> {
        sqlx::query(
            "INSERT INTO mfa_settings (user_id, email_enabled) VALUES ($1, 0) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_email_enabled(&self, user_id: &str, enabled: bool) -> Result<(), AuthError> {
        self.ensure_settings_row(user_id).await?;
        sqlx::query("UPDATE mfa_settings SET email_enabled = $2 WHERE user_id = $1")
            .bind(user_id)
            .bind(i64::from(enabled))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets (after the caller confirmed it with a code) or clears the SMS phone.
    pub async fn set_phone(&self, user_id: &str, phone: Option<&str>) -> Result<(), AuthError> {
        self.ensure_settings_row(user_id).await?;
        sqlx::query("UPDATE mfa_settings SET phone = $2 WHERE user_id = $1")
            .bind(user_id)
            .bind(phone)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_preferred(
        &self,
        user_id: &str,
        method: Option<MfaMethod>,
    ) -> Result<(), AuthError> {
        self.ensure_settings_row(user_id).await?;
        sqlx::query("UPDATE mfa_settings SET preferred = $2 WHERE user_id = $1")
            .bind(user_id)
            .bind(method.map(MfaMethod::as_str))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // --- backup codes ---

    /// Replaces the user's whole set (old codes stop working at once).
    pub async fn replace_backup_codes(
        &self,
        user_id: &str,
        hashes: &[String],
        now: UnixTime,
    ) -> Result<(), AuthError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for h in hashes {
            sqlx::query(
                "INSERT INTO backup_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(h)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Spends a code: true for exactly one caller per unused code.
    pub async fn consume_backup_code(
        &self,
        user_id: &str,
        hash: &str,
        now: UnixTime,
    ) -> Result<bool, AuthError> {
        let done = sqlx::query(
            "UPDATE backup_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn remove_backup_codes(&self, user_id: &str) -> Result<(), AuthError> {
        sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // --- trusted browsers ---

    pub async fn add_trusted_device(
        &self,
        d: &TrustedDevice,
        token_hash: &str,
    ) -> Result<(), AuthError> {
        sqlx::query(
            "INSERT INTO trusted_devices (id, user_id, token_hash, ua_summary, ip, created_at, last_used_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&d.id)
        .bind(&d.user_id)
        .bind(token_hash)
        .bind(&d.ua_summary)
        .bind(d.ip.as_deref())
        .bind(d.created_at)
        .bind(d.last_used_at)
        .bind(d.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user's unexpired device with this token hash; marks it used.
    pub async fn use_trusted_device(
        &self,
        user_id: &str,
        token_hash: &str,
        now: UnixTime,
    ) -> Result<Option<TrustedDevice>, AuthError> {
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM trusted_devices WHERE user_id = $1 AND token_hash = $2 AND expires_at > $3"
        ))
        .bind(user_id)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut device = device_from_row(&row)?;
        sqlx::query("UPDATE trusted_devices SET last_used_at = $2 WHERE id = $1")
            .bind(&device.id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        device.last_used_at = now;
        Ok(Some(device))
    }

    pub async fn list_trusted_devices(
        &self,
        user_id: &str,
        now: UnixTime,
    ) -> Result<Vec<TrustedDevice>, AuthError> {
        let rows = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM trusted_devices WHERE user_id = $1 AND expires_at > $2 ORDER BY last_used_at DESC"
        ))
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(device_from_row).collect()
    }

    pub async fn revoke_trusted_device(&self, user_id: &str, id: &str) -> Result<bool, AuthError> {
        let done = sqlx::query("DELETE FROM trusted_devices WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn revoke_all_trusted_devices(&self, user_id: &str) -> Result<u64, AuthError> {
        let done = sqlx::query("DELETE FROM trusted_devices WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Removes every factor (an MFA reset); the caller bumps the credential version.
    pub async fn reset_all(&self, user_id: &str) -> Result<(), AuthError> {
        let mut tx = self.pool.begin().await?;
        for table in [
            "mfa_totp",
            "mfa_settings",
            "backup_codes",
            "trusted_devices",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

const DEVICE_COLUMNS: &str = "id, user_id, ua_summary, ip, created_at, last_used_at, expires_at";

fn device_from_row(row: &sqlx::any::AnyRow) -> Result<TrustedDevice, AuthError> {
    Ok(TrustedDevice {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        ua_summary: row.try_get("ua_summary")?,
        ip: row.try_get("ip")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests;
