//! Upstream pools through the real gateway: round-robin spread and hash stickiness,
//! active health checks taking a server out and bringing it back (and stopping with
//! the configuration that started them), passive ejection hidden from clients by
//! retries, POST never retried, TLS to upstreams with a CA file (and a wrong CA
//! refused), and WebSocket upgrades through an authenticated route.
use crate::harness::*;
use crate::harness_upstreams::{Deadline, PoolServer, WsEcho};
use crate::metrics::scrape as metrics;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A `[[sites]]` entry for `host` over `servers`, with more `site` keys and tables.
fn site(host: &str, servers: &[String], more: &str) -> String {
    let list: Vec<String> = servers.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "\n[[sites]]\nhost = \"{host}\"\nupstreams = [{}]\n{more}\n",
        list.join(", ")
    )
}

/// `GET /public/…` (a bypass route) for `host`: status and the answering server.
async fn get(c: &reqwest::Client, gw: &TestGateway, host: &str) -> (u16, String) {
    send(c.get(gw.url("/public/x")).header("host", host)).await
}

async fn send(req: reqwest::RequestBuilder) -> (u16, String) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let server = resp
        .headers()
        .get("x-server")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, server)
}

/// Servers `a`, `b` and `c`, and their addresses.
fn three_servers() -> ([PoolServer; 3], Vec<String>) {
    let servers = ["a", "b", "c"].map(PoolServer::start);
    let addrs = servers.iter().map(PoolServer::addr).collect();
    (servers, addrs)
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[test]
fn round_robin_spreads_and_hashing_sticks() {
    let (servers, addrs) = three_servers();
    let extra = site("rr.test", &addrs, "")
        + &site(
            "hash.test",
            &addrs,
            "balance = \"hash\"\nhash_key = \"header:x-tenant\"",
        )
        + &site("ip.test", &addrs, "balance = \"hash\"");
    let gw = TestGateway::start_with(Store::Memory, &extra);
    block_on(async {
        let c = client();
        for _ in 0..30 {
            assert_eq!(get(&c, &gw, "rr.test").await.0, 200);
        }
        let hits: Vec<usize> = servers.iter().map(PoolServer::hits).collect();
        assert_eq!(hits, [10, 10, 10], "round-robin takes turns");

        // Each tenant stays on its server; tenants spread over the servers.
        let mut homes: HashMap<String, String> = HashMap::new();
        for round in 0..3 {
            for t in 0..12 {
                let tenant = format!("tenant-{t}");
                let (status, server) = send(
                    c.get(gw.url("/public/x"))
                        .header("host", "hash.test")
                        .header("x-tenant", &tenant),
                )
                .await;
                assert_eq!(status, 200);
                let home = homes
                    .entry(tenant.clone())
                    .or_insert_with(|| server.clone());
                assert_eq!(*home, server, "{tenant} moved in round {round}");
            }
        }
        let mut used: Vec<&String> = homes.values().collect();
        used.sort();
        used.dedup();
        assert!(used.len() >= 2, "12 tenants on one server: {homes:?}");

        // By client address (the default): every request from here on one server.
        let first = get(&c, &gw, "ip.test").await.1;
        for _ in 0..10 {
            assert_eq!(get(&c, &gw, "ip.test").await.1, first);
        }
    });
}

const HEALTH: &str = "[sites.health_check]\npath = \"/health\"\ninterval = \"100ms\"\n\
                      healthy_threshold = 1\nunhealthy_threshold = 2";

/// The servers that answered `n` requests in a row.
async fn answering(c: &reqwest::Client, gw: &TestGateway, host: &str, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let (status, server) = get(c, gw, host).await;
        assert_eq!(status, 200, "no client error while a server is out");
        if !seen.contains(&server) {
            seen.push(server);
        }
    }
    seen.sort();
    seen
}

