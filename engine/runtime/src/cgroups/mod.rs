//! Control groups for containers: one group per container, limits written
//! into it, the freezer for pause, and the accounting files read for stats.
//!
//! Everything is plain file I/O under a root directory (normally
//! [`DEFAULT_ROOT`]), so tests can point it at a temp dir. [`Cgroup`] is the
//! one interface the rest of the runtime and the daemon use; [`detect`]
//! picks the layout and each version implements the private `Backend` trait
//! (as youki's libcgroups has one manager per version):
//! * `v1`: one hierarchy per controller (`<root>/memory`, `<root>/pids`, …);
//!   the container's group is `<root>/<controller>/<rel>` in each hierarchy
//!   that exists;
//! * `v2` (detected by `<root>/cgroup.controllers`): one group `<root>/<rel>`.
//!
//! This module keeps what both share: the types, removal and membership, the
//! freeze loop, joining, host-wide counters and the file helpers.
//!
//! Joining happens in the re-exec'd init (see `crate::init`): it moves itself
//! into every directory in [`Cgroup::dirs`] (see `join`) before it
//! forks the container's pid 1, so every process of the container, including
//! `docker exec`'d ones, is accounted and limited from its first instruction.

mod v1;
mod v2;
mod v2_devices;

pub use v1::V1_CONTROLLERS;
pub use v2::RootSetup;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::RuntimeError;

/// Where the host mounts its cgroup hierarchies.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// One device cgroup rule: node type, numbers (`None` = any) and access
/// (`r`ead, `w`rite, `m`knod), written as v1's `c 1:3 rwm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    /// 'c' (char), 'b' (block) or 'a' (all).
    pub kind: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: &'static str,
}

impl std::fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        write!(
            f,
            "{} {}:{} {}",
            self.kind,
            num(self.major),
            num(self.minor),
            self.access
        )
    }
}

const fn dev(
    kind: char,
    major: Option<u32>,
    minor: Option<u32>,
    access: &'static str,
) -> DeviceRule {
    DeviceRule {
        kind,
        major,
        minor,
        access,
    }
}

/// What a Docker container may touch: any node may be created (mknod needs
/// CAP_MKNOD too), but only these may be opened. The list is the
/// devices.list of a dockerd 20.10 container (runc's defaults): null, zero,
/// full, random, urandom, tty, console, ptmx, the pty slaves, and tun.
pub const DOCKER_DEFAULT_DEVICES: &[DeviceRule] = &[
    dev('c', None, None, "m"),
    dev('b', None, None, "m"),
    dev('c', Some(1), Some(3), "rwm"),
    dev('c', Some(1), Some(5), "rwm"),
    dev('c', Some(1), Some(7), "rwm"),
    dev('c', Some(1), Some(8), "rwm"),
    dev('c', Some(1), Some(9), "rwm"),
    dev('c', Some(5), Some(0), "rwm"),
    dev('c', Some(5), Some(1), "rwm"),
    dev('c', Some(5), Some(2), "rwm"),
    dev('c', Some(136), None, "rwm"),
    dev('c', Some(10), Some(200), "rwm"),
];

/// How long a freeze may stay in FREEZING before it is reported as failed.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// The host's cgroup layout (see [`detect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// Limits to write. `None` leaves the current value alone (so an update
/// touches only what it names); byte and count values use -1 for "unlimited".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Memory limit in bytes, -1 = unlimited.
    pub memory: Option<i64>,
    /// Memory plus swap in bytes (v1 `memsw`), -1 = unlimited.
    pub memory_swap: Option<i64>,
    /// Soft limit in bytes, -1 = none.
    pub memory_reservation: Option<i64>,
    /// Maximum number of tasks, -1 = unlimited.
    pub pids: Option<i64>,
    /// Relative CPU weight (v1 shares, 2..262144).
    pub cpu_shares: Option<u64>,
    /// CFS quota in µs per period, -1 = unlimited.
    pub cpu_quota: Option<i64>,
    /// CFS period in µs.
    pub cpu_period: Option<u64>,
    /// CPUs the group may run on (`0-2,4`).
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the group may allocate from.
    pub cpuset_mems: Option<String>,
    /// v1 `memory.swappiness` (0..=100). v2 has no such file: dockerd
    /// discards the setting there at create, and so does the daemon.
    pub memory_swappiness: Option<u64>,
    /// v1 `memory.oom_control` = 1. v2 cannot disable the OOM killer
    /// (discarded at create, as dockerd does).
    pub oom_kill_disable: bool,
    /// Block I/O weights and throttles.
    pub blkio: Blkio,
}

