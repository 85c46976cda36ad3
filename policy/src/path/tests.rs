use super::*;
use crate::testutil::Rng;

fn norm(raw: &str) -> String {
    normalize_path(raw).into_owned()
}

#[test]
fn plain_paths_are_borrowed() {
    for p in [
        "/",
        "/admin",
        "/admin/",
        "/admin/x/y.html",
        "/a.b/c..d/e.",
        "/api/v1/users;jsessionid=1",
        "/日本語/ページ",
        "/a+b/c~d/@e",
    ] {
        assert!(
            matches!(normalize_path(p), Cow::Borrowed(s) if s == p),
            "{p}"
        );
    }
}

#[test]
fn paths_needing_work_are_owned() {
    for p in [
        "",
        "admin",
        "//a",
        "/./a",
        "/a/.",
        "/%41",
        "/a\\b",
        "/.well-known/x",
    ] {
        assert!(matches!(normalize_path(p), Cow::Owned(_)), "{p}");
    }
    // `/.well-known` takes the slow path but is unchanged.
    assert_eq!(norm("/.well-known/acme"), "/.well-known/acme");
}

#[test]
fn percent_decoding() {
    assert_eq!(norm("/%61dmin"), "/admin");
    assert_eq!(norm("/%41DMIN"), "/ADMIN");
    assert_eq!(norm("/admin%2Fsecret"), "/admin/secret");
    assert_eq!(norm("/admin%2fsecret"), "/admin/secret");
    assert_eq!(norm("/admin%5Csecret"), "/admin/secret");
    assert_eq!(norm("/a%20b"), "/a b");
    assert_eq!(norm("/%E6%97%A5"), "/日");
    // Decoded once only: `%2561` is the three characters `%61`.
    assert_eq!(norm("/%2561dmin"), "/%61dmin");
}

#[test]
fn invalid_escapes_are_kept() {
    assert_eq!(norm("/100%"), "/100%");
    assert_eq!(norm("/a%4"), "/a%4");
    assert_eq!(norm("/a%zz"), "/a%zz");
    assert_eq!(norm("/a%g1b"), "/a%g1b");
    assert_eq!(norm("/%%41"), "/%A");
}

#[test]
fn invalid_utf8_is_replaced() {
    assert_eq!(norm("/a%FFb"), "/a\u{FFFD}b");
    assert_eq!(norm("/%C3"), "/\u{FFFD}");
}

#[test]
fn slashes_and_dot_segments() {
    assert_eq!(norm("//admin"), "/admin");
    assert_eq!(norm("///admin//x"), "/admin/x");
    assert_eq!(norm("/admin\\x"), "/admin/x");
    assert_eq!(norm("\\admin"), "/admin");
    assert_eq!(norm("/./admin"), "/admin");
    assert_eq!(norm("/x/../admin"), "/admin");
    assert_eq!(norm("/x/y/../../admin"), "/admin");
    assert_eq!(norm("/../../admin"), "/admin");
    assert_eq!(norm("/%2e%2e/admin"), "/admin");
    assert_eq!(norm("/x/%2E%2E/admin"), "/admin");
    assert_eq!(norm("/x/.%2e/admin"), "/admin");
    assert_eq!(norm("/x%2F..%2Fadmin"), "/admin");
    assert_eq!(norm("/a/b/."), "/a/b/");
    assert_eq!(norm("/a/b/.."), "/a/");
    assert_eq!(norm("/a/.."), "/");
    assert_eq!(norm("/.."), "/");
    assert_eq!(norm("/a/b/"), "/a/b/");
    assert_eq!(norm("/a//"), "/a/");
    assert_eq!(norm("/..."), "/...");
    assert_eq!(norm("/a/.b/..c"), "/a/.b/..c");
}

#[test]
fn dot_segments_with_parameters() {
    assert_eq!(norm("/public/..;/admin"), "/admin");
    assert_eq!(norm("/public/..;x=1/admin"), "/admin");
    assert_eq!(norm("/./;x/admin"), "/;x/admin");
    assert_eq!(norm("/.;x/admin"), "/admin");
}

#[test]
fn relative_and_empty() {
    assert_eq!(norm(""), "/");
    assert_eq!(norm("admin"), "/admin");
    assert_eq!(norm("*"), "/*");
    assert_eq!(norm("/"), "/");
}

#[test]
fn case_is_kept() {
    assert_eq!(norm("/ADMIN"), "/ADMIN");
    assert_eq!(norm("//ADMIN"), "/ADMIN");
}

/// Paths built from characters that exercise every branch.
fn random_path(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "/", "/", "/", "a", "b", "admin", ".", "..", "\\", "%2F", "%2e", "%41", "%", "%4", "%zz",
        ";", "x;y", "%C3", "%A9", "é",
    ];
    let n = rng.below(10);
    (0..n).map(|_| rng.pick(PIECES)).collect()
}

#[test]
fn output_is_canonical() {
    let mut rng = Rng::new(7);
    for _ in 0..20_000 {
        let raw = random_path(&mut rng);
        let out = norm(&raw);
        assert!(out.starts_with('/'), "{raw:?} -> {out:?}");
        assert!(!out.contains("//"), "{raw:?} -> {out:?}");
        assert!(!out.contains('\\'), "{raw:?} -> {out:?}");
        for seg in out.split('/') {
            let bare = bare_segment(seg);
            assert!(bare != "." && bare != "..", "{raw:?} -> {out:?}");
        }
        // Without escapes left in it, the output is a fixed point and takes the fast path
        // unless it has a segment starting with a dot.
        if !out.contains('%') {
            assert_eq!(norm(&out), out, "{raw:?}");
        }
        // The fast path agrees with the slow one wherever it applies.
        if is_plain(&raw) {
            assert_eq!(normalize_slow(&raw), raw);
        }
    }
}
