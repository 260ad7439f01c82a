//! `docker run` options of issue 14's Runtime section: `--ulimit`,
//! `--shm-size`, `--pid`, `--ipc`, `--uts`, `--cgroupns`, `--privileged`,
//! bind propagation,
//! and what create or start refuses among them (`--storage-opt`,
//! `--memory-swappiness` out of range...), each checked from inside the
//! container and in inspect.
//!
//! Every expected value was read off dockerd 20.10.24 (runc 1.1.5, cgroup
//! v1) running the probe image; error answers are in
//! specs/harness/expectations.json under these scenarios' names. The
//! helpers are `runtime`'s (same area, same source).

use super::runtime::{config, failure, output, refused_start, status_field};
use super::Scenario;
use crate::client::{enc, Req};
use crate::ground::spec::expectation;
use crate::ground::{Ctx, Outcome, Problem};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario("runtime", "ulimits", true, ulimits),
        super::scenario("runtime", "ulimit-refused", true, ulimit_refused),
        super::scenario("runtime", "shm-size", true, shm_size),
        super::scenario("runtime", "shm-size-negative", true, shm_negative),
        super::scenario("runtime", "cgroupns-mode-invalid", true, cgroupns_invalid),
        super::scenario("runtime", "namespace-donor-missing", true, donor_missing),
        super::scenario(
            "runtime",
            "memory-swappiness-invalid",
            true,
            swappiness_invalid,
        ),
        super::scenario("runtime", "storage-opt-refused", true, storage_opt),
        super::scenario("runtime", "ipc-mode-invalid", true, ipc_mode_invalid),
        super::scenario("runtime", "namespaces-host", true, namespaces_host),
        super::scenario(
            "runtime",
            "namespaces-container",
            true,
            namespaces_container,
        ),
        super::scenario(
            "runtime",
            "namespace-donor-not-running",
            true,
            donor_not_running,
        ),
        super::scenario(
            "runtime",
            "ipc-donor-not-shareable",
            true,
            donor_not_shareable,
        ),
        super::scenario("runtime", "cgroupns-private", true, cgroupns_private),
        super::scenario("runtime", "create-warnings", true, create_warnings),
        super::scenario("runtime", "bind-propagation", true, bind_propagation),
        super::scenario(
            "runtime",
            "bind-propagation-not-shared",
            true,
            propagation_shared,
        ),
        super::scenario(
            "runtime",
            "bind-propagation-not-slave",
            true,
            propagation_slave,
        ),
        super::scenario(
            "runtime",
            "bind-propagation-invalid",
            true,
            propagation_invalid,
        ),
        super::scenario(
            "runtime",
            "bind-propagation-volume",
            true,
            propagation_volume,
        ),
        super::scenario("security", "privileged", true, privileged),
    ]
}

/// Runs `args` in a container made with `host_config` and returns its
/// output with the container's inspect (taken before it is removed).
fn output_and_inspect(
    ctx: &Ctx,
    args: &[&str],
    host_config: Value,
) -> Result<(String, Value), Problem> {
    let id = ctx.create(config(ctx, args, host_config)?, None)?;
    let res = (|| {
        ctx.start(&id)?;
        let code = ctx.wait(&id)?;
        let logs = ctx.logs(&id)?;
        if code != 0 {
            return Err(failure(
                format!(
                    "{args:?} exited {code}: {:?}",
                    String::from_utf8_lossy(&logs.stderr)
                ),
                "exit 0",
            ));
        }
        Ok((logs.stdout_text(), ctx.inspect(&id)?))
    })();
    ctx.remove(&id);
    res
}

/// `(soft, hard)` of a line of /proc/self/limits ("Max open files  1024  2048  files").
fn limit<'a>(limits: &'a str, what: &str) -> Option<(&'a str, &'a str)> {
    let rest = limits.lines().find_map(|l| l.strip_prefix(what))?;
    let mut cols = rest.split_whitespace();
    Some((cols.next()?, cols.next()?))
}

fn ulimits(ctx: &Ctx) -> Outcome {
    let asked = json!([
        {"Name": "nofile", "Soft": 1024, "Hard": 2048},
        {"Name": "nproc", "Soft": 99, "Hard": 99}
    ]);
    let (out, inspect) = output_and_inspect(
        ctx,
        &["read", "/proc/self/limits"],
        json!({ "Ulimits": asked }),
    )?;
    let files = limit(&out, "Max open files");
    let procs = limit(&out, "Max processes");
    if files != Some(("1024", "2048")) || procs != Some(("99", "99")) {
        return Err(failure(
            format!("/proc/self/limits: open files {files:?}, processes {procs:?}"),
            "Max open files 1024 2048, Max processes 99 99",
        ));
    }
    let shown = &inspect["HostConfig"]["Ulimits"];
    let same = shown.as_array().is_some_and(|a| {
        a.len() == 2
            && a.iter()
                .zip(asked.as_array().into_iter().flatten())
                .all(|(s, w)| ["Name", "Soft", "Hard"].iter().all(|k| s[k] == w[k]))
    });
    if !same {
        return Err(failure(
            format!("HostConfig.Ulimits is {shown}"),
            format!("the Ulimits as sent: {asked}"),
        ));
    }
    Ok(())
}

