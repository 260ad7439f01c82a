//! Docker's JSON for containers: inspect and list entries. The shapes (field
//! names, nulls, defaults) follow what dockerd 20.10 answers.

use std::path::Path;

use serde_json::{json, Value};
use shipshape_runtime::{DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS};

use crate::daemon::containers::container::Derived;
use crate::daemon::containers::lifecycle::human_status;
use crate::daemon::containers::record::{Record, Status};

/// HostConfig as dockerd shows it: its defaults, overlaid with what the client sent.
fn host_config(r: &Record) -> Value {
    let mut hc = json!({
        "Binds": null, "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "default", "PortBindings": null,
        "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
        "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null,
        "CapAdd": null, "CapDrop": null, "CgroupnsMode": "host",
        "Dns": null, "DnsOptions": null, "DnsSearch": null, "ExtraHosts": null,
        "GroupAdd": null, "IpcMode": "private", "Cgroup": "", "Links": null,
        "OomScoreAdj": 0, "PidMode": "", "Privileged": false, "PublishAllPorts": false,
        "ReadonlyRootfs": false, "SecurityOpt": null, "UTSMode": "", "UsernsMode": "",
        "ShmSize": DEFAULT_SHM_SIZE, "ConsoleSize": [0, 0], "Isolation": "",
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
        "BlkioWeight": 0, "BlkioWeightDevice": null, "BlkioDeviceReadBps": null,
        "BlkioDeviceWriteBps": null, "BlkioDeviceReadIOps": null, "BlkioDeviceWriteIOps": null,
        "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": "", "CpusetMems": "", "Devices": null, "DeviceCgroupRules": null,
        "DeviceRequests": null, "KernelMemory": 0, "KernelMemoryTCP": 0,
        "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": null,
        "OomKillDisable": false, "PidsLimit": null, "Ulimits": null,
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": DEFAULT_MASKED_PATHS,
        "ReadonlyPaths": DEFAULT_READONLY_PATHS
    });
    // dockerd's default cgroup namespace: the host's on v1, private on v2.
    if crate::daemon::containers::cgroups::host_support().0 == "2" {
        hc["CgroupnsMode"] = json!("private");
    }
    if let (Some(dst), Value::Object(src)) = (hc.as_object_mut(), &r.host_config_raw) {
        for (k, v) in src {
            dst.insert(k.clone(), v.clone());
        }
        adapt_sent_host_config(dst);
    }
    if let Some(obj) = hc.as_object_mut() {
        // Normalise what we act on, so inspect tells the truth about it.
        obj.insert("AutoRemove".into(), json!(r.host_config.auto_remove));
        obj.insert(
            "ReadonlyRootfs".into(),
            json!(r.host_config.readonly_rootfs),
        );
        if r.host_config.network_mode.is_empty() {
            obj.insert("NetworkMode".into(), json!("default"));
        }
    }
    hc
}

/// What dockerd 20.10 makes of the zero values a client sends (the docker
/// CLI sends every field): its `adaptContainerSettings` defaults and the
/// create route's "unlimited" spellings, as `GET /containers/{id}/json`
/// shows them (asked of dockerd 20.10.24 with curl; see
/// specs/harness/inspect-defaults.json). A HostConfig that was not sent at
/// all is the defaults above, with no `Runtime` until the first start.
fn adapt_sent_host_config(hc: &mut serde_json::Map<String, Value>) {
    let empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        _ => false,
    };
    if empty(hc.get("Runtime")) {
        hc.insert("Runtime".into(), json!(DEFAULT_RUNTIME));
    }
    if empty(hc.get("ShmSize")) {
        hc.insert("ShmSize".into(), json!(DEFAULT_SHM_SIZE));
    }
    if empty(hc.get("IpcMode")) {
        hc.insert("IpcMode".into(), json!("private"));
    }
    let privileged = hc.get("Privileged") == Some(&json!(true));
    if empty(hc.get("CgroupnsMode")) {
        let v2 = crate::daemon::containers::cgroups::host_support().0 == "2";
        let mode = if v2 { "private" } else { "host" };
        hc.insert("CgroupnsMode".into(), json!(mode));
    }
    if let Some(Value::Object(log)) = hc.get_mut("LogConfig") {
        if empty(log.get("Type")) {
            log.insert("Type".into(), json!("json-file"));
        }
    }
    // PidsLimit: create stores 0 and less as null (daemon::containers::
    // cgroups::normalize); an update to 0 or less shows 0, as dockerd.
    if hc.get("MemorySwappiness").and_then(Value::as_i64) == Some(-1) {
        hc.insert("MemorySwappiness".into(), Value::Null);
    }
    // null (not []) means the defaults, which a privileged container has none of.
    for (key, default) in [
        ("MaskedPaths", DEFAULT_MASKED_PATHS),
        ("ReadonlyPaths", DEFAULT_READONLY_PATHS),
    ] {
        if hc.get(key).is_none_or(Value::is_null) {
            let v = if privileged {
                Value::Null
            } else {
                json!(default)
            };
            hc.insert(key.into(), v);
        }
    }
}

