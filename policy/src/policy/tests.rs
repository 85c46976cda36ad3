use super::*;
use crate::RuleInfo;
use sekisho_config::{HttpMethod, RuleSettings};
use std::net::IpAddr;

mod equivalence;
mod subject;

pub(crate) fn s(items: &[&str]) -> Vec<String> {
    items.iter().map(|x| x.to_string()).collect()
}

pub(crate) fn rule(name: &str, action: Action) -> RuleSettings {
    RuleSettings {
        name: name.to_string(),
        index: 0,
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

/// A policy from rules in order; `index` is set to the position.
pub(crate) fn settings(default: Action, rules: Vec<RuleSettings>) -> PolicySettings {
    let rules = rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| RuleSettings { index: i, ..r })
        .collect();
    PolicySettings { default, rules }
}

pub(crate) fn compile(default: Action, rules: Vec<RuleSettings>) -> Policy {
    Policy::compile(&settings(default, rules)).unwrap()
}

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(crate) fn req<'a>(host: &'a str, path: &'a str) -> RequestFacts<'a> {
    RequestFacts {
        host,
        path,
        method: "GET",
        client_ip: ip("203.0.113.9"),
    }
}

/// `(action, rule name)` of a decision.
pub(crate) fn eval(p: &Policy, r: &RequestFacts<'_>) -> (Action, Option<String>) {
    let d = p.evaluate(r, None);
    (d.action, d.rule.map(|r| r.name.clone()))
}

fn name(p: &Policy, host: &str, path: &str) -> Option<String> {
    eval(p, &req(host, path)).1
}

#[test]
fn policy_is_send_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Policy>();
    assert_send_sync::<PolicyError>();
}

#[test]
fn default_policy_when_nothing_matches() {
    let p = compile(
        Action::TwoFactor,
        vec![RuleSettings {
            paths: s(&["/public"]),
            trusted_device: false,
            ..rule("public", Action::Bypass)
        }],
    );
    let d = p.evaluate(&req("a.example.com", "/private"), None);
    assert_eq!(d.action, Action::TwoFactor);
    assert_eq!(d.rule, None);
    assert!(!d.needs_identity);
    assert_eq!(d.max_mfa_age, None);
    assert!(d.trusted_device);
    assert_eq!(p.rule_count(), 1);
    assert_eq!(p.default_action(), Action::TwoFactor);
}

#[test]
fn empty_policy_uses_default() {
    let p = compile(Action::Deny, vec![]);
    assert_eq!(eval(&p, &req("x", "/")), (Action::Deny, None));
    assert_eq!(p.rule_count(), 0);
}

#[test]
fn first_match_wins() {
    let p = compile(
        Action::Deny,
        vec![
            RuleSettings {
                paths: s(&["/admin/public"]),
                ..rule("admin-public", Action::Bypass)
            },
            RuleSettings {
                paths: s(&["/admin"]),
                ..rule("admin", Action::TwoFactor)
            },
            rule("everything", Action::OneFactor),
            RuleSettings {
                paths: s(&["/late"]),
                ..rule("never", Action::Bypass)
            },
        ],
    );
    assert_eq!(
        eval(&p, &req("h", "/admin/public/x")),
        (Action::Bypass, Some("admin-public".into()))
    );
    assert_eq!(
        eval(&p, &req("h", "/admin/x")),
        (Action::TwoFactor, Some("admin".into()))
    );
    assert_eq!(
        eval(&p, &req("h", "/late")),
        (Action::OneFactor, Some("everything".into()))
    );
}

#[test]
fn first_match_wins_across_host_buckets() {
    // Host-less, exact and wildcard rules interleave; order must hold between them.
    let p = compile(
        Action::Deny,
        vec![
            RuleSettings {
                paths: s(&["/a"]),
                ..rule("any-a", Action::Bypass)
            },
            RuleSettings {
                hosts: s(&["*.example.com"]),
                paths: s(&["/b"]),
                ..rule("wild-b", Action::OneFactor)
            },
            RuleSettings {
                hosts: s(&["app.example.com"]),
                ..rule("exact-all", Action::TwoFactor)
            },
            RuleSettings {
                paths: s(&["/c"]),
                ..rule("any-c", Action::Bypass)
            },
            RuleSettings {
                hosts: s(&["*.example.com"]),
                ..rule("wild-all", Action::OneFactor)
            },
        ],
    );
    assert_eq!(name(&p, "app.example.com", "/a"), Some("any-a".into()));
    assert_eq!(name(&p, "app.example.com", "/b"), Some("wild-b".into()));
    assert_eq!(name(&p, "app.example.com", "/c"), Some("exact-all".into()));
    assert_eq!(name(&p, "web.example.com", "/c"), Some("any-c".into()));
    assert_eq!(name(&p, "web.example.com", "/d"), Some("wild-all".into()));
    assert_eq!(name(&p, "example.com", "/d"), None);
}

