//! Upstreams for the pool tests: [`PoolServer`] answers with its name, lets a test
//! change what its health path answers, and stops and starts again on the same port;
//! [`WsEcho`] is a WebSocket server that greets with the identity it was sent and
//! echoes every frame.
use crate::harness::LocalServer;
use axum::extract::Request;
use axum::routing::{any, get};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Waits up to 10 s for `ok`, polling every 20 ms; panics with `what` otherwise.
pub fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The async form of [`wait_until`]: `while !ok().await { deadline.tick().await }`.
pub struct Deadline {
    what: &'static str,
    until: Instant,
}

impl Deadline {
    /// 10 s to reach `what`.
    pub fn new(what: &'static str) -> Self {
        Self {
            what,
            until: Instant::now() + Duration::from_secs(10),
        }
    }

    /// Waits a little; panics once the time is up.
    pub async fn tick(&self) {
        assert!(
            Instant::now() < self.until,
            "timed out waiting until {}",
            self.what
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub struct PoolServer {
    pub name: &'static str,
    pub port: u16,
    /// What `GET /health` answers.
    health: Arc<AtomicU16>,
    /// Requests other than health checks.
    hits: Arc<AtomicUsize>,
    health_checks: Arc<AtomicUsize>,
    server: Mutex<Option<LocalServer>>,
}

impl PoolServer {
    pub fn start(name: &'static str) -> Self {
        let s = Self {
            name,
            port: 0,
            health: Arc::new(AtomicU16::new(200)),
            hits: Arc::default(),
            health_checks: Arc::default(),
            server: Mutex::new(None),
        };
        let server = LocalServer::serve(s.app());
        Self {
            port: server.port,
            server: Mutex::new(Some(server)),
            ..s
        }
    }

    fn app(&self) -> axum::Router {
        let (health, checks, hits, name) = (
            Arc::clone(&self.health),
            Arc::clone(&self.health_checks),
            Arc::clone(&self.hits),
            self.name,
        );
        axum::Router::new()
            .route(
                "/health",
                get(move || {
                    checks.fetch_add(1, Ordering::SeqCst);
                    let status = health.load(Ordering::SeqCst);
                    async move { http::StatusCode::from_u16(status).unwrap() }
                }),
            )
            .fallback(any(move |_req: Request| {
                hits.fetch_add(1, Ordering::SeqCst);
                async move { ([("x-server", name)], name) }
            }))
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn set_health(&self, status: u16) {
        self.health.store(status, Ordering::SeqCst);
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn health_checks(&self) -> usize {
        self.health_checks.load(Ordering::SeqCst)
    }

    /// Stops listening; returns once connections are refused.
    pub fn stop(&self) {
        self.server.lock().unwrap().take();
        wait_until(&format!("{} refuses connections", self.name), || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err()
        });
    }

    /// Serves again on the same port.
    pub fn restart(&self) {
        let mut slot = self.server.lock().unwrap();
        let mut started = None;
        wait_until(&format!("{} listens again", self.name), || {
            started = LocalServer::serve_on(self.port, self.app()).ok();
            started.is_some()
        });
        *slot = started;
    }
}

/// Request headers a WebSocket handshake carried, as (lower-case name, value).
pub type Handshakes = Arc<Mutex<Vec<Vec<(String, String)>>>>;

pub struct WsEcho {
    pub port: u16,
    pub handshakes: Handshakes,
    _runtime: RuntimeGuard,
}

struct RuntimeGuard(Option<tokio::runtime::Runtime>);

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl WsEcho {
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshakes: Handshakes = Arc::default();
        let seen = Arc::clone(&handshakes);
        let listener = {
            let _inside = runtime.enter();
            tokio::net::TcpListener::from_std(listener).unwrap()
        };
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(echo(stream, Arc::clone(&seen)));
            }
        });
        Self {
            port,
            handshakes,
            _runtime: RuntimeGuard(Some(runtime)),
        }
    }
}

/// Greets with `hello <Remote-User>`, then sends every text and binary frame back.
// The handshake callback's error type is tungstenite's own (a whole HTTP response).
#[allow(clippy::result_large_err)]
async fn echo(stream: tokio::net::TcpStream, seen: Handshakes) {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    let user = Arc::new(Mutex::new(String::new()));
    let found = Arc::clone(&user);
    let record = move |req: &Request, resp: Response| {
        let headers = crate::harness::header_pairs(req.headers());
        if let Some((_, u)) = headers.iter().find(|(k, _)| k == "remote-user") {
            *found.lock().unwrap() = u.clone();
        }
        seen.lock().unwrap().push(headers);
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, record).await else {
        return;
    };
    let greeting = format!("hello {}", user.lock().unwrap());
    if ws.send(Message::text(greeting)).await.is_err() {
        return;
    }
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_close() {
            return;
        }
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}
