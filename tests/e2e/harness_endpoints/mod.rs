//! Every endpoint a docker client can reach, reached by `shipshape`: TLS
//! (`tls`), ssh (`ssh`), docker contexts, and several endpoints in one run.
//! Each test gives the harness an empty environment of its own (no
//! DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_CONTEXT; a temp
//! DOCKER_CONFIG), so the machine's settings cannot leak in.

mod ssh;
mod tls;

use shipshape_tests::{harness_bin, run, stderr, stdout, Engine};
use std::path::Path;
use std::process::{Command, Output};

/// Scenarios that exercise a plain request, the fixture image, a hijacked
/// attach (stdin and stdout) and an exec stream: what a transport must
/// carry. Setup and cleanup checks come with them.
pub(crate) const TRANSPORT_FILTERS: &[&str] =
    &["system/ping", "containers/attach-", "protocol/exec-stream"];

/// `shipshape ARGS` with a clean Docker environment and `config` as
/// DOCKER_CONFIG.
pub(crate) fn shipshape(config: &Path) -> Command {
    let mut c = Command::new(harness_bin());
    for v in [
        "DOCKER_HOST",
        "DOCKER_TLS_VERIFY",
        "DOCKER_CERT_PATH",
        "DOCKER_CONTEXT",
    ] {
        c.env_remove(v);
    }
    c.env("DOCKER_CONFIG", config);
    c
}

pub(crate) fn filters(c: &mut Command) -> &mut Command {
    for f in TRANSPORT_FILTERS {
        c.args(["--filter", f]);
    }
    c
}

/// Asserts a run passed and returns its stdout.
pub(crate) fn passed(o: &Output) -> String {
    let out = stdout(o);
    assert!(
        o.status.success(),
        "run failed ({:?}):\n{out}\nstderr: {}",
        o.status.code(),
        stderr(o)
    );
    assert!(out.contains(" 0 failed"), "{out}");
    out
}

fn docker(config: &Path) -> Command {
    let mut c = Command::new("docker");
    c.env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CONFIG", config);
    c
}

#[test]
fn docker_contexts_are_read_as_the_cli_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path();
    let o = run(docker(config).args([
        "context",
        "create",
        // The CLI refuses one-letter names (`^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$`).
        "xy",
        "--docker",
        "host=unix:///var/run/docker.sock",
    ]));
    assert!(o.status.success(), "docker context create: {}", stderr(&o));

    // --context NAME.
    let o = run(shipshape(config).args(["run", "--context", "xy", "--filter", "system/ping"]));
    let out = passed(&o);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "target: unix:///var/run/docker.sock (context xy; via unix via docker context xy)"
        ),
        "{first}"
    );
    // DOCKER_CONTEXT.
    let o =
        run(shipshape(config)
            .env("DOCKER_CONTEXT", "xy")
            .args(["run", "--filter", "system/ping"]));
    assert!(passed(&o).contains("(context xy;"));
    // currentContext, set by `docker context use`.
    let o = run(docker(config).args(["context", "use", "xy"]));
    assert!(o.status.success(), "docker context use: {}", stderr(&o));
    let o = run(shipshape(config).args(["run", "--filter", "system/ping"]));
    assert!(passed(&o).contains("(context xy;"));
    // DOCKER_HOST wins over the current context, as with the CLI: here an
    // endpoint that does not exist, so the run cannot start.
    let o = run(shipshape(config)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["run", "--filter", "system/ping"]));
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("/nonexistent/docker.sock"),
        "{}",
        stderr(&o)
    );
    // --host and --context together: the CLI's refusal.
    let o = run(shipshape(config).args([
        "run",
        "--context",
        "xy",
        "--host",
        "unix:///var/run/docker.sock",
    ]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("either specify --host or --context, not both"),
        "{}",
        stderr(&o)
    );
    // A context that does not exist: one line naming it.
    let o = run(shipshape(config).args(["run", "--context", "nope"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("context \"nope\" not found"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn two_endpoints_get_a_report_each_and_the_worse_exit() {
    let engine = Engine::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let dockerd = "unix:///var/run/docker.sock";
    // The engine's baseline lists a scenario that passes: its `now-passes`
    // rule fires, so the engine fails its gate while dockerd passes.
    let baseline = dir.path().join("engine-baseline.json");
    std::fs::write(
        &baseline,
        r#"{"endpoint": "test", "divergences": [{"scenario": "system/ping-get",
            "reason": "test", "link": "issue 19", "expires": "2099-01-01"}]}"#,
    )
    .expect("baseline");
    let json = dir.path().join("run.json");
    let o = run(shipshape(dir.path())
        .args(["run", "--host", dockerd, "--host", &engine.host()])
        .arg("--baseline")
        .arg(format!("{}={}", engine.host(), baseline.display()))
        .arg("--report-json")
        .arg(&json)
        .args(["--filter", "system/ping"]));
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", stderr(&o));
    assert!(out.contains("rule now-passes fired"), "{out}");
    let reports: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("run.") && n.ends_with(".json"))
        .collect();
    assert_eq!(reports.len(), 2, "{reports:?}");
    for r in &reports {
        let text = std::fs::read_to_string(dir.path().join(r)).expect("report");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        let target = v["target"].as_str().unwrap_or_default();
        let slug: String = target
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let slug = slug
            .split('-')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>();
        assert_eq!(*r, format!("run.{}.json", slug.join("-")), "{target}");
        assert_eq!(v["endpoint"]["transport"], "unix", "{text}");
    }
    // Without the engine's baseline both pass: exit 0.
    let o = run(shipshape(dir.path())
        .args(["run", "--host", dockerd, "--host", &engine.host()])
        .args(["--filter", "system/ping"]));
    passed(&o);
}
