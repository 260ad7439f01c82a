//! Control groups for containers: one group per container, limits written
//! into it, the freezer for pause, and the accounting files read for stats.
//!
//! Everything is plain file I/O under a root directory (normally
//! [`DEFAULT_ROOT`]), so tests can point it at a temp dir. Both layouts:
//! * cgroup v1: one hierarchy per controller (`<root>/memory`, `<root>/pids`,
//!   …); the container's group is `<root>/<controller>/<rel>` in each
//!   hierarchy that exists;
//! * cgroup v2 (detected by `<root>/cgroup.controllers`): one group
//!   `<root>/<rel>`.
//!
//! Joining happens in the re-exec'd init (see `crate::init`): it moves itself
//! into every directory in [`Cgroup::dirs`] (see [`join`]) before it
//! forks the container's pid 1, so every process of the container, including
//! `docker exec`'d ones, is accounted and limited from its first instruction.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::RuntimeError;

/// Where the host mounts its cgroup hierarchies.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// The v1 controllers a container gets a group in (when mounted).
pub const V1_CONTROLLERS: &[&str] = &[
    "memory", "pids", "cpu", "cpuacct", "freezer", "blkio", "devices",
];

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

/// v1 reports "no limit" as the largest page-aligned i64.
const V1_UNLIMITED: u64 = 9_223_372_036_854_771_712;

/// How long a freeze may stay in FREEZING before it is reported as failed.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

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

/// A container's group (it may not exist yet: see [`Cgroup::create`]).
#[derive(Debug, Clone)]
pub struct Cgroup {
    version: Version,
    /// v1: (controller, directory) per mounted controller; v2: one ("", dir).
    dirs: Vec<(String, PathBuf)>,
}

impl Cgroup {
    /// The group `rel` (e.g. "shipshape/<id>") under the hierarchies at `root`.
    pub fn new(root: &Path, rel: &str) -> Cgroup {
        let rel = rel.trim_start_matches('/');
        match detect(root) {
            Version::V2 => Cgroup {
                version: Version::V2,
                dirs: vec![(String::new(), root.join(rel))],
            },
            Version::V1 => Cgroup {
                version: Version::V1,
                dirs: V1_CONTROLLERS
                    .iter()
                    .filter(|c| root.join(c).is_dir())
                    .map(|c| (c.to_string(), root.join(c).join(rel)))
                    .collect(),
            },
        }
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The directories a process must join (each once, even when
    /// controllers share a hierarchy, as `cpu,cpuacct` often do).
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut out = Vec::new();
        for (_, d) in &self.dirs {
            let key = d.canonicalize().unwrap_or_else(|_| d.clone());
            if !seen.contains(&key) {
                seen.push(key);
                out.push(d.clone());
            }
        }
        out
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(c, _)| self.version == Version::V2 || c == controller)
            .map(|(_, d)| d.as_path())
    }

    /// Creates the group's directories (and, on v2, enables the controllers
    /// for it in its parents, best effort).
    pub fn create(&self) -> io::Result<()> {
        for (_, d) in &self.dirs {
            fs::create_dir_all(d)?;
            if self.version == Version::V2 {
                enable_v2_controllers(d);
            }
        }
        Ok(())
    }

