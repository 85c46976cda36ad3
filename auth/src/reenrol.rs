//! Re-enrolment links: what an executed MFA reset e-mails the user.
//!
//! A link is single-use and time-limited, and moves through typed states:
//! [`ValidLink`] (e-mailed, unused) → [`LinkInProgress`] (the password was checked;
//! the user is setting up a factor) → consumed (a factor was confirmed). A newer link
//! for the same user supersedes older ones. Only the SHA-256 of the token is stored;
//! each transition is a conditional `UPDATE`, so a link submitted twice at once
//! starts only once.
use crate::clock::UnixTime;
use crate::error::AuthError;
use crate::token::random_token;
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyPool, Row, Transaction};
use std::fmt;
use zeroize::Zeroizing;

/// The secret in an e-mailed link. Never printed.
pub struct LinkToken(Zeroizing<String>);

impl LinkToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken(<redacted>)")
    }
}

/// A link just issued: its token (for the e-mail only) and when it stops working.
#[derive(Debug)]
pub struct IssuedLink {
    pub token: LinkToken,
    pub expires_at: UnixTime,
}

/// What a link is now, as the user would be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    Valid,
    InProgress,
    Consumed,
    Superseded,
    Expired,
    Unknown,
}

/// A link that may still be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidLink {
    hash: String,
    pub user_id: String,
    pub request_id: Option<String>,
    pub expires_at: UnixTime,
}

/// A started link: the user proved the password and is enrolling a factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInProgress {
    hash: String,
    pub user_id: String,
    pub request_id: Option<String>,
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Issues a link inside a transaction (the reset that asks for it commits with it).
pub(crate) async fn issue_in(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    request_id: Option<&str>,
    ttl: i64,
    now: UnixTime,
) -> Result<IssuedLink, AuthError> {
    sqlx::query(
        "UPDATE reenrol_links SET state = 'superseded' WHERE user_id = $1 AND state IN ('valid', 'in_progress')",
    )
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    let token = Zeroizing::new(random_token(32));
    let expires_at = now + ttl.max(60);
    sqlx::query(
        "INSERT INTO reenrol_links (token_hash, user_id, request_id, state, created_at, expires_at) VALUES ($1, $2, $3, 'valid', $4, $5)",
    )
    .bind(hash(&token))
    .bind(user_id)
    .bind(request_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(IssuedLink {
        token: LinkToken(token),
        expires_at,
    })
}

#[derive(Clone)]
pub struct ReenrolLinks {
    pool: AnyPool,
}

impl fmt::Debug for ReenrolLinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReenrolLinks")
    }
}

impl ReenrolLinks {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// The link behind `token`: `Ok(valid)` when it may be started, otherwise why not.
    pub async fn find(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<Result<ValidLink, LinkStatus>, AuthError> {
        if token.is_empty() || token.len() > 128 {
            return Ok(Err(LinkStatus::Unknown));
        }
        let h = hash(token);
        let row = sqlx::query(
            "SELECT user_id, request_id, state, expires_at FROM reenrol_links WHERE token_hash = $1",
        )
        .bind(&h)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(Err(LinkStatus::Unknown));
        };
        let state: String = row.try_get("state")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let status = match state.as_str() {
            "valid" if now >= expires_at => LinkStatus::Expired,
            "valid" => LinkStatus::Valid,
            "in_progress" => LinkStatus::InProgress,
            "consumed" => LinkStatus::Consumed,
            _ => LinkStatus::Superseded,
        };
        if status != LinkStatus::Valid {
            return Ok(Err(status));
        }
        Ok(Ok(ValidLink {
            hash: h,
            user_id: row.try_get("user_id")?,
            request_id: row.try_get("request_id")?,
            expires_at,
        }))
    }

    /// The user's started link, if any (the enrolment pages finish it).
    pub async fn in_progress_for(
        &self,
        user_id: &str,
    ) -> Result<Option<LinkInProgress>, AuthError> {
        let row = sqlx::query(
            "SELECT token_hash, request_id FROM reenrol_links WHERE user_id = $1 AND state = 'in_progress'",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(LinkInProgress {
                hash: r.try_get("token_hash")?,
                user_id: user_id.to_string(),
                request_id: r.try_get("request_id")?,
            })
        })
        .transpose()
    }
}

impl ValidLink {
    /// valid → in progress. `Err(status)` when it was started, superseded or expired
    /// meanwhile (the second of two simultaneous submissions gets `InProgress`).
    pub async fn start(
        self,
        links: &ReenrolLinks,
        now: UnixTime,
    ) -> Result<Result<LinkInProgress, LinkStatus>, AuthError> {
        let done = sqlx::query(
            "UPDATE reenrol_links SET state = 'in_progress', started_at = $1 WHERE token_hash = $2 AND state = 'valid' AND expires_at > $1",
        )
        .bind(now)
        .bind(&self.hash)
        .execute(&links.pool)
        .await?;
        if done.rows_affected() != 1 {
            let row = sqlx::query("SELECT state FROM reenrol_links WHERE token_hash = $1")
                .bind(&self.hash)
                .fetch_optional(&links.pool)
                .await?;
            let state: Option<String> = row.map(|r| r.try_get("state")).transpose()?;
            return Ok(Err(match state.as_deref() {
                Some("in_progress") => LinkStatus::InProgress,
                Some("consumed") => LinkStatus::Consumed,
                Some("valid") => LinkStatus::Expired,
                Some(_) => LinkStatus::Superseded,
                None => LinkStatus::Unknown,
            }));
        }
        Ok(Ok(LinkInProgress {
            hash: self.hash,
            user_id: self.user_id,
            request_id: self.request_id,
        }))
    }
}

impl LinkInProgress {
    /// in progress → consumed; false when it was already consumed or superseded.
    pub async fn consume(self, links: &ReenrolLinks, now: UnixTime) -> Result<bool, AuthError> {
        let done = sqlx::query(
            "UPDATE reenrol_links SET state = 'consumed', consumed_at = $1 WHERE token_hash = $2 AND state = 'in_progress'",
        )
        .bind(now)
        .bind(&self.hash)
        .execute(&links.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests;
