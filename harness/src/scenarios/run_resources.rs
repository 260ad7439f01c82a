//! `docker run` options of issue 14 that end up in the container's cgroup
//! or its log: `--memory-swappiness`, `--oom-kill-disable`,
//! `--blkio-weight[-device]`, `--device-{read,write}-{bps,iops}`, `--userns`
//! and `--log-driver`/`--log-opt`, each checked from inside the container
//! (its own cgroup, mounted read-only at /sys/fs/cgroup) and in inspect.
//!
//! Every expected value was read off dockerd 20.10.24 (runc 1.1.5, cgroup
//! v1, no CFQ: the blkio root group has no `blkio.weight`) running the
//! probe image and a busybox image; error answers are in
//! specs/harness/expectations.json under these scenarios' names. Where the
//! answer depends on the host (a file the kernel has or lacks), the
//! scenario reads which from inside the container and expects dockerd's
//! answer for that case.

use super::run_options::refused_create;
use super::runtime::{config, failure, output, refused_start};
use super::Scenario;
use crate::client::{enc, Req};
use crate::ground::spec::expectation;
use crate::ground::{json_body, Ctx, Outcome, Problem};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario(
            "runtime",
            "memory-swappiness-oom-kill-disable",
            true,
            swappiness_oom,
        ),
        super::scenario("runtime", "blkio-weight", true, blkio_weight),
        super::scenario("runtime", "update-blkio-weight", true, update_blkio_weight),
        super::scenario("runtime", "blkio-throttle", true, blkio_throttle),
        super::scenario("runtime", "blkio-device-missing", true, blkio_missing),
        super::scenario("runtime", "userns-mode-without-remap", true, userns),
        super::scenario("runtime", "log-opt-unknown", true, log_opt_unknown),
        super::scenario("runtime", "log-opt-invalid-size", true, log_opt_bad_size),
        super::scenario("runtime", "log-driver-none-unreadable", true, log_none),
        super::scenario("runtime", "log-rotation", true, log_rotation),
    ]
}

/// Creates a container with `host_config`, returns its create answer's
/// body and its inspect, and removes it.
fn created(ctx: &Ctx, host_config: Value) -> Result<(Value, Value), Problem> {
    let c = config(ctx, &["exit", "0"], host_config)?;
    let resp = ctx.send(Req::post("/containers/create").json(c))?;
    crate::ground::expect_status(&resp, 201, "create")?;
    let body = json_body(&resp, "create response")?;
    let id = body["Id"].as_str().unwrap_or_default().to_string();
    let inspect = ctx.inspect(&id);
    ctx.remove(&id);
    Ok((body, inspect?))
}

/// Whether the container sees v1 hierarchies (`/sys/fs/cgroup/memory`...).
fn cgroup_v1(ctx: &Ctx) -> Result<bool, Problem> {
    let listing = output(ctx, &["ls", "/sys/fs/cgroup"], json!({}))?;
    Ok(listing.lines().any(|l| l == "memory"))
}

fn swappiness_oom(ctx: &Ctx) -> Outcome {
    // dockerd on cgroup v1: memory.swappiness 30 and oom_kill_disable 1 in
    // the container's memory group, inspect MemorySwappiness 30 and
    // OomKillDisable true, no warning (a memory limit is set). On v2 it
    // discards both with a warning each (moby daemon_unix.go
    // verifyPlatformContainerResources: v2 has neither file).
    let hc = json!({ "Memory": 67108864, "MemorySwappiness": 30, "OomKillDisable": true });
    let (body, inspect) = created(ctx, hc.clone())?;
    if !cgroup_v1(ctx)? {
        let want = json!([
            "Your kernel does not support OomKillDisable. OomKillDisable discarded.",
            "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded."
        ]);
        if body["Warnings"] != want {
            return Err(failure(
                format!("on cgroup v2, create warned {}", body["Warnings"]),
                format!("{want}"),
            ));
        }
        return Ok(());
    }
    let got = (
        &inspect["HostConfig"]["MemorySwappiness"],
        &inspect["HostConfig"]["OomKillDisable"],
        &body["Warnings"],
    );
    if got != (&json!(30), &json!(true), &json!([])) {
        return Err(failure(
            format!(
                "inspect MemorySwappiness {}, OomKillDisable {}; create warnings {}",
                got.0, got.1, got.2
            ),
            "MemorySwappiness 30, OomKillDisable true, no warnings",
        ));
    }
    let out = output(
        ctx,
        &[
            "read",
            "/sys/fs/cgroup/memory/memory.swappiness",
            "--",
            "read",
            "/sys/fs/cgroup/memory/memory.oom_control",
        ],
        hc,
    )?;
    let mut lines = out.lines();
    let swappiness = lines.next().unwrap_or("");
    let oom = lines.find(|l| l.starts_with("oom_kill_disable "));
    if swappiness != "30" || oom != Some("oom_kill_disable 1") {
        return Err(failure(
            format!("the container's memory group reads {out:?}"),
            "memory.swappiness 30 and oom_kill_disable 1 in memory.oom_control",
        ));
    }
    Ok(())
}

