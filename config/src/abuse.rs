//! The `[lockout]` and `[rate_limit]` tables: brute-force defence shared by every
//! instance (failure counters and temporary locks in the counter store) and the
//! cheap per-instance limits in front of it (form POSTs per client IP, code sends).
//!
//! Thresholds must rise from the (account, IP) pair to the whole account, so that an
//! attacker at one address locks only themselves long before the victim's account.
use crate::load::{Validator, R};
use crate::values::HumanDuration;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutSection {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Failures are counted in fixed windows of this length.
    #[serde(default = "default_window")]
    pub window: HumanDuration,
    /// Failures from one address against one account that lock that pair.
    #[serde(default = "default_pair")]
    pub pair_threshold: u64,
    /// Failures against one account, from anywhere, that lock the account.
    #[serde(default = "default_account")]
    pub account_threshold: u64,
    /// Failures from one address, across accounts, that lock the address.
    #[serde(default = "default_ip")]
    pub ip_threshold: u64,
    /// The first lock; each further lock within a day doubles it.
    #[serde(default = "default_base")]
    pub base_lock: HumanDuration,
    #[serde(default = "default_max")]
    pub max_lock: HumanDuration,
    /// E-mail the user when their account (not just one address) is locked.
    #[serde(default = "yes")]
    pub notify_user: bool,
}

impl Default for LockoutSection {
    fn default() -> Self {
        Self {
            enabled: true,
            window: default_window(),
            pair_threshold: default_pair(),
            account_threshold: default_account(),
            ip_threshold: default_ip(),
            base_lock: default_base(),
            max_lock: default_max(),
            notify_user: true,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(900))
}
fn default_pair() -> u64 {
    5
}
fn default_account() -> u64 {
    20
}
fn default_ip() -> u64 {
    50
}
fn default_base() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_max() -> HumanDuration {
    HumanDuration(Duration::from_secs(3600))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutSettings {
    pub enabled: bool,
    pub window: Duration,
    pub pair_threshold: u64,
    pub account_threshold: u64,
    pub ip_threshold: u64,
    pub base_lock: Duration,
    pub max_lock: Duration,
    pub notify_user: bool,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        let s = LockoutSection::default();
        Self {
            enabled: s.enabled,
            window: s.window.0,
            pair_threshold: s.pair_threshold,
            account_threshold: s.account_threshold,
            ip_threshold: s.ip_threshold,
            base_lock: s.base_lock.0,
            max_lock: s.max_lock.0,
            notify_user: s.notify_user,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    /// Sustained form POSTs (sign-in, codes, settings) per client IP per minute, per
    /// instance; 0 turns the local limiter off.
    #[serde(default = "default_posts")]
    pub ui_posts_per_minute: u32,
    /// POSTs a client may send in a burst before the rate applies.
    #[serde(default = "default_burst")]
    pub ui_post_burst: u32,
    /// E-mail/SMS code sends per client IP per hour, across users (shared counter).
    #[serde(default = "default_code_sends")]
    pub code_sends_per_ip_per_hour: u32,
}

impl Default for RateLimitSection {
    fn default() -> Self {
        Self {
            ui_posts_per_minute: default_posts(),
            ui_post_burst: default_burst(),
            code_sends_per_ip_per_hour: default_code_sends(),
        }
    }
}

fn default_posts() -> u32 {
    30
}
fn default_burst() -> u32 {
    10
}
fn default_code_sends() -> u32 {
    20
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub ui_posts_per_minute: u32,
    pub ui_post_burst: u32,
    pub code_sends_per_ip_per_hour: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        let s = RateLimitSection::default();
        Self {
            ui_posts_per_minute: s.ui_posts_per_minute,
            ui_post_burst: s.ui_post_burst,
            code_sends_per_ip_per_hour: s.code_sends_per_ip_per_hour,
        }
    }
}

const DAY: Duration = Duration::from_secs(86_400);

impl Validator<'_> {
    pub(crate) fn lockout(&self, s: LockoutSection) -> R<LockoutSettings> {
        let whole_seconds = |key: &str, d: Duration| {
            if d.as_secs() == 0 || d.subsec_nanos() != 0 || d > DAY {
                Err(self.err(key, "must be whole seconds between 1s and 24h"))
            } else {
                Ok(d)
            }
        };
        let window = whole_seconds("lockout.window", s.window.0)?;
        let base_lock = whole_seconds("lockout.base_lock", s.base_lock.0)?;
        let max_lock = whole_seconds("lockout.max_lock", s.max_lock.0)?;
        if max_lock < base_lock {
            return Err(self.err(
                "lockout.max_lock",
                "must be at least lockout.base_lock (locks double from base_lock up to max_lock)",
            ));
        }
        for (key, n) in [
            ("lockout.pair_threshold", s.pair_threshold),
            ("lockout.account_threshold", s.account_threshold),
            ("lockout.ip_threshold", s.ip_threshold),
        ] {
            if !(1..=100_000).contains(&n) {
                return Err(self.err(key, "must be between 1 and 100000"));
            }
        }
        if s.account_threshold < s.pair_threshold {
            return Err(self.err(
                "lockout.account_threshold",
                format!(
                    "must be at least pair_threshold ({}): the pair locks first so that one \
                     attacker cannot lock the victim's whole account",
                    s.pair_threshold
                ),
            ));
        }
        Ok(LockoutSettings {
            enabled: s.enabled,
            window,
            pair_threshold: s.pair_threshold,
            account_threshold: s.account_threshold,
            ip_threshold: s.ip_threshold,
            base_lock,
            max_lock,
            notify_user: s.notify_user,
        })
    }

    pub(crate) fn rate_limit(&self, s: RateLimitSection) -> R<RateLimitSettings> {
        if s.ui_posts_per_minute > 0 && s.ui_post_burst == 0 {
            return Err(self.err(
                "rate_limit.ui_post_burst",
                "must be at least 1 while ui_posts_per_minute is set",
            ));
        }
        if s.code_sends_per_ip_per_hour == 0 {
            return Err(self.err(
                "rate_limit.code_sends_per_ip_per_hour",
                "must be at least 1 (users could not receive codes)",
            ));
        }
        Ok(RateLimitSettings {
            ui_posts_per_minute: s.ui_posts_per_minute,
            ui_post_burst: s.ui_post_burst,
            code_sends_per_ip_per_hour: s.code_sends_per_ip_per_hour,
        })
    }
}

#[cfg(test)]
mod tests;
