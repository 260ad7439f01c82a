//! `HostConfig.Devices` (`--device /dev/x[:/dev/y][:rwm]`): which host
//! device nodes a container gets, at which path, and what its device cgroup
//! lets it do with them. Gathered at each start, as dockerd does: a device
//! missing on the host fails the start, not the create.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use serde::{Deserialize, Serialize};
use shipshape_runtime::cgroups::DeviceRule;
use shipshape_runtime::Device;

use super::record::HostConfig;
use crate::errdefs::EngineError;

/// One `HostConfig.Devices` entry, as the client sent it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

/// The device cgroup's access strings, as `'static` rules need them.
fn access(perms: &str) -> Option<&'static str> {
    const ALL: &[&str] = &["r", "w", "m", "rw", "rm", "wm", "rwm"];
    let mut bits: Vec<char> = perms.chars().collect();
    bits.sort_by_key(|c| "rwm".find(*c));
    let canon: String = bits.into_iter().collect();
    ALL.iter().copied().find(|a| *a == canon)
}

fn gather_err(path: &str, reason: impl std::fmt::Display) -> EngineError {
    // dockerd's words; a plain error, so 500.
    EngineError::System(format!(
        "error gathering device information while adding custom device {path:?}: {reason}"
    ))
}

/// Go's text for an errno: strerror, lower-cased first letter.
pub(super) fn errno_text(e: &std::io::Error) -> String {
    let text = e
        .raw_os_error()
        .map(|n| nix::errno::Errno::from_raw(n).desc().to_string())
        .unwrap_or_else(|| e.to_string());
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// The container's extra nodes with their cgroup rules.
pub fn gather(hc: &HostConfig) -> Result<Vec<(Device, DeviceRule)>, EngineError> {
    hc.devices
        .iter()
        .flatten()
        .map(|m| {
            let host = m.path_on_host.as_str();
            let meta = std::fs::metadata(host).map_err(|e| gather_err(host, errno_text(&e)))?;
            let kind = match meta.file_type() {
                t if t.is_char_device() => 'c',
                t if t.is_block_device() => 'b',
                _ => return Err(gather_err(host, "not a device node")),
            };
            let perms = if m.cgroup_permissions.is_empty() {
                "rwm"
            } else {
                m.cgroup_permissions.as_str()
            };
            let access = access(perms).ok_or_else(|| {
                EngineError::InvalidParameter(format!("invalid device mode: {perms}"))
            })?;
            let path = if m.path_in_container.is_empty() {
                host
            } else {
                m.path_in_container.as_str()
            };
            let (major, minor) = (libc::major(meta.rdev()), libc::minor(meta.rdev()));
            Ok((
                Device {
                    path: path.to_string(),
                    kind,
                    major,
                    minor,
                    mode: meta.mode() & 0o7777,
                    uid: meta.uid(),
                    gid: meta.gid(),
                },
                DeviceRule {
                    kind,
                    major: Some(major),
                    minor: Some(minor),
                    access,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_and_errors() {
        assert_eq!(access("mwr"), Some("rwm"));
        assert_eq!(access("r"), Some("r"));
        assert_eq!(access("x"), None);
        let hc = HostConfig {
            devices: Some(vec![DeviceMapping {
                path_on_host: "/dev/shipshape-none".into(),
                ..DeviceMapping::default()
            }]),
            ..HostConfig::default()
        };
        assert_eq!(
            gather(&hc).unwrap_err().to_string(),
            "error gathering device information while adding custom device \
             \"/dev/shipshape-none\": no such file or directory"
        );
        let hc = HostConfig {
            devices: Some(vec![DeviceMapping {
                path_on_host: "/dev/null".into(),
                path_in_container: "/dev/n".into(),
                cgroup_permissions: "r".into(),
            }]),
            ..HostConfig::default()
        };
        let (dev, rule) = gather(&hc).unwrap().remove(0);
        assert_eq!((dev.kind, dev.major, dev.minor), ('c', 1, 3));
        assert_eq!(rule.to_string(), "c 1:3 r");
    }
}
