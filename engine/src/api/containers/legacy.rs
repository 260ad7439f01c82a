//! Inspect as clients older than API 1.21 see it. dockerd keeps two old
//! shapes (moby's `api/types/versions/v1p19` and `v1p20`), read from
//! dockerd 20.10.24 with `GET /v1.19/containers/{id}/json` and `/v1.20/...`:
//!
//! * before 1.20: no `Mounts`; top-level `Volumes` (destination -> source)
//!   and `VolumesRW` (destination -> writable); `Config` carries
//!   `MacAddress`, `NetworkDisabled`, `ExposedPorts`, `VolumeDriver` and,
//!   from HostConfig, `Memory`, `MemorySwap`, `CpuShares` and `Cpuset`
//!   (HostConfig's `CpusetCpus`);
//! * 1.20: `Mounts` as today, `Config` carries `MacAddress`,
//!   `NetworkDisabled`, `ExposedPorts` and `VolumeDriver`;
//! * both: `NetworkSettings` has no `Networks` map.
//!
//! And the create body as old clients (and docker-py without a host
//! config: `"HostConfig": null`) send it: HostConfig fields at the top
//! level, which dockerd still reads (see [`top_level_host_config`]).

use serde_json::{json, Map, Value};

use crate::version::ApiVersion;

/// Reshapes a current inspect answer for `version`; from 1.21 on it is
/// left as it is.
pub fn inspect_for_version(v: &mut Value, version: ApiVersion) {
    if version > ApiVersion(1, 20) {
        return;
    }
    let hc = v["HostConfig"].clone();
    if let Some(cfg) = v["Config"].as_object_mut() {
        cfg.entry("MacAddress").or_insert_with(|| json!(""));
        cfg.entry("NetworkDisabled").or_insert_with(|| json!(false));
        cfg.entry("ExposedPorts").or_insert(Value::Null);
        cfg.insert("VolumeDriver".into(), hc["VolumeDriver"].clone());
        if version < ApiVersion(1, 20) {
            for (to, from) in [
                ("Memory", "Memory"),
                ("MemorySwap", "MemorySwap"),
                ("CpuShares", "CpuShares"),
                ("Cpuset", "CpusetCpus"),
            ] {
                cfg.insert(to.into(), hc[from].clone());
            }
        }
    }
    if let Some(ns) = v["NetworkSettings"].as_object_mut() {
        ns.remove("Networks");
    }
    if version < ApiVersion(1, 20) {
        let mounts = v
            .as_object_mut()
            .and_then(|o| o.remove("Mounts"))
            .unwrap_or(Value::Null);
        let (mut volumes, mut rw) = (Map::new(), Map::new());
        for m in mounts.as_array().into_iter().flatten() {
            if let Some(dest) = m["Destination"].as_str() {
                volumes.insert(dest.into(), m["Source"].clone());
                rw.insert(dest.into(), m["RW"].clone());
            }
        }
        v["Volumes"] = Value::Object(volumes);
        v["VolumesRW"] = Value::Object(rw);
    }
}

/// HostConfig's fields (API 1.41, Resources included): moby's
/// `ContainerConfigWrapper` embeds a HostConfig, so these decode from the
/// top level of a create body too. No Config field shares a name.
const HOST_CONFIG_FIELDS: &[&str] = &[
    "Binds",
    "ContainerIDFile",
    "LogConfig",
    "NetworkMode",
    "PortBindings",
    "RestartPolicy",
    "AutoRemove",
    "VolumeDriver",
    "VolumesFrom",
    "CapAdd",
    "CapDrop",
    "CgroupnsMode",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "GroupAdd",
    "IpcMode",
    "Cgroup",
    "Links",
    "OomScoreAdj",
    "PidMode",
    "Privileged",
    "PublishAllPorts",
    "ReadonlyRootfs",
    "SecurityOpt",
    "StorageOpt",
    "Tmpfs",
    "UTSMode",
    "UsernsMode",
    "ShmSize",
    "Sysctls",
    "Runtime",
    "ConsoleSize",
    "Isolation",
    "MaskedPaths",
    "ReadonlyPaths",
    "Mounts",
    "Init",
    "CpuShares",
    "Memory",
    "CgroupParent",
    "BlkioWeight",
    "BlkioWeightDevice",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
    "CpuPeriod",
    "CpuQuota",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpusetCpus",
    "CpusetMems",
    "Devices",
    "DeviceCgroupRules",
    "DeviceRequests",
    "KernelMemory",
    "KernelMemoryTCP",
    "MemoryReservation",
    "MemorySwap",
    "MemorySwappiness",
    "NanoCpus",
    "OomKillDisable",
    "PidsLimit",
    "Ulimits",
    "CpuCount",
    "CpuPercent",
    "IOMaximumIOps",
    "IOMaximumBandwidth",
];

