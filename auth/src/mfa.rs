//! The pure building blocks of multi-factor authentication: no storage, no I/O, no clock
//! of their own (time is passed in).
//!
//! - [`totp`]: RFC 6238 TOTP secrets, codes, verification with skew and drift detection,
//!   `otpauth://` URIs for authenticator apps.
//! - [`secretbox`]: AES-256-GCM sealing of secrets at rest (the TOTP secret, with the user
//!   id as associated data) under a key ring that supports rotation.
//! - [`backup`]: backup codes, their normalisation from what users type, and their hashes.
//! - [`otp`]: numeric one-time codes for e-mail and SMS, and the MAC they are stored as.
//! - [`qr`]: the QR code of an enrolment URI as a CSP-friendly SVG.
//!
//! Every type holding a secret redacts its `Debug` and has no `Display`.

pub mod backup;
pub mod otp;
pub mod qr;
pub mod secretbox;
pub mod totp;

pub use backup::{
    backup_code_hash, generate_backup_codes, normalize_backup_code, BackupCode, BACKUP_CODE_COUNT,
};
pub use otp::{generate_numeric_code, normalize_numeric_code, otp_mac, OneTimeCode};
pub use qr::qr_svg;
pub use secretbox::Keyring;
pub use totp::{drift_minutes, totp_code_at, verify_totp, TotpCheck, TotpParams, TotpSecret};

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// `Debug` that names the type and never shows its contents.
macro_rules! redacted_debug {
    ($($ty:ident),+) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($ty), "(<redacted>)"))
            }
        }
    )+};
}
pub(crate) use redacted_debug;

const SHA256_BLOCK_LEN: usize = 64;

/// HMAC-SHA256 of the concatenated `parts`.
///
/// `Hmac::new_from_slice` is fallible in type only (HMAC takes keys of any length), and an
/// error arm would have to invent a MAC. Keying with the padded block instead is infallible
/// and yields the same MAC (RFC 2104 §2: long keys are hashed, short ones zero-padded).
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = Zeroizing::new([0u8; SHA256_BLOCK_LEN]);
    if key.len() > SHA256_BLOCK_LEN {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&(*block).into());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Lower-case hex.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests;
