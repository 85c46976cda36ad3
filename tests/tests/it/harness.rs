//! Starts an echo upstream and a gateway in front of it.
use axum::extract::Request;
use axum::routing::any;
use sekisho_auth::{Email, ManualClock, NewUser, PasswordInput};
use sekisho_gateway::{App, GatewayHandle};
use sekisho_testkit::{free_port, RedisCluster, RedisServer, SmtpSink};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const T0: i64 = 1_800_000_000;
pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Memory,
    Redis,
    /// A `redis-server` with an append-only file: a restart keeps the sessions.
    RedisPersistent,
    /// Three cluster masters (`[session.redis] mode = "cluster"`).
    RedisCluster,
}

/// Every request the upstream saw: (path, headers as (lower-case name, value)).
pub type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

/// An axum app served on an ephemeral loopback port from a runtime of its own.
pub struct LocalServer {
    pub port: u16,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        // Tests drop this inside their own runtime, where a blocking drop would panic.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl LocalServer {
    pub fn serve(app: axum::Router) -> Self {
        Self::serve_on(0, app).unwrap()
    }

    /// Serves on `port` (0: an ephemeral one); fails while the port is taken.
    pub fn serve_on(port: u16, app: axum::Router) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        // Bound without `block_on`, so a test can start one inside its own runtime.
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let listener = {
            let _inside = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            port,
            runtime: Some(runtime),
        })
    }
}

/// Headers as (lower-case name, value) pairs, in order.
pub fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// An HTTP server that answers every request with a JSON list of its headers.
pub struct Upstream {
    pub port: u16,
    pub seen: Seen,
    _server: LocalServer,
}

impl Upstream {
    pub fn start() -> Self {
        let seen: Seen = Arc::default();
        let recorded = Arc::clone(&seen);
        let app = axum::Router::new().fallback(any(move |req: Request| {
            let recorded = Arc::clone(&recorded);
            async move {
                let headers = header_pairs(req.headers());
                recorded
                    .lock()
                    .unwrap()
                    .push((req.uri().path().to_string(), headers.clone()));
                (
                    [(http::header::CONTENT_TYPE, "application/json")],
                    serde_json::to_string(&headers).unwrap_or_default(),
                )
            }
        }));
        let server = LocalServer::serve(app);
        Self {
            port: server.port,
            seen,
            _server: server,
        }
    }

    /// Headers of the last request to `path`.
    pub fn last(&self, path: &str) -> Vec<(String, String)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .map(|(_, h)| h.clone())
            .unwrap_or_else(|| panic!("upstream never saw {path}"))
    }
}

pub struct TestGateway {
    pub handle: GatewayHandle,
    pub clock: Arc<ManualClock>,
    pub upstream: Upstream,
    pub base: String,
    /// The configuration file the gateway was started from (and reloads).
    pub config_path: std::path::PathBuf,
    /// The real SMTP server the gateway sends its mail to.
    pub mail: SmtpSink,
    _dir: tempfile::TempDir,
    _redis: Option<RedisServer>,
    _cluster: Option<RedisCluster>,
}

impl TestGateway {
    pub fn start(store: Store) -> Self {
        Self::start_with(store, "")
    }

