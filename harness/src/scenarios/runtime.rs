//! Runtime options a container runs with (issue 14): supplementary groups,
//! an init process, volumes shared from another container, its own cgroup
//! under /sys/fs/cgroup, the hostname under host networking, sysctls and the
//! NIS domain name, stop signals together with restart policies, and a
//! failed start of an auto-removed container.
//!
//! Every expected value was read off dockerd 20.10.24 (runc 1.1.5, cgroup
//! v1) running the probe image; error answers are in
//! specs/harness/expectations.json under these scenarios' names.

use super::Scenario;
use crate::client::{enc, Req, Target};
use crate::ground::spec::expectation;
use crate::ground::{expect_status, fail, fail_expected, json_body, Ctx, Outcome, Problem};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario("runtime", "group-add", true, group_add),
        super::scenario("runtime", "group-add-unknown", true, group_add_unknown),
        super::scenario("runtime", "init-process", true, init_process),
        super::scenario("runtime", "volumes-from", true, volumes_from),
        super::scenario("runtime", "cgroup-mount", true, cgroup_mount),
        super::scenario("runtime", "read-only-tmpfs", true, read_only_tmpfs),
        super::scenario("runtime", "host-network-hostname", true, host_hostname),
        super::scenario("runtime", "sysctl-defaults", true, sysctl_defaults),
        super::scenario("runtime", "ipv6-off", true, ipv6_off),
        super::scenario("runtime", "sysctls-and-domainname", true, sysctls),
        super::scenario("runtime", "sysctl-not-namespaced", true, sysctl_not_ns),
        super::scenario("runtime", "sysctl-host-network", true, sysctl_host_net),
        super::scenario("runtime", "stop-signal-restart", true, stop_signal_restart),
        super::scenario("runtime", "stop-timeout-config", true, stop_timeout_config),
        super::scenario(
            "runtime",
            "auto-remove-failed-start",
            true,
            auto_remove_failed,
        ),
        super::scenario("runtime", "cpuset-unavailable", true, cpuset_unavailable),
        super::scenario("runtime", "cpuset-applied", true, cpuset_applied),
    ]
}

const SOURCE: &str = "dockerd 20.10.24 (runc 1.1.5, cgroup v1) with the probe image, 2026-12-03";

pub(super) fn failure(reason: impl Into<String>, expected: impl Into<String>) -> Problem {
    fail_expected(reason, expected, SOURCE)
}

/// The probe running `args`, with `host_config` as its HostConfig.
pub(super) fn config(ctx: &Ctx, args: &[&str], host_config: Value) -> Result<Value, Problem> {
    let mut c = ctx.probe_config(args)?;
    c["HostConfig"] = host_config;
    Ok(c)
}

pub(super) fn output(ctx: &Ctx, args: &[&str], host_config: Value) -> Result<String, Problem> {
    ctx.config_output(config(ctx, args, host_config)?)
}

/// The value of `key:` in /proc/<pid>/status text.
pub(super) fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == key).then(|| v.trim())
    })
}

/// The supplementary groups of the probe's process, sorted.
fn groups_of(status: &str) -> Vec<u32> {
    let mut g: Vec<u32> = status_field(status, "Groups")
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    g.sort_unstable();
    g
}

/// Removes a container and its anonymous volumes.
fn remove_with_volumes(ctx: &Ctx, id: &str) {
    let _ = ctx
        .client
        .send(Req::delete(format!("/containers/{}?force=1&v=1", enc(id))));
}

