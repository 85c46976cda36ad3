//! The indexed evaluation equals a naive linear scan written straight from the rule
//! semantics, on hand-made and randomised rule sets.
use super::{rule, settings};
use crate::normalize_path;
use crate::testutil::Rng;
use crate::{Policy, RequestFacts, Subject};
use ipnet::IpNet;
use regex::Regex;
use sekisho_config::{host_pattern_matches, Action, HttpMethod, PolicySettings, RuleSettings};
use std::net::IpAddr;
use std::time::Duration;

/// What the naive matcher decides: `(action, rule position, needs_identity)`.
type Naive = (Action, Option<usize>, bool);

fn naive_host(raw: &str) -> &str {
    let h = if let Some(rest) = raw.strip_prefix('[') {
        match rest.find(']') {
            Some(end) => &raw[..end + 2],
            None => raw,
        }
    } else if raw.matches(':').count() == 1 {
        &raw[..raw.find(':').unwrap()]
    } else {
        raw
    };
    h.strip_suffix('.').unwrap_or(h)
}

/// Backtracking glob matcher: obviously right, exponential, fine for tiny inputs.
fn naive_glob(p: &[char], s: &[char]) -> bool {
    match p {
        [] => s.is_empty(),
        ['*', '*', rest @ ..] => (0..=s.len()).any(|k| naive_glob(rest, &s[k..])),
        ['*', rest @ ..] => (0..=s.len())
            .take_while(|&k| k == 0 || s[k - 1] != '/')
            .any(|k| naive_glob(rest, &s[k..])),
        ['?', rest @ ..] => !s.is_empty() && s[0] != '/' && naive_glob(rest, &s[1..]),
        [c, rest @ ..] => s.first() == Some(c) && naive_glob(rest, &s[1..]),
    }
}

fn naive_path(pattern: &str, path: &str) -> bool {
    if let Some(re) = pattern.strip_prefix("regex:") {
        thread_local! {
            static CACHE: std::cell::RefCell<std::collections::HashMap<String, Regex>> = Default::default();
        }
        return CACHE.with(|c| {
            c.borrow_mut()
                .entry(re.to_string())
                .or_insert_with(|| Regex::new(re).unwrap())
                .is_match(path)
        });
    }
    if pattern.contains(['*', '?']) {
        let p: Vec<char> = pattern.chars().collect();
        let s: Vec<char> = path.chars().collect();
        return naive_glob(&p, &s);
    }
    let base = pattern.strip_suffix('/').unwrap_or(pattern);
    path == base || path.starts_with(&format!("{base}/")) || path.starts_with(&format!("{base};"))
}

fn naive_net(net: &IpNet, ip: IpAddr) -> bool {
    let mapped = match ip {
        IpAddr::V4(a) => IpAddr::V6(a.to_ipv6_mapped()),
        IpAddr::V6(a) => a.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
    };
    net.contains(&ip) || net.contains(&mapped)
}

fn naive(st: &PolicySettings, r: &RequestFacts<'_>, subject: Option<&Subject<'_>>) -> Naive {
    let host = naive_host(r.host);
    let path = normalize_path(r.path);
    let method = HttpMethod::parse(r.method);
    for (pos, rule) in st.rules.iter().enumerate() {
        let host_ok =
            rule.hosts.is_empty() || rule.hosts.iter().any(|h| host_pattern_matches(h, host));
        let path_ok = rule.paths.is_empty() || rule.paths.iter().any(|p| naive_path(p, &path));
        let method_ok =
            rule.methods.is_empty() || method.is_some_and(|m| rule.methods.contains(&m));
        let net_ok =
            rule.networks.is_empty() || rule.networks.iter().any(|n| naive_net(n, r.client_ip));
        if !(host_ok && path_ok && method_ok && net_ok) {
            continue;
        }
        if rule.users.is_empty() && rule.groups.is_empty() {
            return (rule.action, Some(pos), false);
        }
        match subject {
            None => {
                let action = match rule.action {
                    Action::TwoFactor => Action::TwoFactor,
                    _ => Action::OneFactor,
                };
                return (action, Some(pos), true);
            }
            Some(s) => {
                if rule.users.iter().any(|u| u == s.user)
                    || s.groups.iter().any(|g| rule.groups.contains(g))
                {
                    return (rule.action, Some(pos), false);
                }
            }
        }
    }
    (st.default, None, false)
}

