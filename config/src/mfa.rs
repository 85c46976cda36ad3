//! The `[mfa]` table: second-factor rules shared by every factor, from file schema to
//! validated settings.
use crate::load::{Validator, R};
use crate::model::UiSettings;
use crate::values::{Factor, FactorSet, HumanDuration};
use serde::Deserialize;
use std::time::Duration;

/// When a user who has MFA completes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaAtLogin {
    /// Every sign-in of an enrolled user asks for the second factor.
    #[default]
    Enrolled,
    /// Only when a `two_factor` rule needs it (step-up on demand).
    WhenRequired,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaSection {
    /// Shown in authenticator apps; defaults to `ui.title`.
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub at_login: MfaAtLogin,
    /// Factors users may enrol and use.
    #[serde(default = "default_factors")]
    pub factors: Vec<Factor>,
    #[serde(default = "default_skew")]
    pub totp_skew: u32,
    #[serde(default = "default_drift_window")]
    pub totp_drift_window: u32,
    #[serde(default = "default_code_ttl")]
    pub code_ttl: HumanDuration,
    #[serde(default = "default_code_attempts")]
    pub code_attempts: u32,
    #[serde(default = "default_resend")]
    pub code_resend_after: HumanDuration,
    #[serde(default = "default_codes_per_hour")]
    pub codes_per_hour: u32,
    /// "Trust this browser" lifetime; `"0s"` hides the option.
    #[serde(default = "default_trust")]
    pub trusted_device_for: HumanDuration,
    /// Sensitive settings changes need an MFA at most this old.
    #[serde(default = "default_reauth")]
    pub reauth_within: HumanDuration,
}

impl Default for MfaSection {
    fn default() -> Self {
        Self {
            issuer: None,
            at_login: MfaAtLogin::default(),
            factors: default_factors(),
            totp_skew: default_skew(),
            totp_drift_window: default_drift_window(),
            code_ttl: default_code_ttl(),
            code_attempts: default_code_attempts(),
            code_resend_after: default_resend(),
            codes_per_hour: default_codes_per_hour(),
            trusted_device_for: default_trust(),
            reauth_within: default_reauth(),
        }
    }
}

fn default_factors() -> Vec<Factor> {
    vec![Factor::Totp, Factor::Email, Factor::BackupCode]
}
fn default_skew() -> u32 {
    1
}
fn default_drift_window() -> u32 {
    10
}
fn default_code_ttl() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}
fn default_code_attempts() -> u32 {
    5
}
fn default_resend() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_codes_per_hour() -> u32 {
    5
}
fn default_trust() -> HumanDuration {
    HumanDuration(Duration::from_secs(30 * 86_400))
}
fn default_reauth() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}

#[derive(Debug, Clone)]
pub struct MfaSettings {
    pub issuer: String,
    pub at_login: MfaAtLogin,
    pub factors: FactorSet,
    pub totp_skew: u32,
    pub totp_drift_window: u32,
    pub code_ttl: Duration,
    pub code_attempts: u32,
    pub code_resend_after: Duration,
    pub codes_per_hour: u32,
    /// `None`: browsers cannot be trusted.
    pub trusted_device_for: Option<Duration>,
    pub reauth_within: Duration,
}

impl Default for MfaSettings {
    fn default() -> Self {
        Self::from_section(MfaSection::default(), "Sekisho")
    }
}

impl MfaSettings {
    fn from_section(m: MfaSection, title: &str) -> Self {
        Self {
            issuer: m.issuer.unwrap_or_else(|| title.to_string()),
            at_login: m.at_login,
            factors: FactorSet::of(&m.factors),
            totp_skew: m.totp_skew,
            totp_drift_window: m.totp_drift_window,
            code_ttl: m.code_ttl.0,
            code_attempts: m.code_attempts,
            code_resend_after: m.code_resend_after.0,
            codes_per_hour: m.codes_per_hour,
            trusted_device_for: (!m.trusted_device_for.0.is_zero())
                .then_some(m.trusted_device_for.0),
            reauth_within: m.reauth_within.0,
        }
    }
}

impl Validator<'_> {
    pub(crate) fn mfa(&self, m: MfaSection, ui: &UiSettings) -> R<MfaSettings> {
        if let Some(issuer) = &m.issuer {
            if issuer.trim().is_empty() || issuer.len() > 64 || issuer.chars().any(char::is_control)
            {
                return Err(self.err("mfa.issuer", "1–64 printable characters"));
            }
        }
        if m.totp_skew > 2 {
            return Err(self.err("mfa.totp_skew", "at most 2 steps (±60 s); 1 is the usual"));
        }
        if m.totp_drift_window < m.totp_skew || m.totp_drift_window > 20 {
            return Err(self.err("mfa.totp_drift_window", "between totp_skew and 20 steps"));
        }
        let ttl = m.code_ttl.0.as_secs();
        if !(60..=3600).contains(&ttl) {
            return Err(self.err("mfa.code_ttl", "between 1m and 1h"));
        }
        if !(1..=10).contains(&m.code_attempts) {
            return Err(self.err("mfa.code_attempts", "between 1 and 10"));
        }
        if m.code_resend_after.0.as_secs() > 600 {
            return Err(self.err("mfa.code_resend_after", "at most 10m"));
        }
        if !(1..=100).contains(&m.codes_per_hour) {
            return Err(self.err("mfa.codes_per_hour", "between 1 and 100"));
        }
        if m.trusted_device_for.0.as_secs() > 365 * 86_400 {
            return Err(self.err("mfa.trusted_device_for", "at most 365d"));
        }
        let reauth = m.reauth_within.0.as_secs();
        if !(60..=86_400).contains(&reauth) {
            return Err(self.err("mfa.reauth_within", "between 1m and 24h"));
        }
        if m.factors.is_empty() {
            return Err(self.err("mfa.factors", "name at least one factor"));
        }
        Ok(MfaSettings::from_section(m, &ui.title))
    }
}

#[cfg(test)]
mod tests;
