//! The request-path series: what the gateway did with each request, how long it took,
//! and how the upstreams answered.
//!
//! - `sekisho_requests_total{site, action, status_class}`
//! - `sekisho_request_duration_seconds{action}` (histogram, whole request)
//! - `sekisho_upstream_duration_seconds{site}` (histogram, request sent → response
//!   header)
//! - `sekisho_upstream_errors_total{site, kind}`
//! - `sekisho_upstream_retries_total{site}`
//! - `sekisho_upstream_healthy{site, upstream}` (set from the pools at each scrape) and
//!   `sekisho_upstream_ejections_total{site, upstream, cause}` (see [`crate::upstream`])
//!
//! Sites are fixed for the life of an `App`, so every series is resolved to its
//! counter or histogram up front (the request counters on first use) and indexed by
//! position: counting a request is an index, an atomic load and an atomic add — no
//! label strings, no hashing, no lock. `site` is the configured host pattern (or
//! `unknown`), never the raw `Host` header, so a client cannot mint label values.
//!
//! Everything lives in the gateway's own [`Registry`] (see [`crate::telemetry`]), built
//! with `pingora_prometheus`'s re-export of `prometheus`.
use crate::upstream::PoolSeries;
use pingora_prometheus::prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use sekisho_config::Site;
use std::sync::OnceLock;
use std::time::Duration;

pub type SeriesResult<T> = Result<T, pingora_prometheus::prometheus::Error>;

/// The `site` label of a request for a host no site serves.
pub const UNKNOWN_SITE: &str = "unknown";

/// Latency buckets (seconds) for requests and upstream answers: 1 ms to 30 s.
const REQUEST_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A registry's series in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    use pingora_prometheus::prometheus::Encoder;
    let mut buf = Vec::new();
    let _ = pingora_prometheus::prometheus::TextEncoder::new().encode(&registry.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

pub(crate) fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> SeriesResult<IntCounterVec> {
    let vec = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(vec.clone()))?;
    Ok(vec)
}

pub(crate) fn histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> SeriesResult<HistogramVec> {
    let vec = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )?;
    registry.register(Box::new(vec.clone()))?;
    Ok(vec)
}

/// What the gateway did with a request, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Ui,
    Bypass,
    OneFactor,
    TwoFactor,
    Deny,
    UnknownSite,
    /// Plain HTTP sent to the HTTPS listener (`[tls] redirect_http`).
    HttpsRedirect,
}

impl Route {
    /// In discriminant order, so `route as usize` indexes it.
    pub const ALL: [Route; 7] = [
        Route::Ui,
        Route::Bypass,
        Route::OneFactor,
        Route::TwoFactor,
        Route::Deny,
        Route::UnknownSite,
        Route::HttpsRedirect,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Route::Ui => "ui",
            Route::Bypass => "bypass",
            Route::OneFactor => "one_factor",
            Route::TwoFactor => "two_factor",
            Route::Deny => "deny",
            Route::UnknownSite => "unknown_site",
            Route::HttpsRedirect => "https_redirect",
        }
    }
}

const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

fn class_index(status: u16) -> usize {
    match status {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        500..=599 => 4,
        _ => 5,
    }
}

/// Why proxying to an upstream failed, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamError {
    /// No connection: refused, unreachable, TLS handshake, connect timeout.
    Connect,
    /// Connected, but reading or writing timed out.
    Timeout,
    /// Connected, but the exchange broke: closed early, malformed response.
    Protocol,
    /// The site has no upstream server to try.
    NoPeer,
}

impl UpstreamError {
    pub const ALL: [UpstreamError; 4] = [
        UpstreamError::Connect,
        UpstreamError::Timeout,
        UpstreamError::Protocol,
        UpstreamError::NoPeer,
    ];

    pub fn label(self) -> &'static str {
        match self {
            UpstreamError::Connect => "connect",
            UpstreamError::Timeout => "timeout",
            UpstreamError::Protocol => "protocol",
            UpstreamError::NoPeer => "no_peer",
        }
    }

    /// Classifies a Pingora error that ended a proxied request.
    pub fn of(etype: &pingora::ErrorType) -> Self {
        use pingora::ErrorType as E;
        match etype {
            E::ConnectNoRoute => UpstreamError::NoPeer,
            E::ConnectTimedout
            | E::ConnectRefused
            | E::ConnectError
            | E::TLSHandshakeFailure
            | E::TLSHandshakeTimedout
            | E::InvalidCert
            | E::HandshakeError
            | E::ConnectProxyFailure
            | E::SocketError
            | E::BindError => UpstreamError::Connect,
            E::ReadTimedout | E::WriteTimedout => UpstreamError::Timeout,
            _ => UpstreamError::Protocol,
        }
    }
}

