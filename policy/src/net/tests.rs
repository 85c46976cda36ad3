use super::*;

fn nets(list: &[&str]) -> Networks {
    let parsed: Vec<IpNet> = list.iter().map(|s| s.parse().unwrap()).collect();
    Networks::compile(&parsed)
}

fn ip(s: &str) -> ClientAddr {
    ClientAddr::new(s.parse().unwrap())
}

#[test]
fn ipv4_blocks() {
    let n = nets(&["10.0.0.0/8", "192.168.1.0/24"]);
    assert!(n.contains(&ip("10.1.2.3")));
    assert!(n.contains(&ip("192.168.1.255")));
    assert!(!n.contains(&ip("192.168.2.1")));
    assert!(!n.contains(&ip("11.0.0.1")));
}

#[test]
fn host_routes_and_everything() {
    assert!(nets(&["203.0.113.7/32"]).contains(&ip("203.0.113.7")));
    assert!(!nets(&["203.0.113.7/32"]).contains(&ip("203.0.113.8")));
    assert!(nets(&["0.0.0.0/0"]).contains(&ip("8.8.8.8")));
    assert!(nets(&["::/0"]).contains(&ip("2001:db8::1")));
    assert!(nets(&["2001:db8::1/128"]).contains(&ip("2001:db8::1")));
}

#[test]
fn unnormalised_network_is_truncated() {
    // ipnet keeps host bits in `10.1.2.3/8`; the mask must still apply.
    assert!(nets(&["10.1.2.3/8"]).contains(&ip("10.200.0.1")));
}

#[test]
fn ipv6_blocks() {
    let n = nets(&["2001:db8::/32"]);
    assert!(n.contains(&ip("2001:db8:1::5")));
    assert!(!n.contains(&ip("2001:db9::5")));
    assert!(!n.contains(&ip("10.0.0.1")));
}

#[test]
fn ipv4_mapped_addresses_match_both_ways() {
    assert!(nets(&["10.0.0.0/8"]).contains(&ip("::ffff:10.1.2.3")));
    assert!(!nets(&["10.0.0.0/8"]).contains(&ip("::ffff:11.1.2.3")));
    assert!(nets(&["::ffff:10.0.0.0/104"]).contains(&ip("10.1.2.3")));
    // Not mapped: `::a01:203` is not 10.1.2.3.
    assert!(!nets(&["10.0.0.0/8"]).contains(&ip("::a01:203")));
}

#[test]
fn empty_list() {
    assert!(nets(&[]).is_empty());
    assert!(!nets(&[]).contains(&ip("10.0.0.1")));
}

#[test]
fn display() {
    assert_eq!(display_ip("10.0.0.1".parse().unwrap()), "10.0.0.1");
    assert_eq!(
        display_ip("::ffff:10.0.0.1".parse().unwrap()),
        "10.0.0.1 (::ffff:10.0.0.1)"
    );
    assert_eq!(display_ip("2001:db8::1".parse().unwrap()), "2001:db8::1");
}
