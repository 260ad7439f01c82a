//! A container's pid, ipc, uts and cgroup namespaces and its /dev/shm, as
//! dockerd 20.10 decides them from `PidMode`, `IpcMode`, `UTSMode`,
//! `CgroupnsMode` and `ShmSize` (harness `runtime/namespaces-*`,
//! `runtime/shm-size`, `runtime/run-options-refused`).
//!
//! At create: the checks dockerd makes then (a negative `ShmSize`, an
//! unknown cgroup namespace mode, a `container:X` naming no container), and
//! the values inspect then shows (`container:<full id>`, the default modes
//! and size). At start: the runtime's [`Namespaces`], or dockerd's refusal
//! (an unknown IPC mode, a donor that is not running or not shareable).

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use serde_json::{json, Value};
use shipshape_runtime::{Namespace, Namespaces, Shm};

use super::record::HostConfig;
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// dockerd's `ShmSize` when none is given: 64 MiB.
const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// The create-time checks, then `hc` and `raw` (what inspect echoes) as
/// dockerd stores them.
pub fn normalize(d: &Daemon, hc: &mut HostConfig, raw: &mut Value) -> Result<(), EngineError> {
    if hc.shm_size < 0 {
        return Err(EngineError::InvalidParameter(
            "SHM size can not be less than 0".into(),
        ));
    }
    if !matches!(hc.cgroupns_mode.as_str(), "" | "host" | "private") {
        return Err(EngineError::InvalidParameter(format!(
            "invalid cgroup namespace mode: {}",
            hc.cgroupns_mode
        )));
    }
    for mode in [&mut hc.pid_mode, &mut hc.ipc_mode] {
        if let Some(name) = mode.strip_prefix("container:") {
            let donor = d
                .container(name)
                .map_err(|_| EngineError::InvalidParameter(format!("No such container: {name}")))?;
            *mode = format!("container:{}", donor.id);
        }
    }
    if hc.shm_size == 0 {
        hc.shm_size = DEFAULT_SHM_SIZE;
    }
    if hc.ipc_mode.is_empty() {
        hc.ipc_mode = "private".into();
    }
    if hc.cgroupns_mode.is_empty() {
        // dockerd's default: the host's on cgroup v1, a private one on v2.
        hc.cgroupns_mode = match super::cgroups::host_support().0 {
            "2" => "private",
            _ => "host",
        }
        .into();
    }
    // A HostConfig that was not sent stays unsent: inspect then shows
    // dockerd's defaults for one, which these are (and no Runtime before
    // the first start, as dockerd).
    if let Some(obj) = raw.as_object_mut() {
        obj.insert("ShmSize".into(), json!(hc.shm_size));
        obj.insert("IpcMode".into(), json!(hc.ipc_mode));
        obj.insert("PidMode".into(), json!(hc.pid_mode));
        obj.insert("CgroupnsMode".into(), json!(hc.cgroupns_mode));
    }
    Ok(())
}

/// The running process of the container `id` (a `container:` donor).
fn donor_pid(d: &Daemon, id: &str) -> Result<i32, EngineError> {
    let c = d.container(id)?;
    let state = c.snapshot().state;
    if !c.is_running() || state.pid <= 0 {
        return Err(EngineError::System(format!(
            "container {} is not running",
            c.id
        )));
    }
    Ok(state.pid)
}

/// Where a shareable container's /dev/shm lives on the host (as dockerd's
/// `containers/<id>/mounts/shm`), so that joiners can bind the same one (a
/// mount of another namespace cannot be bound).
fn shm_dir(d: &Daemon, id: &str) -> PathBuf {
    d.containers_dir().join(id).join(SHM)
}

const SHM: &str = "shm";

/// A fresh tmpfs of `size` bytes at the container's [`shm_dir`].
fn shareable_shm(d: &Daemon, id: &str, size: i64) -> Result<PathBuf, EngineError> {
    let dir = shm_dir(d, id);
    release_shm(dir.parent().unwrap_or(&dir));
    std::fs::create_dir_all(&dir)?;
    nix::mount::mount(
        Some("shm"),
        &dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(format!("mode=1777,size={size}").as_str()),
    )
    .map_err(|e| EngineError::System(format!("mounting shm tmpfs: {e}")))?;
    Ok(dir)
}

/// Unmounts the shareable /dev/shm of the container whose directory is
/// `container_dir`, if any (before its files are deleted).
pub fn release_shm(container_dir: &Path) {
    let _ = nix::mount::umount2(&container_dir.join(SHM), MntFlags::MNT_DETACH);
}

/// What the runtime makes for a start of container `id`, or dockerd's
/// refusal.
pub fn runtime(d: &Daemon, id: &str, hc: &HostConfig) -> Result<Namespaces, EngineError> {
    let size = if hc.shm_size > 0 {
        hc.shm_size
    } else {
        DEFAULT_SHM_SIZE
    };
    let (ipc, shm) = match hc.ipc_mode.as_str() {
        "" | "private" => (Namespace::Private, Shm::Size(size as u64)),
        "shareable" => (Namespace::Private, Shm::Bind(shareable_shm(d, id, size)?)),
        "none" => (Namespace::Private, Shm::Absent),
        "host" => (Namespace::Host, Shm::Bind(PathBuf::from("/dev/shm"))),
        mode => match mode.strip_prefix("container:") {
            Some(id) => {
                let cant = |e: EngineError| {
                    EngineError::System(format!("can't join IPC of container {id}: {e}"))
                };
                let pid = donor_pid(d, id).map_err(cant)?;
                let donor = d.container(id)?.snapshot().host_config.ipc_mode;
                if donor != "shareable" {
                    return Err(EngineError::System(format!(
                        "can't join IPC of container {id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
                    )));
                }
                (Namespace::Join(pid), Shm::Bind(shm_dir(d, id)))
            }
            None => {
                return Err(EngineError::System(format!("Invalid IPC mode: {mode}")));
            }
        },
    };
    // dockerd runs any other PidMode as a private namespace.
    let pid = match hc.pid_mode.as_str() {
        "host" => Namespace::Host,
        mode => match mode.strip_prefix("container:") {
            Some(id) => Namespace::Join(donor_pid(d, id)?),
            None => Namespace::Private,
        },
    };
    // Only "host" means anything for UTSMode.
    let uts = if hc.uts_mode == "host" {
        Namespace::Host
    } else {
        Namespace::Private
    };
    Ok(Namespaces {
        pid,
        ipc,
        uts,
        cgroup_private: hc.cgroupns_mode == "private",
        shm,
    })
}
