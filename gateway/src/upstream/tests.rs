use super::*;
use pingora_prometheus::prometheus::Registry;
use sekisho_config::{load_str, Settings};
use std::collections::HashMap;
use std::time::Duration;

fn settings(sites: &str) -> Settings {
    load_str(sites, "t.toml", &HashMap::<String, String>::new()).unwrap()
}

fn upstreams(sites: &str, previous: Option<&Upstreams>) -> Result<Upstreams, String> {
    let s = settings(sites);
    Upstreams::new(&s.sites, s.upstream, series(), previous)
}

/// One registry per process: the series are registered once, as in a gateway.
fn series() -> PoolSeries {
    static SERIES: OnceLock<PoolSeries> = OnceLock::new();
    SERIES
        .get_or_init(|| {
            crate::metrics::RequestMetrics::new(&Registry::new())
                .unwrap()
                .pools
        })
        .clone()
}

use std::sync::OnceLock;

const THREE: &str = r#"
[[sites]]
host = "app.test"
upstreams = ["127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"]
[sites.passive_health]
max_failures = 2
cooldown = "1h"
"#;

fn port(peer: &HttpPeerBox) -> u16 {
    peer.1._address.as_inet().unwrap().port()
}

type HttpPeerBox = (usize, Box<pingora::upstreams::peer::HttpPeer>);

#[test]
fn ports_are_stripped() {
    assert_eq!(strip_port("app.test:8080"), "app.test");
    assert_eq!(strip_port("app.test"), "app.test");
    assert_eq!(strip_port("[::1]:80"), "[::1]");
    assert_eq!(strip_port("[::1]"), "[::1]");
}

#[test]
fn exact_hosts_win_over_wildcards() {
    let u = upstreams(
        "[[sites]]\nhost = \"*.example.com\"\nupstreams = [\"127.0.0.1:9\"]\n\
         [[sites]]\nhost = \"app.example.com\"\nupstreams = [\"127.0.0.1:9\"]\n",
        None,
    )
    .unwrap();
    assert_eq!(u.find("APP.example.com"), Some(1));
    assert_eq!(u.find("x.example.com"), Some(0));
    assert_eq!(u.find("example.org"), None);
    assert!(u.pool(1).unwrap().select(b"", Tried::default()).is_some());
}

#[test]
fn round_robin_spreads_and_retries_avoid_tried_servers() {
    let u = upstreams(THREE, None).unwrap();
    let pool = u.pool(0).unwrap();
    let mut seen: Vec<u16> = (0..6)
        .map(|_| port(&pool.select(b"", Tried::default()).unwrap()))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, [1001, 1001, 1002, 1002, 1003, 1003]);

    let mut tried = Tried::default();
    let mut ports = Vec::new();
    for _ in 0..3 {
        let (i, peer) = pool.select(b"", tried).unwrap();
        tried.add(i);
        ports.push(port(&(i, peer)));
    }
    ports.sort_unstable();
    assert_eq!(ports, [1001, 1002, 1003], "each attempt on another server");
    // Every server tried: a further attempt may go to any of them again.
    assert!(pool.select(b"", tried).is_some());
}

#[test]
fn consecutive_failures_eject_a_server_and_a_success_resets_the_count() {
    let u = upstreams(THREE, None).unwrap();
    let pool = u.pool(0).unwrap();
    let first = pool.select(b"", Tried::default()).unwrap().0;
    pool.failed(first);
    pool.answered(first, 200);
    pool.failed(first);
    assert!(pool.is_up(first), "the success in between reset the count");
    pool.failed(first);
    assert!(!pool.is_up(first));
    for _ in 0..10 {
        assert_ne!(pool.select(b"", Tried::default()).unwrap().0, first);
    }
    // Everyone ejected: nothing to select (the proxy answers 502).
    for i in 0..3 {
        pool.failed(i);
        pool.failed(i);
    }
    assert!(pool.select(b"", Tried::default()).is_none());
}

