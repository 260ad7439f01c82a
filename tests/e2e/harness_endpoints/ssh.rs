//! `ssh://` endpoints through a real sshd on 127.0.0.1 (support `sshd`),
//! in front of the machine's dockerd and of an engine: the harness runs
//! `ssh ... docker system dial-stdio` and speaks HTTP, attach included,
//! over it. Skips, saying so, only when sshd is not installed.

use super::{filters, passed, shipshape};
use shipshape_tests::sshd::Sshd;
use shipshape_tests::{run, stderr, stdout, Engine};

fn sshd(docker_host: Option<&str>) -> Option<Sshd> {
    match Sshd::unavailable() {
        None => Some(Sshd::start(docker_host)),
        Some(why) => {
            eprintln!("SKIPPED: ssh endpoint test: {why}");
            None
        }
    }
}

#[test]
fn run_passes_against_dockerd_over_ssh() {
    let Some(s) = sshd(None) else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = shipshape(dir.path());
    c.env("PATH", s.path_env())
        .args(["run", "--host", &s.url()]);
    let o = run(filters(&mut c));
    let out = passed(&o);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.contains("via ssh (ssh -o ConnectTimeout=30 -l root -p"),
        "{first}"
    );
    assert!(out.contains("Server: Docker/"), "{out}");
}

#[test]
fn run_passes_against_the_engine_over_ssh() {
    let engine = Engine::start();
    let Some(s) = sshd(Some(&engine.host())) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = shipshape(dir.path());
    c.env("PATH", s.path_env())
        .args(["run", "--host", &s.url()]);
    let o = run(filters(&mut c));
    let out = passed(&o);
    assert!(!out.contains("Server: Docker/"), "reached dockerd: {out}");
}

#[test]
fn ssh_failures_are_one_clear_line() {
    let Some(s) = sshd(None) else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    // A user the server does not let in: ssh's own complaint is the line.
    let url = format!("ssh://nobody-here@127.0.0.1:{}", s.port);
    let o = run(shipshape(dir.path()).env("PATH", s.path_env()).args([
        "run",
        "--host",
        &url,
        "--filter",
        "system/ping",
    ]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{}\n{err}", stdout(&o));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("ssh: "), "{err}");
}
