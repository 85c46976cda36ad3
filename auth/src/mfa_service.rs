//! The second-factor rules on top of the stores: TOTP enrolment and verification with
//! atomic replay refusal, e-mail/SMS one-time codes with expiry, attempt limits,
//! cool-down and an hourly cap, backup codes spent once, trusted browsers, and key
//! rotation. Sending messages is the caller's job (the UI owns the notifier); this
//! layer decides and records.
use crate::clock::{Clock, UnixTime};
use crate::counters::CounterStore;
use crate::error::AuthError;
use crate::events::{AuthEvent, EventLog};
use crate::factors::{Enrollment, FactorStore, MfaMethod, SealedTotp, TrustedDevice};
use crate::mfa::backup::{
    backup_code_hash, generate_backup_codes, normalize_backup_code, BackupCode,
};
use crate::mfa::hex_lower;
use crate::mfa::otp::{generate_numeric_code, normalize_numeric_code, otp_mac, OneTimeCode};
use crate::mfa::secretbox::Keyring;
use crate::mfa::totp::{drift_minutes, verify_totp, TotpCheck, TotpParams, TotpSecret};
use crate::telemetry::Telemetry;
use crate::token::{constant_time_eq, random_token};
use sekisho_config::{MfaSettings, SecretBytes};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

const CODE_DIGITS: u32 = 6;

/// Where a one-time code goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeChannel {
    Email,
    Sms,
}

impl CodeChannel {
    pub fn method(self) -> MfaMethod {
        match self {
            CodeChannel::Email => MfaMethod::Email,
            CodeChannel::Sms => MfaMethod::Sms,
        }
    }
    fn tag(self) -> &'static str {
        match self {
            CodeChannel::Email => "email",
            CodeChannel::Sms => "sms",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpOutcome {
    Accepted,
    Replayed,
    /// The device clock is off by about this many minutes (negative = slow).
    Drift {
        minutes: i64,
        steps: i64,
    },
    Invalid,
    Malformed,
    NotEnrolled,
}

#[derive(Debug)]
pub enum IssueOutcome {
    Issued(OneTimeCode),
    /// Wait this many seconds before asking again.
    Cooldown(i64),
    HourlyCap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    Accepted,
    Invalid {
        attempts_left: u32,
    },
    Expired,
    TooManyAttempts,
    /// No code was sent (or it was used already).
    NoCode,
    Malformed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupOutcome {
    Accepted { remaining: usize },
    Invalid,
    Malformed,
}

/// A TOTP secret on its way to being enrolled, for the enrolment page.
pub struct TotpEnrollment {
    pub secret: TotpSecret,
    pub uri: Zeroizing<String>,
}

impl fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrollment(<redacted>)")
    }
}

/// A one-time code as the counter store keeps it: only its MAC.
#[derive(Serialize, Deserialize)]
struct CodeRecord {
    mac: String,
    sent_at: UnixTime,
    expires_at: UnixTime,
    /// The destination the code was sent to (a phone being confirmed), if not the
    /// enrolled one.
    #[serde(default)]
    target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationReport {
    pub resealed: usize,
    pub already_current: usize,
}

pub struct MfaService {
    factors: FactorStore,
    events: EventLog,
    counters: Arc<dyn CounterStore>,
    keyring: Keyring,
    mac_key: SecretBytes,
    clock: Arc<dyn Clock>,
    settings: MfaSettings,
    totp: TotpParams,
    telemetry: Arc<dyn Telemetry>,
    /// Code sends per client IP per hour, across users.
    codes_per_ip_per_hour: u32,
}

impl fmt::Debug for MfaService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaService")
            .field("counters", &self.counters.name())
            .field("keyring", &self.keyring)
            .finish_non_exhaustive()
    }
}

impl MfaService {
    pub fn new(
        factors: FactorStore,
        events: EventLog,
        counters: Arc<dyn CounterStore>,
        keyring: Keyring,
        mac_key: SecretBytes,
        clock: Arc<dyn Clock>,
        settings: MfaSettings,
    ) -> Self {
        let totp = TotpParams {
            skew: settings.totp_skew,
            drift_window: settings.totp_drift_window,
            ..TotpParams::default()
        };
        Self {
            factors,
            events,
            counters,
            keyring,
            mac_key,
            clock,
            settings,
            totp,
            telemetry: crate::telemetry::silent(),
            codes_per_ip_per_hour: 20,
        }
    }

