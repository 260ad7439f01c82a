//! cgroup v1: one hierarchy per controller (`<root>/memory`, `<root>/pids`,
//! …); a container's group is `<root>/<controller>/<rel>` in each hierarchy
//! that is mounted. Limits go to each controller's own files, device rules
//! to `devices.deny`/`devices.allow`, pause to `freezer.state`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{
    clock_ticks, limit_or_max, read_kv, read_trim, read_u64, write, Backend, BlkioEntry,
    DeviceRule, Freezer, Resources, Stats, Version,
};

/// The v1 controllers a container gets a group in (when mounted).
pub const V1_CONTROLLERS: &[&str] = &[
    "memory", "pids", "cpu", "cpuacct", "cpuset", "freezer", "blkio", "devices",
];

const CPUSET_FILES: [&str; 2] = ["cpuset.cpus", "cpuset.mems"];

/// A new v1 cpuset group starts with empty `cpuset.cpus` and `cpuset.mems`,
/// and no task can join it until both are set: each level takes its
/// parent's, as runc does.
fn inherit_cpuset(dir: &Path) -> io::Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in CPUSET_FILES {
        if !read_trim(dir, file).unwrap_or_default().is_empty() {
            continue;
        }
        let mut value = read_trim(parent, file).unwrap_or_default();
        if value.is_empty() && parent.join(file).exists() {
            inherit_cpuset(parent)?;
            value = read_trim(parent, file).unwrap_or_default();
        }
        write(dir, file, &value)?;
    }
    Ok(())
}

/// v1 reports "no limit" as the largest page-aligned i64.
const V1_UNLIMITED: u64 = 9_223_372_036_854_771_712;

static FREEZER: Freezer = Freezer {
    file: "freezer.state",
    frozen: "FROZEN",
    thawed: "THAWED",
    is_frozen: frozen,
    is_thawed: thawed,
};

/// A group in the v1 hierarchies.
#[derive(Debug, Clone)]
pub(super) struct V1 {
    /// (controller, directory) per mounted controller.
    dirs: Vec<(String, PathBuf)>,
}

impl V1 {
    pub(super) fn new(root: &Path, rel: &str) -> V1 {
        V1 {
            dirs: V1_CONTROLLERS
                .iter()
                .filter(|c| root.join(c).is_dir())
                .map(|c| (c.to_string(), root.join(c).join(rel)))
                .collect(),
        }
    }
}

impl Backend for V1 {
    fn version(&self) -> Version {
        Version::V1
    }

    fn dirs(&self) -> Vec<&Path> {
        self.dirs.iter().map(|(_, d)| d.as_path()).collect()
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(c, _)| c == controller)
            .map(|(_, d)| d.as_path())
    }

    fn create(&self) -> io::Result<()> {
        for (c, d) in &self.dirs {
            fs::create_dir_all(d)?;
            if c == "cpuset" {
                inherit_cpuset(d)?;
            }
        }
        Ok(())
    }

    fn apply(&self, r: &Resources) -> io::Result<()> {
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
        if let Some(d) = self.dir("memory") {
            if let Some(v) = r.memory_swappiness {
                write(d, "memory.swappiness", &v.to_string())?;
            }
            if r.oom_kill_disable {
                write(d, "memory.oom_control", "1")?;
            }
        }
        if let Some(d) = self.dir("blkio") {
            apply_blkio(d, &r.blkio)?;
        }
        if let (Some(d), Some(p)) = (self.dir("pids"), r.pids) {
            write(d, "pids.max", &limit_or_max(p))?;
        }
        if let Some(d) = self.dir("cpuset") {
            for (file, value) in CPUSET_FILES.iter().zip([&r.cpuset_cpus, &r.cpuset_mems]) {
                if let Some(v) = value {
                    write(d, file, v)?;
                }
            }
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

    /// A host without the devices controller has nothing to write to.
    fn restrict_devices(&self, allow: &[DeviceRule]) -> io::Result<bool> {
        let Some(d) = self.dir("devices") else {
            return Ok(false);
        };
        write(d, "devices.deny", "a")?;
        for rule in allow {
            write(d, "devices.allow", &rule.to_string())?;
        }
        Ok(true)
    }

    fn freezer(&self) -> &'static Freezer {
        &FREEZER
    }

    fn is_frozen(&self) -> bool {
        let Some(d) = self.dir("freezer") else {
            return false;
        };
        // FREEZING counts: a pause is under way.
        !thawed(d)
    }

    fn oom_kills(&self) -> u64 {
        let Some(d) = self.dir("memory") else {
            return 0;
        };
        read_kv(d, "memory.oom_control")
            .get("oom_kill")
            .copied()
            .unwrap_or(0)
    }

    fn stats(&self) -> Stats {
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
}

/// Weights go to CFQ's `blkio.weight*` where the kernel has them, else to
/// BFQ's `blkio.bfq.weight*` (as runc picks); throttles one device per
/// write, as the kernel takes them.
fn apply_blkio(d: &Path, b: &super::Blkio) -> io::Result<()> {
    let (weight, weight_device) = if d.join("blkio.weight").exists() {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    if let Some(w) = b.weight {
        write(d, weight, &w.to_string())?;
    }
    for (file, list) in [
        (weight_device, &b.weight_device),
        ("blkio.throttle.read_bps_device", &b.read_bps),
        ("blkio.throttle.write_bps_device", &b.write_bps),
        ("blkio.throttle.read_iops_device", &b.read_iops),
        ("blkio.throttle.write_iops_device", &b.write_iops),
    ] {
        for dv in list {
            write(d, file, &dv.to_string())?;
        }
    }
    Ok(())
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

fn frozen(d: &Path) -> bool {
    read_trim(d, "freezer.state").as_deref() == Some("FROZEN")
}

fn thawed(d: &Path) -> bool {
    read_trim(d, "freezer.state").as_deref() == Some("THAWED")
}

#[cfg(test)]
mod tests {
    use std::fs;

    use crate::cgroups::*;

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
    fn v1_swappiness_oom_and_blkio() {
        let t = v1_tree();
        fs::create_dir_all(t.path().join("blkio")).unwrap();
        let cg = Cgroup::new(t.path(), "b");
        cg.create().unwrap();
        let dv = |value| DeviceValue {
            major: 254,
            minor: 0,
            value,
        };
        cg.apply(&Resources {
            memory_swappiness: Some(30),
            oom_kill_disable: true,
            blkio: Blkio {
                weight: Some(300),
                weight_device: vec![dv(400)],
                read_bps: vec![dv(1_048_576)],
                write_iops: vec![dv(200)],
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let read = |p: &str| fs::read_to_string(t.path().join(p)).unwrap();
        assert_eq!(read("memory/b/memory.swappiness"), "30");
        assert_eq!(read("memory/b/memory.oom_control"), "1");
        // No CFQ blkio.weight in the group: BFQ's files, as runc picks.
        assert_eq!(read("blkio/b/blkio.bfq.weight"), "300");
        assert_eq!(read("blkio/b/blkio.bfq.weight_device"), "254:0 400");
        assert_eq!(
            read("blkio/b/blkio.throttle.read_bps_device"),
            "254:0 1048576"
        );
        assert_eq!(
            read("blkio/b/blkio.throttle.write_iops_device"),
            "254:0 200"
        );
        assert!(!t
            .path()
            .join("blkio/b/blkio.throttle.write_bps_device")
            .exists());
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
}
