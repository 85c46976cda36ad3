use crate::{load_str, Balance, ConfigError, HashKey, Site};
use std::collections::HashMap;
use std::time::Duration;

fn site(extra: &str) -> Result<Site, ConfigError> {
    let text = format!("[[sites]]\nhost = \"app.example.com\"\n{extra}\n");
    load_str(&text, "t.toml", &HashMap::<String, String>::new()).map(|mut s| s.sites.remove(0))
}

fn rejected(extra: &str) -> ConfigError {
    site(extra).expect_err("the site should be rejected")
}

#[test]
fn plain_upstreams_get_the_defaults() {
    let s = site("upstreams = [\"127.0.0.1:3000\", \"app-2.internal:3000\"]").unwrap();
    assert_eq!(s.upstreams.len(), 2);
    assert_eq!(s.upstreams[1].address, "app-2.internal:3000");
    assert_eq!(s.upstreams[1].host, "app-2.internal");
    assert!(!s.upstreams[0].tls);
    let p = &s.pool;
    assert_eq!(p.balance, Balance::RoundRobin);
    assert_eq!(p.retries, 2);
    assert!(p.health_check.is_none());
    assert_eq!(p.passive.max_failures, 3);
    assert_eq!(p.passive.cooldown, Duration::from_secs(10));
    assert!(p.tls.verify);
}

#[test]
fn schemes_set_tls_and_default_ports() {
    let s = site(
        "upstreams = [\"https://app.internal\", \"http://[::1]\", \"https://b.internal:8443/\"]",
    )
    .unwrap();
    let got: Vec<(&str, bool)> = s
        .upstreams
        .iter()
        .map(|u| (u.address.as_str(), u.tls))
        .collect();
    assert_eq!(
        got,
        [
            ("app.internal:443", true),
            ("[::1]:80", false),
            ("b.internal:8443", true)
        ]
    );
    assert_eq!(s.upstreams[1].host, "::1");
    let s = site("upstreams = [\"app.internal:8443\"]\ntls = true").unwrap();
    assert!(s.upstreams[0].tls);
}

#[test]
fn a_full_pool_is_read() {
    let ca = tempfile::NamedTempFile::new().unwrap();
    let s = site(&format!(
        r#"upstreams = ["https://10.0.0.1:8443", "https://10.0.0.2:8443"]
balance = "hash"
hash_key = "header:X-Tenant"
retries = 1
ca_file = "{}"
sni = "App.Internal"
[sites.health_check]
path = "/healthz"
interval = "200ms"
expected_status = "204"
healthy_threshold = 1
unhealthy_threshold = 2
host = "health.internal"
[sites.passive_health]
max_failures = 5
cooldown = "30s"
failure_statuses = [502, 503]
"#,
        ca.path().display()
    ))
    .unwrap();
    let p = &s.pool;
    assert_eq!(p.balance, Balance::Hash);
    assert_eq!(p.hash_key, HashKey::Header("x-tenant".into()));
    assert_eq!(p.retries, 1);
    assert_eq!(p.tls.sni.as_deref(), Some("app.internal"));
    assert_eq!(p.tls.ca_file.as_deref(), Some(ca.path()));
    let h = p.health_check.as_ref().unwrap();
    assert_eq!(h.interval, Duration::from_millis(200));
    assert_eq!(
        h.timeout,
        Duration::from_millis(200),
        "capped by the interval"
    );
    assert_eq!(h.expected_status, (204, 204));
    assert_eq!(h.host.as_deref(), Some("health.internal"));
    assert_eq!(p.passive.failure_statuses, [502, 503]);
    assert_eq!(
        site("upstreams = [\"a:1\"]\nbalance = \"hash\"\nhash_key = \"cookie:sid\"")
            .unwrap()
            .pool
            .hash_key,
        HashKey::Cookie("sid".into())
    );
}