    /// `extra` is appended to the config (more sites, rules, settings).
    pub fn start_with(store: Store, extra: &str) -> Self {
        let upstream = Upstream::start();
        let mail = SmtpSink::start();
        let redis = match store {
            Store::Redis => Some(RedisServer::start()),
            Store::RedisPersistent => Some(RedisServer::start_persistent()),
            Store::Memory | Store::RedisCluster => None,
        };
        let cluster = (store == Store::RedisCluster).then(RedisCluster::start);
        let dir = tempfile::tempdir().unwrap();
        let listen = free_port();
        let admin = free_port();
        let store_line = match (&redis, &cluster) {
            (Some(r), _) => format!("store = \"{}\"\nkey_prefix = \"it:\"", r.url()),
            (None, Some(_)) => "store = \"redis\"\nkey_prefix = \"it:\"".to_string(),
            (None, None) => "store = \"memory\"".to_string(),
        };
        // A table of its own, so it comes after the [session] keys.
        let redis_table = match &cluster {
            Some(c) => format!(
                "[session.redis]\nmode = \"cluster\"\nnodes = {:?}\n",
                c.nodes()
            ),
            None => String::new(),
        };
        // Tests post far faster than people; the limiter has its own tests.
        let rate_limit = if extra.contains("[rate_limit]") {
            ""
        } else {
            "[rate_limit]\nui_posts_per_minute = 60000\nui_post_burst = 10000\n"
        };
        let config = format!(
            r#"
{rate_limit}
[server]
listen = "127.0.0.1:{listen}"
admin_listen = "127.0.0.1:{admin}"
threads = 1
grace_period = "0s"

[session]
{store_line}
idle_timeout = "30m"
lifetime = "8h"
{redis_table}

[database]
url = "sqlite://{db}"

[password]
memory_kib = 1024
iterations = 1

{email}

[[sites]]
host = "127.0.0.1"
upstreams = ["127.0.0.1:{up}"]

[[sites]]
host = "other.test"
upstreams = ["127.0.0.1:{up}"]

[policy]
default = "deny"

[[rules]]
name = "public"
paths = ["/public"]
action = "bypass"

[[rules]]
name = "blocked"
paths = ["/deny"]
action = "deny"

[[rules]]
name = "admin"
paths = ["/admin"]
groups = ["admins"]
action = "two_factor"

[[rules]]
name = "admin-others"
paths = ["/admin"]
action = "deny"

[[rules]]
name = "strict-device"
paths = ["/strict-device"]
action = "two_factor"
trusted_device = false

[[rules]]
name = "fresh"
paths = ["/fresh"]
action = "two_factor"
max_mfa_age = "5m"

[[rules]]
name = "totp-only"
paths = ["/totp-only"]
action = "two_factor"
mfa_methods = ["totp", "backup_code"]

[[rules]]
name = "members"
paths = ["/members", "/api"]
action = "one_factor"
{extra}
"#,
            db = dir.path().join("it.db").display(),
            up = upstream.port,
            email = email_config(&mail),
        );
        // From a file, as `sekisho run` does, so that tests can reload it.
        let config_path = dir.path().join("sekisho.toml");
        std::fs::write(&config_path, &config).unwrap();
        let settings =
            sekisho_config::load_file(&config_path, &HashMap::<String, String>::new()).unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let app = App::build(settings, clock.clone()).unwrap();
        create_user(&app, "user@example.com", "Test User", &[]);
        create_user(&app, "admin@example.com", "山田 管理者", &["admins"]);
        let live = sekisho_gateway::live::LiveApp::new(app, Some(config_path.clone()));
        let handle = GatewayHandle::spawn_live(live, Vec::new()).unwrap();
        Self {
            config_path,
            base: format!("http://127.0.0.1:{listen}"),
            handle,
            clock,
            upstream,
            mail,
            _dir: dir,
            _redis: redis,
            _cluster: cluster,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.handle.admin_addr.unwrap())
    }

    /// Starts the Redis server again, empty, on the same port.
    pub fn restart_redis(&self) {
        if let Some(r) = &self._redis {
            r.restart();
        }
    }

    /// The single Redis server's port, if the gateway has one.
    pub fn redis_port(&self) -> Option<u16> {
        self._redis.as_ref().map(|r| r.port)
    }

    /// Stops the Redis server (to test outages).
    pub fn stop_redis(&self) {
        if let Some(r) = &self._redis {
            r.kill();
        }
    }

    /// The store's view of a session cookie value.
    pub async fn stored(&self, cookie_value: &str) -> bool {
        let key = sekisho_auth::SessionKey::from_cookie(cookie_value).unwrap();
        self.handle
            .app
            .sessions
            .store()
            .get(&key)
            .await
            .unwrap()
            .is_some()
    }
}

