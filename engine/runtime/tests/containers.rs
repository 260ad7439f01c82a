//! End-to-end tests of spawn/supervise against real namespaces (need root).

mod common;

use std::fs;
use std::io::Write;

use common::{finish, fixture, read_all, run, Container};
use shipshape_runtime::supervisor::ExitStatus;
use shipshape_runtime::{BindMount, ExecSpec, RuntimeError};

#[test]
fn runs_as_pid_1_of_its_own_namespace() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let out = run(f, &c.spec(&["sh", "-c", "echo $$"]));
    assert_eq!(out.stdout, "1\n");
    assert_eq!(out.status, ExitStatus::Exited(0));
}

#[test]
fn the_host_root_is_gone() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let out = run(f, &c.spec(&["ls", "/"]));
    let mut expected: Vec<String> = fs::read_dir(&f.layer)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .chain(["dev", "proc", "sys"].map(String::from))
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn proc_shows_only_the_container() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    // Globbing is done by sh itself (pid 1): no other process exists.
    let out = run(
        f,
        &c.spec(&["sh", "-c", "for p in /proc/[0-9]*; do echo $p; done"]),
    );
    assert_eq!(out.stdout, "/proc/1\n");
}

#[test]
fn exit_code_propagates() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let out = run(f, &c.spec(&["sh", "-c", "exit 7"]));
    assert_eq!(out.status, ExitStatus::Exited(7));
    assert_eq!(out.status.code(), 7);
}

#[test]
fn sigkill_gives_137() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let s = shipshape_runtime::spawn(&c.spec(&["sleep", "1000"])).unwrap();
    shipshape_runtime::kill(s.pid, shipshape_runtime::parse_signal("KILL").unwrap()).unwrap();
    let out = finish(f, s);
    assert_eq!(out.status, ExitStatus::Signaled(9));
    assert_eq!(out.status.code(), 137);
}

#[test]
fn stdout_and_stderr_are_separate() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let out = run(f, &c.spec(&["sh", "-c", "echo out; echo err >&2"]));
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
}

#[test]
fn stdin_is_forwarded_until_eof() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let mut spec = c.spec(&["cat"]);
    spec.open_stdin = true;
    let mut s = shipshape_runtime::spawn(&spec).unwrap();
    let mut stdin = s.stdin.take().expect("stdin");
    stdin.write_all(b"hello\nworld\n").unwrap();
    drop(stdin); // EOF: cat exits
    let out = finish(f, s);
    assert_eq!(out.stdout, "hello\nworld\n");
    assert_eq!(out.status, ExitStatus::Exited(0));
}

#[test]
fn without_open_stdin_stdin_is_empty() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let out = run(f, &c.spec(&["cat"]));
    assert_eq!(out.stdout, "");
    assert_eq!(out.status, ExitStatus::Exited(0));
}

#[test]
fn tty_mode() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let mut spec = c.spec(&[
        "sh",
        "-c",
        "test -t 0 && test -t 1 && test -t 2 && echo is-a-tty; echo err >&2",
    ]);
    spec.tty = true;
    spec.open_stdin = true;
    let s = shipshape_runtime::spawn(&spec).unwrap();
    assert!(s.stderr.is_none());
    shipshape_runtime::resize_tty(&s.stdout, 40, 120).unwrap();
    let out = finish(f, s);
    // The pty turns \n into \r\n, and stderr is merged.
    assert_eq!(out.stdout, "is-a-tty\r\nerr\r\n");
    assert_eq!(out.status, ExitStatus::Exited(0));
}

#[test]
fn hostname_is_set() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let out = run(f, &c.spec(&["hostname"]));
    assert_eq!(out.stdout, "testbox\n");
}

#[test]
fn user_by_numbers() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let mut spec = c.spec(&["sh", "-c", "id -u; id -g; id -G; echo $HOME"]);
    spec.user = "1000:1000".into();
    let out = run(f, &spec);
    assert_eq!(
        out.stdout, "1000\n1000\n1000\n/\n",
        "stderr: {}",
        out.stderr
    );
}

