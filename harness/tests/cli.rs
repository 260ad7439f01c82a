//! The `shipshape` binary end to end: bad input gives one error line and a
//! non-zero exit; a filtered run against dockerd passes and ends with the
//! summary line.

use std::process::Command;

fn shipshape(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shipshape"))
        .args(args)
        .env_remove("DOCKER_HOST")
        .output()
        .expect("run shipshape");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_hosts_give_one_error_line() {
    for host in [
        "bogus://x",
        "tcp://127.0.0.1:1",
        "unix:///nonexistent/shipshape.sock",
    ] {
        let (code, stdout, stderr) = shipshape(&["run", "--host", host]);
        assert_eq!(code, 2, "{host}: exit code; stderr {stderr:?}");
        assert_eq!(stdout, "", "{host}: nothing on stdout");
        assert_eq!(stderr.lines().count(), 1, "{host}: {stderr:?}");
        assert!(
            stderr.starts_with("shipshape: error: "),
            "{host}: {stderr:?}"
        );
        assert!(!stderr.contains("panicked"), "{host}: {stderr:?}");
    }
}

#[test]
fn unknown_filter_is_an_error() {
    let (code, _, stderr) =
        shipshape(&["run", "--host", "unix:///x", "--filter", "no-such-scenario"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no scenario"), "{stderr:?}");
}

#[test]
fn filtered_run_against_dockerd_passes() {
    assert!(
        std::path::Path::new("/var/run/docker.sock").exists(),
        "this test needs dockerd at unix:///var/run/docker.sock (CI starts it)"
    );
    let (code, stdout, stderr) = shipshape(&[
        "run",
        "--host",
        "unix:///var/run/docker.sock",
        "--filter",
        "system/ping",
        "--filter",
        "errors/start-twice",
    ]);
    assert_eq!(code, 0, "stdout {stdout}\nstderr {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("target: unix:///var/run/docker.sock"),
        "{stdout}"
    );
    assert!(lines[1].starts_with("api version: "), "{stdout}");
    for name in [
        "system/ping-get",
        "system/ping-head",
        "images/load-fixture",
        "errors/start-twice",
        "hygiene/nothing-left",
    ] {
        assert!(
            stdout.contains(&format!("PASS {name} ")),
            "{name} missing:\n{stdout}"
        );
    }
    assert_eq!(
        lines.last().copied(),
        Some("5 passed, 0 failed, 0 skipped"),
        "{stdout}"
    );
}

#[test]
fn fixture_subcommand_writes_a_tarball() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.tar");
    let (code, stdout, stderr) =
        shipshape(&["fixture", "--output", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("sha256:"), "{stdout}");
    let mut ar = tar::Archive::new(std::fs::File::open(&path).expect("open"));
    let names: Vec<String> = ar
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(names.contains(&"manifest.json".to_string()), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with("/layer.tar")), "{names:?}");
}
