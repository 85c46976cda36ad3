#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Policy evaluation cost at 10 / 100 / 1,000 rules (budget: ≤ 1 µs at 1,000 rules).
//!
//! The rule sets look like a real deployment: a few site-wide rules without hosts
//! (health checks, ACME, dotfiles), then per-site rules on distinct hosts (static
//! assets, an admin area for a group with step-up MFA, an internal API for a network,
//! webhooks for POST, the site root), and some `*.suffix` wildcard sites.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use sekisho_config::{Action, HttpMethod, PolicySettings, RuleSettings};
use sekisho_policy::{Policy, RequestFacts, Subject};
use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

fn rule(index: usize, action: Action) -> RuleSettings {
    RuleSettings {
        name: format!("rule-{index}"),
        index,
        hosts: vec![],
        paths: vec![],
        methods: vec![],
        networks: vec![],
        groups: vec![],
        users: vec![],
        action,
        max_mfa_age: None,
        trusted_device: true,
        mfa_methods: sekisho_config::FactorSet::ALL,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Five rules per site: the site's host is `site{n}.example.com`, or a wildcard
/// `*.team{n}.example.com` for every tenth site.
fn site_rules(site: usize, first_index: usize, with_hosts: bool) -> Vec<RuleSettings> {
    let host = if site % 10 == 9 {
        format!("*.team{site}.example.com")
    } else {
        format!("site{site}.example.com")
    };
    let hosts = if with_hosts { vec![host] } else { vec![] };
    let prefix = if with_hosts {
        String::new()
    } else {
        format!("/site{site}")
    };
    let i = first_index;
    vec![
        RuleSettings {
            hosts: hosts.clone(),
            paths: vec![format!("{prefix}/static"), format!("{prefix}/favicon.ico")],
            methods: vec![HttpMethod::Get, HttpMethod::Head],
            ..rule(i, Action::Bypass)
        },
        RuleSettings {
            hosts: hosts.clone(),
            paths: vec![format!("{prefix}/admin")],
            groups: strings(&["admins", "secadmin"]),
            max_mfa_age: Some(Duration::from_secs(900)),
            trusted_device: false,
            ..rule(i + 1, Action::TwoFactor)
        },
        RuleSettings {
            hosts: hosts.clone(),
            paths: vec![format!("{prefix}/api/*/internal/**")],
            networks: vec![
                "10.0.0.0/8".parse().unwrap(),
                "192.168.0.0/16".parse().unwrap(),
            ],
            ..rule(i + 2, Action::Bypass)
        },
        RuleSettings {
            hosts: hosts.clone(),
            paths: vec![format!("regex:^{prefix}/hooks/[a-z]+$")],
            methods: vec![HttpMethod::Post],
            ..rule(i + 3, Action::Bypass)
        },
        RuleSettings {
            hosts,
            paths: vec![format!("{prefix}/")],
            ..rule(i + 4, Action::OneFactor)
        },
    ]
}

/// `n` rules: five site-wide ones, then sites until `n` is reached.
fn policy(n: usize, with_hosts: bool) -> Policy {
    let mut rules = vec![
        RuleSettings {
            paths: strings(&["/healthz", "/readyz"]),
            ..rule(0, Action::Bypass)
        },
        RuleSettings {
            paths: strings(&["/.well-known/acme-challenge"]),
            ..rule(1, Action::Bypass)
        },
        RuleSettings {
            paths: strings(&["/**/.git/**", "/**/.env"]),
            ..rule(2, Action::Deny)
        },
        RuleSettings {
            paths: strings(&["regex:\\.(bak|old|swp)$"]),
            ..rule(3, Action::Deny)
        },
        RuleSettings {
            networks: vec!["198.51.100.0/24".parse().unwrap()],
            ..rule(4, Action::Deny)
        },
    ];
    let mut site = 0;
    while rules.len() < n {
        let first = rules.len();
        rules.extend(site_rules(site, first, with_hosts));
        site += 1;
    }
    rules.truncate(n);
    Policy::compile(&PolicySettings {
        default: Action::TwoFactor,
        rules,
    })
    .unwrap()
}

/// The last complete site of an `n`-rule policy (not a wildcard one).
fn last_site(n: usize) -> usize {
    let mut site = (n - 5) / 5 - 1;
    while site % 10 == 9 {
        site -= 1;
    }
    site
}

fn bench_policy(c: &mut Criterion) {
    let client: IpAddr = "203.0.113.20".parse().unwrap();
    let groups = strings(&["staff", "admins"]);
    let subject = Subject {
        user: "alice@example.com",
        groups: &groups,
    };

    let mut group = c.benchmark_group("policy_evaluate");
    for n in [10, 100, 1_000] {
        let p = policy(n, true);
        assert_eq!(p.rule_count(), n);
        let site = last_site(n);
        let host = format!("Site{site}.example.com:443");

        // A page of the last site: falls through that site's rules to its catch-all.
        let page = RequestFacts {
            host: &host,
            path: "/account/settings",
            method: "GET",
            client_ip: client,
        };
        let d = p.evaluate(&page, None);
        assert_eq!(d.action, Action::OneFactor);
        assert!(d.rule.is_some_and(|r| r.index >= n - 5));
        group.bench_with_input(BenchmarkId::new("site_page_near_end", n), &page, |b, r| {
            b.iter(|| p.evaluate(black_box(r), None).action)
        });

        // The admin area of the last site, with a signed-in admin (subject check).
        let admin = RequestFacts {
            path: "/admin/users/42",
            ..page
        };
        let d = p.evaluate(&admin, Some(&subject));
        assert_eq!((d.action, d.needs_identity), (Action::TwoFactor, false));
        group.bench_with_input(BenchmarkId::new("admin_with_subject", n), &admin, |b, r| {
            b.iter(|| p.evaluate(black_box(r), Some(black_box(&subject))).action)
        });

        // A host without rules: only the site-wide rules apply, then the default.
        let unknown = RequestFacts {
            host: "intranet.example.net",
            path: "/reports/2024/q3",
            method: "GET",
            client_ip: client,
        };
        let d = p.evaluate(&unknown, None);
        assert!(d.rule.is_none());
        group.bench_with_input(BenchmarkId::new("default_policy", n), &unknown, |b, r| {
            b.iter(|| p.evaluate(black_box(r), None).action)
        });

        // A path that needs normalising (allocates): `/%61dmin` on the last site.
        let encoded = RequestFacts {
            path: "/x/..//%61dmin/users",
            ..page
        };
        let d = p.evaluate(&encoded, None);
        assert!(d.needs_identity);
        group.bench_with_input(BenchmarkId::new("encoded_path", n), &encoded, |b, r| {
            b.iter(|| p.evaluate(black_box(r), None).action)
        });
    }

    // One site, 1,000 rules and no `hosts` at all: the host index cannot help, the
    // first-segment index does (`/site{n}/...` paths).
    let flat = policy(1_000, false);
    let miss = RequestFacts {
        host: "app.example.com",
        path: "/nowhere/at/all",
        method: "GET",
        client_ip: client,
    };
    assert!(flat.evaluate(&miss, None).rule.is_none());
    group.bench_with_input(
        BenchmarkId::new("no_hosts_default", 1_000),
        &miss,
        |b, r| b.iter(|| flat.evaluate(black_box(r), None).action),
    );
    let deep = RequestFacts {
        path: "/site198/account",
        ..miss
    };
    assert!(flat
        .evaluate(&deep, None)
        .rule
        .is_some_and(|r| r.index >= 990));
    group.bench_with_input(
        BenchmarkId::new("no_hosts_near_end", 1_000),
        &deep,
        |b, r| b.iter(|| flat.evaluate(black_box(r), None).action),
    );

    // The pathological case, for reference: 1,000 host-less rules whose paths leave the
    // first segment open, so every one of them is tried in order.
    let rules = (0..1_000)
        .map(|i| RuleSettings {
            paths: vec![format!("/**/x{i}/*.bak")],
            ..rule(i, Action::Deny)
        })
        .collect();
    let unindexed = Policy::compile(&PolicySettings {
        default: Action::OneFactor,
        rules,
    })
    .unwrap();
    group.bench_with_input(
        BenchmarkId::new("unindexable_full_scan", 1_000),
        &miss,
        |b, r| b.iter(|| unindexed.evaluate(black_box(r), None).action),
    );
    group.finish();
}

criterion_group!(benches, bench_policy);
criterion_main!(benches);
