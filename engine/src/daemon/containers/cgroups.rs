//! Containers' cgroups: Docker's resource settings (HostConfig `Memory`,
//! `PidsLimit`, `CpuShares`...) turned into limits, and pause/unpause through
//! the freezer. The file-level work is the runtime's
//! (`shipshape_runtime::cgroups`); this module knows Docker's rules.
//!
//! Each container gets the group `shipshape/<id>` in every hierarchy; it is
//! created at start and removed when the container's process has exited.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
pub use shipshape_runtime::cgroups::HostSupport;
use shipshape_runtime::cgroups::{
    host_support as cgroups_host_support, Cgroup, Resources, Version, DEFAULT_ROOT,
    DOCKER_DEFAULT_DEVICES,
};

use super::container::Container;
use super::record::{HostConfig, Status};
use crate::errdefs::EngineError;

/// Parent group of all containers' groups (per hierarchy).
const PARENT: &str = "shipshape";
/// dockerd's lower bound for memory limits and reservations.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// The host's cgroup version ("1" or "2", as `/info` says it) and what its
/// cgroups can enforce.
pub fn host_support() -> (&'static str, HostSupport) {
    let root = Path::new(DEFAULT_ROOT);
    let version = match shipshape_runtime::cgroups::detect(root) {
        Version::V1 => "1",
        Version::V2 => "2",
    };
    (version, cgroups_host_support(root))
}

/// Once at the engine's start: readies the cgroup hierarchy for containers'
/// groups (v2: the root's own processes moved into a leaf group when it is
/// not the real root, as in Docker-in-Docker, and the controllers enabled)
/// and logs what could not be done, and why.
pub fn prepare_host() {
    match shipshape_runtime::cgroups::prepare_root(Path::new(DEFAULT_ROOT)) {
        Ok(None) => {}
        Ok(Some(s)) => {
            if let Some(leaf) = &s.leaf {
                tracing::info!(
                    moved = s.moved,
                    leaf = %leaf.display(),
                    "the cgroup root is not the host's: moved its processes into a leaf group so that controllers can be enabled for containers"
                );
            }
            tracing::info!(enabled = %s.enabled.join(" "), "cgroup v2 controllers for containers");
            for (controller, reason) in &s.failed {
                tracing::warn!(
                    controller = %controller,
                    reason = %reason,
                    "cgroup v2 controller could not be enabled: limits that need it will fail"
                );
            }
        }
        Err(e) => tracing::warn!(
            error = %e,
            "preparing the cgroup root failed: containers with limits may not start"
        ),
    }
}

/// The container's group (it exists only while the container runs).
pub fn cgroup(id: &str) -> Cgroup {
    Cgroup::new(Path::new(DEFAULT_ROOT), &format!("{PARENT}/{id}"))
}

