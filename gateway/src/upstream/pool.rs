//! One site's pool: its servers, the pingora load balancer over them, their shared
//! active-health registry, and the passive failure counters.
use super::health::{ServerChecks, SiteHealthCheck};
use super::PoolSeries;
use pingora::http::RequestHeader;
use pingora::lb::discovery::Static;
use pingora::lb::selection::{BackendIter, BackendSelection, Consistent, RoundRobin};
use pingora::lb::{Backend, Backends, HealthRegistry, LoadBalancer};
use pingora::tls::x509::X509;
use pingora::upstreams::peer::HttpPeer;
use pingora_prometheus::prometheus::{IntCounter, IntGaugeVec};
use sekisho_config::{Balance, HashKey, Site, UpstreamServer, UpstreamSettings, UpstreamTls};
use sekisho_login_ui::cookies;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Bound on the balancer's walk for an acceptable server (it may repeat servers).
const MAX_STEPS: usize = 256;

/// The CA certificates pingora checks an upstream's chain against.
pub(super) type CaList = Arc<Box<[X509]>>;

/// The servers one request has tried (by index; servers past 64 are not tracked and
/// may be tried twice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tried(u64);

impl Tried {
    pub fn add(&mut self, server: usize) {
        if server < 64 {
            self.0 |= 1 << server;
        }
    }

