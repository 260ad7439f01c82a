//! `NetworkMode: container:<name|id>`: a container that joins another's
//! network namespace (harness `network/container-mode-*`).
//!
//! As dockerd 20.10.24 does it:
//! - at create, the options that would configure a network of its own are
//!   refused ([`check_create`]), and a target that exists is recorded by its
//!   full id (one that does not is kept as given: the start finds it
//!   missing);
//! - at start ([`join`]), the target must exist (404) and run (409); the
//!   joiner takes the target's hostname (`Config.Hostname` shows it from
//!   then on), enters its network namespace (`/proc/<pid>/ns/net`) and
//!   sees its /etc/hostname, /etc/hosts and /etc/resolv.conf, which inspect
//!   shows as the joiner's paths;
//! - it has no endpoint: `NetworkSettings.Networks` is `{}` and it cannot
//!   be connected to a network.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::daemon::containers::record::{Config, HostConfig, Record};
use crate::daemon::{Container, Daemon};
use crate::errdefs::EngineError;

const PREFIX: &str = "container:";

/// The target named by a `container:<name|id>` mode.
pub fn target_of(mode: &str) -> Option<&str> {
    mode.strip_prefix(PREFIX)
}

fn conflict(what: &str) -> EngineError {
    EngineError::InvalidParameter(format!("conflicting options: {what}"))
}

fn non_empty(raw: &Value, key: &str) -> bool {
    match raw.get(key) {
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        _ => false,
    }
}

/// dockerd's create-time refusals (its `validateNetContainerMode`, in its
/// order), from the request as sent (before the image's defaults).
pub fn check_create(cfg: &Config, hc: &HostConfig, raw: &Value) -> Result<(), EngineError> {
    let mode = hc.network_mode.as_str();
    let joins = target_of(mode).is_some();
    let given_mac = cfg.mac_address.as_deref().is_some_and(|m| !m.is_empty());
    if joins && !cfg.hostname.is_empty() {
        return Err(conflict("hostname and the network mode"));
    }
    if joins && non_empty(raw, "Links") {
        return Err(conflict(
            "container type network can't be used with links. This would result in undefined behavior",
        ));
    }
    if joins && non_empty(raw, "Dns") {
        return Err(conflict("dns and the network mode"));
    }
    if joins && non_empty(raw, "ExtraHosts") {
        return Err(conflict("custom host-to-IP mapping and the network mode"));
    }
    if (joins || mode == "host") && given_mac {
        return Err(conflict("mac-address and the network mode"));
    }
    let publish_all = raw.get("PublishAllPorts").and_then(Value::as_bool) == Some(true);
    if joins && (non_empty(raw, "PortBindings") || publish_all) {
        return Err(conflict(
            "port publishing and the container type network mode",
        ));
    }
    let exposed = cfg
        .exposed_ports
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|o| !o.is_empty());
    if joins && exposed {
        return Err(conflict(
            "port exposing and the container type network mode",
        ));
    }
    Ok(())
}

/// Records an existing target by its full id, as dockerd shows it from
/// create on.
pub fn normalize(d: &Daemon, hc: &mut HostConfig, raw: &mut Value) {
    let Some(target) = target_of(&hc.network_mode) else {
        return;
    };
    if let Ok(t) = d.container(target) {
        hc.network_mode = format!("{PREFIX}{}", t.id);
        if let Some(obj) = raw.as_object_mut() {
            obj.insert("NetworkMode".into(), Value::String(hc.network_mode.clone()));
        }
    }
}

/// What a start of a joiner takes from its running target.
pub struct Joined {
    pub target: Arc<Container>,
    /// The target's pid 1: its network namespace is `/proc/<pid>/ns/net`.
    pub pid: i32,
    pub hostname: String,
}

/// The running target of `rec`'s `container:` mode, or dockerd's refusal;
/// None for any other mode.
pub fn join(d: &Daemon, rec: &Record) -> Result<Option<Joined>, EngineError> {
    let Some(target) = target_of(&rec.host_config.network_mode) else {
        return Ok(None);
    };
    let t = d
        .container(target)
        .map_err(|_| EngineError::NotFound(format!("No such container: {target}")))?;
    let snap = t.snapshot();
    if !t.is_running() || snap.state.pid <= 0 {
        return Err(EngineError::Conflict(format!(
            "cannot join network of a non running container: {}",
            t.id
        )));
    }
    Ok(Some(Joined {
        pid: snap.state.pid,
        hostname: snap.config.hostname.clone(),
        target: t,
    }))
}

/// The directory whose hostname, hosts and resolv.conf files container
/// `c` uses: its target's once it started joined to one, else its own.
pub fn files_dir(d: &Daemon, c: &Container, started: bool) -> PathBuf {
    let mode = c.record().host_config.network_mode.clone();
    match target_of(&mode).filter(|_| started) {
        Some(target) => d
            .container(target)
            .map(|t| t.dir().to_path_buf())
            .unwrap_or_else(|_| c.dir().to_path_buf()),
        None => c.dir().to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refusal(cfg: Value, raw: Value) -> Option<String> {
        let cfg: Config = serde_json::from_value(cfg).unwrap();
        let mut raw = raw;
        raw["NetworkMode"] = json!("container:x");
        let hc: HostConfig = serde_json::from_value(raw.clone()).unwrap();
        check_create(&cfg, &hc, &raw).err().map(|e| e.to_string())
    }

    #[test]
    fn own_network_options_conflict_with_a_joined_one() {
        assert_eq!(refusal(json!({}), json!({})), None);
        assert_eq!(
            refusal(json!({"Hostname": "h"}), json!({})).as_deref(),
            Some("conflicting options: hostname and the network mode")
        );
        assert_eq!(
            refusal(json!({}), json!({"PublishAllPorts": true})).as_deref(),
            Some("conflicting options: port publishing and the container type network mode")
        );
        // Accepted by dockerd: search domains and resolver options.
        assert_eq!(
            refusal(json!({"Domainname": "d"}), json!({"DnsSearch": ["x"]})),
            None
        );
        assert_eq!(refusal(json!({}), json!({"Dns": []})), None);
    }
}
