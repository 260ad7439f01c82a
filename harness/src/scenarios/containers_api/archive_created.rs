//! `docker cp` into and out of a container that was created but never
//! started, through its volumes: dockerd mounts the container's volumes
//! (anonymous ones declared at create, named ones, binds) for the copy,
//! creating a mount point the image lacks, so what was copied in is in the
//! volume when the process starts. Read from dockerd 20.10.24 (2026-12-03)
//! with curl: `HEAD`, `PUT` and `GET /containers/{id}/archive` on `/vol1`
//! (`Volumes: {"/vol1": {}}`), `/vol2` (a named volume) and `/deep/bind` (a
//! bind of that volume's mount point, a path the image does not have) all
//! answer 200 before the first start; the started process reads every file.

use super::Made;
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome};
use crate::scenarios::api::tar_of;
use crate::scenarios::{scenario, Scenario};
use serde_json::json;
use std::io::Read;

const AREA: &str = "containers-api";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(AREA, "archive-created-volumes", true, created_volumes),
        scenario(
            AREA,
            "archive-created-volume-options",
            true,
            created_volume_options,
        ),
    ]
}

fn archive(id: &str, path: &str) -> String {
    format!("/containers/{}/archive?path={}", enc(id), enc(path))
}

/// The content of `name` in a tar answer, if it is there.
fn file_in_tar(body: &[u8], name: &str) -> Option<String> {
    let mut ar = tar::Archive::new(body);
    for entry in ar.entries().ok()? {
        let mut e = entry.ok()?;
        if e.path().ok()?.to_string_lossy() == name {
            let mut s = String::new();
            e.read_to_string(&mut s).ok()?;
            return Some(s);
        }
    }
    None
}

fn created_volumes(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let vol = ctx.unique_name("cpvol");
    let resp =
        ctx.send(Req::post("/volumes/create").json(json!({"Name": vol, "Labels": ctx.labels()})))?;
    expect_status(&resp, 201, "creating a volume")?;
    made.volumes.push(vol.clone());
    let mountpoint = json_body(&resp, "volume create")?["Mountpoint"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| fail_at(&resp, "the volume has no Mountpoint"))?;
    let mut cfg = ctx.probe_config(&[
        "read",
        "/vol1/a",
        "--",
        "read",
        "/vol2/b",
        "--",
        "read",
        "/deep/bind/c",
        "--",
        "read",
        "/vol2/c",
    ])?;
    cfg["Volumes"] = json!({"/vol1": {}});
    cfg["HostConfig"] =
        json!({"Binds": [format!("{vol}:/vol2"), format!("{mountpoint}:/deep/bind")]});
    let id = made.create(cfg, None)?;
    let files = [("/vol1", "a"), ("/vol2", "b"), ("/deep/bind", "c")];
    for (dir, _) in files {
        let resp = ctx.send(Req::head(archive(&id, dir)))?;
        expect_status(&resp, 200, &format!("HEAD of {dir} before the first start"))?;
        if resp.header("x-docker-container-path-stat").is_none() {
            return Err(fail_at(
                &resp,
                "dockerd's HEAD answer carries X-Docker-Container-Path-Stat",
            ));
        }
    }
    for (dir, name) in files {
        let content = format!("in {dir}\n");
        let resp = ctx.send(
            Req::new(hyper::Method::PUT, archive(&id, dir))
                .raw(tar_of(&[(name, &content)])?, "application/x-tar"),
        )?;
        expect_status(
            &resp,
            200,
            &format!("PUT into {dir} before the first start"),
        )?;
    }
    for (dir, name) in files {
        let path = format!("{dir}/{name}");
        let resp = ctx.send(Req::get(archive(&id, &path)))?;
        expect_status(&resp, 200, &format!("GET of {path} before the first start"))?;
        let want = format!("in {dir}\n");
        if file_in_tar(&resp.body, name).as_deref() != Some(want.as_str()) {
            return Err(fail_at(
                &resp,
                format!("GET of {path}: dockerd's tar holds {name} with {want:?}"),
            ));
        }
    }
    ctx.start(&id)?;
    let code = ctx.wait(&id)?;
    let out = ctx.logs(&id)?;
    let want = "in /vol1\nin /vol2\nin /deep/bind\nin /deep/bind\n";
    if code != 0 || out.stdout_text() != want {
        return Err(fail(format!(
            "the started container read {:?} (exit {code}, stderr {:?}); under dockerd it reads {want:?}: the copies went into its volumes",
            out.stdout_text(),
            out.stderr_text().trim()
        )));
    }
    Ok(())
}

/// Go's `os.ModeDir` and `os.ModeSticky`, as the path stat's mode has them.
const MODE_DIR: u64 = 1 << 31;
const MODE_STICKY: u64 = 1 << 20;

/// A named volume created with local driver options (here a tmpfs: `type`
/// tmpfs, `device` tmpfs, `o` size=1m) on a container created but never
/// started: dockerd 20.10.24 mounts the volume's filesystem for each copy
/// and unmounts it after (read with curl, 2026-12-04). So `HEAD` of the
/// mount point stats the tmpfs's root (a directory, sticky, 0777), a `PUT`
/// into it answers 200, and what it wrote went with that tmpfs: a `GET`
/// of the file is 404 `Could not find the file /vol/f in container ID`.
fn created_volume_options(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let vol = ctx.unique_name("cpvolopt");
    let resp = ctx.send(Req::post("/volumes/create").json(json!({
        "Name": vol,
        "Driver": "local",
        "DriverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"},
        "Labels": ctx.labels()
    })))?;
    expect_status(&resp, 201, "creating a tmpfs-typed local volume")?;
    made.volumes.push(vol.clone());
    let mut cfg = ctx.probe_config(&["ls", "/vol"])?;
    cfg["HostConfig"] = json!({"Binds": [format!("{vol}:/vol")]});
    let id = made.create(cfg, None)?;
    let resp = ctx.send(Req::head(archive(&id, "/vol")))?;
    expect_status(&resp, 200, "HEAD of the volume before the first start")?;
    let stat = super::archive::path_stat(&resp)?;
    let mode = stat["mode"].as_u64().unwrap_or_default();
    let want = MODE_DIR | MODE_STICKY | 0o777;
    if mode & (MODE_DIR | MODE_STICKY | 0o7777) != want {
        return Err(fail_at(
            &resp,
            format!(
                "the volume's mount point stats as {stat}: mode {mode:#o}; dockerd stats the \
                 mounted tmpfs's root (a sticky 0777 directory, mode {want})"
            ),
        ));
    }
    let resp = ctx.send(
        Req::new(hyper::Method::PUT, archive(&id, "/vol"))
            .raw(tar_of(&[("f", "in the tmpfs\n")])?, "application/x-tar"),
    )?;
    expect_status(&resp, 200, "PUT into the volume before the first start")?;
    let resp = ctx.send(Req::get(archive(&id, "/vol/f")))?;
    super::expect_error(
        &resp,
        404,
        &format!("Could not find the file /vol/f in container {id}"),
        "GET of the copied file (its tmpfs was unmounted after the copy)",
    )
}
