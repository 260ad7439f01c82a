//! `GET /containers/{id}/stats`: samples of a container's cgroup counters in
//! dockerd's JSON shape (`types.StatsJSON` of API 1.41, cgroup v1 flavour).
//! `precpu_stats` is the previous sample, so clients compute CPU % from the
//! difference of two samples.

use std::time::Instant;

use serde_json::{json, Map, Value};
use shipshape_runtime::cgroups::{self, BlkioEntry, Stats};

use super::container::Container;
use super::record::{Status, ZERO_TIME};

/// One reading of a running container's counters.
#[derive(Debug, Clone)]
pub struct Sample {
    pub read: String,
    pub at: Instant,
    pub stats: Stats,
    pub system_cpu: u64,
    pub online_cpus: u64,
    /// Interface counters inside the container's own network namespace
    /// (name, then rx bytes/packets/errors/dropped, tx the same), for a
    /// bridged container; None for host and none modes, as dockerd.
    pub networks: Option<Vec<(String, [u64; 8])>>,
}

/// Reads the counters; None unless the container is running (or paused).
/// Blocking (sysfs and /proc reads): call it from a blocking task.
pub fn sample(c: &Container) -> Option<Sample> {
    if !matches!(c.record().state.status, Status::Running | Status::Paused) {
        return None;
    }
    let cg = super::cgroups::cgroup(&c.id);
    if !cg.exists() {
        return None;
    }
    let rec = c.record();
    let networks = crate::daemon::networks::endpoint::bridged(&rec.host_config.network_mode)
        .then(|| std::fs::read_to_string(format!("/proc/{}/net/dev", rec.state.pid)).ok())
        .flatten()
        .map(|dev| net_dev(&dev));
    drop(rec);
    Some(Sample {
        read: super::lifecycle::now_rfc3339(),
        at: Instant::now(),
        stats: cg.stats(),
        system_cpu: cgroups::system_cpu_usage(),
        online_cpus: cgroups::online_cpus(),
        networks,
    })
}

/// The interfaces of a `/proc/<pid>/net/dev` (the process's namespace),
/// loopback left out as dockerd leaves it out.
fn net_dev(dev: &str) -> Vec<(String, [u64; 8])> {
    dev.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let name = name.trim();
            if name == "lo" {
                return None;
            }
            let n: Vec<u64> = rest
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0))
                .collect();
            // rx: bytes packets errs drop fifo frame compressed multicast;
            // tx: bytes packets errs drop ...
            (n.len() >= 12).then(|| {
                (
                    name.to_string(),
                    [n[0], n[1], n[2], n[3], n[8], n[9], n[10], n[11]],
                )
            })
        })
        .collect()
}

/// What dockerd answers for a container that is not running: the same
/// shape, zero times, empty sections.
pub fn not_running(name: &str, id: &str) -> Value {
    let cpu = json!({
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
    });
    json!({
        "read": ZERO_TIME, "preread": ZERO_TIME,
        "pids_stats": {},
        "blkio_stats": blkio_null(),
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": cpu, "precpu_stats": cpu,
        "memory_stats": {},
        "name": name, "id": id,
    })
}

fn blkio_null() -> Value {
    json!({
        "io_service_bytes_recursive": null, "io_serviced_recursive": null,
        "io_queue_recursive": null, "io_service_time_recursive": null,
        "io_wait_time_recursive": null, "io_merged_recursive": null,
        "io_time_recursive": null, "sectors_recursive": null
    })
}

fn cpu_json(s: Option<&Sample>) -> Value {
    let Some(s) = s else {
        return json!({
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
        });
    };
    let st = &s.stats;
    let mut usage = json!({
        "total_usage": st.cpu_total,
        "usage_in_kernelmode": st.cpu_kernel,
        "usage_in_usermode": st.cpu_user,
    });
    if !st.cpu_percpu.is_empty() {
        usage["percpu_usage"] = json!(st.cpu_percpu);
    }
    json!({
        "cpu_usage": usage,
        "system_cpu_usage": s.system_cpu,
        "online_cpus": s.online_cpus,
        "throttling_data": {
            "periods": st.throttle_periods,
            "throttled_periods": st.throttled_periods,
            "throttled_time": st.throttled_time,
        }
    })
}

