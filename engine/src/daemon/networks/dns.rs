//! DNS for containers, as dockerd 20.10 gives it:
//! - /etc/resolv.conf from the host's and `--dns`, `--dns-search`,
//!   `--dns-option` ([`resolv_conf`]); on a user-defined network the
//!   nameserver is the embedded resolver, 127.0.0.11, with `ndots:0`;
//! - `--add-host` lines for /etc/hosts, `host-gateway` being the default
//!   bridge's gateway ([`extra_hosts`]);
//! - the embedded resolver (crate shipshape-dns) bound in the container's
//!   namespace when it starts on a user-defined network ([`start`]) and
//!   dropped when it stops ([`stop`]); it answers what [`ContainerNames`]
//!   knows and forwards the rest to [`upstreams`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};

use crate::daemon::containers::record::HostConfig;
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// The running resolvers, by container ID. Dropping one (abort) closes its
/// sockets.
#[derive(Default)]
pub struct Resolvers {
    tasks: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

impl Resolvers {
    fn insert(&self, cid: &str, task: tokio::task::JoinHandle<()>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = tasks.insert(cid.to_string(), task) {
            old.abort();
        }
    }

    fn remove(&self, cid: &str) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(task) = tasks.remove(cid) {
            task.abort();
        }
    }
}

/// Serves the embedded resolver of container `cid` (on a user-defined
/// network) on `udp` and `tcp`, bound in its namespace by the runtime
/// before its command started (`ProcessSpec::dns_bind`), until [`stop`].
pub fn start(
    d: &Arc<Daemon>,
    cid: &str,
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    hc: &HostConfig,
) {
    let names = ContainerNames {
        daemon: Arc::downgrade(d),
        cid: cid.to_string(),
        ndots_set: ndots_set(hc),
    };
    let task = shipshape_dns::serve(udp, tcp, Arc::new(names), upstreams(d, hc));
    d.networks.resolvers.insert(cid, task);
}

/// Stops container `cid`'s resolver, if it has one.
pub fn stop(d: &Daemon, cid: &str) {
    d.networks.resolvers.remove(cid);
}

/// Where the resolver forwards: the container's `--dns` servers, else the
/// engine's `--dns-upstream`, else the host's resolv.conf nameservers
/// (loopback ones included: the resolver forwards from the engine's
/// namespace, as dockerd does for the host's loopback resolvers).
pub fn upstreams(d: &Daemon, hc: &HostConfig) -> Vec<SocketAddr> {
    let own: Vec<SocketAddr> = hc
        .dns
        .iter()
        .flatten()
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if !own.is_empty() {
        return own;
    }
    if let Some(up) = &d.config.dns_upstreams {
        return up.clone();
    }
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    shipshape_dns::upstreams_from_resolv_conf(&host)
}

/// dockerd remembers an `ndots` the container set (any valid value), and
/// then keeps unknown single-label names local.
fn ndots_set(hc: &HostConfig) -> bool {
    hc.dns_options.iter().flatten().any(|o| {
        o.strip_prefix("ndots:")
            .is_some_and(|n| n.parse::<u32>().is_ok())
    })
}

/// What the resolver of container `cid` knows: on each user-defined network
/// it is on, every endpoint's container name and aliases, and those
/// followed by `.network`; PTR gives `name.network`.
pub struct ContainerNames {
    daemon: Weak<Daemon>,
    cid: String,
    ndots_set: bool,
}

impl ContainerNames {
    fn each_shared<T>(&self, mut f: impl FnMut(&super::Network) -> Option<T>) -> Vec<T> {
        let Some(d) = self.daemon.upgrade() else {
            return Vec::new();
        };
        let nets = d.networks.lock();
        nets.iter()
            .filter(|n| !n.predefined() && n.endpoints.contains_key(&self.cid))
            .filter_map(&mut f)
            .collect()
    }
}

