//! Address ranges: the monitored (internal) networks and the ranges that are never public.
//!
//! An *internal* address belongs to a network the user monitors, given as CIDR blocks in a
//! [`NetworkSet`]. A *public* address is one that can be reached across the Internet: it lies in
//! none of the special-purpose ranges of the IANA IPv4 and IPv6 registries listed in
//! [`NON_PUBLIC_V4`] and [`NON_PUBLIC_V6`]. An *IPv4-mapped* IPv6 address (`::ffff:a.b.c.d`) is
//! an IPv4 address written in IPv6 form, so it is judged as that IPv4 address everywhere here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// A range that is never a public destination, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonPublicRange<N: 'static> {
    pub net: N,
    pub reason: &'static str,
}

const fn v4(
    a: u8,
    b: u8,
    c: u8,
    d: u8,
    prefix_len: u8,
    reason: &'static str,
) -> NonPublicRange<Ipv4Net> {
    NonPublicRange { net: Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix_len), reason }
}

const fn v6(segments: [u16; 8], prefix_len: u8, reason: &'static str) -> NonPublicRange<Ipv6Net> {
    let [a, b, c, d, e, f, g, h] = segments;
    let addr = Ipv6Addr::new(a, b, c, d, e, f, g, h);
    NonPublicRange { net: Ipv6Net::new_assert(addr, prefix_len), reason }
}

/// IPv4 ranges that are not public destinations.
pub const NON_PUBLIC_V4: [NonPublicRange<Ipv4Net>; 16] = [
    v4(0, 0, 0, 0, 8, "\"this network\": only valid as a source while configuring"),
    v4(10, 0, 0, 0, 8, "private use (RFC 1918)"),
    v4(100, 64, 0, 0, 10, "shared address space for carrier-grade NAT (RFC 6598)"),
    v4(127, 0, 0, 0, 8, "loopback"),
    v4(169, 254, 0, 0, 16, "link-local"),
    v4(172, 16, 0, 0, 12, "private use (RFC 1918)"),
    v4(192, 0, 0, 0, 24, "IETF protocol assignments"),
    v4(192, 0, 2, 0, 24, "documentation (TEST-NET-1)"),
    v4(192, 88, 99, 0, 24, "deprecated 6to4 relay anycast"),
    v4(192, 168, 0, 0, 16, "private use (RFC 1918)"),
    v4(198, 18, 0, 0, 15, "benchmarking"),
    v4(198, 51, 100, 0, 24, "documentation (TEST-NET-2)"),
    v4(203, 0, 113, 0, 24, "documentation (TEST-NET-3)"),
    v4(224, 0, 0, 0, 4, "multicast"),
    v4(240, 0, 0, 0, 4, "reserved for future use"),
    v4(255, 255, 255, 255, 32, "limited broadcast"),
];

/// [`NON_PUBLIC_V4`] as network and mask words: the test runs on every flow, and a mask and a
/// comparison per range cost less than deriving each range's bounds every time.
const NON_PUBLIC_V4_WORDS: [(u32, u32); NON_PUBLIC_V4.len()] = {
    let mut words = [(0, 0); NON_PUBLIC_V4.len()];
    let mut index = 0;
    while index < NON_PUBLIC_V4.len() {
        let net = NON_PUBLIC_V4[index].net;
        let mask = match net.prefix_len() {
            0 => 0,
            prefix_len => u32::MAX << (32 - prefix_len),
        };
        words[index] = (net.addr().to_bits() & mask, mask);
        index += 1;
    }
    words
};

/// IPv6 ranges that are not public destinations. IPv4-mapped addresses (`::ffff:0:0/96`) are
/// absent on purpose: they are judged by the IPv4 address they carry.
pub const NON_PUBLIC_V6: [NonPublicRange<Ipv6Net>; 13] = [
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified address"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use IPv4/IPv6 translation"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "IETF protocol assignments"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4: the real endpoint is an embedded IPv4 address"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "deprecated site-local"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "segment routing SIDs (RFC 9602)"),
];

/// Whether `ip` can be a destination on the public Internet.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(ip) => {
            let bits = ip.to_bits();
            !NON_PUBLIC_V4_WORDS.iter().any(|&(network, mask)| bits & mask == network)
        }
        IpAddr::V6(ip) => !NON_PUBLIC_V6.iter().any(|range| range.net.contains(&ip)),
    }
}

