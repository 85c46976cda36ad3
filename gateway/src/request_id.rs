//! Request ids: the id users quote from an error page, the access log's key, and the
//! `X-Request-Id` the upstream receives.
//!
//! An id is made without a system call or an allocation: a per-process random seed
//! plus a counter, scrambled by a bijection (so ids never repeat within a process and
//! do not reveal how many requests the gateway has served), base64url-encoded into a
//! fixed buffer. A trusted proxy's `X-Request-Id` is adopted instead when it is short
//! and made of harmless characters, so one id follows a request through every hop.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The longest incoming id we adopt.
pub const MAX_LEN: usize = 64;
const OWN_LEN: usize = 16;
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[derive(Clone, Copy)]
pub struct RequestId {
    buf: [u8; MAX_LEN],
    len: u8,
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn seed() -> &'static (u64, u32) {
    static SEED: OnceLock<(u64, u32)> = OnceLock::new();
    SEED.get_or_init(|| {
        let mut b = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
        let mut hi = [0u8; 8];
        hi.copy_from_slice(&b[..8]);
        let mut lo = [0u8; 4];
        lo.copy_from_slice(&b[8..]);
        (u64::from_le_bytes(hi), u32::from_le_bytes(lo))
    })
}

/// SplitMix64's finaliser: a bijection on `u64` that scatters consecutive inputs.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether a client-supplied id is one we pass on: 1–64 of `A-Z a-z 0-9 - _ . :`.
fn acceptable(v: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&v.len())
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

impl RequestId {
    /// A fresh id, 16 base64url characters.
    pub fn generate() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let (a, b) = *seed();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut raw = [0u8; 12];
        raw[..8].copy_from_slice(&mix(a.wrapping_add(n)).to_le_bytes());
        raw[8..].copy_from_slice(&b.to_le_bytes());
        let mut buf = [0u8; MAX_LEN];
        for (chunk, out) in raw.chunks(3).zip(buf.chunks_mut(4)) {
            let v = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
            for (i, o) in out.iter_mut().enumerate() {
                *o = ALPHABET[((v >> (18 - 6 * i)) & 63) as usize];
            }
        }
        Self {
            buf,
            len: OWN_LEN as u8,
        }
    }

    /// Adopts an incoming `X-Request-Id` if it is acceptable.
    pub fn from_header(value: &[u8]) -> Option<Self> {
        if !acceptable(value) {
            return None;
        }
        let mut buf = [0u8; MAX_LEN];
        buf[..value.len()].copy_from_slice(value);
        Some(Self {
            buf,
            len: value.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII ever goes in (see `generate` and `acceptable`).
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_ids_are_distinct_url_safe_and_sixteen_long() {
        let ids: HashSet<String> = (0..10_000)
            .map(|_| RequestId::generate().as_str().to_string())
            .collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(50) {
            assert_eq!(id.len(), 16, "{id}");
            assert!(acceptable(id.as_bytes()), "{id}");
        }
    }

    #[test]
    fn incoming_ids_are_checked() {
        let ok = "req-2024.01:abc_DEF";
        assert_eq!(RequestId::from_header(ok.as_bytes()).unwrap().as_str(), ok);
        let longest = "a".repeat(MAX_LEN);
        assert!(RequestId::from_header(longest.as_bytes()).is_some());
        for bad in [
            "".to_string(),
            "a".repeat(MAX_LEN + 1),
            "has space".into(),
            "<script>".into(),
            "quote\"".into(),
            "new\nline".into(),
            "ユーザー".into(),
        ] {
            assert!(RequestId::from_header(bad.as_bytes()).is_none(), "{bad:?}");
        }
    }
}
