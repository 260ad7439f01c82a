//! Networks as the API sees them: the predefined `none`, `host` and `bridge`
//! networks plus user-defined ones, and which containers are connected to
//! which. Persisted in `<data-root>/networks.json`.
//!
//! Bridge networks are real: one Linux bridge each ([`bridge`]), subnets
//! and addresses from [`ipam`], and a veth per container endpoint
//! ([`endpoint`]). `host` shares the host's namespace, `none` gives an empty
//! one.

pub mod bridge;
pub mod config_only;
pub mod connect;
pub mod container_mode;
pub mod dns;
pub mod endpoint;
pub mod ipam;
pub mod links;
pub mod ports;
pub mod sandbox;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::daemon::{containers::names, events, Container, Daemon};
use crate::errdefs::EngineError;

pub const PREDEFINED: [&str; 3] = ["none", "host", "bridge"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub created: String,
    pub driver: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub enable_ipv6: bool,
    #[serde(default)]
    pub ipam_config: Vec<Value>,
    /// `IPAM.Options` as created: dockerd 20.10.24 shows `null` when the
    /// request had none (or no IPAM), `{}` when it sent `{}`.
    #[serde(default)]
    pub ipam_options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Containers connected with `POST /networks/{id}/connect`, by ID. A
    /// container's own network (its `NetworkMode`) is not listed here.
    #[serde(default)]
    pub connected: Vec<String>,
    /// Containers whose own network this is, disconnected from it
    /// (`NetworkMode` stays, as in dockerd, but they are not on it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<String>,
    /// The subnet came from the pool, not from the request (dockerd then
    /// refuses static addresses on it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_subnet: bool,
    /// Holds configuration only (`--config-only`): no bridge, no endpoints.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub config_only: bool,
    /// The config-only network this one took its configuration from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub config_from: String,
    /// The host's bridge for this network (bridge driver only).
    #[serde(default)]
    pub bridge: String,
    /// Live endpoints by container ID: made at start, gone at exit (so
    /// never persisted: after a restart no container runs).
    #[serde(skip)]
    pub endpoints: BTreeMap<String, endpoint::Endpoint>,
}

impl Network {
    pub fn predefined(&self) -> bool {
        PREDEFINED.contains(&self.name.as_str())
    }

    /// `key` of the IPv4 IPAM entry (dockerd keeps one per family).
    fn ipam_str(&self, key: &str) -> Option<&str> {
        self.ipam_config
            .iter()
            .find(|c| !is_v6_entry(c))?
            .get(key)?
            .as_str()
    }

    /// `key` of the IPv6 IPAM entry.
    fn ipam6_str(&self, key: &str) -> Option<&str> {
        self.ipam_config
            .iter()
            .find(|c| is_v6_entry(c))?
            .get(key)?
            .as_str()
    }

    /// The IPv6 subnet containers get addresses in: only with `EnableIPv6`
    /// (dockerd keeps a v6 subnet of a network without it, unused).
    pub fn subnet6(&self) -> Option<ipam::Subnet6> {
        if !self.enable_ipv6 {
            return None;
        }
        ipam::Subnet6::parse(self.ipam6_str("Subnet")?)
    }

    pub fn gateway6(&self) -> Option<std::net::Ipv6Addr> {
        match self.ipam6_str("Gateway") {
            Some(g) => g.parse().ok(),
            None => self.subnet6().map(|s| s.first_host()),
        }
    }

    pub fn ip_range6(&self) -> Option<ipam::Subnet6> {
        ipam::Subnet6::parse(self.ipam6_str("IPRange")?)
    }

    pub fn subnet(&self) -> Option<ipam::Subnet> {
        ipam::Subnet::parse(self.ipam_str("Subnet")?)
    }

    pub fn gateway(&self) -> Option<std::net::Ipv4Addr> {
        match self.ipam_str("Gateway") {
            Some(g) => g.parse().ok(),
            None => self.subnet().map(|s| s.first_host()),
        }
    }