/// Block I/O settings (`--blkio-weight`, `--blkio-weight-device`,
/// `--device-{read,write}-{bps,iops}`), devices by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blkio {
    /// Relative weight, 10..=1000.
    pub weight: Option<u16>,
    pub weight_device: Vec<DeviceValue>,
    /// Bytes per second.
    pub read_bps: Vec<DeviceValue>,
    pub write_bps: Vec<DeviceValue>,
    /// Operations per second.
    pub read_iops: Vec<DeviceValue>,
    pub write_iops: Vec<DeviceValue>,
}

/// A per-device value, written as the kernel reads it: `MAJ:MIN VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceValue {
    pub major: u64,
    pub minor: u64,
    pub value: u64,
}

impl std::fmt::Display for DeviceValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} {}", self.major, self.minor, self.value)
    }
}

/// One block device counter (`blkio.throttle.io_service_bytes` and friends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// Raw accounting read from a group. Times are nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub cpu_total: u64,
    pub cpu_percpu: Vec<u64>,
    pub cpu_user: u64,
    pub cpu_kernel: u64,
    pub throttle_periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
    pub memory_usage: u64,
    /// v1 only (v2 has no high-water mark before 5.19's memory.peak).
    pub memory_max_usage: Option<u64>,
    /// None when unlimited.
    pub memory_limit: Option<u64>,
    pub memory_failcnt: Option<u64>,
    pub memory_stat: BTreeMap<String, u64>,
    pub pids_current: Option<u64>,
    /// None when unlimited.
    pub pids_limit: Option<u64>,
    pub blkio_service_bytes: Vec<BlkioEntry>,
    pub blkio_serviced: Vec<BlkioEntry>,
}

/// The layout of the host's cgroups under a root directory.
pub fn detect(root: &Path) -> Version {
    if root.join("cgroup.controllers").exists() {
        Version::V2
    } else {
        Version::V1
    }
}

/// What differs between cgroup versions, for one group. Removal, membership
/// and the freeze loop are shared, in [`Cgroup`].
trait Backend {
    fn version(&self) -> Version;
    /// Every directory of the group, one per hierarchy (v2: one).
    fn dirs(&self) -> Vec<&Path>;
    /// The directory holding `controller`'s files, if it is available.
    fn dir(&self, controller: &str) -> Option<&Path>;
    /// Creates the group's directories.
    fn create(&self) -> io::Result<()>;
    /// Writes the limits that are set.
    fn apply(&self, r: &Resources) -> io::Result<()>;
    /// Denies every device, then allows `allow`; whether that is enforced.
    fn restrict_devices(&self, allow: &[DeviceRule]) -> io::Result<bool>;
    /// How this version pauses a group (found at `dir("freezer")`).
    fn freezer(&self) -> &'static Freezer;
    /// Whether the group is (being) frozen.
    fn is_frozen(&self) -> bool;
    /// How many processes the kernel's OOM killer killed in the group.
    fn oom_kills(&self) -> u64;
    /// Reads the accounting files; missing files leave zeros.
    fn stats(&self) -> Stats;
}

/// The backend of one group, chosen by [`detect`].
#[derive(Debug, Clone)]
enum AnyBackend {
    V1(v1::V1),
    V2(v2::V2),
}

impl AnyBackend {
    fn get(&self) -> &dyn Backend {
        match self {
            AnyBackend::V1(b) => b,
            AnyBackend::V2(b) => b,
        }
    }
}

/// How a version pauses a group: the file to write, its two values, and how
/// to tell that the kernel has finished.
struct Freezer {
    file: &'static str,
    frozen: &'static str,
    thawed: &'static str,
    is_frozen: fn(&Path) -> bool,
    is_thawed: fn(&Path) -> bool,
}