fn ulimit_refused(ctx: &Ctx) -> Outcome {
    refused_start(
        ctx,
        "runtime/ulimit-refused",
        json!({ "Ulimits": [{"Name": "foo", "Soft": 1, "Hard": 2}] }),
        &[("detail", "wrong rlimit value: RLIMIT_FOO")],
    )?;
    // RLIMIT_NOFILE is resource 7; setrlimit refuses soft > hard.
    refused_start(
        ctx,
        "runtime/ulimit-refused",
        json!({ "Ulimits": [{"Name": "nofile", "Soft": 3, "Hard": 2}] }),
        &[("detail", "error setting rlimit type 7: invalid argument")],
    )
}

/// The mountinfo line of `path`, if mounted.
fn mount_line<'a>(mountinfo: &'a str, path: &str) -> Option<&'a str> {
    mountinfo
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some(path))
}

fn shm_size(ctx: &Ctx) -> Outcome {
    let cases = [
        (json!({ "ShmSize": 8388608 }), 8388608, "size=8192k"),
        (json!({ "ShmSize": 0 }), 67108864, "size=65536k"),
        (json!({}), 67108864, "size=65536k"),
    ];
    for (hc, shown, option) in cases {
        let (out, inspect) =
            output_and_inspect(ctx, &["read", "/proc/self/mountinfo"], hc.clone())?;
        let line = mount_line(&out, "/dev/shm").unwrap_or("");
        let fs_options = line.rsplit(' ').next().unwrap_or("");
        let got = &inspect["HostConfig"]["ShmSize"];
        if !line.contains(" - tmpfs ") || !fs_options.split(',').any(|o| o == option) {
            return Err(failure(
                format!("with HostConfig {hc}: /dev/shm in mountinfo is {line:?}"),
                format!("a tmpfs at /dev/shm with {option}"),
            ));
        }
        if got != &json!(shown) {
            return Err(failure(
                format!("with HostConfig {hc}: HostConfig.ShmSize is {got}"),
                format!("{shown}"),
            ));
        }
    }
    // IpcMode none: no /dev/shm at all.
    let out = output(
        ctx,
        &["read", "/proc/self/mountinfo", "--", "ls", "/dev"],
        json!({ "IpcMode": "none" }),
    )?;
    if mount_line(&out, "/dev/shm").is_some() || out.lines().any(|l| l == "shm") {
        return Err(failure(
            "with IpcMode none, /dev/shm exists",
            "no /dev/shm (IpcMode none)",
        ));
    }
    Ok(())
}

fn shm_negative(ctx: &Ctx) -> Outcome {
    refused_create(
        ctx,
        json!({ "ShmSize": -1 }),
        "runtime/shm-size-negative",
        &[],
    )
}

fn cgroupns_invalid(ctx: &Ctx) -> Outcome {
    let hc = json!({ "CgroupnsMode": "bogus" });
    refused_create(ctx, hc, "runtime/cgroupns-mode-invalid", &[])
}

fn donor_missing(ctx: &Ctx) -> Outcome {
    let check = "runtime/namespace-donor-missing";
    let vars = [("name", "nosuch-clib")];
    refused_create(
        ctx,
        json!({ "PidMode": "container:nosuch-clib" }),
        check,
        &vars,
    )?;
    refused_create(
        ctx,
        json!({ "IpcMode": "container:nosuch-clib" }),
        check,
        &vars,
    )
}

fn swappiness_invalid(ctx: &Ctx) -> Outcome {
    let hc = json!({ "MemorySwappiness": 101 });
    refused_create(ctx, hc, "runtime/memory-swappiness-invalid", &[])
}

fn storage_opt(ctx: &Ctx) -> Outcome {
    let hc = json!({ "StorageOpt": { "size": "1G" } });
    refused_create(ctx, hc, "runtime/storage-opt-refused", &[])
}