#[test]
fn mistakes_name_their_key() {
    for (extra, key, words) in [
        ("upstreams = [\"x\"]", "sites[0].upstreams[0]", "host:port"),
        ("upstreams = [\"http://a:1/app\"]", "sites[0].upstreams[0]", "without a path"),
        ("upstreams = [\"ftp://a:1\"]", "sites[0].upstreams[0]", "ftp://"),
        ("upstreams = [\"a:1\", \"a:1\"]", "sites[0].upstreams[1]", "twice"),
        ("upstreams = [\"http://a:1\"]\ntls = true", "sites[0].upstreams[0]", "tls = true"),
        ("upstreams = [\"https://10.0.0.1:443\"]", "sites[0].upstreams[0]", "sni"),
        ("upstreams = [\"a:1\"]\nbalance = \"random\"", "sites[0].balance", "unknown variant"),
        ("upstreams = [\"a:1\"]\nhash_key = \"client_ip\"", "sites[0].hash_key", "balance = \"hash\""),
        ("upstreams = [\"a:1\"]\nbalance = \"hash\"\nhash_key = \"query:x\"", "sites[0].hash_key", "cookie:NAME"),
        ("upstreams = [\"a:1\"]\nretries = 11", "sites[0].retries", "between 0 and 10"),
        ("upstreams = [\"a:1\"]\nsni = \"a\"", "sites[0].sni", "TLS upstreams"),
        ("upstreams = [\"https://a:1\"]\nca_file = \"/nonexistent/ca.pem\"", "sites[0].ca_file", "not a readable file"),
        ("upstreams = [\"https://a:1\"]\nsni = \"bad name\"", "sites[0].sni", "host name"),
        ("upstreams = [\"a:1\"]\n[sites.health_check]\npath = \"healthz\"", "sites[0].health_check.path", "starting with /"),
        ("upstreams = [\"a:1\"]\n[sites.health_check]\npath = \"/h\"\ninterval = \"0s\"", "sites[0].health_check.interval", "longer than zero"),
        ("upstreams = [\"a:1\"]\n[sites.health_check]\npath = \"/h\"\ninterval = \"1s\"\ntimeout = \"2s\"", "sites[0].health_check.timeout", "interval"),
        ("upstreams = [\"a:1\"]\n[sites.health_check]\npath = \"/h\"\nexpected_status = \"399-200\"", "sites[0].health_check.expected_status", "range"),
        ("upstreams = [\"a:1\"]\n[sites.health_check]\npath = \"/h\"\nunhealthy_threshold = 0", "sites[0].health_check.unhealthy_threshold", "between 1 and 100"),
        ("upstreams = [\"a:1\"]\n[sites.passive_health]\ncooldown = \"0s\"", "sites[0].passive_health.cooldown", "longer than zero"),
        ("upstreams = [\"a:1\"]\n[sites.passive_health]\nfailure_statuses = [404]", "sites[0].passive_health.failure_statuses", "5xx"),
    ] {
        let e = rejected(extra);
        assert!(e.key.starts_with(key), "{extra}: {e}");
        assert!(e.message.contains(words), "{extra}: {e}");
    }
}

#[test]
fn an_ip_upstream_over_tls_is_fine_with_a_name_or_without_verification() {
    let named = site("upstreams = [\"https://10.0.0.1:8443\"]\nsni = \"app.internal\"").unwrap();
    assert_eq!(named.pool.tls.sni.as_deref(), Some("app.internal"));
    let unverified = site("upstreams = [\"https://10.0.0.1:8443\"]\nverify = false").unwrap();
    assert!(!unverified.pool.tls.verify);
}

#[test]
fn passive_ejection_can_be_turned_off() {
    let s =
        site("upstreams = [\"a:1\"]\n[sites.passive_health]\nmax_failures = 0\ncooldown = \"0s\"")
            .unwrap();
    assert_eq!(s.pool.passive.max_failures, 0);
}
