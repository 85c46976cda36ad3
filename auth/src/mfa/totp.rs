//! RFC 6238 TOTP with HMAC-SHA-1, the variant every authenticator app implements.
//!
//! Codes come from `totp-rs`; what this module adds is Sekisho's verification rule: a code
//! within ±`skew` steps is accepted, one further away but within `drift_window` steps is
//! reported as clock drift (refused, with a hint), and replay is left to the caller, which
//! stores the matched step atomically.
use crate::clock::UnixTime;
use crate::error::AuthError;
use crate::mfa::otp::normalize_numeric_code;
use crate::mfa::redacted_debug;
use crate::token::constant_time_eq;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::RngCore;
use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

/// A TOTP shared secret. Never printable.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

redacted_debug!(TotpSecret);

impl TotpSecret {
    /// 160 bits, the HMAC-SHA-1 output size that RFC 4226 recommends.
    pub const GENERATED_LEN: usize = 20;
    /// Shorter secrets are refused (RFC 4226 §4 asks for at least 128 bits; apps use 160).
    pub const MIN_LEN: usize = 20;

    /// A fresh secret from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; Self::GENERATED_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, AuthError> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() < Self::MIN_LEN {
            return Err(AuthError::Invalid(format!(
                "a TOTP secret needs at least {} bytes",
                Self::MIN_LEN
            )));
        }
        Ok(Self(bytes))
    }

    /// The raw secret, for sealing it at rest. Never log it.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32, upper case, without padding (what authenticator apps expect).
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32::encode(
            base32::Alphabet::Rfc4648 { padding: false },
            &self.0,
        ))
    }

    /// Base32 in groups of four separated by spaces, for typing the secret in by hand.
    pub fn grouped_base32(&self) -> Zeroizing<String> {
        let plain = self.to_base32();
        let mut grouped = Zeroizing::new(String::with_capacity(plain.len() + plain.len() / 4));
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                grouped.push(' ');
            }
            grouped.push(c);
        }
        grouped
    }

    /// The `otpauth://totp/` URI of Google's Key URI Format, which authenticator apps scan.
    ///
    /// Issuer and account are percent-encoded (a `:` in either is encoded, so the label's own
    /// separator stays unambiguous). An empty issuer leaves the label as the account alone.
    pub fn otpauth_uri(
        &self,
        issuer: &str,
        account: &str,
        params: &TotpParams,
    ) -> Zeroizing<String> {
        let issuer = utf8_percent_encode(issuer, URI_COMPONENT).to_string();
        let account = utf8_percent_encode(account, URI_COMPONENT);
        let secret = self.to_base32();
        let mut uri = Zeroizing::new(String::with_capacity(128 + issuer.len() * 2 + secret.len()));
        uri.push_str("otpauth://totp/");
        if !issuer.is_empty() {
            uri.push_str(&issuer);
            uri.push(':');
        }
        uri.extend(account);
        uri.push_str("?secret=");
        uri.push_str(&secret);
        if !issuer.is_empty() {
            uri.push_str("&issuer=");
            uri.push_str(&issuer);
        }
        uri.push_str("&algorithm=SHA1&digits=");
        uri.push_str(&params.digits.to_string());
        uri.push_str("&period=");
        uri.push_str(&params.step_secs.to_string());
        uri
    }

    /// A `totp-rs` generator over a copy of the secret (wiped when dropped).
    fn generator(&self, params: &TotpParams) -> TOTP {
        TOTP::new_unchecked(
            Algorithm::SHA1,
            params.digits as usize,
            0,
            u64::from(params.step_secs),
            self.0.to_vec(),
        )
    }
}

/// RFC 3986 unreserved characters stay as they are; everything else is encoded
/// (spaces as `%20`, never `+`, which some apps would show literally).
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How codes are made and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpParams {
    /// Seconds per time step (30 in every common app).
    pub step_secs: u32,
    /// Digits per code, 6 to 8.
    pub digits: u32,
    /// Steps either side of now that are accepted.
    pub skew: u32,
    /// Steps either side of now within which a match is reported as clock drift.
    pub drift_window: u32,
}

