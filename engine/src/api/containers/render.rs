//! Docker's JSON for containers: inspect and list entries. The shapes (field
//! names, nulls, defaults) follow what dockerd 20.10 answers.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::daemon::lifecycle::human_status;
use crate::daemon::record::{Record, Status};

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
        "ShmSize": 67108864, "ConsoleSize": [0, 0], "Isolation": "",
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
        "BlkioWeight": 0, "BlkioWeightDevice": null, "BlkioDeviceReadBps": null,
        "BlkioDeviceWriteBps": null, "BlkioDeviceReadIOps": null, "BlkioDeviceWriteIOps": null,
        "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": "", "CpusetMems": "", "Devices": null, "DeviceCgroupRules": null,
        "DeviceRequests": null, "KernelMemory": 0, "KernelMemoryTCP": 0,
        "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": null,
        "OomKillDisable": false, "PidsLimit": null, "Ulimits": null,
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
            "/proc/sched_debug", "/proc/scsi", "/sys/firmware"],
        "ReadonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    });
    if let (Some(dst), Value::Object(src)) = (hc.as_object_mut(), &r.host_config_raw) {
        for (k, v) in src {
            dst.insert(k.clone(), v.clone());
        }
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

fn network_mode(r: &Record) -> String {
    if r.host_config.network_mode.is_empty() {
        "default".into()
    } else {
        r.host_config.network_mode.clone()
    }
}

/// Which network the container is attached to, in dockerd's shape (no
/// addresses: this engine shares the host's network or gives none).
fn networks(r: &Record) -> Value {
    let name = match network_mode(r).as_str() {
        "default" | "bridge" | "host" => "host".to_string(),
        other => other.to_string(),
    };
    let mut m = Map::new();
    m.insert(
        name,
        json!({
            "IPAMConfig": null, "Links": null, "Aliases": null, "NetworkID": "",
            "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": "", "DriverOpts": null
        }),
    );
    Value::Object(m)
}

/// `mounts` is inspect's `Mounts` array (volume paths need the daemon).
pub fn inspect(r: &Record, log_path: &Path, fs_dir: &Path, mounts: Value) -> Value {
    let s = &r.state;
    json!({
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
        "Config": r.config,
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "HairpinMode": false,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": {}, "SandboxKey": "", "SecondaryIPAddresses": null,
            "SecondaryIPv6Addresses": null, "EndpointID": "", "Gateway": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
            "Networks": networks(r),
        }
    })
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

/// A `GET /containers/json` entry, serialized straight from the record
/// (borrowing, no intermediate JSON tree): listing is the hottest read path.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEntry<'a> {
    id: &'a str,
    names: [&'a str; 1],
    image: &'a str,
    #[serde(rename = "ImageID")]
    image_id: &'a str,
    command: String,
    created: i64,
    ports: [(); 0],
    labels: LabelsOrEmpty<'a>,
    state: &'static str,
    status: String,
    host_config: NetworkModeOnly,
    network_settings: NetworksOnly,
    mounts: Value,
}

/// Docker shows `{}` for a container without labels.
pub struct LabelsOrEmpty<'a>(Option<&'a std::collections::BTreeMap<String, String>>);

impl serde::Serialize for LabelsOrEmpty<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(m) => m.serialize(s),
            None => std::collections::BTreeMap::<String, String>::new().serialize(s),
        }
    }
}

#[derive(serde::Serialize)]
pub struct NetworkModeOnly {
    #[serde(rename = "NetworkMode")]
    network_mode: String,
}

#[derive(serde::Serialize)]
pub struct NetworksOnly {
    #[serde(rename = "Networks")]
    networks: Value,
}

impl<'a> ListEntry<'a> {
    pub fn new(r: &'a Record, mounts: Value) -> Self {
        ListEntry {
            id: &r.id,
            names: [&r.name],
            image: &r.config.image,
            image_id: &r.image_id,
            command: command(r),
            created: created_unix(r),
            ports: [],
            labels: LabelsOrEmpty(r.config.labels.as_ref()),
            state: r.state.status.as_str(),
            status: human_status(&r.state, &r.created),
            host_config: NetworkModeOnly {
                network_mode: network_mode(r),
            },
            network_settings: NetworksOnly {
                networks: networks(r),
            },
            mounts,
        }
    }
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
