//! A bare Pingora passthrough: the floor the gateway is measured against.
//!
//! Built like `sekisho`: the same Pingora version and features (workspace
//! dependency), the same allocator (jemalloc) and the workspace release profile, and
//! started the way `sekisho run` starts its proxy (`ServerConf` with N threads,
//! `Server::new_with_opt_and_conf`, `http_proxy_service`). It forwards every request
//! unchanged to one upstream, with the peer built as the gateway builds it.
//!
//! Usage: `bare-pingora LISTEN UPSTREAM [THREADS] [timeouts]`, e.g.
//! `bare-pingora 127.0.0.1:8000 127.0.0.1:9000 1`. With `timeouts`, the peer gets
//! the gateway's default upstream timeouts (connect 5 s, read, write and idle 60 s):
//! that shows what Pingora's timeout machinery costs by itself. Stops on
//! SIGINT/SIGTERM.
use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use std::net::SocketAddr;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

struct Passthrough {
    upstream: SocketAddr,
    /// The gateway's default upstream timeouts, when asked for (read once at start).
    timeouts: Option<sekisho_config::schema::UpstreamSection>,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        let mut peer = HttpPeer::new(self.upstream, false, String::new());
        if let Some(t) = &self.timeouts {
            let o = &mut peer.options;
            o.connection_timeout = Some(t.connect_timeout.0);
            o.total_connection_timeout = Some(t.connect_timeout.0);
            o.read_timeout = Some(t.read_timeout.0);
            o.write_timeout = Some(t.write_timeout.0);
            o.idle_timeout = Some(t.idle_timeout.0);
        }
        Ok(Box::new(peer))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(listen), Some(upstream)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bare-pingora LISTEN UPSTREAM [THREADS] [timeouts]");
        return ExitCode::from(2);
    };
    let Ok(upstream) = upstream.parse::<SocketAddr>() else {
        eprintln!("bare-pingora: UPSTREAM must be an IP:port, not {upstream}");
        return ExitCode::from(2);
    };
    let threads = match args.get(2).map(|t| t.parse::<usize>()) {
        None => 1,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("bare-pingora: THREADS must be a positive number");
            return ExitCode::from(2);
        }
    };
    let timeouts = match args.get(3).map(String::as_str) {
        None => false,
        Some("timeouts") => true,
        Some(other) => {
            eprintln!("bare-pingora: the fourth argument can only be `timeouts`, not {other}");
            return ExitCode::from(2);
        }
    };
    let conf = ServerConf {
        threads,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(
        &server.configuration,
        Passthrough {
            upstream,
            // The gateway's own defaults, so the two cannot drift apart.
            timeouts: timeouts.then(sekisho_config::schema::UpstreamSection::default),
        },
    );
    proxy.add_tcp(listen);
    server.add_service(proxy);
    server.run_forever()
}