fn group_add(ctx: &Ctx) -> Outcome {
    // dockerd's /proc/self/status `Groups:` for each User and GroupAdd: the
    // primary group always, the groups listing the user when no group is
    // given, then GroupAdd by number or by name (the image's /etc/group has
    // nogroup:x:65534).
    let cases: [(&str, Value, &[u32]); 4] = [
        ("", json!(["1234", "nogroup"]), &[0, 1234, 65534]),
        ("1000", json!(["1234"]), &[1000, 1234]),
        ("1000:1234", Value::Null, &[1234]),
        ("4321", json!(["7"]), &[0, 7]),
    ];
    for (user, groups, want) in cases {
        let mut c = config(
            ctx,
            &["read", "/proc/self/status"],
            json!({ "GroupAdd": groups }),
        )?;
        c["User"] = json!(user);
        let got = groups_of(&ctx.config_output(c)?);
        if got != want {
            return Err(failure(
                format!("User {user:?} with GroupAdd {groups}: the process has groups {got:?}"),
                format!("groups {want:?}"),
            ));
        }
    }
    Ok(())
}

fn group_add_unknown(ctx: &Ctx) -> Outcome {
    let c = config(ctx, &["echo", "hi"], json!({ "GroupAdd": ["nosuch"] }))?;
    let id = ctx.create(c, None)?;
    let res = (|| {
        let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))))?;
        expectation("runtime/group-add-unknown")?.check(&resp, &[])?;
        // dockerd leaves it created, the error in State.Error.
        let state = ctx.inspect(&id)?["State"].clone();
        if state["Status"] != "created" {
            return Err(failure(
                format!("after the failed start the state is {state}"),
                "Status \"created\"",
            ));
        }
        Ok(())
    })();
    ctx.remove(&id);
    res
}

fn init_process(ctx: &Ctx) -> Outcome {
    // With Init, dockerd's docker-init is pid 1: the command is not, an
    // orphan it leaves is reaped (no zombie a second later), and the
    // command's exit status is the container's.
    let out = output(
        ctx,
        &[
            "pid", "--", "orphan", "0.1", "--", "sleep", "1", "--", "zombies",
        ],
        json!({ "Init": true }),
    )?;
    let mut lines = out.lines();
    let pid = lines.next().unwrap_or("");
    if pid == "1" {
        return Err(failure(
            "with Init the command runs as pid 1",
            "an init process as pid 1, the command below it",
        ));
    }
    if !out.contains("zombies: 0") {
        return Err(failure(
            format!("an orphaned child of the command stayed a zombie: {out:?}"),
            "the init reaps orphans (zombies: 0)",
        ));
    }
    let id = ctx.create(config(ctx, &["exit", "5"], json!({ "Init": true }))?, None)?;
    let code = (|| {
        ctx.start(&id)?;
        ctx.wait(&id)
    })();
    ctx.remove(&id);
    if code? != 5 {
        return Err(failure(
            "with Init, `exit 5` did not end the container with status 5",
            "the init exits with its child's status (5)",
        ));
    }
    // Signals reach the command: docker stop's SIGTERM is forwarded, the
    // probe's handler exits 7.
    let id = ctx.create(
        config(ctx, &["trap-term", "7"], json!({ "Init": true }))?,
        None,
    )?;
    let res = (|| {
        ctx.start(&id)?;
        wait_for_log(ctx, &id, "waiting for SIGTERM")?;
        let started = Instant::now();
        let resp = ctx.stop(&id, 20)?;
        expect_status(&resp, 204, "stopping the container")?;
        let code = ctx.inspect(&id)?["State"]["ExitCode"].as_i64();
        if code != Some(7) || started.elapsed() > Duration::from_secs(10) {
            return Err(failure(
                format!(
                    "docker stop took {:?} and the container exited {code:?}",
                    started.elapsed()
                ),
                "the init forwards SIGTERM: the command's handler exits 7 at once",
            ));
        }
        Ok(())
    })();
    ctx.remove(&id);
    res
}

/// Waits (up to 10 s) until the container's stdout contains `text`.
fn wait_for_log(ctx: &Ctx, id: &str, text: &str) -> Outcome {
    let found = ctx.poll(Duration::from_secs(10), || {
        Ok(ctx.logs(id)?.stdout_text().contains(text).then_some(()))
    })?;
    found.ok_or_else(|| fail(format!("the probe never printed {text:?}")))
}

