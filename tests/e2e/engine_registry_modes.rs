//! `docker login`, `push`, `pull` and `logout` through the real CLI, against
//! the engine as against dockerd, in each of the registry's modes: plain
//! HTTP on loopback, bearer tokens from a token server, and TLS verified
//! against a CA read from a certs.d directory (the registry in a network
//! namespace of its own, at a non-loopback address, where neither daemon
//! may skip verification); and a docker-compose project whose image comes
//! from the local registry.
//!
//! Each mode runs both ways: the engine pushes and pulls back, dockerd pulls
//! the engine's push (same image ID) and pushes it under another name, the
//! engine pulls that (same ID again). The messages of a refused login and
//! of a pull after logout are dockerd's, word for word.

use std::path::{Path, PathBuf};
use std::process::Command;

use shipshape_tests::registry::{self, Registry, RegistryOptions};
use shipshape_tests::{ok, run, stderr, Engine};

use crate::engine_registry::api_pull;

const DOCKERD: &str = "unix:///var/run/docker.sock";

fn docker(host: &str, config: &Path) -> Command {
    let mut c = Command::new("docker");
    c.env("DOCKER_HOST", host).env("DOCKER_CONFIG", config);
    c
}

/// The CLI's error line (the last line of stderr, warnings above it left out).
fn error_line(o: &std::process::Output) -> String {
    stderr(o).trim().lines().last().unwrap_or("").to_string()
}

/// What one daemon's CLI session saw.
struct Session {
    /// The refused login's error line (registries that check credentials).
    bad_login: Option<String>,
    /// The image ID after the pull back.
    id: String,
    /// The error line of a pull after logout (same).
    after_logout: Option<String>,
}

/// On `host`: log in (a wrong password first, when the registry checks),
/// tag `source` as `repo:v1`, push, remove, pull back, log out, and pull
/// once more (refused when the registry wants credentials).
fn session(
    host: &str,
    config: &Path,
    reg: &str,
    creds: Option<(&str, &str)>,
    source: &str,
    repo: &str,
) -> Session {
    let d = || docker(host, config);
    let image = format!("{repo}:v1");
    let bad_login = creds.map(|(user, _)| {
        let bad = run(d().args(["login", reg, "-u", user, "-p", "wrong"]));
        assert!(
            !bad.status.success(),
            "{host}: a wrong password logged in to {reg}"
        );
        error_line(&bad)
    });
    // A registry without auth takes any credentials, as dockerd's /auth does.
    let (user, pass) = creds.unwrap_or(("anyone", "anything"));
    let out = ok(d().args(["login", reg, "-u", user, "-p", pass]));
    assert!(out.contains("Login Succeeded"), "{host}: {out}");
    ok(d().args(["tag", source, &image]));
    let pushed = ok(d().args(["push", &image]));
    assert!(
        pushed
            .lines()
            .any(|l| l.starts_with("v1: digest: sha256:") && l.contains(" size: ")),
        "{host}: no digest line in {pushed}"
    );
    ok(d().args(["rmi", &image]));
    ok(d().args(["pull", &image]));
    let id = ok(d().args(["image", "inspect", "--format", "{{.Id}}", &image]));
    ok(d().args(["rmi", &image]));
    ok(d().args(["logout", reg]));
    let after = run(d().args(["pull", &image]));
    let after_logout = if creds.is_some() {
        assert!(
            !after.status.success(),
            "{host}: pulled {image} after logout"
        );
        Some(error_line(&after))
    } else {
        assert!(after.status.success(), "{host}: {}", stderr(&after));
        let _ = run(d().args(["rmi", &image]));
        None
    };
    Session {
        bad_login,
        id,
        after_logout,
    }
}

