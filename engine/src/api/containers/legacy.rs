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

#[cfg(test)]
mod tests {
    use super::*;

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