fn blkio_list(entries: &[BlkioEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| json!({"major": e.major, "minor": e.minor, "op": e.op, "value": e.value}))
            .collect(),
    )
}

/// Host memory in bytes: dockerd reports it as the limit of an unlimited
/// container.
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// The stats object for `cur` (with `pre` as precpu).
pub fn render(name: &str, id: &str, cur: &Sample, pre: Option<&Sample>) -> Value {
    let st = &cur.stats;
    let mut pids = Map::new();
    if let Some(n) = st.pids_current {
        pids.insert("current".into(), json!(n));
    }
    if let Some(l) = st.pids_limit {
        pids.insert("limit".into(), json!(l));
    }
    let host = host_memory();
    let limit = match st.memory_limit {
        Some(l) if host == 0 || l < host => l,
        _ => host,
    };
    let mut memory = json!({
        "usage": st.memory_usage,
        "stats": st.memory_stat,
        "limit": limit,
    });
    if let Some(m) = st.memory_max_usage {
        memory["max_usage"] = json!(m);
    }
    if let Some(f) = st.memory_failcnt.filter(|f| *f > 0) {
        memory["failcnt"] = json!(f);
    }
    let mut v = json!({
        "read": cur.read,
        "preread": pre.map(|p| p.read.as_str()).unwrap_or(ZERO_TIME),
        "pids_stats": pids,
        "blkio_stats": {
            "io_service_bytes_recursive": blkio_list(&st.blkio_service_bytes),
            "io_serviced_recursive": blkio_list(&st.blkio_serviced),
            "io_queue_recursive": [], "io_service_time_recursive": [],
            "io_wait_time_recursive": [], "io_merged_recursive": [],
            "io_time_recursive": [], "sectors_recursive": []
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_json(Some(cur)),
        "precpu_stats": cpu_json(pre),
        "memory_stats": memory,
        "name": name,
        "id": id,
    });
    if let Some(nets) = &cur.networks {
        let mut m = Map::new();
        for (name, c) in nets {
            m.insert(
                name.clone(),
                json!({
                    "rx_bytes": c[0], "rx_packets": c[1], "rx_errors": c[2], "rx_dropped": c[3],
                    "tx_bytes": c[4], "tx_packets": c[5], "tx_errors": c[6], "tx_dropped": c[7],
                }),
            );
        }
        v["networks"] = Value::Object(m);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_dockerd() {
        let z = not_running("/x", "abc");
        assert_eq!(z["read"], ZERO_TIME);
        assert!(z["blkio_stats"]["io_service_bytes_recursive"].is_null());
        assert_eq!(z["memory_stats"], json!({}));
        let s = Sample {
            read: "2024-01-01T00:00:00Z".into(),
            at: Instant::now(),
            stats: Stats {
                cpu_total: 10,
                cpu_percpu: vec![4, 6],
                memory_usage: 100,
                memory_limit: Some(1 << 20),
                pids_current: Some(1),
                ..Default::default()
            },
            system_cpu: 1000,
            online_cpus: 2,
            networks: None,
        };
        let v = render("/x", "abc", &s, None);
        assert!(v.get("networks").is_none());
        assert_eq!(v["cpu_stats"]["cpu_usage"]["percpu_usage"], json!([4, 6]));
        assert_eq!(v["precpu_stats"]["cpu_usage"]["total_usage"], 0);
        assert_eq!(v["memory_stats"]["limit"], 1 << 20);
        assert_eq!(v["pids_stats"], json!({"current": 1}));
        assert_eq!(v["blkio_stats"]["io_service_bytes_recursive"], json!([]));
    }

    #[test]
    fn net_dev_skips_loopback_and_picks_dockerds_counters() {
        let dev = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0\n  eth0:    1006      12    1    2    0     0          0         0      42        1    3    4    0     0       0          0\n";
        assert_eq!(
            net_dev(dev),
            vec![("eth0".to_string(), [1006, 12, 1, 2, 42, 1, 3, 4])]
        );
    }
}
