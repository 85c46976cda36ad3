//! Account recovery without an administrator: password-reset links and the strength
//! rule for the new password.
//!
//! A reset link carries a random 256-bit token; only its SHA-256 lives in the
//! counter store (memory or Redis), with the user id and the credential version it
//! was issued for, for `ttl` seconds. [`ResetLinks::consume`] deletes the record
//! atomically, so a link works once even when submitted twice at the same moment,
//! and a link issued before the password last changed no longer works.
use crate::account::User;
use crate::clock::{Clock, UnixTime};
use crate::counters::CounterStore;
use crate::error::StoreError;
use crate::token::random_token;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

/// Links one user may ask for per hour (each is an e-mail).
pub const LINKS_PER_HOUR: u64 = 3;

/// The secret in a reset link. Never printed.
pub struct ResetToken(String);

impl ResetToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResetToken(<redacted>)")
    }
}

/// What a valid link allows: setting a new password for `user_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetGrant {
    pub user_id: String,
    pub credential_version: i64,
    pub expires_at: UnixTime,
}

/// The answer to a link request.
#[derive(Debug)]
pub enum LinkIssue {
    Issued(ResetToken),
    /// [`LINKS_PER_HOUR`] already sent this hour.
    HourlyCap,
}

pub struct ResetLinks {
    counters: Arc<dyn CounterStore>,
    clock: Arc<dyn Clock>,
    ttl: u64,
}

impl fmt::Debug for ResetLinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetLinks")
            .field("ttl", &self.ttl)
            .finish()
    }
}

fn key(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("pwreset:{hex}")
}

impl ResetLinks {
    pub fn new(counters: Arc<dyn CounterStore>, clock: Arc<dyn Clock>, ttl_secs: u64) -> Self {
        Self {
            counters,
            clock,
            ttl: ttl_secs.max(60),
        }
    }

    pub fn ttl_minutes(&self) -> u32 {
        u32::try_from(self.ttl / 60).unwrap_or(u32::MAX)
    }

    pub async fn issue(&self, user: &User) -> Result<LinkIssue, StoreError> {
        let now = self.clock.now();
        let hour = format!("pwreset-hour:{}:{}", user.id, now.div_euclid(3600));
        if self.counters.incr(&hour, 3600).await? > LINKS_PER_HOUR {
            return Ok(LinkIssue::HourlyCap);
        }
        let token = random_token(32);
        let grant = ResetGrant {
            user_id: user.id.clone(),
            credential_version: user.credential_version,
            expires_at: now + i64::try_from(self.ttl).unwrap_or(i64::MAX),
        };
        let bytes = serde_json::to_vec(&grant)
            .map_err(|e| StoreError::Unavailable(format!("encoding: {e}")))?;
        self.counters.put(&key(&token), &bytes, self.ttl).await?;
        Ok(LinkIssue::Issued(ResetToken(token)))
    }

    fn decode(&self, raw: Option<Vec<u8>>) -> Option<ResetGrant> {
        let grant: ResetGrant = serde_json::from_slice(&raw?).ok()?;
        (grant.expires_at > self.clock.now()).then_some(grant)
    }

    /// The grant behind a link, without using it up (to show the form).
    pub async fn peek(&self, token: &str) -> Result<Option<ResetGrant>, StoreError> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        Ok(self.decode(self.counters.get(&key(token)).await?))
    }

    /// Uses the link up: `Some` for exactly one caller while it is valid.
    pub async fn consume(&self, token: &str) -> Result<Option<ResetGrant>, StoreError> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let k = key(token);
        let grant = self.decode(self.counters.get(&k).await?);
        if grant.is_none() || !self.counters.take(&k).await? {
            return Ok(None);
        }
        Ok(grant)
    }
}

/// Why a new password was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weakness {
    TooShort(usize),
    TooLong,
    /// Guessable: common words, names, keyboard patterns, dates, repeats, or the
    /// user's own e-mail address or name.
    Guessable,
}

/// The longest password we judge (and hash); longer ones are refused.
const MAX_BYTES: usize = 1024;
/// zxcvbn scores 0–4; 3 means "safely unguessable" (about 10^8 guesses and more).
const MIN_SCORE: u8 = 3;

/// Whether `password` is good enough for `user`'s account.
pub fn check_strength(
    password: &str,
    min_length: usize,
    email: &str,
    display_name: &str,
) -> Result<(), Weakness> {
    if password.chars().count() < min_length {
        return Err(Weakness::TooShort(min_length));
    }
    if password.len() > MAX_BYTES {
        return Err(Weakness::TooLong);
    }
    let local = email.split('@').next().unwrap_or("");
    let mut inputs = vec![email, local, display_name];
    inputs.extend(display_name.split_whitespace());
    inputs.extend(local.split(['.', '_', '-', '+']));
    // zxcvbn's matching grows with length; the first 100 characters decide.
    let judged: String = password.chars().take(100).collect();
    let score = u8::from(zxcvbn::zxcvbn(&judged, &inputs).score());
    if score < MIN_SCORE {
        return Err(Weakness::Guessable);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