/// A create with `host_config` checked against `check`; a container made
/// by mistake is removed.
pub(super) fn refused_create(
    ctx: &Ctx,
    host_config: Value,
    check: &str,
    vars: &[(&str, &str)],
) -> Outcome {
    let c = config(ctx, &["exit", "0"], host_config)?;
    let resp = ctx.send(Req::post("/containers/create").json(c))?;
    if let Some(id) = resp
        .json()
        .ok()
        .and_then(|b| b["Id"].as_str().map(String::from))
    {
        ctx.remove(&id);
    }
    expectation(check)?.check(&resp, vars)
}

fn ipc_mode_invalid(ctx: &Ctx) -> Outcome {
    refused_start(
        ctx,
        "runtime/ipc-mode-invalid",
        json!({ "IpcMode": "bogus" }),
        &[],
    )
}

/// Namespace links of the probe's own process, one per line, in this order.
const NS_ARGS: &[&str] = &[
    "readlink",
    "/proc/self/ns/pid",
    "--",
    "readlink",
    "/proc/self/ns/ipc",
    "--",
    "readlink",
    "/proc/self/ns/uts",
    "--",
    "pid",
    "--",
    "hostname",
];

/// (pid ns, ipc ns, uts ns, pid, hostname) of a container made with `hc`,
/// and its inspect.
fn namespaces_of(ctx: &Ctx, hc: Value) -> Result<(Vec<String>, Value), Problem> {
    let (out, inspect) = output_and_inspect(ctx, NS_ARGS, hc)?;
    Ok((out.lines().map(String::from).collect(), inspect))
}

fn namespaces_host(ctx: &Ctx) -> Outcome {
    let (own_a, _) = namespaces_of(ctx, json!({}))?;
    let (own_b, _) = namespaces_of(ctx, json!({}))?;
    let host = json!({ "PidMode": "host", "IpcMode": "host", "UTSMode": "host" });
    let (host_a, inspect) = namespaces_of(ctx, host.clone())?;
    let (host_b, _) = namespaces_of(ctx, host.clone())?;
    if own_a.len() != 5 || host_a.len() != 5 {
        return Err(failure(
            format!("the probe printed {own_a:?} and {host_a:?}"),
            "three namespace links, a pid and a hostname",
        ));
    }
    // Private: each container its own pid/ipc/uts namespace, pid 1 in it,
    // never the host's. (Two default containers run one after the other
    // may show the same link: the kernel reuses a freed namespace's inode
    // number, so only a comparison with the host's namespace tells.)
    for i in 0..3 {
        if own_a[i] == host_a[i] || own_b[i] == host_a[i] {
            return Err(failure(
                format!("a default container is in the host's {}", host_a[i]),
                "a new pid, ipc and uts namespace for each container",
            ));
        }
        if host_a[i] != host_b[i] {
            return Err(failure(
                format!(
                    "with {host}: two containers have {} and {}",
                    host_a[i], host_b[i]
                ),
                "both in the host's namespace",
            ));
        }
    }
    let hostname = inspect["Config"]["Hostname"].as_str().unwrap_or("");
    if own_a[3] != "1" || host_a[3] == "1" || host_a[4] == hostname {
        return Err(failure(
            format!(
                "pid {} (private) and {} (PidMode host); hostname {:?} with UTSMode host, Config.Hostname {hostname:?}",
                own_a[3], host_a[3], host_a[4]
            ),
            "pid 1 in a private pid namespace, a host pid with PidMode host; the host's name (not Config.Hostname) with UTSMode host",
        ));
    }
    let modes = [
        ("PidMode", "host"),
        ("IpcMode", "host"),
        ("UTSMode", "host"),
    ];
    for (k, want) in modes {
        if inspect["HostConfig"][k] != want {
            return Err(failure(
                format!("HostConfig.{k} is {}", inspect["HostConfig"][k]),
                want,
            ));
        }
    }
    Ok(())
}

fn namespaces_container(ctx: &Ctx) -> Outcome {
    let donor_name = ctx.unique_name("ipc-donor");
    let donor_cfg = config(ctx, &["sleep", "60"], json!({ "IpcMode": "shareable" }))?;
    let donor = ctx.create(donor_cfg, Some(&donor_name))?;
    let res = (|| {
        ctx.start(&donor)?;
        let joined = format!("container:{donor_name}");
        let hc = json!({ "PidMode": joined, "IpcMode": joined });
        let (out, inspect) = output_and_inspect(
            ctx,
            &[
                "read",
                "/proc/1/cmdline",
                "--",
                "echo",
                "",
                "--",
                "readlink",
                "/proc/self/ns/ipc",
                "--",
                "readlink",
                "/proc/1/ns/ipc",
            ],
            hc,
        )?;
        let lines: Vec<&str> = out.lines().collect();
        let cmdline_ok = lines
            .first()
            .is_some_and(|l| l.split('\0').any(|a| a == "sleep"));
        if !cmdline_ok || lines.len() != 3 || lines[1] != lines[2] {
            return Err(failure(
                format!("in the joining container: {lines:?}"),
                "pid 1 is the donor's `probe sleep 60`, and the same ipc namespace as it",
            ));
        }
        let want = format!("container:{donor}");
        for k in ["PidMode", "IpcMode"] {
            if inspect["HostConfig"][k] != json!(want) {
                return Err(failure(
                    format!("HostConfig.{k} is {}", inspect["HostConfig"][k]),
                    format!("{want:?} (the donor's full id)"),
                ));
            }
        }
        Ok(())
    })();
    ctx.remove(&donor);
    res
}