/// dockerd's runtime name, which inspect shows (this engine runs containers
/// itself, where dockerd has runc do it).
pub const DEFAULT_RUNTIME: &str = "runc";
const DEFAULT_SHM_SIZE: i64 = 64 << 20;

fn network_mode_str(r: &Record) -> &str {
    if r.host_config.network_mode.is_empty() {
        "default"
    } else {
        &r.host_config.network_mode
    }
}

fn network_mode(r: &Record) -> String {
    network_mode_str(r).to_string()
}

/// An endpoint in dockerd's shape, without addresses (this engine gives a
/// container the host's network or none). Typed rather than built as a JSON
/// tree: the list endpoint renders one per container per request.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointStub {
    #[serde(rename = "IPAMConfig")]
    ipam_config: (),
    links: (),
    aliases: (),
    #[serde(rename = "NetworkID")]
    network_id: &'static str,
    #[serde(rename = "EndpointID")]
    endpoint_id: &'static str,
    gateway: &'static str,
    #[serde(rename = "IPAddress")]
    ip_address: &'static str,
    #[serde(rename = "IPPrefixLen")]
    ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    ipv6_gateway: &'static str,
    #[serde(rename = "GlobalIPv6Address")]
    global_ipv6_address: &'static str,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    global_ipv6_prefix_len: u8,
    mac_address: &'static str,
    driver_opts: (),
}

const ENDPOINT_STUB: EndpointStub = EndpointStub {
    ipam_config: (),
    links: (),
    aliases: (),
    network_id: "",
    endpoint_id: "",
    gateway: "",
    ip_address: "",
    ip_prefix_len: 0,
    ipv6_gateway: "",
    global_ipv6_address: "",
    global_ipv6_prefix_len: 0,
    mac_address: "",
    driver_opts: (),
};

/// `{"<network>": <endpoint>}` for the container's one network.
struct Networks<'a>(&'a str);

impl serde::Serialize for Networks<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, &ENDPOINT_STUB)?;
        m.end()
    }
}

/// `{"<network>": <endpoint>, ...}` for the networks a container is on,
/// by name (Go sorts a map's keys).
struct NetworksOn<'a>(Vec<&'a str>);

impl serde::Serialize for NetworksOn<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut names = self.0.clone();
        names.sort_unstable();
        names.dedup();
        let mut m = s.serialize_map(Some(names.len()))?;
        for n in names {
            m.serialize_entry(n, &ENDPOINT_STUB)?;
        }
        m.end()
    }
}

/// A list entry's `"Networks":{...}` fragment as the cached tail holds it
/// (its own network only), and as `names` make it; None when they agree.
pub fn list_networks_splice(r: &Record, names: &[&str]) -> Option<(String, String)> {
    if names == [r.network_name()] {
        return None;
    }
    let cached = serde_json::to_string(&Networks(r.network_name())).ok()?;
    let actual = serde_json::to_string(&NetworksOn(names.to_vec())).ok()?;
    Some((
        format!("\"Networks\":{cached}"),
        format!("\"Networks\":{actual}"),
    ))
}

