//! The identity-header rewrite before proxying, on a Pingora `RequestHeader` shaped
//! like a browser's request: strip client-sent identity headers, insert the user's,
//! set `X-Forwarded-*`. The header is cloned in the (unmeasured) setup.
use criterion::{BatchSize, Criterion};
use pingora::http::RequestHeader;
use sekisho_auth::{AuthLevel, Session};
use sekisho_config::IdentityHeaderNames;
use sekisho_gateway::identity::{set_forwarded, IdentityHeaders};
use std::hint::black_box;

fn browser_request(forged: bool) -> RequestHeader {
    let mut r = RequestHeader::build("GET", b"/two/reports/2024?page=3", None).unwrap();
    for (k, v) in [
        ("host", "app.example.com"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"),
        ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("accept-language", "ja,en-US;q=0.7,en;q=0.3"),
        ("accept-encoding", "gzip, deflate, br"),
        ("cookie", "_ga=GA1.2.3.4; theme=dark"),
        ("referer", "https://app.example.com/two/reports"),
    ] {
        r.append_header(k, v).unwrap();
    }
    if forged {
        r.append_header("Remote-User", "ceo@example.com").unwrap();
        r.append_header("remote-groups", "admins").unwrap();
    }
    r
}

fn session() -> Session {
    Session {
        user_id: "u-42".into(),
        email: "taro.yamada@example.com".into(),
        display_name: "山田 太郎".into(),
        groups: vec!["staff".into(), "engineering".into(), "admins".into()],
        level: AuthLevel::Mfa,
        mfa_at: Some(1_800_000_000),
        mfa_method: None,
        created_at: 1_800_000_000,
        last_seen: 1_800_000_000,
        ip: Some("203.0.113.9".into()),
        user_agent: None,
        device_id: None,
        csrf_secret: String::new(),
        credential_version: 1,
        enrolment_due: false,
    }
}

pub fn bench(c: &mut Criterion) {
    let ids = IdentityHeaders::new(&IdentityHeaderNames {
        user: "Remote-User".into(),
        email: "Remote-Email".into(),
        groups: "Remote-Groups".into(),
        name: "Remote-Name".into(),
    })
    .unwrap();
    let s = session();
    let mut g = c.benchmark_group("identity_rewrite");
    for (name, forged) in [("clean", false), ("forged_headers", true)] {
        let req = browser_request(forged);
        let mut check = req.clone();
        ids.strip(&mut check);
        ids.insert(&mut check, &s).unwrap();
        assert_eq!(check.headers.get_all("remote-user").iter().count(), 1);
        assert_eq!(
            check.headers.get("remote-user").unwrap(),
            "taro.yamada@example.com"
        );
        g.bench_function(format!("strip_insert/{name}"), |b| {
            b.iter_batched_ref(
                || req.clone(),
                |r| {
                    ids.strip(r);
                    ids.insert(r, black_box(&s)).unwrap();
                },
                BatchSize::SmallInput,
            )
        });
        g.bench_function(format!("strip_insert_forwarded/{name}"), |b| {
            b.iter_batched_ref(
                || req.clone(),
                |r| {
                    ids.strip(r);
                    ids.insert(r, black_box(&s)).unwrap();
                    set_forwarded(r, black_box([203, 0, 113, 9].into()), false, "https").unwrap();
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}
