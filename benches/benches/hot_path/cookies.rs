//! Cookie parsing as the proxy does it: finding the session cookie in a browser's
//! `Cookie` header, and removing Sekisho's own cookies before proxying.
use criterion::{BenchmarkId, Criterion};
use http::{header::COOKIE, HeaderMap, HeaderValue};
use sekisho_login_ui::cookies;
use std::hint::black_box;

const SESSION: &str = "sekisho_session=Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG8";

fn headers(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(COOKIE, HeaderValue::from_str(value).unwrap());
    h
}

pub fn bench(c: &mut Criterion) {
    let site = "_ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; theme=dark; lang=ja; cart=3f9a";
    let cases = [
        ("only_session", SESSION.to_string()),
        ("session_last_of_6", format!("{site}; {SESSION}")),
        ("session_first_of_6", format!("{SESSION}; {site}")),
        ("no_session_5", site.to_string()),
    ];
    let own = [
        "sekisho_session",
        "sekisho_csrf",
        "sekisho_browser",
        "sekisho_lang",
    ];
    let mut g = c.benchmark_group("cookies");
    for (name, value) in &cases {
        let h = headers(value);
        assert_eq!(
            cookies::find(&h, "sekisho_session").is_some(),
            value.contains(SESSION)
        );
        g.bench_with_input(BenchmarkId::new("find_session", name), &h, |b, h| {
            b.iter(|| cookies::find(black_box(h), "sekisho_session").map(str::len))
        });
        g.bench_with_input(BenchmarkId::new("strip_own", name), &h, |b, h| {
            b.iter(|| cookies::without(black_box(h), &own).map(|s| s.len()))
        });
    }
    g.finish();
}