/// dockerd's checks of resource settings (create and update), with its
/// messages; all are 400s.
pub fn validate(hc: &HostConfig) -> Result<(), EngineError> {
    let bad = |m: &str| Err(EngineError::InvalidParameter(m.to_string()));
    if hc.memory != 0 && hc.memory < MIN_MEMORY {
        return bad("Minimum memory limit allowed is 6MB");
    }
    if hc.memory > 0 && hc.memory_swap > 0 && hc.memory_swap < hc.memory {
        return bad("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    if hc.memory == 0 && hc.memory_swap > 0 {
        return bad(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        );
    }
    if hc.memory_reservation != 0 && hc.memory_reservation < MIN_MEMORY {
        return bad("Minimum memory reservation allowed is 6MB");
    }
    if hc.memory > 0 && hc.memory_reservation > 0 && hc.memory < hc.memory_reservation {
        return bad(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        );
    }
    if hc.nano_cpus > 0 && hc.cpu_period > 0 {
        return bad("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    }
    if hc.nano_cpus > 0 && hc.cpu_quota > 0 {
        return bad("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    }
    let cpus = shipshape_runtime::cgroups::online_cpus() as i64;
    if hc.nano_cpus < 0 || hc.nano_cpus > cpus * 1_000_000_000 {
        return Err(EngineError::InvalidParameter(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )));
    }
    if hc.cpu_period != 0 && !(1000..=1_000_000).contains(&hc.cpu_period) {
        return bad("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 second (i.e. 1000000)");
    }
    if hc.cpu_quota > 0 && hc.cpu_quota < 1000 {
        return bad("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    // A swappiness the host cannot take is discarded at create (see
    // `warnings`) before dockerd checks its range.
    if let Some(v) = hc
        .memory_swappiness
        .filter(|v| *v != -1 && swappiness_supported())
    {
        if !(0..=100).contains(&v) {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid value: {v}, valid memory swappiness range is 0-100"
            )));
        }
    }
    super::blkio::validate(hc)?;
    check_cpuset(
        &hc.cpuset_cpus,
        "cpus",
        "CPUs",
        "/sys/devices/system/cpu/online",
    )?;
    check_cpuset(
        &hc.cpuset_mems,
        "mems",
        "memory nodes",
        "/sys/devices/system/node/online",
    )?;
    Ok(())
}

/// A cpuset list (`0-2,4`) as a set; None when it does not parse.
fn parse_cpuset(list: &str) -> Option<std::collections::BTreeSet<u32>> {
    let mut out = std::collections::BTreeSet::new();
    for part in list.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (u32, u32) = (lo.parse().ok()?, hi.parse().ok()?);
        if lo > hi || hi - lo > 4096 {
            return None;
        }
        out.extend(lo..=hi);
    }
    Some(out)
}

/// dockerd's check of CpusetCpus / CpusetMems against what the host has
/// online (a host without NUMA information has node 0).
fn check_cpuset(value: &str, key: &str, what: &str, online_file: &str) -> Result<(), EngineError> {
    if value.is_empty() {
        return Ok(());
    }
    let Some(wanted) = parse_cpuset(value) else {
        return Err(EngineError::InvalidParameter(format!(
            "Invalid value {value} for cpuset {key}: invalid format: {value}"
        )));
    };
    let online = std::fs::read_to_string(online_file)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "0".into());
    let available = parse_cpuset(&online).unwrap_or_default();
    if !wanted.is_subset(&available) {
        return Err(EngineError::InvalidParameter(format!(
            "Requested {what} are not available - requested {value}, available: {online}"
        )));
    }
    Ok(())
}

/// dockerd's defaults at create: a memory limit without a swap setting
/// allows as much swap again (MemorySwap = 2 x Memory), and inspect shows it;
/// a PidsLimit of zero or less means "no limit" and inspect shows null
/// (dockerd 20.10.24 for PidsLimit -2, -1 and 0).
pub fn normalize(hc: &mut HostConfig, raw: &mut Value) {
    if hc.pids_limit.is_some_and(|p| p <= 0) {
        hc.pids_limit = None;
        if let Some(o) = raw.as_object_mut() {
            o.insert("PidsLimit".into(), Value::Null);
        }
    }
    if hc.memory > 0 && hc.memory_swap == 0 {
        // Saturating: a client may send any int64, and a huge limit must
        // stay huge rather than overflow (a panic, or a negative limit).
        hc.memory_swap = hc.memory.saturating_mul(2);
        if let Some(o) = raw.as_object_mut() {
            o.insert("MemorySwap".into(), Value::from(hc.memory_swap));
        }
    }
}

/// Whether the host's memory cgroup has `memory.swappiness` (v1 only, as
/// dockerd's sysinfo reads it).
fn swappiness_supported() -> bool {
    let root = Path::new(DEFAULT_ROOT);
    shipshape_runtime::cgroups::detect(root) == Version::V1
        && root.join("memory/memory.swappiness").exists()
}

/// dockerd's warnings at create for settings the host cannot honour (or
/// that are risky), in its order, with what it then stores: a setting the
/// host's cgroups lack (cgroup v2 has neither swappiness nor a way to
/// disable the OOM killer; block I/O: see `blkio`) is discarded.
pub fn warnings(hc: &mut HostConfig, raw: &mut Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut set = |key: &str, v: Value| {
        if let Some(o) = raw.as_object_mut() {
            o.insert(key.into(), v);
        }
    };
    if hc.oom_kill_disable.is_some() && !host_support().1.oom_kill_disable {
        if hc.oom_kill_disable == Some(true) {
            out.push(
                "Your kernel does not support OomKillDisable. OomKillDisable discarded.".into(),
            );
        }
        // Discarded, then defaulted: dockerd verifies the settings (which
        // drops the flag to nil) before adaptContainerSettings turns a nil
        // OomKillDisable into false, so inspect shows `false`, not `null`.
        hc.oom_kill_disable = Some(false);
        set("OomKillDisable", Value::Bool(false));
    }
    if hc.oom_kill_disable == Some(true) && hc.memory == 0 {
        out.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".to_string());
    }
    if hc.memory_swappiness.is_some_and(|v| v != -1) && !swappiness_supported() {
        out.push("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.".into());
        hc.memory_swappiness = None;
        set("MemorySwappiness", Value::Null);
    }
    super::blkio::warnings(hc, raw, &mut out);
    out
}

/// Every limit the settings ask for, for a fresh group.
pub fn resources(hc: &HostConfig) -> Resources {
    let pos = |v: i64| (v > 0).then_some(v);
    let mut r = Resources {
        memory: pos(hc.memory),
        memory_swap: pos(hc.memory).map(|m| match hc.memory_swap {
            0 => m.saturating_mul(2),
            s if s < 0 => -1,
            s => s,
        }),
        memory_reservation: pos(hc.memory_reservation),
        pids: hc.pids_limit.and_then(pos),
        cpu_shares: pos(hc.cpu_shares).map(|v| v as u64),
        cpu_quota: pos(hc.cpu_quota),
        cpu_period: pos(hc.cpu_period).map(|v| v as u64),
        cpuset_cpus: Some(hc.cpuset_cpus.clone()).filter(|s| !s.is_empty()),
        cpuset_mems: Some(hc.cpuset_mems.clone()).filter(|s| !s.is_empty()),
        // -1 (the CLI's default) leaves the host's value.
        memory_swappiness: hc.memory_swappiness.and_then(|v| u64::try_from(v).ok()),
        oom_kill_disable: hc.oom_kill_disable == Some(true),
        blkio: Default::default(),
    };
    if hc.nano_cpus > 0 {
        // As dockerd: a 100 ms period and the matching quota.
        r.cpu_period = Some(100_000);
        r.cpu_quota = Some(hc.nano_cpus * 100_000 / 1_000_000_000);
    }
    r
}

/// Creates the container's group with its limits; returns the directories
/// its init joins. Blocking (sysfs writes). Without cgroup support a
/// container that asks for no limit still runs (unlimited, unaccounted).
pub fn prepare(id: &str, hc: &HostConfig) -> Result<Vec<PathBuf>, EngineError> {
    let cg = cgroup(id);
    let mut res = resources(hc);
    // Before anything is made: a missing host device fails the start.
    let devices = super::devices::gather(hc)?;
    res.blkio = super::blkio::resolve(hc)?;
    if let Err(e) = cg.create() {
        if res == Resources::default() {
            tracing::warn!(id, error = %e, "no cgroup for the container; running without");
            return Ok(Vec::new());
        }
        return Err(EngineError::System(format!(
            "creating the container's cgroup: {e}"
        )));
    }
    if let Err(e) = cg.apply(&res) {
        let _ = cg.remove();
        return Err(EngineError::System(format!(
            "applying resource limits: {e}"
        )));
    }
    // A container must not reach the host's disks or other devices: when the
    // rules cannot be written, it does not start.
    let allow: Vec<_> = DOCKER_DEFAULT_DEVICES
        .iter()
        .copied()
        .chain(devices.into_iter().map(|(_, rule)| rule))
        .collect();
    match cg.restrict_devices(&allow) {
        Ok(true) => {}
        Ok(false) => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!("device access is not restricted: no v1 devices controller")
            });
        }
        Err(e) => {
            let _ = cg.remove();
            return Err(EngineError::System(format!(
                "restricting the container's devices: {e}"
            )));
        }
    }
    Ok(cg.dirs())
}

