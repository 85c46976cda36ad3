//! Brute-force defence shared by every gateway instance: failure counters and
//! temporary locks in the counter store (Redis in production, memory for one
//! instance), decided against the injected clock.
//!
//! # State machine
//! Three scopes are counted, each in fixed windows of `window` seconds (the window
//! number is part of the key, so both backends and a fixed test clock agree):
//! - **pair** (account + client IP): every attempt is *admitted* by an atomic
//!   increment before the password or code is checked, so parallel guesses from one
//!   place never get more than `pair_threshold` checks per window. The failure that
//!   reaches the threshold locks the pair. A success clears the pair's count.
//! - **account** (across IPs): failures only; reaching `account_threshold` (higher
//!   than the pair's) locks the whole account. So an attacker at one address locks
//!   only themselves first; the victim elsewhere keeps signing in until attacks from
//!   many places add up.
//! - **ip** (across accounts): failures only; reaching `ip_threshold` locks the
//!   address for every account (password spraying).
//!
//! A lock lasts `base_lock × 2^(n−1)` for the scope's n-th lock within a day, capped
//! at `max_lock` (defaults: 5 failures / 15 min → 1 min, 2, 4 … up to 1 h). While any
//! scope covering an attempt is locked, the attempt is refused before any check.
//! [`Lockout::unlock`] (admin) lifts the account lock and every pair lock of that
//! account by moving the account to a new epoch that all its keys include.
//!
//! Accounts are named by the caller: the user id when the account exists, otherwise
//! a digest of the submitted address, so unknown and known users are treated alike.
use crate::counters::CounterStore;
use crate::error::StoreError;
use crate::telemetry::Telemetry;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Thresholds and lock lengths (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub window: i64,
    pub pair_threshold: u64,
    pub account_threshold: u64,
    pub ip_threshold: u64,
    pub base_lock: i64,
    pub max_lock: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            window: 900,
            pair_threshold: 5,
            account_threshold: 20,
            ip_threshold: 50,
            base_lock: 60,
            max_lock: 3600,
        }
    }
}

/// What a lock covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Pair,
    Account,
    Ip,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Pair => "pair",
            Scope::Account => "account",
            Scope::Ip => "ip",
        }
    }
}

/// The answer to [`Lockout::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check the credential; `attempt` is this pair's count in the window.
    Open { attempt: u64 },
    /// Refuse without checking, until `until` (Unix seconds).
    Locked { scope: Scope, until: i64 },
}

/// A lock that a failure just started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewLock {
    pub scope: Scope,
    pub until: i64,
}

#[derive(Clone)]
pub struct Lockout {
    counters: Arc<dyn CounterStore>,
    policy: LockoutPolicy,
    telemetry: Arc<dyn Telemetry>,
}

impl std::fmt::Debug for Lockout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lockout")
            .field("policy", &self.policy)
            .finish()
    }
}

const DAY: u64 = 86_400;

/// The account name for an address that has no account.
pub fn unknown_account(email_lower: &str) -> String {
    let d = Sha256::digest(email_lower.as_bytes());
    let hex: String = d.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("x{hex}")
}

impl Lockout {
    pub fn new(counters: Arc<dyn CounterStore>, policy: LockoutPolicy) -> Self {
        Self {
            counters,
            policy,
            telemetry: crate::telemetry::silent(),
        }
    }

    /// Reports every lock that starts to `telemetry`.
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    pub fn policy(&self) -> &LockoutPolicy {
        &self.policy
    }

    async fn epoch(&self, account: &str) -> Result<u64, StoreError> {
        Ok(read_u64(
            self.counters.get(&format!("lk:epoch:{account}")).await?,
        ))
    }

    fn subject(scope: Scope, account: &str, epoch: u64, ip: &str) -> String {
        match scope {
            Scope::Pair => format!("pair:{account}:{epoch}:{ip}"),
            Scope::Account => format!("acct:{account}:{epoch}"),
            Scope::Ip => format!("ip:{ip}"),
        }
    }

    fn slot(&self, now: i64) -> i64 {
        now.div_euclid(self.policy.window.max(1))
    }

    async fn locked_until(&self, subject: &str, now: i64) -> Result<Option<i64>, StoreError> {
        let until = read_i64(self.counters.get(&format!("lk:lock:{subject}")).await?);
        Ok(until.filter(|u| *u > now))
    }

