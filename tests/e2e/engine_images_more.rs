//! Image commands beyond load/save: `docker import`, `docker history`,
//! `docker image prune`, `docker commit --change`, and `docker pull` without
//! a registry, with the real docker CLI against `shipshape-engine`. Needs root.

use shipshape_tests::{ok, run, stderr, Engine};

/// A filesystem tarball holding the probe binary (taken out of the fixture
/// image with `docker export`) and one data file.
fn rootfs_tar(e: &Engine) -> std::path::PathBuf {
    let cid = ok(e.docker().args(["create", "probe:e2e", "/probe", "echo"]));
    let exported = e.dir.path().join("exported.tar");
    ok(e.docker().args(["export", "-o"]).arg(&exported).arg(&cid));
    ok(e.docker().args(["rm", &cid]));
    exported
}

#[test]
fn import_with_changes_history_and_run() {
    let e = Engine::start();
    e.load_fixture();
    let tar = rootfs_tar(&e);
    let id = ok(e
        .docker()
        .args([
            "import",
            "--change",
            "CMD [\"/probe\", \"env\"]",
            "--change",
            "ENV IMPORTED=yes",
            "--change",
            "WORKDIR /srv",
            "-m",
            "imported for e2e",
        ])
        .arg(&tar)
        .arg("imported:e2e"));
    assert!(id.starts_with("sha256:"), "import said: {id}");
    let env = ok(e.docker().args(["run", "--rm", "imported:e2e"]));
    assert!(env.contains("IMPORTED=yes"), "env: {env}");
    let wd = ok(e.docker().args([
        "image",
        "inspect",
        "--format",
        "{{.Config.WorkingDir}} {{.Comment}}",
        "imported:e2e",
    ]));
    assert_eq!(wd, "/srv imported for e2e");

    let hist = ok(e.docker().args([
        "history",
        "--format",
        "{{.ID}}|{{.Comment}}",
        "imported:e2e",
    ]));
    assert_eq!(hist.lines().count(), 1, "history: {hist}");
    assert!(hist.ends_with("|imported for e2e"), "history: {hist}");

    // A change that is not allowed is refused with dockerd's message.
    let o = run(e
        .docker()
        .args(["import", "--change", "FROM scratch"])
        .arg(&tar));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("from is not a valid change command"),
        "{}",
        stderr(&o)
    );

    // commit --change uses the same instructions.
    ok(e.docker().args([
        "run",
        "--name",
        "c1",
        "probe:e2e",
        "/probe",
        "write",
        "/committed",
        "yes",
    ]));
    ok(e.docker().args([
        "commit",
        "--change",
        "CMD [\"/probe\", \"read\", \"/committed\"]",
        "c1",
        "committed:e2e",
    ]));
    ok(e.docker().args(["rm", "c1"]));
    assert_eq!(ok(e.docker().args(["run", "--rm", "committed:e2e"])), "yes");
    let hist = ok(e.docker().args(["history", "-q", "committed:e2e"]));
    assert_eq!(hist.lines().count(), 2, "history: {hist}");
}

#[test]
fn image_prune_removes_dangling_only() {
    let e = Engine::start();
    e.load_fixture();
    let tar = rootfs_tar(&e);
    // Importing twice under one tag leaves the first image dangling.
    let first = ok(e.docker().arg("import").arg(&tar).arg("prune:me"));
    ok(e.docker()
        .args(["import", "--change", "ENV X=1"])
        .arg(&tar)
        .arg("prune:me"));
    let out = ok(e.docker().args(["image", "prune", "-f"]));
    assert!(
        out.contains(&format!("deleted: {first}")),
        "prune said: {out}"
    );
    let o = run(e.docker().args(["image", "inspect", &first]));
    assert!(!o.status.success(), "dangling image still there");
    // Tagged images stay.
    ok(e.docker().args(["image", "inspect", "prune:me"]));
    ok(e.docker().args(["image", "inspect", "probe:e2e"]));

    // -a takes unused tagged images too, but not one a container uses.
    let cid = ok(e.docker().args(["create", "probe:e2e", "/probe", "echo"]));
    let out = ok(e.docker().args(["image", "prune", "-a", "-f"]));
    assert!(out.contains("untagged: prune:me"), "prune said: {out}");
    ok(e.docker().args(["image", "inspect", "probe:e2e"]));
    ok(e.docker().args(["rm", &cid]));
}

#[test]
fn pull_without_registry_fails_like_dockerd() {
    let e = Engine::start();
    let o = run(e.docker().args(["pull", "nosuchimage"]));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("Error response from daemon: Get \"https://registry-1.docker.io/v2/\""),
        "stderr: {}",
        stderr(&o)
    );
    let o = run(e.docker().args(["run", "--rm", "nosuchimage"]));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("Unable to find image 'nosuchimage:latest' locally"),
        "{err}"
    );
    assert!(err.contains("registry-1.docker.io"), "{err}");
}
