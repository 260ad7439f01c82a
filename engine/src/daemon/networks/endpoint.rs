//! A container's endpoints on its bridge networks: an address (IPAM), a MAC
//! and a veth pair each, made when it starts and gone when it exits.
//!
//! The order of a start: [`attach`] reserves the addresses and says which
//! veths the runtime makes (before the container's command runs, inside the
//! init: see `shipshape_runtime::netlink`); the runtime spawns; then
//! [`network_ready`] runs with the container's pid: its network namespace
//! (`/proc/<pid>/ns/net`) is complete. That is where the embedded DNS
//! resolver (shipshape-dns) attaches for containers on user-defined networks.
//! At exit, [`detach`] releases the addresses (the kernel removes the veths
//! with the namespace).
//!
//! Names for the resolver: [`Names`] below answers, per querying container,
//! what its networks know (container names, aliases, short IDs).

use std::net::{Ipv4Addr, Ipv6Addr};

use rand::Rng;
use serde_json::Value;
use shipshape_runtime::{Veth, Veth6};

use super::ipam;
use crate::daemon::containers::record::Record;
use crate::daemon::{Container, Daemon};
use crate::errdefs::EngineError;

/// One container on one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub mac: String,
    /// The host end of its veth.
    pub host_veth: String,
    /// The container's name, without the leading '/'.
    pub name: String,
    /// `--network-alias`es, plus the short ID on user-defined networks (as
    /// dockerd adds it).
    pub aliases: Vec<String>,
    /// The requested IPv4 address (`IPAMConfig.IPv4Address`), if any.
    pub requested_ip: Option<Ipv4Addr>,
    /// On a network with IPv6: the address, prefix and gateway.
    pub ipv6: Option<Veth6>,
    /// The requested IPv6 address (`IPAMConfig.IPv6Address`), if any.
    pub requested_ip6: Option<Ipv6Addr>,
}

/// What a start needs from [`attach`].
#[derive(Debug, Default)]
pub struct Plan {
    pub veths: Vec<Veth>,
    /// The address of the first endpoint (for /etc/hosts).
    pub ip: Option<Ipv4Addr>,
    /// Each endpoint's addresses (IPv4, and IPv6 on a network with IPv6),
    /// the default bridge's first, for /etc/hosts.
    pub hosts: Vec<(Ipv4Addr, Option<Ipv6Addr>)>,
    /// On a user-defined network: the embedded resolver serves DNS.
    pub user_defined: bool,
}

/// True when `mode` puts the container on bridge networks.
pub fn bridged(mode: &str) -> bool {
    !(mode == "host" || mode == "none" || mode.starts_with("container:"))
}

/// `EndpointsConfig[<network>]` from the create request, by name or ID.
pub fn endpoint_config<'a>(rec: &'a Record, name: &str, id: &str) -> Option<&'a Value> {
    let eps = rec.networking_config.as_ref()?.get("EndpointsConfig")?;
    eps.get(name)
        .or_else(|| eps.get(id))
        .filter(|v| !v.is_null())
}

/// The `MacAddress` a create body gives the endpoint of the network its
/// `NetworkMode` names (keyed as the mode is, "default" also as "bridge").
pub fn mode_mac(networking_config: Option<&Value>, mode: &str) -> Option<String> {
    let eps = networking_config?.get("EndpointsConfig")?;
    let keys: &[&str] = match mode {
        "" | "default" => &["default", "bridge"],
        m => &[m],
    };
    keys.iter()
        .filter_map(|k| eps.get(*k)?.get("MacAddress")?.as_str())
        .find(|m| !m.is_empty())
        .map(String::from)
}