/// The `[email]` tables that send to `mail`.
pub fn email_config(mail: &SmtpSink) -> String {
    format!(
        r#"[email]
transport = "smtp"
from = "Sekisho <no-reply@example.com>"
timeout = "5s"

[email.smtp]
host = "127.0.0.1"
port = {}
security = "plain""#,
        mail.port()
    )
}

fn create_user(app: &App, email: &str, name: &str, groups: &[&str]) {
    let hash = app
        .ui
        .hasher
        .hash_blocking(&PasswordInput::new(PASSWORD.into()))
        .unwrap();
    app.io
        .block_on(app.ui.accounts.create_user(
            NewUser {
                email: Email::parse(email).unwrap(),
                display_name: name.into(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                department: String::new(),
                password_hash: Some(hash),
            },
            T0,
        ))
        .unwrap()
        .unwrap();
}

/// A browser-like client: cookie jar, no automatic redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Loads the sign-in form and returns its CSRF token.
pub async fn csrf_token(c: &reqwest::Client, gw: &TestGateway) -> String {
    let body = c
        .get(gw.url("/_sekisho/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the sign-in form has a CSRF token")
        .to_string()
}

/// Posts the sign-in form from the gateway's own origin.
pub async fn sign_in(
    c: &reqwest::Client,
    gw: &TestGateway,
    email: &str,
    password: &str,
    rd: &str,
) -> reqwest::Response {
    let token = csrf_token(c, gw).await;
    c.post(gw.url("/_sekisho/login"))
        .header("origin", &gw.base)
        .form(&[
            ("csrf", token.as_str()),
            ("email", email),
            ("password", password),
            ("rd", rd),
        ])
        .send()
        .await
        .unwrap()
}

/// The session cookie value the gateway set on a response.
pub fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("sekisho_session="))
        .map(|c| c.split(';').next().unwrap_or("").to_string())
        .filter(|v| !v.is_empty())
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Runs a test's client side. Gateways are started and dropped outside any runtime,
/// because they own runtimes of their own.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Runs an async scenario against a gateway on each store; `extra` config is optional.
#[macro_export]
macro_rules! on_both_stores {
    ($name:ident) => {
        $crate::on_both_stores!($name, "");
    };
    ($name:ident, $extra:expr) => {
        mod $name {
            #[test]
            fn memory() {
                let gw = $crate::harness::TestGateway::start_with(
                    $crate::harness::Store::Memory,
                    $extra,
                );
                $crate::harness::block_on(super::$name(&gw));
            }
            #[test]
            fn redis() {
                let gw =
                    $crate::harness::TestGateway::start_with($crate::harness::Store::Redis, $extra);
                $crate::harness::block_on(super::$name(&gw));
            }
        }
    };
}

/// The value of `<input name="{name}" value="…">` (or another attribute pattern).
pub fn scrape<'a>(body: &'a str, before: &str) -> Option<&'a str> {
    body.split(before).nth(1).and_then(|s| s.split('"').next())
}

/// The CSRF token of the (first) form on a page.
pub fn form_csrf(body: &str) -> String {
    scrape(body, "name=\"csrf\" value=\"")
        .expect("the page has a CSRF token")
        .to_string()
}

/// The query parameter `name` of a `Location` header.
pub fn location_param(resp: &reqwest::Response, name: &str) -> Option<String> {
    let location = resp.headers().get("location")?.to_str().ok()?;
    let query = location.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Waits (up to 10 s) until `n` received mails satisfy `want`; returns them in order
/// of arrival. Other mails (security notices sent in the background) may come between.
pub fn wait_for_mails(
    gw: &TestGateway,
    n: usize,
    want: impl Fn(&sekisho_testkit::ReceivedMail) -> bool,
) -> Vec<sekisho_testkit::ReceivedMail> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found: Vec<_> = gw.mail.messages().into_iter().filter(|m| want(m)).collect();
        if found.len() >= n {
            return found;
        }
        assert!(
            std::time::Instant::now() < until,
            "only {} of {n} awaited mails arrived",
            found.len()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
