//! Hostile input against `shipshape-engine`, checked from the host: tars
//! whose entries climb out, links to host files, device nodes and huge
//! headers (load, import, build, `cp` in), container symlinks to host paths
//! during `cp` both ways, a container swapping a directory for a symlink
//! while `cp` runs, oversized JSON. After every case a canary directory on
//! the host must be untouched, no response may carry the canary's secret,
//! and the engine must still answer. The answers themselves (status and
//! message, as dockerd gives them) are the harness's `hostile/` scenarios,
//! run here too. Needs root, curl and the docker CLI.

#[path = "../../harness/src/scenarios/hostile/tar_writer.rs"]
mod tar_writer;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use shipshape_tests::{harness_bin, ok, run, stderr, stdout, Engine};
use tar_writer::{docker_archive, Kind, RawTar};

/// A host directory that hostile input aims at, with a secret in it.
struct Canary {
    dir: tempfile::TempDir,
    secret: String,
}

impl Canary {
    fn new() -> Canary {
        let dir = tempfile::Builder::new()
            .prefix("shipshape-canary-")
            .tempdir_in("/tmp")
            .expect("canary dir");
        let secret = format!("CANARY-SECRET-{}", std::process::id());
        fs::write(dir.path().join("secret"), &secret).expect("canary secret");
        Canary { dir, secret }
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 temp path")
    }

    /// Nothing was written into the canary and its secret did not leak.
    fn check(&self, case: &str, response: &str) {
        let names: Vec<String> = fs::read_dir(self.dir.path())
            .expect("canary readable")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["secret"],
            "{case}: something was written to the canary"
        );
        let content = fs::read_to_string(self.dir.path().join("secret")).expect("secret");
        assert_eq!(
            content, self.secret,
            "{case}: the canary's secret was changed"
        );
        assert!(
            !response.contains(&self.secret),
            "{case}: the response leaked the host file: {response}"
        );
    }
}

/// One API call through curl: (status, body).
fn api(e: &Engine, method: &str, path: &str, body: Option<(&[u8], &str)>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "120", "-o", "-", "-w", "\n%{http_code}"])
        .arg("--unix-socket")
        .arg(&e.socket);
    // `-X HEAD` would wait for a body; `--head` knows there is none (the
    // headers it prints are not checked: HEAD callers look at the status).
    if method == "HEAD" {
        cmd.arg("--head");
    } else {
        cmd.args(["-X", method]);
    }
    let file = e.dir.path().join("request-body");
    if let Some((data, content_type)) = body {
        fs::write(&file, data).expect("request body file");
        cmd.args(["-H", &format!("Content-Type: {content_type}")])
            .arg("--data-binary")
            .arg(format!("@{}", file.display()));
    }
    cmd.arg(format!("http://engine/v1.41{path}"));
    let out = stdout(&run(&mut cmd));
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn sha256_of(data: &[u8], scratch: &Path) -> String {
    let f = scratch.join("sha-input");
    fs::write(&f, data).expect("sha input");
    let out = ok(Command::new("sha256sum").arg(&f));
    format!(
        "sha256:{}",
        out.split_whitespace().next().unwrap_or_default()
    )
}

