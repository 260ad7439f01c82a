//! The real docker CLI against `shipshape-engine`: exec, cp, export, rename,
//! top, container prune and system df. Needs root and the docker CLI.

use std::io::Write;
use std::process::{Command, Stdio};

use shipshape_tests::{ok, run, stderr, stdout, Engine};

#[test]
fn exec_runs_in_the_container_with_exit_codes_stdin_and_tty() {
    let e = Engine::start();
    let img = e.load_fixture();
    ok(e.docker()
        .args(["run", "-d", "--name", "box", &img, "/probe", "sleep", "120"]));

    let out = ok(e
        .docker()
        .args(["exec", "box", "/probe", "echo", "from", "exec"]));
    assert_eq!(out, "from exec");
    // Same hostname and root as the container's main process.
    let host = ok(e.docker().args(["exec", "box", "/probe", "hostname"]));
    assert_eq!(host.len(), 12, "hostname {host}");
    let o = run(e.docker().args(["exec", "box", "/probe", "exit", "7"]));
    assert_eq!(o.status.code(), Some(7), "stderr: {}", stderr(&o));
    let o = run(e.docker().args(["exec", "box", "/nonexistent"]));
    assert_eq!(o.status.code(), Some(126), "stderr: {}", stderr(&o));

    let env = ok(e.docker().args([
        "exec", "-e", "X=1", "-w", "/tmp", "-u", "1000", "box", "/probe", "env", "--", "cwd", "--",
        "uid",
    ]));
    assert!(env.lines().any(|l| l == "X=1"), "{env}");
    assert!(env.lines().any(|l| l == "/tmp"), "{env}");
    assert!(env.lines().any(|l| l == "1000:1000"), "{env}");

    let mut child = e
        .docker()
        .args(["exec", "-i", "box", "/probe", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker exec -i");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"one\ntwo\n")
        .expect("write stdin");
    let o = child.wait_with_output().expect("docker exec -i output");
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "one\ntwo\n");

    let docker_host = e.host();
    let o = run(Command::new("script").args([
        "-qec",
        &format!("DOCKER_HOST={docker_host} docker exec -it box /probe echo in-a-tty"),
        "/dev/null",
    ]));
    assert!(
        o.status.success(),
        "stdout: {} stderr: {}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("in-a-tty\r\n"),
        "stdout: {:?}",
        stdout(&o)
    );

    // Detached: the process runs on; top sees it next to the main process.
    ok(e.docker()
        .args(["exec", "-d", "box", "/probe", "sleep", "30"]));
    let top = ok(e.docker().args(["top", "box"]));
    assert!(top.lines().next().unwrap_or("").starts_with("UID"), "{top}");
    assert!(
        top.contains("/probe sleep 120") && top.contains("/probe sleep 30"),
        "{top}"
    );
    // With ps options: the host's ps, kept to the container's rows.
    let top = ok(e.docker().args(["top", "box", "-o", "pid,args"]));
    let mut lines = top.lines();
    assert_eq!(
        lines
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["PID", "COMMAND"],
        "{top}"
    );
    let rest: Vec<&str> = lines.collect();
    assert_eq!(rest.len(), 2, "{top}");
    assert!(
        top.contains("/probe sleep 120") && top.contains("/probe sleep 30"),
        "{top}"
    );

    ok(e.docker().args(["stop", "-t", "0", "box"]));
    let o = run(e.docker().args(["exec", "box", "/probe", "echo"]));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("is not running"),
        "stderr: {}",
        stderr(&o)
    );
    let o = run(e.docker().args(["top", "box"]));
    assert!(
        stderr(&o).contains("is not running"),
        "stderr: {}",
        stderr(&o)
    );
}

