//! `POST /networks/{id}/connect` and `/disconnect`, as dockerd 20.10 does
//! them.
//!
//! A created container only has its settings changed: the endpoint
//! settings (aliases, `IPAMConfig`) go into its record's
//! `NetworkingConfig.EndpointsConfig[<network>]`, which every start reads.
//! A running one is changed live: connecting reserves an endpoint
//! ([`endpoint::reserve`]) and plugs a veth into its network namespace
//! (`eth<N>`, the first free N; the default route only if it has none);
//! disconnecting deletes the host end of its veth (the kernel takes the
//! inner end and its routes) and releases the address. The embedded
//! resolver reads the endpoints on every query, so the container's names
//! appear and disappear with them. Events `connect`/`disconnect` are
//! published for running containers only, as dockerd does.
//!
//! Leaving the container's own network (its `NetworkMode`, which stays as
//! it is) is recorded in [`super::Network::left`]; docker-compose does this
//! to every container it creates, to reconnect it with its aliases.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use serde_json::{json, Value};

use super::endpoint::{self, Endpoint};
use super::{primary_name, Network};
use crate::daemon::containers::init_layer;
use crate::daemon::{events, Container, Daemon};
use crate::errdefs::EngineError;

const HOST_MODE: &str =
    "container cannot be disconnected from host network or connected to host network";

fn invalid_name(key: &str) -> EngineError {
    EngineError::InvalidParameter(format!("invalid name or ID supplied: {key:?}"))
}

/// True when `n` is `c`'s own network (its `NetworkMode`).
fn is_primary(c: &Container, n: &Network) -> bool {
    primary_name(&c.record().host_config.network_mode).is_some_and(|p| p == n.name || p == n.id)
}

fn on_network(d: &Daemon, c: &Container, n: &Network) -> bool {
    super::networks_of(d, c).iter().any(|x| x.id == n.id)
}

