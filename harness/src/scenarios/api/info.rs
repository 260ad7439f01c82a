//! `/info`'s cgroup facts: the driver, the version, and the resource flags
//! (MemoryLimit, CPUShares, PidsLimit, ...) say what the host can enforce.
//! The harness checks one endpoint, so the flags are checked for
//! consistency: with the host's cgroup hierarchy when the endpoint is a
//! local socket (it then runs on this host), and with each other.

use crate::client::{Req, Target};
use crate::ground::spec::expectation;
use crate::ground::{fail_at, Ctx, Outcome};
use serde_json::Value;
use std::path::Path;

/// The host's cgroup version and whether each controller is there.
struct Host {
    version: &'static str,
    controllers: Vec<String>,
}

fn host() -> Host {
    let root = Path::new("/sys/fs/cgroup");
    match std::fs::read_to_string(root.join("cgroup.controllers")) {
        Ok(s) => Host {
            version: "2",
            controllers: s.split_whitespace().map(str::to_string).collect(),
        },
        Err(_) => Host {
            version: "1",
            controllers: std::fs::read_dir(root)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default(),
        },
    }
}

pub fn cgroup_flags(ctx: &Ctx) -> Outcome {
    let e = expectation("api/info-cgroup-flags")?;
    let resp = ctx.send(Req::get("/info"))?;
    e.check(&resp, &[])?;
    let info = resp.json().map_err(|m| fail_at(&resp, m))?;
    let flag = |k: &str| info.get(k).and_then(Value::as_bool).unwrap_or(false);
    let driver = info
        .get("CgroupDriver")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !["cgroupfs", "systemd"].contains(&driver) {
        return Err(fail_at(
            &resp,
            format!("CgroupDriver {driver:?} is neither cgroupfs nor systemd"),
        ));
    }
    // A quota needs the period it is counted in.
    if flag("CpuCfsQuota") && !flag("CpuCfsPeriod") {
        return Err(fail_at(&resp, "CpuCfsQuota without CpuCfsPeriod"));
    }
    if !matches!(ctx.client.target(), Target::Unix(_)) {
        return Ok(());
    }
    let h = host();
    let version = info
        .get("CgroupVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if version != h.version {
        return Err(fail_at(
            &resp,
            format!(
                "CgroupVersion {version:?}, but this host's /sys/fs/cgroup is cgroup v{}",
                h.version
            ),
        ));
    }
    let has = |c: &str| h.controllers.iter().any(|x| x == c);
    for (field, controller) in [
        ("MemoryLimit", "memory"),
        ("CPUShares", "cpu"),
        ("CpuCfsQuota", "cpu"),
        ("CPUSet", "cpuset"),
        ("PidsLimit", "pids"),
    ] {
        if has(controller) && !flag(field) {
            return Err(fail_at(
                &resp,
                format!("{field} is false, but this host has the {controller} controller"),
            ));
        }
    }
    Ok(())
}