#[test]
fn rule_index_comes_from_settings() {
    let mut st = settings(Action::Deny, vec![rule("r", Action::Bypass)]);
    st.rules[0].index = 7;
    let p = Policy::compile(&st).unwrap();
    let d = p.evaluate(&req("h", "/"), None);
    assert_eq!(
        d.rule,
        Some(&RuleInfo {
            index: 7,
            name: "r".into()
        })
    );
}

#[test]
fn hosts_exact_wildcard_case_and_port() {
    let p = compile(
        Action::Deny,
        vec![
            RuleSettings {
                hosts: s(&["app.example.com"]),
                ..rule("app", Action::OneFactor)
            },
            RuleSettings {
                hosts: s(&["*.example.org"]),
                ..rule("org", Action::OneFactor)
            },
            RuleSettings {
                hosts: s(&["10.0.0.1", "[::1]"]),
                ..rule("literal", Action::OneFactor)
            },
        ],
    );
    for h in [
        "app.example.com",
        "APP.Example.Com",
        "app.example.com:8443",
        "app.example.com.",
        "App.Example.Com.:80",
    ] {
        assert_eq!(name(&p, h, "/"), Some("app".into()), "{h}");
    }
    for h in [
        "x.app.example.com",
        "example.com",
        "app.example.com.evil",
        "app.example.comx",
        "",
    ] {
        assert_eq!(name(&p, h, "/"), None, "{h}");
    }
    for h in ["a.example.org", "a.b.EXAMPLE.org:1", "www.example.org."] {
        assert_eq!(name(&p, h, "/"), Some("org".into()), "{h}");
    }
    for h in ["example.org", "badexample.org", ".example.org"] {
        assert_eq!(name(&p, h, "/"), None, "{h}");
    }
    for h in ["10.0.0.1", "10.0.0.1:8080", "[::1]", "[::1]:8080"] {
        assert_eq!(name(&p, h, "/"), Some("literal".into()), "{h}");
    }
    assert_eq!(name(&p, "[::2]:8080", "/"), None);
}

#[test]
fn very_long_host_still_matches_wildcards() {
    let p = compile(
        Action::Deny,
        vec![RuleSettings {
            hosts: s(&["*.example.com"]),
            ..rule("wild", Action::Bypass)
        }],
    );
    let long = format!("{}.example.com", "a.".repeat(200) + "b");
    assert!(long.len() > crate::host::MAX_HOST);
    assert_eq!(name(&p, &long, "/"), Some("wild".into()));
    let long_other = format!("{}.example.net", "a".repeat(300));
    assert_eq!(name(&p, &long_other, "/"), None);
}

#[test]
fn many_wildcard_buckets_fall_back_correctly() {
    // Nineteen suffix buckets match this host: more than the merge holds.
    let host = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t";
    let labels: Vec<&str> = host.split('.').collect();
    let mut rules = Vec::new();
    for k in (1..labels.len()).rev() {
        rules.push(RuleSettings {
            hosts: vec![format!("*.{}", labels[k..].join("."))],
            // A glob that leaves the first segment open, so each bucket adds a list.
            paths: s(&[&format!("/*p{k}")]),
            ..rule(&format!("r{k}"), Action::OneFactor)
        });
    }
    let p = compile(Action::Deny, rules);
    assert!(matches!(
        p.index.candidates(host, "/p1"),
        crate::index::Candidates::All(_)
    ));
    for k in 1..labels.len() {
        assert_eq!(name(&p, host, &format!("/p{k}")), Some(format!("r{k}")));
    }
    assert_eq!(name(&p, "x.s.t", "/p18"), Some("r18".into()));
    assert_eq!(name(&p, "x.s.t", "/p1"), None);
}

#[test]
fn path_prefix_boundaries() {
    let p = compile(
        Action::Bypass,
        vec![RuleSettings {
            paths: s(&["/admin", "/api/v1/"]),
            ..rule("admin", Action::TwoFactor)
        }],
    );
    for path in [
        "/admin",
        "/admin/",
        "/admin/users",
        "/admin;x",
        "/api/v1",
        "/api/v1/x",
    ] {
        assert_eq!(name(&p, "h", path), Some("admin".into()), "{path}");
    }
    for path in [
        "/administrator",
        "/adm",
        "/x/admin",
        "/api/v10",
        "/api/v1x/y",
        "/",
    ] {
        assert_eq!(name(&p, "h", path), None, "{path}");
    }
}

#[test]
fn root_prefix_matches_everything() {
    let p = compile(
        Action::Deny,
        vec![RuleSettings {
            paths: s(&["/"]),
            ..rule("all", Action::OneFactor)
        }],
    );
    for path in ["/", "/a", "/a/b/c", "", "x", "//"] {
        assert_eq!(name(&p, "h", path), Some("all".into()), "{path}");
    }
}

