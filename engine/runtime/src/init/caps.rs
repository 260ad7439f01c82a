//! Capabilities: containers get Docker's default set, not the daemon's full one.
//!
//! Only the bounding set is reduced, right before the user switch: at execve
//! a root process's permitted/effective sets become (file caps & bounding), i.e.
//! exactly this list; a non-root process has none after setuid anyway and setuid
//! binaries are capped by the bounding set too.

use std::io;

use crate::error::RuntimeError;

/// Capability names by number (linux/capability.h), without the `CAP_`
/// prefix: the ones dockerd 20.10 knows (up to CHECKPOINT_RESTORE, 40).
const NAMES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The number of a capability named `CAP_X` (upper case, with the prefix,
/// as Docker spells them after normalising).
pub fn capability_number(name: &str) -> Option<u32> {
    let bare = name.strip_prefix("CAP_")?;
    NAMES.iter().position(|n| *n == bare).map(|i| i as u32)
}

/// The name of capability `n`, without `CAP_`.
pub fn capability_name(n: u32) -> Option<&'static str> {
    NAMES.get(n as usize).copied()
}

/// Every capability this kernel has that Docker knows (`CapAdd: ["ALL"]`).
pub fn all_capabilities() -> Vec<u32> {
    (0..NAMES.len() as u32)
        .filter(|c| *c <= last_cap())
        .collect()
}

/// Docker's default capabilities (capability numbers from linux/capability.h).
pub const DOCKER_DEFAULT_CAPS: &[u32] = &[
    0,  // CHOWN
    1,  // DAC_OVERRIDE
    3,  // FOWNER
    4,  // FSETID
    5,  // KILL
    6,  // SETGID
    7,  // SETUID
    8,  // SETPCAP
    10, // NET_BIND_SERVICE
    13, // NET_RAW
    18, // SYS_CHROOT
    27, // MKNOD
    29, // AUDIT_WRITE
    31, // SETFCAP
];

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

/// Drop every capability outside `keep` from the bounding set, and clear the
/// ambient set. A capability of `keep` that this process's bounding set
/// lacks (a daemon running with fewer than all) cannot be given: the start
/// fails as runc's does ("unable to apply caps: operation not permitted"),
/// rather than running the container with less than it asked for.
pub(super) fn restrict_bounding_set(keep: &[u32]) -> Result<(), RuntimeError> {
    for cap in keep {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_CAPBSET_READ, *cap as libc::c_ulong, 0, 0, 0) } == 0 {
            return Err(RuntimeError::Other(
                "unable to apply caps: operation not permitted".into(),
            ));
        }
    }
    drop_others(keep)
        .map_err(|e| RuntimeError::Io(io::Error::new(e.kind(), format!("drop capabilities: {e}"))))
}

fn drop_others(keep: &[u32]) -> io::Result<()> {
    for cap in 0..=last_cap() {
        if keep.contains(&cap) {
            continue;
        }
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
            let err = io::Error::last_os_error();
            // EINVAL: the kernel does not know this capability number.
            if err.raw_os_error() != Some(libc::EINVAL) {
                return Err(err);
            }
        }
    }
    // SAFETY: prctl with integer arguments. Failure (old kernel) is harmless.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
    Ok(())
}

/// `--security-opt no-new-privileges`: setuid binaries and file
/// capabilities grant nothing after execve.
pub(super) fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_numbers() {
        assert_eq!(capability_number("CAP_CHOWN"), Some(0));
        assert_eq!(capability_number("CAP_NET_ADMIN"), Some(12));
        assert_eq!(capability_number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(capability_number("NET_ADMIN"), None);
        assert_eq!(capability_number("CAP_ALL"), None);
        // The default set, by name, is Docker's 14.
        assert_eq!(DOCKER_DEFAULT_CAPS.len(), 14);
        assert_eq!(NAMES[DOCKER_DEFAULT_CAPS[13] as usize], "SETFCAP");
    }
}