/// The engine's session, then dockerd's on what the engine pushed, then
/// the engine pulls dockerd's push: one ID throughout, and a refused login
/// worded as dockerd's. Returns (the engine's, dockerd's) sessions, for the
/// mode's own checks.
fn both_ways(engine: &Engine, reg: &str, creds: Option<(&str, &str)>) -> (Session, Session) {
    let probe = engine.load_fixture();
    let probe_id = ok(engine
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", &probe]));
    let ecfg = tempfile::tempdir().expect("cli config");
    let from_engine = format!("{reg}/e2e/from-engine");
    let e = session(
        &engine.host(),
        ecfg.path(),
        reg,
        creds,
        &probe,
        &from_engine,
    );
    assert_eq!(e.id, probe_id, "the engine's pull back changed the ID");

    // dockerd pulls what the engine pushed, then runs its own session on it.
    let dcfg = tempfile::tempdir().expect("cli config");
    let dd = || docker(DOCKERD, dcfg.path());
    let (user, pass) = creds.unwrap_or(("anyone", "anything"));
    ok(dd().args(["login", reg, "-u", user, "-p", pass]));
    let src = format!("{from_engine}:v1");
    let pulled = run(dd().args(["pull", &src]));
    let d_src_id = run(dd().args(["image", "inspect", "--format", "{{.Id}}", &src]));
    let from_dockerd = format!("{reg}/e2e/from-dockerd");
    let d = pulled
        .status
        .success()
        .then(|| session(DOCKERD, dcfg.path(), reg, creds, &src, &from_dockerd));
    let _ = run(dd().args(["rmi", &src]));
    let _ = run(dd().args(["logout", reg]));
    assert!(
        pulled.status.success(),
        "dockerd could not pull the engine's push: {}",
        stderr(&pulled)
    );
    assert_eq!(
        String::from_utf8_lossy(&d_src_id.stdout).trim(),
        probe_id,
        "dockerd's pull of the engine's push changed the ID"
    );
    let d = d.expect("dockerd's session");
    assert_eq!(d.id, probe_id, "dockerd's pull back changed the ID");

    // The engine pulls dockerd's push.
    let e2 = || docker(&engine.host(), ecfg.path());
    ok(e2().args(["login", reg, "-u", user, "-p", pass]));
    let theirs = format!("{from_dockerd}:v1");
    ok(e2().args(["pull", &theirs]));
    let id = ok(e2().args(["image", "inspect", "--format", "{{.Id}}", &theirs]));
    ok(e2().args(["logout", reg]));
    assert_eq!(
        id, probe_id,
        "the engine's pull of dockerd's push changed the ID"
    );

    assert_eq!(e.bad_login, d.bad_login, "refused login: engine vs dockerd");
    (e, d)
}

/// The pull-after-logout messages, the repositories' names aside.
fn same_after_logout(e: &Session, d: &Session) {
    let norm = |s: &Option<String>| {
        s.as_deref().map(|s| {
            s.replace("from-engine", "REPO")
                .replace("from-dockerd", "REPO")
        })
    };
    assert_eq!(
        norm(&e.after_logout),
        norm(&d.after_logout),
        "pull after logout: engine vs dockerd"
    );
}

fn skip_without_registry() -> bool {
    if !registry::available() {
        eprintln!("skipped: docker-registry is not installed (apt-get install docker-registry)");
        return true;
    }
    false
}

#[test]
fn cli_plain_http_registry_on_loopback_as_dockerd() {
    if skip_without_registry() {
        return;
    }
    let reg = Registry::start(&RegistryOptions::default());
    let engine = Engine::start();
    let (e, d) = both_ways(&engine, &reg.host, None);
    same_after_logout(&e, &d);
}

/// TLS on loopback: both daemons try TLS without verifying (127.0.0.0/8 is
/// an insecure registry for dockerd), with basic auth.
#[test]
fn cli_basic_auth_over_tls_on_loopback_as_dockerd() {
    if skip_without_registry() {
        return;
    }
    let reg = Registry::start(&RegistryOptions {
        basic_auth: Some(("alice".into(), "s3cret".into())),
        tls: true,
        ..RegistryOptions::default()
    });
    let engine = Engine::start();
    let (e, d) = both_ways(&engine, &reg.host, Some(("alice", "s3cret")));
    assert!(
        d.bad_login
            .as_deref()
            .is_some_and(|m| m.ends_with("failed with status: 401 Unauthorized")),
        "{:?}",
        d.bad_login
    );
    // dockerd's pull after logout here is not stable: it tries TLS and may
    // see the connection reset (`read tcp A->B: read: connection reset by
    // peer`, observed once on 2026-12-03) before falling back; the engine
    // gives dockerd's usual answer.
    assert!(
        e.after_logout
            .as_deref()
            .is_some_and(|m| m.ends_with(&format!(
                "Head \"https://{}/v2/e2e/from-engine/manifests/v1\": no basic auth credentials",
                reg.host
            ))),
        "{:?}",
        e.after_logout
    );
}

#[test]
fn cli_bearer_token_flow_as_dockerd() {
    if skip_without_registry() {
        return;
    }
    let reg = Registry::start(&RegistryOptions {
        bearer: Some(("alice".into(), "s3cret".into())),
        ..RegistryOptions::default()
    });
    let token = reg.token.as_ref().expect("token server");
    let engine = Engine::start();
    // The engine alone first: it must have fetched tokens itself.
    let before = token.issued.load(std::sync::atomic::Ordering::SeqCst);
    let (e, d) = both_ways(&engine, &reg.host, Some(("alice", "s3cret")));
    same_after_logout(&e, &d);
    assert!(
        token.issued.load(std::sync::atomic::Ordering::SeqCst) > before,
        "no token was issued"
    );
    // dockerd 20.10.24 against this token server (observed 2026-12-03):
    // `Error response from daemon: Get "http://H/v2/": unauthorized:
    // invalid username or password`; after logout `... Head
    // "http://H/v2/e2e/REPO/manifests/v1": unauthorized: invalid username
    // or password` (the token server's 401 message, behind the request).
    let reg_url = format!("http://{}/v2/", reg.host);
    assert_eq!(
        d.bad_login.as_deref(),
        Some(
            format!(
                "Error response from daemon: Get \"{reg_url}\": unauthorized: {}",
                shipshape_tests::token::REFUSED_MESSAGE
            )
            .as_str()
        )
    );
    assert!(
        d.after_logout
            .as_deref()
            .is_some_and(|m| m.ends_with(&format!(
                "manifests/v1\": unauthorized: {}",
                shipshape_tests::token::REFUSED_MESSAGE
            ))),
        "{:?}",
        d.after_logout
    );
}

/// `/etc/docker/certs.d/HOST/ca.crt` for dockerd while the test runs
/// (dockerd reads it on every request); removed on drop, and certs.d with
/// it when it was made here and is empty.
struct DockerdCa {
    dir: PathBuf,
    made_root: bool,
}

impl DockerdCa {
    fn install(host: &str, ca: &Path) -> DockerdCa {
        let root = Path::new("/etc/docker/certs.d");
        let made_root = !root.exists();
        let dir = root.join(host);
        std::fs::create_dir_all(&dir).expect("dockerd certs.d");
        std::fs::copy(ca, dir.join("ca.crt")).expect("dockerd ca.crt");
        DockerdCa { dir, made_root }
    }
}

impl Drop for DockerdCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if self.made_root {
            let _ = std::fs::remove_dir(Path::new("/etc/docker/certs.d"));
        }
    }
}