    pub fn has(self, server: usize) -> bool {
        server < 64 && self.0 & (1 << server) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Milliseconds on a process-wide monotonic clock, never 0 (0 means "not ejected").
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// Passive health of one server: failures in a row, and the end of its ejection.
#[derive(Default)]
struct Passive {
    failures: AtomicU32,
    ejected_until: AtomicU64,
}

impl Passive {
    fn ejected(&self) -> bool {
        let until = self.ejected_until.load(Relaxed);
        // The clock is read only while an ejection is on record.
        until != 0 && until > now_ms()
    }
}

struct Server {
    /// As configured (`host:port`), with the address when a name resolved to several.
    label: String,
    backend: Backend,
    /// Everything but the request: address, TLS, SNI, CA, timeouts.
    peer: HttpPeer,
    passive: Arc<Passive>,
    /// `sekisho_upstream_ejections_total{cause="passive"}` of this server.
    ejections: IntCounter,
}

enum Balancer {
    RoundRobin(LoadBalancer<RoundRobin>),
    Hash(LoadBalancer<Consistent>),
}

impl Balancer {
    fn select_with(&self, key: &[u8], accept: impl Fn(&Backend, bool) -> bool) -> Option<Backend> {
        match self {
            Balancer::RoundRobin(lb) => lb.select_with(key, MAX_STEPS, accept),
            Balancer::Hash(lb) => lb.select_with(key, MAX_STEPS, accept),
        }
    }

    /// Whether the active health checks (if any) consider `backend` up.
    fn ready(&self, backend: &Backend) -> bool {
        match self {
            Balancer::RoundRobin(lb) => lb.backends().ready(backend),
            Balancer::Hash(lb) => lb.backends().ready(backend),
        }
    }
}

/// What a health registry was made for: a reloaded pool with the same health check
/// and TLS settings keeps the registry, and with it what the checks found about the
/// servers it keeps.
#[derive(PartialEq)]
struct RegistryKey {
    health: Option<sekisho_config::HealthCheckSettings>,
    tls: UpstreamTls,
    ca_pem: Option<Vec<u8>>,
}

pub struct SitePool {
    pub site: Site,
    balancer: Balancer,
    registry: Arc<HealthRegistry>,
    /// The registry's per-server checks, when the site has a health check.
    checks: Option<Arc<ServerChecks>>,
    servers: Box<[Server]>,
    registry_key: RegistryKey,
}

impl SitePool {
    pub(super) fn new(
        site: &Site,
        timeouts: &UpstreamSettings,
        series: &PoolSeries,
        before: Option<&SitePool>,
    ) -> Result<Self, String> {
        let fail = |what: String| format!("site {}: {what}", site.host);
        let ca = match &site.pool.tls.ca_file {
            Some(path) => Some(read_ca(path).map_err(fail)?),
            None => None,
        };
        let mut servers: Vec<Server> = Vec::with_capacity(site.upstreams.len());
        for u in &site.upstreams {
            let addrs = resolve(&u.address).map_err(fail)?;
            for addr in &addrs {
                let label = if addrs.len() == 1 {
                    u.address.clone()
                } else {
                    format!("{} ({addr})", u.address)
                };
                let backend = Backend::new(&addr.to_string())
                    .map_err(|e| fail(format!("upstream {label}: {e}")))?;
                if let Some(other) = servers.iter().find(|s| s.backend == backend) {
                    return Err(fail(format!(
                        "upstream {} is the same server as {} ({addr})",
                        u.address, other.label
                    )));
                }
                let passive = before
                    .and_then(|b| b.servers.iter().find(|s| s.backend == backend))
                    .map_or_else(Arc::default, |s| Arc::clone(&s.passive));
                let ejections = series
                    .ejections
                    .get_metric_with_label_values(&[&site.host, &label, "passive"])
                    .map_err(|e| fail(format!("metrics: {e}")))?;
                servers.push(Server {
                    peer: peer_for(
                        u,
                        *addr,
                        &site.pool.tls,
                        timeouts,
                        ca.as_ref().map(|c| &c.1),
                    ),
                    label,
                    backend,
                    passive,
                    ejections,
                });
            }
        }
        let registry_key = RegistryKey {
            health: site.pool.health_check.clone(),
            tls: site.pool.tls.clone(),
            ca_pem: ca.as_ref().map(|c| c.0.clone()),
        };
        let (registry, checks) = match before {
            Some(b) if b.registry_key == registry_key => {
                (Arc::clone(&b.registry), b.checks.as_ref().map(Arc::clone))
            }
            _ => {
                let registry = HealthRegistry::new();
                let checks = site
                    .pool
                    .health_check
                    .as_ref()
                    .map(|h| Arc::new(ServerChecks::new(site, h, series)));
                if let Some(c) = &checks {
                    registry.set_health_check(Box::new(SiteHealthCheck::new(Arc::clone(c))));
                }
                (Arc::new(registry), checks)
            }
        };
        if let Some(c) = &checks {
            let targets: Vec<_> = servers
                .iter()
                .map(|s| (&s.backend, &s.peer, s.label.as_str()))
                .collect();
            c.add(&targets).map_err(fail)?;
        }
        let set: BTreeSet<Backend> = servers.iter().map(|s| s.backend.clone()).collect();
        let view = Backends::new_with_health_registry(Static::new(set), Arc::clone(&registry));
        let balancer = match site.pool.balance {
            Balance::RoundRobin => Balancer::RoundRobin(balancer(view).map_err(fail)?),
            Balance::Hash => Balancer::Hash(balancer(view).map_err(fail)?),
        };
        Ok(Self {
            site: site.clone(),
            balancer,
            registry,
            checks,
            servers: servers.into_boxed_slice(),
            registry_key,
        })
    }

    /// What requests are hashed on, for `balance = "hash"` sites.
    pub fn hash_key(&self) -> Option<&HashKey> {
        (self.site.pool.balance == Balance::Hash).then_some(&self.site.pool.hash_key)
    }

    /// What a request hashes to on a `hash` site: the configured cookie or header,
    /// else (and when the request has none) the client's address, written into `buf`.
    /// Empty for round-robin. No allocation: this runs for every proxied request.
    pub fn hash_input<'a>(
        &self,
        head: &'a RequestHeader,
        client: IpAddr,
        buf: &'a mut [u8; 16],
    ) -> &'a [u8] {
        let found = match self.hash_key() {
            None => return &[],
            Some(HashKey::ClientIp) => None,
            Some(HashKey::Cookie(name)) => cookies::find(&head.headers, name).map(str::as_bytes),
            Some(HashKey::Header(name)) => head.headers.get(name.as_str()).map(|v| v.as_bytes()),
        };
        match found.filter(|k| !k.is_empty()) {
            Some(key) => key,
            None => match client {
                IpAddr::V4(a) => {
                    buf[..4].copy_from_slice(&a.octets());
                    &buf[..4]
                }
                IpAddr::V6(a) => {
                    *buf = a.octets();
                    &buf[..]
                }
            },
        }
    }

    /// Retries allowed after a first failed attempt.
    pub fn retries(&self) -> u32 {
        self.site.pool.retries
    }

    fn index_of(&self, backend: &Backend) -> Option<usize> {
        self.servers
            .iter()
            .position(|s| s.backend.addr == backend.addr)
    }

    /// A server for the next attempt: up by the health checks, not ejected, and not
    /// tried by this request while an untried one is up. `None` when every server is
    /// down.
    pub fn select(&self, key: &[u8], tried: Tried) -> Option<(usize, Box<HttpPeer>)> {
        let pick = |avoid_tried: bool| {
            let chosen = Cell::new(None);
            self.balancer.select_with(key, |b, healthy| {
                let Some(i) = self.index_of(b) else {
                    return false;
                };
                let ok =
                    healthy && !(avoid_tried && tried.has(i)) && !self.servers[i].passive.ejected();
                if ok {
                    chosen.set(Some(i));
                }
                ok
            })?;
            chosen.get()
        };
        let i = pick(true).or_else(|| (!tried.is_empty()).then(|| pick(false)).flatten())?;
        Some((i, Box::new(self.servers[i].peer.clone())))
    }

