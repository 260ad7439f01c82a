//! The real docker CLI against `shipshape-engine`, as a user drives it.
//! Needs root (namespaces, mounts) and the docker CLI on PATH, as CI has.

use std::io::Write;
use std::process::{Command, Stdio};

use shipshape_tests::{harness_bin, ok, run, stderr, stdout, Engine};

#[test]
fn image_commands_load_list_inspect_tag_rmi_save() {
    let e = Engine::start();
    let img = e.load_fixture();
    let images = ok(e
        .docker()
        .args(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]));
    assert!(images.contains("probe:e2e"), "docker images: {images}");

    let id = ok(e
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", &img]));
    assert!(id.starts_with("sha256:") && id.len() == 71, "id {id}");

    ok(e.docker().args(["tag", &img, "other/name:v1"]));
    let id2 = ok(e
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", "other/name:v1"]));
    assert_eq!(id, id2);
    let out = ok(e.docker().args(["rmi", "other/name:v1"]));
    assert!(out.contains("Untagged: other/name:v1"), "rmi said: {out}");
    // The image itself is still there under its other tag.
    ok(e.docker().args(["image", "inspect", &img]));

    // save | load round trip, into a second engine: same ID.
    let saved = e.dir.path().join("saved.tar");
    ok(e.docker().args(["save", "-o"]).arg(&saved).arg(&img));
    let e2 = Engine::start();
    ok(e2.docker().arg("load").arg("-i").arg(&saved));
    let id3 = ok(e2
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", &img]));
    assert_eq!(id, id3);

    let missing = run(e.docker().args(["image", "inspect", "nope:missing"]));
    assert!(!missing.status.success());
}

#[test]
fn run_rm_prints_output_and_returns_exit_code() {
    let e = Engine::start();
    let img = e.load_fixture();
    let out = ok(e
        .docker()
        .args(["run", "--rm", &img, "/probe", "echo", "hello", "world"]));
    assert_eq!(out, "hello world");
    let o = run(e
        .docker()
        .args(["run", "--rm", &img, "/probe", "exit", "3"]));
    assert_eq!(o.status.code(), Some(3), "stderr: {}", stderr(&o));
    // --rm removed both containers.
    assert_eq!(ok(e.docker().args(["ps", "-aq"])), "");
    // A missing command: docker's exit code 127 and an error message.
    let o = run(e.docker().args(["run", "--rm", &img, "/nonexistent"]));
    assert_eq!(o.status.code(), Some(127), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("/nonexistent"),
        "stderr: {}",
        stderr(&o)
    );
}

#[test]
fn detached_container_ps_logs_stop_wait_rm() {
    let e = Engine::start();
    let img = e.load_fixture();
    let id = ok(e.docker().args([
        "run", "-d", "--name", "worker", &img, "/probe", "echo", "to-out", "--", "stderr",
        "to-err", "--", "sleep", "60",
    ]));
    assert_eq!(id.len(), 64);
    let ps = ok(e
        .docker()
        .args(["ps", "--format", "{{.Names}} {{.Status}}"]));
    assert!(ps.starts_with("worker Up"), "ps: {ps}");

    // stdout and stderr stay separate.
    let mut out = String::new();
    for _ in 0..100 {
        let o = run(e.docker().args(["logs", "worker"]));
        if stdout(&o).contains("to-out") && stderr(&o).contains("to-err") {
            out = format!("{}|{}", stdout(&o).trim(), stderr(&o).trim());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(out, "to-out|to-err");

    // The probe's sleep ignores SIGTERM as pid 1: stop escalates to SIGKILL.
    ok(e.docker().args(["stop", "-t", "1", "worker"]));
    assert_eq!(ok(e.docker().args(["wait", "worker"])), "137");
    let ps = ok(e
        .docker()
        .args(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]));
    assert!(ps.starts_with("worker Exited (137)"), "ps: {ps}");
    ok(e.docker().args(["rm", "worker"]));
    assert_eq!(ok(e.docker().args(["ps", "-aq"])), "");
}

#[test]
fn run_interactive_with_piped_stdin() {
    let e = Engine::start();
    let img = e.load_fixture();
    let mut child = e
        .docker()
        .args(["run", "-i", "--rm", &img, "/probe", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker run -i");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"line one\nline two\n")
        .expect("write stdin");
    let o = child.wait_with_output().expect("docker run -i output");
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "line one\nline two\n");
}

#[test]
fn run_with_a_tty() {
    let e = Engine::start();
    let img = e.load_fixture();
    // `script` gives the docker CLI a real terminal, as a user's shell would.
    let docker_host = e.host();
    let o = run(Command::new("script").args([
        "-qec",
        &format!("DOCKER_HOST={docker_host} docker run -it --rm {img} /probe echo in-a-tty"),
        "/dev/null",
    ]));
    assert!(
        o.status.success(),
        "stdout: {} stderr: {}",
        stdout(&o),
        stderr(&o)
    );
    // A tty turns "\n" into "\r\n".
    assert!(
        stdout(&o).contains("in-a-tty\r\n"),
        "stdout: {:?}",
        stdout(&o)
    );
}

#[test]
fn run_flags_env_workdir_user_hostname_readonly_bind() {
    let e = Engine::start();
    let img = e.load_fixture();
    let env = ok(e
        .docker()
        .args(["run", "--rm", "-e", "FOO=bar", &img, "/probe", "env"]));
    assert!(env.lines().any(|l| l == "FOO=bar"), "env: {env}");
    let cwd = ok(e
        .docker()
        .args(["run", "--rm", "-w", "/tmp/work", &img, "/probe", "cwd"]));
    assert_eq!(cwd, "/tmp/work");
    let uid = ok(e
        .docker()
        .args(["run", "--rm", "--user", "1000:1000", &img, "/probe", "uid"]));
    assert_eq!(uid, "1000:1000");
    let host = ok(e.docker().args([
        "run",
        "--rm",
        "--hostname",
        "box1",
        &img,
        "/probe",
        "hostname",
    ]));
    assert_eq!(host, "box1");
    let ro = run(e.docker().args([
        "run",
        "--rm",
        "--read-only",
        &img,
        "/probe",
        "write",
        "/x",
        "y",
    ]));
    assert!(!ro.status.success(), "write on a read-only root succeeded");

    let shared = e.dir.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("in.txt"), "from-host").unwrap();
    let vol = format!("{}:/mnt", shared.display());
    let got = ok(e.docker().args([
        "run",
        "--rm",
        "-v",
        &vol,
        &img,
        "/probe",
        "read",
        "/mnt/in.txt",
        "--",
        "write",
        "/mnt/out.txt",
        "from-container",
    ]));
    assert_eq!(got, "from-host");
    assert_eq!(
        std::fs::read_to_string(shared.join("out.txt")).unwrap(),
        "from-container"
    );
}

#[test]
fn same_tarball_gives_same_image_id_as_dockerd() {
    // The oracle: load the fixture into dockerd too and compare IDs.
    let e = Engine::start();
    let tar = e.dir.path().join("fixture.tar");
    ok(Command::new(harness_bin())
        .arg("fixture")
        .arg("--output")
        .arg(&tar));
    let engine_out = ok(e.docker().arg("load").arg("-i").arg(&tar));
    let dockerd = || {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", "unix:///var/run/docker.sock");
        c
    };
    // The fixture tarball carries the tag shipshape-probe:latest; remember
    // whether dockerd already had it, so that we remove only what we added.
    let had_tag = run(dockerd().args(["image", "inspect", "shipshape-probe:latest"]))
        .status
        .success();
    let dockerd_out = ok(dockerd().arg("load").arg("-i").arg(&tar));
    let id_of = |out: &str| -> String {
        let r = out
            .lines()
            .find_map(|l| {
                l.strip_prefix("Loaded image: ")
                    .or_else(|| l.strip_prefix("Loaded image ID: "))
            })
            .unwrap_or_default()
            .to_string();
        r
    };
    let (a, b) = (id_of(&engine_out), id_of(&dockerd_out));
    let engine_id = ok(e
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", &a]));
    let dockerd_id = ok(dockerd().args(["image", "inspect", "--format", "{{.Id}}", &b]));
    assert_eq!(engine_id, dockerd_id);
    // Clean up on dockerd only what this test added: the tag, if it was not
    // there before (rmi of a tag removes the image only when nothing else
    // names it, so a concurrent harness run's per-run tag keeps it alive).
    if !had_tag {
        let _ = run(dockerd().args(["rmi", "shipshape-probe:latest"]));
    }
}