fn blkio_weight(ctx: &Ctx) -> Outcome {
    // dockerd writes a weight only where the host's blkio root group has
    // CFQ's blkio.weight; without it (this project's hosts) it discards the
    // weight and the weight devices with a warning each and inspect shows
    // BlkioWeight 0, BlkioWeightDevice [].
    let hc = json!({
        "BlkioWeight": 300,
        "BlkioWeightDevice": [{ "Path": "/dev/null", "Weight": 400 }]
    });
    if !cgroup_v1(ctx)? {
        return Err(Problem::Skip(
            "cgroup v2: dockerd's io.weight answer was not observed".into(),
        ));
    }
    let listing = output(ctx, &["ls", "/sys/fs/cgroup/blkio"], json!({}))?;
    let cfq = listing.lines().any(|l| l == "blkio.weight");
    if cfq {
        return Err(Problem::Skip(
            "the host has CFQ's blkio.weight: dockerd's answer there was not observed".into(),
        ));
    }
    let (body, inspect) = created(ctx, hc)?;
    let want = json!([
        "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
        "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded."
    ]);
    let got = (
        &body["Warnings"],
        &inspect["HostConfig"]["BlkioWeight"],
        &inspect["HostConfig"]["BlkioWeightDevice"],
    );
    if got != (&want, &json!(0), &json!([])) {
        return Err(failure(
            format!(
                "without blkio.weight on the host: warnings {}, inspect BlkioWeight {}, BlkioWeightDevice {}",
                got.0, got.1, got.2
            ),
            format!("warnings {want}, BlkioWeight 0, BlkioWeightDevice []"),
        ));
    }
    Ok(())
}

/// `docker update --blkio-weight` (docker-py's test_update_container's
/// neighbours send `BlkioWeight`). dockerd 20.10.24 on a host without
/// `blkio.weight` answers every update with a weight 200 and its create
/// warning, created or running, out of range (5) or not (its range check
/// only applies where the host has a weight), and keeps inspect's
/// `BlkioWeight` at 0; an update without a weight warns of nothing
/// (`Warnings: null`).
fn update_blkio_weight(ctx: &Ctx) -> Outcome {
    if !cgroup_v1(ctx)? {
        return Err(Problem::Skip(
            "cgroup v2: dockerd's io.weight answer was not observed".into(),
        ));
    }
    let listing = output(ctx, &["ls", "/sys/fs/cgroup/blkio"], json!({}))?;
    if listing.lines().any(|l| l == "blkio.weight") {
        return Err(Problem::Skip(
            "the host has CFQ's blkio.weight: dockerd's answer there was not observed".into(),
        ));
    }
    let mut made = super::containers_api::Made::new(ctx);
    let id = made.create(config(ctx, &["sleep", "300"], json!({}))?, None)?;
    let discarded = json!({"Warnings": [
        "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
    ]});
    let update = |body: Value, want: &Value, what: &str| -> Outcome {
        let resp = ctx.send(Req::post(format!("/containers/{}/update", enc(&id))).json(body))?;
        crate::ground::expect_status(&resp, 200, what)?;
        let got = json_body(&resp, "update response")?;
        if &got != want {
            return Err(failure(format!("{what} answered {got}"), want.to_string()));
        }
        let weight = ctx.inspect(&id)?["HostConfig"]["BlkioWeight"].clone();
        if weight != json!(0) {
            return Err(failure(
                format!("after {what}, inspect's BlkioWeight is {weight}"),
                "0 (the weight discarded)",
            ));
        }
        Ok(())
    };
    update(json!({"BlkioWeight": 300}), &discarded, "a weight, created")?;
    ctx.start(&id)?;
    update(json!({"BlkioWeight": 300}), &discarded, "a weight, running")?;
    update(
        json!({"BlkioWeight": 5}),
        &discarded,
        "a weight out of range",
    )?;
    update(
        json!({"BlkioWeight": 0}),
        &json!({"Warnings": null}),
        "no weight",
    )
}