    pub fn ip_range(&self) -> Option<ipam::Subnet> {
        ipam::Subnet::parse(self.ipam_str("IPRange")?)
    }

    pub fn mtu(&self) -> u32 {
        self.options
            .get("com.docker.network.driver.mtu")
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }

    /// A boolean driver option ("true"/"false"), `default` when absent.
    pub fn option_bool(&self, key: &str, default: bool) -> bool {
        match self.options.get(key).map(String::as_str) {
            Some("false") | Some("0") => false,
            Some(_) => true,
            None => default,
        }
    }

    /// How many containers this network's records name.
    fn members(&self) -> usize {
        self.connected.len() + self.left.len()
    }

    /// The `type` attribute of network events: the driver.
    pub fn kind(&self) -> &str {
        &self.driver
    }
}

pub struct NetworkStore {
    path: PathBuf,
    nets: Mutex<Vec<Network>>,
    pub host: bridge::Host,
    /// The embedded DNS resolvers of running containers.
    pub resolvers: dns::Resolvers,
    /// Published ports of running containers, by container ID.
    published: Mutex<std::collections::HashMap<String, ports::Published>>,
}

fn now() -> String {
    crate::daemon::containers::lifecycle::now_rfc3339()
}

impl NetworkStore {
    /// Loads the store, creating the predefined networks (with IDs that stay
    /// stable across restarts) the first time.
    pub fn open(path: PathBuf) -> std::io::Result<Self> {
        let host = bridge::Host::new(path.parent().unwrap_or(std::path::Path::new("/")));
        let mut nets: Vec<Network> = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(std::io::Error::other)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut changed = false;
        // A data root from before bridges were real: its default bridge
        // claimed dockerd's 172.17.0.0/16 without a bridge of its own; it
        // gets a free subnet when its bridge is made.
        for n in nets.iter_mut() {
            if n.name == "bridge" && n.bridge.is_empty() && !n.ipam_config.is_empty() {
                n.ipam_config.clear();
                n.options.remove("com.docker.network.bridge.name");
                changed = true;
            }
        }
        for (name, driver) in [("none", "null"), ("host", "host"), ("bridge", "bridge")] {
            if nets.iter().any(|n| n.name == name) {
                continue;
            }
            let mut options = BTreeMap::new();
            if name == "bridge" {
                for (k, v) in [
                    ("com.docker.network.bridge.default_bridge", "true"),
                    ("com.docker.network.bridge.enable_icc", "true"),
                    ("com.docker.network.bridge.enable_ip_masquerade", "true"),
                    ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
                    ("com.docker.network.driver.mtu", "1500"),
                ] {
                    options.insert(k.to_string(), v.to_string());
                }
            }
            nets.push(Network {
                name: name.into(),
                id: names::new_id(),
                created: now(),
                driver: driver.into(),
                internal: false,
                attachable: false,
                enable_ipv6: false,
                ipam_config: Vec::new(),
                ipam_options: None,
                options,
                labels: BTreeMap::new(),
                connected: Vec::new(),
                left: Vec::new(),
                auto_subnet: false,
                config_only: false,
                config_from: String::new(),
                bridge: String::new(),
                endpoints: BTreeMap::new(),
            });
            changed = true;
        }
        let store = NetworkStore {
            path,
            nets: Mutex::new(nets),
            host,
            resolvers: dns::Resolvers::default(),
            published: Mutex::new(Default::default()),
        };
        if changed {
            store.save(&store.lock())?;
        }
        Ok(store)
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Vec<Network>> {
        self.nets.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, nets: &[Network]) -> std::io::Result<()> {
        shipshape_store::atomic::write_json(&self.path, &nets)
    }

    pub fn list(&self) -> Vec<Network> {
        self.lock().clone()
    }

    /// dockerd's lookup: full ID, then exact name, then unique ID prefix.
    pub fn get(&self, key: &str) -> Result<Network, EngineError> {
        find(&self.lock(), key).cloned()
    }

    /// Adds network `n`; with `check_duplicate` a name already taken is
    /// refused, else (dockerd 20.10) it is taken twice and the answer
    /// carries dockerd's warning.
    pub fn create(
        &self,
        mut n: Network,
        check_duplicate: bool,
    ) -> Result<(Network, String), EngineError> {
        let mut nets = self.lock();
        if PREDEFINED.contains(&n.name.as_str()) {
            return Err(EngineError::Forbidden(format!(
                "operation is not permitted on predefined {} network ",
                n.name
            )));
        }
        let mut warning = String::new();
        if let Some(taken) = nets.iter().find(|x| x.name == n.name) {
            if check_duplicate {
                return Err(EngineError::Conflict(format!(
                    "network with name {} already exists",
                    n.name
                )));
            }
            warning = format!(
                "Network with name {} (id : {}) already exists",
                n.name, taken.id
            );
        }
        if !n.config_from.is_empty() {
            config_only::apply(&mut n, &nets)?;
        }
        check_ipam(&mut n, &nets)?;
        n.id = names::new_id();
        n.created = now();
        if n.config_only {
            n.driver = "null".into();
        } else if n.driver == "bridge" {
            if let Err(e) = self.make_bridge(&mut n, &nets) {
                let _ = self.host.delete_link(&n.bridge);
                return Err(e);
            }
        }
        nets.push(n.clone());
        if let Err(e) = self.save(&nets) {
            nets.pop();
            let _ = self.host.delete_link(&n.bridge);
            return Err(e.into());
        }
        if let Err(e) = self.host.sync_firewall(&nets) {
            tracing::warn!(error = %e, "firewall rules");
        }
        events::network(&n.id, &n.name, n.kind(), "create", None);
        Ok((n, warning))
    }

    /// Removes a user-defined network. `in_use` says whether a container is
    /// attached (dockerd refuses then).
    pub fn remove(&self, key: &str, in_use: impl Fn(&Network) -> bool) -> Result<(), EngineError> {
        // `in_use` reads this store again: look up and check without the lock.
        let n = self.get(key)?;
        if n.predefined() {
            return Err(EngineError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        if in_use(&n) {
            return Err(EngineError::Forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                n.name, n.id
            )));
        }
        let mut nets = self.lock();
        config_only::check_unused(&n, &nets)?;
        nets.retain(|x| x.id != n.id);
        if let Err(e) = self.save(&nets) {
            nets.push(n);
            return Err(e.into());
        }
        if !n.bridge.is_empty() {
            if let Err(e) = self.host.delete_link(&n.bridge) {
                tracing::warn!(bridge = %n.bridge, error = %e, "removing bridge");
            }
            if let Err(e) = self.host.sync_firewall(&nets) {
                tracing::warn!(error = %e, "firewall rules");
            }
        }
        events::network(&n.id, &n.name, n.kind(), "destroy", None);
        Ok(())
    }

    /// Records that `cid` joins (`on`) or leaves network `id`; `primary`:
    /// it is the container's own network (its `NetworkMode`).
    pub fn set_connected(
        &self,
        id: &str,
        cid: &str,
        on: bool,
        primary: bool,
    ) -> Result<(), EngineError> {
        let mut nets = self.lock();
        let Some(n) = nets.iter_mut().find(|n| n.id == id) else {
            return Err(EngineError::NotFound(format!("network {id} not found")));
        };
        n.connected.retain(|c| c != cid);
        n.left.retain(|c| c != cid);
        match (on, primary) {
            (true, false) => n.connected.push(cid.to_string()),
            (false, true) => n.left.push(cid.to_string()),
            _ => {}
        }
        self.save(&nets).map_err(Into::into)
    }

    /// Forgets a removed container everywhere.
    pub fn forget_container(&self, cid: &str) {
        let mut nets = self.lock();
        let before: usize = nets.iter().map(Network::members).sum();
        for n in nets.iter_mut() {
            n.connected.retain(|c| c != cid);
            n.left.retain(|c| c != cid);
        }
        if nets.iter().map(Network::members).sum::<usize>() != before {
            if let Err(e) = self.save(&nets) {
                tracing::warn!(error = %e, "persisting networks");
            }
        }
    }
}

impl NetworkStore {
    /// Gives bridge network `n` a subnet (from the pool unless configured)
    /// and brings its bridge up, under the host-wide lock so that two
    /// engines never pick the same subnet.
    fn make_bridge(&self, n: &mut Network, others: &[Network]) -> Result<(), EngineError> {
        let _lock = bridge::host_lock()?;
        if n.bridge.is_empty() {
            n.bridge = match n.options.get("com.docker.network.bridge.name") {
                Some(b) if !b.is_empty() && n.name != "bridge" => b.clone(),
                _ => self.host.bridge_name(&n.id),
            };
        }
        let subnet = match n.subnet() {
            Some(s) => s,
            None => {
                let mut taken = self.host.routed_subnets()?;
                taken.extend(others.iter().filter_map(|o| o.subnet()));
                let s = ipam::pick_subnet(&taken).ok_or_else(|| {
                    EngineError::NotFound(
                        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                    )
                })?;
                // In front of an IPv6 entry, as dockerd lists them.
                n.ipam_config.retain(is_v6_entry);
                n.ipam_config.insert(
                    0,
                    json!({"Subnet": s.to_string(), "Gateway": s.first_host().to_string()}),
                );
                n.auto_subnet = true;
                s
            }
        };
        if n.name == "bridge" {
            n.options
                .insert("com.docker.network.bridge.name".into(), n.bridge.clone());
        }
        let gw = n.gateway().unwrap_or(subnet.first_host());
        let v6 = n.subnet6().zip(n.gateway6()).map(|(s, g)| (g, s.prefix));
        self.host
            .ensure_bridge(&n.bridge, gw, subnet.prefix, v6, n.mtu())
            .map_err(|e| EngineError::System(format!("creating bridge {}: {e}", n.bridge)))
    }