/// Drops the `MacAddress` given per endpoint (at create or connect) once a
/// start is under way. API 1.41 does not apply it: dockerd 20.10 shows it
/// in inspect until the start, then the MAC made from the address, and
/// after a stop "" (a connect while stopped shows a new one again).
pub fn forget_given_macs(c: &Container) {
    let mut rec = c.record();
    let Some(eps) = rec
        .networking_config
        .as_mut()
        .and_then(|nc| nc.get_mut("EndpointsConfig"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for cfg in eps.values_mut().filter_map(Value::as_object_mut) {
        cfg.remove("MacAddress");
    }
}

fn short_id(id: &str) -> String {
    id.get(..12).unwrap_or(id).to_string()
}

/// The aliases dockerd gives an endpoint on a user-defined network: those
/// asked for, then the short ID and the container's hostname, each unless
/// already there (20.10's `updateNetworkConfig`). The hostname is how a
/// container with `--hostname` finds itself through the embedded DNS once
/// its /etc/hosts lacks it (moby's `TestHostnameDnsResolution`).
pub(crate) fn add_implicit_aliases(aliases: &mut Vec<String>, cid: &str, hostname: &str) {
    for a in [short_id(cid), hostname.to_string()] {
        if !a.is_empty() && !aliases.contains(&a) {
            aliases.push(a);
        }
    }
}

/// Reserves the container's addresses on its bridge networks and returns
/// the veths to make. On error nothing stays reserved.
pub fn attach(d: &Daemon, c: &Container, rec: &Record) -> Result<Plan, EngineError> {
    let mut plan = Plan::default();
    if !bridged(&rec.host_config.network_mode) {
        return Ok(plan);
    }
    // dockerd creates a container whose NetworkMode names no network (a
    // typo, "NONE", one removed since) and refuses its start: 404.
    if let Some(p) = super::primary_name(&rec.host_config.network_mode) {
        super::find(&d.networks.list(), &p)?;
    }
    // The embedded resolver comes with an endpoint on a user-defined
    // network (below): dockerd 20.10.24 gives a container that left its own
    // user-defined network, before a start or before a restart, the host's
    // resolvers.
    let on = super::networks_of(d, c);
    if on.iter().any(|n| n.config_only) {
        return Err(super::config_only::no_endpoint());
    }
    // dockerd joins the default bridge first: it is eth0, gives the
    // default route and takes the published ports, and its /etc/hosts line
    // comes first (a container created on a user network and connected to
    // bridge before its start).
    let mut on: Vec<_> = on.into_iter().filter(|n| n.driver == "bridge").collect();
    on.sort_by_key(|n| n.name != "bridge");
    let wanted: Vec<String> = on.into_iter().map(|n| n.id).collect();
    let mut nets = d.networks.lock();
    let mut done: Vec<String> = Vec::new();
    let result = (|| {
        for id in &wanted {
            let Some(n) = nets.iter_mut().find(|n| &n.id == id) else {
                continue;
            };
            let veth = reserve(n, &c.id, rec)?;
            plan.user_defined |= !n.predefined();
            plan.ip.get_or_insert(veth.address);
            // Each join adds the endpoint's lines to /etc/hosts.
            plan.hosts
                .push((veth.address, veth.ipv6.as_ref().map(|v6| v6.address)));
            plan.veths.push(veth);
            done.push(n.id.clone());
        }
        Ok(())
    })();
    if let Err(e) = result {
        for n in nets.iter_mut().filter(|n| done.contains(&n.id)) {
            n.endpoints.remove(&c.id);
        }
        return Err(e);
    }
    Ok(plan)
}

/// The address `rec` asks for on `n` (`IPAMConfig.IPv4Address`), in
/// dockerd's words when it is not one.
pub fn requested_ip(rec: &Record, n: &super::Network) -> Result<Option<Ipv4Addr>, EngineError> {
    requested(rec, n, "IPv4Address", "IPv4")
}

/// The IPv6 address `rec` asks for on `n` (`IPAMConfig.IPv6Address`).
fn requested_ip6(rec: &Record, n: &super::Network) -> Result<Option<Ipv6Addr>, EngineError> {
    requested(rec, n, "IPv6Address", "IPv6")
}

/// `IPAMConfig.<key>` of `rec`'s endpoint on `n`, parsed; dockerd's
/// "Invalid <family> address" when it does not parse.
fn requested<T: std::str::FromStr>(
    rec: &Record,
    n: &super::Network,
    key: &str,
    family: &str,
) -> Result<Option<T>, EngineError> {
    let cfg = endpoint_config(rec, &n.name, &n.id);
    let Some(s) = cfg
        .and_then(|v| v.get("IPAMConfig"))
        .and_then(|v| v.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    s.parse()
        .map(Some)
        .map_err(|_| EngineError::System(format!("Invalid {family} address: {s})")))
}

/// The endpoint's IPv6 side on `n`, if `n` has IPv6 enabled: the requested
/// address or the next free one (dockerd's words when neither works).
fn reserve6(
    n: &super::Network,
    rec: &Record,
) -> Result<(Option<Veth6>, Option<Ipv6Addr>), EngineError> {
    let (Some(subnet), Some(gateway)) = (n.subnet6(), n.gateway6()) else {
        return Ok((None, None));
    };
    let requested = requested_ip6(rec, n)?;
    let used: Vec<Ipv6Addr> = n
        .endpoints
        .values()
        .filter_map(|e| e.ipv6.as_ref().map(|a| a.address))
        .collect();
    let address = match requested {
        Some(ip) => {
            if used.contains(&ip) || ip == gateway {
                return Err(EngineError::Forbidden("Address already in use".into()));
            }
            if !subnet.contains(ip) {
                return Err(EngineError::System(format!(
                    "Invalid address {ip}: It does not belong to any of this network's subnets"
                )));
            }
            ip
        }
        None => ipam::pick_address6(&subnet, n.ip_range6().as_ref(), gateway, &used).ok_or_else(
            || {
                EngineError::System(format!(
                    "no available IPv6 addresses on this network's address pools: {} ({})",
                    n.name, n.id
                ))
            },
        )?,
    };
    let v6 = Veth6 {
        address,
        prefix: subnet.prefix,
        gateway: (!n.internal).then_some(gateway),
    };
    Ok((Some(v6), requested))
}

/// Reserves container `cid`'s endpoint on bridge network `n` (address,
/// MAC, aliases from `rec`'s endpoint settings) and says which veth makes
/// it.
pub fn reserve(n: &mut super::Network, cid: &str, rec: &Record) -> Result<Veth, EngineError> {
    let (Some(subnet), false) = (n.subnet(), n.bridge.is_empty()) else {
        return Err(EngineError::System(format!(
            "network {} has no bridge",
            n.name
        )));
    };
    let gateway = n.gateway().unwrap_or(subnet.first_host());
    let cfg = endpoint_config(rec, &n.name, &n.id);
    let requested = requested_ip(rec, n)?;
    let (ipv6, requested_ip6) = reserve6(n, rec)?;
    let used: Vec<Ipv4Addr> = n.endpoints.values().map(|e| e.ip).collect();
    let ip = match requested {
        Some(ip) => {
            if used.contains(&ip) || ip == gateway {
                return Err(EngineError::Forbidden("Address already in use".into()));
            }
            if !subnet.contains(ip) {
                return Err(EngineError::System(format!(
                    "Invalid address {ip}: It does not belong to any of this network's subnets"
                )));
            }
            ip
        }
        None => {
            ipam::pick_address(&subnet, n.ip_range().as_ref(), gateway, &used).ok_or_else(|| {
                EngineError::System(format!(
                    "no available IPv4 addresses on this network's address pools: {} ({})",
                    n.name, n.id
                ))
            })?
        }
    };
    let mut aliases: Vec<String> = cfg
        .and_then(|v| v.get("Aliases"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if !n.predefined() {
        add_implicit_aliases(&mut aliases, cid, &rec.config.hostname);
    }
    let mac_bytes = given_mac(rec, n)?.unwrap_or_else(|| ipam::mac_of(ip));
    let host_veth = format!("veth{:07x}", rand::thread_rng().gen::<u32>() & 0xfff_ffff);
    let gateway = (!n.internal).then_some(gateway);
    n.endpoints.insert(
        cid.to_string(),
        Endpoint {
            ip,
            prefix: subnet.prefix,
            gateway,
            mac: ipam::mac_string(&mac_bytes),
            host_veth: host_veth.clone(),
            name: rec.name.trim_start_matches('/').to_string(),
            aliases,
            requested_ip: requested,
            ipv6: ipv6.clone(),
            requested_ip6,
        },
    );
    Ok(Veth {
        host_name: host_veth,
        bridge: n.bridge.clone(),
        mac: mac_bytes,
        mtu: n.mtu(),
        address: ip,
        prefix: subnet.prefix,
        gateway,
        ipv6,
    })
}

/// `Config.MacAddress`, which dockerd gives the endpoint on the container's
/// own network only; one that does not parse fails the start in Go's words.
fn given_mac(rec: &Record, n: &super::Network) -> Result<Option<[u8; 6]>, EngineError> {
    let Some(s) = rec.config.mac_address.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let own = super::primary_name(&rec.host_config.network_mode)
        .is_some_and(|p| p == n.name || p == n.id);
    if !own {
        return Ok(None);
    }
    ipam::parse_mac(s)
        .map(Some)
        .ok_or_else(|| EngineError::System(format!("address {s}: invalid MAC address")))
}

/// The container's network namespace is complete (`pid` is its pid 1, so
/// the namespace is `/proc/<pid>/ns/net`). The embedded DNS resolver is to
/// attach here for containers on user-defined networks
/// (`shipshape_dns::bind_in_netns` on that namespace, 127.0.0.11:53).
pub fn network_ready(_d: &Daemon, _c: &Container, _pid: i32, _plan: &Plan) {}

/// Binds the container's published ports (before it starts, so a port in
/// use fails the start); forwards go to its first address.
pub fn publish_ports(
    d: &Daemon,
    c: &Container,
    rec: &Record,
    plan: &Plan,
) -> Result<(), EngineError> {
    let Some(ip) = plan.ip else {
        return Ok(());
    };
    let ep = d
        .networks
        .list()
        .into_iter()
        .find(|n| n.endpoints.contains_key(&c.id))
        .map(|n| super::endpoint_id(&n.id, &c.id))
        .unwrap_or_default();
    let p = super::ports::publish(rec, ip, &ep)?;
    if !p.mappings.is_empty() {
        d.networks.set_published(&c.id, Some(p));
    }
    Ok(())
}

/// Releases the container's addresses and ports (at exit, or when a start
/// fails).
pub fn detach(d: &Daemon, cid: &str) {
    super::dns::stop(d, cid);
    d.networks.set_published(cid, None);
    // Its veths leave the bridge before its addresses are free, and are
    // deleted, as dockerd takes an endpoint out at exit. A namespace
    // outlives its last process for a moment (and for as long as anything
    // holds it): a veth left on the bridge with the address and MAC the
    // next container is given sent that container's connections to the old
    // namespace, which refused them (1 start in 4 right after a stop).
    let veths: Vec<String> = {
        let nets = d.networks.lock();
        nets.iter()
            .filter_map(|n| n.endpoints.get(cid))
            .map(|e| e.host_veth.clone())
            .filter(|v| !v.is_empty())
            .collect()
    };
    if !veths.is_empty() {
        d.networks.host.retire_links(veths);
    }
    let mut nets = d.networks.lock();
    for n in nets.iter_mut() {
        n.endpoints.remove(cid);
    }
}

/// The container's endpoint on each network it has one on: (network name,
/// network ID, endpoint).
pub fn endpoints_of(d: &Daemon, cid: &str) -> Vec<(String, String, Endpoint)> {
    let nets = d.networks.lock();
    nets.iter()
        .filter_map(|n| {
            n.endpoints
                .get(cid)
                .map(|e| (n.name.clone(), n.id.clone(), e.clone()))
        })
        .collect()
}

/// What a resolver may answer to container `asker`: the names and aliases
/// of the containers sharing a user-defined network with it.
pub struct Names;

impl Names {
    /// IPv4 addresses for `name` as `asker` sees it: on each user-defined
    /// network `asker` is on, the endpoints whose container name or alias is
    /// `name` (case-insensitive).
    pub fn lookup(d: &Daemon, asker: &str, name: &str) -> Vec<Ipv4Addr> {
        let name = name.trim_end_matches('.');
        let nets = d.networks.lock();
        let mut out = Vec::new();
        for n in nets
            .iter()
            .filter(|n| !n.predefined() && n.endpoints.contains_key(asker))
        {
            for e in n.endpoints.values() {
                let hit = e.name.eq_ignore_ascii_case(name)
                    || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(name));
                if hit && !out.contains(&e.ip) {
                    out.push(e.ip);
                }
            }
        }
        out
    }

    /// The container name for `ip` on a network `asker` shares (PTR).
    pub fn reverse(d: &Daemon, asker: &str, ip: Ipv4Addr) -> Option<String> {
        let nets = d.networks.lock();
        nets.iter()
            .filter(|n| !n.predefined() && n.endpoints.contains_key(asker))
            .flat_map(|n| n.endpoints.values())
            .find(|e| e.ip == ip)
            .map(|e| e.name.clone())
    }
}