/// The request-path series of one gateway, registered once. The per-site children
/// live in a [`SiteSeries`] made for each configuration (a reload may add, remove or
/// reorder sites, and site indexes are the configuration's).
pub struct RequestMetrics {
    requests: IntCounterVec,
    upstream_vec: HistogramVec,
    errors_vec: IntCounterVec,
    retries_vec: IntCounterVec,
    /// The pools' health and ejection series.
    pub pools: PoolSeries,
    /// By `Route as usize`.
    request_seconds: Vec<Histogram>,
}

/// One configuration's per-site series, by site index.
pub struct SiteSeries {
    /// Configured site hosts, then [`UNKNOWN_SITE`].
    site_labels: Vec<String>,
    /// (site slot, route, class) → counter, made on first use so that only what
    /// happened is exported.
    counters: Vec<OnceLock<IntCounter>>,
    upstream_seconds: Vec<Histogram>,
    /// By site index, then `UpstreamError as usize`.
    upstream_errors: Vec<IntCounter>,
    /// By site index.
    upstream_retries: Vec<IntCounter>,
}

impl RequestMetrics {
    pub fn new(registry: &Registry) -> SeriesResult<Self> {
        let requests = counter_vec(
            registry,
            "sekisho_requests_total",
            "Requests by site, what the gateway did (rule action) and response status class",
            &["site", "action", "status_class"],
        )?;
        let request_vec = histogram_vec(
            registry,
            "sekisho_request_duration_seconds",
            "Whole requests, first byte in to last byte out, by rule action",
            &["action"],
            &REQUEST_BUCKETS,
        )?;
        let upstream_vec = histogram_vec(
            registry,
            "sekisho_upstream_duration_seconds",
            "Time from sending a request upstream to its response header, by site",
            &["site"],
            &REQUEST_BUCKETS,
        )?;
        let errors_vec = counter_vec(
            registry,
            "sekisho_upstream_errors_total",
            "Proxied requests that failed at the upstream, by site and kind",
            &["site", "kind"],
        )?;
        let retries_vec = counter_vec(
            registry,
            "sekisho_upstream_retries_total",
            "Requests sent to another upstream server after an attempt failed, by site",
            &["site"],
        )?;
        let healthy = IntGaugeVec::new(
            Opts::new(
                "sekisho_upstream_healthy",
                "1 when an upstream server takes requests (health checks pass, not ejected)",
            ),
            &["site", "upstream"],
        )?;
        registry.register(Box::new(healthy.clone()))?;
        let ejections = counter_vec(
            registry,
            "sekisho_upstream_ejections_total",
            "Upstream servers taken out of their pool, by cause (passive, health_check)",
            &["site", "upstream", "cause"],
        )?;
        let request_seconds = Route::ALL
            .iter()
            .map(|r| request_vec.get_metric_with_label_values(&[r.label()]))
            .collect::<SeriesResult<Vec<_>>>()?;
        Ok(Self {
            requests,
            upstream_vec,
            errors_vec,
            retries_vec,
            pools: PoolSeries { healthy, ejections },
            request_seconds,
        })
    }

    /// The children for `sites`; a site kept across a reload keeps its series.
    pub fn for_sites(&self, sites: &[Site]) -> SeriesResult<SiteSeries> {
        let mut site_labels: Vec<String> = sites.iter().map(|s| s.host.clone()).collect();
        let upstream_seconds = site_labels
            .iter()
            .map(|s| {
                self.upstream_vec
                    .get_metric_with_label_values(&[s.as_str()])
            })
            .collect::<SeriesResult<Vec<_>>>()?;
        let upstream_errors = site_labels
            .iter()
            .flat_map(|s| UpstreamError::ALL.iter().map(move |k| (s, k)))
            .map(|(s, k)| {
                self.errors_vec
                    .get_metric_with_label_values(&[s.as_str(), k.label()])
            })
            .collect::<SeriesResult<Vec<_>>>()?;
        let upstream_retries = site_labels
            .iter()
            .map(|s| self.retries_vec.get_metric_with_label_values(&[s.as_str()]))
            .collect::<SeriesResult<Vec<_>>>()?;
        site_labels.push(UNKNOWN_SITE.to_string());
        let counters = (0..site_labels.len() * Route::ALL.len() * CLASSES.len())
            .map(|_| OnceLock::new())
            .collect();
        Ok(SiteSeries {
            site_labels,
            counters,
            upstream_seconds,
            upstream_errors,
            upstream_retries,
        })
    }

    /// Counts a finished request. `site` is `None` for hosts no site serves.
    pub fn request(
        &self,
        by_site: &SiteSeries,
        site: Option<usize>,
        route: Route,
        status: u16,
        took: Duration,
    ) {
        let sites = by_site.site_labels.len();
        let slot = site.filter(|i| *i + 1 < sites).unwrap_or(sites - 1);
        let class = class_index(status);
        let index = (slot * Route::ALL.len() + route as usize) * CLASSES.len() + class;
        if let Some(cell) = by_site.counters.get(index) {
            let counter = cell.get_or_init(|| {
                self.requests.with_label_values(&[
                    by_site.site_labels[slot].as_str(),
                    route.label(),
                    CLASSES[class],
                ])
            });
            counter.inc();
        }
        if let Some(h) = self.request_seconds.get(route as usize) {
            h.observe(took.as_secs_f64());
        }
    }
}

