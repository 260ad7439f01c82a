//! cgroup v2 (the unified hierarchy, detected by `<root>/cgroup.controllers`):
//! a container's group is the one directory `<root>/<rel>`, whose
//! controllers must be enabled in every ancestor. Limits are v2's files
//! (`memory.max`, `cpu.max`, ...), pause is `cgroup.freeze`. Device rules
//! are an eBPF program attached to the group (`v2_devices`), as runc does:
//! v2 has no devices files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{
    limit_or_max, read_kv, read_trim, read_u64, write, Backend, BlkioEntry, DeviceRule, Freezer,
    Resources, Stats, Version,
};

static FREEZER: Freezer = Freezer {
    file: "cgroup.freeze",
    frozen: "1",
    thawed: "0",
    is_frozen: frozen,
    is_thawed: thawed,
};

/// A group in the unified hierarchy.
#[derive(Debug, Clone)]
pub(super) struct V2 {
    dir: PathBuf,
}

impl V2 {
    pub(super) fn new(root: &Path, rel: &str) -> V2 {
        V2 {
            dir: root.join(rel),
        }
    }
}

/// Block I/O on v2, as runc writes it: weights to BFQ's `io.bfq.weight`
/// when the kernel has it (same 10..1000 scale as v1), else to
/// `io.weight` converted to its 1..10000 scale; throttles to `io.max`, one
/// key per write (`MAJ:MIN rbps=N`).
fn apply_io(d: &Path, b: &super::Blkio) -> io::Result<()> {
    let bfq = d.join("io.bfq.weight").exists();
    let scale = |w: u64| {
        if bfq {
            w
        } else {
            1 + (w.clamp(10, 1000) - 10) * 9999 / 990
        }
    };
    let file = if bfq { "io.bfq.weight" } else { "io.weight" };
    if let Some(w) = b.weight {
        let w = scale(u64::from(w));
        let value = if bfq {
            w.to_string()
        } else {
            format!("default {w}")
        };
        write(d, file, &value)?;
    }
    for dv in &b.weight_device {
        write(
            d,
            file,
            &format!("{}:{} {}", dv.major, dv.minor, scale(dv.value)),
        )?;
    }
    for (key, list) in [
        ("rbps", &b.read_bps),
        ("wbps", &b.write_bps),
        ("riops", &b.read_iops),
        ("wiops", &b.write_iops),
    ] {
        for dv in list {
            write(
                d,
                "io.max",
                &format!("{}:{} {key}={}", dv.major, dv.minor, dv.value),
            )?;
        }
    }
    Ok(())
}

impl Backend for V2 {
    fn version(&self) -> Version {
        Version::V2
    }

    fn dirs(&self) -> Vec<&Path> {
        vec![self.dir.as_path()]
    }

    /// Every controller's files are in the one directory.
    fn dir(&self, _controller: &str) -> Option<&Path> {
        Some(&self.dir)
    }