fn indexed(p: &Policy, r: &RequestFacts<'_>, subject: Option<&Subject<'_>>) -> Naive {
    let d = p.evaluate(r, subject);
    let pos = d.rule.map(|info| info.index);
    // Options follow the rule.
    match d.rule {
        Some(_) => {
            let rule = &p.rules[pos.unwrap()];
            assert_eq!(d.max_mfa_age, rule.max_mfa_age);
            assert_eq!(d.trusted_device, rule.trusted_device);
        }
        None => assert!(d.trusted_device && d.max_mfa_age.is_none()),
    }
    // explain reaches the same decision by a plain scan.
    let ex = p.explain(r, subject);
    assert_eq!(ex.decision, d.into(), "explain disagrees for {r:?}");
    (d.action, pos, d.needs_identity)
}

const HOST_PATTERNS: &[&str] = &[
    "a.example.com",
    "b.example.com",
    "x.a.example.com",
    "example.com",
    "*.example.com",
    "*.a.example.com",
    "other.org",
    "*.org",
    "10.0.0.1",
];
const REQUEST_HOSTS: &[&str] = &[
    "a.example.com",
    "A.Example.COM",
    "a.example.com:8080",
    "a.example.com.",
    "b.example.com",
    "x.a.example.com",
    "y.x.a.example.com",
    "example.com",
    "other.org",
    "www.other.org:443",
    "unknown.net",
    "10.0.0.1:80",
    "[::1]:8080",
    "",
];
const PATH_PATTERNS: &[&str] = &[
    "/",
    "/admin",
    "/admin/",
    "/api",
    "/api/v1",
    "/api/*/users",
    "/**/*.php",
    "/static/**",
    "/v?",
    "regex:^/api/v[0-9]+/",
    "regex:secret",
    "/admin;x",
    "regex:^/static/",
    "regex:^/ap+i",
    "regex:^/apis?/",
    "/a*/users",
];
const REQUEST_PATHS: &[&str] = &[
    "/",
    "/admin",
    "/admin/x",
    "/administrator",
    "/%61dmin",
    "//admin",
    "/x/../admin/y",
    "/api",
    "/api/v1",
    "/api/v1/users",
    "/api/v2/users/1",
    "/index.php",
    "/a/b/index.php",
    "/static/app.js",
    "/v1",
    "/v12",
    "/secret",
    "/admin;x",
    "/public/..;/admin",
    "/admin;x/y",
    "/static",
    "/aapi/users",
    "/appi/v1/users",
    "/v1/x",
    "/;x",
];
const METHODS: &[&str] = &["GET", "get", "POST", "DELETE", "PROPFIND"];
const IPS: &[&str] = &[
    "10.1.2.3",
    "::ffff:10.1.2.3",
    "192.168.1.1",
    "2001:db8::1",
    "8.8.8.8",
];
const NETS: &[&str] = &[
    "10.0.0.0/8",
    "192.168.0.0/16",
    "2001:db8::/32",
    "::ffff:8.8.0.0/112",
];
const USERS: &[&str] = &["alice@example.com", "bob@example.com"];
const GROUPS: &[&str] = &["admins", "ops", "staff"];

fn some<T: Copy>(rng: &mut Rng, pool: &[T], percent_empty: usize) -> Vec<T> {
    if rng.chance(percent_empty) {
        return vec![];
    }
    (0..1 + rng.below(2)).map(|_| rng.pick(pool)).collect()
}

fn random_rule(rng: &mut Rng, i: usize) -> RuleSettings {
    let actions = [
        Action::Bypass,
        Action::OneFactor,
        Action::TwoFactor,
        Action::Deny,
    ];
    RuleSettings {
        hosts: some(rng, HOST_PATTERNS, 40)
            .into_iter()
            .map(String::from)
            .collect(),
        paths: some(rng, PATH_PATTERNS, 30)
            .into_iter()
            .map(String::from)
            .collect(),
        methods: some(rng, &HttpMethod::ALL[..3], 70),
        networks: some(rng, NETS, 80)
            .into_iter()
            .map(|n| n.parse().unwrap())
            .collect(),
        users: some(rng, USERS, 85).into_iter().map(String::from).collect(),
        groups: some(rng, GROUPS, 85)
            .into_iter()
            .map(String::from)
            .collect(),
        max_mfa_age: rng
            .chance(20)
            .then(|| Duration::from_secs(60 * (1 + rng.below(30) as u64))),
        trusted_device: rng.chance(50),
        ..rule(&format!("r{i}"), rng.pick(&actions))
    }
}