#[test]
fn health_checks_take_a_server_out_and_bring_it_back() {
    let (a, b) = (PoolServer::start("a"), PoolServer::start("b"));
    let extra = site("hc.test", &[a.addr(), b.addr()], HEALTH);
    let gw = TestGateway::start_with(Store::Memory, &extra);
    let gauge = |s: &PoolServer, v: u8| {
        format!(
            "sekisho_upstream_healthy{{site=\"hc.test\",upstream=\"{}\"}} {v}",
            s.addr()
        )
    };
    block_on(async {
        let c = client();
        assert_eq!(answering(&c, &gw, "hc.test", 4).await, ["a", "b"]);

        // b's health path fails: after two checks it gets nothing.
        b.set_health(500);
        let d = Deadline::new("b is out");
        while !has_line(&metrics(&gw).await, &gauge(&b, 0)) {
            d.tick().await;
        }
        assert_eq!(answering(&c, &gw, "hc.test", 20).await, ["a"]);
        let text = metrics(&gw).await;
        assert!(has_line(&text, &gauge(&a, 1)), "{text}");
        assert!(
            has_line(
                &text,
                &format!(
                    "sekisho_upstream_ejections_total{{cause=\"health_check\",site=\"hc.test\",upstream=\"{}\"}} 1",
                    b.addr()
                )
            ),
            "{text}"
        );

        // Healthy again: one passed check brings it back.
        b.set_health(200);
        let d = Deadline::new("b takes requests again");
        while answering(&c, &gw, "hc.test", 4).await != ["a", "b"] {
            d.tick().await;
        }

        // Stopped: the failed connections take it out; restarted: it returns.
        b.stop();
        let d = Deadline::new("stopped b is out");
        while !has_line(&metrics(&gw).await, &gauge(&b, 0)) {
            d.tick().await;
        }
        assert_eq!(answering(&c, &gw, "hc.test", 10).await, ["a"]);
        b.restart();
        let d = Deadline::new("restarted b is back");
        while answering(&c, &gw, "hc.test", 4).await != ["a", "b"] {
            d.tick().await;
        }

        // Every server out: a clean 502 page, and back when one recovers.
        a.set_health(503);
        b.set_health(503);
        let d = Deadline::new("both are out");
        loop {
            let text = metrics(&gw).await;
            if has_line(&text, &gauge(&a, 0)) && has_line(&text, &gauge(&b, 0)) {
                break;
            }
            d.tick().await;
        }
        let resp = c
            .get(gw.url("/public/x"))
            .header("host", "hc.test")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 502);
        // The page closes the connection, and says so.
        assert_eq!(resp.headers()["connection"], "close");
        let body = resp.text().await.unwrap();
        assert!(body.contains("The site is not responding"), "{body}");
        a.set_health(200);
        let d = Deadline::new("a is back");
        while get(&c, &gw, "hc.test").await.0 != 200 {
            d.tick().await;
        }
    });
}

#[test]
fn a_reload_stops_the_old_configurations_health_checks() {
    let (a, b) = (PoolServer::start("a"), PoolServer::start("b"));
    let extra = site("hc.test", &[a.addr(), b.addr()], HEALTH);
    let gw = TestGateway::start_with(Store::Memory, &extra);
    block_on(async {
        crate::harness_upstreams::wait_until("checks run", || a.health_checks() >= 3);
        // Reloads that keep the check (a rule change) keep one loop per site.
        for n in 0..3 {
            crate::reload::edit_config(&gw, |t| {
                t.replace("threads = 1", &format!("threads = 1\n# {n}"))
            });
            assert_eq!(crate::reload::reload(&gw).await.0, 200);
        }
        let before = a.health_checks();
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        let per_second = a.health_checks() - before;
        assert!(
            (5..=13).contains(&per_second),
            "one loop at 100 ms after three reloads, got {per_second} checks in 1 s"
        );

        // The health check removed: its loop stops.
        crate::reload::edit_config(&gw, |t| t.replace(HEALTH, ""));
        assert_eq!(crate::reload::reload(&gw).await.0, 200);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let stopped_at = a.health_checks();
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        assert_eq!(a.health_checks(), stopped_at, "no checks after the reload");
        assert_eq!(get(&client(), &gw, "hc.test").await.0, 200);
    });
}

#[test]
fn passive_ejection_and_retries_hide_a_dead_server_from_gets() {
    let (servers, addrs) = three_servers();
    let extra = site(
        "px.test",
        &addrs,
        "retries = 2\n[sites.passive_health]\nmax_failures = 2\ncooldown = \"1h\"",
    );
    let gw = TestGateway::start_with(Store::Memory, &extra);
    block_on(async {
        let c = client();
        servers[2].stop();
        for _ in 0..30 {
            let (status, server) = get(&c, &gw, "px.test").await;
            assert_eq!(status, 200, "the refused connection is retried elsewhere");
            assert_ne!(server, "c");
        }
        let text = metrics(&gw).await;
        let dead = &addrs[2];
        for line in [
            format!("sekisho_upstream_healthy{{site=\"px.test\",upstream=\"{dead}\"}} 0"),
            format!("sekisho_upstream_ejections_total{{cause=\"passive\",site=\"px.test\",upstream=\"{dead}\"}} 1"),
            "sekisho_upstream_retries_total{site=\"px.test\"} 2".to_string(),
        ] {
            assert!(has_line(&text, &line), "{line} in\n{text}");
        }
        // Ejected: once it is back it still waits out its cool-down.
        servers[2].restart();
        assert_eq!(answering(&c, &gw, "px.test", 10).await, ["a", "b"]);
    });
}

