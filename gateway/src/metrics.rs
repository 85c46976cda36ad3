//! Prometheus series, registered through `pingora_prometheus`'s re-export so they
//! land in the registry the admin listener serves. Label values are fixed sets
//! (never user ids or raw paths) and the counters are resolved once, so counting a
//! request is one atomic add.
use pingora_prometheus::prometheus::{self, IntCounter, IntCounterVec, Opts};
use std::sync::OnceLock;

/// What the gateway did with a request, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Ui,
    Bypass,
    OneFactor,
    TwoFactor,
    Deny,
    UnknownSite,
}

impl Route {
    const ALL: [Route; 6] = [
        Route::Ui,
        Route::Bypass,
        Route::OneFactor,
        Route::TwoFactor,
        Route::Deny,
        Route::UnknownSite,
    ];

    fn label(self) -> &'static str {
        match self {
            Route::Ui => "ui",
            Route::Bypass => "bypass",
            Route::OneFactor => "one_factor",
            Route::TwoFactor => "two_factor",
            Route::Deny => "deny",
            Route::UnknownSite => "unknown_site",
        }
    }
}

const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

pub struct Metrics {
    requests: Vec<IntCounter>,
}

impl Metrics {
    fn new() -> Self {
        let vec = IntCounterVec::new(
            Opts::new(
                "sekisho_requests_total",
                "Requests by rule action and response status class",
            ),
            &["action", "status_class"],
        );
        let requests = match vec {
            Ok(vec) => {
                // Registration fails only if the series exists already (a second gateway
                // in one test process); counting still works then.
                let _ = prometheus::register(Box::new(vec.clone()));
                Route::ALL
                    .iter()
                    .flat_map(|r| CLASSES.iter().map(move |c| (r.label(), *c)))
                    .map(|(r, c)| vec.with_label_values(&[r, c]))
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        Self { requests }
    }

    pub fn request(&self, route: Route, status: u16) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            500..=599 => 4,
            _ => 5,
        };
        let route_index = Route::ALL.iter().position(|r| *r == route).unwrap_or(0);
        if let Some(c) = self.requests.get(route_index * CLASSES.len() + class) {
            c.inc();
        }
    }
}

pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// The text exposition of every registered series.
pub fn render() -> String {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    let _ = prometheus::TextEncoder::new().encode(&prometheus::gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}
