use super::*;

fn master(fill: u8) -> SecretBytes {
    SecretBytes::new(vec![fill; 32]).unwrap()
}

const ALICE: &[u8] = b"user-1";
const BOB: &[u8] = b"user-2";

#[test]
fn sealed_values_open_with_the_same_user_id() {
    let ring = Keyring::new(&master(1), &[]);
    let sealed = ring.seal(b"totp secret bytes", ALICE).unwrap();
    assert_eq!(
        ring.open(&sealed, ALICE).unwrap().as_slice(),
        b"totp secret bytes"
    );
    assert!(ring.is_current(&sealed));
    // An empty plaintext is still authenticated.
    let empty = ring.seal(b"", ALICE).unwrap();
    assert!(ring.open(&empty, ALICE).unwrap().is_empty());
}

#[test]
fn sealed_form_is_version_key_id_and_base64url_payload() {
    let ring = Keyring::new(&master(1), &[]);
    let sealed = ring.seal(&[9; 20], ALICE).unwrap();
    let parts: Vec<&str> = sealed.split('.').collect();
    assert_eq!(parts.len(), 3, "{sealed}");
    assert_eq!(parts[0], "v1");
    assert_eq!(parts[1], ring.current_key_id());
    assert_eq!(parts[1].len(), 8);
    assert!(parts[1]
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let blob = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    assert_eq!(blob.len(), NONCE_LEN + 20 + TAG_LEN);
}

#[test]
fn key_id_and_aes_key_follow_the_documented_derivation() {
    let key = master(1);
    let mut id_hash = Sha256::new();
    id_hash.update(b"sekisho/key-id/v1");
    id_hash.update(key.expose());
    let expected_id = hex_lower(&id_hash.finalize()[..4]);
    let ring = Keyring::new(&key, &[]);
    assert_eq!(ring.current_key_id(), expected_id);

    // Decrypt by hand with HMAC-SHA256(master, context) as the AES key.
    let sealed = ring.seal(b"payload", ALICE).unwrap();
    let blob = URL_SAFE_NO_PAD
        .decode(sealed.rsplit('.').next().unwrap())
        .unwrap();
    let aes_key = hmac_sha256(key.expose(), &[b"sekisho/secretbox/aes-256-gcm/v1"]);
    let cipher = Aes256Gcm::new(&aes_key.into());
    let plain = cipher
        .decrypt(
            Nonce::from_slice(&blob[..12]),
            Payload {
                msg: &blob[12..],
                aad: ALICE,
            },
        )
        .unwrap();
    assert_eq!(plain, b"payload");
    assert_ne!(Keyring::new(&master(2), &[]).current_key_id(), expected_id);
}

#[test]
fn another_users_id_does_not_open_it() {
    let ring = Keyring::new(&master(1), &[]);
    let sealed = ring.seal(b"secret", ALICE).unwrap();
    let err = ring.open(&sealed, BOB).unwrap_err();
    assert!(matches!(err, AuthError::Crypto(_)), "{err:?}");
}

#[test]
fn any_altered_byte_is_detected() {
    let ring = Keyring::new(&master(1), &[]);
    let sealed = ring.seal(b"secret", ALICE).unwrap();
    let (head, payload) = sealed.rsplit_once('.').unwrap();
    let blob = URL_SAFE_NO_PAD.decode(payload).unwrap();
    for i in 0..blob.len() {
        let mut altered = blob.clone();
        altered[i] ^= 0x01;
        let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&altered));
        assert!(
            matches!(ring.open(&tampered, ALICE), Err(AuthError::Crypto(_))),
            "byte {i}"
        );
    }
}

#[test]
fn truncated_or_garbage_input_is_an_error_not_a_panic() {
    let ring = Keyring::new(&master(1), &[]);
    let sealed = ring.seal(b"secret", ALICE).unwrap();
    for cut in 0..sealed.len() {
        assert!(ring.open(&sealed[..cut], ALICE).is_err(), "cut at {cut}");
    }
    let id = ring.current_key_id().to_string();
    for garbage in [
        String::new(),
        "v1".into(),
        "v1..".into(),
        format!("v2.{id}.AAAA"),
        format!("v1.{}.AAAA", id.to_uppercase()),
        "v1.zzzzzzzz.AAAA".into(),
        format!("v1.{id}.not base64!"),
        format!("v1.{id}."),
        format!("v1.{id}.{}", URL_SAFE_NO_PAD.encode([0u8; 27])),
        format!("v1.{id}.{}", URL_SAFE_NO_PAD.encode([0u8; 28])),
        "v1.ｖ１.ｖ１".into(),
    ] {
        assert!(ring.open(&garbage, ALICE).is_err(), "{garbage:?}");
        assert_eq!(
            ring.is_current(&garbage),
            garbage.starts_with(&format!("v1.{id}."))
        );
    }
}

#[test]
fn previous_keys_still_open_and_are_not_current() {
    let old = Keyring::new(&master(1), &[]);
    let sealed = old.seal(b"secret", ALICE).unwrap();
    let rotated = Keyring::new(&master(2), &[master(1)]);
    assert_eq!(rotated.open(&sealed, ALICE).unwrap().as_slice(), b"secret");
    assert!(!rotated.is_current(&sealed));
    let resealed = rotated.seal(b"secret", ALICE).unwrap();
    assert!(rotated.is_current(&resealed));
    // Re-sealed values no longer need the old key.
    assert!(Keyring::new(&master(2), &[]).open(&resealed, ALICE).is_ok());
}

#[test]
fn an_unknown_key_id_is_named_in_the_error() {
    let sealed = Keyring::new(&master(3), &[])
        .seal(b"secret", ALICE)
        .unwrap();
    let ring = Keyring::new(&master(1), &[master(2)]);
    let unknown_id = sealed.split('.').nth(1).unwrap();
    match ring.open(&sealed, ALICE) {
        Err(AuthError::Crypto(msg)) => {
            assert!(msg.contains(unknown_id), "{msg}");
            assert!(msg.contains("previous key"), "{msg}");
        }
        other => panic!("expected an unknown-key error, got {other:?}"),
    }
}

#[test]
fn two_seals_of_the_same_plaintext_differ() {
    let ring = Keyring::new(&master(1), &[]);
    let a = ring.seal(b"secret", ALICE).unwrap();
    let b = ring.seal(b"secret", ALICE).unwrap();
    assert_ne!(a, b);
    let nonce = |s: &str| {
        URL_SAFE_NO_PAD
            .decode(s.rsplit('.').next().unwrap())
            .unwrap()[..12]
            .to_vec()
    };
    assert_ne!(nonce(&a), nonce(&b));
}

#[test]
fn debug_shows_only_key_ids() {
    let ring = Keyring::new(&master(1), &[master(2), master(1), master(2)]);
    let shown = format!("{ring:?}");
    assert!(shown.contains(ring.current_key_id()), "{shown}");
    let previous_id = Keyring::new(&master(2), &[]).current_key_id().to_string();
    assert!(shown.contains(&previous_id), "{shown}");
    // Duplicates of the current key or of each other are dropped.
    assert_eq!(shown.matches(&previous_id).count(), 1, "{shown}");
    assert_eq!(shown.matches(ring.current_key_id()).count(), 1, "{shown}");
    assert!(
        !shown.contains("0101") && !shown.contains("[1, 1"),
        "{shown}"
    );
}
