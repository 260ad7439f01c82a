//! Address management: IPv4 subnets from dockerd's default pools, skipping
//! every subnet routed on the host, and addresses within a subnet; IPv6
//! subnets only as configured (dockerd 20.10 has no default IPv6 pool).

use std::net::{Ipv4Addr, Ipv6Addr};

/// An IPv4 subnet: network address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub net: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    /// Parses "a.b.c.d/n"; the address is masked to the network.
    pub fn parse(s: &str) -> Option<Subnet> {
        let (ip, p) = s.split_once('/')?;
        let ip: Ipv4Addr = ip.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        if prefix > 32 {
            return None;
        }
        Some(Subnet {
            net: Ipv4Addr::from(u32::from(ip) & mask(prefix)),
            prefix,
        })
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.net)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        u32::from(self.net) & mask(p) == u32::from(other.net) & mask(p)
    }

    /// The first usable address (dockerd's default gateway).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.net) + 1)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.net) | !mask(self.prefix))
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

pub fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

/// An IPv6 subnet: network address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet6 {
    pub net: Ipv6Addr,
    pub prefix: u8,
}

fn mask6(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

impl Subnet6 {
    /// Parses "x:y::/n"; the address is masked to the network.
    pub fn parse(s: &str) -> Option<Subnet6> {
        let (ip, p) = s.split_once('/')?;
        let ip: Ipv6Addr = ip.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        if prefix > 128 {
            return None;
        }
        Some(Subnet6 {
            net: Ipv6Addr::from(u128::from(ip) & mask6(prefix)),
            prefix,
        })
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask6(self.prefix) == u128::from(self.net)
    }

    pub fn overlaps(&self, other: &Subnet6) -> bool {
        let m = mask6(self.prefix.min(other.prefix));
        u128::from(self.net) & m == u128::from(other.net) & m
    }

    /// The first address after the network's (dockerd's default gateway).
    pub fn first_host(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.net) + 1)
    }

    fn last(&self) -> u128 {
        u128::from(self.net) | !mask6(self.prefix)
    }
}

impl std::fmt::Display for Subnet6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// The next free IPv6 address of `range` (within `subnet`), in order from
/// the first after the network address, skipping the gateway and `used`
/// (IPv6 has no broadcast address to keep free).
pub fn pick_address6(
    subnet: &Subnet6,
    range: Option<&Subnet6>,
    gateway: Ipv6Addr,
    used: &[Ipv6Addr],
) -> Option<Ipv6Addr> {
    let r = range.unwrap_or(subnet);
    let first = u128::from(r.net).max(u128::from(subnet.net) + 1);
    let last = r.last().min(subnet.last());
    // At most one address per endpoint is skipped: the walk is short even
    // in a /64.
    (first..=last)
        .map(Ipv6Addr::from)
        .take(used.len() + 2)
        .find(|ip| *ip != gateway && !used.contains(ip))
}

/// dockerd 20.10's default address pools, in its order: 172.17-31.0.0/16,
/// then 192.168.0.0/16 cut into /20s.
pub fn default_pool() -> impl Iterator<Item = Subnet> {
    let a = (17u8..=31).map(|b| Subnet {
        net: Ipv4Addr::new(172, b, 0, 0),
        prefix: 16,
    });
    let b = (0u8..16).map(|i| Subnet {
        net: Ipv4Addr::new(192, 168, i * 16, 0),
        prefix: 20,
    });
    a.chain(b)
}

/// The first pool subnet that overlaps none of `taken`.
pub fn pick_subnet(taken: &[Subnet]) -> Option<Subnet> {
    default_pool().find(|s| !taken.iter().any(|t| t.overlaps(s)))
}

/// The next free address of `range` (within `subnet`), skipping the network
/// and broadcast addresses, the gateway and `used`; dockerd hands them out
/// in order.
pub fn pick_address(
    subnet: &Subnet,
    range: Option<&Subnet>,
    gateway: Ipv4Addr,
    used: &[Ipv4Addr],
) -> Option<Ipv4Addr> {
    let r = range.unwrap_or(subnet);
    let first = u32::from(r.net).max(u32::from(subnet.net) + 1);
    let last = u32::from(r.broadcast()).min(u32::from(subnet.broadcast()).saturating_sub(1));
    (first..=last)
        .map(Ipv4Addr::from)
        .find(|ip| *ip != gateway && !used.contains(ip))
}

/// dockerd's MAC for an address: 02:42 and the four bytes of the IP.
pub fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn mac_string(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    // Go's net.ParseMAC takes ':' or '-' between the bytes.
    let sep = if s.contains('-') { '-' } else { ':' };
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        if p.len() != 2 {
            return None;
        }
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_skips_routed_subnets() {
        let taken = [
            Subnet::parse("172.17.0.0/16").unwrap(),
            Subnet::parse("172.18.5.0/24").unwrap(),
        ];
        assert_eq!(pick_subnet(&taken).unwrap().to_string(), "172.19.0.0/16");
        let all: Vec<Subnet> = (17..=31)
            .map(|b| Subnet::parse(&format!("172.{b}.0.0/16")).unwrap())
            .collect();
        assert_eq!(pick_subnet(&all).unwrap().to_string(), "192.168.0.0/20");
    }

    #[test]
    fn addresses_in_order_skipping_gateway_and_used() {
        let s = Subnet::parse("10.1.0.0/24").unwrap();
        let gw = s.first_host();
        let a = pick_address(&s, None, gw, &[]).unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 1, 0, 2));
        let b = pick_address(&s, None, gw, &[a]).unwrap();
        assert_eq!(b, Ipv4Addr::new(10, 1, 0, 3));
        let r = Subnet::parse("10.1.0.128/25").unwrap();
        assert_eq!(
            pick_address(&s, Some(&r), gw, &[]).unwrap(),
            Ipv4Addr::new(10, 1, 0, 128)
        );
        let tiny = Subnet::parse("10.1.0.0/30").unwrap();
        assert_eq!(
            pick_address(
                &tiny,
                None,
                tiny.first_host(),
                &[Ipv4Addr::new(10, 1, 0, 2)]
            ),
            None
        );
        assert_eq!(mac_string(&mac_of(a)), "02:42:0a:01:00:02");
    }

    #[test]
    fn ipv6_addresses_in_order_after_the_gateway() {
        let s = Subnet6::parse("fd00:ab::7/64").unwrap();
        assert_eq!(s.to_string(), "fd00:ab::/64");
        let gw = s.first_host();
        assert_eq!(gw.to_string(), "fd00:ab::1");
        let a = pick_address6(&s, None, gw, &[]).unwrap();
        assert_eq!(a.to_string(), "fd00:ab::2");
        let b = pick_address6(&s, None, gw, &[a]).unwrap();
        assert_eq!(b.to_string(), "fd00:ab::3");
        assert!(s.contains(b) && !s.contains("fd00:ac::2".parse().unwrap()));
        let r = Subnet6::parse("fd00:ab::100/120").unwrap();
        assert_eq!(
            pick_address6(&s, Some(&r), gw, &[]).unwrap().to_string(),
            "fd00:ab::100"
        );
        assert!(s.overlaps(&Subnet6::parse("fd00:ab::/48").unwrap()));
        assert!(!s.overlaps(&Subnet6::parse("fd00:ac::/64").unwrap()));
        let tiny = Subnet6::parse("fd00::/127").unwrap();
        assert_eq!(pick_address6(&tiny, None, tiny.first_host(), &[]), None);
        assert_eq!(Subnet6::parse("fd00::/129"), None);
    }
}
