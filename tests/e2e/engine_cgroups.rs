//! cgroups through the real docker CLI: limits (`run -m`, `--pids-limit`,
//! `update`), pause/unpause via the freezer, `stats`, restart policies.
//! Needs root, cgroup v1 (or v2) mounted at /sys/fs/cgroup, and the docker CLI.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use shipshape_tests::{ok, run, stderr, Engine};

fn v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A file of the container's group in `controller`'s hierarchy.
fn cg_file(controller: &str, id: &str, file: &str) -> PathBuf {
    if v2() {
        PathBuf::from(format!("/sys/fs/cgroup/shipshape/{id}/{file}"))
    } else {
        PathBuf::from(format!("/sys/fs/cgroup/{controller}/shipshape/{id}/{file}"))
    }
}

fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
        .trim()
        .to_string()
}

fn inspect(e: &Engine, id: &str, format: &str) -> String {
    ok(e.docker().args(["inspect", "--format", format, id]))
        .trim()
        .to_string()
}

/// Polls `f` until it returns true; bounded.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// /proc/PID/status "State:" letter.
fn proc_state(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .unwrap_or("")
        .trim()
        .to_string()
}

#[test]
fn run_memory_and_pids_limits_land_in_the_cgroup_and_update_changes_them() {
    let e = Engine::start();
    let img = e.load_fixture();
    let id = ok(e.docker().args([
        "run",
        "-d",
        "-m",
        "64m",
        "--pids-limit",
        "20",
        &img,
        "/probe",
        "sleep",
        "300",
    ]))
    .trim()
    .to_string();
    let (mem, pids) = if v2() {
        ("memory.max", "pids.max")
    } else {
        ("memory.limit_in_bytes", "pids.max")
    };
    assert_eq!(read(&cg_file("memory", &id, mem)), "67108864");
    assert_eq!(read(&cg_file("pids", &id, pids)), "20");
    // The container's process is in its group.
    let pid = inspect(&e, &id, "{{.State.Pid}}");
    let procs = read(&cg_file("memory", &id, "cgroup.procs"));
    assert!(procs.lines().any(|l| l == pid), "{pid} not in {procs}");
    assert_eq!(inspect(&e, &id, "{{.HostConfig.MemorySwap}}"), "134217728");

    ok(e.docker().args([
        "update",
        "--memory",
        "100m",
        "--memory-swap",
        "200m",
        "--pids-limit",
        "30",
        &id,
    ]));
    assert_eq!(read(&cg_file("memory", &id, mem)), "104857600");
    assert_eq!(read(&cg_file("pids", &id, pids)), "30");
    assert_eq!(
        inspect(&e, &id, "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}"),
        "104857600 30"
    );
    // dockerd's refusal: memory above the already set memory+swap.
    let out = run(e.docker().args(["update", "--memory", "300m", &id]));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Memory limit should be smaller than already set memoryswap limit"),
        "{}",
        stderr(&out)
    );

    // --no-stream stats read the group: a limit and one process.
    let stats = ok(e.docker().args([
        "stats",
        "--no-stream",
        "--format",
        "{{.MemUsage}}|{{.PIDs}}",
        &id,
    ]));
    assert!(stats.contains("/ 100MiB|1"), "stats: {stats}");

    ok(e.docker().args(["rm", "-f", &id]));
    assert!(!cg_file("memory", &id, "").exists(), "cgroup left behind");
}

#[test]
fn pause_freezes_and_unpause_thaws() {
    let e = Engine::start();
    let img = e.load_fixture();
    let id = ok(e
        .docker()
        .args(["run", "-d", &img, "/probe", "sleep", "300"]))
    .trim()
    .to_string();
    let pid = inspect(&e, &id, "{{.State.Pid}}");
    ok(e.docker().args(["pause", &id]));
    assert_eq!(
        inspect(
            &e,
            &id,
            "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"
        ),
        "paused true true"
    );
    if !v2() {
        assert_eq!(read(&cg_file("freezer", &id, "freezer.state")), "FROZEN");
    }
    // A frozen task shows as D (v1 freezer) or stays stopped in the freezer.
    let st = proc_state(&pid);
    assert!(st.starts_with('D') || st.starts_with('S'), "state {st}");
    let ps = ok(e.docker().args([
        "ps",
        "--filter",
        &format!("id={id}"),
        "--format",
        "{{.Status}}",
    ]));
    assert!(ps.trim().ends_with("(Paused)"), "ps: {ps}");

    // dockerd's refusals while paused.
    let again = run(e.docker().args(["pause", &id]));
    assert!(
        stderr(&again).contains("is already paused"),
        "{}",
        stderr(&again)
    );
    let exec = run(e.docker().args(["exec", &id, "/probe", "echo", "x"]));
    assert!(stderr(&exec).contains("is paused, unpause the container before exec"));

    ok(e.docker().args(["unpause", &id]));
    assert_eq!(inspect(&e, &id, "{{.State.Status}}"), "running");
    if !v2() {
        assert_eq!(read(&cg_file("freezer", &id, "freezer.state")), "THAWED");
    }
    let not_paused = run(e.docker().args(["unpause", &id]));
    assert!(stderr(&not_paused).contains("is not paused"));
    assert_eq!(
        ok(e.docker().args(["exec", &id, "/probe", "echo", "hi"])).trim(),
        "hi"
    );

    // Stopping a paused container thaws it so the kill lands.
    ok(e.docker().args(["pause", &id]));
    ok(e.docker().args(["stop", "-t", "1", &id]));
    assert_eq!(inspect(&e, &id, "{{.State.Status}}"), "exited");
    ok(e.docker().args(["rm", &id]));
}

