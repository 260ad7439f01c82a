//! Networks as the API sees them: the predefined `none`, `host` and `bridge`
//! networks plus user-defined ones, and which containers are connected to
//! which. Persisted in `<data-root>/networks.json`.
//!
//! This is bookkeeping only: no bridge, veth or addresses are set up. Every
//! container that is not on `none` shares the host's network namespace, as
//! before; a container on `none` gets its own empty namespace.

use std::collections::BTreeMap;
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
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Containers connected with `POST /networks/{id}/connect`, by ID. A
    /// container's own network (its `NetworkMode`) is not listed here.
    #[serde(default)]
    pub connected: Vec<String>,
}

impl Network {
    pub fn predefined(&self) -> bool {
        PREDEFINED.contains(&self.name.as_str())
    }

    /// The `type` attribute of network events: the driver.
    pub fn kind(&self) -> &str {
        &self.driver
    }
}

pub struct NetworkStore {
    path: PathBuf,
    nets: Mutex<Vec<Network>>,
}

fn now() -> String {
    crate::daemon::containers::lifecycle::now_rfc3339()
}

impl NetworkStore {
    /// Loads the store, creating the predefined networks (with IDs that stay
    /// stable across restarts) the first time.
    pub fn open(path: PathBuf) -> std::io::Result<Self> {
        let mut nets: Vec<Network> = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(std::io::Error::other)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut changed = false;
        for (name, driver) in [("none", "null"), ("host", "host"), ("bridge", "bridge")] {
            if nets.iter().any(|n| n.name == name) {
                continue;
            }
            let mut options = BTreeMap::new();
            let mut ipam_config = Vec::new();
            if name == "bridge" {
                for (k, v) in [
                    ("com.docker.network.bridge.default_bridge", "true"),
                    ("com.docker.network.bridge.enable_icc", "true"),
                    ("com.docker.network.bridge.enable_ip_masquerade", "true"),
                    ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
                    ("com.docker.network.bridge.name", "docker0"),
                    ("com.docker.network.driver.mtu", "1500"),
                ] {
                    options.insert(k.to_string(), v.to_string());
                }
                ipam_config.push(json!({"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}));
            }
            nets.push(Network {
                name: name.into(),
                id: names::new_id(),
                created: now(),
                driver: driver.into(),
                internal: false,
                attachable: false,
                enable_ipv6: false,
                ipam_config,
                options,
                labels: BTreeMap::new(),
                connected: Vec::new(),
            });
            changed = true;
        }
        let store = NetworkStore {
            path,
            nets: Mutex::new(nets),
        };
        if changed {
            store.save(&store.lock())?;
        }
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Network>> {
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

    pub fn create(&self, mut n: Network) -> Result<Network, EngineError> {
        let mut nets = self.lock();
        if PREDEFINED.contains(&n.name.as_str()) {
            return Err(EngineError::Forbidden(format!(
                "operation is not permitted on predefined {} network ",
                n.name
            )));
        }
        if nets.iter().any(|x| x.name == n.name) {
            return Err(EngineError::Conflict(format!(
                "network with name {} already exists",
                n.name
            )));
        }
        n.id = names::new_id();
        n.created = now();
        nets.push(n.clone());
        if let Err(e) = self.save(&nets) {
            nets.pop();
            return Err(e.into());
        }
        events::network(&n.id, &n.name, n.kind(), "create", None);
        Ok(n)
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
        nets.retain(|x| x.id != n.id);
        if let Err(e) = self.save(&nets) {
            nets.push(n);
            return Err(e.into());
        }
        events::network(&n.id, &n.name, n.kind(), "destroy", None);
        Ok(())
    }

    /// Records (or forgets) an explicit connection of `cid` to network `id`.
    pub fn set_connected(&self, id: &str, cid: &str, on: bool) -> Result<(), EngineError> {
        let mut nets = self.lock();
        let Some(n) = nets.iter_mut().find(|n| n.id == id) else {
            return Err(EngineError::NotFound(format!("network {id} not found")));
        };
        n.connected.retain(|c| c != cid);
        if on {
            n.connected.push(cid.to_string());
        }
        self.save(&nets).map_err(Into::into)
    }

    /// Forgets a removed container everywhere.
    pub fn forget_container(&self, cid: &str) {
        let mut nets = self.lock();
        let before: usize = nets.iter().map(|n| n.connected.len()).sum();
        for n in nets.iter_mut() {
            n.connected.retain(|c| c != cid);
        }
        if nets.iter().map(|n| n.connected.len()).sum::<usize>() != before {
            if let Err(e) = self.save(&nets) {
                tracing::warn!(error = %e, "persisting networks");
            }
        }
    }
}

impl NetworkStore {
    /// At startup: forgets connections of containers that no longer exist
    /// (a removal cut by a crash after the container went, before this
    /// store heard of it).
    pub fn forget_missing_containers(&self, exists: impl Fn(&str) -> bool) {
        let mut nets = self.lock();
        let before: usize = nets.iter().map(|n| n.connected.len()).sum();
        for n in nets.iter_mut() {
            n.connected.retain(|c| exists(c));
        }
        if nets.iter().map(|n| n.connected.len()).sum::<usize>() != before {
            if let Err(e) = self.save(&nets) {
                tracing::warn!(error = %e, "persisting networks");
            }
        }
    }
}

fn find<'a>(nets: &'a [Network], key: &str) -> Result<&'a Network, EngineError> {
    if let Some(n) = nets.iter().find(|n| n.id == key) {
        return Ok(n);
    }
    if let Some(n) = nets.iter().find(|n| n.name == key) {
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
    let mode = c.record().host_config.network_mode.clone();
    let nets = d.networks.list();
    let mut out: Vec<Network> = Vec::new();
    if let Some(p) = primary_name(&mode) {
        if let Ok(n) = find(&nets, &p) {
            out.push(n.clone());
        }
    }
    for n in nets
        .iter()
        .filter(|n| n.connected.iter().any(|x| x == &c.id))
    {
        if !out.iter().any(|o| o.id == n.id) {
            out.push(n.clone());
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
        cs.insert(
            c.id.clone(),
            json!({
                "Name": c.name().trim_start_matches('/'),
                "EndpointID": endpoint_id(&n.id, &c.id),
                "MacAddress": "",
                "IPv4Address": "",
                "IPv6Address": "",
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
        "IPAM": {"Driver": "default", "Options": if n.predefined() { Value::Null } else { json!({}) }, "Config": n.ipam_config},
        "Internal": n.internal,
        "Attachable": n.attachable,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
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
        store.set_connected(&bridge, "gone", true).unwrap();
        store.set_connected(&bridge, "here", true).unwrap();
        store.forget_missing_containers(|c| c == "here");
        let reopened = NetworkStore::open(path).unwrap();
        assert_eq!(reopened.get("bridge").unwrap().connected, vec!["here"]);
    }
}
