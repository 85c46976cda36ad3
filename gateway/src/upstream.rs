//! Sites and their pools of upstream servers.
//!
//! Each `[[sites]]` entry becomes a [`SitePool`]: a pingora `LoadBalancer`
//! (round-robin or consistent hashing) over the site's servers, with
//!
//! - active HTTP health checks ([`health`]), run by a background service on the
//!   gateway's runtime for the live configuration only;
//! - passive ejection: a server that fails `max_failures` times in a row gets no
//!   requests for a cool-down;
//! - the per-request bookkeeping for retries: servers already tried by a request are
//!   avoided while others are available.
//!
//! A reload builds new pools; its servers keep their health state (the passive
//! counters always, the health checks' findings while the site's health check and TLS
//! settings stay the same), so a reload never sends traffic to a server known to be
//! down.
pub mod health;
mod pool;

pub use pool::{SitePool, Tried};

use pingora_prometheus::prometheus::{IntCounterVec, IntGaugeVec};
use sekisho_config::{Site, UpstreamSettings};
use std::sync::Arc;

/// The series the pools report into (registered once per gateway, shared by every
/// configuration).
#[derive(Clone)]
pub struct PoolSeries {
    /// `sekisho_upstream_healthy{site, upstream}`, set at each scrape.
    pub healthy: IntGaugeVec,
    /// `sekisho_upstream_ejections_total{site, upstream, cause}`.
    pub ejections: IntCounterVec,
}

pub struct Upstreams {
    sites: Vec<Arc<SitePool>>,
    series: PoolSeries,
}

impl Upstreams {
    /// Resolves every upstream address and reads the CA files. `previous` is the
    /// configuration being replaced: unchanged pools take over its health state.
    pub fn new(
        sites: &[Site],
        timeouts: UpstreamSettings,
        series: PoolSeries,
        previous: Option<&Upstreams>,
    ) -> Result<Self, String> {
        let sites = sites
            .iter()
            .map(|site| {
                let before =
                    previous.and_then(|p| p.sites.iter().find(|s| s.site.host == site.host));
                SitePool::new(site, &timeouts, &series, before.map(Arc::as_ref)).map(Arc::new)
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { sites, series })
    }

    /// The site serving `host` (without port). Exact hosts win over wildcards.
    pub fn find(&self, host: &str) -> Option<usize> {
        self.sites
            .iter()
            .position(|s| !s.site.host.starts_with("*.") && s.site.matches(host))
            .or_else(|| self.sites.iter().position(|s| s.site.matches(host)))
    }

    pub fn site(&self, index: usize) -> Option<&Site> {
        self.sites.get(index).map(|s| &s.site)
    }

    pub fn pool(&self, index: usize) -> Option<&SitePool> {
        self.sites.get(index).map(Arc::as_ref)
    }

    /// The pools with an active health check, for the background service.
    pub fn checked_pools(&self) -> impl Iterator<Item = &Arc<SitePool>> {
        self.sites.iter().filter(|p| p.health_interval().is_some())
    }

    /// Sets `sekisho_upstream_healthy` to this configuration's servers (and drops
    /// the series of servers a reload removed).
    pub fn refresh_gauges(&self) {
        self.series.healthy.reset();
        for pool in &self.sites {
            pool.report_health(&self.series.healthy);
        }
    }
}

/// Reads every site's `ca_file`, for `check-config`: a file that holds no PEM
/// certificate is reported before a start or reload would refuse it.
pub fn check_ca_files(sites: &[Site]) -> Result<(), String> {
    for site in sites {
        if let Some(path) = &site.pool.tls.ca_file {
            pool::read_ca(path).map_err(|e| format!("site {}: {e}", site.host))?;
        }
    }
    Ok(())
}

/// `Host` without its port (IPv6 literals keep their brackets).
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rfind(':') {
        Some(i) if host[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &host[..i],
        _ => host,
    }
}

#[cfg(test)]
mod tests;
