//! The access log: one `tracing` event per request at target `sekisho::access`,
//! written in the proxy's `logging` phase when `[log] access_log` is on.
//!
//! Fields: `request_id`, `method`, `host`, `path`, `status`, `duration_ms`, `action`,
//! `site`, `upstream_status` (when an upstream answered), `user` (the user id, when a
//! session was resolved) and `client_ip`.
//!
//! What it leaves out is deliberate: the query string (sign-in links and API calls
//! carry tokens there), every header value including cookies, and e-mail addresses.
//! Client-supplied strings are clipped so one request cannot write a huge line.
use crate::metrics::Route;
use std::net::IpAddr;
use std::time::Duration;

pub const TARGET: &str = "sekisho::access";

const MAX_PATH_BYTES: usize = 1024;
const MAX_HOST_BYTES: usize = 256;

/// The longest prefix of `s` that fits in `max` bytes and ends on a char boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// One finished request, as the proxy saw it.
#[derive(Debug)]
pub struct AccessRecord<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub host: &'a str,
    /// The path alone; callers pass `uri.path()`, never the query.
    pub path: &'a str,
    /// 0 when no response was written (the client went away).
    pub status: u16,
    pub duration: Duration,
    pub action: Route,
    pub site: &'a str,
    pub upstream_status: Option<u16>,
    pub user: Option<&'a str>,
    pub client_ip: IpAddr,
}

pub fn write(r: &AccessRecord<'_>) {
    // Whole microseconds, shown as milliseconds: `1.234`.
    let duration_ms = r.duration.as_micros() as f64 / 1000.0;
    tracing::info!(
        target: TARGET,
        request_id = r.request_id,
        method = r.method,
        host = clip(r.host, MAX_HOST_BYTES),
        path = clip(r.path, MAX_PATH_BYTES),
        status = r.status,
        duration_ms,
        action = r.action.label(),
        site = r.site,
        upstream_status = r.upstream_status,
        user = r.user,
        client_ip = %r.client_ip,
        "access"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clip("/short", 1024), "/short");
        let long = format!("/{}", "関".repeat(400));
        let clipped = clip(&long, MAX_PATH_BYTES);
        assert!(clipped.len() <= MAX_PATH_BYTES && clipped.len() > MAX_PATH_BYTES - 3);
        assert!(long.starts_with(clipped));
    }
}