#[test]
fn failure_statuses_count_as_failures() {
    let u = upstreams(&format!("{THREE}failure_statuses = [503]\n"), None).unwrap();
    let pool = u.pool(0).unwrap();
    pool.answered(1, 500);
    pool.answered(1, 500);
    assert!(pool.is_up(1), "500 is not listed");
    pool.answered(1, 503);
    pool.answered(1, 503);
    assert!(!pool.is_up(1));
}

#[test]
fn a_single_server_is_never_ejected() {
    let u = upstreams(
        "[[sites]]\nhost = \"a.test\"\nupstreams = [\"127.0.0.1:9\"]\n[sites.passive_health]\nmax_failures = 1\n",
        None,
    )
    .unwrap();
    let pool = u.pool(0).unwrap();
    pool.failed(0);
    assert!(pool.is_up(0));
}

#[test]
fn hashing_keeps_a_key_on_its_server_and_moves_it_when_that_one_is_out() {
    let u = upstreams(
        &THREE.replace("upstreams = [", "balance = \"hash\"\nupstreams = ["),
        None,
    )
    .unwrap();
    let pool = u.pool(0).unwrap();
    let home = |key: &[u8]| pool.select(key, Tried::default()).unwrap().0;
    let keys: Vec<String> = (0..40).map(|i| format!("user-{i}")).collect();
    let homes: Vec<usize> = keys.iter().map(|k| home(k.as_bytes())).collect();
    for (k, h) in keys.iter().zip(&homes) {
        assert_eq!(home(k.as_bytes()), *h, "{k} stays put");
    }
    assert!(homes.contains(&0) && homes.contains(&1) && homes.contains(&2));
    pool.failed(homes[0]);
    pool.failed(homes[0]);
    assert_ne!(home(keys[0].as_bytes()), homes[0]);
    // Keys of other servers do not move.
    for (k, h) in keys.iter().zip(&homes).filter(|(_, h)| **h != homes[0]) {
        assert_eq!(home(k.as_bytes()), *h, "{k}");
    }
}

#[test]
fn a_reload_keeps_the_health_of_unchanged_pools() {
    let before = upstreams(THREE, None).unwrap();
    before.pool(0).unwrap().failed(2);
    before.pool(0).unwrap().failed(2);
    assert!(!before.pool(0).unwrap().is_up(2));
    let after = upstreams(
        &THREE.replace("cooldown = \"1h\"", "cooldown = \"30m\""),
        Some(&before),
    )
    .unwrap();
    assert!(
        !after.pool(0).unwrap().is_up(2),
        "still ejected after the reload"
    );
    let fresh = upstreams(THREE, None).unwrap();
    assert!(fresh.pool(0).unwrap().is_up(2));
}

#[test]
fn peers_carry_tls_sni_verification_and_timeouts() {
    let u = upstreams(
        "[upstream]\nconnect_timeout = \"2s\"\n[[sites]]\nhost = \"a.test\"\nupstreams = [\"https://127.0.0.1:8443\"]\nsni = \"app.internal\"\n\
         [[sites]]\nhost = \"b.test\"\nupstreams = [\"https://127.0.0.1:9443\"]\nverify = false\n\
         [[sites]]\nhost = \"c.test\"\nupstreams = [\"127.0.0.1:8080\"]\n",
        None,
    )
    .unwrap();
    let peer = |site| {
        u.pool(site)
            .unwrap()
            .select(b"", Tried::default())
            .unwrap()
            .1
    };
    let a = peer(0);
    assert!(a.is_tls());
    assert_eq!(a.sni, "app.internal");
    assert!(a.options.verify_cert && a.options.verify_hostname);
    assert_eq!(a.options.connection_timeout, Some(Duration::from_secs(2)));
    let b = peer(1);
    assert!(b.is_tls() && !b.options.verify_cert);
    assert_eq!(b.sni, "", "no SNI for an IP address");
    assert!(!peer(2).is_tls());
}

