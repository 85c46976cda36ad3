//! CSRF defence for every form: a random cookie plus a form token that is the HMAC of
//! that cookie under the server key (so a token cannot be minted without the key),
//! and a check that `Origin` (or `Referer`) is this very site.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

/// The cookie carrying the CSRF nonce.
pub const CSRF_COOKIE: &str = "sekisho_csrf";

type HmacSha256 = Hmac<Sha256>;

/// The form token for a nonce.
pub fn token_for(key: &[u8], nonce: &str) -> String {
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(b"sekisho-csrf-v1:");
            mac.update(nonce.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => String::new(),
    }
}

/// Constant-time check of a submitted token against the nonce cookie.
pub fn verify(key: &[u8], nonce: Option<&str>, token: Option<&str>) -> bool {
    let (Some(nonce), Some(token)) = (nonce, token) else {
        return false;
    };
    if nonce.len() < 20 {
        return false;
    }
    let expected = token_for(key, nonce);
    !expected.is_empty() && sekisho_auth::constant_time_eq(expected.as_bytes(), token.as_bytes())
}

/// A form post must come from this origin. Browsers send `Origin` on POST; when it is
/// absent (old browsers, privacy settings) a `Referer` is checked instead; when both
/// are absent the CSRF token alone decides.
pub fn same_origin(headers: &HeaderMap, scheme: &str, host: &str) -> bool {
    let expected_matches = |value: &str| match url::Url::parse(value) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            u.scheme() == scheme
                && format!("{}{}", u.host_str().unwrap_or(""), port).eq_ignore_ascii_case(host)
        }
        Err(_) => false,
    };
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        return origin
            .to_str()
            .is_ok_and(|o| o != "null" && expected_matches(o));
    }
    if let Some(referer) = headers.get(http::header::REFERER) {
        return referer.to_str().is_ok_and(expected_matches);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn tokens_bind_to_key_and_nonce() {
        let key = [7u8; 32];
        let nonce = "n".repeat(43);
        let t = token_for(&key, &nonce);
        assert!(verify(&key, Some(&nonce), Some(&t)));
        assert!(!verify(&[8u8; 32], Some(&nonce), Some(&t)));
        assert!(!verify(&key, Some(&"m".repeat(43)), Some(&t)));
        assert!(!verify(&key, None, Some(&t)));
        assert!(!verify(&key, Some(&nonce), None));
        assert!(!verify(
            &key,
            Some("short"),
            Some(&token_for(&key, "short"))
        ));
    }

    fn h(name: http::header::HeaderName, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn origin_check() {
        use http::header::{ORIGIN, REFERER};
        assert!(same_origin(
            &h(ORIGIN, "http://app.test:8080"),
            "http",
            "app.test:8080"
        ));
        assert!(!same_origin(
            &h(ORIGIN, "http://evil.test"),
            "http",
            "app.test:8080"
        ));
        assert!(!same_origin(
            &h(ORIGIN, "https://app.test:8080"),
            "http",
            "app.test:8080"
        ));
        assert!(!same_origin(&h(ORIGIN, "null"), "http", "app.test"));
        assert!(same_origin(
            &h(REFERER, "http://app.test/_sekisho/login?rd=x"),
            "http",
            "app.test"
        ));
        assert!(!same_origin(
            &h(REFERER, "http://evil.test/"),
            "http",
            "app.test"
        ));
        assert!(same_origin(&HeaderMap::new(), "http", "app.test"));
    }
}
