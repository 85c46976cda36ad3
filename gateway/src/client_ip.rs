//! The real client address: the TCP peer, unless that peer is a trusted proxy, in
//! which case the right-most `X-Forwarded-For` entry that is not itself trusted.
use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

pub fn real_client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(&canonical(*ip)));
    if trusted.is_empty() || !is_trusted(&peer) {
        return canonical(peer);
    }
    // Walk the chain from the nearest hop outwards; stop at the first untrusted hop.
    let mut client = canonical(peer);
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = canonical(ip);
                if !is_trusted(&client) {
                    break;
                }
            }
            Err(_) => break, // garbage: trust nothing beyond it
        }
    }
    client
}

/// IPv4-mapped IPv6 addresses count as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn untrusted_peer_is_the_client() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(real_client_ip(peer, &xff("1.2.3.4"), &[]), peer);
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(real_client_ip(peer, &xff("1.2.3.4"), &trusted), peer);
    }

    #[test]
    fn trusted_chain_is_walked_from_the_right() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(
            real_client_ip(peer, &xff("6.6.6.6, 198.51.100.7, 10.0.0.2"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap(),
            "a forged left-most entry is ignored"
        );
        assert_eq!(real_client_ip(peer, &HeaderMap::new(), &trusted), peer);
        assert_eq!(
            real_client_ip(peer, &xff("junk, 10.0.0.3"), &trusted),
            "10.0.0.3".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            real_client_ip(
                "::ffff:10.0.0.1".parse().unwrap(),
                &xff("192.0.2.1"),
                &trusted
            ),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