    /// Removes the group's directories. The last processes of a container
    /// may still be leaving it (the kernel moves a task out of its cgroup
    /// a moment after it is reaped): EBUSY is retried briefly.
    pub fn remove(&self) -> io::Result<()> {
        let mut result = Ok(());
        for (_, d) in &self.dirs {
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
        self.dirs.iter().any(|(_, d)| d.is_dir())
    }

    /// Pids in the group (all controllers hold the same processes; the
    /// first hierarchy is read).
    pub fn procs(&self) -> Vec<i32> {
        let Some((_, d)) = self.dirs.first() else {
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
        match self.version {
            Version::V1 => self.apply_v1(r),
            Version::V2 => self.apply_v2(r),
        }
    }

    fn apply_v1(&self, r: &Resources) -> io::Result<()> {
        if let Some(d) = self.dir("memory") {
            if let Some(v) = r.memory_reservation {
                write(d, "memory.soft_limit_in_bytes", &v.to_string())?;
            }
            let memsw = d.join("memory.memsw.limit_in_bytes");
            let has_swap = memsw.exists();
            match (r.memory, r.memory_swap.filter(|_| has_swap)) {
                (Some(m), Some(s)) => {
                    // The kernel insists memory <= memsw at every moment:
                    // which goes first depends on whether limits rise or fall.
                    if write(d, "memory.limit_in_bytes", &m.to_string()).is_err() {
                        write(d, "memory.memsw.limit_in_bytes", &s.to_string())?;
                        write(d, "memory.limit_in_bytes", &m.to_string())?;
                    } else {
                        write(d, "memory.memsw.limit_in_bytes", &s.to_string())?;
                    }
                }
                (Some(m), None) => write(d, "memory.limit_in_bytes", &m.to_string())?,
                (None, Some(s)) => write(d, "memory.memsw.limit_in_bytes", &s.to_string())?,
                (None, None) => {}
            }
        }
        if let (Some(d), Some(p)) = (self.dir("pids"), r.pids) {
            write(d, "pids.max", &limit_or_max(p))?;
        }
        if let Some(d) = self.dir("cpu") {
            if let Some(s) = r.cpu_shares {
                write(d, "cpu.shares", &s.to_string())?;
            }
            if let Some(p) = r.cpu_period {
                write(d, "cpu.cfs_period_us", &p.to_string())?;
            }
            if let Some(q) = r.cpu_quota {
                write(d, "cpu.cfs_quota_us", &q.to_string())?;
            }
        }
        Ok(())
    }

    fn apply_v2(&self, r: &Resources) -> io::Result<()> {
        let Some(d) = self.dir("") else {
            return Ok(());
        };
        if let Some(v) = r.memory_reservation {
            write(d, "memory.low", &limit_or_max(v))?;
        }
        if let Some(m) = r.memory {
            write(d, "memory.max", &limit_or_max(m))?;
        }
        if let Some(s) = r.memory_swap {
            // v2 limits swap alone; Docker's value is memory plus swap.
            let swap = match (s, r.memory) {
                (s, Some(m)) if s > 0 && m > 0 => (s - m).max(0),
                (s, _) => s,
            };
            if d.join("memory.swap.max").exists() {
                write(d, "memory.swap.max", &limit_or_max(swap))?;
            }
        }
        if let Some(p) = r.pids {
            write(d, "pids.max", &limit_or_max(p))?;
        }
        if let Some(s) = r.cpu_shares {
            // runc's conversion of shares [2, 262144] to weight [1, 10000].
            let w = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
            write(d, "cpu.weight", &w.to_string())?;
        }
        if r.cpu_quota.is_some() || r.cpu_period.is_some() {
            let current = fs::read_to_string(d.join("cpu.max")).unwrap_or_default();
            let mut parts = current.split_whitespace();
            let (cur_q, cur_p) = (
                parts.next().unwrap_or("max"),
                parts.next().unwrap_or("100000"),
            );
            let q = match r.cpu_quota {
                Some(q) => limit_or_max(q),
                None => cur_q.to_string(),
            };
            let p = r
                .cpu_period
                .map(|p| p.to_string())
                .unwrap_or(cur_p.to_string());
            write(d, "cpu.max", &format!("{q} {p}"))?;
        }
        Ok(())
    }

    /// Denies every device to the group, then allows `allow` (written one
    /// rule per write, as the kernel parses them). Must run before any
    /// process joins. Returns whether the rules are enforced: cgroup v2 has
    /// no devices files (runc attaches an eBPF program instead, which this
    /// runtime does not do yet), and a v1 host without the devices
    /// controller has nothing to write to.
    pub fn restrict_devices(&self, allow: &[DeviceRule]) -> io::Result<bool> {
        if self.version == Version::V2 {
            return Ok(false);
        }
        let Some(d) = self.dir("devices") else {
            return Ok(false);
        };
        write(d, "devices.deny", "a")?;
        for rule in allow {
            write(d, "devices.allow", &rule.to_string())?;
        }
        Ok(true)
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
        let (file, value, done): (&str, &str, fn(&Path) -> bool) = match self.version {
            Version::V1 => (
                "freezer.state",
                if frozen { "FROZEN" } else { "THAWED" },
                if frozen { v1_frozen } else { v1_thawed },
            ),
            Version::V2 => (
                "cgroup.freeze",
                if frozen { "1" } else { "0" },
                if frozen { v2_frozen } else { v2_thawed },
            ),
        };
        let Some(d) = self.dir("freezer") else {
            return Err(io::Error::other(
                "the freezer cgroup controller is not available",
            ));
        };
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        loop {
            // v1 may stay FREEZING while a task is in an uninterruptible
            // sleep; writing again retries the freeze.
            write(d, file, value)?;
            if done(d) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                if frozen {
                    // Leave nothing half-frozen behind a failed pause.
                    let _ = write(
                        d,
                        file,
                        if self.version == Version::V1 {
                            "THAWED"
                        } else {
                            "0"
                        },
                    );
                }
                return Err(io::Error::other(format!(
                    "timed out {} the container",
                    if frozen { "freezing" } else { "thawing" }
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the group is (being) frozen.
    pub fn is_frozen(&self) -> bool {
        let Some(d) = self.dir("freezer") else {
            return false;
        };
        match self.version {
            Version::V1 => !v1_thawed(d),
            Version::V2 => read_trim(d, "cgroup.freeze").as_deref() == Some("1"),
        }
    }

    /// How many processes the kernel's OOM killer killed in the group.
    pub fn oom_kills(&self) -> u64 {
        let Some(d) = self.dir("memory") else {
            return 0;
        };
        let file = match self.version {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        };
        read_kv(d, file).get("oom_kill").copied().unwrap_or(0)
    }

    /// Reads the accounting files; missing files leave zeros.
    pub fn stats(&self) -> Stats {
        match self.version {
            Version::V1 => self.stats_v1(),
            Version::V2 => self.stats_v2(),
        }
    }

    fn stats_v1(&self) -> Stats {
        let mut s = Stats::default();
        if let Some(d) = self.dir("cpuacct") {
            s.cpu_total = read_u64(d, "cpuacct.usage").unwrap_or(0);
            s.cpu_percpu = read_trim(d, "cpuacct.usage_percpu")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            let kv = read_kv(d, "cpuacct.stat");
            // Reported in USER_HZ ticks; Docker shows nanoseconds.
            let ns_per_tick = 1_000_000_000 / clock_ticks();
            s.cpu_user = kv.get("user").copied().unwrap_or(0) * ns_per_tick;
            s.cpu_kernel = kv.get("system").copied().unwrap_or(0) * ns_per_tick;
        }
        if let Some(d) = self.dir("cpu") {
            let kv = read_kv(d, "cpu.stat");
            s.throttle_periods = kv.get("nr_periods").copied().unwrap_or(0);
            s.throttled_periods = kv.get("nr_throttled").copied().unwrap_or(0);
            s.throttled_time = kv.get("throttled_time").copied().unwrap_or(0);
        }
        if let Some(d) = self.dir("memory") {
            s.memory_usage = read_u64(d, "memory.usage_in_bytes").unwrap_or(0);
            s.memory_max_usage = read_u64(d, "memory.max_usage_in_bytes");
            s.memory_limit = read_u64(d, "memory.limit_in_bytes").filter(|l| *l < V1_UNLIMITED);
            s.memory_failcnt = read_u64(d, "memory.failcnt");
            s.memory_stat = read_kv(d, "memory.stat");
        }
        if let Some(d) = self.dir("pids") {
            s.pids_current = read_u64(d, "pids.current");
            s.pids_limit = read_u64(d, "pids.max");
        }
        if let Some(d) = self.dir("blkio") {
            s.blkio_service_bytes = read_blkio(d, "blkio.throttle.io_service_bytes");
            s.blkio_serviced = read_blkio(d, "blkio.throttle.io_serviced");
        }
        s
    }

    fn stats_v2(&self) -> Stats {
        let mut s = Stats::default();
        let Some(d) = self.dir("") else {
            return s;
        };
        let cpu = read_kv(d, "cpu.stat");
        s.cpu_total = cpu.get("usage_usec").copied().unwrap_or(0) * 1000;
        s.cpu_user = cpu.get("user_usec").copied().unwrap_or(0) * 1000;
        s.cpu_kernel = cpu.get("system_usec").copied().unwrap_or(0) * 1000;
        s.throttle_periods = cpu.get("nr_periods").copied().unwrap_or(0);
        s.throttled_periods = cpu.get("nr_throttled").copied().unwrap_or(0);
        s.throttled_time = cpu.get("throttled_usec").copied().unwrap_or(0) * 1000;
        s.memory_usage = read_u64(d, "memory.current").unwrap_or(0);
        s.memory_max_usage = read_u64(d, "memory.peak");
        s.memory_limit = read_u64(d, "memory.max");
        s.memory_stat = read_kv(d, "memory.stat");
        s.pids_current = read_u64(d, "pids.current");
        s.pids_limit = read_u64(d, "pids.max");
        for line in read_trim(d, "io.stat").unwrap_or_default().lines() {
            let mut it = line.split_whitespace();
            let Some((major, minor)) = it.next().and_then(|dev| dev.split_once(':')) else {
                continue;
            };
            let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
                continue;
            };
            for kv in it {
                let Some((k, v)) = kv.split_once('=') else {
                    continue;
                };
                let Ok(value) = v.parse() else { continue };
                let (list, op) = match k {
                    "rbytes" => (&mut s.blkio_service_bytes, "read"),
                    "wbytes" => (&mut s.blkio_service_bytes, "write"),
                    "rios" => (&mut s.blkio_serviced, "read"),
                    "wios" => (&mut s.blkio_serviced, "write"),
                    _ => continue,
                };
                list.push(BlkioEntry {
                    major,
                    minor,
                    op: op.into(),
                    value,
                });
            }
        }
        s
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

/// v1 blkio lines: "MAJ:MIN Op value" (the "Total N" line is skipped).
fn read_blkio(dir: &Path, file: &str) -> Vec<BlkioEntry> {
    read_trim(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (major, minor) = it.next()?.split_once(':')?;
            let op = it.next()?.to_string();
            let value = it.next()?.parse().ok()?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op,
                value,
            })
        })
        .collect()
}

fn v1_frozen(d: &Path) -> bool {
    read_trim(d, "freezer.state").as_deref() == Some("FROZEN")
}

fn v1_thawed(d: &Path) -> bool {
    read_trim(d, "freezer.state").as_deref() == Some("THAWED")
}

fn v2_events_frozen(d: &Path) -> Option<bool> {
    let ev = read_trim(d, "cgroup.events")?;
    ev.lines()
        .find_map(|l| l.strip_prefix("frozen "))
        .map(|v| v.trim() == "1")
}

fn v2_frozen(d: &Path) -> bool {
    // Without cgroup.events (a test tree) the write is all there is.
    v2_events_frozen(d).unwrap_or(true)
}

fn v2_thawed(d: &Path) -> bool {
    !v2_events_frozen(d).unwrap_or(false)
}

/// On v2 a controller only works in a group when every ancestor lists it in
/// `cgroup.subtree_control`. Enables what each ancestor offers; errors are
/// ignored (a controller may be unavailable: limits then fail visibly).
fn enable_v2_controllers(dir: &Path) {
    let mut ancestors: Vec<&Path> = dir.ancestors().skip(1).collect();
    ancestors.reverse();
    for a in ancestors {
        let Ok(avail) = fs::read_to_string(a.join("cgroup.controllers")) else {
            continue;
        };
        for c in avail.split_whitespace() {
            if matches!(c, "memory" | "pids" | "cpu" | "io") {
                let _ = fs::write(a.join("cgroup.subtree_control"), format!("+{c}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1_tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for c in ["memory", "pids", "cpu", "cpuacct", "freezer"] {
            fs::create_dir_all(t.path().join(c)).unwrap();
        }
        t
    }

    #[test]
    fn v1_layout_and_limits() {
        let t = v1_tree();
        let cg = Cgroup::new(t.path(), "shipshape/abc");
        assert_eq!(cg.version(), Version::V1);
        // blkio is not mounted in this tree: it is left out.
        assert_eq!(cg.dirs().len(), 5);
        cg.create().unwrap();
        let mem = t.path().join("memory/shipshape/abc");
        // A fake memsw file, so the swap limit is written too.
        fs::write(mem.join("memory.memsw.limit_in_bytes"), "").unwrap();
        cg.apply(&Resources {
            memory: Some(64 << 20),
            memory_swap: Some(128 << 20),
            pids: Some(-1),
            cpu_shares: Some(512),
            ..Default::default()
        })
        .unwrap();
        let read = |p: &str| fs::read_to_string(t.path().join(p)).unwrap();
        assert_eq!(
            read("memory/shipshape/abc/memory.limit_in_bytes"),
            "67108864"
        );
        assert_eq!(
            read("memory/shipshape/abc/memory.memsw.limit_in_bytes"),
            "134217728"
        );
        assert_eq!(read("pids/shipshape/abc/pids.max"), "max");
        assert_eq!(read("cpu/shipshape/abc/cpu.shares"), "512");
        assert!(!t.path().join("cpu/shipshape/abc/cpu.cfs_quota_us").exists());

        cg.freeze().unwrap();
        assert_eq!(read("freezer/shipshape/abc/freezer.state"), "FROZEN");
        assert!(cg.is_frozen());
        cg.thaw().unwrap();
        assert!(!cg.is_frozen());
    }

    #[test]
    fn v1_device_rules() {
        let t = v1_tree();
        fs::create_dir_all(t.path().join("devices")).unwrap();
        let cg = Cgroup::new(t.path(), "shipshape/dev");
        cg.create().unwrap();
        assert!(cg.restrict_devices(DOCKER_DEFAULT_DEVICES).unwrap());
        let d = t.path().join("devices/shipshape/dev");
        // A plain file keeps only the last write: deny-all, then the last rule.
        assert_eq!(fs::read_to_string(d.join("devices.deny")).unwrap(), "a");
        assert_eq!(
            fs::read_to_string(d.join("devices.allow")).unwrap(),
            "c 10:200 rwm"
        );
        let rules: Vec<String> = DOCKER_DEFAULT_DEVICES
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(rules[0], "c *:* m");
        assert!(rules.contains(&"c 136:* rwm".to_string()));
        assert!(!rules.iter().any(|r| r.starts_with("b ") && r.contains('r')));
    }

    #[test]
    fn v2_device_rules_are_not_enforced() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        let cg = Cgroup::new(t.path(), "x");
        cg.create().unwrap();
        assert!(!cg.restrict_devices(DOCKER_DEFAULT_DEVICES).unwrap());
        assert!(!t.path().join("x/devices.deny").exists());
    }

    #[test]
    fn v1_stats_parse() {
        let t = v1_tree();
        let cg = Cgroup::new(t.path(), "g");
        cg.create().unwrap();
        let w = |p: &str, v: &str| fs::write(t.path().join(p), v).unwrap();
        w("cpuacct/g/cpuacct.usage", "1500\n");
        w("cpuacct/g/cpuacct.usage_percpu", "1000 500 \n");
        w("cpuacct/g/cpuacct.stat", "user 2\nsystem 1\n");
        w("memory/g/memory.usage_in_bytes", "4096\n");
        w("memory/g/memory.limit_in_bytes", "9223372036854771712\n");
        w("memory/g/memory.stat", "cache 10\nrss 20\n");
        w("pids/g/pids.current", "3\n");
        w("pids/g/pids.max", "max\n");
        let s = cg.stats();
        assert_eq!(s.cpu_total, 1500);
        assert_eq!(s.cpu_percpu, vec![1000, 500]);
        assert_eq!(s.cpu_user, 2 * (1_000_000_000 / clock_ticks()));
        assert_eq!(s.memory_usage, 4096);
        assert_eq!(s.memory_limit, None);
        assert_eq!(s.memory_stat.get("rss"), Some(&20));
        assert_eq!(s.pids_current, Some(3));
        assert_eq!(s.pids_limit, None);
    }

    #[test]
    fn v2_layout_and_limits() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        let cg = Cgroup::new(t.path(), "shipshape/x");
        assert_eq!(cg.version(), Version::V2);
        cg.create().unwrap();
        let d = t.path().join("shipshape/x");
        fs::write(d.join("memory.swap.max"), "").unwrap();
        cg.apply(&Resources {
            memory: Some(100),
            memory_swap: Some(300),
            pids: Some(10),
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            ..Default::default()
        })
        .unwrap();
        let read = |p: &str| fs::read_to_string(d.join(p)).unwrap();
        assert_eq!(read("memory.max"), "100");
        assert_eq!(read("memory.swap.max"), "200");
        assert_eq!(read("pids.max"), "10");
        assert_eq!(read("cpu.max"), "50000 100000");
        cg.freeze().unwrap();
        assert_eq!(read("cgroup.freeze"), "1");
    }
}