#[test]
fn cli_tls_with_a_ca_from_certs_d_as_dockerd() {
    if skip_without_registry() {
        return;
    }
    let reg = Registry::start(&RegistryOptions {
        basic_auth: Some(("alice".into(), "s3cret".into())),
        tls: true,
        netns: true,
        ..RegistryOptions::default()
    });
    let ca = reg.ca_cert.clone().expect("the registry's CA");
    let certs = tempfile::tempdir().expect("certs dir");
    let engine = Engine::start_with(&["--certs-dir", &certs.path().display().to_string()]);
    // Without the CA both refuse the registry's certificate. dockerd
    // 20.10.24 (observed 2026-12-03): 500 `Get "https://H/v2/": x509:
    // certificate signed by unknown authority`.
    let image = format!("{}/e2e/none", reg.host);
    let (es, em) = api_pull(&engine.socket, &image, "v1");
    let (ds, dm) = api_pull(Path::new("/var/run/docker.sock"), &image, "v1");
    assert_eq!(
        dm,
        format!(
            "Get \"https://{}/v2/\": x509: certificate signed by unknown authority",
            reg.host
        )
    );
    assert_eq!((es, em.as_str()), (ds, dm.as_str()), "engine vs dockerd");

    // The CA where each daemon looks: certs.d/HOST:PORT/ca.crt.
    let dir = certs.path().join(&reg.host);
    std::fs::create_dir_all(&dir).expect("engine certs.d");
    std::fs::copy(&ca, dir.join("ca.crt")).expect("engine ca.crt");
    let _dockerd_ca = DockerdCa::install(&reg.host, &ca);
    let (e, d) = both_ways(&engine, &reg.host, Some(("alice", "s3cret")));
    same_after_logout(&e, &d);
    // dockerd 20.10.24: `Error response from daemon: login attempt to
    // https://H/v2/ failed with status: 401 Unauthorized`; after logout
    // `... Head "https://H/v2/e2e/REPO/manifests/v1": no basic auth credentials`.
    assert_eq!(
        d.bad_login.as_deref(),
        Some(
            format!(
                "Error response from daemon: login attempt to https://{}/v2/ failed with status: 401 Unauthorized",
                reg.host
            )
            .as_str()
        )
    );
    assert!(
        d.after_logout
            .as_deref()
            .is_some_and(|m| m.ends_with("no basic auth credentials")),
        "{:?}",
        d.after_logout
    );
}