    /// Until when the whole account is locked, if it is (the admin console's status;
    /// per-address pair locks are lifted by [`Self::unlock`] too but not listed).
    pub async fn account_locked_until(
        &self,
        account: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let epoch = self.epoch(account).await?;
        self.locked_until(&Self::subject(Scope::Account, account, epoch, ""), now)
            .await
    }

    /// Before checking a credential: refuses while a scope is locked, and spends one
    /// of the pair's attempts (atomically) otherwise.
    pub async fn admit(&self, account: &str, ip: &str, now: i64) -> Result<Gate, StoreError> {
        let epoch = self.epoch(account).await?;
        for scope in [Scope::Ip, Scope::Account, Scope::Pair] {
            let subject = Self::subject(scope, account, epoch, ip);
            if let Some(until) = self.locked_until(&subject, now).await? {
                return Ok(Gate::Locked { scope, until });
            }
        }
        let pair = Self::subject(Scope::Pair, account, epoch, ip);
        let key = format!("lk:try:{pair}:{}", self.slot(now));
        let attempt = self.counters.incr(&key, self.window_ttl()).await?;
        if attempt > self.policy.pair_threshold {
            // Over the budget: parallel guesses that lost the race, or a lock that
            // was lifted while the window's count stayed.
            let until = (self.slot(now) + 1) * self.policy.window;
            return Ok(Gate::Locked {
                scope: Scope::Pair,
                until,
            });
        }
        Ok(Gate::Open { attempt })
    }

    /// After a wrong credential that [`Self::admit`] let through with `attempt`.
    pub async fn failed(
        &self,
        account: &str,
        ip: &str,
        attempt: u64,
        now: i64,
    ) -> Result<Vec<NewLock>, StoreError> {
        let epoch = self.epoch(account).await?;
        let slot = self.slot(now);
        let mut locks = Vec::new();
        if attempt >= self.policy.pair_threshold {
            let pair = Self::subject(Scope::Pair, account, epoch, ip);
            locks.push(self.lock(Scope::Pair, &pair, now).await?);
            self.counters.take(&format!("lk:try:{pair}:{slot}")).await?;
        }
        for (scope, threshold) in [
            (Scope::Account, self.policy.account_threshold),
            (Scope::Ip, self.policy.ip_threshold),
        ] {
            let subject = Self::subject(scope, account, epoch, ip);
            let n = self
                .counters
                .incr(&format!("lk:fail:{subject}:{slot}"), self.window_ttl())
                .await?;
            if n == threshold {
                locks.push(self.lock(scope, &subject, now).await?);
            }
        }
        Ok(locks)
    }

    /// After a correct credential: the pair starts afresh.
    pub async fn succeeded(&self, account: &str, ip: &str, now: i64) -> Result<(), StoreError> {
        let epoch = self.epoch(account).await?;
        let pair = Self::subject(Scope::Pair, account, epoch, ip);
        self.counters
            .take(&format!("lk:try:{pair}:{}", self.slot(now)))
            .await?;
        Ok(())
    }

    /// Lifts the account's lock and every pair lock of the account (admin action).
    pub async fn unlock(&self, account: &str) -> Result<(), StoreError> {
        self.counters
            .incr(&format!("lk:epoch:{account}"), 400 * DAY)
            .await?;
        Ok(())
    }

    async fn lock(&self, scope: Scope, subject: &str, now: i64) -> Result<NewLock, StoreError> {
        let n = self
            .counters
            .incr(&format!("lk:level:{subject}"), DAY)
            .await?;
        let shift = u32::try_from(n.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(30);
        let length = self
            .policy
            .base_lock
            .saturating_mul(1_i64 << shift)
            .min(self.policy.max_lock);
        let until = now + length;
        self.counters
            .put(
                &format!("lk:lock:{subject}"),
                until.to_string().as_bytes(),
                u64::try_from(length).unwrap_or(0) + 60,
            )
            .await?;
        self.telemetry.lock_started(scope);
        Ok(NewLock { scope, until })
    }

    fn window_ttl(&self) -> u64 {
        u64::try_from(self.policy.window).unwrap_or(900) + 60
    }
}

fn read_u64(raw: Option<Vec<u8>>) -> u64 {
    raw.and_then(|r| std::str::from_utf8(&r).ok()?.trim().parse().ok())
        .unwrap_or(0)
}

fn read_i64(raw: Option<Vec<u8>>) -> Option<i64> {
    raw.and_then(|r| std::str::from_utf8(&r).ok()?.trim().parse().ok())
}

#[cfg(test)]
mod tests;
