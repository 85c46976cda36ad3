//! Active health checks: a `GET` of the site's health path on every server, every
//! interval, through pingora's health registry (thresholds, the pool's readiness).
//!
//! [`HealthChecks`] is the background service that runs them, on the gateway's own
//! runtime, for the live configuration only: each reload stops the loops of the
//! configuration it replaces (they are aborted with their task set) and starts the new
//! one's, so neither loops nor old pools pile up across reloads.
use crate::live::LiveApp;
use async_trait::async_trait;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::lb::health_check::{HealthCheck, HttpHealthCheck};
use pingora::lb::Backend;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType};
use pingora_prometheus::prometheus::IntCounter;
use sekisho_config::{HealthCheckSettings, Site};
use std::sync::{Arc, RwLock};

use super::{PoolSeries, SitePool};

/// One server's check.
struct ServerCheck {
    backend: Backend,
    tls: bool,
    sni: String,
    label: String,
    http: HttpHealthCheck,
    /// `sekisho_upstream_ejections_total{cause="health_check"}` of this server.
    ejections: IntCounter,
}

/// The checks of one site's servers. A reload that keeps the site's health check and
/// TLS settings keeps these (and the registry's findings) and adds its new servers;
/// entries of removed servers stay, unused, so a reload that is rejected half-way
/// leaves the running pool's checks intact.
pub(super) struct ServerChecks {
    site: Site,
    settings: HealthCheckSettings,
    series: PoolSeries,
    list: RwLock<Vec<Arc<ServerCheck>>>,
}

impl ServerChecks {
    pub(super) fn new(site: &Site, settings: &HealthCheckSettings, series: &PoolSeries) -> Self {
        Self {
            site: site.clone(),
            settings: settings.clone(),
            series: series.clone(),
            list: RwLock::default(),
        }
    }

    /// Adds a check for each server (backend, peer with TLS/CA/SNI, label) not
    /// checked yet.
    pub(super) fn add(&self, servers: &[(&Backend, &HttpPeer, &str)]) -> Result<(), String> {
        let mut list = self.list.write().unwrap_or_else(|e| e.into_inner());
        for (backend, peer, label) in servers {
            let known = list
                .iter()
                .any(|c| c.backend == **backend && c.tls == peer.is_tls() && c.sni == peer.sni);
            if !known {
                list.push(Arc::new(self.check(backend, peer, label)?));
            }
        }
        Ok(())
    }

    fn check(
        &self,
        backend: &Backend,
        peer: &HttpPeer,
        label: &str,
    ) -> Result<ServerCheck, String> {
        let h = &self.settings;
        let (low, high) = h.expected_status;
        // The Host header: configured, the site's name, or the server's own.
        let host = match &h.host {
            Some(host) => host.as_str(),
            None if !self.site.host.starts_with("*.") => self.site.host.as_str(),
            None => label.split(' ').next().unwrap_or(label),
        };
        let mut http = HttpHealthCheck::new(host, peer.is_tls());
        let mut template = peer.clone();
        template.options.connection_timeout = Some(h.timeout);
        template.options.total_connection_timeout = Some(h.timeout);
        template.options.read_timeout = Some(h.timeout);
        template.options.write_timeout = Some(h.timeout);
        http.peer_template = template;
        http.req = request(&h.path, host).map_err(|e| format!("health check: {e}"))?;
        // The thresholds are applied by the registry (see `SiteHealthCheck`).
        http.consecutive_success = 1;
        http.consecutive_failure = 1;
        http.validator = Some(Box::new(move |resp: &ResponseHeader| {
            let status = resp.status.as_u16();
            if (low..=high).contains(&status) {
                Ok(())
            } else {
                Error::e_explain(
                    ErrorType::CustomCode("unexpected health check status", status),
                    format!("status {status}, expected {low}-{high}"),
                )
            }
        }));
        let ejections = self
            .series
            .ejections
            .get_metric_with_label_values(&[self.site.host.as_str(), label, "health_check"])
            .map_err(|e| format!("metrics: {e}"))?;
        Ok(ServerCheck {
            backend: backend.clone(),
            tls: peer.is_tls(),
            sni: peer.sni.clone(),
            label: label.to_string(),
            http,
            ejections,
        })
    }

    /// The newest check of `target`.
    fn find(&self, target: &Backend) -> Option<Arc<ServerCheck>> {
        let list = self.list.read().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .rev()
            .find(|c| c.backend.addr == target.addr)
            .cloned()
    }
}

/// The check a site's health registry runs: each server with its own TLS and SNI,
/// one threshold pair.
pub(super) struct SiteHealthCheck {
    checks: Arc<ServerChecks>,
}

impl SiteHealthCheck {
    pub(super) fn new(checks: Arc<ServerChecks>) -> Self {
        Self { checks }
    }
}

fn request(path: &str, host: &str) -> pingora::Result<RequestHeader> {
    let mut req = RequestHeader::build("GET", path.as_bytes(), None)?;
    req.insert_header(http::header::HOST, host)?;
    req.insert_header(http::header::USER_AGENT, "sekisho-health-check")?;
    Ok(req)
}

#[async_trait]
impl HealthCheck for SiteHealthCheck {
    async fn check(&self, target: &Backend) -> pingora::Result<()> {
        match self.checks.find(target) {
            Some(c) => c.http.check(target).await,
            None => Error::e_explain(ErrorType::InternalError, "not a server of this site"),
        }
    }

    async fn health_status_change(&self, target: &Backend, healthy: bool) {
        let Some(c) = self.checks.find(target) else {
            return;
        };
        let site = &self.checks.site.host;
        if healthy {
            tracing::info!(site = %site, upstream = %c.label, "upstream passes its health checks again");
        } else {
            c.ejections.inc();
            tracing::warn!(site = %site, upstream = %c.label, "upstream failed its health checks: no requests go to it");
        }
    }

    fn backend_summary(&self, target: &Backend) -> String {
        let label = self.checks.find(target).map(|c| c.label.clone());
        format!(
            "site {} upstream {}",
            self.checks.site.host,
            label.as_deref().unwrap_or("?")
        )
    }

    fn health_threshold(&self, success: bool) -> usize {
        let h = &self.checks.settings;
        if success {
            h.healthy_threshold as usize
        } else {
            h.unhealthy_threshold as usize
        }
    }
}

/// Runs the live configuration's health checks; see the module docs.
pub struct HealthChecks(pub Arc<LiveApp>);

#[async_trait]
impl BackgroundService for HealthChecks {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut reloads = self.0.subscribe();
        loop {
            // Dropping the set (next turn, or on return) aborts every loop in it.
            let mut running = tokio::task::JoinSet::new();
            for pool in self.0.current().upstreams.checked_pools() {
                running.spawn(check_forever(Arc::clone(pool)));
            }
            tokio::select! {
                changed = reloads.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

async fn check_forever(pool: Arc<SitePool>) {
    let Some(every) = pool.health_interval() else {
        return;
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        pool.run_health_check().await;
    }
}
