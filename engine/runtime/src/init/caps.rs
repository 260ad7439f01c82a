//! Capabilities: containers get Docker's default set, not the daemon's full one.
//!
//! Only the bounding set is reduced, right before the user switch: at execve
//! a root process's permitted/effective sets become (file caps & bounding), i.e.
//! exactly this list; a non-root process has none after setuid anyway and setuid
//! binaries are capped by the bounding set too.

use std::io;

/// Docker's default capabilities (capability numbers from linux/capability.h).
pub(crate) const DOCKER_DEFAULT: &[u32] = &[
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
/// ambient set.
pub(super) fn restrict_bounding_set(keep: &[u32]) -> io::Result<()> {
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