/// The host's first block device as `(path, "MAJ:MIN")`, from
/// /proc/partitions (the host's, read from a container).
fn block_device(ctx: &Ctx) -> Result<(String, String), Problem> {
    let parts = output(ctx, &["read", "/proc/partitions"], json!({}))?;
    parts
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 4 && w[0].parse::<u32>().is_ok())
                .then(|| (format!("/dev/{}", w[3]), format!("{}:{}", w[0], w[1])))
        })
        .next()
        .ok_or_else(|| Problem::Skip("the host lists no block device in /proc/partitions".into()))
}

fn blkio_throttle(ctx: &Ctx) -> Outcome {
    // dockerd (v1): each throttle is written to the container's blkio
    // group, read back as "254:0 1048576" for /dev/vda at 1mb; inspect
    // keeps the paths and rates as sent.
    let (path, numbers) = block_device(ctx)?;
    let entry = |rate: u64| json!([{ "Path": path, "Rate": rate }]);
    let hc = json!({
        "BlkioDeviceReadBps": entry(1048576),
        "BlkioDeviceWriteBps": entry(2097152),
        "BlkioDeviceReadIOps": entry(100),
        "BlkioDeviceWriteIOps": entry(200),
    });
    let (body, inspect) = created(ctx, hc.clone())?;
    for (key, rate) in [
        ("BlkioDeviceReadBps", 1048576),
        ("BlkioDeviceWriteBps", 2097152),
        ("BlkioDeviceReadIOps", 100),
        ("BlkioDeviceWriteIOps", 200),
    ] {
        if inspect["HostConfig"][key] != entry(rate) {
            return Err(failure(
                format!("inspect {key} {}", inspect["HostConfig"][key]),
                format!("{} (as sent)", entry(rate)),
            ));
        }
    }
    if body["Warnings"] != json!([]) {
        return Err(failure(
            format!("create warned {}", body["Warnings"]),
            "no warnings",
        ));
    }
    let (files, want): (Vec<String>, String) = if cgroup_v1(ctx)? {
        let files: Vec<String> = ["read_bps", "write_bps", "read_iops", "write_iops"]
            .iter()
            .map(|f| format!("/sys/fs/cgroup/blkio/blkio.throttle.{f}_device"))
            .collect();
        let want: String = [1048576, 2097152, 100, 200]
            .iter()
            .map(|r| format!("{numbers} {r}\n"))
            .collect();
        (files, want)
    } else {
        (
            vec!["/sys/fs/cgroup/io.max".into()],
            format!("{numbers} rbps=1048576 wbps=2097152 riops=100 wiops=200\n"),
        )
    };
    let mut args: Vec<&str> = Vec::new();
    for f in &files {
        args.extend(["read", f.as_str(), "--"]);
    }
    args.pop();
    let out = output(ctx, &args, hc)?;
    if out != want {
        return Err(failure(
            format!("with throttles on {path}, {files:?} read {out:?}"),
            format!("{want:?}"),
        ));
    }
    Ok(())
}

fn blkio_missing(ctx: &Ctx) -> Outcome {
    refused_start(
        ctx,
        "runtime/blkio-device-missing",
        json!({ "BlkioDeviceReadBps": [{ "Path": "/dev/shipshape-nosuch", "Rate": 1024 }] }),
        &[],
    )
}

