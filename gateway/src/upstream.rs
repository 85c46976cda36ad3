//! Sites and their upstream servers: host → round-robin over the site's servers.
use pingora::lb::selection::RoundRobin;
use pingora::lb::LoadBalancer;
use pingora::upstreams::peer::HttpPeer;
use sekisho_config::{Site, UpstreamSettings};
use std::sync::Arc;

pub struct SiteUpstream {
    pub site: Site,
    lb: Arc<LoadBalancer<RoundRobin>>,
}

pub struct Upstreams {
    sites: Vec<SiteUpstream>,
    timeouts: UpstreamSettings,
}

impl Upstreams {
    /// Resolves every upstream address once, at start-up.
    pub fn new(sites: &[Site], timeouts: UpstreamSettings) -> Result<Self, String> {
        let sites = sites
            .iter()
            .map(|site| {
                let lb = LoadBalancer::try_from_iter(site.upstreams.iter().map(String::as_str))
                    .map_err(|e| {
                        format!(
                            "site {}: cannot resolve upstreams {:?}: {e}",
                            site.host, site.upstreams
                        )
                    })?;
                Ok(SiteUpstream {
                    site: site.clone(),
                    lb: Arc::new(lb),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { sites, timeouts })
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

    /// The next upstream server of a site, with the configured timeouts.
    pub fn peer(&self, index: usize) -> Option<Box<HttpPeer>> {
        let backend = self.sites.get(index)?.lb.select(b"", 256)?;
        let mut peer = HttpPeer::new(backend.addr, false, String::new());
        let o = &mut peer.options;
        o.connection_timeout = Some(self.timeouts.connect_timeout);
        o.total_connection_timeout = Some(self.timeouts.connect_timeout);
        o.read_timeout = Some(self.timeouts.read_timeout);
        o.write_timeout = Some(self.timeouts.write_timeout);
        o.idle_timeout = Some(self.timeouts.idle_timeout);
        Some(Box::new(peer))
    }
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
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("app.test:8080"), "app.test");
        assert_eq!(strip_port("app.test"), "app.test");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }

    #[test]
    fn exact_hosts_win_over_wildcards() {
        let site = |h: &str| Site {
            host: h.into(),
            upstreams: vec!["127.0.0.1:9".into()],
            scheme: None,
        };
        let t = UpstreamSettings {
            connect_timeout: std::time::Duration::from_secs(1),
            read_timeout: std::time::Duration::from_secs(1),
            write_timeout: std::time::Duration::from_secs(1),
            idle_timeout: std::time::Duration::from_secs(1),
        };
        let u = Upstreams::new(&[site("*.example.com"), site("app.example.com")], t).unwrap();
        assert_eq!(u.find("APP.example.com"), Some(1));
        assert_eq!(u.find("x.example.com"), Some(0));
        assert_eq!(u.find("example.org"), None);
        assert!(u.peer(1).is_some());
    }
}