    /// At daemon start: removes what dead engines (and this one's last run)
    /// left, then brings up every bridge network's bridge and the rules.
    pub fn bring_up(&self) {
        let mut nets = self.lock();
        let owned = nets.iter().map(|n| n.bridge.clone()).collect();
        {
            let _lock = bridge::host_lock();
            self.host.reap(&owned);
        }
        let mut changed = false;
        let ids: Vec<String> = nets
            .iter()
            .filter(|n| n.driver == "bridge")
            .map(|n| n.id.clone())
            .collect();
        for id in ids {
            let others: Vec<Network> = nets.iter().filter(|o| o.id != id).cloned().collect();
            let Some(slot) = nets.iter_mut().find(|n| n.id == id) else {
                continue;
            };
            let mut n = slot.clone();
            match self.make_bridge(&mut n, &others) {
                Ok(()) => {
                    changed |= n.bridge != slot.bridge || n.ipam_config != slot.ipam_config;
                    *slot = n;
                }
                Err(e) => tracing::warn!(network = %n.name, error = %e, "bringing up bridge"),
            }
        }
        if changed {
            if let Err(e) = self.save(&nets) {
                tracing::warn!(error = %e, "persisting networks");
            }
        }
        if let Err(e) = self.host.sync_firewall(&nets) {
            tracing::warn!(error = %e, "firewall rules");
        }
    }