#[test]
fn post_is_not_retried_but_get_is() {
    let live = PoolServer::start("live");
    let dead = format!("127.0.0.1:{}", sekisho_testkit::free_port());
    // Passive ejection off: the dead server stays in turn.
    let extra = site(
        "post.test",
        &[live.addr(), dead],
        "retries = 2\n[sites.passive_health]\nmax_failures = 0",
    );
    let gw = TestGateway::start_with(Store::Memory, &extra);
    block_on(async {
        let c = client();
        let mut statuses = Vec::new();
        for _ in 0..6 {
            let req = c
                .post(gw.url("/public/form"))
                .header("host", "post.test")
                .body("x=1");
            statuses.push(send(req).await.0);
        }
        let ok = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(
            ok + statuses.iter().filter(|s| **s == 502).count(),
            6,
            "{statuses:?}"
        );
        assert!(
            (1..6).contains(&ok),
            "round-robin over a live and a dead server: {statuses:?}"
        );
        assert_eq!(
            live.hits(),
            ok,
            "no refused POST was sent again to the live server"
        );

        for _ in 0..6 {
            assert_eq!(get(&c, &gw, "post.test").await, (200, "live".to_string()));
        }
        // PUT and DELETE are idempotent too.
        for req in [c.put(gw.url("/public/x")), c.delete(gw.url("/public/x"))] {
            for _ in 0..2 {
                assert_eq!(
                    send(req.try_clone().unwrap().header("host", "post.test"))
                        .await
                        .0,
                    200
                );
            }
        }
    });
}

#[test]
fn tls_upstreams_are_verified_with_the_ca_file() {
    let pki = tempfile::tempdir().unwrap();
    crate::tls::test_pki(pki.path());
    let other = tempfile::tempdir().unwrap();
    crate::tls::test_pki(other.path());
    let tls = sekisho_testkit::HttpsServer::start(
        &pki.path().join("a.pem"),
        &pki.path().join("a.key"),
        "secure",
    );
    let url = [format!("https://127.0.0.1:{}", tls.port)];
    let ca = |dir: &tempfile::TempDir| dir.path().join("ca.pem").display().to_string();
    let extra = site(
        "tls.test",
        &url,
        &format!(
            "sni = \"localhost\"\nca_file = \"{}\"\n[sites.health_check]\npath = \"/health\"\ninterval = \"100ms\"",
            ca(&pki)
        ),
    ) + &site(
        "wrong-ca.test",
        &url,
        &format!("sni = \"localhost\"\nca_file = \"{}\"", ca(&other)),
    ) + &site(
        "wrong-name.test",
        &url,
        &format!("sni = \"other.test\"\nca_file = \"{}\"", ca(&pki)),
    ) + &site("unverified.test", &url, "verify = false");
    let gw = TestGateway::start_with(Store::Memory, &extra);
    block_on(async {
        let c = client();
        assert_eq!(get(&c, &gw, "tls.test").await, (200, "secure".to_string()));
        // The health check goes over TLS with the same CA and keeps the server in.
        let before = tls.requests.load(std::sync::atomic::Ordering::SeqCst);
        let d = Deadline::new("TLS health checks pass");
        while tls.requests.load(std::sync::atomic::Ordering::SeqCst) < before + 3 {
            d.tick().await;
        }
        assert_eq!(get(&c, &gw, "tls.test").await.0, 200);

        for host in ["wrong-ca.test", "wrong-name.test"] {
            let resp = c
                .get(gw.url("/public/x"))
                .header("host", host)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 502, "{host}");
            assert!(resp
                .text()
                .await
                .unwrap()
                .contains("The site is not responding"));
        }
        assert_eq!(
            get(&c, &gw, "unverified.test").await,
            (200, "secure".to_string())
        );
        let text = metrics(&gw).await;
        assert!(
            has_line(
                &text,
                "sekisho_upstream_errors_total{kind=\"connect\",site=\"wrong-ca.test\"} 1"
            ),
            "{text}"
        );
    });
}