/// Whether a create body's top-level key is a HostConfig field (so not one
/// of the container's config proper).
pub fn is_host_config_field(key: &str) -> bool {
    HOST_CONFIG_FIELDS.contains(&key)
}

/// A create body's `HostConfig` keys as Go's JSON decoder matches them:
/// case aside, so `CPURealtimePeriod` (docker-py's spelling) is
/// `CpuRealtimePeriod`. A key given in both spellings keeps the exact one.
pub fn fold_host_config_keys(body: &mut Value) {
    if let Some(Value::Object(hc)) = body.get_mut("HostConfig") {
        crate::api::body::json::fold_keys(hc, HOST_CONFIG_FIELDS);
    }
}

/// The fields a `HostConfig` object takes from the top level when it has
/// them at zero (moby's `getHostConfig`).
const INHERITED: &[&str] = &["Memory", "MemorySwap", "CpuShares", "CpusetCpus"];

fn is_zero(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    }
}

/// A create body's host config as dockerd reads it: with no `HostConfig`
/// (or `null`), the HostConfig fields found at the top level; with one,
/// that object, its zero `Memory`, `MemorySwap`, `CpuShares` and
/// `CpusetCpus` taken from the top level. Top-level fields stay where they
/// are (the typed decode ignores them).
pub fn top_level_host_config(body: &mut Value) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    let top: Map<String, Value> = HOST_CONFIG_FIELDS
        .iter()
        .filter_map(|k| obj.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    if top.is_empty() {
        return;
    }
    match obj.get_mut("HostConfig") {
        Some(Value::Object(inner)) => {
            for k in INHERITED {
                if is_zero(inner.get(*k)) && !is_zero(top.get(*k)) {
                    inner.insert(k.to_string(), top[*k].clone());
                }
            }
        }
        _ => {
            obj.insert("HostConfig".into(), Value::Object(top));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_config_keys_match_case_aside() {
        let mut v = json!({"HostConfig": {"CPURealtimePeriod": 1000,
            "cpurealtimeruntime": 500, "Memory": 1, "MEMORY": 2, "Bogus": 1}});
        fold_host_config_keys(&mut v);
        assert_eq!(
            v["HostConfig"],
            json!({"CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 500, "Memory": 1,
                "Bogus": 1})
        );
    }

    fn current() -> Value {
        json!({
            "Config": {"Image": "busybox"},
            "HostConfig": {"Memory": 0, "MemorySwap": 0, "CpuShares": 0,
                           "CpusetCpus": "0", "VolumeDriver": ""},
            "NetworkSettings": {"Networks": {}, "IPAddress": ""},
            "Mounts": [{"Destination": "/x", "Source": "/tmp", "RW": false}],
        })
    }

    #[test]
    fn before_1_20_volumes_replace_mounts_and_config_carries_resources() {
        let mut v = current();
        inspect_for_version(&mut v, ApiVersion(1, 19));
        assert_eq!(v["Config"]["Cpuset"], json!("0"));
        assert_eq!(v["Volumes"], json!({"/x": "/tmp"}));
        assert_eq!(v["VolumesRW"], json!({"/x": false}));
        assert!(v.get("Mounts").is_none());
        assert!(v["NetworkSettings"].get("Networks").is_none());
    }

    #[test]
    fn at_1_20_mounts_stay_and_resources_do_not_move() {
        let mut v = current();
        inspect_for_version(&mut v, ApiVersion(1, 20));
        assert!(v.get("Mounts").is_some());
        assert!(v["Config"].get("Cpuset").is_none());
        assert_eq!(v["Config"]["NetworkDisabled"], json!(false));
        let mut now = current();
        inspect_for_version(&mut now, ApiVersion(1, 21));
        assert_eq!(now, current());
    }
}

#[cfg(test)]
mod top_level_tests {
    use super::*;

    #[test]
    fn top_level_fields_make_the_host_config() {
        let mut b = json!({"Image": "x", "HostConfig": null, "Memory": 64, "Binds": ["/a:/b"]});
        top_level_host_config(&mut b);
        assert_eq!(b["HostConfig"], json!({"Memory": 64, "Binds": ["/a:/b"]}));
        let mut b = json!({"Image": "x", "HostConfig": {"Privileged": false}, "Privileged": true, "CpuShares": 512});
        top_level_host_config(&mut b);
        assert_eq!(
            b["HostConfig"],
            json!({"Privileged": false, "CpuShares": 512})
        );
        let mut b = json!({"Image": "x"});
        top_level_host_config(&mut b);
        assert_eq!(b.get("HostConfig"), None);
    }
}