/// The address with IPv4-mapped IPv6 (`::ffff:a.b.c.d`) and the well-known NAT64 prefix
/// (`64:ff9b::a.b.c.d`, RFC 6052) turned back into IPv4, so that one destination has one form:
/// on an IPv6-only network behind NAT64, every IPv4 destination is written the second way.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let segments = v6.segments();
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., a, b, c, d] = v6.octets();
                return IpAddr::from([a, b, c, d]);
            }
            ip
        }
        IpAddr::V4(_) => ip,
    }
}

/// A CIDR block given by the user that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid network {value:?}: {reason}; expected CIDR notation such as 10.0.0.0/8 or fc00::/7"
)]
pub struct NetworkParseError {
    pub value: String,
    pub reason: String,
}

/// A set of networks, such as the internal networks of a monitored site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSet {
    nets: Vec<IpNet>,
    /// The IPv4 networks as network and mask words, tested for every flow (see
    /// [`NON_PUBLIC_V4_WORDS`]).
    v4_words: Vec<(u32, u32)>,
}

impl NetworkSet {
    pub fn new(nets: Vec<IpNet>) -> NetworkSet {
        let nets: Vec<IpNet> = nets.into_iter().map(|net| net.trunc()).collect();
        let v4_words = nets
            .iter()
            .filter_map(|net| match net {
                IpNet::V4(net) => Some((net.network().to_bits(), net.netmask().to_bits())),
                IpNet::V6(_) => None,
            })
            .collect();
        NetworkSet { nets, v4_words }
    }