/// [`list_entry`]'s `Networks` from the names of the networks it is on.
pub fn list_networks(names: &[&str]) -> Value {
    serde_json::to_value(NetworksOn(names.to_vec())).unwrap_or(Value::Null)
}

fn networks(r: &Record) -> Value {
    serde_json::to_value(Networks(r.network_name())).unwrap_or(Value::Null)
}

/// `mounts` is inspect's `Mounts` array (volume paths need the daemon).
pub fn inspect(r: &Record, log_path: &Path, fs_dir: &Path, mounts: Value) -> Value {
    let s = &r.state;
    let (sandbox_id, sandbox_key) = crate::daemon::networks::sandbox::sandbox(r);
    let mut v = json!({
        "Id": r.id,
        "Created": r.created,
        "Path": r.path,
        "Args": r.args,
        "State": {
            "Status": s.status.as_str(),
            "Running": matches!(s.status, Status::Running | Status::Paused),
            "Paused": s.status == Status::Paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at,
            "FinishedAt": s.finished_at,
        },
        "Image": r.image_id,
        "ResolvConfPath": "",
        "HostnamePath": "",
        "HostsPath": "",
        "LogPath": log_path,
        "Name": r.name,
        "RestartCount": r.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": null,
        "HostConfig": host_config(r),
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {
                "MergedDir": fs_dir.join("merged"),
                "UpperDir": fs_dir.join("upper"),
                "WorkDir": fs_dir.join("work"),
            }
        },
        "Mounts": mounts,
        "Config": config(r),
        "NetworkSettings": {
            "Bridge": "", "SandboxID": sandbox_id, "HairpinMode": false,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": {}, "SandboxKey": sandbox_key, "SecondaryIPAddresses": null,
            "SecondaryIPv6Addresses": null, "EndpointID": "", "Gateway": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
            "Networks": networks(r),
        }
    });
    // dockerd shows Health once a run with a healthcheck started.
    if let (Some(h), Some(state)) = (&s.health, v.get_mut("State")) {
        state["Health"] = json!(h);
    }
    v
}

/// The container's Config; an empty `Volumes` is shown as null, as dockerd
/// shows the `{}` the docker CLI sends.
fn config(r: &Record) -> Value {
    let mut c = json!(r.config);
    if c.get("Volumes")
        .and_then(Value::as_object)
        .is_some_and(|m| m.is_empty())
    {
        c["Volumes"] = Value::Null;
    }
    c
}

/// Docker's `Command` column: the argv joined by spaces.
fn command(r: &Record) -> String {
    std::iter::once(r.path.as_str())
        .chain(r.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

fn created_unix(r: &Record) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&r.created)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// The fixed head of a `GET /containers/json` entry: the fields that change
/// only when the record does. Serialized straight from the record (no JSON
/// tree) and cached with it; see [`list_fixed`].
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListHead<'a> {
    id: &'a str,
    names: [&'a str; 1],
    image: &'a str,
    #[serde(rename = "ImageID")]
    image_id: &'a str,
    command: String,
    created: i64,
    ports: [(); 0],
    labels: LabelsOrEmpty<'a>,
}

/// The fixed tail of a list entry.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListTail<'a> {
    host_config: NetworkModeOnly<'a>,
    network_settings: NetworksOnly<'a>,
    mounts: Value,
}

/// Docker shows `{}` for a container without labels.
struct LabelsOrEmpty<'a>(Option<&'a std::collections::BTreeMap<String, String>>);

impl serde::Serialize for LabelsOrEmpty<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(m) => m.serialize(s),
            None => std::collections::BTreeMap::<String, String>::new().serialize(s),
        }
    }
}

#[derive(serde::Serialize)]
struct NetworkModeOnly<'a> {
    #[serde(rename = "NetworkMode")]
    network_mode: &'a str,
}

