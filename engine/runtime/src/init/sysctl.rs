//! Sysctls (`HostConfig.Sysctls`): which a container may set, with runc's
//! rules and words, and writing them inside its namespaces.

use std::collections::BTreeMap;

use crate::error::RuntimeError;
use crate::spec::Network;

/// IPC-namespaced sysctls outside `fs.mqueue.` (runc's validator list).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Refuses a sysctl that would not stay inside the container, as runc does
/// before it creates anything. A container always has its own IPC and UTS
/// namespaces here; a network namespace of its own with [`Network::None`]
/// or another container's with [`Network::Join`] (runc refuses only the
/// host's).
pub(crate) fn check(
    sysctls: &BTreeMap<String, String>,
    network: Network,
) -> Result<(), RuntimeError> {
    for key in sysctls.keys() {
        let allowed = if IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            true
        } else if key.starts_with("net.") {
            if network == Network::Host {
                return Err(RuntimeError::Other(format!(
                    "sysctl {key:?} not allowed in host network namespace"
                )));
            }
            true
        } else if key == "kernel.hostname" {
            return Err(RuntimeError::Other(format!(
                "sysctl {key:?} is not allowed as it conflicts with the OCI \"hostname\" field"
            )));
        } else {
            key == "kernel.domainname"
        };
        if !allowed {
            return Err(RuntimeError::Other(format!(
                "sysctl {key:?} is not in a separate kernel namespace"
            )));
        }
    }
    Ok(())
}

/// Writes each sysctl under /proc/sys (the container's /proc, before its
/// /proc/sys is made read-only).
pub(super) fn apply(sysctls: &BTreeMap<String, String>) -> Result<(), RuntimeError> {
    for (key, value) in sysctls {
        // `..` or `/` in a key would leave /proc/sys; runc maps dots only.
        if key.split('.').any(|part| part.is_empty() || part == "..") || key.contains('/') {
            return Err(RuntimeError::InvalidSpec(format!("invalid sysctl {key:?}")));
        }
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value.as_bytes()).map_err(|e| {
            RuntimeError::Io(std::io::Error::new(e.kind(), format!("write {path}: {e}")))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(key: &str, network: Network) -> Result<(), RuntimeError> {
        check(
            &BTreeMap::from([(key.to_string(), "1".to_string())]),
            network,
        )
    }

    #[test]
    fn runc_rules() {
        assert!(one("kernel.msgmax", Network::Host).is_ok());
        assert!(one("fs.mqueue.msg_max", Network::Host).is_ok());
        assert!(one("kernel.domainname", Network::Host).is_ok());
        assert!(one("net.ipv4.ip_forward", Network::None).is_ok());
        assert_eq!(
            one("net.ipv4.ip_forward", Network::Host)
                .unwrap_err()
                .to_string(),
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        );
        assert_eq!(
            one("vm.swappiness", Network::None).unwrap_err().to_string(),
            "sysctl \"vm.swappiness\" is not in a separate kernel namespace"
        );
        assert!(one("kernel.hostname", Network::None).is_err());
    }
}