impl SiteSeries {
    /// An upstream response header arrived `took` after the request was sent.
    pub fn upstream_answered(&self, site: usize, took: Duration) {
        if let Some(h) = self.upstream_seconds.get(site) {
            h.observe(took.as_secs_f64());
        }
    }

    /// A failed attempt is tried again on another (or the same) server.
    pub fn upstream_retried(&self, site: usize) {
        if let Some(c) = self.upstream_retries.get(site) {
            c.inc();
        }
    }

    pub fn upstream_failed(&self, site: usize, kind: UpstreamError) {
        let index = site * UpstreamError::ALL.len() + kind as usize;
        if let Some(c) = self.upstream_errors.get(index) {
            c.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites() -> Vec<Site> {
        ["app.example.com", "*.example.org"]
            .into_iter()
            .map(|h| Site {
                host: h.into(),
                upstreams: Vec::new(),
                scheme: None,
                pool: Default::default(),
            })
            .collect()
    }

    #[test]
    fn requests_land_on_their_site_action_and_class() {
        let registry = Registry::new();
        let m = RequestMetrics::new(&registry).unwrap();
        let by = m.for_sites(&sites()).unwrap();
        let ms = Duration::from_millis(3);
        m.request(&by, Some(0), Route::Bypass, 200, ms);
        m.request(&by, Some(0), Route::Bypass, 204, ms);
        m.request(&by, Some(1), Route::TwoFactor, 302, ms);
        m.request(&by, None, Route::UnknownSite, 404, ms);
        m.request(&by, Some(7), Route::UnknownSite, 0, ms);
        by.upstream_answered(1, Duration::from_millis(20));
        by.upstream_failed(0, UpstreamError::of(&pingora::ErrorType::ConnectRefused));
        let text = render(&registry);
        for line in [
            r#"sekisho_requests_total{action="bypass",site="app.example.com",status_class="2xx"} 2"#,
            r#"sekisho_requests_total{action="two_factor",site="*.example.org",status_class="3xx"} 1"#,
            r#"sekisho_requests_total{action="unknown_site",site="unknown",status_class="4xx"} 1"#,
            r#"sekisho_requests_total{action="unknown_site",site="unknown",status_class="none"} 1"#,
            r#"sekisho_request_duration_seconds_count{action="bypass"} 2"#,
            r#"sekisho_request_duration_seconds_count{action="deny"} 0"#,
            r#"sekisho_upstream_duration_seconds_count{site="*.example.org"} 1"#,
            r#"sekisho_upstream_duration_seconds_bucket{site="*.example.org",le="0.025"} 1"#,
            r#"sekisho_upstream_duration_seconds_bucket{site="*.example.org",le="0.01"} 0"#,
            r#"sekisho_upstream_errors_total{kind="connect",site="app.example.com"} 1"#,
            r#"sekisho_upstream_errors_total{kind="timeout",site="app.example.com"} 0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("sekisho_requests_total{"))
                .count(),
            4,
            "only what happened is exported:\n{text}"
        );
    }

    #[test]
    fn a_reloaded_site_list_keeps_the_series_of_kept_sites() {
        let registry = Registry::new();
        let m = RequestMetrics::new(&registry).unwrap();
        let before = m.for_sites(&sites()).unwrap();
        m.request(&before, Some(1), Route::Bypass, 200, Duration::ZERO);
        // The reload drops app.example.com: *.example.org is now index 0.
        let after = m.for_sites(&sites()[1..]).unwrap();
        m.request(&after, Some(0), Route::Bypass, 200, Duration::ZERO);
        m.request(&after, Some(1), Route::Bypass, 200, Duration::ZERO);
        let text = render(&registry);
        for line in [
            r#"sekisho_requests_total{action="bypass",site="*.example.org",status_class="2xx"} 2"#,
            r#"sekisho_requests_total{action="bypass",site="unknown",status_class="2xx"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn upstream_errors_are_classified() {
        use pingora::ErrorType as E;
        assert_eq!(
            UpstreamError::of(&E::ConnectTimedout),
            UpstreamError::Connect
        );
        assert_eq!(UpstreamError::of(&E::ReadTimedout), UpstreamError::Timeout);
        assert_eq!(
            UpstreamError::of(&E::ConnectionClosed),
            UpstreamError::Protocol
        );
        assert_eq!(UpstreamError::of(&E::ConnectNoRoute), UpstreamError::NoPeer);
    }
}