    /// Caps e-mail/SMS code sends from one client IP per hour, across users, so one
    /// address cannot mail-bomb many accounts.
    pub fn with_codes_per_ip_per_hour(mut self, cap: u32) -> Self {
        self.codes_per_ip_per_hour = cap;
        self
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The shared counter store (one-time codes, lockouts, rate counters).
    pub fn counters(&self) -> &Arc<dyn CounterStore> {
        &self.counters
    }

    /// Reports every recorded event to `telemetry`.
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    pub fn telemetry(&self) -> &Arc<dyn Telemetry> {
        &self.telemetry
    }

    pub fn settings(&self) -> &MfaSettings {
        &self.settings
    }

    pub fn factors(&self) -> &FactorStore {
        &self.factors
    }

    pub fn events(&self) -> &EventLog {
        &self.events
    }

    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    pub async fn enrollment(&self, user_id: &str) -> Result<Enrollment, AuthError> {
        self.factors.enrollment(user_id).await
    }

    /// Records an event; a failing log never fails the user's request.
    pub async fn record(&self, event: AuthEvent) {
        self.telemetry.auth_event(&event);
        if let Err(e) = self.events.record(&event).await {
            tracing::warn!(error = %e, reason = %event.reason, "could not record auth event");
        }
    }

    // --- TOTP ---

    /// The secret being enrolled: the pending one if any (a reload shows the same QR
    /// code), else a new one.
    pub async fn totp_enrollment(
        &self,
        user_id: &str,
        account: &str,
    ) -> Result<TotpEnrollment, AuthError> {
        let sealed = self.factors.sealed_totp(user_id).await?;
        let secret = match &sealed.pending {
            Some(p) => TotpSecret::from_bytes(self.keyring.open(p, user_id.as_bytes())?.to_vec())?,
            None => {
                let secret = TotpSecret::generate();
                let sealed = self
                    .keyring
                    .seal(secret.expose_bytes(), user_id.as_bytes())?;
                self.factors
                    .put_pending_totp(user_id, &sealed, self.clock.now())
                    .await?;
                secret
            }
        };
        let uri = secret.otpauth_uri(&self.settings.issuer, account, &self.totp);
        Ok(TotpEnrollment { secret, uri })
    }

    /// Activates the pending secret with its first correct code.
    pub async fn confirm_totp(&self, user_id: &str, code: &str) -> Result<TotpOutcome, AuthError> {
        let sealed = self.factors.sealed_totp(user_id).await?;
        let Some(pending) = sealed.pending else {
            return Ok(TotpOutcome::NotEnrolled);
        };
        let secret =
            TotpSecret::from_bytes(self.keyring.open(&pending, user_id.as_bytes())?.to_vec())?;
        Ok(
            match verify_totp(&secret, code, self.clock.now(), &self.totp) {
                TotpCheck::Valid { step } => {
                    if self
                        .factors
                        .confirm_pending_totp(user_id, &pending, step, self.clock.now())
                        .await?
                    {
                        TotpOutcome::Accepted
                    } else {
                        TotpOutcome::Replayed
                    }
                }
                other => self.refusal(other),
            },
        )
    }

    /// Checks a code against the active secret; each time step is accepted once.
    pub async fn verify_totp(&self, user_id: &str, code: &str) -> Result<TotpOutcome, AuthError> {
        let sealed = self.factors.sealed_totp(user_id).await?;
        let Some(active) = sealed.active else {
            return Ok(TotpOutcome::NotEnrolled);
        };
        let secret =
            TotpSecret::from_bytes(self.keyring.open(&active, user_id.as_bytes())?.to_vec())?;
        Ok(
            match verify_totp(&secret, code, self.clock.now(), &self.totp) {
                TotpCheck::Valid { step } => {
                    if self.factors.accept_totp_step(user_id, step).await? {
                        TotpOutcome::Accepted
                    } else {
                        TotpOutcome::Replayed
                    }
                }
                other => self.refusal(other),
            },
        )
    }

    fn refusal(&self, check: TotpCheck) -> TotpOutcome {
        match check {
            TotpCheck::Drift { offset_steps } => TotpOutcome::Drift {
                minutes: drift_minutes(offset_steps, &self.totp),
                steps: offset_steps,
            },
            TotpCheck::Malformed => TotpOutcome::Malformed,
            TotpCheck::Invalid | TotpCheck::Valid { .. } => TotpOutcome::Invalid,
        }
    }

    pub async fn remove_totp(&self, user_id: &str) -> Result<bool, AuthError> {
        self.factors.remove_totp(user_id).await
    }

    // --- e-mail and SMS codes ---

    fn code_key(channel: CodeChannel, user_id: &str) -> String {
        format!("otp:{}:{user_id}", channel.tag())
    }

    fn attempts_key(channel: CodeChannel, user_id: &str) -> String {
        format!("otp-tries:{}:{user_id}", channel.tag())
    }

    fn mac(&self, channel: CodeChannel, user_id: &str, target: Option<&str>, code: &str) -> String {
        let context = format!("{}\0{user_id}\0{}", channel.tag(), target.unwrap_or(""));
        hex_lower(&otp_mac(self.mac_key.expose(), &context, code))
    }

    /// Makes a new code for the caller to send, unless the cool-down or the hourly
    /// cap says no. A new code replaces the previous one and its attempt count.
    /// `target` binds the code to a destination being confirmed (a new phone number).
    pub async fn issue_code(
        &self,
        user_id: &str,
        channel: CodeChannel,
        target: Option<&str>,
        client_ip: Option<&str>,
    ) -> Result<IssueOutcome, AuthError> {
        let now = self.clock.now();
        let key = Self::code_key(channel, user_id);
        if let Some(raw) = self.counters.get(&key).await? {
            if let Ok(old) = serde_json::from_slice::<CodeRecord>(&raw) {
                let wait = old.sent_at + self.settings.code_resend_after.as_secs() as i64 - now;
                if wait > 0 {
                    return Ok(IssueOutcome::Cooldown(wait));
                }
            }
        }
        let hour_key = format!("otp-hour:{user_id}:{}", now.div_euclid(3600));
        if self.counters.incr(&hour_key, 3600).await? > u64::from(self.settings.codes_per_hour) {
            self.telemetry
                .rate_limited(crate::telemetry::Limited::CodeSend);
            return Ok(IssueOutcome::HourlyCap);
        }
        if let Some(ip) = client_ip {
            let ip_key = format!("otp-ip:{ip}:{}", now.div_euclid(3600));
            if self.counters.incr(&ip_key, 3600).await? > u64::from(self.codes_per_ip_per_hour) {
                self.telemetry
                    .rate_limited(crate::telemetry::Limited::CodeSend);
                return Ok(IssueOutcome::HourlyCap);
            }
        }
        let code = generate_numeric_code(CODE_DIGITS);
        let ttl = self.settings.code_ttl.as_secs();
        let record = CodeRecord {
            mac: self.mac(channel, user_id, target, code.expose()),
            sent_at: now,
            expires_at: now + ttl as i64,
            target: target.map(str::to_string),
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| AuthError::Invalid(e.to_string()))?;
        self.counters
            .take(&Self::attempts_key(channel, user_id))
            .await?;
        self.counters.put(&key, &bytes, ttl + 60).await?;
        Ok(IssueOutcome::Issued(code))
    }

    /// The destination bound to the outstanding code, if any (e.g. the phone number
    /// being confirmed).
    pub async fn pending_code_target(
        &self,
        user_id: &str,
        channel: CodeChannel,
    ) -> Result<Option<String>, AuthError> {
        Ok(
            match self.counters.get(&Self::code_key(channel, user_id)).await? {
                Some(raw) => serde_json::from_slice::<CodeRecord>(&raw)
                    .ok()
                    .and_then(|r| r.target),
                None => None,
            },
        )
    }

    /// Checks a code: at most `code_attempts` tries, then the code is void; a right
    /// code is consumed atomically, so it works once.
    pub async fn check_code(
        &self,
        user_id: &str,
        channel: CodeChannel,
        input: &str,
    ) -> Result<CodeOutcome, AuthError> {
        let Some(code) = normalize_numeric_code(input, CODE_DIGITS) else {
            return Ok(CodeOutcome::Malformed);
        };
        let key = Self::code_key(channel, user_id);
        let Some(raw) = self.counters.get(&key).await? else {
            return Ok(CodeOutcome::NoCode);
        };
        let record: CodeRecord = serde_json::from_slice(&raw)
            .map_err(|e| AuthError::Invalid(format!("stored code record: {e}")))?;
        if self.clock.now() >= record.expires_at {
            self.counters.take(&key).await?;
            return Ok(CodeOutcome::Expired);
        }
        let limit = u64::from(self.settings.code_attempts);
        let attempt = self
            .counters
            .incr(
                &Self::attempts_key(channel, user_id),
                self.settings.code_ttl.as_secs() + 60,
            )
            .await?;
        if attempt > limit {
            self.counters.take(&key).await?;
            return Ok(CodeOutcome::TooManyAttempts);
        }
        let expected = self.mac(channel, user_id, record.target.as_deref(), &code);
        if constant_time_eq(expected.as_bytes(), record.mac.as_bytes()) {
            return Ok(if self.counters.take(&key).await? {
                self.counters
                    .take(&Self::attempts_key(channel, user_id))
                    .await?;
                CodeOutcome::Accepted
            } else {
                CodeOutcome::NoCode
            });
        }
        if attempt == limit {
            self.counters.take(&key).await?;
            return Ok(CodeOutcome::TooManyAttempts);
        }
        Ok(CodeOutcome::Invalid {
            attempts_left: u32::try_from(limit - attempt).unwrap_or(0),
        })
    }

    // --- backup codes ---

    /// A fresh set of codes to show once; the old set stops working.
    pub async fn regenerate_backup_codes(
        &self,
        user_id: &str,
    ) -> Result<Vec<BackupCode>, AuthError> {
        let codes = generate_backup_codes();
        let hashes: Vec<String> = codes
            .iter()
            .filter_map(|c| normalize_backup_code(c.display()))
            .map(|n| backup_code_hash(user_id, &n))
            .collect();
        if hashes.len() != codes.len() {
            return Err(AuthError::Invalid(
                "generated backup code failed to normalise".into(),
            ));
        }
        self.factors
            .replace_backup_codes(user_id, &hashes, self.clock.now())
            .await?;
        Ok(codes)
    }

    /// Spends a backup code; the answer is given only after it is marked used.
    pub async fn use_backup_code(
        &self,
        user_id: &str,
        input: &str,
    ) -> Result<BackupOutcome, AuthError> {
        let Some(normalized) = normalize_backup_code(input) else {
            return Ok(BackupOutcome::Malformed);
        };
        let hash = backup_code_hash(user_id, &normalized);
        if !self
            .factors
            .consume_backup_code(user_id, &hash, self.clock.now())
            .await?
        {
            return Ok(BackupOutcome::Invalid);
        }
        let remaining = self.factors.enrollment(user_id).await?.backup_remaining;
        Ok(BackupOutcome::Accepted { remaining })
    }

    // --- trusted browsers ---

    /// Remembers this browser; returns the cookie value and when it expires.
    pub async fn trust_device(
        &self,
        user_id: &str,
        user_agent: Option<&str>,
        ip: Option<&str>,
    ) -> Result<Option<(Zeroizing<String>, UnixTime)>, AuthError> {
        let Some(lifetime) = self.settings.trusted_device_for else {
            return Ok(None);
        };
        let now = self.clock.now();
        let token = Zeroizing::new(random_token(32));
        let expires_at = now + lifetime.as_secs() as i64;
        let device = TrustedDevice {
            id: random_token(12),
            user_id: user_id.to_string(),
            ua_summary: ua_summary(user_agent.unwrap_or("")),
            ip: ip.map(str::to_string),
            created_at: now,
            last_used_at: now,
            expires_at,
        };
        self.factors
            .add_trusted_device(&device, &device_hash(&token))
            .await?;
        Ok(Some((token, expires_at)))
    }

    /// Is this device cookie a live trusted browser of the user?
    pub async fn check_device(&self, user_id: &str, token: &str) -> Result<bool, AuthError> {
        if token.is_empty() || token.len() > 100 {
            return Ok(false);
        }
        Ok(self
            .factors
            .use_trusted_device(user_id, &device_hash(token), self.clock.now())
            .await?
            .is_some())
    }

    pub async fn trusted_devices(&self, user_id: &str) -> Result<Vec<TrustedDevice>, AuthError> {
        self.factors
            .list_trusted_devices(user_id, self.clock.now())
            .await
    }

    // --- keys ---

    /// Re-seals every TOTP secret under the current key.
    pub async fn rotate_keys(&self) -> Result<RotationReport, AuthError> {
        let mut report = RotationReport {
            resealed: 0,
            already_current: 0,
        };
        for old in self.factors.all_sealed_totp().await? {
            let current = old
                .active
                .as_deref()
                .is_none_or(|s| self.keyring.is_current(s))
                && old
                    .pending
                    .as_deref()
                    .is_none_or(|s| self.keyring.is_current(s));
            if current {
                report.already_current += 1;
                continue;
            }
            let aad = old.user_id.as_bytes();
            let reseal = |s: &Option<String>| -> Result<Option<String>, AuthError> {
                s.as_deref()
                    .map(|v| self.keyring.seal(&self.keyring.open(v, aad)?, aad))
                    .transpose()
            };
            let new = SealedTotp {
                user_id: old.user_id.clone(),
                active: reseal(&old.active)?,
                pending: reseal(&old.pending)?,
            };
            if self.factors.reseal_totp(&old, &new).await? {
                report.resealed += 1;
            }
        }
        Ok(report)
    }
}

fn device_hash(token: &str) -> String {
    hex_lower(&Sha256::digest(
        format!("sekisho-device-v1\0{token}").as_bytes(),
    ))
}

/// "Chrome on Linux": enough for a person to recognise a browser in a list.
pub fn ua_summary(ua: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map_or("Browser", |(_, name)| name);
    let os = [
        ("Windows", "Windows"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_string(),
    }
}

#[cfg(test)]
mod tests;
