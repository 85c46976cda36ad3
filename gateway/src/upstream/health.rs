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
use std::sync::Arc;

use super::{PoolSeries, SitePool};

/// One server's check.
struct ServerCheck {
    backend: Backend,
    label: String,
    http: HttpHealthCheck,
    /// `sekisho_upstream_ejections_total{cause="health_check"}` of this server.
    ejections: IntCounter,
}

/// The check of one site: each server with its own TLS and SNI, one threshold pair.
pub struct SiteHealthCheck {
    site: String,
    servers: Vec<ServerCheck>,
    healthy_threshold: usize,
    unhealthy_threshold: usize,
}

impl SiteHealthCheck {
    /// `servers`: each server's backend, peer (TLS, CA, SNI) and label.
    pub(super) fn new(
        site: &Site,
        h: &HealthCheckSettings,
        servers: &[(&Backend, &HttpPeer, &str)],
        series: &PoolSeries,
    ) -> Result<Self, String> {
        let (low, high) = h.expected_status;
        let checks = servers
            .iter()
            .map(|(backend, peer, label)| {
                // The Host header: configured, the site's name, or the server's own.
                let host = match &h.host {
                    Some(host) => host.as_str(),
                    None if !site.host.starts_with("*.") => site.host.as_str(),
                    None => label.split(' ').next().unwrap_or(label),
                };
                let mut http = HttpHealthCheck::new(host, peer.is_tls());
                let mut template = (*peer).clone();
                template.options.connection_timeout = Some(h.timeout);
                template.options.total_connection_timeout = Some(h.timeout);
                template.options.read_timeout = Some(h.timeout);
                template.options.write_timeout = Some(h.timeout);
                http.peer_template = template;
                http.req = request(&h.path, host).map_err(|e| format!("health check: {e}"))?;
                // Our thresholds apply to the site's registry; each probe reports as is.
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
                let ejections = series
                    .ejections
                    .get_metric_with_label_values(&[site.host.as_str(), label, "health_check"])
                    .map_err(|e| format!("metrics: {e}"))?;
                Ok(ServerCheck {
                    backend: (*backend).clone(),
                    label: label.to_string(),
                    http,
                    ejections,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            site: site.host.clone(),
            servers: checks,
            healthy_threshold: h.healthy_threshold as usize,
            unhealthy_threshold: h.unhealthy_threshold as usize,
        })
    }

    fn server(&self, target: &Backend) -> Option<&ServerCheck> {
        self.servers.iter().find(|s| s.backend.addr == target.addr)
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
        match self.server(target) {
            Some(s) => s.http.check(target).await,
            None => Error::e_explain(ErrorType::InternalError, "not a server of this site"),
        }
    }

    async fn health_status_change(&self, target: &Backend, healthy: bool) {
        let label = self.server(target).map_or("", |s| s.label.as_str());
        if healthy {
            tracing::info!(site = %self.site, upstream = %label, "upstream passes its health checks again");
        } else {
            if let Some(s) = self.server(target) {
                s.ejections.inc();
            }
            tracing::warn!(site = %self.site, upstream = %label, "upstream failed its health checks: no requests go to it");
        }
    }

    fn backend_summary(&self, target: &Backend) -> String {
        let label = self.server(target).map_or("?", |s| s.label.as_str());
        format!("site {} upstream {label}", self.site)
    }

    fn health_threshold(&self, success: bool) -> usize {
        if success {
            self.healthy_threshold
        } else {
            self.unhealthy_threshold
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
