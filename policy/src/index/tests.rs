use super::*;
use crate::testutil::{compiled, compiled_with_paths};

fn positions(c: Candidates<'_>) -> Vec<(usize, bool)> {
    c.collect()
}

#[test]
fn merges_buckets_in_rule_order_without_duplicates() {
    // 0: any host, 1: exact, 2: wildcard, 3: exact + wildcard (same host twice), 4: other host
    let rules = compiled(&[
        &[],
        &["app.example.com"],
        &["*.example.com"],
        &["app.example.com", "*.example.com", "APP.example.com"],
        &["other.example.org"],
    ]);
    let idx = RuleIndex::build(&rules);
    let got: Vec<usize> = positions(idx.candidates("App.Example.com", "/"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(got, vec![0, 1, 2, 3]);
    assert!(positions(idx.candidates("app.example.com", "/"))
        .iter()
        .all(|&(_, known)| known));
    let got: Vec<usize> = positions(idx.candidates("web.example.com", "/"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(got, vec![0, 2, 3]);
    let got: Vec<usize> = positions(idx.candidates("nowhere.net", "/"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(got, vec![0]);
    let got: Vec<usize> = positions(idx.candidates("", "/"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(got, vec![0]);
}

#[test]
fn wildcard_needs_a_label_before_the_suffix() {
    let rules = compiled(&[&["*.example.com"]]);
    let idx = RuleIndex::build(&rules);
    assert_eq!(positions(idx.candidates("example.com", "/")), vec![]);
    assert_eq!(positions(idx.candidates(".example.com", "/")), vec![]);
    assert_eq!(
        positions(idx.candidates("a.b.example.com", "/")),
        vec![(0, true)]
    );
}

#[test]
fn long_hosts_scan_every_rule() {
    let rules = compiled(&[&["a.example.com"], &[]]);
    let idx = RuleIndex::build(&rules);
    let long = "x".repeat(MAX_HOST + 1);
    assert_eq!(
        positions(idx.candidates(&long, "/")),
        vec![(0, false), (1, false)]
    );
}

#[test]
fn too_many_wildcard_buckets_scan_every_rule() {
    let host = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t";
    let labels: Vec<&str> = host.split('.').collect();
    let patterns: Vec<String> = (1..labels.len())
        .map(|k| format!("*.{}", labels[k..].join(".")))
        .collect();
    let lists: Vec<Vec<&str>> = patterns.iter().map(|p| vec![p.as_str()]).collect();
    let refs: Vec<&[&str]> = lists.iter().map(Vec::as_slice).collect();
    let rules = compiled(&refs);
    let idx = RuleIndex::build(&rules);
    let got = positions(idx.candidates(host, "/"));
    assert_eq!(got.len(), rules.len());
    assert!(got.iter().all(|&(_, known)| !known));
    // A shorter host within the limit is merged.
    assert!(matches!(
        idx.candidates("x.p.q.r.s.t", "/"),
        Candidates::Merged(_)
    ));
}

#[test]
fn key_hasher_spreads_keys() {
    use std::hash::BuildHasher;
    let b = BuildHasherDefault::<KeyHasher>::default();
    let keys = [
        "a.example.com",
        "b.example.com",
        "a.example.co",
        "example.com",
        "",
        "a",
    ];
    let mut hashes: Vec<u64> = keys.iter().map(|k| b.hash_one(k.as_bytes())).collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), keys.len());
}

fn order(idx: &RuleIndex, host: &str, path: &str) -> Vec<usize> {
    idx.candidates(host, path).map(|(p, _)| p).collect()
}

#[test]
fn rules_are_filed_by_first_segment() {
    let rules = compiled_with_paths(&[
        (&[], &["/healthz"]),                          // 0: any host, segment healthz
        (&[], &["/**/.git/**"]),                       // 1: any host, any segment
        (&["app.example.com"], &["/admin", "/adm/x"]), // 2: exact, admin + adm
        (&["app.example.com"], &["/api/*/internal"]),  // 3: exact, api
        (&["app.example.com"], &["regex:^/api/v1/"]),  // 4: exact, api
        (&["app.example.com"], &["regex:/api/"]),      // 5: exact, any segment
        (&["app.example.com"], &["/"]),                // 6: exact, any segment
        (&["*.example.com"], &["/admin;x"]),           // 7: wildcard, admin
        (&["app.example.com"], &["/admin", "/*"]),     // 8: exact, any segment
    ]);
    let idx = RuleIndex::build(&rules);
    assert_eq!(
        order(&idx, "app.example.com", "/admin/users"),
        vec![1, 2, 5, 6, 7, 8]
    );
    assert_eq!(
        order(&idx, "app.example.com", "/admin;jsessionid=1"),
        vec![1, 2, 5, 6, 7, 8]
    );
    assert_eq!(
        order(&idx, "app.example.com", "/api/v1/x"),
        vec![1, 3, 4, 5, 6, 8]
    );
    assert_eq!(
        order(&idx, "app.example.com", "/healthz"),
        vec![0, 1, 5, 6, 8]
    );
    assert_eq!(order(&idx, "app.example.com", "/"), vec![1, 5, 6, 8]);
    assert_eq!(order(&idx, "web.example.com", "/admin"), vec![1, 7]);
    assert_eq!(order(&idx, "other.org", "/adm"), vec![1]);
}