impl Default for TotpParams {
    fn default() -> Self {
        Self {
            step_secs: 30,
            digits: 6,
            skew: 1,
            drift_window: 10,
        }
    }
}

impl TotpParams {
    /// Bounds the HMACs one verification may compute (2 × this + 1).
    pub const MAX_WINDOW_STEPS: u32 = 120;

    /// Whether these parameters can be used; call it when loading configuration.
    /// Unsupported parameters make [`verify_totp`] answer `Invalid` and
    /// [`totp_code_at`] answer an empty string.
    pub fn validate(&self) -> Result<(), AuthError> {
        if !(6..=8).contains(&self.digits) {
            return Err(AuthError::Invalid("TOTP codes have 6 to 8 digits".into()));
        }
        if self.step_secs == 0 {
            return Err(AuthError::Invalid(
                "the TOTP step must be at least one second".into(),
            ));
        }
        if self.skew.max(self.drift_window) > Self::MAX_WINDOW_STEPS {
            return Err(AuthError::Invalid(format!(
                "TOTP skew and drift window are at most {} steps",
                Self::MAX_WINDOW_STEPS
            )));
        }
        Ok(())
    }
}

/// The outcome of checking a submitted TOTP code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    /// Matched within ±skew; `step` is the matched time step (unix/step_secs), for the caller's atomic replay check.
    Valid {
        step: i64,
    },
    /// Did not match within ±skew but matched at `offset_steps` (|offset| in skew+1..=drift_window) relative to now's step.
    /// Negative = the device's clock is BEHIND (slow). The caller refuses it and shows a hint.
    Drift {
        offset_steps: i64,
    },
    Invalid,
    /// Not `digits` ASCII digits after removing spaces/dashes (e.g. "123 456" is fine, "12a456" is Malformed).
    Malformed,
}

/// Checks `code` against the steps around `now`, nearest first (0, −1, +1, −2, +2, …) so the
/// closest match wins. Each candidate is compared in constant time.
pub fn verify_totp(
    secret: &TotpSecret,
    code: &str,
    now: UnixTime,
    params: &TotpParams,
) -> TotpCheck {
    let Some(code) = normalize_numeric_code(code, params.digits) else {
        return TotpCheck::Malformed;
    };
    let code = Zeroizing::new(code);
    if now < 0 || params.validate().is_err() {
        return TotpCheck::Invalid;
    }
    let step_secs = i64::from(params.step_secs);
    let current = now / step_secs;
    let generator = secret.generator(params);
    let reach = i64::from(params.skew.max(params.drift_window));
    let nearest_first = std::iter::once(0).chain((1..=reach).flat_map(|d| [-d, d]));
    for offset in nearest_first {
        let Some(step) = current.checked_add(offset).filter(|s| *s >= 0) else {
            continue;
        };
        let Some(at) = step.checked_mul(step_secs) else {
            continue;
        };
        let candidate = Zeroizing::new(generator.generate(at.unsigned_abs()));
        if constant_time_eq(candidate.as_bytes(), code.as_bytes()) {
            return if offset.abs() <= i64::from(params.skew) {
                TotpCheck::Valid { step }
            } else {
                TotpCheck::Drift {
                    offset_steps: offset,
                }
            };
        }
    }
    TotpCheck::Invalid
}

/// The code for the step containing `at`, zero-padded to `digits`. Empty when `at` is
/// negative or the parameters are unsupported (an empty code never verifies).
pub fn totp_code_at(secret: &TotpSecret, at: UnixTime, params: &TotpParams) -> Zeroizing<String> {
    if at < 0 || params.validate().is_err() {
        return Zeroizing::new(String::new());
    }
    Zeroizing::new(secret.generator(params).generate(at.unsigned_abs()))
}

/// How far off the device's clock is, in whole minutes rounded to the nearest (halves away
/// from zero), keeping the sign of `offset_steps` (negative: the device is behind).
pub fn drift_minutes(offset_steps: i64, params: &TotpParams) -> i64 {
    let secs = offset_steps.saturating_mul(i64::from(params.step_secs));
    (secs.unsigned_abs().saturating_add(30) / 60) as i64 * secs.signum()
}

#[cfg(test)]
mod tests;