#[test]
fn user_by_name_from_the_images_passwd() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let mut spec = c.spec(&[
        "sh",
        "-c",
        "id -u; id -g; id -G; echo $HOME; echo hi > /dev/stdout",
    ]);
    spec.user = "alice".into();
    let out = run(f, &spec);
    assert_eq!(
        out.stdout, "1001\n1002\n1002 1500\n/home/alice\nhi\n",
        "stderr: {}",
        out.stderr
    );
}

#[test]
fn unknown_user_is_a_user_error() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let mut spec = c.spec(&["true"]);
    spec.user = "nobody-here".into();
    let err = shipshape_runtime::spawn(&spec).unwrap_err();
    assert!(matches!(err, RuntimeError::InvalidUser { .. }), "{err:?}");
    assert!(err.is_user_error());
}

#[test]
fn readonly_rootfs() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let mut spec = c.spec(&[
        "sh",
        "-c",
        "echo x > /newfile || echo failed; echo y > /dev/shm/ok && echo shm-ok",
    ]);
    spec.readonly_rootfs = true;
    spec.cwd = "/created/before/remount".into();
    let out = run(f, &spec);
    assert_eq!(out.stdout, "failed\nshm-ok\n", "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert!(!c.dir.path().join("upper/newfile").exists());
}

#[test]
fn writes_land_in_the_upper_dir() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let out = run(f, &c.spec(&["sh", "-c", "echo data > /tmp/written"]));
    assert_eq!(out.status, ExitStatus::Exited(0));
    assert_eq!(
        fs::read_to_string(c.dir.path().join("upper/tmp/written")).unwrap(),
        "data\n"
    );
    assert!(!f.layer.join("tmp/written").exists());
}

#[test]
fn bind_mounts() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("data.txt"), "from host\n").unwrap();
    let mut spec = c.spec(&[
        "sh",
        "-c",
        "cat /data/data.txt; echo new > /data/new.txt; cat /ro/data.txt; echo x > /ro/x || echo ro-failed",
    ]);
    spec.mounts = vec![
        BindMount {
            source: host.path().to_path_buf(),
            destination: "/data".into(),
            readonly: false,
            propagation: Default::default(),
        },
        BindMount {
            source: host.path().to_path_buf(),
            destination: "/ro".into(),
            readonly: true,
            propagation: Default::default(),
        },
    ];
    let out = run(f, &spec);
    assert_eq!(
        out.stdout, "from host\nfrom host\nro-failed\n",
        "stderr: {}",
        out.stderr
    );
    assert_eq!(
        fs::read_to_string(host.path().join("new.txt")).unwrap(),
        "new\n"
    );
    assert!(!host.path().join("x").exists());
}

#[test]
fn bind_mount_destination_cannot_escape_through_a_symlink() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    // The "image" has /escape -> <absolute host path>; inside the container that
    // must mean <rootfs>/<host path>, never the host directory itself.
    let victim = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(victim.path(), c.rootfs.join("escape")).unwrap();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("f"), "ok\n").unwrap();
    let mut spec = c.spec(&["cat", "/escape/sub/f"]);
    spec.mounts = vec![BindMount {
        source: src.path().to_path_buf(),
        destination: "/escape/sub".into(),
        readonly: true,
        propagation: Default::default(),
    }];
    let out = run(f, &spec);
    assert_eq!(out.stdout, "ok\n", "stderr: {}", out.stderr);
    assert!(
        !victim.path().join("sub").exists(),
        "mount escaped the rootfs"
    );
}