/// `Mounts` entries by destination: (Type, Name, RW, Mode).
fn mounts_of(inspect: &Value) -> Vec<(String, String, String, bool, String)> {
    let mut v: Vec<_> = inspect["Mounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
                    (
                        s("Destination"),
                        s("Type"),
                        s("Name"),
                        m["RW"].as_bool().unwrap_or(false),
                        s("Mode"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn volumes_from(ctx: &Ctx) -> Outcome {
    let name = ctx.unique_name("vsrc");
    let mut src = ctx.probe_config(&["write", "/data/f", "x"])?;
    src["Volumes"] = json!({ "/data": {} });
    let src_id = ctx.create(src, Some(&name))?;
    let mut users = Vec::new();
    let res = (|| {
        ctx.start(&src_id)?;
        ctx.wait(&src_id)?;
        let volume = mounts_of(&ctx.inspect(&src_id)?)
            .first()
            .map(|m| m.2.clone())
            .ok_or_else(|| fail("the source container has no volume at /data"))?;
        // dockerd: the volume is shared read-write by default and with
        // `:rw`, read-only with `:ro`; inspect shows it as a volume mount
        // with the other container's volume name, RW as chosen, Mode "".
        for (from, rw, probe) in [
            (
                name.clone(),
                true,
                ["read", "/data/f", "--", "write", "/data/g", "y"],
            ),
            (
                format!("{name}:rw"),
                true,
                ["read", "/data/f", "--", "write", "/data/h", "y"],
            ),
            (
                format!("{name}:ro"),
                false,
                ["read", "/data/f", "--", "try-open", "/data/f", "w"],
            ),
        ] {
            let id = ctx.create(config(ctx, &probe, json!({ "VolumesFrom": [from] }))?, None)?;
            users.push(id.clone());
            let want_mount = (
                "/data".to_string(),
                "volume".to_string(),
                volume.clone(),
                rw,
                String::new(),
            );
            let got = mounts_of(&ctx.inspect(&id)?);
            if got != [want_mount.clone()] {
                return Err(failure(
                    format!("VolumesFrom [{from:?}]: inspect Mounts (Destination, Type, Name, RW, Mode) are {got:?}"),
                    format!("{:?}", [want_mount]),
                ));
            }
            ctx.start(&id)?;
            let code = ctx.wait(&id)?;
            let out = ctx.logs(&id)?.stdout_text();
            let want_out = if rw { "x" } else { "xopen /data/f w: EROFS\n" };
            if code != 0 || out != want_out {
                return Err(failure(
                    format!("VolumesFrom [{from:?}]: the probe exited {code} and printed {out:?}"),
                    format!("exit 0, output {want_out:?}"),
                ));
            }
        }
        Ok(())
    })();
    for id in &users {
        ctx.remove(id);
    }
    remove_with_volumes(ctx, &src_id);
    res
}

fn cgroup_mount(ctx: &Ctx) -> Outcome {
    // dockerd mounts the container's own cgroups read-only: on v1 one
    // directory per controller (memory.limit_in_bytes is --memory), on v2
    // the unified tree (memory.max).
    const LIMIT: &str = "67108864";
    let hc = json!({ "Memory": 67108864 });
    let listing = output(ctx, &["ls", "/sys/fs/cgroup"], hc.clone())?;
    let file = if listing.lines().any(|l| l == "memory") {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    } else {
        "/sys/fs/cgroup/memory.max"
    };
    let out = output(ctx, &["read", file, "--", "try-open", file, "w"], hc)?;
    let want = format!("{LIMIT}\nopen {file} w: EROFS\n");
    if out != want {
        return Err(failure(
            format!("with Memory {LIMIT}, /sys/fs/cgroup holds {listing:?} and reading {file} gave {out:?}"),
            format!("{want:?}: the container's own cgroup, read-only"),
        ));
    }
    Ok(())
}

fn read_only_tmpfs(ctx: &Ctx) -> Outcome {
    // dockerd 20.10.24, `--read-only --tmpfs /scratch`: the root is
    // read-only and so is every mount dockerd adds itself (the hosts,
    // hostname and resolv.conf files included) but /proc's and /dev's; a
    // tmpfs the user asked for is writable.
    let hc = json!({ "ReadonlyRootfs": true, "Tmpfs": { "/scratch": "" } });
    let mut args = Vec::new();
    for f in [
        "/etc/passwd",
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
    ] {
        args.extend(["try-open", f, "w", "--"]);
    }
    args.extend(["write", "/scratch/f", "x", "--", "read", "/scratch/f"]);
    let out = output(ctx, &args, hc)?;
    let want = "open /etc/passwd w: EROFS\nopen /etc/hosts w: EROFS\nopen /etc/hostname w: EROFS\n\
                open /etc/resolv.conf w: EROFS\nx";
    if out.trim_end() != want {
        return Err(failure(
            format!("with ReadonlyRootfs and a tmpfs on /scratch the probe saw {out:?}"),
            format!(
                "{want:?}: the root and the files the daemon mounts read-only, the tmpfs writable"
            ),
        ));
    }
    Ok(())
}

fn host_hostname(ctx: &Ctx) -> Outcome {
    let resp = ctx.send(Req::get("/info"))?;
    expect_status(&resp, 200, "GET /info")?;
    let host = json_body(&resp, "info")?["Name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // dockerd: under host networking the container takes the host's name
    // (Info.Name) in Config.Hostname, its UTS namespace, /etc/hostname and
    // HOSTNAME, and /etc/hosts is a copy of the host's.
    let c = config(
        ctx,
        &["hostname", "--", "read", "/etc/hostname", "--", "env"],
        json!({ "NetworkMode": "host" }),
    )?;
    let id = ctx.create(c, None)?;
    let res = (|| {
        let configured = ctx.inspect(&id)?["Config"]["Hostname"].clone();
        ctx.start(&id)?;
        ctx.wait(&id)?;
        let out = ctx.logs(&id)?.stdout_text();
        let want = format!("{host}\n{host}\n");
        if configured != json!(host)
            || !out.starts_with(&want)
            || !out.contains(&format!("\nHOSTNAME={host}\n"))
        {
            return Err(failure(
                format!("Config.Hostname {configured}; hostname, /etc/hostname and env: {out:?}"),
                format!("{host:?} (Info.Name) everywhere"),
            ));
        }
        Ok(())
    })();
    ctx.remove(&id);
    res?;
    if let Target::Unix(_) = ctx.client.target() {
        // A local socket: the daemon's host is this machine.
        if let Ok(hosts) = std::fs::read_to_string("/etc/hosts") {
            let got = output(
                ctx,
                &["read", "/etc/hosts"],
                json!({ "NetworkMode": "host" }),
            )?;
            if got != hosts {
                return Err(failure(
                    format!("/etc/hosts under host networking is {got:?}"),
                    format!("the host's /etc/hosts: {hosts:?}"),
                ));
            }
        }
    }
    Ok(())
}

fn sysctl_defaults(ctx: &Ctx) -> Outcome {
    // dockerd 20.10 sets these two for a container with its own network
    // namespace.
    let out = output(
        ctx,
        &[
            "read",
            "/proc/sys/net/ipv4/ip_unprivileged_port_start",
            "--",
            "read",
            "/proc/sys/net/ipv4/ping_group_range",
        ],
        json!({ "NetworkMode": "none" }),
    )?;
    let want = "0\n0\t2147483647\n";
    if out != want {
        return Err(failure(
            format!("ip_unprivileged_port_start and ping_group_range read {out:?}"),
            format!("{want:?}"),
        ));
    }
    Ok(())
}

fn ipv6_off(ctx: &Ctx) -> Outcome {
    // dockerd 20.10.24 turns IPv6 off in a container's own network
    // namespace when its network has no IPv6 (the default bridge, and
    // `none`): `all/disable_ipv6` reads 1 and no interface, lo included,
    // has an IPv6 address (/proc/net/if_inet6 is empty).
    for mode in ["none", "bridge"] {
        let out = output(
            ctx,
            &[
                "read",
                "/proc/sys/net/ipv6/conf/all/disable_ipv6",
                "--",
                "read",
                "/proc/net/if_inet6",
            ],
            json!({ "NetworkMode": mode }),
        )?;
        if out != "1\n" {
            return Err(failure(
                format!(
                    "with NetworkMode {mode}, all/disable_ipv6 and /proc/net/if_inet6 read {out:?}"
                ),
                "\"1\\n\" and no IPv6 address".to_string(),
            ));
        }
    }
    Ok(())
}

fn sysctls(ctx: &Ctx) -> Outcome {
    let mut c = config(
        ctx,
        &[
            "read",
            "/proc/sys/net/ipv4/ip_unprivileged_port_start",
            "--",
            "read",
            "/proc/sys/kernel/msgmax",
            "--",
            "read",
            "/proc/sys/fs/mqueue/msg_max",
            "--",
            "read",
            "/proc/sys/kernel/domainname",
        ],
        json!({
            "NetworkMode": "none",
            "Sysctls": {
                "net.ipv4.ip_unprivileged_port_start": "80",
                "kernel.msgmax": "12345",
                "fs.mqueue.msg_max": "20",
            },
        }),
    )?;
    c["Domainname"] = json!("example.org");
    let out = ctx.config_output(c)?;
    let want = "80\n12345\n20\nexample.org\n";
    if out != want {
        return Err(failure(
            format!("the sysctls and the domain name read {out:?}"),
            format!("{want:?}: Sysctls applied, Domainname as the NIS domain name"),
        ));
    }
    Ok(())
}

/// Creates a container with `host_config`, starts it and checks the failed
/// start against `check` (with `vars`); dockerd leaves the container created.
pub(super) fn refused_start(
    ctx: &Ctx,
    check: &str,
    host_config: Value,
    vars: &[(&str, &str)],
) -> Outcome {
    let id = ctx.create(config(ctx, &["echo", "hi"], host_config)?, None)?;
    let res = (|| {
        let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))))?;
        expectation(check)?.check(&resp, vars)
    })();
    ctx.remove(&id);
    res
}

fn sysctl_not_ns(ctx: &Ctx) -> Outcome {
    refused_start(
        ctx,
        "runtime/sysctl-not-namespaced",
        json!({ "Sysctls": { "vm.swappiness": "1" } }),
        &[],
    )
}

fn sysctl_host_net(ctx: &Ctx) -> Outcome {
    refused_start(
        ctx,
        "runtime/sysctl-host-network",
        json!({ "NetworkMode": "host", "Sysctls": { "net.ipv4.ip_forward": "1" } }),
        &[],
    )
}

/// (Status, ExitCode, RestartCount) of a container.
fn run_state(ctx: &Ctx, id: &str) -> Result<(String, i64, i64), Problem> {
    let i = ctx.inspect(id)?;
    Ok((
        i["State"]["Status"].as_str().unwrap_or("").to_string(),
        i["State"]["ExitCode"].as_i64().unwrap_or(-1),
        i["RestartCount"].as_i64().unwrap_or(-1),
    ))
}

/// Create's `StopTimeout`, `Shell` and `NetworkDisabled`, which nothing
/// else sends. dockerd 20.10.24 (curl, 2026-12-04): inspect keeps them in
/// Config (`StopTimeout` 1, `Shell` as given, `NetworkDisabled` true, and
/// with it `NetworkSettings.Networks` {}); a stop without `t` waits the
/// container's StopTimeout (about 1 s, not the default 10 s) before the
/// SIGKILL that ends the probe, which as PID 1 ignores SIGTERM: 137.
fn stop_timeout_config(ctx: &Ctx) -> Outcome {
    let mut c = ctx.probe_config(&["sleep", "100"])?;
    c["StopTimeout"] = json!(1);
    c["Shell"] = json!(["/probe", "echo"]);
    c["NetworkDisabled"] = json!(true);
    let id = ctx.create(c, None)?;
    let res = (|| {
        let i = ctx.inspect(&id)?;
        let cfg = &i["Config"];
        if cfg["StopTimeout"] != 1
            || cfg["Shell"] != json!(["/probe", "echo"])
            || cfg["NetworkDisabled"] != true
            || i["NetworkSettings"]["Networks"] != json!({})
        {
            return Err(failure(
                format!(
                    "inspect: Config.StopTimeout {}, Shell {}, NetworkDisabled {}, NetworkSettings.Networks {}",
                    cfg["StopTimeout"], cfg["Shell"], cfg["NetworkDisabled"], i["NetworkSettings"]["Networks"]
                ),
                "StopTimeout 1, Shell [\"/probe\", \"echo\"], NetworkDisabled true, Networks {}",
            ));
        }
        ctx.start(&id)?;
        let started = Instant::now();
        let resp = ctx.send(Req::post(format!("/containers/{}/stop", enc(&id))))?;
        expect_status(&resp, 204, "stopping without t")?;
        let took = started.elapsed();
        let state = run_state(ctx, &id)?;
        if took < Duration::from_millis(800)
            || took > Duration::from_secs(6)
            || state.0 != "exited"
            || state.1 != 137
        {
            return Err(failure(
                format!(
                    "stop without t took {took:?}; then (Status, ExitCode) = ({}, {})",
                    state.0, state.1
                ),
                "about the StopTimeout of 1 s (0.8 s to 6 s), then (\"exited\", 137)",
            ));
        }
        Ok(())
    })();
    ctx.remove(&id);
    res
}

fn stop_signal_restart(ctx: &Ctx) -> Outcome {
    // Restart policy "always" in each case. dockerd: stopping (or killing
    // with the stop signal) is a manual stop and is not restarted; a kill
    // with another signal that ends the process is restarted.
    let always = json!({ "RestartPolicy": { "Name": "always" } });
    // 1. StopSignal SIGKILL: stop kills at once (no 20 s grace), 137, stays exited.
    let mut c = config(ctx, &["sleep", "100"], always.clone())?;
    c["StopSignal"] = json!("SIGKILL");
    let id = ctx.create(c, None)?;
    let res = (|| {
        ctx.start(&id)?;
        let started = Instant::now();
        expect_status(&ctx.stop(&id, 20)?, 204, "stopping the container")?;
        let took = started.elapsed();
        std::thread::sleep(Duration::from_millis(1500));
        let state = run_state(ctx, &id)?;
        if took > Duration::from_secs(10) || state != ("exited".into(), 137, 0) {
            return Err(failure(
                format!("stop with StopSignal SIGKILL took {took:?}; then (Status, ExitCode, RestartCount) = {state:?}"),
                "killed at once by the stop signal, (\"exited\", 137, 0): not restarted",
            ));
        }
        Ok(())
    })();
    ctx.remove(&id);
    res?;
    // 2. StopSignal SIGKILL, kill -s SIGTERM (not the stop signal): restarted.
    // 3. Default stop signal (SIGTERM), kill -s SIGTERM: a manual stop.
    for (stop_signal, restarted) in [(Some("SIGKILL"), true), (None, false)] {
        let mut c = config(ctx, &["trap-term", "3"], always.clone())?;
        if let Some(s) = stop_signal {
            c["StopSignal"] = json!(s);
        }
        let id = ctx.create(c, None)?;
        let res = (|| {
            ctx.start(&id)?;
            wait_for_log(ctx, &id, "waiting for SIGTERM")?;
            let resp = ctx.send(Req::post(format!(
                "/containers/{}/kill?signal=SIGTERM",
                enc(&id)
            )))?;
            expect_status(&resp, 204, "killing the container")?;
            let want = if restarted {
                ("running".to_string(), 0, 1)
            } else {
                ("exited".to_string(), 3, 0)
            };
            // The restart is a whole container start: 20 s, as the other
            // polls, for slow hosts (emulated, loaded); dockerd takes ~0.2 s.
            let got = ctx.poll(Duration::from_secs(20), || {
                let s = run_state(ctx, &id)?;
                Ok((s == want).then_some(s))
            })?;
            if got.is_none() {
                let now = run_state(ctx, &id)?;
                return Err(failure(
                    format!("StopSignal {stop_signal:?}, kill SIGTERM: (Status, ExitCode, RestartCount) = {now:?}"),
                    format!("{want:?}"),
                ));
            }
            Ok(())
        })();
        ctx.remove(&id);
        res?;
    }
    Ok(())
}

fn auto_remove_failed(ctx: &Ctx) -> Outcome {
    // A start that fails before the process runs (the bind source cannot
    // be created): dockerd answers the error and removes the container, as
    // it does when the executable is missing.
    let cases = [
        (
            Some("runtime/auto-remove-failed-start"),
            config(
                ctx,
                &["echo", "hi"],
                json!({ "AutoRemove": true, "Binds": ["/proc/nosuch/dir:/x"] }),
            )?,
        ),
        (None, {
            let mut c = config(ctx, &[], json!({ "AutoRemove": true }))?;
            c["Cmd"] = json!(["/nosuch"]);
            c
        }),
    ];
    for (check, c) in cases {
        let id = ctx.create(c, None)?;
        let res = (|| {
            let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))))?;
            match check {
                Some(check) => expectation(check)?.check(&resp, &[])?,
                None if resp.status < 400 => {
                    return Err(fail(format!(
                        "starting a container whose executable is missing answered {}",
                        resp.status
                    )))
                }
                None => {}
            }
            let gone = ctx.poll(Duration::from_secs(10), || {
                let r = ctx.send(Req::get(format!("/containers/{}/json", enc(&id))))?;
                Ok((r.status == 404).then_some(()))
            })?;
            if gone.is_none() {
                return Err(failure(
                    "the AutoRemove container is still there 10 s after its start failed",
                    "the container is removed (inspect answers 404)",
                ));
            }
            Ok(())
        })();
        ctx.remove(&id);
        res?;
    }
    Ok(())
}