/// A donor created but not started: dockerd refuses at start, naming its
/// full id.
fn donor_not_running(ctx: &Ctx) -> Outcome {
    let name = ctx.unique_name("pid-donor");
    let donor = ctx.create(config(ctx, &["sleep", "60"], json!({}))?, Some(&name))?;
    let res = refused_start(
        ctx,
        "runtime/namespace-donor-not-running",
        json!({ "PidMode": format!("container:{name}") }),
        &[("id", &donor)],
    );
    ctx.remove(&donor);
    res
}

/// A running donor with the default IpcMode (private).
fn donor_not_shareable(ctx: &Ctx) -> Outcome {
    let plain = ctx.create(config(ctx, &["sleep", "60"], json!({}))?, None)?;
    let res = ctx.start(&plain).and_then(|_| {
        refused_start(
            ctx,
            "runtime/ipc-donor-not-shareable",
            json!({ "IpcMode": format!("container:{plain}") }),
            &[("id", &plain)],
        )
    });
    ctx.remove(&plain);
    res
}

/// Each line of /proc/self/cgroup ends with the group's path.
fn all_root(cgroup: &str) -> bool {
    cgroup
        .lines()
        .filter(|l| !l.is_empty())
        .all(|l| l.rsplit(':').next() == Some("/"))
}

fn cgroupns_private(ctx: &Ctx) -> Outcome {
    let info = crate::ground::json_body(&ctx.send(Req::get("/info"))?, "info")?;
    let v2 = info["CgroupVersion"] == "2";
    let (own, inspect) = output_and_inspect(
        ctx,
        &["read", "/proc/self/cgroup"],
        json!({ "CgroupnsMode": "private" }),
    )?;
    if !all_root(&own) || inspect["HostConfig"]["CgroupnsMode"] != "private" {
        return Err(failure(
            format!(
                "with CgroupnsMode private: /proc/self/cgroup {own:?}, HostConfig.CgroupnsMode {}",
                inspect["HostConfig"]["CgroupnsMode"]
            ),
            "every group at / (the namespace's root), CgroupnsMode private",
        ));
    }
    // The default: the host's namespace on cgroup v1, a private one on v2.
    let (default, inspect) = output_and_inspect(ctx, &["read", "/proc/self/cgroup"], json!({}))?;
    let want = if v2 { "private" } else { "host" };
    if all_root(&default) != v2 || inspect["HostConfig"]["CgroupnsMode"] != want {
        return Err(failure(
            format!(
                "by default: /proc/self/cgroup {default:?}, HostConfig.CgroupnsMode {}",
                inspect["HostConfig"]["CgroupnsMode"]
            ),
            format!(
                "CgroupnsMode {want}, and the container's groups seen from the host's root on v1"
            ),
        ));
    }
    Ok(())
}

fn create_warnings(ctx: &Ctx) -> Outcome {
    let c = config(ctx, &["exit", "0"], json!({ "OomKillDisable": true }))?;
    let resp = ctx.send(Req::post("/containers/create").json(c))?;
    let body = crate::ground::json_body(&resp, "create response")?;
    if let Some(id) = body["Id"].as_str() {
        ctx.remove(id);
    }
    expectation("runtime/create-warnings")?.check(&resp, &[])?;
    let want = "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.";
    if body["Warnings"] != json!([want]) {
        return Err(failure(
            format!("Warnings {}", body["Warnings"]),
            format!("[{want:?}]"),
        ));
    }
    Ok(())
}

