//! The real docker CLI against `shipshape-engine`: volumes (`docker volume`,
//! `-v name:/path`, `--mount`, anonymous volumes) and tmpfs mounts.

use shipshape_tests::{ok, run, stderr, Engine};

#[test]
fn named_volume_outlives_its_container() {
    let e = Engine::start();
    let img = e.load_fixture();
    assert_eq!(
        ok(e.docker()
            .args(["volume", "create", "--label", "team=a", "keep"])),
        "keep"
    );
    let ls = ok(e.docker().args(["volume", "ls", "--format", "{{.Name}}"]));
    assert_eq!(ls, "keep");
    let labels = ok(e.docker().args([
        "volume",
        "inspect",
        "--format",
        "{{.Labels.team}} {{.Driver}}",
        "keep",
    ]));
    assert_eq!(labels, "a local");

    // A new volume gets the image's content at the mount path, once.
    let listed = ok(e.docker().args([
        "run",
        "--rm",
        "-v",
        "keep:/data",
        &img,
        "/probe",
        "ls",
        "/data",
        "--",
        "write",
        "/data/mine",
        "kept",
    ]));
    assert!(listed.lines().any(|l| l == "alpha"), "{listed}");
    let got = ok(e.docker().args([
        "run",
        "--rm",
        "-v",
        "keep:/data:ro",
        &img,
        "/probe",
        "read",
        "/data/mine",
    ]));
    assert_eq!(got, "kept");
    let o = run(e.docker().args([
        "run",
        "--rm",
        "-v",
        "keep:/data:ro",
        &img,
        "/probe",
        "write",
        "/data/x",
        "y",
    ]));
    assert!(!o.status.success(), "wrote to a read-only volume");

    // In use: removal refused; after the container goes, allowed.
    ok(e.docker().args([
        "run",
        "-d",
        "--name",
        "user",
        "-v",
        "keep:/data",
        &img,
        "/probe",
        "sleep",
        "60",
    ]));
    let o = run(e.docker().args(["volume", "rm", "keep"]));
    assert!(stderr(&o).contains("volume is in use"), "{}", stderr(&o));
    let mounts = ok(e.docker().args([
        "inspect",
        "--format",
        "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}",
        "user",
    ]));
    assert_eq!(mounts, "volume keep /data");
    // docker cp sees the volume, as in dockerd.
    assert!(run(e.docker().args(["cp", "user:/data/mine", "-"]))
        .status
        .success());
    ok(e.docker().args(["rm", "-f", "user"]));
    ok(e.docker().args(["volume", "rm", "keep"]));
    assert_eq!(ok(e.docker().args(["volume", "ls", "-q"])), "");
    let o = run(e.docker().args(["volume", "inspect", "keep"]));
    assert!(!o.status.success());
}

#[test]
fn anonymous_volumes_mount_and_tmpfs() {
    let e = Engine::start();
    let img = e.load_fixture();
    // An anonymous volume: kept by plain rm, removed by rm -v.
    ok(e.docker().args([
        "run",
        "--name",
        "anon",
        "-v",
        "/scratch",
        &img,
        "/probe",
        "write",
        "/scratch/f",
        "x",
    ]));
    assert_eq!(
        ok(e.docker().args(["volume", "ls", "-q"])).lines().count(),
        1
    );
    ok(e.docker().args(["rm", "-v", "anon"]));
    assert_eq!(ok(e.docker().args(["volume", "ls", "-q"])), "");

    // --mount: volume (created on the fly), bind, tmpfs.
    let listed = ok(e.docker().args([
        "run",
        "--rm",
        "--mount",
        "type=volume,source=mounted,target=/data",
        &img,
        "/probe",
        "ls",
        "/data",
    ]));
    assert!(listed.lines().any(|l| l == "alpha"), "{listed}");
    let host = e.dir.path().join("bindsrc");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("h.txt"), "from-host").unwrap();
    let bind = format!("type=bind,source={},target=/b,readonly", host.display());
    assert_eq!(
        ok(e.docker()
            .args(["run", "--rm", "--mount", &bind, &img, "/probe", "read", "/b/h.txt"])),
        "from-host"
    );
    let t = ok(e.docker().args([
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t",
        &img,
        "/probe",
        "write",
        "/t/a",
        "in-tmpfs",
        "--",
        "read",
        "/t/a",
    ]));
    assert_eq!(t, "in-tmpfs");

    // --tmpfs works even on a read-only root, and leaves nothing behind.
    let t = ok(e.docker().args([
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/run:size=1m",
        &img,
        "/probe",
        "write",
        "/run/x",
        "y",
        "--",
        "read",
        "/run/x",
    ]));
    assert_eq!(t, "y");

    // prune (API >= 1.42 prunes anonymous volumes only unless --all).
    let pruned = ok(e.docker().args(["volume", "prune", "-f"]));
    assert!(!pruned.contains("mounted"), "{pruned}");
    ok(e.docker().args(["volume", "prune", "-af"]));
    assert_eq!(ok(e.docker().args(["volume", "ls", "-q"])), "");
}
