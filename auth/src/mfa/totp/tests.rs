use super::*;
use std::process::Command;

const RFC_SEED: &[u8] = b"12345678901234567890";

fn rfc_secret() -> TotpSecret {
    TotpSecret::from_bytes(RFC_SEED.to_vec()).unwrap()
}

fn eight_digits() -> TotpParams {
    TotpParams {
        digits: 8,
        ..TotpParams::default()
    }
}

#[test]
fn rfc_6238_appendix_b_sha1_vectors() {
    let vectors: [(UnixTime, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];
    let secret = rfc_secret();
    let params = eight_digits();
    for (time, expected) in vectors {
        assert_eq!(
            totp_code_at(&secret, time, &params).as_str(),
            expected,
            "T = {time}"
        );
        assert_eq!(
            verify_totp(&secret, expected, time, &params),
            TotpCheck::Valid { step: time / 30 },
            "T = {time}"
        );
    }
}

#[test]
fn six_digit_codes_are_the_last_six_digits_zero_padded() {
    let secret = rfc_secret();
    // 07081804 in eight digits: six digits keep the leading zero of 081804.
    let code = totp_code_at(&secret, 1_111_111_109, &TotpParams::default());
    assert_eq!(code.as_str(), "081804");
}

#[test]
fn codes_one_step_either_side_are_accepted_with_their_own_step() {
    let secret = TotpSecret::generate();
    let params = TotpParams::default();
    let now = 1_700_000_015;
    let current = now / 30;
    for (offset, step) in [(0, current), (-30, current - 1), (30, current + 1)] {
        let code = totp_code_at(&secret, now + offset, &params);
        assert_eq!(
            verify_totp(&secret, &code, now, &params),
            TotpCheck::Valid { step },
            "offset {offset}s"
        );
    }
}

#[test]
fn codes_two_or_more_steps_away_are_drift_with_the_device_clock_sign() {
    let secret = TotpSecret::generate();
    let params = TotpParams::default();
    let now = 1_700_000_015;
    // The device computed its code 2 steps in the past: its clock is behind.
    let behind = totp_code_at(&secret, now - 60, &params);
    assert_eq!(
        verify_totp(&secret, &behind, now, &params),
        TotpCheck::Drift { offset_steps: -2 }
    );
    let ahead = totp_code_at(&secret, now + 60, &params);
    assert_eq!(
        verify_totp(&secret, &ahead, now, &params),
        TotpCheck::Drift { offset_steps: 2 }
    );
    // The edge of the drift window is still drift.
    let far_behind = totp_code_at(&secret, now - 300, &params);
    assert_eq!(
        verify_totp(&secret, &far_behind, now, &params),
        TotpCheck::Drift { offset_steps: -10 }
    );
}

#[test]
fn codes_beyond_the_drift_window_are_invalid() {
    let secret = TotpSecret::generate();
    let params = TotpParams::default();
    let now = 1_700_000_015;
    for offset in [-330, 330, -3600, 86_400] {
        let code = totp_code_at(&secret, now + offset, &params);
        assert_eq!(
            verify_totp(&secret, &code, now, &params),
            TotpCheck::Invalid,
            "offset {offset}s"
        );
    }
}

#[test]
fn separators_are_ignored_but_other_characters_are_malformed() {
    let secret = rfc_secret();
    let params = TotpParams::default();
    let now = 1_111_111_109;
    for typed in ["081 804", " 081-804 ", "081\u{3000}804"] {
        assert_eq!(
            verify_totp(&secret, typed, now, &params),
            TotpCheck::Valid { step: now / 30 },
            "{typed:?}"
        );
    }
    for bad in [
        "",
        "abcdef",
        "12a456",
        "12345",
        "1234567",
        "１２３４５６",
        "08180４",
        "+81804",
    ] {
        assert_eq!(
            verify_totp(&secret, bad, now, &params),
            TotpCheck::Malformed,
            "{bad:?}"
        );
    }
}

#[test]
fn negative_time_and_unsupported_parameters_never_verify() {
    let secret = rfc_secret();
    let params = TotpParams::default();
    let code = totp_code_at(&secret, 59, &params);
    assert_eq!(verify_totp(&secret, &code, -1, &params), TotpCheck::Invalid);
    assert!(totp_code_at(&secret, -30, &params).is_empty());

    for bad in [
        TotpParams {
            digits: 5,
            ..params
        },
        TotpParams {
            digits: 10,
            ..params
        },
        TotpParams {
            step_secs: 0,
            ..params
        },
        TotpParams {
            drift_window: u32::MAX,
            ..params
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
        assert!(totp_code_at(&secret, 59, &bad).is_empty(), "{bad:?}");
    }
    let wide = TotpParams {
        drift_window: u32::MAX,
        ..params
    };
    assert_eq!(verify_totp(&secret, &code, 59, &wide), TotpCheck::Invalid);
    assert!(params.validate().is_ok());
}

#[test]
fn time_near_the_end_of_i64_does_not_overflow() {
    let secret = rfc_secret();
    let params = TotpParams {
        step_secs: 1,
        ..TotpParams::default()
    };
    // Every later candidate step overflows and must be skipped, not wrap or panic.
    let code = totp_code_at(&secret, i64::MAX, &params);
    assert_eq!(code.len(), 6);
    assert_eq!(
        verify_totp(&secret, &code, i64::MAX, &params),
        TotpCheck::Valid { step: i64::MAX }
    );
}

#[test]
fn secrets_shorter_than_160_bits_are_refused() {
    assert!(matches!(
        TotpSecret::from_bytes(vec![7; 19]),
        Err(AuthError::Invalid(_))
    ));
    assert!(TotpSecret::from_bytes(vec![7; 20]).is_ok());
    assert!(TotpSecret::from_bytes(vec![7; 64]).is_ok());
    assert_eq!(
        TotpSecret::generate().expose_bytes().len(),
        TotpSecret::GENERATED_LEN
    );
    assert_ne!(
        TotpSecret::generate().expose_bytes(),
        TotpSecret::generate().expose_bytes()
    );
}

#[test]
fn base32_is_rfc_4648_upper_case_without_padding_and_round_trips() {
    assert_eq!(
        rfc_secret().to_base32().as_str(),
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    );
    assert_eq!(
        rfc_secret().grouped_base32().as_str(),
        "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
    );
    let secret = TotpSecret::generate();
    let encoded = secret.to_base32();
    assert_eq!(encoded.len(), 32);
    assert!(!encoded.contains('='));
    let decoded = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &encoded).unwrap();
    assert_eq!(decoded, secret.expose_bytes());
    let grouped: String = secret
        .grouped_base32()
        .chars()
        .filter(|c| *c != ' ')
        .collect();
    assert_eq!(grouped, *encoded);
    // A 21-byte secret ends in a short group and still round-trips.
    let odd = TotpSecret::from_bytes((0..21).collect()).unwrap();
    assert!(odd
        .grouped_base32()
        .split(' ')
        .all(|g| (1..=4).contains(&g.len())));
}

#[test]
fn otpauth_uri_parses_back_with_every_field() {
    let secret = rfc_secret();
    let uri = secret.otpauth_uri(
        "ACME: Prod",
        "alice smith@example.com",
        &TotpParams::default(),
    );
    let parsed = url::Url::parse(&uri).unwrap();
    assert_eq!(parsed.scheme(), "otpauth");
    assert_eq!(parsed.host_str(), Some("totp"));
    assert!(!uri.contains(' ') && !uri.contains('+'), "{}", uri.as_str());

    let label = percent_encoding::percent_decode_str(parsed.path().trim_start_matches('/'))
        .decode_utf8()
        .unwrap()
        .into_owned();
    assert_eq!(label, "ACME: Prod:alice smith@example.com");
    // The issuer's own ':' is encoded, so the raw label has exactly one separator.
    let raw_label = parsed.path().trim_start_matches('/');
    assert_eq!(raw_label, "ACME%3A%20Prod:alice%20smith%40example.com");

    let query: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert_eq!(query["secret"], "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_eq!(query["issuer"], "ACME: Prod");
    assert_eq!(query["algorithm"], "SHA1");
    assert_eq!(query["digits"], "6");
    assert_eq!(query["period"], "30");
    assert!(parsed.query().unwrap().contains("issuer=ACME%3A%20Prod"));
}

#[test]
fn otpauth_uri_without_issuer_has_the_account_as_label() {
    let uri = rfc_secret().otpauth_uri("", "関所 ユーザー", &eight_digits());
    let parsed = url::Url::parse(&uri).unwrap();
    let label = percent_encoding::percent_decode_str(parsed.path().trim_start_matches('/'))
        .decode_utf8()
        .unwrap()
        .into_owned();
    assert_eq!(label, "関所 ユーザー");
    let query: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert!(!query.contains_key("issuer"));
    assert_eq!(query["digits"], "8");
}

#[test]
fn debug_never_shows_the_secret() {
    let secret = rfc_secret();
    let shown = format!("{secret:?}");
    assert_eq!(shown, "TotpSecret(<redacted>)");
    assert!(!shown.contains("GEZD") && !shown.contains("1234"));
}

#[test]
fn drift_minutes_rounds_to_the_nearest_minute_and_keeps_the_sign() {
    let params = TotpParams::default();
    assert_eq!(drift_minutes(0, &params), 0);
    assert_eq!(drift_minutes(2, &params), 1);
    assert_eq!(drift_minutes(-2, &params), -1);
    assert_eq!(drift_minutes(3, &params), 2);
    assert_eq!(drift_minutes(-3, &params), -2);
    assert_eq!(drift_minutes(10, &params), 5);
    assert_eq!(drift_minutes(-10, &params), -5);
    assert_eq!(
        drift_minutes(
            1,
            &TotpParams {
                step_secs: 60,
                ..params
            }
        ),
        1
    );
    assert!(drift_minutes(i64::MIN, &params) < 0);
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time (Howard Hinnant's days-to-civil algorithm).
fn utc_datetime(t: UnixTime) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[test]
fn utc_datetime_formats_known_instants() {
    assert_eq!(utc_datetime(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(utc_datetime(1_234_567_890), "2009-02-13 23:31:30 UTC");
    assert_eq!(utc_datetime(951_782_400), "2000-02-29 00:00:00 UTC");
}

fn oathtool_code(base32: &str, at: UnixTime, digits: u32) -> String {
    let output = Command::new("oathtool")
        .args(["--totp", "-b", "--digits", &digits.to_string(), "--now"])
        .arg(utc_datetime(at))
        .arg(base32)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run oathtool ({e}); it is the independent TOTP implementation these \
                 tests check against: run scripts/install-deps.sh to install it"
            )
        });
    assert!(
        output.status.success(),
        "oathtool failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn codes_match_oathtool() {
    let secret = TotpSecret::generate();
    let base32 = secret.to_base32();
    let times: [UnixTime; 6] = [
        0,
        59,
        1_234_567_890,
        1_700_000_029,
        1_700_000_030,
        4_102_444_799,
    ];
    for digits in [6, 8] {
        let params = TotpParams {
            digits,
            ..TotpParams::default()
        };
        for at in times {
            let theirs = oathtool_code(&base32, at, digits);
            assert_eq!(theirs.len(), digits as usize);
            assert_eq!(
                totp_code_at(&secret, at, &params).as_str(),
                theirs,
                "{digits} digits at {at}"
            );
            assert_eq!(
                verify_totp(&secret, &theirs, at, &params),
                TotpCheck::Valid { step: at / 30 },
                "{digits} digits at {at}"
            );
        }
    }
}
