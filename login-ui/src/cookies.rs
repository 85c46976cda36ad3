//! Reading and filtering `Cookie` headers without the `cookie` crate's allocations:
//! the proxy calls these on every request.
use http::HeaderMap;

/// The value of the first cookie called `name`, borrowed from the headers.
pub fn find<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

/// The `Cookie` header with the named cookies removed, or `None` when none of them
/// was present (the caller then leaves the header alone). An empty string means
/// every cookie was removed.
pub fn without(headers: &HeaderMap, names: &[&str]) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let is_ours = |pair: &str| {
        let k = pair.split_once('=').map_or(pair, |(k, _)| k).trim();
        names.contains(&k)
    };
    if !values.iter().flat_map(|v| v.split(';')).any(is_ours) {
        return None;
    }
    let kept: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|p| !p.is_empty() && !is_ours(p))
        .collect();
    Some(kept.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for v in values {
            m.append(http::header::COOKIE, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn finds_across_headers() {
        let h = headers(&["a=1; sid=xyz", "b=2"]);
        assert_eq!(find(&h, "sid"), Some("xyz"));
        assert_eq!(find(&h, "b"), Some("2"));
        assert_eq!(find(&h, "s"), None);
        assert_eq!(find(&headers(&["sid"]), "sid"), None);
        assert_eq!(find(&headers(&["x=\"q\""]), "x"), Some("q"));
    }

    #[test]
    fn strips_only_named() {
        let h = headers(&["a=1; sid=xyz; b=2", "sid=other; c=3"]);
        assert_eq!(without(&h, &["sid"]).as_deref(), Some("a=1; b=2; c=3"));
        assert_eq!(without(&h, &["zzz"]), None);
        assert_eq!(without(&headers(&["sid=1"]), &["sid"]).as_deref(), Some(""));
    }
}
