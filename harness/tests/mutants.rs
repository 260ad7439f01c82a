//! The mutant machinery on a small sample: through the proxy an unaltered
//! run passes; a mutant on an exchange the selected scenarios make is
//! killed, and one on an exchange they never make survives as "never
//! triggered". Every run leaves nothing of its own on dockerd.
//!
//! Needs dockerd at unix:///var/run/docker.sock (CI starts it).

use std::path::Path;
use std::process::Command;

const DOCKERD: &str = "/var/run/docker.sock";

#[test]
fn a_sample_of_mutants_is_measured() {
    assert!(
        Path::new(DOCKERD).exists(),
        "this test needs dockerd at unix://{DOCKERD} (CI starts it)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("mutants.json");
    let out = Command::new(env!("CARGO_BIN_EXE_shipshape"))
        .args(["mutants", "--upstream", DOCKERD])
        .args([
            "--filter",
            "errors/start-twice",
            "--filter",
            "system/ping-get",
        ])
        .args(["--only", "start-twice-204", "--only", "ping-body-lowercase"])
        .args(["--only", "volume-create-200"])
        .arg("--report-json")
        .arg(&report)
        .env_remove("DOCKER_HOST")
        .output()
        .expect("run shipshape mutants");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{stdout}"))
            .to_string()
    };
    assert!(line("unaltered").starts_with("PASSED"), "{stdout}");
    let l = line("start-twice-204");
    assert!(
        l.starts_with("KILLED") && l.contains("errors/start-twice"),
        "{l}"
    );
    let l = line("ping-body-lowercase");
    assert!(
        l.starts_with("KILLED") && l.contains("system/ping-get"),
        "{l}"
    );
    let l = line("volume-create-200");
    assert!(
        l.starts_with("SURVIVED") && l.contains("never triggered"),
        "{l}"
    );
    assert!(stdout.contains("mutants: 2 of 3 killed (67%)"), "{stdout}");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    assert_eq!(doc["killed"], 2);
    assert_eq!(doc["total"], 3);
}