/// The hostile tars, each aimed at the canary. Names are relative to
/// whatever root they are extracted into.
fn hostile_tars(canary: &Canary) -> Vec<(&'static str, Vec<u8>)> {
    let c = canary.path();
    let secret = format!("{c}/secret");
    let climb = format!("../../../../../../../..{c}");
    let mut cases = Vec::new();
    let mut add = |name: &'static str, entries: Vec<(String, Kind)>| {
        let mut t = RawTar::new();
        for (n, k) in entries {
            t.entry(&n, k);
        }
        cases.push((name, t.finish()));
    };
    add(
        "dotdot",
        vec![(format!("{climb}/dotdot"), Kind::File(b"pwned"))],
    );
    add(
        "absolute",
        vec![(format!("{c}/absolute"), Kind::File(b"pwned"))],
    );
    add(
        "hardlink-absolute",
        vec![("h".into(), Kind::Hardlink(&secret))],
    );
    let climb_secret = format!("{climb}/secret");
    add(
        "hardlink-climb",
        vec![("h".into(), Kind::Hardlink(&climb_secret))],
    );
    add(
        "symlink-absolute-then-file",
        vec![
            ("evil".into(), Kind::Symlink(c)),
            ("evil/pwned".into(), Kind::File(b"pwned")),
        ],
    );
    add(
        "symlink-climb-then-file",
        vec![
            ("evil".into(), Kind::Symlink(&climb)),
            ("evil/pwned".into(), Kind::File(b"pwned")),
        ],
    );
    add(
        "symlink-root-then-file",
        vec![
            ("rootlink".into(), Kind::Symlink("/")),
            (format!("rootlink{c}/pwned"), Kind::File(b"pwned")),
        ],
    );
    add(
        "symlink-to-secret-then-overwrite",
        vec![
            ("s".into(), Kind::Symlink(&secret)),
            ("s".into(), Kind::File(b"pwned")),
        ],
    );
    add(
        "devices",
        vec![
            ("null".into(), Kind::Char(1, 3)),
            ("sda".into(), Kind::Block(8, 0)),
        ],
    );
    let mut t = RawTar::new();
    t.special(b'L', 1 << 30, &[b'a'; 4096]);
    cases.push(("huge-header-cut-short", t.truncated()));
    let mut t = RawTar::new();
    t.gnu_long_name(&format!("{c}/{}", "a".repeat((1 << 20) + 1)))
        .entry("x", Kind::File(b"x"));
    cases.push(("header-too-long", t.finish()));
    cases
}

fn alive(e: &Engine) {
    let (status, body) = api(e, "GET", "/_ping", None);
    assert_eq!(
        (status, body.as_str()),
        (200, "OK"),
        "the engine stopped answering"
    );
}

#[test]
fn hostile_tars_stay_inside_for_load_import_build_and_cp() {
    let e = Engine::start();
    let img = e.load_fixture();
    let canary = Canary::new();
    let id = ok(e.docker().args(["create", &img, "/probe", "sleep", "60"]));
    for (case, tar) in hostile_tars(&canary) {
        let digest = sha256_of(&tar, e.dir.path());
        let archive = docker_archive(&tar, &digest, "hostile:layer");
        let requests: Vec<(&str, String, Vec<u8>)> = vec![
            ("load a layer", "/images/load?quiet=1".into(), archive),
            (
                "load an archive",
                "/images/load?quiet=1".into(),
                tar.clone(),
            ),
            (
                "import",
                "/images/create?fromSrc=-&repo=hostile&tag=import".into(),
                tar.clone(),
            ),
            (
                "cp into /tmp",
                format!("/containers/{id}/archive?path=/tmp"),
                tar.clone(),
            ),
            (
                "cp into /",
                format!("/containers/{id}/archive?path=/"),
                tar.clone(),
            ),
        ];
        for (what, path, body) in requests {
            let method = if what.starts_with("cp") {
                "PUT"
            } else {
                "POST"
            };
            let (status, resp) = api(&e, method, &path, Some((&body, "application/x-tar")));
            let label = format!("{case} via {what}");
            assert!(
                matches!(status, 200 | 500),
                "{label}: status {status}: {resp}"
            );
            canary.check(&label, &resp);
            assert!(!resp.contains("panicked"), "{label}: {resp}");
        }
        // A build context: the Dockerfile first, then the hostile entries
        // (the tar is re-made so the Dockerfile comes first).
        let mut ctx = RawTar::new();
        ctx.entry("Dockerfile", Kind::File(b"FROM scratch\nCOPY . /\n"));
        let mut body = ctx.truncated();
        body.extend_from_slice(&tar);
        let (status, resp) = api(
            &e,
            "POST",
            "/build?t=hostile:build&rm=1",
            Some((&body, "application/x-tar")),
        );
        assert!(
            matches!(status, 200 | 500),
            "{case} via build: {status} {resp}"
        );
        canary.check(&format!("{case} via build"), &resp);
        for reference in ["hostile:layer", "hostile:import", "hostile:build"] {
            api(&e, "DELETE", &format!("/images/{reference}?force=1"), None);
        }
        alive(&e);
    }
    // Device nodes are not created, not even inside the container.
    for dev in ["/null", "/sda", "/tmp/null", "/tmp/sda"] {
        let (status, _) = api(
            &e,
            "HEAD",
            &format!("/containers/{id}/archive?path={dev}"),
            None,
        );
        assert_eq!(status, 404, "{dev} was created");
    }
    // What dockerd would have confined is inside the container's root.
    let (status, _) = api(
        &e,
        "HEAD",
        &format!("/containers/{id}/archive?path={}/pwned", canary.path()),
        None,
    );
    assert_eq!(status, 200, "symlink-root-then-file lands in the container");
    ok(e.docker().args(["rm", "-f", &id]));
}

