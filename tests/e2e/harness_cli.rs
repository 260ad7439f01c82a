//! The harness binary as a user meets it: bad input gets one clear line and a
//! non-zero exit, never a panic.

use std::process::Command;

use shipshape_tests::{harness_bin, run, stderr, stdout, Engine};

fn fails_cleanly(args: &[&str]) -> String {
    let o = run(Command::new(harness_bin()).args(args));
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded: {}", stdout(&o));
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(!err.trim().is_empty(), "{args:?} printed no error");
    err
}

#[test]
fn unreachable_host_is_a_clear_error() {
    fails_cleanly(&["run", "--host", "tcp://127.0.0.1:1"]);
    fails_cleanly(&["run", "--host", "unix:///nonexistent/docker.sock"]);
}

#[test]
fn bad_url_is_a_clear_error() {
    fails_cleanly(&["run", "--host", "bogus://x"]);
}

#[test]
fn an_endpoint_that_is_not_docker_is_a_clear_error() {
    // A TCP server that answers plain text, not the Docker API.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for s in listener.incoming().take(8) {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            );
        }
    });
    fails_cleanly(&["run", "--host", &format!("tcp://{addr}")]);
}

#[test]
fn bad_jobs_and_partitions_are_clear_errors() {
    for bad in ["0", "x", "-1"] {
        fails_cleanly(&["run", "--jobs", bad]);
    }
    for bad in ["0/2", "3/2", "1/0", "1", "a/b"] {
        let err = fails_cleanly(&["run", "--partition", bad]);
        assert!(err.contains("K/N"), "--partition {bad}: {err}");
    }
    fails_cleanly(&["report", "merge", "/nonexistent/run.json"]);
    let dir = tempfile::tempdir().unwrap();
    let not_a_report = dir.path().join("x.json");
    std::fs::write(&not_a_report, "{\"schema\":\"other\"}").unwrap();
    let err = fails_cleanly(&["report", "merge", not_a_report.to_str().unwrap()]);
    assert!(err.contains("not a shipshape run report"), "{err}");
}

/// The scenario lines of a run's output without their durations: what
/// must not depend on `--jobs`.
fn scenario_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| {
            ["PASS ", "FAIL ", "SKIP ", "UNSUPPORTED "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| l.split(" (").next().unwrap_or(l).to_string())
        .collect()
}

fn json_names(path: &std::path::Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("report written"))
            .expect("report is JSON");
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// `--jobs` changes nothing but the time: same lines in the same order.
/// `--partition K/N` runs are disjoint, cover the run, and `report merge`
/// joins them into the whole run's report (JUnit and HTML written from it).
#[test]
fn jobs_partitions_and_merge() {
    let e = Engine::start();
    let dir = tempfile::tempdir().unwrap();
    let host = e.host();
    let base = [
        "run",
        "--host",
        host.as_str(),
        "--filter",
        "errors/",
        "--filter",
        "system/",
    ];
    let run_with = |extra: &[&str]| {
        let o = run(Command::new(harness_bin()).args(base).args(extra));
        assert!(o.status.success(), "{extra:?} failed:\n{}", stdout(&o));
        stdout(&o)
    };
    let whole_json = dir.path().join("whole.json");
    let serial = run_with(&["--jobs", "1", "--report-json", whole_json.to_str().unwrap()]);
    let parallel = run_with(&["--jobs", "6"]);
    let lines = scenario_lines(&serial);
    assert!(lines.len() > 20, "too few scenarios ran:\n{serial}");
    assert_eq!(
        scenario_lines(&parallel),
        lines,
        "--jobs 6 changed the results"
    );

    let parts: Vec<std::path::PathBuf> = (1..=3)
        .map(|k| {
            let p = dir.path().join(format!("p{k}.json"));
            let out = run_with(&[
                "--partition",
                &format!("{k}/3"),
                "--report-json",
                p.to_str().unwrap(),
            ]);
            assert!(out.contains(&format!("partition {k}/3")), "{out}");
            p
        })
        .collect();
    let whole = json_names(&whole_json);
    let setup = ["images/load-fixture", "hygiene/nothing-left"];
    let mut seen: Vec<String> = Vec::new();
    for p in &parts {
        let names = json_names(p);
        assert!(names.len() < whole.len(), "a partition ran everything");
        seen.extend(names.into_iter().filter(|n| !setup.contains(&n.as_str())));
    }
    let mut own: Vec<String> = whole
        .iter()
        .filter(|n| !setup.contains(&n.as_str()))
        .cloned()
        .collect();
    seen.sort();
    own.sort();
    assert_eq!(
        seen, own,
        "the partitions do not split the run exactly once"
    );

    let junit = dir.path().join("m.xml");
    let html = dir.path().join("m.html");
    let merged_json = dir.path().join("m.json");
    let o = run(Command::new(harness_bin())
        .args(["report", "merge"])
        .args(&parts)
        .args(["--report-junit", junit.to_str().unwrap()])
        .args(["--report-html", html.to_str().unwrap()])
        .args(["--report-json", merged_json.to_str().unwrap()]));
    assert!(
        o.status.success(),
        "merge failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(
        json_names(&merged_json),
        whole,
        "merged report differs from the whole run"
    );
    let last = stdout(&o).lines().last().unwrap_or("").to_string();
    assert_eq!(last, format!("{} passed, 0 failed, 0 skipped", whole.len()));
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert_eq!(xml.matches("<testcase").count(), whole.len(), "{xml}");
    let page = std::fs::read_to_string(&html).expect("html written");
    assert!(
        page.contains("errors/unknown-route"),
        "html lacks a scenario"
    );
}