    /// Also enables the controllers for the group in its parents, best
    /// effort.
    fn create(&self) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        enable_controllers(&self.dir);
        Ok(())
    }

    fn apply(&self, r: &Resources) -> io::Result<()> {
        let d = self.dir.as_path();
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
        apply_io(d, &r.blkio)?;
        if let Some(c) = &r.cpuset_cpus {
            write(d, "cpuset.cpus", c)?;
        }
        if let Some(m) = &r.cpuset_mems {
            write(d, "cpuset.mems", m)?;
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

    /// An eBPF device program attached to the group (v2 has no devices
    /// files), as runc does.
    fn restrict_devices(&self, allow: &[DeviceRule]) -> io::Result<bool> {
        super::v2_devices::attach(&self.dir, allow)?;
        Ok(true)
    }

    fn freezer(&self) -> &'static Freezer {
        &FREEZER
    }

    fn is_frozen(&self) -> bool {
        read_trim(&self.dir, "cgroup.freeze").as_deref() == Some("1")
    }

    fn oom_kills(&self) -> u64 {
        read_kv(&self.dir, "memory.events")
            .get("oom_kill")
            .copied()
            .unwrap_or(0)
    }

    fn stats(&self) -> Stats {
        let mut s = Stats::default();
        let d = self.dir.as_path();
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

fn events_frozen(d: &Path) -> Option<bool> {
    let ev = read_trim(d, "cgroup.events")?;
    ev.lines()
        .find_map(|l| l.strip_prefix("frozen "))
        .map(|v| v.trim() == "1")
}

fn frozen(d: &Path) -> bool {
    // Without cgroup.events (a test tree) the write is all there is.
    events_frozen(d).unwrap_or(true)
}

fn thawed(d: &Path) -> bool {
    !events_frozen(d).unwrap_or(false)
}

/// The controllers containers' groups use.
const WANTED: &[&str] = &["cpuset", "cpu", "io", "memory", "pids"];

/// What [`prepare_root`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootSetup {
    /// The leaf group the processes of the root were moved to (when the
    /// root is not the hierarchy's real root and held processes).
    pub leaf: Option<PathBuf>,
    /// How many processes were moved there.
    pub moved: usize,
    /// Controllers enabled for the root's children.
    pub enabled: Vec<String>,
    /// Controllers that could not be enabled, with the reason.
    pub failed: Vec<(String, String)>,
}

/// Readies the root under which containers' groups are made, as
/// Docker-in-Docker's entrypoint does. When the root is not the hierarchy's
/// real root (it has `cgroup.type`: the engine runs in a container, or in a
/// private cgroup namespace) and holds processes, those are moved into the
/// leaf group `<root>/init` first: the kernel lets a non-root group give
/// controllers to its children only while it holds no process itself
/// (otherwise `+memory` and `+io` fail with EBUSY). Then every controller
/// containers use is enabled in `cgroup.subtree_control`, each on its own
/// so one failure does not hide the others.
pub(super) fn prepare_root(root: &Path) -> io::Result<RootSetup> {
    let mut out = RootSetup::default();
    if root.join("cgroup.type").exists() && !procs(root).is_empty() {
        let leaf = root.join("init");
        match fs::create_dir(&leaf) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("creating {}: {e}", leaf.display()),
                ))
            }
        }
        // Processes may fork while they are moved: a few passes.
        for _ in 0..50 {
            let pids = procs(root);
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                match fs::write(leaf.join("cgroup.procs"), pid.to_string()) {
                    Ok(()) => out.moved += 1,
                    // It exited meanwhile.
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(e) => {
                        return Err(io::Error::new(
                            e.kind(),
                            format!("moving process {pid} into {}: {e}", leaf.display()),
                        ))
                    }
                }
            }
        }
        out.leaf = Some(leaf);
    }
    let avail = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let avail: Vec<&str> = avail.split_whitespace().collect();
    for c in WANTED {
        if !avail.contains(c) {
            out.failed.push((
                c.to_string(),
                "not available: the parent group does not delegate it".into(),
            ));
            continue;
        }
        match fs::write(root.join("cgroup.subtree_control"), format!("+{c}")) {
            Ok(()) => out.enabled.push(c.to_string()),
            Err(e) => {
                let why = if e.raw_os_error() == Some(libc::EBUSY) {
                    format!("{e} (the group still holds processes)")
                } else {
                    e.to_string()
                };
                out.failed.push((c.to_string(), why));
            }
        }
    }
    Ok(out)
}

fn procs(d: &Path) -> Vec<i32> {
    fs::read_to_string(d.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// On v2 a controller only works in a group when every ancestor lists it in
/// `cgroup.subtree_control`. Enables what each ancestor offers; errors are
/// ignored (a controller may be unavailable: limits then fail visibly).
fn enable_controllers(dir: &Path) {
    let mut ancestors: Vec<&Path> = dir.ancestors().skip(1).collect();
    ancestors.reverse();
    for a in ancestors {
        let Ok(avail) = fs::read_to_string(a.join("cgroup.controllers")) else {
            continue;
        };
        for c in avail.split_whitespace() {
            if WANTED.contains(&c) {
                let _ = fs::write(a.join("cgroup.subtree_control"), format!("+{c}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use crate::cgroups::*;

    /// Device rules are a program attached to a real cgroup: a directory
    /// that is not one fails (and the container does not start) rather than
    /// running unrestricted.
    #[test]
    fn v2_device_rules_fail_where_they_cannot_be_attached() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        let cg = Cgroup::new(t.path(), "x");
        cg.create().unwrap();
        assert!(cg.restrict_devices(DOCKER_DEFAULT_DEVICES).is_err());
        assert!(!t.path().join("x/devices.deny").exists());
    }

    #[test]
    fn prepare_root_reports_controllers_it_could_not_enable() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("cgroup.controllers"), "cpu pids").unwrap();
        let s = prepare_root(t.path()).unwrap().unwrap();
        assert_eq!(s.enabled, vec!["cpu", "pids"]);
        let failed: Vec<&str> = s.failed.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(failed, vec!["cpuset", "io", "memory"]);
        // The real root (no cgroup.type) keeps its processes.
        assert_eq!(s.leaf, None);
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

    #[test]
    fn v2_io_weight_and_throttles() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("cgroup.controllers"), "io").unwrap();
        let cg = Cgroup::new(t.path(), "io");
        cg.create().unwrap();
        let dv = |value| DeviceValue {
            major: 8,
            minor: 0,
            value,
        };
        cg.apply(&Resources {
            blkio: Blkio {
                weight: Some(1000),
                write_bps: vec![dv(2_097_152)],
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let read = |p: &str| fs::read_to_string(t.path().join("io").join(p)).unwrap();
        // Without BFQ: io.weight on its 1..10000 scale (1000 -> 10000).
        assert_eq!(read("io.weight"), "default 10000");
        assert_eq!(read("io.max"), "8:0 wbps=2097152");
    }
}