#[derive(serde::Serialize)]
struct NetworksOnly<'a> {
    #[serde(rename = "Networks")]
    networks: Networks<'a>,
}

/// The parts of a list entry that change only with the record, as JSON
/// fragments: `{"Id":...,"Labels":{...},` and `"HostConfig":...}`. The entry
/// is head + [`write_list_state`] + tail, in dockerd's field order.
pub fn list_fixed(r: &Record, mounts: Value) -> Derived {
    let head = ListHead {
        id: &r.id,
        names: [&r.name],
        image: &r.config.image,
        image_id: &r.image_id,
        command: command(r),
        created: created_unix(r),
        ports: [],
        labels: LabelsOrEmpty(r.config.labels.as_ref()),
    };
    let tail = ListTail {
        host_config: NetworkModeOnly {
            network_mode: network_mode_str(r),
        },
        network_settings: NetworksOnly {
            networks: Networks(r.network_name()),
        },
        mounts,
    };
    // Serializing these borrowed structs cannot fail (string keys, no
    // non-finite floats); an empty fragment would only drop fields.
    let mut list_head = serde_json::to_vec(&head).unwrap_or_else(|_| b"{}".to_vec());
    list_head.pop(); // the closing '}'
    list_head.push(b',');
    let mut list_tail = serde_json::to_vec(&tail).unwrap_or_else(|_| b"{}".to_vec());
    list_tail.remove(0); // the opening '{'
    Derived {
        list_head,
        list_tail,
    }
}

/// The time-dependent middle of a list entry: `"State":..,"Status":..,`.
pub fn write_list_state(buf: &mut Vec<u8>, r: &Record) {
    buf.extend_from_slice(b"\"State\":\"");
    buf.extend_from_slice(r.state.status.as_str().as_bytes());
    buf.extend_from_slice(b"\",\"Status\":");
    // A human status is plain ASCII words and digits, but escape it anyway.
    let status = human_status(&r.state, &r.created);
    let _ = serde_json::to_writer(&mut *buf, &status);
    buf.push(b',');
}

pub fn list_entry(r: &Record, mounts: Value) -> Value {
    json!({
        "Id": r.id,
        "Names": [r.name],
        "Image": r.config.image,
        "ImageID": r.image_id,
        "Command": command(r),
        "Created": created_unix(r),
        "Ports": [],
        "Labels": r.config.labels.clone().unwrap_or_default(),
        "State": r.state.status.as_str(),
        "Status": human_status(&r.state, &r.created),
        "HostConfig": {"NetworkMode": network_mode(r)},
        "NetworkSettings": {"Networks": networks(r)},
        "Mounts": mounts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(labels: bool, network_mode: &str) -> Record {
        let mut r: Record = serde_json::from_value(json!({
            "id": "c0ffee", "name": "/box", "created": "2026-11-26T10:00:00.123456789Z",
            "path": "/probe", "args": ["echo", "a \"quoted\" arg"],
            "config": {"Image": "probe:1"}, "host_config": {}, "host_config_raw": {},
            "image_id": "sha256:abc", "state": crate::daemon::containers::record::State::default(), "restart_count": 0,
        }))
        .unwrap();
        if labels {
            r.config.labels = Some([("k".to_string(), "v\n".to_string())].into());
        }
        r.host_config.network_mode = network_mode.into();
        r
    }

    /// The cached fragments around the state make exactly the entry the
    /// plain JSON rendering gives, for every shape of record.
    #[test]
    fn list_fragments_make_the_same_entry_as_the_json_tree() {
        for (labels, mode) in [(false, ""), (true, "none"), (true, "my-net")] {
            let r = record(labels, mode);
            let mounts = json!([{"Type": "volume", "Name": "v"}]);
            let fixed = list_fixed(&r, mounts.clone());
            let mut bytes = fixed.list_head.clone();
            write_list_state(&mut bytes, &r);
            bytes.extend_from_slice(&fixed.list_tail);
            let parsed: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                parsed,
                list_entry(&r, mounts),
                "{}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}
