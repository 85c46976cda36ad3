use super::*;

#[test]
fn codes_have_the_requested_number_of_ascii_digits() {
    for digits in [4, 6, 8, 10, 18] {
        for _ in 0..50 {
            let code = generate_numeric_code(digits);
            assert_eq!(code.expose().len(), digits as usize);
            assert!(
                code.expose().bytes().all(|b| b.is_ascii_digit()),
                "{}",
                code.expose()
            );
        }
    }
    assert_eq!(generate_numeric_code(0).expose().len(), 1);
    assert_eq!(generate_numeric_code(u32::MAX).expose().len(), 18);
}

#[test]
fn codes_are_spread_over_every_digit_and_position() {
    let codes: Vec<OneTimeCode> = (0..1000).map(|_| generate_numeric_code(6)).collect();
    let mut seen = [[0u32; 10]; 6];
    for code in &codes {
        for (position, b) in code.expose().bytes().enumerate() {
            seen[position][usize::from(b - b'0')] += 1;
        }
    }
    // 1000 draws of a uniform digit: each value about 100 times per position; a count
    // outside 40..=180 has odds far below one in a billion.
    for (position, counts) in seen.iter().enumerate() {
        for (digit, count) in counts.iter().enumerate() {
            assert!(
                (40..=180).contains(count),
                "digit {digit} at {position}: {count}"
            );
        }
    }
    let distinct: std::collections::HashSet<&str> = codes.iter().map(|c| c.expose()).collect();
    assert!(distinct.len() > 990, "{} distinct codes", distinct.len());
    // Leading zeros are kept: about a tenth of the codes start with one.
    assert!(seen[0][0] > 0);
}

#[test]
fn mac_depends_on_key_context_and_code() {
    let base = otp_mac(b"server key", "challenge-1", "123456");
    assert_eq!(base, otp_mac(b"server key", "challenge-1", "123456"));
    assert_ne!(base, otp_mac(b"other key", "challenge-1", "123456"));
    assert_ne!(base, otp_mac(b"server key", "challenge-2", "123456"));
    assert_ne!(base, otp_mac(b"server key", "challenge-1", "123457"));
    // The separator keeps context and code apart.
    assert_ne!(otp_mac(b"k", "ab", "1"), otp_mac(b"k", "a", "b1"));
    assert_eq!(
        base,
        hmac_sha256(b"server key", &[b"v1\0challenge-1\x00123456"])
    );
}

#[test]
fn typed_codes_are_normalized_or_refused() {
    for (typed, digits, expected) in [
        ("123456", 6, "123456"),
        (" 123 456 ", 6, "123456"),
        ("123-456", 6, "123456"),
        ("123\u{3000}456", 6, "123456"),
        ("12345678", 8, "12345678"),
    ] {
        assert_eq!(
            normalize_numeric_code(typed, digits).as_deref(),
            Some(expected),
            "{typed:?}"
        );
    }
    for bad in [
        "",
        "12345",
        "1234567",
        "12a456",
        "１２３４５６",
        "+12345",
        "12.456",
        "١٢٣٤٥٦",
    ] {
        assert_eq!(normalize_numeric_code(bad, 6), None, "{bad:?}");
    }
    assert_eq!(normalize_numeric_code("", 0), None);
    assert_eq!(normalize_numeric_code(&"1".repeat(10_000), 6), None);
}

#[test]
fn debug_never_shows_the_code() {
    let code = generate_numeric_code(6);
    let shown = format!("{code:?}");
    assert_eq!(shown, "OneTimeCode(<redacted>)");
    assert!(!shown.contains(code.expose()));
}