/// docker-compose 1.29.2 against the engine: `pull` then `up -d` of a
/// project whose image is only in the local registry, then `down`. The
/// service has `network_mode: none`: compose's `up` on a project network
/// disconnects and reconnects the container, which the engine does not
/// support yet (501, being fixed apart from registries).
#[test]
fn compose_project_comes_up_from_the_local_registry() {
    if skip_without_registry() {
        return;
    }
    if Command::new("docker-compose")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("skipped: docker-compose is not installed");
        return;
    }
    let reg = Registry::start(&RegistryOptions::default());
    let engine = Engine::start();
    let probe = engine.load_fixture();
    let image = format!("{}/e2e/compose-web:v1", reg.host);
    ok(engine.docker().args(["tag", &probe, &image]));
    ok(engine.docker().args(["push", &image]));
    ok(engine.docker().args(["rmi", &image]));
    let project = tempfile::tempdir().expect("compose project");
    std::fs::write(
        project.path().join("docker-compose.yml"),
        format!(
            "version: \"2.4\"\nservices:\n  web:\n    image: {image}\n    command: [\"/probe\", \"sleep\", \"300\"]\n    network_mode: none\n"
        ),
    )
    .expect("compose file");
    let compose = |args: &[&str]| {
        let mut c = Command::new("docker-compose");
        c.current_dir(project.path())
            .env("DOCKER_HOST", engine.host())
            .env("DOCKER_CONFIG", engine.dir.path().join("docker-config"))
            .args(["-p", "ssregistry"])
            .args(args);
        c
    };
    let pulled = run(&mut compose(&["pull"]));
    assert!(pulled.status.success(), "{}", stderr(&pulled));
    let id = ok(engine
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", &image]));
    let probe_id = ok(engine
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", &probe]));
    assert_eq!(id, probe_id, "compose's pull changed the image ID");
    // `up` pulls what is missing by itself too: remove it again first.
    ok(engine.docker().args(["rmi", &image]));
    let up = run(&mut compose(&["up", "-d"]));
    assert!(up.status.success(), "{}", stderr(&up));
    let running = ok(engine.docker().args([
        "ps",
        "--filter",
        "label=com.docker.compose.project=ssregistry",
        "--format",
        "{{.Image}} {{.State}}",
    ]));
    assert_eq!(running, format!("{image} running"));
    let down = run(&mut compose(&["down"]));
    assert!(down.status.success(), "{}", stderr(&down));
    let left = ok(engine.docker().args(["ps", "-aq"]));
    assert_eq!(left, "", "compose down left containers");
}