/// A harness stopped by SIGTERM (`timeout`, a cancelled CI job) while it
/// runs against the engine it started stops that engine and removes its
/// directory, then exits 143 as a shell reports it. Before, the engine (and
/// its bridges, iptables chains and directory) outlived the run.
#[test]
fn a_harness_stopped_by_a_signal_stops_its_engine() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    // The harness finds the engine next to itself.
    shipshape_tests::engine_bin();
    let mut harness = Command::new(harness_bin())
        .arg("run")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the harness");
    // The first scenario line: the engine answers by then.
    let mut lines = BufReader::new(harness.stdout.take().unwrap()).lines();
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("PASS ") || l.starts_with("FAIL "));
    assert!(first.is_some(), "the harness printed no scenario line");
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", harness.id()))
        .unwrap_or_default();
    let engine: i32 = children
        .split_whitespace()
        .find_map(|p| {
            let cmd = std::fs::read_to_string(format!("/proc/{p}/cmdline")).ok()?;
            cmd.contains("shipshape-engine").then(|| p.parse().ok())?
        })
        .expect("the harness's engine among its children");
    let cmdline = std::fs::read_to_string(format!("/proc/{engine}/cmdline")).unwrap();
    let args: Vec<&str> = cmdline.split('\0').collect();
    let data_root = args
        .iter()
        .position(|a| *a == "--data-root")
        .map(|i| std::path::PathBuf::from(args[i + 1]))
        .expect("the engine's --data-root");
    let dir = data_root.parent().unwrap().to_path_buf();
    assert!(dir.exists());
    // Drain stdout so the harness never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));

    let sent = run(Command::new("kill").args(["-TERM", &harness.id().to_string()]));
    assert!(sent.status.success(), "kill: {}", stderr(&sent));
    let status = harness.wait().unwrap();
    assert_eq!(status.code(), Some(143), "the harness's exit: {status}");
    let mut err = String::new();
    use std::io::Read;
    harness
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("stopping the reference engine"),
        "stderr: {err}"
    );
    // Gone, or a zombie nobody reaped yet (its parent, the harness, is gone).
    let deadline = Instant::now() + Duration::from_secs(5);
    let alive = || {
        std::fs::read_to_string(format!("/proc/{engine}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('Z'))
            })
            .is_some_and(|zombie| !zombie)
    };
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(), "the engine {engine} still runs");
    assert!(!dir.exists(), "{} is left behind", dir.display());
}
