use super::*;

#[test]
fn ports_are_stripped() {
    assert_eq!(host_only("app.example.com"), "app.example.com");
    assert_eq!(host_only("app.example.com:8443"), "app.example.com");
    assert_eq!(host_only("App.Example.COM:80"), "App.Example.COM");
    assert_eq!(host_only("app.example.com:"), "app.example.com");
    assert_eq!(host_only("10.0.0.1:8080"), "10.0.0.1");
    assert_eq!(host_only("[::1]:8080"), "[::1]");
    assert_eq!(host_only("[::1]"), "[::1]");
    assert_eq!(host_only("[2001:db8::1]:443"), "[2001:db8::1]");
    assert_eq!(host_only("::1"), "::1");
    assert_eq!(host_only("[::1"), "[::1");
    assert_eq!(host_only(""), "");
}

#[test]
fn one_trailing_dot_is_stripped() {
    assert_eq!(host_only("app.example.com."), "app.example.com");
    assert_eq!(host_only("app.example.com.:443"), "app.example.com");
    assert_eq!(host_only("app.example.com.."), "app.example.com.");
}

#[test]
fn lower_into_buffer() {
    let mut buf = [0u8; MAX_HOST];
    assert_eq!(
        lower_into("App.EXAMPLE.com", &mut buf),
        Some(&b"app.example.com"[..])
    );
    let long = "a".repeat(MAX_HOST + 1);
    assert_eq!(lower_into(&long, &mut buf), None);
    let fits = "A".repeat(MAX_HOST);
    assert_eq!(lower_into(&fits, &mut buf).map(<[u8]>::len), Some(MAX_HOST));
}

#[test]
fn patterns_compile_lower_case() {
    let p = HostPattern::compile("k", "App.Example.com").unwrap();
    assert_eq!(p.as_str(), "app.example.com");
    assert_eq!(p.suffix(), None);
    let p = HostPattern::compile("k", "*.Example.com.").unwrap();
    assert_eq!(p.as_str(), "*.example.com");
    assert_eq!(p.suffix(), Some("example.com"));
    assert!(HostPattern::compile("k", "[::1]").is_ok());
}

#[test]
fn bad_patterns_name_the_key() {
    for bad in ["", "*.", "a*.example.com", "app.example.com:8080", "a/b"] {
        let err = HostPattern::compile("rules[3].hosts[1]", bad).unwrap_err();
        assert_eq!(err.key, "rules[3].hosts[1]", "{bad}");
    }
}

#[test]
fn matching() {
    let exact = HostPattern::compile("k", "app.example.com").unwrap();
    assert!(exact.matches("app.example.com"));
    assert!(exact.matches("APP.example.COM"));
    assert!(!exact.matches("x.app.example.com"));
    let wild = HostPattern::compile("k", "*.example.com").unwrap();
    assert!(wild.matches("app.example.com"));
    assert!(wild.matches("a.b.Example.com"));
    assert!(!wild.matches("example.com"));
    assert!(!wild.matches(".example.com"));
    assert!(!wild.matches("badexample.com"));
}