/// Whether `name` (lower case, no trailing dot) names endpoint `e` on `net`.
fn names_endpoint(name: &str, net: &str, e: &super::endpoint::Endpoint) -> bool {
    let short = name
        .strip_suffix(net)
        .and_then(|s| s.strip_suffix('.'))
        .filter(|_| !net.is_empty());
    let is =
        |n: &str| n.eq_ignore_ascii_case(name) || short.is_some_and(|s| n.eq_ignore_ascii_case(s));
    is(&e.name) || e.aliases.iter().any(|a| is(a))
}

impl ContainerNames {
    /// The addresses (`addr` of each endpoint, skipping those without one)
    /// of every endpoint `name` names on the querier's networks, each once.
    fn addresses<T: PartialEq>(
        &self,
        name: &str,
        addr: impl Fn(&super::endpoint::Endpoint) -> Option<T>,
    ) -> Vec<T> {
        let mut out: Vec<T> = Vec::new();
        // The querier's own record, read before the networks are locked.
        let rec = self
            .daemon
            .upgrade()
            .and_then(|d| d.container(&self.cid).ok())
            .map(|c| c.snapshot());
        for ips in self.each_shared(|n| {
            let net = n.name.to_ascii_lowercase();
            // A link given for this network (`EndpointConfig.Links`) makes
            // its alias a name, for the querier alone, of the linked
            // container, whenever that one joins (libnetwork's endpoint
            // aliases; docker-py's test_connect_with_links).
            let linked = rec
                .as_ref()
                .and_then(|r| super::endpoint::endpoint_config(r, &n.name, &n.id))
                .and_then(|cfg| link_target(cfg, name));
            let name = linked.as_deref().unwrap_or(name);
            Some(
                n.endpoints
                    .values()
                    .filter(|e| names_endpoint(name, &net, e))
                    .filter_map(&addr)
                    .collect::<Vec<_>>(),
            )
        }) {
            for ip in ips {
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
        out
    }
}

/// The container a link of an endpoint's config (`target:alias`, or a
/// lone `target`) names by `name`, the alias matched as DNS does (case
/// aside).
fn link_target(cfg: &serde_json::Value, name: &str) -> Option<String> {
    cfg.get("Links")?.as_array()?.iter().find_map(|l| {
        let l = l.as_str()?;
        let (target, alias) = l.split_once(':').unwrap_or((l, l));
        let (target, alias) = (
            target.trim_start_matches('/'),
            alias.trim_start_matches('/'),
        );
        alias
            .eq_ignore_ascii_case(name)
            .then(|| target.to_ascii_lowercase())
    })
}

impl shipshape_dns::Names for ContainerNames {
    fn ipv4(&self, name: &str) -> Vec<Ipv4Addr> {
        self.addresses(name, |e| Some(e.ip))
    }

    /// dockerd 20.10 answers AAAA with the endpoint's address on networks
    /// with IPv6 enabled.
    fn ipv6(&self, name: &str) -> Vec<Ipv6Addr> {
        self.addresses(name, |e| e.ipv6.as_ref().map(|v6| v6.address))
    }

    /// `name.network` of the endpoint with address `ip`, IPv4 or IPv6 (as
    /// dockerd keeps both in its reverse map).
    fn ptr(&self, ip: IpAddr) -> Option<String> {
        self.each_shared(|n| {
            n.endpoints
                .values()
                .find(|e| match ip {
                    IpAddr::V4(ip) => e.ip == ip,
                    IpAddr::V6(ip) => e.ipv6.as_ref().is_some_and(|v6| v6.address == ip),
                })
                .map(|e| format!("{}.{}", e.name, n.name))
        })
        .into_iter()
        .next()
    }

    fn ndots_set(&self) -> bool {
        self.ndots_set
    }
}

/// One `--add-host` entry (`name:ip` or `name:host-gateway`), checked as
/// dockerd checks it at create.
pub fn parse_extra_host(entry: &str) -> Result<(&str, Option<IpAddr>), EngineError> {
    let Some((name, addr)) = entry.split_once(':').filter(|(n, _)| !n.is_empty()) else {
        return Err(EngineError::InvalidParameter(format!(
            "bad format for add-host: {entry:?}"
        )));
    };
    if addr == "host-gateway" {
        return Ok((name, None));
    }
    match addr.trim().parse::<IpAddr>() {
        Ok(ip) => Ok((name, Some(ip))),
        Err(_) => Err(EngineError::InvalidParameter(format!(
            "invalid IP address in add-host: {addr:?}"
        ))),
    }
}

/// The /etc/hosts lines of `--add-host`, in order (`IP\tNAME`);
/// `host-gateway` is `gateway` (entries that cannot be written are left
/// out: create has refused bad ones already).
pub fn extra_hosts(hc: &HostConfig, gateway: Option<Ipv4Addr>) -> String {
    let mut out = String::new();
    for entry in hc.extra_hosts.iter().flatten() {
        let ip = match parse_extra_host(entry) {
            Ok((_, Some(ip))) => ip,
            Ok((_, None)) => match gateway {
                Some(g) => IpAddr::V4(g),
                None => continue,
            },
            Err(_) => continue,
        };
        let name = entry.split(':').next().unwrap_or("");
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    out
}

/// The default bridge's gateway, for `host-gateway`.
pub fn host_gateway(d: &Daemon) -> Option<Ipv4Addr> {
    d.networks.get("bridge").ok()?.gateway()
}

/// The container's /etc/resolv.conf, or None for "the host's, filtered"
/// (no option given, on the default bridge or `none`).
///
/// dockerd 20.10: with `--dns`, `--dns-search` or `--dns-option`, the file
/// is rebuilt (search, nameservers, options), each taken from the
/// container's options or else from the host's file; `--dns-search .`
/// means no search line. On a user-defined network the nameservers are
/// 127.0.0.11 (then the IPv6 ones, which the resolver does not forward to)
/// and `ndots:0` is added unless an ndots is set.
pub fn resolv_conf(host: &str, hc: &HostConfig, user_defined: bool) -> Option<String> {
    let given = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    let custom = given(&hc.dns) || given(&hc.dns_search) || given(&hc.dns_options);
    if !custom && !user_defined {
        return None;
    }
    let host_words = |key: &str| -> Vec<String> {
        host.lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(key)).then(|| w.map(str::to_string).collect::<Vec<_>>())
            })
            .flatten()
            .collect()
    };
    let nameservers = match &hc.dns {
        Some(v) if !v.is_empty() => v.clone(),
        _ => host_words("nameserver"),
    };
    let search = match &hc.dns_search {
        Some(v) if v.len() == 1 && v[0] == "." => Vec::new(),
        Some(v) if !v.is_empty() => v.clone(),
        _ => host_words("search")
            .into_iter()
            .filter(|s| s != ".")
            .collect(),
    };
    let mut options = match &hc.dns_options {
        Some(v) if !v.is_empty() => v.clone(),
        _ => host_words("options"),
    };
    let nameservers = if user_defined {
        let v6 = nameservers
            .iter()
            .filter(|n| n.parse::<Ipv6Addr>().is_ok())
            .cloned();
        std::iter::once("127.0.0.11".to_string())
            .chain(v6)
            .collect()
    } else {
        nameservers
    };
    if user_defined && !options.iter().any(|o| o.starts_with("ndots:")) {
        options.push("ndots:0".into());
    }
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for ns in nameservers {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(dns: &[&str], search: &[&str], opts: &[&str]) -> HostConfig {
        let v = |s: &[&str]| (!s.is_empty()).then(|| s.iter().map(|x| x.to_string()).collect());
        HostConfig {
            dns: v(dns),
            dns_search: v(search),
            dns_options: v(opts),
            ..HostConfig::default()
        }
    }

    const HOST: &str = "# generated\nsearch corp.example\nnameserver 10.0.0.2\nnameserver fd00::53\noptions edns0\n";

    #[test]
    fn default_bridge_without_options_keeps_the_hosts_file() {
        assert_eq!(resolv_conf(HOST, &hc(&[], &[], &[]), false), None);
    }

    #[test]
    fn options_as_dockerd_writes_them() {
        // Read off dockerd 20.10.24 (--dns 192.0.2.1 --dns-search a.example
        // --dns-option timeout:1 --dns-option attempts:2).
        let all = hc(&["192.0.2.1"], &["a.example"], &["timeout:1", "attempts:2"]);
        assert_eq!(
            resolv_conf(HOST, &all, false).unwrap(),
            "search a.example\nnameserver 192.0.2.1\noptions timeout:1 attempts:2\n"
        );
        assert_eq!(
            resolv_conf(HOST, &all, true).unwrap(),
            "search a.example\nnameserver 127.0.0.11\noptions timeout:1 attempts:2 ndots:0\n"
        );
        // What is not given comes from the host.
        assert_eq!(
            resolv_conf(HOST, &hc(&[], &["b.example"], &[]), false).unwrap(),
            "search b.example\nnameserver 10.0.0.2\nnameserver fd00::53\noptions edns0\n"
        );
        assert_eq!(
            resolv_conf(HOST, &hc(&[], &["."], &[]), false).unwrap(),
            "nameserver 10.0.0.2\nnameserver fd00::53\noptions edns0\n"
        );
    }

    #[test]
    fn user_networks_use_the_embedded_resolver() {
        assert_eq!(
            resolv_conf(HOST, &hc(&[], &[], &[]), true).unwrap(),
            "search corp.example\nnameserver 127.0.0.11\nnameserver fd00::53\noptions edns0 ndots:0\n"
        );
        assert_eq!(
            resolv_conf("nameserver 10.0.0.2\n", &hc(&[], &[], &["ndots:3"]), true).unwrap(),
            "nameserver 127.0.0.11\noptions ndots:3\n"
        );
        assert!(ndots_set(&hc(&[], &[], &["ndots:0"])));
        assert!(!ndots_set(&hc(&[], &[], &["timeout:1"])));
    }

    #[test]
    fn extra_hosts_as_dockerd() {
        let h = HostConfig {
            extra_hosts: Some(
                ["one:192.0.2.9", "six:fd00::5", "gw:host-gateway"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            ..HostConfig::default()
        };
        assert_eq!(
            extra_hosts(&h, Some(Ipv4Addr::new(172, 17, 0, 1))),
            "192.0.2.9\tone\nfd00::5\tsix\n172.17.0.1\tgw\n"
        );
        let msg = |e: EngineError| e.to_string();
        assert_eq!(
            msg(parse_extra_host("bad").unwrap_err()),
            "bad format for add-host: \"bad\""
        );
        assert_eq!(
            msg(parse_extra_host(":1.2.3.4").unwrap_err()),
            "bad format for add-host: \":1.2.3.4\""
        );
        assert_eq!(
            msg(parse_extra_host("x:notanip").unwrap_err()),
            "invalid IP address in add-host: \"notanip\""
        );
    }

    #[test]
    fn links_name_their_target_by_alias() {
        let cfg = serde_json::json!({"Links": ["upstream:bar", "/solo"]});
        assert_eq!(link_target(&cfg, "BAR").as_deref(), Some("upstream"));
        assert_eq!(link_target(&cfg, "solo").as_deref(), Some("solo"));
        assert_eq!(link_target(&cfg, "upstream"), None);
        assert_eq!(link_target(&serde_json::json!({}), "bar"), None);
    }

    #[test]
    fn network_scoped_names() {
        let e = super::super::endpoint::Endpoint {
            ip: Ipv4Addr::new(172, 20, 0, 2),
            prefix: 16,
            gateway: None,
            mac: String::new(),
            host_veth: String::new(),
            name: "Web".into(),
            aliases: vec!["www".into()],
            requested_ip: None,
            ipv6: None,
            requested_ip6: None,
        };
        for n in ["web", "www", "web.front", "www.front"] {
            assert!(names_endpoint(n, "front", &e), "{n}");
        }
        for n in ["web.back", "front", "webfront", "db"] {
            assert!(!names_endpoint(n, "front", &e), "{n}");
        }
    }
}