/// Plants links in a running container: `/esc -> <canary>`, `/rel ->
/// ../../..<canary>`, `/secretlink -> <canary>/secret`.
fn plant_links(e: &Engine, id: &str, canary: &Canary) {
    let c = canary.path();
    let secret = format!("{c}/secret");
    let climb = format!("../../../../../..{c}");
    let mut t = RawTar::new();
    t.entry("esc", Kind::Symlink(c))
        .entry("rel", Kind::Symlink(&climb))
        .entry("secretlink", Kind::Symlink(&secret));
    let (status, body) = api(
        e,
        "PUT",
        &format!("/containers/{id}/archive?path=/"),
        Some((&t.finish(), "application/x-tar")),
    );
    assert_eq!(status, 200, "planting links: {body}");
}

#[test]
fn cp_through_container_symlinks_stays_in_the_container() {
    let e = Engine::start();
    let img = e.load_fixture();
    let canary = Canary::new();
    let id = ok(e
        .docker()
        .args(["run", "-d", &img, "/probe", "sleep", "120"]));
    plant_links(&e, &id, &canary);
    let out_dir = e.dir.path().join("out");
    fs::create_dir_all(&out_dir).expect("out dir");

    // Reading: the links resolve inside the container, where the canary
    // path does not exist.
    for path in [
        "/esc/secret",
        "/rel/secret",
        "/secretlink/",
        "/esc/",
        "/rel/.",
    ] {
        for method in ["GET", "HEAD"] {
            let (status, body) = api(
                &e,
                method,
                &format!("/containers/{id}/archive?path={path}"),
                None,
            );
            assert_eq!(status, 404, "{method} {path}: {body}");
            canary.check(&format!("{method} {path}"), &body);
        }
        let o = run(e.docker().args([
            "cp",
            &format!("{id}:{path}"),
            out_dir.to_str().unwrap_or("/nonexistent"),
        ]));
        assert!(!o.status.success(), "docker cp {path} out succeeded");
        canary.check(
            &format!("docker cp {path} out"),
            &(stdout(&o) + &stderr(&o)),
        );
    }
    // The link itself is copied as a link, its target only a string.
    let o = run(e.docker().args([
        "cp",
        &format!("{id}:/secretlink"),
        out_dir.join("copied").to_str().unwrap_or("/nonexistent"),
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let copied = out_dir.join("copied");
    assert!(
        fs::symlink_metadata(&copied)
            .expect("copied")
            .file_type()
            .is_symlink(),
        "the link was followed on the host"
    );
    fs::remove_file(&copied).expect("remove the copied link");

    // Writing through the links: not found, or refused, never the host.
    let host_file = e.dir.path().join("payload");
    fs::write(&host_file, "pwned").expect("payload");
    for dest in ["/esc", "/esc/", "/rel/", "/secretlink"] {
        let o = run(e.docker().args([
            "cp",
            host_file.to_str().unwrap_or("/nonexistent"),
            &format!("{id}:{dest}"),
        ]));
        canary.check(
            &format!("docker cp in to {dest}"),
            &(stdout(&o) + &stderr(&o)),
        );
    }
    for (dest, entry) in [("/", "esc/pwned"), ("/", "rel/pwned"), ("/esc", "pwned")] {
        let mut t = RawTar::new();
        t.entry(entry, Kind::File(b"pwned"));
        let (status, body) = api(
            &e,
            "PUT",
            &format!("/containers/{id}/archive?path={dest}"),
            Some((&t.finish(), "application/x-tar")),
        );
        assert_ne!(status, 200, "PUT {entry} into {dest} succeeded");
        canary.check(&format!("PUT {entry} into {dest}"), &body);
    }

    // Once the link's target exists inside the container, writes through
    // it land there: in the container's copy of the path.
    let mut t = RawTar::new();
    t.entry(&format!("{}/", &canary.path()[1..]), Kind::Dir);
    let (status, body) = api(
        &e,
        "PUT",
        &format!("/containers/{id}/archive?path=/"),
        Some((&t.finish(), "application/x-tar")),
    );
    assert_eq!(status, 200, "{body}");
    ok(e.docker().args([
        "cp",
        host_file.to_str().unwrap_or("/nonexistent"),
        &format!("{id}:/esc/inside"),
    ]));
    canary.check("docker cp through an existing link", "");
    let back = ok(e.docker().args([
        "exec",
        &id,
        "/probe",
        "read",
        &format!("{}/inside", canary.path()),
    ]));
    assert_eq!(back, "pwned");
    ok(e.docker().args(["rm", "-f", &id]));
}

#[test]
fn cp_while_the_container_swaps_a_directory_for_a_symlink() {
    let e = Engine::start();
    let img = e.load_fixture();
    let canary = Canary::new();
    let id = ok(e
        .docker()
        .args(["run", "-d", &img, "/probe", "sleep", "300"]));
    let pid = ok(e.docker().args(["inspect", "-f", "{{.State.Pid}}", &id]));
    // The container's own view of its files: changes here are what the
    // container's processes would make.
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    let work = root.join("tmp/work");
    fs::create_dir_all(work.join("d")).expect("work dir");
    fs::write(work.join("d/f"), "inside").expect("work file");

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let target = canary.path().to_string();
        let work = work.clone();
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // d is a directory, then for a moment a symlink to the canary.
                if fs::rename(work.join("d"), work.join("d.real")).is_ok() {
                    let _ = std::os::unix::fs::symlink(&target, work.join("d"));
                    let _ = fs::remove_file(work.join("d"));
                    let _ = fs::rename(work.join("d.real"), work.join("d"));
                    swaps += 1;
                }
                // Leave the engine some CPU on a small machine.
                std::thread::yield_now();
            }
            swaps
        })
    };
    let mut t = RawTar::new();
    t.entry("pwned", Kind::File(b"pwned"));
    let into_d = t.finish();
    let mut t = RawTar::new();
    t.entry("d/pwned", Kind::File(b"pwned"));
    let through_d = t.finish();
    for i in 0..60 {
        let cases = [
            ("PUT", "/tmp/work/d", Some(&into_d)),
            ("PUT", "/tmp/work", Some(&through_d)),
            ("GET", "/tmp/work/d/secret", None),
            ("GET", "/tmp/work/d/", None),
            ("GET", "/tmp/work", None),
            ("HEAD", "/tmp/work/d/secret", None),
        ];
        for (method, path, body) in cases {
            let (status, resp) = api(
                &e,
                method,
                &format!("/containers/{id}/archive?path={path}"),
                body.map(|b| (b.as_slice(), "application/x-tar")),
            );
            assert!(
                matches!(status, 200 | 404 | 500),
                "{method} {path} (round {i}): {status} {resp}"
            );
            canary.check(&format!("{method} {path} (round {i})"), &resp);
        }
        if i % 20 == 0 {
            let out = e.dir.path().join(format!("out-{i}"));
            let o = run(e.docker().args([
                "cp",
                &format!("{id}:/tmp/work/d"),
                out.to_str().unwrap_or("/nonexistent"),
            ]));
            canary.check(
                "docker cp out during the swaps",
                &(stdout(&o) + &stderr(&o)),
            );
            // Caught as a symlink, d is copied as one (its target only a
            // string); caught as a directory, it holds the container's file.
            if let Ok(m) = fs::symlink_metadata(&out) {
                if m.is_dir() {
                    // Partial at worst (d moved during the walk), never the canary.
                    assert!(!out.join("secret").exists(), "the canary was copied out");
                    for f in fs::read_dir(&out).expect("copied dir").flatten() {
                        let text = fs::read_to_string(f.path()).unwrap_or_default();
                        canary.check("a file copied out during the swaps", &text);
                    }
                } else {
                    assert!(m.file_type().is_symlink(), "d copied out as {m:?}");
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().expect("swapper thread");
    assert!(swaps > 0, "the container never swapped the directory");
    canary.check("after the race", "");
    alive(&e);
    ok(e.docker().args(["rm", "-f", &id]));
}

#[test]
fn oversized_json_is_taken_like_dockerd_up_to_a_bound() {
    let e = Engine::start();
    let img = e.load_fixture();
    // dockerd creates a container from a 50 MB body (a huge label).
    let big = format!(
        r#"{{"Image":"{img}","Cmd":["/probe","exit","0"],"Labels":{{"big":"{}"}}}}"#,
        "x".repeat(50_000_000)
    );
    let (status, body) = api(
        &e,
        "POST",
        "/containers/create",
        Some((big.as_bytes(), "application/json")),
    );
    assert_eq!(status, 201, "{}", &body[..body.len().min(300)]);
    // Past the engine's bound: a clear 400, and the engine carries on.
    let huge = format!(
        r#"{{"Image":"{img}","Labels":{{"big":"{}"}}}}"#,
        "x".repeat(70 << 20)
    );
    let (status, body) = api(
        &e,
        "POST",
        "/containers/create",
        Some((huge.as_bytes(), "application/json")),
    );
    assert_eq!(status, 400);
    assert!(body.contains("request body too large"), "{body}");
    alive(&e);
}

#[test]
fn the_hostile_harness_scenarios_pass_against_the_engine() {
    let e = Engine::start();
    let o =
        run(Command::new(harness_bin()).args(["run", "--host", &e.host(), "--filter", "hostile/"]));
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    assert!(stdout(&o).contains(" 0 failed"), "{}", stdout(&o));
}

#[test]
fn cp_into_volumes_keeps_read_only_volumes_read_only() {
    let e = Engine::start();
    let img = e.load_fixture();
    let id = ok(e.docker().args([
        "run",
        "-d",
        "-v",
        "hostile-ro:/ro:ro",
        "-v",
        "hostile-rw:/rw",
        &img,
        "/probe",
        "sleep",
        "120",
    ]));
    let payload = e.dir.path().join("payload");
    fs::write(&payload, "payload").expect("payload");
    let src = payload.to_str().unwrap_or("/nonexistent");
    let mountpoint = |v: &str| {
        PathBuf::from(ok(e.docker().args([
            "volume",
            "inspect",
            "-f",
            "{{.Mountpoint}}",
            v,
        ])))
    };
    // Running and stopped: the volumes are mounted for the copy, the
    // read-only one read-only.
    for round in ["running", "stopped"] {
        ok(e.docker().args(["cp", src, &format!("{id}:/rw/{round}")]));
        let o = run(e.docker().args(["cp", src, &format!("{id}:/ro/{round}")]));
        assert!(
            !o.status.success(),
            "{round}: wrote into a read-only volume"
        );
        assert_eq!(
            fs::read_to_string(mountpoint("hostile-rw").join(round)).unwrap_or_default(),
            "payload",
            "{round}: the copy did not land in the volume"
        );
        assert!(!mountpoint("hostile-ro").join(round).exists(), "{round}");
        ok(e.docker().args(["stop", "-t", "0", &id]));
    }
    ok(e.docker().args(["rm", "-f", &id]));
}