#[test]
fn globs_and_regex_paths() {
    let p = compile(
        Action::Deny,
        vec![
            RuleSettings {
                paths: s(&["/api/*/admin"]),
                ..rule("star", Action::TwoFactor)
            },
            RuleSettings {
                paths: s(&["/**/*.php"]),
                ..rule("globstar", Action::Deny)
            },
            RuleSettings {
                paths: s(&["/v?/status"]),
                ..rule("question", Action::Bypass)
            },
            RuleSettings {
                paths: s(&["regex:^/reports/[0-9]{4}/"]),
                ..rule("regex", Action::OneFactor)
            },
        ],
    );
    assert_eq!(name(&p, "h", "/api/v1/admin"), Some("star".into()));
    assert_eq!(name(&p, "h", "/api/v1/x/admin"), None);
    assert_eq!(name(&p, "h", "/api/v1/admin/x"), None);
    assert_eq!(name(&p, "h", "/a/b/c/index.php"), Some("globstar".into()));
    assert_eq!(name(&p, "h", "/a/b/c/index.php5"), None);
    assert_eq!(name(&p, "h", "/v2/status"), Some("question".into()));
    assert_eq!(name(&p, "h", "/v22/status"), None);
    assert_eq!(name(&p, "h", "/reports/2024/q1"), Some("regex".into()));
    assert_eq!(name(&p, "h", "/x/reports/2024/q1"), None);
    // Globs see the normalised path too.
    assert_eq!(name(&p, "h", "/api/v1/%61dmin"), Some("star".into()));
}

fn compile_err(rules: Vec<RuleSettings>) -> PolicyError {
    Policy::compile(&settings(Action::Deny, rules)).unwrap_err()
}

#[test]
fn bad_patterns_name_the_key() {
    let ok = || RuleSettings {
        paths: s(&["/fine"]),
        ..rule("ok", Action::Bypass)
    };
    let cases = [
        ("regex:(", "rules[2].paths[1]"),
        ("regex:a{99999999}", "rules[2].paths[1]"),
        ("/a/***", "rules[2].paths[1]"),
        ("/a/[ab]*", "rules[2].paths[1]"),
        ("/a//b*", "rules[2].paths[1]"),
        ("nope", "rules[2].paths[1]"),
    ];
    for (bad, key) in cases {
        let err = compile_err(vec![
            ok(),
            ok(),
            RuleSettings {
                paths: s(&["/x", bad]),
                ..rule("bad", Action::Bypass)
            },
        ]);
        assert_eq!(err.key, key, "{bad}");
        assert!(err.to_string().starts_with(&format!("{key}: ")), "{err}");
    }
    let err = compile_err(vec![RuleSettings {
        hosts: s(&["ok.example.com", "app.example.com:443"]),
        ..rule("h", Action::Bypass)
    }]);
    assert_eq!(err.key, "rules[0].hosts[1]");
    let err = compile_err(vec![RuleSettings {
        groups: s(&["admins", " "]),
        ..rule("g", Action::Bypass)
    }]);
    assert_eq!(err.key, "rules[0].groups[1]");
}

#[test]
fn error_key_uses_the_settings_index() {
    let mut st = settings(
        Action::Deny,
        vec![RuleSettings {
            paths: s(&["regex:["]),
            ..rule("bad", Action::Bypass)
        }],
    );
    st.rules[0].index = 4;
    let err = Policy::compile(&st).unwrap_err();
    assert_eq!(err.key, "rules[4].paths[0]");
    let _: &dyn std::error::Error = &err;
}

fn admin_policy() -> Policy {
    compile(
        Action::Bypass,
        vec![RuleSettings {
            paths: s(&["/admin"]),
            ..rule("admin", Action::TwoFactor)
        }],
    )
}

#[test]
fn normalisation_bypass_attempts_still_hit_the_rule() {
    let p = admin_policy();
    for attempt in [
        "/admin",
        "/%61dmin",
        "/%61%64%6d%69%6e",
        "/%2561dmin/../admin",
        "/./admin",
        "//admin",
        "///admin//",
        "/x/../admin",
        "/x/y/../../admin/z",
        "/../admin",
        "/%2e%2e/admin",
        "/x/%2e%2e/admin",
        "/x%2F..%2Fadmin",
        "/admin%2Fsecret",
        "/admin%2fsecret",
        "/admin\\x",
        "\\admin",
        "/x\\..\\admin",
        "/admin%5Cx",
        "/admin/.",
        "/admin;jsessionid=1",
        "/public/..;/admin",
        "admin",
    ] {
        assert_eq!(name(&p, "h", attempt), Some("admin".into()), "{attempt}");
    }
}

