//! Secrets at rest (the TOTP secret) sealed with AES-256-GCM under a key derived from the
//! server's master key, with the owner's user id as associated data so a sealed value
//! copied to another user's row does not open.
//!
//! Sealed form: `v1.<key id>.<base64url(nonce || ciphertext || tag)>`. The key id (8 hex
//! digits, derived from the master key, not secret) names the key that sealed a value, so
//! after a rotation old values still open under the previous key and can be re-sealed.
use crate::error::AuthError;
use crate::mfa::{hex_lower, hmac_sha256};
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sekisho_config::SecretBytes;
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

const FORMAT_VERSION: &str = "v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_ID_LEN: usize = 8;
const AES_KEY_CONTEXT: &[u8] = b"sekisho/secretbox/aes-256-gcm/v1";
const KEY_ID_CONTEXT: &[u8] = b"sekisho/key-id/v1";

struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
}

impl SealingKey {
    fn derive(master: &SecretBytes) -> Self {
        let aes_key = Zeroizing::new(hmac_sha256(master.expose(), &[AES_KEY_CONTEXT]));
        let mut id_hash = Sha256::new();
        id_hash.update(KEY_ID_CONTEXT);
        id_hash.update(master.expose());
        Self {
            id: hex_lower(&id_hash.finalize()[..KEY_ID_LEN / 2]),
            cipher: Aes256Gcm::new(&(*aes_key).into()),
        }
    }
}

/// The current sealing key and the previous ones that may still open old values.
pub struct Keyring {
    current: SealingKey,
    previous: Vec<SealingKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self
                    .previous
                    .iter()
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Keyring {
    /// `previous` keys only open; a previous key equal to the current one is ignored.
    pub fn new(current: &SecretBytes, previous: &[SecretBytes]) -> Self {
        let current = SealingKey::derive(current);
        let mut older: Vec<SealingKey> = Vec::with_capacity(previous.len());
        for master in previous {
            let key = SealingKey::derive(master);
            if key.id != current.id && older.iter().all(|k| k.id != key.id) {
                older.push(key);
            }
        }
        Self {
            current,
            previous: older,
        }
    }

    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypts `plaintext` under the current key with a fresh random nonce, bound to `aad`
    /// (the owner's user id).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, AuthError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| AuthError::Crypto("encryption failed".into()))?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(format!(
            "{FORMAT_VERSION}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(blob)
        ))
    }

    /// Decrypts a value sealed under any key of the ring with the same `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, AuthError> {
        let (key_id, payload) = parse(sealed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| {
                AuthError::Crypto(format!(
                    "sealed under key {key_id}, which is neither the current key ({}) nor a \
                     configured previous key",
                    self.current.id
                ))
            })?;
        let blob = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| AuthError::Invalid("sealed value: payload is not base64url".into()))?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(AuthError::Invalid("sealed value: payload too short".into()));
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        key.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                AuthError::Crypto(
                    "sealed value does not open: it belongs to another user or was altered".into(),
                )
            })
    }

    /// Whether `sealed` names the current key (values that do not are due for re-sealing).
    /// Says nothing about whether the value opens.
    pub fn is_current(&self, sealed: &str) -> bool {
        parse(sealed).is_ok_and(|(key_id, _)| key_id == self.current.id)
    }
}

/// Splits a sealed value into its key id and payload, checking the version and id shape.
fn parse(sealed: &str) -> Result<(&str, &str), AuthError> {
    let mut parts = sealed.splitn(3, '.');
    let (Some(version), Some(key_id), Some(payload)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Invalid(
            "sealed value: expected `v1.<key id>.<payload>`".into(),
        ));
    };
    if version != FORMAT_VERSION {
        return Err(AuthError::Invalid(
            "sealed value: unsupported format version".into(),
        ));
    }
    if key_id.len() != KEY_ID_LEN
        || !key_id
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(AuthError::Invalid("sealed value: malformed key id".into()));
    }
    Ok((key_id, payload))
}

#[cfg(test)]
mod tests;