    /// Keeps a running container's port forwards (replacing older ones).
    pub fn set_published(&self, cid: &str, p: Option<ports::Published>) {
        let mut m = self.published.lock().unwrap_or_else(|e| e.into_inner());
        match p {
            Some(p) => {
                m.insert(cid.to_string(), p);
            }
            None => {
                m.remove(cid);
            }
        }
    }

    /// A running container's published ports now forward to `to` where
    /// they forwarded to `from` (an address of a network it left).
    pub fn retarget_published(&self, cid: &str, from: Ipv4Addr, to: Ipv4Addr) -> bool {
        let m = self.published.lock().unwrap_or_else(|e| e.into_inner());
        m.get(cid).is_some_and(|p| p.retarget(from, to))
    }

    /// The container's published ports while it runs.
    pub fn published(&self, cid: &str) -> Vec<ports::Mapping> {
        let m = self.published.lock().unwrap_or_else(|e| e.into_inner());
        m.get(cid).map(|p| p.mappings.clone()).unwrap_or_default()
    }

    /// At daemon stop: the bridges and rules go (they come back at start).
    pub fn tear_down(&self) {
        let nets = self.lock();
        self.host.teardown(&nets);
    }

    /// At startup: forgets connections of containers that no longer exist
    /// (a removal cut by a crash after the container went, before this
    /// store heard of it).
    pub fn forget_missing_containers(&self, exists: impl Fn(&str) -> bool) {
        let mut nets = self.lock();
        let before: usize = nets.iter().map(Network::members).sum();
        for n in nets.iter_mut() {
            n.connected.retain(|c| exists(c));
            n.left.retain(|c| exists(c));
        }
        if nets.iter().map(Network::members).sum::<usize>() != before {
            if let Err(e) = self.save(&nets) {
                tracing::warn!(error = %e, "persisting networks");
            }
        }
    }
}

/// Checks a new network's `IPAM.Config` as dockerd's bridge driver and
/// default IPAM do (their words and statuses, read off dockerd 20.10.24),
/// and puts the IPv4 entry first, as dockerd lists them.
fn check_ipam(n: &mut Network, others: &[Network]) -> Result<(), EngineError> {
    let (mut v4, mut v6) = (0, Vec::new());
    for c in &n.ipam_config {
        let Some(s) = c.get("Subnet").and_then(Value::as_str) else {
            continue;
        };
        let bad = || EngineError::System(format!("Invalid subnet {s} : invalid CIDR address: {s}"));
        if is_v6_entry(c) {
            v6.push(ipam::Subnet6::parse(s).ok_or_else(bad)?);
        } else {
            ipam::Subnet::parse(s).ok_or_else(bad)?;
            v4 += 1;
        }
    }
    if v4 > 1 || v6.len() > 1 {
        return Err(EngineError::Forbidden(
            "bridge driver doesn't support multiple subnets".into(),
        ));
    }
    if n.enable_ipv6 && v6.is_empty() {
        // dockerd 20.10 has no default IPv6 pool.
        return Err(EngineError::NotFound(
            "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network".into(),
        ));
    }
    if let Some(s6) = v6.first() {
        let taken = others
            .iter()
            .filter_map(|o| ipam::Subnet6::parse(o.ipam6_str("Subnet")?));
        if taken.into_iter().any(|t| t.overlaps(s6)) {
            return Err(EngineError::Forbidden(
                "Pool overlaps with other one on this address space".into(),
            ));
        }
        if let Some(g) = n.ipam6_str("Gateway") {
            let inside = g.parse().is_ok_and(|ip| s6.contains(ip));
            if !inside {
                return Err(EngineError::System(format!(
                    "failed to allocate gateway ({g}): Requested address is out of range"
                )));
            }
        }
    }
    n.ipam_config.sort_by_key(is_v6_entry);
    Ok(())
}

/// Whether an `IPAM.Config` entry is for IPv6 (its subnet is).
pub fn is_v6_entry(c: &Value) -> bool {
    c.get("Subnet")
        .and_then(Value::as_str)
        .is_some_and(|s| s.contains(':'))
}

fn find<'a>(nets: &'a [Network], key: &str) -> Result<&'a Network, EngineError> {
    if let Some(n) = nets.iter().find(|n| n.id == key) {
        return Ok(n);
    }
    let mut named = nets.iter().filter(|n| n.name == key);
    if let Some(n) = named.next() {
        let more = named.count();
        if more > 0 {
            return Err(EngineError::InvalidParameter(format!(
                "network {key} is ambiguous ({} matches found based on name)",
                more + 1
            )));
        }
        return Ok(n);
    }
    if !key.is_empty() {
        let mut hits = nets.iter().filter(|n| n.id.starts_with(key));
        if let (Some(n), None) = (hits.next(), hits.next()) {
            return Ok(n);
        }
    }
    Err(EngineError::NotFound(format!("network {key} not found")))
}