impl Freezer {
    fn set(&self, d: &Path, frozen: bool) -> io::Result<()> {
        let (value, done) = if frozen {
            (self.frozen, self.is_frozen)
        } else {
            (self.thawed, self.is_thawed)
        };
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        loop {
            // v1 may stay FREEZING while a task is in an uninterruptible
            // sleep; writing again retries the freeze.
            write(d, self.file, value)?;
            if done(d) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                if frozen {
                    // Leave nothing half-frozen behind a failed pause.
                    let _ = write(d, self.file, self.thawed);
                }
                return Err(io::Error::other(format!(
                    "timed out {} the container",
                    if frozen { "freezing" } else { "thawing" }
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A container's group (it may not exist yet: see [`Cgroup::create`]).
#[derive(Debug, Clone)]
pub struct Cgroup {
    backend: AnyBackend,
}

impl Cgroup {
    /// The group `rel` (e.g. `shipshape/<id>`) under the hierarchies at `root`.
    pub fn new(root: &Path, rel: &str) -> Cgroup {
        let rel = rel.trim_start_matches('/');
        let backend = match detect(root) {
            Version::V2 => AnyBackend::V2(v2::V2::new(root, rel)),
            Version::V1 => AnyBackend::V1(v1::V1::new(root, rel)),
        };
        Cgroup { backend }
    }

    fn backend(&self) -> &dyn Backend {
        self.backend.get()
    }

    pub fn version(&self) -> Version {
        self.backend().version()
    }

    /// The directories a process must join (each once, even when
    /// controllers share a hierarchy, as `cpu,cpuacct` often do).
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut out = Vec::new();
        for d in self.backend().dirs() {
            let key = d.canonicalize().unwrap_or_else(|_| d.to_path_buf());
            if !seen.contains(&key) {
                seen.push(key);
                out.push(d.to_path_buf());
            }
        }
        out
    }

    /// Creates the group's directories (and, on v2, enables the controllers
    /// for it in its parents, best effort).
    pub fn create(&self) -> io::Result<()> {
        self.backend().create()
    }

    /// Removes the group's directories. The last processes of a container
    /// may still be leaving it (the kernel moves a task out of its cgroup
    /// a moment after it is reaped): EBUSY is retried briefly.
    pub fn remove(&self) -> io::Result<()> {
        let mut result = Ok(());
        for d in self.backend().dirs() {
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                match fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => {
                        result = Err(io::Error::new(
                            e.kind(),
                            format!("remove {}: {e}", d.display()),
                        ));
                        break;
                    }
                }
            }
        }
        result
    }

    pub fn exists(&self) -> bool {
        self.backend().dirs().iter().any(|d| d.is_dir())
    }

    /// Pids in the group (all controllers hold the same processes; the
    /// first hierarchy is read).
    pub fn procs(&self) -> Vec<i32> {
        let Some(d) = self.backend().dirs().first().copied() else {
            return Vec::new();
        };
        fs::read_to_string(d.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Writes the limits that are set.
    pub fn apply(&self, r: &Resources) -> io::Result<()> {
        self.backend().apply(r)
    }

    /// Denies every device to the group, then allows `allow`: on v1 written
    /// one rule per write to the devices controller, as the kernel parses
    /// them; on v2 as an eBPF device program attached to the group, as runc
    /// does (see `v2_devices`). Must run before any process joins. Returns
    /// whether the rules are enforced: a v1 host without the devices
    /// controller has nothing to write to.
    pub fn restrict_devices(&self, allow: &[DeviceRule]) -> io::Result<bool> {
        self.backend().restrict_devices(allow)
    }

    /// Freezes every process of the group and waits until the kernel says
    /// they are all frozen.
    pub fn freeze(&self) -> io::Result<()> {
        self.set_frozen(true)
    }

    pub fn thaw(&self) -> io::Result<()> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> io::Result<()> {
        let b = self.backend();
        let Some(d) = b.dir("freezer") else {
            return Err(io::Error::other(
                "the freezer cgroup controller is not available",
            ));
        };
        b.freezer().set(d, frozen)
    }

    /// Whether the group is (being) frozen.
    pub fn is_frozen(&self) -> bool {
        self.backend().is_frozen()
    }

    /// How many processes the kernel's OOM killer killed in the group.
    pub fn oom_kills(&self) -> u64 {
        self.backend().oom_kills()
    }

    /// Reads the accounting files; missing files leave zeros.
    pub fn stats(&self) -> Stats {
        self.backend().stats()
    }
}

/// Moves the calling process into each directory's group. Called by the
/// init before it creates the container's processes.
///
/// On cgroup v1, a single-threaded caller writes "0" (itself) to `tasks`
/// rather than its pid to `cgroup.procs`: moving one thread that is the
/// caller skips the kernel's global threadgroup lock, whose first taker
/// waits a full RCU grace period (4 to 20 ms on a busy machine, the largest
/// single cost of starting a container). For a process with one thread the
/// result is the same. Shown by:
/// `mkdir /sys/fs/cgroup/pids/t; python3 -c "import time,os; t=time.perf_counter(); open('/sys/fs/cgroup/pids/t/cgroup.procs','w').write(str(os.getpid())); print(time.perf_counter()-t)"`
/// against the same with `open('/sys/fs/cgroup/pids/t/tasks','w').write('0')`.
pub(crate) fn join(dirs: &[PathBuf]) -> Result<(), RuntimeError> {
    let pid = std::process::id().to_string();
    let single_threaded = thread_count() == Some(1);
    for d in dirs {
        let tasks = d.join("tasks");
        let res = if single_threaded && tasks.exists() {
            fs::write(&tasks, "0")
        } else {
            fs::write(d.join("cgroup.procs"), &pid)
        };
        res.map_err(|e| {
            RuntimeError::Io(io::Error::new(
                e.kind(),
                format!("joining cgroup {}: {e}", d.display()),
            ))
        })?;
    }
    Ok(())
}

/// Threads of the calling process, from /proc/self/status.
fn thread_count() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// What the host's cgroups can enforce, as `/info` reports it (dockerd's
/// `sysinfo`): each flag is whether the control file or controller that
/// enforces that limit is there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostSupport {
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub kernel_memory: bool,
    pub kernel_memory_tcp: bool,
    pub oom_kill_disable: bool,
    pub cpu_cfs_period: bool,
    pub cpu_cfs_quota: bool,
    pub cpu_shares: bool,
    pub cpuset: bool,
    pub pids_limit: bool,
}

/// Reads [`HostSupport`] under `root`. v1: the files of each hierarchy's
/// root group; v2: the controllers the root makes available (kernel memory
/// and disabling the OOM killer do not exist there).
pub fn host_support(root: &Path) -> HostSupport {
    match detect(root) {
        Version::V1 => {
            let has = |controller: &str, file: &str| root.join(controller).join(file).exists();
            HostSupport {
                memory_limit: has("memory", "memory.limit_in_bytes"),
                swap_limit: has("memory", "memory.memsw.limit_in_bytes"),
                kernel_memory: has("memory", "memory.kmem.limit_in_bytes"),
                kernel_memory_tcp: has("memory", "memory.kmem.tcp.limit_in_bytes"),
                oom_kill_disable: has("memory", "memory.oom_control"),
                cpu_cfs_period: has("cpu", "cpu.cfs_period_us"),
                cpu_cfs_quota: has("cpu", "cpu.cfs_quota_us"),
                cpu_shares: has("cpu", "cpu.shares"),
                cpuset: has("cpuset", "cpuset.cpus"),
                pids_limit: root.join("pids").is_dir(),
            }
        }
        Version::V2 => {
            let controllers =
                fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
            HostSupport {
                memory_limit: has("memory"),
                swap_limit: has("memory"),
                cpu_cfs_period: has("cpu"),
                cpu_cfs_quota: has("cpu"),
                cpu_shares: has("cpu"),
                cpuset: has("cpuset"),
                pids_limit: has("pids"),
                ..HostSupport::default()
            }
        }
    }
}

/// Readies the hierarchy at `root` for containers' groups, once at the
/// engine's start. v2 only (v1 needs nothing; `None`): see `v2::prepare_root`
/// (processes out of a non-root root group, controllers enabled).
pub fn prepare_root(root: &Path) -> io::Result<Option<RootSetup>> {
    match detect(root) {
        Version::V1 => Ok(None),
        Version::V2 => v2::prepare_root(root).map(Some),
    }
}

/// Host-wide CPU time in nanoseconds (the first line of /proc/stat: user
/// through steal), Docker's `system_cpu_usage`.
pub fn system_cpu_usage() -> u64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let ticks: u64 = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    ticks * (1_000_000_000 / clock_ticks())
}

/// Number of CPUs online.
pub fn online_cpus() -> u64 {
    // SAFETY: sysconf only reads a system value.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as u64
    } else {
        1
    }
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a system value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

fn limit_or_max(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    fs::write(dir.join(file), value).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("writing {value:?} to {}: {e}", dir.join(file).display()),
        )
    })
}

fn read_trim(dir: &Path, file: &str) -> Option<String> {
    fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    read_trim(dir, file)?.parse().ok()
}

/// "key value" lines (memory.stat, cpu.stat, cpuacct.stat).
fn read_kv(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    read_trim(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_support_follows_the_files_and_controllers_present() {
        let v1 = tempfile::tempdir().unwrap();
        fs::create_dir_all(v1.path().join("memory")).unwrap();
        fs::write(v1.path().join("memory/memory.limit_in_bytes"), "").unwrap();
        fs::create_dir_all(v1.path().join("pids")).unwrap();
        let s = host_support(v1.path());
        assert!(s.memory_limit && s.pids_limit);
        assert!(!s.swap_limit && !s.cpu_shares && !s.cpuset);

        let v2 = tempfile::tempdir().unwrap();
        fs::write(v2.path().join("cgroup.controllers"), "cpu pids\n").unwrap();
        let s = host_support(v2.path());
        assert!(s.cpu_shares && s.cpu_cfs_quota && s.pids_limit);
        assert!(!s.memory_limit && !s.oom_kill_disable && !s.kernel_memory);
    }
}