#[test]
fn missing_commands_are_exec_not_found() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    for cmd in ["no-such-command", "/bin/no-such-command"] {
        let err = shipshape_runtime::spawn(&c.spec(&[cmd])).unwrap_err();
        match &err {
            RuntimeError::ExecNotFound { path } => assert_eq!(path, cmd),
            other => panic!("{cmd}: unexpected {other:?}"),
        }
        assert!(err.is_user_error());
    }
    let err = shipshape_runtime::spawn(&c.spec(&["/etc"])).unwrap_err();
    assert!(
        matches!(err, RuntimeError::ExecPermission { .. }),
        "{err:?}"
    );
    let err = shipshape_runtime::spawn(&c.spec(&["/etc/passwd"])).unwrap_err();
    assert!(
        matches!(err, RuntimeError::ExecPermission { .. }),
        "{err:?}"
    );
}

#[test]
fn working_dir_is_created_and_must_be_a_directory() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let mut spec = c.spec(&["sh", "-c", "pwd"]);
    spec.cwd = "/work/dir".into();
    assert_eq!(run(f, &spec).stdout, "/work/dir\n");
    spec.cwd = "/etc/passwd".into();
    let err = shipshape_runtime::spawn(&spec).unwrap_err();
    assert!(
        matches!(err, RuntimeError::InvalidWorkingDir { .. }),
        "{err:?}"
    );
    spec.cwd = "relative".into();
    assert!(shipshape_runtime::spawn(&spec).unwrap_err().is_user_error());
}

#[test]
fn environment_and_default_home() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let mut spec = c.spec(&["sh", "-c", "echo $FOO $HOME"]);
    spec.env.push("FOO=bar baz".into());
    assert_eq!(run(f, &spec).stdout, "bar baz /root\n");
}

#[test]
fn only_stdio_fds_leak_into_the_container() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    // ls opens the directory itself as fd 3.
    let out = run(f, &c.spec(&["ls", "/proc/self/fd"]));
    assert_eq!(out.stdout, "0\n1\n2\n3\n");
}

#[test]
fn network_none_has_only_loopback() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let out = run(
        f,
        &c.spec(&["sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags"]),
    );
    assert_eq!(out.stdout, "lo\n0x9\n", "stderr: {}", out.stderr);
}

#[test]
fn dev_has_the_usual_nodes() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let out = run(
        f,
        &c.spec(&[
            "sh",
            "-c",
            "echo gone > /dev/null && ls /dev && test -c /dev/pts/ptmx && echo pts-ok",
        ]),
    );
    for node in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx", "fd", "stdout",
    ] {
        assert!(
            out.stdout.lines().any(|l| l == node),
            "missing /dev/{node}: {}",
            out.stdout
        );
    }
    assert!(out.stdout.ends_with("pts-ok\n"), "{}", out.stdout);
}

#[test]
fn capabilities_are_dockers_default_set() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let out = run(f, &c.spec(&["cat", "/proc/self/status"]));
    for set in ["CapBnd", "CapEff", "CapPrm"] {
        let line = format!("{set}:\t00000000a80425fb");
        assert!(
            out.stdout.lines().any(|l| l == line),
            "{set}: {}",
            out.stdout
        );
    }
    let mut spec = c.spec(&["cat", "/proc/self/status"]);
    spec.user = "1000".into();
    let out = run(f, &spec);
    assert!(
        out.stdout.lines().any(|l| l == "CapEff:\t0000000000000000"),
        "{}",
        out.stdout
    );
}

#[test]
fn plain_directory_rootfs_works() {
    // A copied root (the overlay fallback) is not a mount point; pivot_root
    // still needs one. Also exercises Supervisor::spawn_command + wait.
    let Some(f) = fixture() else { return };
    let dir = tempfile::tempdir_in(&f.scratch).unwrap();
    let root = dir.path().join("root");
    // Not Child::wait(): the reaper owns exit statuses.
    let cp_pid = f
        .supervisor
        .spawn_command(
            std::process::Command::new("cp")
                .arg("-a")
                .arg(&f.layer)
                .arg(&root),
        )
        .unwrap()
        .id() as i32;
    assert_eq!(f.supervisor.wait(cp_pid), ExitStatus::Exited(0));
    let mut spec = Container::new(f).spec(&["sh", "-c", "echo plain > /tmp/p; cat /tmp/p"]);
    spec.rootfs = root.clone();
    let out = run(f, &spec);
    assert_eq!(out.stdout, "plain\n", "stderr: {}", out.stderr);
    assert_eq!(fs::read_to_string(root.join("tmp/p")).unwrap(), "plain\n");
}

