use super::*;

fn m(pattern: &str, path: &str) -> bool {
    PathPattern::compile(pattern).unwrap().is_match(path)
}

#[test]
fn prefix_stops_at_segment_boundary() {
    assert!(m("/admin", "/admin"));
    assert!(m("/admin", "/admin/"));
    assert!(m("/admin", "/admin/x/y"));
    assert!(m("/admin", "/admin;jsessionid=1"));
    assert!(!m("/admin", "/administrator"));
    assert!(!m("/admin", "/admi"));
    assert!(!m("/admin", "/x/admin"));
    assert!(!m("/admin", "/ADMIN"));
}

#[test]
fn trailing_slash_prefix_covers_the_directory() {
    assert!(m("/admin/", "/admin/"));
    assert!(m("/admin/", "/admin/x"));
    assert!(m("/admin/", "/admin"));
    assert!(!m("/admin/", "/administrator"));
    assert!(m("/a/b/", "/a/b/c/d"));
    assert!(!m("/a/b/", "/a/bc"));
}

#[test]
fn root_matches_everything() {
    for p in ["/", "/x", "/admin/y", "/;x"] {
        assert!(m("/", p), "{p}");
    }
}

#[test]
fn dotted_prefixes() {
    assert!(m("/.well-known", "/.well-known/acme-challenge/x"));
    assert!(m("/favicon.ico", "/favicon.ico"));
    assert!(!m("/favicon.ico", "/favicon.icon"));
}

#[test]
fn globs_and_regexes() {
    assert!(m("/api/*/admin", "/api/v2/admin"));
    assert!(!m("/api/*/admin", "/api/v2/admin/x"));
    assert!(m("/api/**", "/api/v2/admin/x"));
    assert!(m("/v?", "/v1"));
    assert!(m("regex:^/api/v[0-9]+/", "/api/v12/x"));
    assert!(!m("regex:^/api/v[0-9]+/", "/x/api/v12/x"));
    // A regex is searched, not anchored.
    assert!(m("regex:secret", "/a/b/secret/c"));
    assert!(m("regex:\\.php$", "/a/b.php"));
}

#[test]
fn bad_patterns_are_refused() {
    assert!(PathPattern::compile("regex:(unclosed")
        .unwrap_err()
        .contains("invalid regex"));
    assert!(PathPattern::compile("regex:")
        .unwrap_err()
        .contains("needs an expression"));
    assert!(PathPattern::compile("admin")
        .unwrap_err()
        .contains("must start with /"));
    assert!(PathPattern::compile("/a/***").unwrap_err().contains("***"));
    assert!(PathPattern::compile("/a/*.{png,jpg}")
        .unwrap_err()
        .contains("regex:"));
}

#[test]
fn unnormalised_patterns_are_refused() {
    for (bad, fix) in [
        ("/a//b", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/../b", "/b"),
        ("/%61dmin", "/admin"),
        ("/a\\b", "/a/b"),
        ("//*.php", "/*.php"),
    ] {
        let err = PathPattern::compile(bad).unwrap_err();
        assert!(err.contains(&format!("write `{fix}`")), "{bad}: {err}");
    }
    // Invalid escapes survive normalisation, so they are fine.
    assert!(m("/100%", "/100%"));
}

#[test]
fn regex_literal_prefixes_are_conservative() {
    for (re, prefix) in [
        ("^/api/v[0-9]+/", "/api/v"),
        ("^/api/", "/api/"),
        ("^/apis?/", "/api"),
        ("^/apis*/", "/api"),
        ("^/apis+/", "/api"),
        ("^/apis{0,2}/", "/api"),
        ("^/a\\.b", "/a"),
        ("^/a.b", "/a"),
        ("^/日本/x", "/日本/x"),
        ("^/日?/x", "/"),
        ("^/(a|b)", ""),
        ("^/a|^/b", ""),
        ("/api", ""),
        ("(?i)^/api", ""),
        ("^/a b", "/a"),
        ("^", ""),
    ] {
        assert_eq!(anchored_literal_prefix(re), prefix, "{re}");
    }
}

#[test]
fn segment_keys() {
    let key = |p: &str| {
        PathPattern::compile(p)
            .unwrap()
            .segment_key()
            .map(str::to_string)
    };
    assert_eq!(key("/admin"), Some("admin".into()));
    assert_eq!(key("/admin/"), Some("admin".into()));
    assert_eq!(key("/admin/x"), Some("admin".into()));
    assert_eq!(key("/admin;x"), Some("admin".into()));
    assert_eq!(key("/"), None);
    assert_eq!(key("/api/*/x"), Some("api".into()));
    assert_eq!(key("/api*"), None);
    assert_eq!(key("/*/x"), None);
    assert_eq!(key("/**"), None);
    assert_eq!(key("regex:^/api/v1"), Some("api".into()));
    assert_eq!(key("regex:^/api"), None);
    assert_eq!(key("regex:/api/"), None);
    assert_eq!(first_segment("/admin/x"), "admin");
    assert_eq!(first_segment("/admin;x/y"), "admin");
    assert_eq!(first_segment("/"), "");
    assert_eq!(first_segment("/a"), "a");
}