/// The name of the network a container's `NetworkMode` puts it on
/// ("default" is the bridge), or None for `container:<id>` modes.
pub fn primary_name(mode: &str) -> Option<String> {
    match mode {
        "" | "default" => Some("bridge".into()),
        m if m.starts_with("container:") => None,
        m => Some(m.to_string()),
    }
}

/// Every network `c` is on: its own, then the ones it was connected to.
pub fn networks_of(d: &Daemon, c: &Container) -> Vec<Network> {
    if c.record().config.network_disabled {
        return Vec::new();
    }
    let mode = c.record().host_config.network_mode.clone();
    on(&d.networks.list(), &c.id, &mode)
        .into_iter()
        .cloned()
        .collect()
}

/// Among `nets`, the ones container `cid` (whose `NetworkMode` is `mode`)
/// is on: its own unless it left it, then the ones it was connected to.
pub fn on<'a>(nets: &'a [Network], cid: &str, mode: &str) -> Vec<&'a Network> {
    let mut out: Vec<&Network> = Vec::new();
    if let Some(p) = primary_name(mode) {
        if let Ok(n) = find(nets, &p) {
            if !n.left.iter().any(|x| x == cid) {
                out.push(n);
            }
        }
    }
    for n in nets.iter().filter(|n| n.connected.iter().any(|x| x == cid)) {
        if !out.iter().any(|o| o.id == n.id) {
            out.push(n);
        }
    }
    out
}