/// Connects container `key` to network `net` with endpoint settings `cfg`
/// (the request's `EndpointConfig`).
pub async fn connect(
    d: &Arc<Daemon>,
    net: &str,
    key: &str,
    cfg: Option<Value>,
) -> Result<(), EngineError> {
    if key.is_empty() {
        return Err(invalid_name(key));
    }
    let c = d.container(key)?;
    let n = d.networks.get(net)?;
    let _op = c.op_lock.lock().await;
    let mode = c.record().host_config.network_mode.clone();
    if n.name == "host" || mode == "host" {
        return Err(EngineError::InvalidParameter(HOST_MODE.into()));
    }
    if super::container_mode::target_of(&mode).is_some() {
        return Err(EngineError::InvalidParameter(
            "container sharing network namespace with another container or host cannot be connected to any other network".into(),
        ));
    }
    if n.name == "none" || mode == "none" {
        return Err(EngineError::InvalidParameter(
            "container cannot be connected to multiple networks with one of the networks in private (none) mode".into(),
        ));
    }
    // A created container's settings are just replaced.
    if c.is_running() && on_network(d, &c, &n) {
        return Err(EngineError::Forbidden(format!(
            "endpoint with name {} already exists in network {}",
            c.name().trim_start_matches('/'),
            n.name
        )));
    }
    let mut cfg = cfg.filter(|v| v.is_object()).unwrap_or_else(|| json!({}));
    check_static_ip(&n, &cfg)?;
    if !n.predefined() {
        // dockerd keeps the short ID and the hostname among the aliases given.
        let mut aliases: Vec<String> = cfg["Aliases"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let hostname = c.record().config.hostname.clone();
        super::endpoint::add_implicit_aliases(&mut aliases, &c.id, &hostname);
        cfg["Aliases"] = json!(aliases);
    }
    let previous = set_endpoint_config(&c, &n.name, Some(cfg));
    let (d2, c2, n2) = (d.clone(), c.clone(), n.clone());
    let live = tokio::task::spawn_blocking(move || {
        if c2.is_running() {
            plug(&d2, &c2, &n2)
        } else {
            Ok(())
        }
    })
    .await
    .map_err(EngineError::system)
    .and_then(|r| r);
    if let Err(e) = live {
        set_endpoint_config(&c, &n.name, previous);
        return Err(e);
    }
    let (d2, c2, n2) = (d.clone(), c.clone(), n.clone());
    let primary = is_primary(&c, &n);
    let saved = tokio::task::spawn_blocking(move || {
        d2.networks.set_connected(&n2.id, &c2.id, true, primary)?;
        c2.save().map_err(EngineError::system)
    })
    .await
    .map_err(EngineError::system)
    .and_then(|r| r);
    if let Err(e) = saved {
        unplug(d, &c.id, &n);
        return Err(e);
    }
    if c.is_running() {
        events::network(&n.id, &n.name, n.kind(), "connect", Some(&c.id));
    }
    Ok(())
}

/// Disconnects container `key` from network `net`. With `force`, a
/// container that no longer exists is looked up as an endpoint name (and
/// is not found: this engine keeps no endpoint without its container).
pub async fn disconnect(
    d: &Arc<Daemon>,
    net: &str,
    key: &str,
    force: bool,
) -> Result<(), EngineError> {
    if key.is_empty() {
        return Err(invalid_name(key));
    }
    let c = match d.container(key) {
        Ok(c) => c,
        Err(EngineError::NotFound(_)) if force => {
            d.networks.get(net)?;
            return Err(EngineError::NotFound(format!("endpoint {key} not found")));
        }
        Err(e) => return Err(e),
    };
    let _op = c.op_lock.lock().await;
    // dockerd looks a stopped container's networks up by the name given,
    // and a running one's through the network.
    let not_connected = |name: &str| {
        EngineError::System(format!(
            "container {} is not connected to the network {name}",
            c.id
        ))
    };
    let running = c.is_running();
    let n = match d.networks.get(net) {
        Ok(n) => n,
        Err(e) if running && !force => return Err(e),
        Err(_) => return Err(not_connected(net)),
    };
    let mode = c.record().host_config.network_mode.clone();
    if running && n.name == "host" && mode == "host" {
        return Err(EngineError::InvalidParameter(HOST_MODE.into()));
    }
    if !on_network(d, &c, &n) {
        if running {
            return Err(EngineError::System(format!(
                "container {} is not connected to network {}",
                c.id, n.name
            )));
        }
        return Err(not_connected(net));
    }
    let (d2, c2, n2) = (d.clone(), c.clone(), n.clone());
    let primary = is_primary(&c, &n);
    tokio::task::spawn_blocking(move || d2.networks.set_connected(&n2.id, &c2.id, false, primary))
        .await
        .map_err(EngineError::system)??;
    set_endpoint_config(&c, &n.name, None);
    if let Err(e) = c.save() {
        tracing::warn!(id = %c.id, error = %e, "saving the container after a disconnect");
    }
    if c.is_running() {
        let (d2, c2, n2) = (d.clone(), c.clone(), n.clone());
        let pid = c.record().state.pid;
        tokio::task::spawn_blocking(move || {
            if let Some(gone) = unplug(&d2, &c2.id, &n2) {
                repoint_ports(&d2, &c2.id, gone.ip);
            }
            forget_hosts(&c2);
            if let Err(e) = reroute(&d2, &c2.id, pid) {
                tracing::warn!(id = %c2.id, error = %e, "default route after a disconnect");
            }
        })
        .await
        .map_err(EngineError::system)?;
        events::network(&n.id, &n.name, n.kind(), "disconnect", Some(&c.id));
    }
    Ok(())
}

/// dockerd's checks of a requested address, made before anything changes.
fn check_static_ip(n: &Network, cfg: &Value) -> Result<(), EngineError> {
    let Some(ip) = cfg
        .get("IPAMConfig")
        .and_then(|v| v.get("IPv4Address"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Ok(());
    };
    if n.predefined() {
        return Err(EngineError::InvalidParameter(
            "user specified IP address is supported on user defined networks only".into(),
        ));
    }
    if n.auto_subnet {
        return Err(EngineError::InvalidParameter(
            "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
        ));
    }
    ip.parse::<Ipv4Addr>()
        .map(drop)
        .map_err(|_| EngineError::System(format!("Invalid IPv4 address: {ip})")))
}

/// Sets (or removes) the container's endpoint settings for network `name`;
/// returns the previous ones.
fn set_endpoint_config(c: &Container, name: &str, cfg: Option<Value>) -> Option<Value> {
    let mut rec = c.record();
    let nc = rec.networking_config.get_or_insert_with(|| json!({}));
    if !nc.is_object() {
        *nc = json!({});
    }
    let eps = &mut nc["EndpointsConfig"];
    if !eps.is_object() {
        *eps = json!({});
    }
    let map = eps.as_object_mut()?;
    match cfg {
        Some(v) => map.insert(name.to_string(), v),
        None => map.remove(name),
    }
}

/// Gives running container `c` an endpoint on bridge network `n`: an
/// address and a veth in its namespace.
fn plug(d: &Daemon, c: &Container, n: &Network) -> Result<(), EngineError> {
    if n.config_only {
        return Err(super::config_only::no_endpoint());
    }
    if n.driver != "bridge" {
        return Ok(());
    }
    let rec = c.snapshot();
    let veth = {
        let mut nets = d.networks.lock();
        let Some(slot) = nets.iter_mut().find(|x| x.id == n.id) else {
            return Err(EngineError::NotFound(format!(
                "network {} not found",
                n.name
            )));
        };
        endpoint::reserve(slot, &c.id, &rec)?
    };
    let plugged = (|| {
        let netns = std::fs::File::open(format!("/proc/{}/ns/net", rec.state.pid))?;
        let mut inner = shipshape_runtime::netlink::Rtnl::open_in(&netns)?;
        let taken: Vec<String> = inner.links()?.into_iter().map(|l| l.name).collect();
        let peer = (0..)
            .map(|i| format!("eth{i}"))
            .find(|p| !taken.contains(p))
            .unwrap_or_default();
        let route = !inner.has_default_route()?;
        let ipv6_on = |name: &str| shipshape_runtime::netlink::ipv6_on_in(&netns, name);
        d.networks
            .host
            .plug(&mut inner, netns.as_raw_fd(), &veth, &peer, route, &ipv6_on)
    })();
    if let Err(e) = plugged {
        unplug(d, &c.id, n);
        return Err(EngineError::System(format!(
            "connecting to network {}: {e}",
            n.name
        )));
    }
    // dockerd appends the new address to the container's /etc/hosts, and
    // its IPv6 address on a network with IPv6.
    let names = own_names(&rec);
    let mut lines = vec![format!("{}\t{names}", veth.address)];
    lines.extend(
        veth.ipv6
            .as_ref()
            .map(|v6| format!("{}\t{names}", v6.address)),
    );
    if let Err(e) = init_layer::edit_hosts(c.dir(), |l| l.extend(lines)) {
        tracing::warn!(id = %c.id, error = %e, "adding to /etc/hosts after a connect");
    }
    Ok(())
}

fn own_names(rec: &crate::daemon::containers::record::Record) -> String {
    init_layer::own_names(&rec.config.hostname, &rec.config.domainname)
}

/// After a disconnect: dockerd drops every /etc/hosts line that ends with
/// the container's names (the ones of its other networks too).
fn forget_hosts(c: &Container) {
    let suffix = format!("\t{}", own_names(&c.snapshot()));
    if let Err(e) = init_layer::edit_hosts(c.dir(), |l| l.retain(|x| !x.ends_with(&suffix))) {
        tracing::warn!(id = %c.id, error = %e, "removing from /etc/hosts after a disconnect");
    }
}

/// Takes the container's endpoint on `n` away: its veth first, then its
/// address (see `endpoint::detach` for why in that order); the endpoint it
/// had.
fn unplug(d: &Daemon, cid: &str, n: &Network) -> Option<Endpoint> {
    let veth = {
        let nets = d.networks.lock();
        nets.iter()
            .find(|x| x.id == n.id)
            .and_then(|x| x.endpoints.get(cid))
            .map(|e| e.host_veth.clone())
    };
    if let Some(veth) = veth.filter(|v| !v.is_empty()) {
        if let Err(e) = d.networks.host.delete_link(&veth) {
            tracing::warn!(veth = %veth, error = %e, "removing a container's veth");
        }
    }
    let mut nets = d.networks.lock();
    nets.iter_mut()
        .find(|x| x.id == n.id)
        .and_then(|x| x.endpoints.remove(cid))
}

/// After a disconnect: published ports that forwarded to the address the
/// container had on the network it left go to one it has on another, as
/// on dockerd (20.10.24: `-p` on network a, connect b, disconnect a, the
/// port still answers).
fn repoint_ports(d: &Daemon, cid: &str, gone: Ipv4Addr) {
    if let Some((_, _, next)) = endpoint::endpoints_of(d, cid).into_iter().next() {
        d.networks.retarget_published(cid, gone, next.ip);
    }
}

/// After a disconnect: a container left without a default route gets one
/// via the gateway of another of its networks, as dockerd moves it.
fn reroute(d: &Daemon, cid: &str, pid: i32) -> std::io::Result<()> {
    let Some(gw) = endpoint::endpoints_of(d, cid)
        .into_iter()
        .find_map(|(_, _, e)| e.gateway)
    else {
        return Ok(());
    };
    let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    let mut inner = shipshape_runtime::netlink::Rtnl::open_in(&netns)?;
    if !inner.has_default_route()? {
        inner.add_default_route(gw)?;
    }
    Ok(())
}
