//! Block I/O settings of `HostConfig` (`--blkio-weight`,
//! `--blkio-weight-device`, `--device-{read,write}-{bps,iops}`): what the
//! host's cgroups can take (dockerd discards the rest at create, with a
//! warning), and the devices' numbers, looked up at each start as dockerd
//! does (a missing path fails the start, not the create).
//!
//! dockerd 20.10.24 on this project's cgroup v1 hosts (no CFQ, so no
//! `blkio.weight` in the root group): a weight and weight devices are
//! discarded ("Your kernel does not support Block I/O weight ...", inspect
//! `BlkioWeight: 0`, `BlkioWeightDevice: []`); throttles are written
//! (`blkio.throttle.read_bps_device` reads `254:0 1048576`); a throttle on
//! a missing path fails the start with `stat /dev/nosuch: no such file or
//! directory` (500).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shipshape_runtime::cgroups::{Blkio, DeviceValue, Version, DEFAULT_ROOT};

use super::record::HostConfig;
use crate::errdefs::EngineError;

/// One `BlkioWeightDevice` entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// One `BlkioDevice{Read,Write}{Bps,IOps}` entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// Which block I/O files the host's cgroups have (dockerd's sysinfo: the
/// v1 blkio root group's files; on v2 all of them with the io controller).
struct Support {
    weight: bool,
    weight_device: bool,
    read_bps: bool,
    write_bps: bool,
    read_iops: bool,
    write_iops: bool,
}

fn support() -> Support {
    let root = Path::new(DEFAULT_ROOT);
    if shipshape_runtime::cgroups::detect(root) == Version::V2 {
        let controllers =
            std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let io = controllers.split_whitespace().any(|c| c == "io");
        return Support {
            weight: io,
            weight_device: io,
            read_bps: io,
            write_bps: io,
            read_iops: io,
            write_iops: io,
        };
    }
    let has = |file: &str| root.join("blkio").join(file).exists();
    Support {
        weight: has("blkio.weight"),
        weight_device: has("blkio.weight_device"),
        read_bps: has("blkio.throttle.read_bps_device"),
        write_bps: has("blkio.throttle.write_bps_device"),
        read_iops: has("blkio.throttle.read_iops_device"),
        write_iops: has("blkio.throttle.write_iops_device"),
    }
}

/// dockerd's check of a weight the host can apply (400).
pub fn validate(hc: &HostConfig) -> Result<(), EngineError> {
    if hc.blkio_weight > 0 && (hc.blkio_weight < 10 || hc.blkio_weight > 1000) && support().weight {
        return Err(EngineError::InvalidParameter(
            "Range of blkio weight is from 10 to 1000".into(),
        ));
    }
    Ok(())
}

/// dockerd's create warnings for block I/O settings the host cannot apply,
/// in its order, each setting then discarded (in the record and in what
/// inspect shows).
pub fn warnings(hc: &mut HostConfig, raw: &mut Value, out: &mut Vec<String>) {
    let s = support();
    let mut set = |key: &str, v: Value| {
        if let Some(o) = raw.as_object_mut() {
            o.insert(key.into(), v);
        }
    };
    if hc.blkio_weight > 0 && !s.weight {
        out.push(WEIGHT_DISCARDED.into());
        hc.blkio_weight = 0;
        set("BlkioWeight", Value::from(0));
    }
    if hc
        .blkio_weight_device
        .as_ref()
        .is_some_and(|v| !v.is_empty())
        && !s.weight_device
    {
        out.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".into());
        hc.blkio_weight_device = Some(Vec::new());
        set("BlkioWeightDevice", Value::Array(Vec::new()));
    }
    let throttles = [
        (&mut hc.blkio_device_read_bps, s.read_bps, "BlkioDeviceReadBps", "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded."),
        (&mut hc.blkio_device_write_bps, s.write_bps, "BlkioDeviceWriteBps", "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded."),
        (&mut hc.blkio_device_read_iops, s.read_iops, "BlkioDeviceReadIOps", "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded."),
        (&mut hc.blkio_device_write_iops, s.write_iops, "BlkioDeviceWriteIOps", "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded."),
    ];
    for (list, supported, key, warning) in throttles {
        if list.as_ref().is_some_and(|v| !v.is_empty()) && !supported {
            out.push(warning.into());
            *list = Some(Vec::new());
            set(key, Value::Array(Vec::new()));
        }
    }
}

/// `POST /containers/{id}/update` with a `BlkioWeight`: the weight to
/// apply, or `None` where the host cannot take one (dockerd then answers
/// 200 with its create warning and inspect keeps the old weight; its range
/// check, in `validate`, only applies where it can).
pub fn weight_for_update(weight: u16, warnings: &mut Vec<String>) -> Option<u16> {
    if support().weight {
        return Some(weight);
    }
    warnings.push(WEIGHT_DISCARDED.into());
    None
}

const WEIGHT_DISCARDED: &str =
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";

/// A device path's numbers, as dockerd takes them: the `st_rdev` of
/// whatever the path is (a directory gives 0:0, which the kernel refuses).
fn numbers(path: &str) -> Result<(u64, u64), EngineError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        EngineError::System(format!("stat {path}: {}", shipshape_store::errno_text(&e)))
    })?;
    Ok((
        libc::major(meta.rdev()).into(),
        libc::minor(meta.rdev()).into(),
    ))
}

/// The settings with devices by number, for the container's group (at
/// each start).
pub fn resolve(hc: &HostConfig) -> Result<Blkio, EngineError> {
    let dv = |path: &str, value: u64| {
        numbers(path).map(|(major, minor)| DeviceValue {
            major,
            minor,
            value,
        })
    };
    let throttle = |list: &Option<Vec<ThrottleDevice>>| {
        list.iter()
            .flatten()
            .map(|t| dv(&t.path, t.rate))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(Blkio {
        weight: (hc.blkio_weight > 0).then_some(hc.blkio_weight),
        weight_device: hc
            .blkio_weight_device
            .iter()
            .flatten()
            .map(|w| dv(&w.path, u64::from(w.weight)))
            .collect::<Result<_, _>>()?,
        read_bps: throttle(&hc.blkio_device_read_bps)?,
        write_bps: throttle(&hc.blkio_device_write_bps)?,
        read_iops: throttle(&hc.blkio_device_read_iops)?,
        write_iops: throttle(&hc.blkio_device_write_iops)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_fails_in_dockerds_words() {
        let hc = HostConfig {
            blkio_device_read_bps: Some(vec![ThrottleDevice {
                path: "/dev/shipshape-none".into(),
                rate: 1024,
            }]),
            ..Default::default()
        };
        let e = resolve(&hc).unwrap_err();
        assert_eq!(
            e.to_string(),
            "stat /dev/shipshape-none: no such file or directory"
        );
    }

    #[test]
    fn devices_become_numbers() {
        let hc = HostConfig {
            blkio_device_write_iops: Some(vec![ThrottleDevice {
                path: "/dev/null".into(),
                rate: 7,
            }]),
            ..Default::default()
        };
        let b = resolve(&hc).unwrap();
        assert_eq!(
            b.write_iops,
            vec![DeviceValue {
                major: 1,
                minor: 3,
                value: 7
            }]
        );
        assert_eq!(b.weight, None);
    }
}