#[test]
fn matching_is_case_sensitive() {
    let p = admin_policy();
    assert_eq!(name(&p, "h", "/ADMIN"), None);
    assert_eq!(name(&p, "h", "/%41dmin"), None);
}

#[test]
fn methods() {
    let p = compile(
        Action::Deny,
        vec![
            RuleSettings {
                methods: vec![HttpMethod::Get, HttpMethod::Head],
                ..rule("read", Action::Bypass)
            },
            RuleSettings {
                methods: vec![HttpMethod::Post],
                ..rule("write", Action::TwoFactor)
            },
            rule("any", Action::OneFactor),
        ],
    );
    let with = |m: &'static str| RequestFacts {
        method: m,
        ..req("h", "/")
    };
    assert_eq!(eval(&p, &with("GET")).1, Some("read".into()));
    assert_eq!(eval(&p, &with("get")).1, Some("read".into()));
    assert_eq!(eval(&p, &with("Head")).1, Some("read".into()));
    assert_eq!(eval(&p, &with("post")).1, Some("write".into()));
    assert_eq!(eval(&p, &with("DELETE")).1, Some("any".into()));
    assert_eq!(eval(&p, &with("PROPFIND")).1, Some("any".into()));
    assert_eq!(eval(&p, &with("")).1, Some("any".into()));
}

#[test]
fn unknown_method_only_matches_rules_without_methods() {
    let p = compile(
        Action::Deny,
        vec![RuleSettings {
            methods: HttpMethod::ALL.to_vec(),
            ..rule("all-known", Action::Bypass)
        }],
    );
    let r = RequestFacts {
        method: "PROPFIND",
        ..req("h", "/")
    };
    assert_eq!(eval(&p, &r), (Action::Deny, None));
    let r = RequestFacts {
        method: "trace",
        ..req("h", "/")
    };
    assert_eq!(eval(&p, &r).1, Some("all-known".into()));
}

#[test]
fn networks() {
    let p = compile(
        Action::Deny,
        vec![
            RuleSettings {
                networks: vec![
                    "10.0.0.0/8".parse().unwrap(),
                    "2001:db8::/32".parse().unwrap(),
                ],
                ..rule("internal", Action::Bypass)
            },
            RuleSettings {
                networks: vec!["::ffff:192.168.0.0/112".parse().unwrap()],
                ..rule("mapped-net", Action::OneFactor)
            },
        ],
    );
    let from = |a: &str| RequestFacts {
        client_ip: ip(a),
        ..req("h", "/")
    };
    assert_eq!(eval(&p, &from("10.9.8.7")).1, Some("internal".into()));
    assert_eq!(
        eval(&p, &from("::ffff:10.9.8.7")).1,
        Some("internal".into())
    );
    assert_eq!(eval(&p, &from("2001:db8::42")).1, Some("internal".into()));
    assert_eq!(eval(&p, &from("192.168.3.4")).1, Some("mapped-net".into()));
    assert_eq!(
        eval(&p, &from("::ffff:192.168.3.4")).1,
        Some("mapped-net".into())
    );
    assert_eq!(eval(&p, &from("11.0.0.1")).1, None);
    assert_eq!(eval(&p, &from("::ffff:11.0.0.1")).1, None);
    assert_eq!(eval(&p, &from("2001:db9::1")).1, None);
}

#[test]
fn all_conditions_must_hold() {
    let p = compile(
        Action::Deny,
        vec![RuleSettings {
            hosts: s(&["app.example.com"]),
            paths: s(&["/api"]),
            methods: vec![HttpMethod::Post],
            networks: vec!["10.0.0.0/8".parse().unwrap()],
            ..rule("narrow", Action::Bypass)
        }],
    );
    let good = RequestFacts {
        host: "app.example.com",
        path: "/api/x",
        method: "POST",
        client_ip: ip("10.0.0.5"),
    };
    assert_eq!(eval(&p, &good).1, Some("narrow".into()));
    for bad in [
        RequestFacts {
            host: "b.example.com",
            ..good
        },
        RequestFacts {
            path: "/apix",
            ..good
        },
        RequestFacts {
            method: "GET",
            ..good
        },
        RequestFacts {
            client_ip: ip("11.0.0.5"),
            ..good
        },
    ] {
        assert_eq!(eval(&p, &bad).1, None, "{bad:?}");
    }
}

#[test]
fn plain_paths_take_the_allocation_free_route() {
    // `evaluate` creates no String or Vec itself; the only possible allocation is path
    // normalisation, which borrows for ordinary paths.
    for p in ["/", "/admin", "/api/v1/users/42", "/static/app.3f9a.js"] {
        assert!(
            matches!(normalize_path(p), std::borrow::Cow::Borrowed(_)),
            "{p}"
        );
    }
}