#[test]
fn ca_files_must_hold_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ca.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let e = upstreams(
        &format!(
            "[[sites]]\nhost = \"a.test\"\nupstreams = [\"https://app.internal:8443\"]\nca_file = \"{}\"\n",
            bad.display()
        ),
        None,
    );
    // Resolving app.internal may fail first on this machine; either way it is an error
    // naming the site, never a panic.
    let e = e.err().expect("rejected");
    assert!(e.starts_with("site a.test:"), "{e}");
    let e = upstreams(
        &format!(
            "[[sites]]\nhost = \"a.test\"\nupstreams = [\"https://127.0.0.1:8443\"]\nsni = \"x\"\nca_file = \"{}\"\n",
            bad.display()
        ),
        None,
    )
    .err()
    .expect("rejected");
    assert!(
        e.contains("holds no certificate") || e.contains("not PEM"),
        "{e}"
    );
}

#[test]
fn the_healthy_gauge_follows_ejections() {
    let registry = Registry::new();
    let metrics = crate::metrics::RequestMetrics::new(&registry).unwrap();
    let s = settings(THREE);
    let u = Upstreams::new(&s.sites, s.upstream, metrics.pools.clone(), None).unwrap();
    u.pool(0).unwrap().failed(0);
    u.pool(0).unwrap().failed(0);
    u.refresh_gauges();
    let text = crate::metrics::render(&registry);
    for line in [
        r#"sekisho_upstream_healthy{site="app.test",upstream="127.0.0.1:1001"} 0"#,
        r#"sekisho_upstream_healthy{site="app.test",upstream="127.0.0.1:1002"} 1"#,
        r#"sekisho_upstream_ejections_total{cause="passive",site="app.test",upstream="127.0.0.1:1001"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}

#[test]
fn a_reload_that_adds_a_server_keeps_what_the_checks_found_about_the_others() {
    // Nothing listens on these ports: one failed check takes a server out.
    let checked = |servers: &str| {
        format!(
            "[[sites]]\nhost = \"app.test\"\nupstreams = [{servers}]\n\
             [sites.health_check]\npath = \"/health\"\ninterval = \"1s\"\ntimeout = \"200ms\"\n\
             unhealthy_threshold = 1\n"
        )
    };
    let before = upstreams(&checked("\"127.0.0.1:9\""), None).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(before.pool(0).unwrap().run_health_check());
    assert!(!before.pool(0).unwrap().is_up(0), "the check failed");

    let after = upstreams(&checked("\"127.0.0.1:9\", \"127.0.0.1:10\""), Some(&before)).unwrap();
    let pool = after.pool(0).unwrap();
    assert!(!pool.is_up(0), "still out after the reload");
    assert!(pool.is_up(1), "a new server starts as up");
    rt.block_on(pool.run_health_check());
    assert!(!pool.is_up(1), "and is checked by the same registry");

    // Another health check: the site starts afresh.
    let changed = upstreams(
        &checked("\"127.0.0.1:9\"").replace("/health", "/healthz"),
        Some(&after),
    )
    .unwrap();
    assert!(changed.pool(0).unwrap().is_up(0));
}

#[test]
fn hash_input_reads_the_cookie_or_header_and_falls_back_to_the_address() {
    use pingora::http::RequestHeader;
    let site = |key: &str| {
        format!("[[sites]]\nhost = \"a.test\"\nupstreams = [\"127.0.0.1:9\"]\nbalance = \"hash\"\nhash_key = \"{key}\"\n")
    };
    let mut head = RequestHeader::build("GET", b"/", None).unwrap();
    head.insert_header("cookie", "theme=dark; sid=abc").unwrap();
    head.insert_header("x-tenant", "acme").unwrap();
    let ip: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    let input = |key: &str| {
        let u = upstreams(&site(key), None).unwrap();
        let mut buf = [0u8; 16];
        u.pool(0).unwrap().hash_input(&head, ip, &mut buf).to_vec()
    };
    assert_eq!(input("cookie:sid"), b"abc");
    assert_eq!(input("header:X-Tenant"), b"acme");
    assert_eq!(input("cookie:missing"), [192, 0, 2, 7]);
    assert_eq!(input("client_ip"), [192, 0, 2, 7]);
    let rr = upstreams(
        "[[sites]]\nhost = \"a.test\"\nupstreams = [\"127.0.0.1:9\"]\n",
        None,
    )
    .unwrap();
    let mut buf = [0u8; 16];
    assert!(rr
        .pool(0)
        .unwrap()
        .hash_input(&head, ip, &mut buf)
        .is_empty());
}