fn cpuset_unavailable(ctx: &Ctx) -> Outcome {
    // dockerd checks CpusetCpus against the host's online CPUs at create.
    super::run_options::refused_create(
        ctx,
        json!({ "CpusetCpus": "99" }),
        "runtime/cpuset-unavailable",
        &[],
    )
}

fn cpuset_applied(ctx: &Ctx) -> Outcome {
    // dockerd: CPU 0 and memory node 0 (there on every host) are the
    // container's cpuset, the only CPU its process may run on.
    let hc = json!({ "CpusetCpus": "0", "CpusetMems": "0" });
    let listing = output(ctx, &["ls", "/sys/fs/cgroup"], hc.clone())?;
    let dir = if listing.lines().any(|l| l == "cpuset") {
        "/sys/fs/cgroup/cpuset/"
    } else {
        "/sys/fs/cgroup/"
    };
    let cpus = format!("{dir}cpuset.cpus");
    let mems = format!("{dir}cpuset.mems");
    let out = output(
        ctx,
        &[
            "read",
            &cpus,
            "--",
            "read",
            &mems,
            "--",
            "read",
            "/proc/self/status",
        ],
        hc,
    )?;
    let allowed = status_field(&out, "Cpus_allowed_list").unwrap_or("");
    if !out.starts_with("0\n0\n") || allowed != "0" {
        return Err(failure(
            format!(
                "with CpusetCpus 0 and CpusetMems 0: {cpus} and {mems} read {:?}, Cpus_allowed_list {allowed:?}",
                out.lines().take(2).collect::<Vec<_>>()
            ),
            "cpuset.cpus 0, cpuset.mems 0, Cpus_allowed_list 0",
        ));
    }
    Ok(())
}