/// Publishes `connect` or `disconnect` for each of the container's networks,
/// as dockerd does when a container starts and after it dies.
pub fn publish_attach(d: &Daemon, c: &Container, action: &str) {
    for n in networks_of(d, c) {
        events::network(&n.id, &n.name, n.kind(), action, Some(&c.id));
    }
}

/// Docker's JSON for a network. `containers` are the running containers on it.
pub fn render(n: &Network, containers: &[std::sync::Arc<Container>]) -> Value {
    let mut cs = serde_json::Map::new();
    for c in containers {
        let ep = n.endpoints.get(&c.id);
        cs.insert(
            c.id.clone(),
            json!({
                "Name": c.name().trim_start_matches('/'),
                "EndpointID": endpoint_id(&n.id, &c.id),
                "MacAddress": ep.map(|e| e.mac.clone()).unwrap_or_default(),
                "IPv4Address": ep.map(|e| format!("{}/{}", e.ip, e.prefix)).unwrap_or_default(),
                "IPv6Address": ep
                    .and_then(|e| e.ipv6.as_ref())
                    .map(|a| format!("{}/{}", a.address, a.prefix))
                    .unwrap_or_default(),
            }),
        );
    }
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": n.enable_ipv6,
        "IPAM": {"Driver": "default", "Options": n.ipam_options, "Config": n.ipam_config},
        "Internal": n.internal,
        "Attachable": n.attachable,
        "Ingress": false,
        "ConfigFrom": {"Network": n.config_from},
        "ConfigOnly": n.config_only,
        "Containers": cs,
        "Options": n.options,
        "Labels": n.labels,
    })
}

/// A stable per-(network, container) endpoint ID: there is no real endpoint,
/// but clients expect a 64-hex ID.
pub fn endpoint_id(net: &str, cid: &str) -> String {
    let a = net.get(..32).unwrap_or(net);
    let b = cid.get(32..).unwrap_or(cid);
    format!("{a}{b}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_of_missing_containers_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("networks.json");
        let store = NetworkStore::open(path.clone()).unwrap();
        let bridge = store.get("bridge").unwrap().id;
        store.set_connected(&bridge, "gone", true, false).unwrap();
        store.set_connected(&bridge, "here", true, false).unwrap();
        store.forget_missing_containers(|c| c == "here");
        let reopened = NetworkStore::open(path).unwrap();
        assert_eq!(reopened.get("bridge").unwrap().connected, vec!["here"]);
    }
}