#[test]
fn websocket_upgrades_pass_after_sign_in() {
    let ws = WsEcho::start();
    let extra = site("ws.test", &[format!("127.0.0.1:{}", ws.port)], "");
    let gw = TestGateway::start_with(Store::Memory, &extra);
    let url = format!("ws://ws.test:{}/members/chat", gw.handle.proxy_addr.port());
    let connect = |cookie: Option<String>| {
        let mut req = url.as_str().into_client_request().unwrap();
        if let Some(c) = cookie {
            req.headers_mut().insert("cookie", c.parse().unwrap());
        }
        let addr = gw.handle.proxy_addr;
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            tokio_tungstenite::client_async(req, tcp).await
        }
    };
    block_on(async {
        // No session: the upgrade is refused before it reaches the upstream.
        match connect(None).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 401)
            }
            other => panic!("expected a 401, got {:?}", other.map(|(_, r)| r.status())),
        }
        assert!(ws.handshakes.lock().unwrap().is_empty());

        let c = client();
        let signed_in = sign_in(&c, &gw, "user@example.com", PASSWORD, "/").await;
        let session = session_cookie(&signed_in).expect("signed in");
        let cookie = format!("sekisho_session={session}; theme=dark");
        let (mut socket, resp) = connect(Some(cookie)).await.expect("upgraded");
        assert_eq!(resp.status(), 101);

        // The upstream saw who it is talking to, and none of our cookies.
        let greeting = socket.next().await.unwrap().unwrap();
        assert_eq!(greeting, Message::text("hello user@example.com"));
        let headers = ws.handshakes.lock().unwrap()[0].clone();
        assert_eq!(header(&headers, "remote-email"), ["user@example.com"]);
        assert_eq!(header(&headers, "cookie"), ["theme=dark"]);

        // Frames both ways, text and binary.
        socket.send(Message::text("ping")).await.unwrap();
        assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("ping"));
        socket
            .send(Message::binary(vec![0u8, 1, 2, 255]))
            .await
            .unwrap();
        assert_eq!(
            socket.next().await.unwrap().unwrap(),
            Message::binary(vec![0u8, 1, 2, 255])
        );
        socket.close(None).await.unwrap();
    });
}

#[test]
fn an_idle_websocket_ends_at_the_read_timeout_without_a_page_in_the_stream() {
    let servers = [WsEcho::start(), WsEcho::start()];
    let addrs: Vec<String> = servers
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port))
        .collect();
    // One failure would eject a server: the timeout must not count as one.
    let extra = site(
        "ws.test",
        &addrs,
        "[sites.passive_health]\nmax_failures = 1\ncooldown = \"1h\"",
    ) + "\n[upstream]\nread_timeout = \"1s\"\n";
    let gw = TestGateway::start_with(Store::Memory, &extra);
    let url = format!("ws://ws.test:{}/public/chat", gw.handle.proxy_addr.port());
    block_on(async {
        let req = url.as_str().into_client_request().unwrap();
        let tcp = tokio::net::TcpStream::connect(gw.handle.proxy_addr)
            .await
            .unwrap();
        let (mut socket, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
        assert_eq!(
            socket.next().await.unwrap().unwrap(),
            Message::text("hello ")
        );
        // Idle past the read timeout: the gateway closes the connection, writing
        // nothing into it (an error page there would be read as a broken frame).
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let _ = socket.send(Message::text("late")).await;
        match socket.next().await {
            None
            | Some(Err(tokio_tungstenite::tungstenite::Error::Protocol(
                tokio_tungstenite::tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            )))
            | Some(Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed))
            | Some(Err(tokio_tungstenite::tungstenite::Error::Io(_))) => {}
            other => panic!("expected the connection to end, got {other:?}"),
        }
        // Not an upstream failure: the server stays in and no error is counted.
        let text = metrics(&gw).await;
        for addr in &addrs {
            let up = format!("sekisho_upstream_healthy{{site=\"ws.test\",upstream=\"{addr}\"}} 1");
            assert!(has_line(&text, &up), "{text}");
        }
        assert!(
            has_line(
                &text,
                "sekisho_upstream_errors_total{kind=\"timeout\",site=\"ws.test\"} 0"
            ),
            "{text}"
        );
    });
}
