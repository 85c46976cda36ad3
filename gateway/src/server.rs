//! Wires the Pingora services: the proxy listener, the admin listener, the rollout
//! jobs, and (for the demo) the demo site. [`GatewayHandle`] runs a gateway on a thread and stops it
//! on request, for tests and the demo; `sekisho run` uses [`run_forever`].
use crate::admin::AdminApp;
use crate::app::App;
use crate::live::{LiveApp, ReloadOnHangup};
use crate::proxy::SekishoProxy;
use async_trait::async_trait;
use pingora::apps::http_app::HttpServer;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora::services::listening::Service;
use pingora::services::ServiceWithDependents;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub threads: usize,
    pub grace_seconds: u64,
    /// Take the listening sockets over from a running process (which is then sent
    /// SIGQUIT) instead of binding them.
    pub upgrade: bool,
    pub upgrade_sock: String,
}

impl ServerOptions {
    pub fn from_app(app: &App) -> Self {
        Self {
            threads: app.settings.server.threads,
            grace_seconds: app.settings.server.grace_period.as_secs(),
            upgrade: false,
            upgrade_sock: app.settings.server.upgrade_sock.display().to_string(),
        }
    }
}

/// Builds a Pingora server with the proxy, admin and rollout-job services (plus any
/// extra ones), all reading the live configuration.
pub fn build_server(
    live: &Arc<LiveApp>,
    opts: &ServerOptions,
    extra: Vec<Box<dyn ServiceWithDependents>>,
) -> Server {
    let app = live.current();
    let conf = ServerConf {
        threads: opts.threads.max(1),
        // In-flight requests get the grace period; whatever is still running after
        // it has one more second before the runtimes are dropped.
        grace_period_seconds: Some(opts.grace_seconds),
        graceful_shutdown_timeout_seconds: Some(1),
        upgrade_sock: opts.upgrade_sock.clone(),
        ..ServerConf::default()
    };
    let opt = Opt {
        upgrade: opts.upgrade,
        ..Opt::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(opt), conf);
    // With `upgrade`, this waits (up to about five seconds) for the old process to
    // hand over its sockets on SIGQUIT.
    server.bootstrap();

    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        SekishoProxy::new(Arc::clone(live)),
        "sekisho proxy",
    );
    proxy.add_tcp(&app.settings.server.listen.to_string());
    if let Some(t) = &app.settings.tls {
        match crate::tls::listener_settings(t) {
            Ok(settings) => proxy.add_tls_with_settings(&t.listen.to_string(), None, settings),
            // Checked by `App::build` already; a file changed since is reported here.
            Err(e) => tracing::error!(error = %e, "HTTPS listener not started"),
        }
    }
    server.add_service(proxy);

    if let Some(admin_addr) = app.settings.server.admin_listen {
        let mut admin = Service::new(
            "sekisho admin".to_string(),
            HttpServer::new_app(AdminApp::new(Arc::clone(live))),
        );
        admin.add_tcp(&admin_addr.to_string());
        server.add_service(admin);
    }
    server.add_service(crate::rollout_jobs::service(Arc::clone(live)));
    server.add_service(pingora::services::background::background_service(
        "upstream health checks",
        crate::upstream::health::HealthChecks(Arc::clone(live)),
    ));
    for s in extra {
        server.add_boxed_service(s);
    }
    server
}

/// Runs until SIGTERM (graceful) or SIGINT, reloading `config` on SIGHUP and handing
/// its listening sockets to a process started with `upgrade` on SIGQUIT; never
/// returns.
pub fn run_forever(
    app: Arc<App>,
    config: Option<std::path::PathBuf>,
    upgrade: bool,
    extra: Vec<Box<dyn ServiceWithDependents>>,
) -> ! {
    let opts = ServerOptions {
        upgrade,
        ..ServerOptions::from_app(&app)
    };
    let live = LiveApp::new(app, config);
    let mut server = build_server(&live, &opts, extra);
    server.add_service(pingora::services::background::background_service(
        "config reload on SIGHUP",
        ReloadOnHangup(Arc::clone(&live)),
    ));
    server.run_forever()
}

struct WatchShutdown(watch::Receiver<bool>);

#[async_trait]
impl ShutdownSignalWatch for WatchShutdown {
    async fn recv(&self) -> ShutdownSignal {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|stop| *stop).await;
        ShutdownSignal::FastShutdown
    }
}

/// A gateway running on its own thread.
pub struct GatewayHandle {
    pub proxy_addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    /// The configuration it started with: its stores are every later one's too.
    pub app: Arc<App>,
    pub live: Arc<LiveApp>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl GatewayHandle {
    /// Starts the server and waits until its listeners accept connections.
    pub fn spawn(
        app: Arc<App>,
        extra: Vec<Box<dyn ServiceWithDependents>>,
    ) -> std::io::Result<Self> {
        Self::spawn_live(LiveApp::new(app, None), extra)
    }

    /// [`GatewayHandle::spawn`] for a configuration that reloads (from its file).
    pub fn spawn_live(
        live: Arc<LiveApp>,
        extra: Vec<Box<dyn ServiceWithDependents>>,
    ) -> std::io::Result<Self> {
        let app = live.current();
        let opts = ServerOptions::from_app(&app);
        let server = build_server(&live, &opts, extra);
        let (stop, rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("sekisho-server".into())
            .spawn(move || {
                server.run(RunArgs {
                    shutdown_signal: Box::new(WatchShutdown(rx)),
                });
            })?;
        let proxy_addr = app.settings.server.listen;
        let admin_addr = app.settings.server.admin_listen;
        let handle = Self {
            proxy_addr,
            admin_addr,
            app,
            live,
            stop,
            thread: Some(thread),
        };
        let https = handle.app.settings.tls.as_ref().map(|t| t.listen);
        for addr in std::iter::once(proxy_addr).chain(admin_addr).chain(https) {
            if !wait_listening(addr) {
                return Err(std::io::Error::other(format!(
                    "gateway did not start listening on {addr}"
                )));
            }
        }
        Ok(handle)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.proxy_addr)
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for GatewayHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn wait_listening(addr: SocketAddr) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}
