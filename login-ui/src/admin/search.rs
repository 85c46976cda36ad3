//! What the console's search pages (users, events, audit log) share: reading the
//! search form, dates, and the pager under the results.
use crate::form::Form;
use crate::settings::enc;
use http::StatusCode;

/// A search field, trimmed; `None` when absent or blank.
pub(crate) fn field(f: &Form, k: &str) -> Option<String> {
    f.get(k)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The field `k` as one of the values `parse` knows; another value is an error
/// naming it.
pub(crate) fn choice<T>(
    f: &Form,
    k: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, String> {
    field(f, k)
        .map(|v| parse(&v).ok_or_else(|| format!("unknown {k} `{v}`")))
        .transpose()
}

/// The search a form asked for, or (when the form has a mistake) `empty` with the
/// message to show and 400.
pub(crate) fn or_empty<Q>(
    parsed: Result<Q, String>,
    empty: impl FnOnce() -> Q,
) -> (Q, Option<String>, StatusCode) {
    match parsed {
        Ok(q) => (q, None, StatusCode::OK),
        Err(e) => (empty(), Some(e), StatusCode::BAD_REQUEST),
    }
}

/// `YYYY-MM-DD` as the Unix time of that day's start (UTC); `end` gives the last
/// second of the day instead.
fn day(s: &str, end: bool) -> Option<i64> {
    let t = humantime::parse_rfc3339(&format!("{}T00:00:00Z", s.trim())).ok()?;
    let start = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(if end { start + 86_399 } else { start })
}

/// The date field `k` (`YYYY-MM-DD`, the day's first second, or its last with
/// `end`), or a message saying what is wrong with it.
pub(crate) fn date(f: &Form, k: &str, end: bool) -> Result<Option<i64>, String> {
    match field(f, k) {
        None => Ok(None),
        Some(v) => day(&v, end)
            .map(Some)
            .ok_or_else(|| format!("`{v}` is not a date (YYYY-MM-DD)")),
    }
}

/// The page asked for (`page`), from 1 to `max`.
pub(crate) fn page_no(f: &Form, max: i64) -> i64 {
    f.get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .clamp(1, max)
}

/// `k1=v1&k2=v2…` of the form's fields `keys` as given (blank ones too), for
/// links that keep the search.
pub(crate) fn kept(f: &Form, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("{k}={}", enc(f.get(k).unwrap_or(""))))
        .collect::<Vec<_>>()
        .join("&")
}

/// Previous and next links under a page of results.
pub(crate) struct Pager {
    pub prev: Option<String>,
    pub next: Option<String>,
    pub page_no: i64,
    /// At least 1.
    pub pages_total: i64,
}

impl Pager {
    /// `search` is the page's URL with its search (the `page` parameter is added).
    pub(crate) fn new(search: &str, page_no: i64, total: i64, page_size: i64) -> Self {
        let pages_total = ((total + page_size - 1) / page_size).max(1);
        let link = |n: i64| format!("{search}&page={n}");
        Self {
            prev: (page_no > 1).then(|| link(page_no - 1)),
            next: (page_no < pages_total).then(|| link(page_no + 1)),
            page_no,
            pages_total,
        }
    }
}
