//! The embedded DNS resolver of user-defined networks, as dockerd serves it
//! at 127.0.0.11 inside each container.
//!
//! - [`bind_in_netns`] binds the UDP and TCP sockets inside a container's
//!   network namespace (they stay there once bound);
//! - [`serve`] answers on them from the engine's own namespace: the names
//!   the container can see ([`Names`]: container names, aliases,
//!   `name.network`, PTR for their addresses) with a TTL of 600 seconds,
//!   and forwards everything else to the upstream resolvers, from the
//!   engine's namespace, so upstreams on the host's loopback work as they do
//!   with dockerd;
//! - [`upstreams_from_resolv_conf`] reads the upstreams out of a
//!   resolv.conf.
//!
//! One task per container, no thread: a resolver costs a few KB while idle.

mod answer;
mod forward;
mod netns;
mod server;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

pub use netns::bind_in_netns;
pub use server::serve;

/// The address dockerd's embedded resolver answers on inside a container.
pub const EMBEDDED_RESOLVER: SocketAddr = SocketAddr::V4(EMBEDDED_RESOLVER_V4);

/// The same, as the IPv4 socket address it is.
pub const EMBEDDED_RESOLVER_V4: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 11), 53);

/// What one container's resolver knows: the names on the networks that
/// container is on. Names are passed lower-cased and without the trailing
/// dot (`db`, `db.mynet`).
pub trait Names: Send + Sync {
    /// The IPv4 addresses of `name`; empty when the name is not known.
    fn ipv4(&self, name: &str) -> Vec<Ipv4Addr>;
    /// The IPv6 addresses of `name`; empty when it has none or is unknown.
    fn ipv6(&self, name: &str) -> Vec<Ipv6Addr>;
    /// The name of the container that has `ip` on a shared network, as
    /// dockerd gives it: `name.network` (no trailing dot).
    fn ptr(&self, ip: IpAddr) -> Option<String>;
    /// Whether the container set `ndots` above 0 (`--dns-option ndots:N`):
    /// dockerd then answers an unknown single-label A/AAAA name with an
    /// empty answer instead of forwarding it, so the client goes on with
    /// its search domains.
    fn ndots_set(&self) -> bool {
        false
    }
}

/// The nameservers of a resolv.conf, each on port 53, in order. Zoned IPv6
/// addresses (`fe80::1%eth0`) are skipped: they mean nothing outside the
/// host's own interfaces.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next()? != "nameserver" {
                return None;
            }
            let ip: IpAddr = words.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers_in_order() {
        let conf = "# comment\nsearch example.com\nnameserver 10.0.0.2\n\
                    nameserver  ::1\nnameserver fe80::1%eth0\nnameserver bogus\n\
                    options ndots:1\nnameserver 127.0.0.53\n";
        let got = upstreams_from_resolv_conf(conf);
        let want: Vec<SocketAddr> = ["10.0.0.2:53", "[::1]:53", "127.0.0.53:53"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
    }
}