#[test]
fn watch_after_exit_still_reports() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let s = shipshape_runtime::spawn(&c.spec(&["sh", "-c", "exit 3"])).unwrap();
    let pid = s.pid;
    // Drain output first: the process has (almost certainly) been reaped before
    // watch() is called, exercising the unclaimed-status path. Either order
    // must work.
    let _ = read_all(s.stdout);
    let _ = s.stderr.map(read_all);
    assert_eq!(f.supervisor.wait(pid), ExitStatus::Exited(3));
}

#[test]
fn exec_in_a_running_container() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    let mut spec = c.spec(&["sh", "-c", "read line; echo got $line"]);
    spec.open_stdin = true;
    let mut main = shipshape_runtime::spawn(&spec).unwrap();
    let exec = ExecSpec {
        args: vec![
            "sh".into(),
            "-c".into(),
            "echo $$ > /dev/null; hostname; cat /proc/1/cmdline; echo; id -u; pwd; echo marker > /tmp/exec".into(),
        ],
        env: vec!["PATH=/bin:/usr/bin".into()],
        cwd: "/tmp".into(),
        user: "alice".into(),
        group_add: vec![],
        tty: false,
        open_stdin: false,
        cgroups: vec![],
        security: Default::default(),
    };
    let e = shipshape_runtime::exec_in(main.pid, &exec).unwrap();
    assert_ne!(e.pid, main.pid);
    let out = finish(f, e);
    assert_eq!(
        out.stdout, "testbox\nsh\0-c\0read line; echo got $line\0\n1001\n/tmp\n",
        "stderr: {}",
        out.stderr
    );
    assert_eq!(
        fs::read_to_string(c.dir.path().join("upper/tmp/exec")).unwrap(),
        "marker\n"
    );

    let mut exec_missing = exec.clone();
    exec_missing.args = vec!["nope".into()];
    let err = shipshape_runtime::exec_in(main.pid, &exec_missing).unwrap_err();
    assert!(matches!(err, RuntimeError::ExecNotFound { .. }), "{err:?}");

    let mut bad_cwd = exec.clone();
    bad_cwd.cwd = "/does/not/exist".into();
    let err = shipshape_runtime::exec_in(main.pid, &bad_cwd).unwrap_err();
    assert!(
        matches!(err, RuntimeError::InvalidWorkingDir { .. }),
        "{err:?}"
    );

    let mut tty = exec.clone();
    tty.args = vec!["sh".into(), "-c".into(), "test -t 1 && echo tty".into()];
    tty.tty = true;
    tty.user = String::new();
    let out = finish(f, shipshape_runtime::exec_in(main.pid, &tty).unwrap());
    assert_eq!(out.stdout, "tty\r\n");

    let mut stdin = main.stdin.take().unwrap();
    stdin.write_all(b"done\n").unwrap();
    drop(stdin);
    let out = finish(f, main);
    assert_eq!(out.stdout, "got done\n");
}

#[test]
fn exec_in_a_dead_pid_is_not_running() {
    let err = shipshape_runtime::exec_in(
        1 << 23,
        &ExecSpec {
            args: vec!["true".into()],
            env: vec![],
            cwd: String::new(),
            user: String::new(),
            group_add: vec![],
            tty: false,
            open_stdin: false,
            cgroups: vec![],
            security: Default::default(),
        },
    )
    .unwrap_err();
    assert!(matches!(err, RuntimeError::NotRunning { .. }), "{err:?}");
}
