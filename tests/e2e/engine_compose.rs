//! docker-compose 1.29.2 (Debian's) brings up a two-service project on the
//! engine and on dockerd, in the same test: the client service reaches the
//! web service by its name, the web service's published port answers curl
//! from the host, and `docker-compose down` removes everything (containers,
//! the project's network; on the engine also its bridge and firewall rules).
//!
//! The image is busybox-static imported under a local tag
//! (tests/sdk/busybox-image.sh): no registry, no pull. Compose, for each
//! container it creates on the project network, disconnects it from that
//! network and connects it back with the service name as alias before
//! starting it: the path that needs disconnect from a container's own
//! network.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::engine_networks::{engine_bridges, engine_rules};
use shipshape_tests::{ok, run, stderr, stdout, Engine};

const COMPOSE_FILE: &str = r#"version: "2.4"
services:
  web:
    image: IMAGE
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
      - "127.0.0.1::8080"
    stop_signal: SIGKILL
  client:
    image: IMAGE
    command: ["sleep", "300"]
    depends_on: [web]
    stop_signal: SIGKILL
"#;

/// Imports busybox as `tag` into the daemon at `host`.
fn busybox_image(host: &str, config: &Path, tag: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/busybox-image.sh");
    ok(Command::new("sh")
        .arg(script)
        .arg(tag)
        .env("DOCKER_HOST", host)
        .env("DOCKER_CONFIG", config));
}

/// `docker-compose -p project` in `dir`, against `host`.
fn compose(dir: &Path, host: &str, project: &str) -> Command {
    let mut c = Command::new("docker-compose");
    c.current_dir(dir)
        .env("DOCKER_HOST", host)
        .env("COMPOSE_HTTP_TIMEOUT", "120")
        .args(["-p", project]);
    c
}

/// The web service's body through its published port, with curl, once it
/// answers (httpd starts after its container does).
fn curl_published(dir: &Path, host: &str, project: &str) -> String {
    let port = ok(compose(dir, host, project).args(["port", "web", "8080"]));
    let addr = port.trim();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "docker-compose port: {addr:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = run(Command::new("curl").args(["-s", "-m", "5", &format!("http://{addr}/")]));
        if o.status.success() || Instant::now() > deadline {
            return stdout(&o).trim().to_string();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Up, the two checks, down; returns what `down` printed.
fn project_round_trip(dir: &Path, host: &str, project: &str) -> String {
    let o = run(compose(dir, host, project).args(["up", "-d"]));
    assert!(o.status.success(), "up on {host}: {}", stderr(&o));
    assert_eq!(
        curl_published(dir, host, project),
        "hello-from-web",
        "on {host}"
    );
    let got = ok(compose(dir, host, project).args([
        "exec",
        "-T",
        "client",
        "wget",
        "-q",
        "-O",
        "-",
        "http://web:8080/",
    ]));
    assert_eq!(
        got.trim(),
        "hello-from-web",
        "client -> web by name on {host}"
    );
    let o = run(compose(dir, host, project).args(["down"]));
    assert!(o.status.success(), "down on {host}: {}", stderr(&o));
    stderr(&o)
}

/// What the project left on the daemon at `host`: its containers and
/// networks (by compose's project label).
fn project_leftovers(host: &str, config: &Path, project: &str) -> String {
    let label = format!("label=com.docker.compose.project={project}");
    let mut out = String::new();
    for what in [
        vec!["ps", "-aq", "--filter", &label],
        vec!["network", "ls", "-q", "--filter", &label],
    ] {
        out += &ok(Command::new("docker")
            .env("DOCKER_HOST", host)
            .env("DOCKER_CONFIG", config)
            .args(what));
    }
    out
}

#[test]
fn compose_project_up_reach_down() {
    let e = Engine::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = e.dir.path().join("docker-config");
    let tag = format!("ss-e2e-busybox-{}:latest", std::process::id());
    let file = COMPOSE_FILE.replace("IMAGE", &tag);
    std::fs::write(dir.path().join("docker-compose.yml"), file).expect("compose file");
    let project = format!("sse2e{}", std::process::id());

    // dockerd first: the oracle for everything below.
    let dockerd = "unix:///var/run/docker.sock";
    busybox_image(dockerd, &config, &tag);
    let dockerd_down =
        std::panic::catch_unwind(|| project_round_trip(dir.path(), dockerd, &project));
    let dockerd_left = project_leftovers(dockerd, &config, &project);
    let _ = run(Command::new("docker")
        .env("DOCKER_HOST", dockerd)
        .env("DOCKER_CONFIG", &config)
        .args(["rmi", &tag]));
    let dockerd_down = dockerd_down.expect("the compose project on dockerd");
    assert_eq!(dockerd_left, "", "dockerd after down");
    assert!(
        dockerd_down.contains(&format!("Removing network {project}_default")),
        "{dockerd_down}"
    );

    // The engine: the same, and nothing of the project on the host.
    let host = e.host();
    busybox_image(&host, &config, &tag);
    let bridges = engine_bridges(&e);
    let (filter, nat) = (engine_rules(&e, "filter"), engine_rules(&e, "nat"));
    let down = project_round_trip(dir.path(), &host, &project);
    assert!(
        down.contains(&format!("Removing network {project}_default")),
        "{down}"
    );
    assert_eq!(
        project_leftovers(&host, &config, &project),
        "",
        "engine after down"
    );
    assert_eq!(
        ok(e.docker().args(["ps", "-aq"])),
        "",
        "containers after down"
    );
    assert_eq!(
        engine_bridges(&e),
        bridges,
        "the engine's bridges after down"
    );
    assert_eq!(
        engine_rules(&e, "filter"),
        filter,
        "filter rules after down"
    );
    assert_eq!(engine_rules(&e, "nat"), nat, "nat rules after down");
    let veths = ok(Command::new("ip").args(["-o", "link", "show", "type", "veth"]));
    for b in &bridges {
        assert!(
            !veths.contains(&format!("master {b}")),
            "a veth left on {b}: {veths}"
        );
    }
}
