//! Numeric one-time codes sent by e-mail or SMS, and the keyed MAC they are stored as
//! (the code itself is never stored).
use crate::mfa::{hmac_sha256, redacted_debug};
use rand::RngCore;
use zeroize::Zeroizing;

/// A one-time code as sent to the user. Never printable.
pub struct OneTimeCode(Zeroizing<String>);

redacted_debug!(OneTimeCode);

impl OneTimeCode {
    /// The code, for the message that delivers it. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Longest code [`generate_numeric_code`] makes: 10^18 still fits the u64 it samples.
pub const MAX_NUMERIC_DIGITS: u32 = 18;

/// A uniformly random code of `digits` decimal digits, zero-padded. `digits` is clamped
/// to 1..=[`MAX_NUMERIC_DIGITS`].
pub fn generate_numeric_code(digits: u32) -> OneTimeCode {
    let digits = digits.clamp(1, MAX_NUMERIC_DIGITS);
    let modulus = 10u64.pow(digits);
    // Rejection sampling: `% modulus` over the full u64 range would favour small values;
    // drawing again above the largest multiple of `modulus` keeps every code equally likely.
    let limit = u64::MAX - u64::MAX % modulus;
    let value = loop {
        let candidate = rand::rngs::OsRng.next_u64();
        if candidate < limit {
            break candidate % modulus;
        }
    };
    OneTimeCode(Zeroizing::new(format!(
        "{value:0width$}",
        width = digits as usize
    )))
}

/// HMAC-SHA256 under the server key over `"v1\0{context}\0{code}"`. `context` binds the
/// code to its purpose and recipient (e.g. a challenge id), so a code is useless elsewhere.
pub fn otp_mac(key: &[u8], context: &str, code: &str) -> [u8; 32] {
    hmac_sha256(key, &[b"v1\0", context.as_bytes(), b"\0", code.as_bytes()])
}

/// Longest input worth looking at: a code with generous separators.
const MAX_INPUT_LEN: usize = 64;

/// The code the user meant: whitespace (including the ideographic space of Japanese input
/// methods) and dashes removed, then exactly `digits` ASCII digits, else `None`.
pub fn normalize_numeric_code(input: &str, digits: u32) -> Option<String> {
    if digits == 0 || input.len() > MAX_INPUT_LEN {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (code.len() == digits as usize && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

#[cfg(test)]
mod tests;