    /// The server failed (no connection, a broken answer, a `failure_statuses`
    /// status): after `max_failures` in a row it is ejected for the cool-down. A site
    /// with one server never ejects it (there would be nothing left to try).
    pub fn failed(&self, server: usize) {
        let p = &self.site.pool.passive;
        if p.max_failures == 0 || self.servers.len() < 2 {
            return;
        }
        let Some(s) = self.servers.get(server) else {
            return;
        };
        let failures = s.passive.failures.fetch_add(1, Relaxed) + 1;
        if failures >= p.max_failures {
            s.passive.failures.store(0, Relaxed);
            s.passive
                .ejected_until
                .store(now_ms() + p.cooldown.as_millis() as u64, Relaxed);
            s.ejections.inc();
            tracing::warn!(
                site = %self.site.host,
                upstream = %s.label,
                failures,
                cooldown = ?p.cooldown,
                "upstream ejected after consecutive failures"
            );
        }
    }

    /// The server answered with `status`.
    pub fn answered(&self, server: usize, status: u16) {
        if self.site.pool.passive.failure_statuses.contains(&status) {
            self.failed(server);
        } else if let Some(s) = self.servers.get(server) {
            // Read first: a healthy server's counter stays untouched (no shared write).
            if s.passive.failures.load(Relaxed) != 0 {
                s.passive.failures.store(0, Relaxed);
            }
        }
    }

    pub(super) fn health_interval(&self) -> Option<Duration> {
        self.site.pool.health_check.as_ref().map(|h| h.interval)
    }

    /// One active check of every server (concurrently).
    pub(super) async fn run_health_check(&self) {
        self.registry.run_health_check(true).await;
    }

    /// Whether a server takes requests now (health checks and ejection).
    pub fn is_up(&self, server: usize) -> bool {
        self.servers
            .get(server)
            .is_some_and(|s| self.balancer.ready(&s.backend) && !s.passive.ejected())
    }

    pub(super) fn report_health(&self, gauges: &IntGaugeVec) {
        for (i, s) in self.servers.iter().enumerate() {
            if let Ok(g) = gauges.get_metric_with_label_values(&[&self.site.host, &s.label]) {
                g.set(i64::from(self.is_up(i)));
            }
        }
    }
}

fn balancer<S>(view: Backends) -> Result<LoadBalancer<S>, String>
where
    S: BackendSelection + 'static,
    S::Iter: BackendIter,
{
    let lb = LoadBalancer::<S>::from_backends(view);
    // A static list is discovered without waiting: poll the update once, here, so
    // building a configuration needs no runtime (a reload runs inside one).
    let outcome = {
        let mut update = std::pin::pin!(lb.update());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::future::Future::poll(update.as_mut(), &mut cx)
    };
    match outcome {
        std::task::Poll::Ready(Ok(())) => Ok(lb),
        std::task::Poll::Ready(Err(e)) => Err(format!("upstream list: {e}")),
        std::task::Poll::Pending => Err("upstream list was not ready".into()),
    }
}

fn resolve(address: &str) -> Result<Vec<SocketAddr>, String> {
    let mut addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve upstream {address}: {e}"))?
        .collect();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(format!("upstream {address} resolves to no address"));
    }
    Ok(addrs)
}

/// The PEM text (to notice a changed file on reload) and its certificates.
pub(super) fn read_ca(path: &Path) -> Result<(Vec<u8>, CaList), String> {
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
    let certs = X509::stack_from_pem(&pem)
        .map_err(|e| format!("ca_file {} is not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("ca_file {} holds no certificate", path.display()));
    }
    Ok((pem, Arc::new(certs.into_boxed_slice())))
}

/// The peer for one server: TLS with its SNI name (the configured `sni`, else the
/// server's host name; IP addresses send none), the CA list, verification, timeouts.
fn peer_for(
    u: &UpstreamServer,
    addr: SocketAddr,
    tls: &UpstreamTls,
    t: &UpstreamSettings,
    ca: Option<&CaList>,
) -> HttpPeer {
    let sni = match (&tls.sni, u.tls) {
        (_, false) => String::new(),
        (Some(name), true) => name.clone(),
        (None, true) if u.host.parse::<std::net::IpAddr>().is_ok() => String::new(),
        (None, true) => u.host.clone(),
    };
    let mut peer = HttpPeer::new(addr, u.tls, sni);
    let o = &mut peer.options;
    o.connection_timeout = Some(t.connect_timeout);
    o.total_connection_timeout = Some(t.connect_timeout);
    o.read_timeout = Some(t.read_timeout);
    o.write_timeout = Some(t.write_timeout);
    o.idle_timeout = Some(t.idle_timeout);
    if u.tls {
        o.verify_cert = tls.verify;
        o.verify_hostname = tls.verify;
        o.ca = ca.cloned();
    }
    peer
}