fn userns(ctx: &Ctx) -> Outcome {
    // dockerd without --userns-remap takes any UsernsMode ("host",
    // "private", even "bogus": the CLI alone refuses values other than
    // "host"), keeps it in inspect and runs the container in the host's
    // user namespace.
    for mode in ["host", "private"] {
        let hc = json!({ "UsernsMode": mode });
        let (_, inspect) = created(ctx, hc.clone())?;
        if inspect["HostConfig"]["UsernsMode"] != json!(mode) {
            return Err(failure(
                format!("inspect UsernsMode {}", inspect["HostConfig"]["UsernsMode"]),
                format!("{mode:?}, as sent"),
            ));
        }
        let out = output(ctx, &["read", "/proc/self/uid_map"], hc)?;
        let map: Vec<&str> = out.split_whitespace().collect();
        if map != ["0", "0", "4294967295"] {
            return Err(failure(
                format!("with UsernsMode {mode:?}, /proc/self/uid_map reads {out:?}"),
                "0 0 4294967295: the host's user namespace",
            ));
        }
    }
    Ok(())
}

fn log_opt_unknown(ctx: &Ctx) -> Outcome {
    let hc = json!({ "LogConfig": { "Type": "json-file", "Config": { "bogus": "1" } } });
    refused_create(ctx, hc, "runtime/log-opt-unknown", &[])
}

fn log_opt_bad_size(ctx: &Ctx) -> Outcome {
    let hc = json!({ "LogConfig": { "Type": "json-file", "Config": { "max-size": "abc" } } });
    refused_start(ctx, "runtime/log-opt-invalid-size", hc, &[])
}

fn log_none(ctx: &Ctx) -> Outcome {
    let id = ctx.create(
        config(
            ctx,
            &["echo", "hi"],
            json!({ "LogConfig": { "Type": "none", "Config": {} } }),
        )?,
        None,
    )?;
    let res = (|| {
        ctx.start(&id)?;
        ctx.wait(&id)?;
        let resp = ctx.send(Req::get(format!(
            "/containers/{}/logs?stdout=1&stderr=1",
            enc(&id)
        )))?;
        expectation("runtime/log-driver-none-unreadable")?.check(&resp, &[])
    })();
    ctx.remove(&id);
    res
}

fn log_rotation(ctx: &Ctx) -> Outcome {
    // dockerd's json-file with max-size 1k (1000 bytes) and max-file 2:
    // before each write a file at 1000 bytes or more becomes .1 (the older
    // .1 goes), so of `lines 200` ("line N", about 80 bytes of JSON each,
    // 13 to 15 lines a file) `docker logs` shows the last lines of two
    // files: 14 to 30, contiguous, ending with "line 200" (dockerd: 18,
    // from "line 183", in three runs). Fewer than 14 would mean the rotated
    // file is not read; more than 30, no rotation.
    const LINES: usize = 200;
    let hc = json!({ "LogConfig": { "Type": "json-file", "Config": { "max-size": "1k", "max-file": "2" } } });
    let id = ctx.create(config(ctx, &["lines", &LINES.to_string()], hc)?, None)?;
    let res = (|| {
        ctx.start(&id)?;
        ctx.wait(&id)?;
        let inspect = ctx.inspect(&id)?;
        let want_config =
            json!({ "Type": "json-file", "Config": { "max-size": "1k", "max-file": "2" } });
        if inspect["HostConfig"]["LogConfig"] != want_config {
            return Err(failure(
                format!("inspect LogConfig {}", inspect["HostConfig"]["LogConfig"]),
                format!("{want_config} (as sent)"),
            ));
        }
        let text = ctx.logs(&id)?.stdout_text();
        let got: Vec<&str> = text.lines().collect();
        let first = LINES + 1 - got.len();
        let want: Vec<String> = (first..=LINES).map(|i| format!("line {i}")).collect();
        if got != want || !(14..=30).contains(&got.len()) {
            return Err(failure(
                format!(
                    "docker logs gave {} lines: first {:?}, last {:?}",
                    got.len(),
                    got.first(),
                    got.last()
                ),
                "14 to 30 lines, contiguous, ending with \"line 200\" (two files of max-size 1k)",
            ));
        }
        Ok(())
    })();
    ctx.remove(&id);
    res
}
