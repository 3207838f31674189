//! Which IP addresses are not on the public internet.
//!
//! [`special_use`] sorts an address into the special-purpose ranges of the
//! IANA registries (loopback, private, link-local, shared CGNAT space,
//! multicast, documentation, reserved, ...). Outbound HTTP refuses every such
//! address unless the grant explicitly allows private networks: a plugin that
//! may call `https://api.example.com` must not reach the metadata service at
//! 169.254.169.254 or a database on 10.0.0.5 because a DNS record says so.
//!
//! IPv4 addresses written in IPv6 form (IPv4-mapped `::ffff:a.b.c.d` and the
//! NAT64 well-known prefix `64:ff9b::/96`) are judged by the IPv4 address
//! they carry. This module only classifies; it neither resolves nor
//! connects.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a public unicast address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpecialUse {
    /// `0.0.0.0` and `::`: "any address", which reaches the local host.
    Unspecified,
    /// `0.0.0.0/8` other than `0.0.0.0`: "this network".
    ThisNetwork,
    /// `127.0.0.0/8` and `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), unique local
    /// `fc00::/7`, the deprecated site-local `fec0::/10` and the local-use
    /// NAT64 prefix `64:ff9b:1::/48`.
    Private,
    /// `100.64.0.0/10`, the carrier-grade NAT shared space.
    SharedAddressSpace,
    /// `169.254.0.0/16` (cloud metadata services live here) and `fe80::/10`.
    LinkLocal,
    /// `224.0.0.0/4` and `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// TEST-NET-1/2/3, `2001:db8::/32` and `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`.
    Benchmarking,
    /// Everything else outside the public unicast space: `240.0.0.0/4`,
    /// `192.0.0.0/24`, the 6to4 relay anycast, IPv4-compatible IPv6,
    /// `2001::/23`, 6to4 `2002::/16`, and IPv6 outside `2000::/3`.
    Reserved,
}

impl SpecialUse {
    /// The kind of address, with its article, as it reads in a sentence.
    fn phrase(self) -> &'static str {
        match self {
            Self::Unspecified => "an unspecified address",
            Self::ThisNetwork => "a \"this network\" address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::SharedAddressSpace => "a carrier-grade NAT (shared) address",
            Self::LinkLocal => "a link-local address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "the broadcast address",
            Self::Documentation => "a documentation address",
            Self::Benchmarking => "a benchmarking address",
            Self::Reserved => "a reserved address",
        }
    }
}

impl fmt::Display for SpecialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.phrase())
    }
}

/// The special-purpose range `ip` falls in, or `None` for a public unicast
/// address.
pub(crate) fn special_use(ip: IpAddr) -> Option<SpecialUse> {
    match ip {
        IpAddr::V4(v4) => special_use_v4(v4),
        IpAddr::V6(v6) => special_use_v6(v6),
    }
}

fn special_use_v4(ip: Ipv4Addr) -> Option<SpecialUse> {
    let [a, b, c, _] = ip.octets();
    let class = match (a, b, c) {
        _ if ip.is_unspecified() => SpecialUse::Unspecified,
        _ if ip.is_broadcast() => SpecialUse::Broadcast,
        (0, _, _) => SpecialUse::ThisNetwork,
        (127, _, _) => SpecialUse::Loopback,
        (10, _, _) | (192, 168, _) => SpecialUse::Private,
        (172, 16..=31, _) => SpecialUse::Private,
        (100, 64..=127, _) => SpecialUse::SharedAddressSpace,
        (169, 254, _) => SpecialUse::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => SpecialUse::Documentation,
        (198, 18..=19, _) => SpecialUse::Benchmarking,
        (192, 0, 0) | (192, 88, 99) => SpecialUse::Reserved,
        (224..=239, _, _) => SpecialUse::Multicast,
        (240..=255, _, _) => SpecialUse::Reserved,
        _ => return None,
    };
    Some(class)
}

fn special_use_v6(ip: Ipv6Addr) -> Option<SpecialUse> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_use_v4(v4);
    }
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 well-known prefix: the gateway forwards to the embedded
        // IPv4 address, which is what must be judged.
        let [.., hi, lo] = segments;
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        return special_use_v4(Ipv4Addr::new(a, b, c, d));
    }
    let class = match segments {
        _ if ip.is_unspecified() => SpecialUse::Unspecified,
        _ if ip.is_loopback() => SpecialUse::Loopback,
        // IPv4-compatible addresses (deprecated by RFC 4291).
        [0, 0, 0, 0, 0, 0, _, _] => SpecialUse::Reserved,
        [0x64, 0xff9b, 1, ..] => SpecialUse::Private,
        [s, ..] if s & 0xfe00 == 0xfc00 => SpecialUse::Private,
        [s, ..] if s & 0xffc0 == 0xfec0 => SpecialUse::Private,
        [s, ..] if s & 0xffc0 == 0xfe80 => SpecialUse::LinkLocal,
        [s, ..] if s & 0xff00 == 0xff00 => SpecialUse::Multicast,
        [0x2001, 0x0db8, ..] => SpecialUse::Documentation,
        [s, ..] if s & 0xfff0 == 0x3ff0 => SpecialUse::Documentation,
        [0x2001, s, ..] if s < 0x0200 => SpecialUse::Reserved,
        [0x2002, ..] => SpecialUse::Reserved,
        // Global unicast is 2000::/3; the rest is unassigned or special.
        [s, ..] if s & 0xe000 != 0x2000 => SpecialUse::Reserved,
        _ => return None,
    };
    Some(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Option<SpecialUse> {
        special_use(text.parse().unwrap())
    }

    #[test]
    fn public_addresses_are_not_special() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "192.0.1.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(class(ip), None, "{ip}");
        }
    }

    #[test]
    fn every_special_range_is_recognised() {
        use SpecialUse::*;
        let cases = [
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", ThisNetwork),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("169.254.169.254", LinkLocal),
            ("169.254.0.1", LinkLocal),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("255.255.255.255", Broadcast),
            ("240.0.0.1", Reserved),
            ("192.0.0.8", Reserved),
            ("192.88.99.1", Reserved),
            ("192.0.2.10", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("::", Unspecified),
            ("::1", Loopback),
            ("fc00::1", Private),
            ("fd12:3456:789a::1", Private),
            ("fec0::1", Private),
            ("64:ff9b:1::a00:1", Private),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001::1", Reserved),
            ("2002:c000:0204::1", Reserved),
            ("::10.0.0.1", Reserved),
            ("100::1", Reserved),
            ("5f00::1", Reserved),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn ipv4_in_ipv6_form_is_judged_by_its_ipv4_address() {
        use SpecialUse::*;
        let cases = [
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:172.20.0.1", Private),
            ("::ffff:192.168.0.1", Private),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:100.64.0.1", SharedAddressSpace),
            ("::ffff:0.0.0.0", Unspecified),
            ("::ffff:224.0.0.1", Multicast),
            ("::ffff:255.255.255.255", Broadcast),
            ("::ffff:7f00:1", Loopback),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn phrases_read_in_a_sentence() {
        assert_eq!(SpecialUse::Loopback.to_string(), "a loopback address");
        assert_eq!(SpecialUse::LinkLocal.to_string(), "a link-local address");
    }
}
