use super::*;

#[test]
fn a_set_has_ten_distinct_codes() {
    let codes = generate_backup_codes();
    assert_eq!(codes.len(), BACKUP_CODE_COUNT);
    let distinct: std::collections::HashSet<&str> = codes.iter().map(|c| c.display()).collect();
    assert_eq!(distinct.len(), BACKUP_CODE_COUNT);
    let other_set = generate_backup_codes();
    assert!(other_set.iter().all(|c| !distinct.contains(c.display())));
}

#[test]
fn codes_are_four_groups_of_four_unambiguous_characters() {
    for code in generate_backup_codes() {
        let shown = code.display();
        let groups: Vec<&str> = shown.split('-').collect();
        assert_eq!(groups.len(), 4, "{shown}");
        assert!(groups.iter().all(|g| g.len() == 4), "{shown}");
        assert!(
            shown.bytes().all(|b| b == b'-' || ALPHABET.contains(&b)),
            "{shown}"
        );
        assert!(!shown.contains(['o', 'i', 'l', 'u']), "{shown}");
        assert_eq!(code.normalized().len(), 16);
        assert_eq!(normalize_backup_code(shown).unwrap(), code.normalized());
    }
}

#[test]
fn the_alphabet_has_32_distinct_symbols_so_a_code_carries_80_bits() {
    let distinct: std::collections::HashSet<u8> = ALPHABET.iter().copied().collect();
    assert_eq!(distinct.len(), 32);
    assert_eq!(RANDOM_BYTES * 8, 80);
    // Over many codes every symbol turns up at every position (uniform 5-bit symbols).
    let mut seen = vec![std::collections::HashSet::new(); 16];
    for _ in 0..100 {
        for code in generate_backup_codes() {
            for (position, b) in code.normalized().bytes().enumerate() {
                seen[position].insert(b);
            }
        }
    }
    for (position, symbols) in seen.iter().enumerate() {
        assert_eq!(symbols.len(), 32, "position {position}");
    }
}

#[test]
fn what_users_type_is_normalized() {
    let expected = "k7m29qxd4hpa3tcv";
    for typed in [
        "k7m2-9qxd-4hpa-3tcv",
        "K7M2-9QXD-4HPA-3TCV",
        "k7m29qxd4hpa3tcv",
        "  k7m2 9qxd 4hpa 3tcv\n",
        "k7m2 - 9qxd - 4hpa - 3tcv",
        "ｋ７ｍ２－９ｑｘｄ－４ｈｐａ－３ｔｃｖ",
        "k7m2\u{3000}9qxd\u{2010}4hpa\u{30FC}3tcv",
    ] {
        assert_eq!(
            normalize_backup_code(typed).as_deref().map(String::as_str),
            Some(expected),
            "{typed:?}"
        );
    }
    // Letters that look like digits are read as those digits.
    assert_eq!(
        normalize_backup_code("OIL0-1abc-defg-hjkm")
            .as_deref()
            .map(String::as_str),
        Some("01101abcdefghjkm")
    );
}

#[test]
fn anything_else_is_refused_without_panicking() {
    for bad in [
        "",
        "k7m2-9qxd-4hpa",
        "k7m2-9qxd-4hpa-3tcv-x",
        "k7m2-9qxd-4hpa-3tcu",
        "k7m2_9qxd_4hpa_3tcv",
        "関所関所-関所関所-関所関所-関所関所",
        "k7m2-9qxd-4hpa-3tc\u{301}",
        "\u{FFFF}\u{10FFFF}",
    ] {
        assert!(normalize_backup_code(bad).is_none(), "{bad:?}");
    }
    assert!(normalize_backup_code(&"k".repeat(100_000)).is_none());
}

#[test]
fn hashes_are_per_user_hex_sha256() {
    let code = "k7m29qxd4hpa3tcv";
    let alice = backup_code_hash("alice", code);
    assert_eq!(alice.len(), 64);
    assert!(alice.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(alice, backup_code_hash("alice", code));
    assert_ne!(alice, backup_code_hash("bob", code));
    assert_ne!(alice, backup_code_hash("alice", "k7m29qxd4hpa3tcw"));
    assert_eq!(
        alice,
        hex_lower(&Sha256::digest(b"v1\0alice\0k7m29qxd4hpa3tcv"))
    );
}

#[test]
fn debug_never_shows_the_code() {
    let codes = generate_backup_codes();
    let shown = format!("{codes:?}");
    assert!(shown.contains("BackupCode(<redacted>)"));
    assert!(codes.iter().all(|c| !shown.contains(c.display())));
}