/// After the container's process has exited: removes its group and says
/// whether the kernel's OOM killer struck in it.
pub async fn release(id: &str) -> bool {
    let id = id.to_string();
    tokio::task::spawn_blocking(move || {
        let cg = cgroup(&id);
        if !cg.exists() {
            return false;
        }
        let oom = cg.oom_kills() > 0;
        if let Err(e) = cg.remove() {
            tracing::warn!(id = %id, error = %e, "removing the container's cgroup");
        }
        oom
    })
    .await
    .unwrap_or(false)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, EngineError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(EngineError::system)?
        .map_err(EngineError::system)
}

/// What an exec'd process joins: the container's group, when it has one.
pub fn join_dirs(id: &str) -> Vec<PathBuf> {
    let cg = cgroup(id);
    if cg.exists() {
        cg.dirs()
    } else {
        Vec::new()
    }
}

/// dockerd refuses exec into a paused container (409).
pub fn check_not_paused(c: &Container) -> Result<(), EngineError> {
    if c.record().state.status == Status::Paused {
        return Err(EngineError::Conflict(format!(
            "Container {} is paused, unpause the container before exec",
            c.id
        )));
    }
    Ok(())
}

/// `POST /containers/{id}/pause`: freezes every process of the container.
pub async fn pause(c: &Arc<Container>) -> Result<(), EngineError> {
    let _op = c.op_lock.lock().await;
    match c.record().state.status {
        Status::Running => {}
        Status::Paused => {
            return Err(EngineError::Conflict(format!(
                "Container {} is already paused",
                c.id
            )))
        }
        Status::Restarting => {
            return Err(EngineError::Conflict(format!(
                "Container {} is restarting, wait until the container is running",
                c.id
            )))
        }
        _ => {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                c.id
            )))
        }
    }
    let cg = cgroup(&c.id);
    blocking(move || cg.freeze()).await?;
    {
        let mut r = c.record();
        // It may have exited while freezing: then exit handling has the last word.
        if r.state.status != Status::Running {
            return Ok(());
        }
        r.state.status = Status::Paused;
    }
    if let Err(e) = c.save_state() {
        tracing::warn!(id = %c.id, error = %e, "persisting paused state");
    }
    c.hub.bump();
    crate::daemon::events::container(c, "pause", Default::default());
    Ok(())
}

