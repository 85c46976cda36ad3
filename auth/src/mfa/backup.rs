//! Backup codes: shown once, stored only as hashes, each good for one sign-in.
//!
//! A code is 80 random bits written as 16 characters of Crockford's base32 alphabet in
//! lower case, grouped by four: `k7m2-9qxd-4hpa-3tcv`. The alphabet has no `o`, `i`, `l`
//! or `u`, so what is shown cannot be misread; what the user types back is forgiving
//! (`o` is read as `0`, `i` and `l` as `1`, case, spaces, dashes and full-width forms
//! do not matter).
use crate::mfa::{hex_lower, redacted_debug};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Crockford's base32 alphabet (as `base32::Alphabet::Crockford`), lower case.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const CODE_LEN: usize = 16;
const GROUP_LEN: usize = 4;
const RANDOM_BYTES: usize = CODE_LEN * 5 / 8;

/// How many codes a set holds.
pub const BACKUP_CODE_COUNT: usize = 10;

/// One backup code, as shown to the user. Never printable.
pub struct BackupCode(Zeroizing<String>);

redacted_debug!(BackupCode);

impl BackupCode {
    fn generate() -> Self {
        let mut random = Zeroizing::new([0u8; RANDOM_BYTES]);
        rand::rngs::OsRng.fill_bytes(&mut *random);
        let mut symbols = Zeroizing::new(base32::encode(base32::Alphabet::Crockford, &*random));
        symbols.make_ascii_lowercase();
        let mut shown = Zeroizing::new(String::with_capacity(CODE_LEN + CODE_LEN / GROUP_LEN));
        for (i, symbol) in symbols.chars().enumerate() {
            if i > 0 && i % GROUP_LEN == 0 {
                shown.push('-');
            }
            shown.push(symbol);
        }
        Self(shown)
    }

    /// The code as shown to the user, e.g. `k7m2-9qxd-4hpa-3tcv`.
    pub fn display(&self) -> &str {
        &self.0
    }

    /// The code without dashes, the form [`backup_code_hash`] takes.
    pub fn normalized(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.chars().filter(|c| *c != '-').collect())
    }
}

/// A new set of [`BACKUP_CODE_COUNT`] distinct codes.
pub fn generate_backup_codes() -> Vec<BackupCode> {
    let mut codes: Vec<BackupCode> = Vec::with_capacity(BACKUP_CODE_COUNT);
    while codes.len() < BACKUP_CODE_COUNT {
        let code = BackupCode::generate();
        // A repeat among 2^80 values is practically impossible; checking is still cheap.
        if codes.iter().all(|c| c.0 != code.0) {
            codes.push(code);
        }
    }
    codes
}

/// Longest input worth looking at: a code with generous separators.
const MAX_INPUT_LEN: usize = 128;

/// The code the user meant, in the form [`backup_code_hash`] takes, or `None` if it cannot
/// be a backup code.
pub fn normalize_backup_code(input: &str) -> Option<Zeroizing<String>> {
    if input.len() > MAX_INPUT_LEN {
        return None;
    }
    let mut code = Zeroizing::new(String::with_capacity(CODE_LEN));
    for c in input.chars() {
        if c.is_whitespace() || is_dash(c) {
            continue;
        }
        let symbol = match unfold_full_width(c).to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        if code.len() == CODE_LEN {
            return None;
        }
        code.push(symbol);
    }
    (code.len() == CODE_LEN).then_some(code)
}

/// Hyphen-like characters that phones and input methods substitute for `-`.
fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF0D}'
    )
}

/// Full-width ASCII (U+FF01..U+FF5E), as Japanese input methods type it, to plain ASCII.
fn unfold_full_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Hex SHA-256 over `"v1\0{user_id}\0{code}"`: the stored form of a code. The user id makes
/// equal codes of different users hash differently. Codes carry 80 random bits, so a fast
/// hash cannot be brute-forced.
pub fn backup_code_hash(user_id: &str, normalized: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"v1\0");
    hasher.update(user_id.as_bytes());
    hasher.update(b"\0");
    hasher.update(normalized.as_bytes());
    hex_lower(&hasher.finalize())
}

#[cfg(test)]
mod tests;