#[test]
fn on_failure_restarts_up_to_the_limit() {
    let e = Engine::start();
    let img = e.load_fixture();
    let out = run(e.docker().args([
        "run",
        "--name",
        "rf",
        "--restart",
        "on-failure:2",
        &img,
        "/probe",
        "exit",
        "1",
    ]));
    assert_eq!(out.status.code(), Some(1));
    eventually("two restarts, then exited", || {
        inspect(&e, "rf", "{{.State.Status}} {{.RestartCount}}") == "exited 2"
    });
    // It stays there.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        inspect(&e, "rf", "{{.State.Status}} {{.RestartCount}}"),
        "exited 2"
    );

    // `always` keeps restarting until `docker stop`, which ends it.
    ok(e.docker().args([
        "run",
        "-d",
        "--name",
        "ra",
        "--restart",
        "always",
        &img,
        "/probe",
        "exit",
        "3",
    ]));
    eventually("a restart", || {
        inspect(&e, "ra", "{{.RestartCount}}")
            .parse::<u32>()
            .is_ok_and(|n| n >= 1)
    });
    ok(e.docker().args(["stop", "ra"]));
    assert_eq!(inspect(&e, "ra", "{{.State.Status}}"), "exited");
    let n = inspect(&e, "ra", "{{.RestartCount}}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        inspect(&e, "ra", "{{.State.Status}} {{.RestartCount}}"),
        format!("exited {n}")
    );
    ok(e.docker().args(["rm", "rf", "ra"]));
}

#[test]
fn stats_of_a_stopped_container_and_one_shot_json() {
    let e = Engine::start();
    let img = e.load_fixture();
    let id = ok(e.docker().args(["create", &img, "/probe", "sleep", "300"]))
        .trim()
        .to_string();
    let out = ok(Command::new("curl").args([
        "-s",
        "--unix-socket",
        e.socket.to_str().unwrap_or_default(),
        &format!("http://x/containers/{id}/stats?stream=false"),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).expect("stats JSON");
    assert_eq!(v["read"], "0001-01-01T00:00:00Z");
    assert_eq!(v["memory_stats"], serde_json::json!({}));
    ok(e.docker().args(["start", &id]));
    let out = ok(Command::new("curl").args([
        "-s",
        "--unix-socket",
        e.socket.to_str().unwrap_or_default(),
        &format!("http://x/containers/{id}/stats?stream=false&one-shot=true"),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).expect("stats JSON");
    assert!(v["memory_stats"]["usage"].as_u64().is_some(), "{v}");
    assert!(v["cpu_stats"]["system_cpu_usage"].as_u64().is_some(), "{v}");
    assert_eq!(v["pids_stats"]["current"], 1);
    ok(e.docker().args(["rm", "-f", &id]));
}

/// A start that fails while the cgroup is prepared (the kernel refuses a CFS
/// quota above its maximum: EINVAL, as runc reports it on dockerd) of a
/// `--rm` container: `docker run --rm` returns 125 with the error, and the
/// container is gone (dockerd 20.10 here: the same, "write .../
/// cpu.cfs_quota_us: invalid argument", no container left).
#[test]
fn run_rm_whose_cgroup_preparation_fails_returns_and_removes_the_container() {
    let e = Engine::start();
    let img = e.load_fixture();
    let mut cmd = e.docker();
    cmd.args([
        "run",
        "--rm",
        "--name",
        "quota-too-big",
        "--cpu-quota",
        "999999999999999",
        &img,
        "/probe",
        "echo",
        "hi",
    ]);
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("docker run");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("docker run --rm hung after a failed start");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("output");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert_eq!(status.code(), Some(125), "stderr: {err}");
    assert!(err.contains("invalid argument"), "stderr: {err}");
    eventually("the --rm container to be removed", || {
        ok(e.docker()
            .args(["ps", "-aq", "--filter", "name=quota-too-big"]))
        .trim()
        .is_empty()
    });
}

/// The systemd cgroup driver is refused at start, with the reason (dockerd
/// would use it; the engine writes its groups itself).
#[test]
fn exec_opt_systemd_cgroup_driver_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(Command::new(shipshape_tests::engine_bin()).args([
        "-H",
        &format!("unix://{}/e.sock", dir.path().display()),
        "--data-root",
        &dir.path().join("data").display().to_string(),
        "--exec-opt",
        "native.cgroupdriver=systemd",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("native.cgroupdriver option systemd not supported"),
        "{}",
        stderr(&out)
    );
}