fn check_all_requests(st: &PolicySettings, rng: &mut Rng, samples: usize) {
    let p = Policy::compile(st).unwrap();
    for _ in 0..samples {
        let r = RequestFacts {
            host: rng.pick(REQUEST_HOSTS),
            path: rng.pick(REQUEST_PATHS),
            method: rng.pick(METHODS),
            client_ip: rng.pick(IPS).parse().unwrap(),
        };
        let groups: Vec<String> = some(rng, GROUPS, 40)
            .into_iter()
            .map(String::from)
            .collect();
        let subject = Subject {
            user: rng.pick(USERS),
            groups: &groups,
        };
        for subj in [None, Some(&subject)] {
            assert_eq!(
                indexed(&p, &r, subj),
                naive(st, &r, subj),
                "request {r:?} subject {subj:?}"
            );
        }
    }
}

#[test]
fn random_rule_sets_agree_with_naive_scan() {
    let mut rng = Rng::new(2024);
    for round in 0..200 {
        let n = 1 + rng.below(if round % 10 == 0 { 200 } else { 25 });
        let rules = (0..n).map(|i| random_rule(&mut rng, i)).collect();
        let default = rng.pick(&[
            Action::Bypass,
            Action::OneFactor,
            Action::TwoFactor,
            Action::Deny,
        ]);
        let st = settings(default, rules);
        check_all_requests(&st, &mut rng, 60);
    }
}

#[test]
fn exhaustive_small_sets_agree_with_naive_scan() {
    // Every request against rule sets that mix each host pattern with each path pattern.
    let mut rules = Vec::new();
    for (i, h) in HOST_PATTERNS.iter().enumerate() {
        for (j, p) in PATH_PATTERNS.iter().enumerate() {
            if (i + j) % 3 == 0 {
                rules.push(RuleSettings {
                    hosts: vec![h.to_string()],
                    paths: vec![p.to_string()],
                    ..rule(&format!("{i}-{j}"), Action::OneFactor)
                });
            }
        }
        if i % 2 == 0 {
            rules.push(RuleSettings {
                paths: vec![PATH_PATTERNS[i].to_string()],
                ..rule(&format!("any-{i}"), Action::Bypass)
            });
        }
    }
    let st = settings(Action::Deny, rules);
    let p = Policy::compile(&st).unwrap();
    for host in REQUEST_HOSTS {
        for path in REQUEST_PATHS {
            for method in METHODS {
                let r = RequestFacts {
                    host,
                    path,
                    method,
                    client_ip: "10.1.2.3".parse().unwrap(),
                };
                assert_eq!(indexed(&p, &r, None), naive(&st, &r, None), "{r:?}");
            }
        }
    }
}

#[test]
fn wide_rule_sets_agree_with_naive_scan() {
    // Hundreds of distinct hosts, as in a large deployment.
    let mut rng = Rng::new(99);
    let mut rules = Vec::new();
    for i in 0..600 {
        let host = match i % 5 {
            0 => format!("*.s{}.example.com", i % 37),
            1 => String::new(),
            _ => format!("h{}.example.com", i % 113),
        };
        rules.push(RuleSettings {
            hosts: if host.is_empty() { vec![] } else { vec![host] },
            paths: vec![format!("/p{}", i % 7)],
            ..random_rule(&mut rng, i)
        });
    }
    let st = settings(Action::Deny, rules);
    let p = Policy::compile(&st).unwrap();
    for _ in 0..5_000 {
        let host = match rng.below(4) {
            0 => format!("x.s{}.example.com", rng.below(40)),
            1 => format!("H{}.Example.com:443", rng.below(120)),
            2 => format!("h{}.example.com", rng.below(120)),
            _ => "unknown.example.net".to_string(),
        };
        let path = format!("/p{}/x", rng.below(8));
        let r = RequestFacts {
            host: &host,
            path: &path,
            method: rng.pick(METHODS),
            client_ip: rng.pick(IPS).parse().unwrap(),
        };
        let groups = vec![rng.pick(GROUPS).to_string()];
        let subject = Subject {
            user: rng.pick(USERS),
            groups: &groups,
        };
        for subj in [None, Some(&subject)] {
            assert_eq!(indexed(&p, &r, subj), naive(&st, &r, subj), "{r:?}");
        }
    }
}
