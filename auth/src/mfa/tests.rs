use super::*;

#[test]
fn hmac_matches_rfc_4231_for_short_and_long_keys() {
    // Test case 2: a key shorter than the block.
    let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
    assert_eq!(
        hex_lower(&mac),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // Test case 6: a 131-byte key, longer than the block, so it is hashed first.
    let mac = hmac_sha256(
        &[0xaa; 131],
        &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
    );
    assert_eq!(
        hex_lower(&mac),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
    // Exactly one block: used as is.
    let key = [0x0bu8; 64];
    let mut reference = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
    reference.update(b"block-sized key");
    let expected: [u8; 32] = reference.finalize().into_bytes().into();
    assert_eq!(hmac_sha256(&key, &[b"block-sized key"]), expected);
}

#[test]
fn hex_is_lower_case_and_two_digits_per_byte() {
    assert_eq!(hex_lower(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    assert_eq!(hex_lower(&[]), "");
}
