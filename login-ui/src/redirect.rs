//! Where sign-in may send the browser afterwards (`rd`). Only to a path on the same
//! host, or to an absolute http(s) URL on a configured site: never an open redirect.
use sekisho_config::Site;

const MAX_LEN: usize = 4096;

/// Returns the safe target for `raw`, or `None` when it must be refused.
pub fn safe_target(raw: &str, sites: &[Site]) -> Option<String> {
    if raw.is_empty()
        || raw.len() > MAX_LEN
        // Browsers drop tabs and newlines and read "\" as "/": refuse them outright.
        || raw.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    if raw.starts_with('/') {
        // "//host" and "/\host" are protocol-relative URLs to another host.
        return (!raw.starts_with("//")).then(|| raw.to_string());
    }
    let lower = raw.get(..8).unwrap_or(raw).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None; // "https:evil", "javascript:", "%2F%2Fevil", relative paths
    }
    let url = url::Url::parse(raw).ok()?;
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let host = url.host_str()?;
    sites
        .iter()
        .any(|s| s.matches(host))
        .then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites() -> Vec<Site> {
        vec![
            Site {
                host: "app.example.com".into(),
                upstreams: Vec::new(),
                scheme: None,
                pool: Default::default(),
            },
            Site {
                host: "*.corp.example".into(),
                upstreams: Vec::new(),
                scheme: None,
                pool: Default::default(),
            },
        ]
    }

    #[test]
    fn accepts_local_paths_and_configured_hosts() {
        let s = sites();
        assert_eq!(
            safe_target("/members?x=1", &s).as_deref(),
            Some("/members?x=1")
        );
        assert_eq!(
            safe_target("https://app.example.com/a?b=c", &s).as_deref(),
            Some("https://app.example.com/a?b=c")
        );
        assert_eq!(
            safe_target("http://APP.example.com:8080/", &s).as_deref(),
            Some("http://app.example.com:8080/")
        );
        assert!(safe_target("https://wiki.corp.example/x", &s).is_some());
    }

    #[test]
    fn refuses_open_redirects() {
        let s = sites();
        for bad in [
            "",
            "//evil.com",
            "//evil.com/path",
            "/\\evil.com",
            "\\\\evil.com",
            "https:evil.com",
            "https:/evil.com",
            "http:\\\\evil.com",
            "https://evil.com",
            "https://app.example.com.evil.com/",
            "https://evil.com#@app.example.com",
            "https://app.example.com@evil.com/",
            "https://user:pw@app.example.com/",
            "javascript:alert(1)",
            "data:text/html,x",
            "%2F%2Fevil.com",
            "%2f%2fevil.com",
            "/%09/evil.com\t",
            "/\t/evil.com",
            "/\n/evil.com",
            " //evil.com",
            "evil.com",
            "ftp://app.example.com/",
            "https://corp.example/",
        ] {
            assert_eq!(safe_target(bad, &s), None, "{bad:?} must be refused");
        }
        assert_eq!(safe_target(&format!("/{}", "a".repeat(5000)), &s), None);
    }
}