/// dockerd gives a privileged container every capability the kernel has
/// and no seccomp filter. runc fails the start when the daemon itself lacks
/// one of them (as on this project's machines, without CAP_SYS_RESOURCE);
/// both outcomes are checked, whichever the host gives.
fn privileged(ctx: &Ctx) -> Outcome {
    let c = config(
        ctx,
        &["read", "/proc/self/status"],
        json!({ "Privileged": true }),
    )?;
    let id = ctx.create(c, None)?;
    let res = (|| {
        let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))))?;
        if resp.status != 204 {
            return expectation("security/privileged")?.check(&resp, &[]);
        }
        ctx.wait(&id)?;
        let status = ctx.logs(&id)?.stdout_text();
        let bnd = status_field(&status, "CapBnd").unwrap_or("");
        let eff = status_field(&status, "CapEff").unwrap_or("");
        let seccomp = status_field(&status, "Seccomp").unwrap_or("");
        // CAP_SYS_ADMIN (21) is outside Docker's default set.
        let sys_admin = u64::from_str_radix(bnd, 16).is_ok_and(|m| m & (1 << 21) != 0);
        if !sys_admin || bnd != eff || seccomp != "0" {
            return Err(failure(
                format!("CapBnd {bnd}, CapEff {eff}, Seccomp {seccomp}"),
                "every capability effective (CapEff = CapBnd, CAP_SYS_ADMIN among them), Seccomp 0",
            ));
        }
        Ok(())
    })();
    ctx.remove(&id);
    res
}

/// The optional fields (`shared:N`, `master:N`) of a mountinfo line.
fn optional_fields(line: &str) -> Vec<&str> {
    line.split(' ').skip(6).take_while(|f| *f != "-").collect()
}

/// A bind of /tmp (there on every host) with propagation `mode`: inspect
/// shows the mode asked for; the start either applies it (the host's /tmp
/// is on a shared mount) or is refused in dockerd's words (it is not, as on
/// this project's machines).
fn propagation_mode(ctx: &Ctx, mode: &str, check: &str, field: &str) -> Outcome {
    let bind = format!("/tmp:/p:ro,{mode}");
    let c = config(
        ctx,
        &["read", "/proc/self/mountinfo"],
        json!({ "Binds": [bind] }),
    )?;
    let id = ctx.create(c, None)?;
    let res = (|| {
        let shown = ctx.inspect(&id)?["Mounts"][0]["Propagation"].clone();
        if shown != mode {
            return Err(failure(
                format!("with Binds [{bind:?}], Mounts[0].Propagation is {shown}"),
                format!("{mode:?}"),
            ));
        }
        let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))))?;
        if resp.status != 204 {
            return expectation(check)?.check(&resp, &[]);
        }
        ctx.wait(&id)?;
        let out = ctx.logs(&id)?.stdout_text();
        let line = mount_line(&out, "/p").unwrap_or("");
        // A slave of a shared mount shows master:; rshared shows shared:.
        if !optional_fields(line).iter().any(|f| f.starts_with(field)) {
            return Err(failure(
                format!("with Binds [{bind:?}] the container's /p is {line:?}"),
                format!("a {field}N field on /p"),
            ));
        }
        Ok(())
    })();
    ctx.remove(&id);
    res
}

fn propagation_shared(ctx: &Ctx) -> Outcome {
    propagation_mode(
        ctx,
        "rshared",
        "runtime/bind-propagation-not-shared",
        "shared:",
    )
}

fn propagation_slave(ctx: &Ctx) -> Outcome {
    propagation_mode(
        ctx,
        "rslave",
        "runtime/bind-propagation-not-slave",
        "master:",
    )
}

/// The default: private, shown as rprivate.
fn bind_propagation(ctx: &Ctx) -> Outcome {
    let (out, inspect) = output_and_inspect(
        ctx,
        &["read", "/proc/self/mountinfo"],
        json!({ "Binds": ["/tmp:/p:ro"] }),
    )?;
    let line = mount_line(&out, "/p").unwrap_or("");
    let shown = &inspect["Mounts"][0]["Propagation"];
    if line.is_empty() || !optional_fields(line).is_empty() || shown != "rprivate" {
        return Err(failure(
            format!("a default bind: /p is {line:?}, Propagation {shown}"),
            "a private mount (no shared:/master: field), Propagation \"rprivate\"",
        ));
    }
    Ok(())
}

fn propagation_invalid(ctx: &Ctx) -> Outcome {
    let hc = json!({ "Mounts": [{ "Type": "bind", "Source": "/tmp", "Target": "/p",
        "BindOptions": { "Propagation": "bogus" } }] });
    refused_create(ctx, hc, "runtime/bind-propagation-invalid", &[])
}

fn propagation_volume(ctx: &Ctx) -> Outcome {
    let hc = json!({ "Binds": ["ss-propagation-vol:/p:rshared"] });
    refused_create(ctx, hc, "runtime/bind-propagation-volume", &[])
}