/// `POST /containers/{id}/unpause`. dockerd answers 500 when the container
/// is not paused.
pub async fn unpause(c: &Arc<Container>) -> Result<(), EngineError> {
    let _op = c.op_lock.lock().await;
    if c.record().state.status != Status::Paused {
        return Err(EngineError::System(format!(
            "Container {} is not paused",
            c.id
        )));
    }
    let cg = cgroup(&c.id);
    blocking(move || cg.thaw()).await?;
    set_running_if_paused(c);
    crate::daemon::events::container(c, "unpause", Default::default());
    Ok(())
}

/// Stop, kill and forced removal of a paused container: the signal was
/// sent, now let the processes run so they can receive it (as dockerd
/// resumes after killing). No-op unless paused.
pub async fn thaw_if_paused(c: &Arc<Container>) {
    if c.record().state.status != Status::Paused {
        return;
    }
    let cg = cgroup(&c.id);
    match blocking(move || cg.thaw()).await {
        Ok(()) => set_running_if_paused(c),
        Err(e) => tracing::warn!(id = %c.id, error = %e, "thawing the container"),
    }
}

fn set_running_if_paused(c: &Container) {
    {
        let mut r = c.record();
        if r.state.status != Status::Paused {
            return;
        }
        r.state.status = Status::Running;
    }
    if let Err(e) = c.save_state() {
        tracing::warn!(id = %c.id, error = %e, "persisting unpaused state");
    }
    c.hub.bump();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(memory: i64, swap: i64) -> HostConfig {
        HostConfig {
            memory,
            memory_swap: swap,
            ..Default::default()
        }
    }

    #[test]
    fn docker_memory_rules() {
        assert!(validate(&hc(1000, 0)).is_err());
        assert!(validate(&hc(64 << 20, 1000)).is_err());
        assert!(validate(&hc(0, 64 << 20)).is_err());
        assert!(validate(&hc(64 << 20, -1)).is_ok());
        let r = resources(&hc(64 << 20, 0));
        assert_eq!(r.memory, Some(64 << 20));
        assert_eq!(r.memory_swap, Some(128 << 20));
        assert_eq!(resources(&hc(64 << 20, -1)).memory_swap, Some(-1));
        assert_eq!(resources(&hc(0, 0)), Resources::default());
    }

    #[test]
    fn nano_cpus_become_quota() {
        let h = HostConfig {
            nano_cpus: 500_000_000,
            ..Default::default()
        };
        let r = resources(&h);
        assert_eq!((r.cpu_quota, r.cpu_period), (Some(50_000), Some(100_000)));
    }
}
