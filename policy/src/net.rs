//! Client networks as integer masks, with IPv4-mapped IPv6 addresses matching both ways.
use ipnet::IpNet;
use std::net::IpAddr;

/// A rule's `networks`, split by family for cheap comparisons.
#[derive(Debug, Default)]
pub(crate) struct Networks {
    /// `(network, mask)`
    v4: Box<[(u32, u32)]>,
    v6: Box<[(u128, u128)]>,
}

/// The client address in both families where it has a form in both.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr {
    v4: Option<u32>,
    v6: Option<u128>,
}

impl ClientAddr {
    pub(crate) fn new(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => ClientAddr {
                v4: Some(u32::from(a)),
                v6: Some(u128::from(a.to_ipv6_mapped())),
            },
            IpAddr::V6(a) => ClientAddr {
                v4: a.to_ipv4_mapped().map(u32::from),
                v6: Some(u128::from(a)),
            },
        }
    }
}

/// The client address as people write it (`::ffff:1.2.3.4` shown as `1.2.3.4`).
pub(crate) fn display_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => format!("{v4} ({a})"),
            None => a.to_string(),
        },
        IpAddr::V4(a) => a.to_string(),
    }
}

impl Networks {
    pub(crate) fn compile(nets: &[IpNet]) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in nets {
            match net {
                IpNet::V4(n) => {
                    let mask = u32::MAX
                        .checked_shl(32 - u32::from(n.prefix_len()))
                        .unwrap_or(0);
                    v4.push((u32::from(n.network()) & mask, mask));
                }
                IpNet::V6(n) => {
                    let mask = u128::MAX
                        .checked_shl(128 - u32::from(n.prefix_len()))
                        .unwrap_or(0);
                    v6.push((u128::from(n.network()) & mask, mask));
                }
            }
        }
        Networks {
            v4: v4.into(),
            v6: v6.into(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    #[inline]
    pub(crate) fn contains(&self, ip: &ClientAddr) -> bool {
        if let Some(a) = ip.v4 {
            if self.v4.iter().any(|&(net, mask)| a & mask == net) {
                return true;
            }
        }
        if let Some(a) = ip.v6 {
            if self.v6.iter().any(|&(net, mask)| a & mask == net) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests;