#[test]
fn cp_both_ways_never_touches_the_host_through_symlinks() {
    let e = Engine::start();
    let img = e.load_fixture();
    let work = e.dir.path().join("cp");
    std::fs::create_dir_all(work.join("src/sub")).unwrap();
    std::fs::write(work.join("src/sub/a.txt"), "a-content").unwrap();
    std::fs::write(work.join("file.txt"), "host-file").unwrap();
    ok(e.docker()
        .args(["run", "-d", "--name", "box", &img, "/probe", "sleep", "120"]));

    // Host -> container, a file and a directory; then back.
    ok(e.docker()
        .arg("cp")
        .arg(work.join("file.txt"))
        .arg("box:/tmp/"));
    assert_eq!(
        ok(e.docker()
            .args(["exec", "box", "/probe", "read", "/tmp/file.txt"])),
        "host-file"
    );
    ok(e.docker()
        .arg("cp")
        .arg(work.join("src"))
        .arg("box:/tmp/src"));
    assert_eq!(
        ok(e.docker()
            .args(["exec", "box", "/probe", "read", "/tmp/src/sub/a.txt"])),
        "a-content"
    );
    ok(e.docker()
        .arg("cp")
        .arg("box:/tmp/src")
        .arg(work.join("back")));
    assert_eq!(
        std::fs::read_to_string(work.join("back/sub/a.txt")).unwrap(),
        "a-content"
    );
    ok(e.docker()
        .arg("cp")
        .arg("box:/probe")
        .arg(work.join("probe-copy")));
    assert!(std::fs::metadata(work.join("probe-copy")).unwrap().len() > 1000);
    let o = run(e.docker().args(["cp", "box:/nonexistent", "-"]));
    assert!(
        stderr(&o).contains("Could not find the file /nonexistent in container box"),
        "{}",
        stderr(&o)
    );

    // The container plants symlinks to host paths (docker cp copies links as links).
    let links = work.join("links");
    std::fs::create_dir_all(&links).unwrap();
    let canary = work.join("canary");
    std::fs::create_dir_all(&canary).unwrap();
    std::fs::write(canary.join("secret"), "host-secret").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", links.join("shadowlink")).unwrap();
    std::os::unix::fs::symlink(&canary, links.join("dirlink")).unwrap();
    ok(e.docker()
        .arg("cp")
        .arg(links.join("shadowlink"))
        .arg("box:/shadowlink"));
    ok(e.docker()
        .arg("cp")
        .arg(links.join("dirlink"))
        .arg("box:/dirlink"));

    // Reading through them resolves inside the container: no host file.
    let o = run(e
        .docker()
        .arg("cp")
        .arg("-L")
        .arg("box:/shadowlink")
        .arg(work.join("got-shadow")));
    assert!(
        !o.status.success(),
        "read the host's /etc/shadow: {}",
        stdout(&o)
    );
    assert!(!work.join("got-shadow").exists());
    let o = run(e
        .docker()
        .arg("cp")
        .arg("box:/dirlink/secret")
        .arg(work.join("got-secret")));
    assert!(!o.status.success());
    assert!(!work.join("got-secret").exists());
    // The link itself comes out as a link.
    ok(e.docker()
        .arg("cp")
        .arg("box:/shadowlink")
        .arg(work.join("link-out")));
    assert!(std::fs::symlink_metadata(work.join("link-out"))
        .unwrap()
        .file_type()
        .is_symlink());

    // Writing through them resolves inside the container's root: the link's
    // target does not exist there, so the copy fails and the host is untouched.
    let shadow_before = std::fs::read("/etc/shadow").ok();
    let o = run(e
        .docker()
        .arg("cp")
        .arg(work.join("file.txt"))
        .arg("box:/dirlink/"));
    assert!(
        !o.status.success(),
        "copied through a link to a host directory"
    );
    assert_eq!(
        std::fs::read_dir(&canary).unwrap().count(),
        1,
        "host directory written"
    );
    let _ = run(e
        .docker()
        .arg("cp")
        .arg(work.join("file.txt"))
        .arg("box:/shadowlink"));
    assert_eq!(
        std::fs::read("/etc/shadow").ok(),
        shadow_before,
        "host /etc/shadow changed"
    );

    // A stopped container: its root is mounted for the copy only.
    ok(e.docker().args(["stop", "-t", "0", "box"]));
    ok(e.docker()
        .arg("cp")
        .arg(work.join("file.txt"))
        .arg("box:/root/when-stopped.txt"));
    ok(e.docker()
        .arg("cp")
        .arg("box:/root/when-stopped.txt")
        .arg(work.join("out-stopped.txt")));
    assert_eq!(
        std::fs::read_to_string(work.join("out-stopped.txt")).unwrap(),
        "host-file"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&e.data_root.display().to_string()),
        "a stopped container's root stayed mounted"
    );
}

#[test]
fn export_rename_prune_and_df() {
    let e = Engine::start();
    let img = e.load_fixture();
    ok(e.docker().args([
        "create", "--name", "first", "--label", "keep=no", &img, "/probe", "exit", "0",
    ]));
    let export = e.dir.path().join("export.tar");
    ok(e.docker().args(["export", "-o"]).arg(&export).arg("first"));
    let list = ok(Command::new("tar").arg("tf").arg(&export));
    assert!(list.lines().any(|l| l == "probe"), "export: {list}");
    assert!(
        list.lines().any(|l| l.starts_with("data/")),
        "export: {list}"
    );

    ok(e.docker().args(["rename", "first", "second"]));
    let names = ok(e.docker().args(["ps", "-a", "--format", "{{.Names}}"]));
    assert_eq!(names, "second");
    ok(e.docker()
        .args(["create", "--name", "third", &img, "/probe", "exit", "0"]));
    let o = run(e.docker().args(["rename", "third", "second"]));
    assert!(stderr(&o).contains("is already in use"), "{}", stderr(&o));

    let df = ok(e.docker().args(["system", "df"]));
    assert!(
        df.contains("Images") && df.contains("Containers") && df.contains("Local Volumes"),
        "{df}"
    );
    let size = ok(e
        .docker()
        .args(["inspect", "--size", "--format", "{{.SizeRootFs}}", "second"]));
    assert!(size.parse::<u64>().unwrap_or(0) > 0, "size {size}");

    let pruned = ok(e
        .docker()
        .args(["container", "prune", "-f", "--filter", "label=keep=no"]));
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    let names = ok(e.docker().args(["ps", "-a", "--format", "{{.Names}}"]));
    assert_eq!(names, "third");
}