    /// Parses CIDR blocks; the error names the first one that is wrong.
    pub fn parse<I, S>(cidrs: I) -> Result<NetworkSet, NetworkParseError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets = cidrs
            .into_iter()
            .map(|cidr| {
                let value = cidr.as_ref().trim();
                value.parse::<IpNet>().map_err(|err| NetworkParseError {
                    value: value.to_string(),
                    reason: err.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NetworkSet::new(nets))
    }

    /// The private, carrier-grade NAT, unique-local and link-local ranges: where the hosts of a
    /// typical site live when the user does not say otherwise.
    pub fn default_internal() -> NetworkSet {
        NetworkSet::parse([
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "fc00::/7",
            "fe80::/10",
        ])
        .expect("the default internal networks are valid CIDR")
    }

    pub fn networks(&self) -> &[IpNet] {
        &self.nets
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match canonical(ip) {
            IpAddr::V4(ip) => {
                let bits = ip.to_bits();
                self.v4_words.iter().any(|&(network, mask)| bits & mask == network)
            }
            ip => self.nets.iter().any(|net| net.contains(&ip)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn every_ipv4_range_ends_where_its_cidr_block_does() {
        for range in NON_PUBLIC_V4 {
            let (first, last) = (range.net.network().to_bits(), range.net.broadcast().to_bits());
            assert!(!is_public(Ipv4Addr::from_bits(first).into()), "{}", range.net);
            assert!(!is_public(Ipv4Addr::from_bits(last).into()), "{}", range.net);
            for outside in [first.checked_sub(1), last.checked_add(1)].into_iter().flatten() {
                let address = Ipv4Addr::from_bits(outside);
                let listed = NON_PUBLIC_V4.iter().any(|other| other.net.contains(&address));
                assert_eq!(is_public(address.into()), !listed, "{address}");
            }
        }
    }

    fn next_v4(ip: Ipv4Addr, step: i64) -> Option<Ipv4Addr> {
        u32::try_from(i64::from(u32::from(ip)) + step).ok().map(Ipv4Addr::from)
    }

    fn next_v6(ip: Ipv6Addr, step: i128) -> Option<Ipv6Addr> {
        let value = i128::try_from(u128::from(ip)).ok()? + step;
        u128::try_from(value).ok().map(Ipv6Addr::from)
    }

    fn in_table(ip: IpAddr) -> bool {
        match canonical(ip) {
            IpAddr::V4(ip) => NON_PUBLIC_V4.iter().any(|range| range.net.contains(&ip)),
            IpAddr::V6(ip) => NON_PUBLIC_V6.iter().any(|range| range.net.contains(&ip)),
        }
    }

    /// Both ends of every range are not public; the address just past each end is public
    /// unless another range of the table covers it.
    #[test]
    fn every_range_is_excluded_up_to_its_exact_boundaries() {
        for range in NON_PUBLIC_V4 {
            let (first, last) = (range.net.network(), range.net.broadcast());
            for inside in [first, last] {
                assert!(!is_public(IpAddr::V4(inside)), "{inside} ({})", range.reason);
                let mapped = IpAddr::V6(inside.to_ipv6_mapped());
                assert!(!is_public(mapped), "{mapped} ({})", range.reason);
            }
            for outside in [next_v4(first, -1), next_v4(last, 1)].into_iter().flatten() {
                let outside = IpAddr::V4(outside);
                assert_eq!(is_public(outside), !in_table(outside), "{outside} next to {range:?}");
            }
        }
        for range in NON_PUBLIC_V6 {
            let (first, last) = (range.net.network(), range.net.broadcast());
            for inside in [first, last] {
                assert!(!is_public(IpAddr::V6(inside)), "{inside} ({})", range.reason);
            }
            for outside in [next_v6(first, -1), next_v6(last, 1)].into_iter().flatten() {
                let outside = IpAddr::V6(outside);
                assert_eq!(is_public(outside), !in_table(outside), "{outside} next to {range:?}");
            }
        }
    }

    #[test]
    fn addresses_just_outside_the_ranges_are_public() {
        let public = [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "191.255.255.255",
            "192.0.1.0",
            "192.0.3.0",
            "192.88.98.255",
            "192.88.100.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            "8.8.8.8",
            "::2",
            "64:ff9b::808:808",
            "64:ff9b:0:ffff:ffff:ffff:ffff:ffff",
            "64:ff9b:2::",
            "100:0:0:1::",
            "2000::",
            "2001:200::",
            "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::",
            "2001:4860:4860::8888",
            "2003::",
            "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff:1000::",
            "::ffff:8.8.8.8",
        ];
        for text in public {
            assert!(is_public(ip(text)), "{text} should be public");
        }
    }

    #[test]
    fn named_special_addresses_are_not_public() {
        let not_public = [
            "0.0.0.0",
            "127.0.0.1",
            "255.255.255.255",
            "239.255.255.250",
            "::",
            "::1",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:10.1.2.3",
            "::ffff:127.0.0.1",
        ];
        for text in not_public {
            assert!(!is_public(ip(text)), "{text} should not be public");
        }
    }

    #[test]
    fn default_internal_networks_and_their_boundaries() {
        let internal = NetworkSet::default_internal();
        for text in ["10.0.0.0", "10.255.255.255", "172.16.0.0", "172.31.255.255", "192.168.0.1"] {
            assert!(internal.contains(ip(text)), "{text}");
        }
        for text in ["100.64.0.0", "100.127.255.255", "fc00::", "fdff::1", "fe80::1", "febf::1"] {
            assert!(internal.contains(ip(text)), "{text}");
        }
        for text in ["9.255.255.255", "11.0.0.0", "172.32.0.0", "100.128.0.0", "fec0::", "8.8.8.8"]
        {
            assert!(!internal.contains(ip(text)), "{text}");
        }
    }

    #[test]
    fn ipv4_mapped_addresses_match_ipv4_networks() {
        let internal = NetworkSet::default_internal();
        assert!(internal.contains(ip("::ffff:10.0.0.1")));
        assert!(!internal.contains(ip("::ffff:8.8.8.8")));
        let v6_only = NetworkSet::parse(["2001:db8::/32"]).unwrap();
        assert!(!v6_only.contains(ip("::ffff:10.0.0.1")));
    }

    #[test]
    fn parse_names_the_bad_cidr() {
        let err = NetworkSet::parse(["10.0.0.0/8", "10.0.0.0/33"]).unwrap_err();
        assert_eq!(err.value, "10.0.0.0/33");
        let message = err.to_string();
        assert!(message.starts_with("invalid network \"10.0.0.0/33\": "), "{message}");
        assert!(message.contains("expected CIDR notation"), "{message}");
        assert!(NetworkSet::parse(["banana"]).is_err());
    }

    #[test]
    fn parse_accepts_host_bits_and_spaces() {
        let set = NetworkSet::parse([" 10.1.2.3/8 "]).unwrap();
        assert_eq!(set.networks(), &["10.0.0.0/8".parse::<IpNet>().unwrap()]);
    }
}

#[cfg(test)]
mod nat64_tests {
    use super::*;

    #[test]
    fn nat64_addresses_are_judged_and_located_as_their_ipv4() {
        let google: IpAddr = "64:ff9b::808:808".parse().unwrap();
        assert_eq!(canonical(google), IpAddr::from([8, 8, 8, 8]));
        assert!(is_public(google));
        let private: IpAddr = "64:ff9b::a00:1".parse().unwrap();
        assert!(!is_public(private));
        // The local-use prefix 64:ff9b:1::/48 stays a non-public IPv6 range.
        let local_use: IpAddr = "64:ff9b:1::808:808".parse().unwrap();
        assert_eq!(canonical(local_use), local_use);
        assert!(!is_public(local_use));
    }
}
