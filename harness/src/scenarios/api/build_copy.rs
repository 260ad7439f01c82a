//! The classic builder's COPY/ADD beyond the files themselves: the cache
//! key of a copy, and `--chown`. Every expectation is dockerd 20.10.24's
//! answer (observed 2026-12-03 with the docker CLI and the harness):
//!
//! * the key is the content, mode and name of what is copied, not its
//!   mtime: a file changed to new bytes of the same size and mtime misses
//!   the cache (the RUN after it runs again), the same bytes with another
//!   mtime hit it (` ---> Using cache`), another mode misses it;
//! * `--chown=1:2`, `--chown=probe` (the group looked up by the same name)
//!   and `--chown=65534:probe` on a directory set the owner of every copied
//!   entry; without it they are root's; an unknown user fails the build
//!   with "unable to convert uid/gid chown string to host mapping: can't
//!   find uid for user nosuch: no such user: nosuch".

use serde_json::json;

use super::build_classic::{
    build_tar, clean, ok_build, tar_with, want, want_line, Built, CONTEXT_MTIME,
};
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, fail_at, Ctx, Outcome, Problem};

fn build_file(
    ctx: &Ctx,
    dockerfile: &str,
    f: &str,
    mode: u32,
    mtime: u64,
) -> Result<Built, Problem> {
    let mut tar = tar_with(&[("f", f)], mode, mtime)?;
    // The Dockerfile itself never changes (same mode and mtime).
    let df = tar_with(&[("Dockerfile", dockerfile)], 0o644, CONTEXT_MTIME)?;
    tar = concat_tars(&df, &tar);
    // The cache is what these builds are about: keep it (build_tar
    // otherwise asks for nocache=1).
    build_tar(ctx, tar, "&nocache=0")
}

/// Two tars as one: the first without its end blocks, then the second.
fn concat_tars(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut end = a.len();
    while end >= 512 && a[end - 512..end].iter().all(|&x| x == 0) {
        end -= 512;
    }
    let mut out = a[..end].to_vec();
    out.extend_from_slice(b);
    out
}

pub fn copy_cache_by_content(ctx: &Ctx) -> Outcome {
    let img = ctx.image()?;
    let dockerfile = format!(
        "FROM {}\nCOPY f /f\nRUN [\"/probe\", \"read\", \"/f\"]\n",
        img.tag
    );
    let mut built: Vec<Built> = Vec::new();
    let mut step = |content: &str, mode: u32, mtime: u64| -> Result<usize, Problem> {
        built.push(build_file(ctx, &dockerfile, content, mode, mtime)?);
        ok_build(&built[built.len() - 1])?;
        Ok(built.len() - 1)
    };
    let result = (|| -> Result<(usize, usize, usize, usize), Problem> {
        let first = step("aaaa\n", 0o644, CONTEXT_MTIME)?;
        // New bytes, same size, same mtime: a miss, so the RUN runs again.
        let changed = step("bbbb\n", 0o644, CONTEXT_MTIME)?;
        // The same bytes with another mtime: dockerd's key has no mtime.
        let touched = step("bbbb\n", 0o644, CONTEXT_MTIME + 86_400)?;
        // Another mode: a miss again.
        let chmod = step("bbbb\n", 0o600, CONTEXT_MTIME)?;
        Ok((first, changed, touched, chmod))
    })()
    .and_then(|(first, changed, touched, chmod)| {
        want_line(&built[first], "aaaa", "the first build runs its RUN")?;
        want_line(
            &built[changed],
            "bbbb",
            "COPY of a file with new content (same size and mtime) misses the cache on dockerd",
        )?;
        let b = &built[touched];
        want(
            b,
            " ---> Using cache",
            "only the mtime changed: dockerd uses the cache",
        )?;
        if b.stream.lines().any(|l| l.trim_end() == "bbbb") {
            return Err(fail_at(
                &b.resp,
                format!(
                    "only the mtime changed, yet the RUN ran again (dockerd: cached):\n{}",
                    b.stream
                ),
            ));
        }
        want_line(
            &built[chmod],
            "bbbb",
            "COPY of a file with another mode misses the cache on dockerd",
        )
    });
    for b in built.iter().rev() {
        clean(ctx, b);
    }
    result
}

/// `(uid, gid)` of `path` in a container of `image`, from the archive's header.
fn owner_of(ctx: &Ctx, id: &str, path: &str) -> Result<Vec<(String, u64, u64)>, Problem> {
    let resp = ctx.send(Req::get(format!(
        "/containers/{}/archive?path={}",
        enc(id),
        enc(path)
    )))?;
    expect_status(&resp, 200, &format!("GET archive of {path}"))?;
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(&resp.body[..]);
    let entries = ar
        .entries()
        .map_err(|e| fail_at(&resp, format!("archive of {path}: {e}")))?;
    for e in entries {
        let e = e.map_err(|e| fail_at(&resp, format!("archive of {path}: {e}")))?;
        let h = e.header();
        let name = e
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((
            name,
            h.uid().unwrap_or(u64::MAX),
            h.gid().unwrap_or(u64::MAX),
        ));
    }
    Ok(out)
}

pub fn copy_chown(ctx: &Ctx) -> Outcome {
    let img = ctx.image()?;
    let dockerfile = format!(
        "FROM {}\nCOPY --chown=1:2 f /f1\nADD --chown=probe f /f2\nCOPY --chown=65534:probe d /d\nCOPY f /f3\n",
        img.tag
    );
    let tar = tar_with(
        &[("Dockerfile", &dockerfile), ("f", "x\n"), ("d/g", "y\n")],
        0o644,
        CONTEXT_MTIME,
    )?;
    let b = build_tar(ctx, tar, "")?;
    let result = (|| -> Outcome {
        ok_build(&b)?;
        let cfg = json!({"Image": b.tag, "Cmd": ["/probe", "exit", "0"], "Labels": ctx.labels()});
        let id = ctx.create(cfg, None)?;
        let checks = (|| -> Outcome {
            for (path, want) in [
                ("/f1", vec![("f1", 1, 2)]),
                ("/f2", vec![("f2", 1000, 1000)]),
                ("/d", vec![("d", 65534, 1000), ("d/g", 65534, 1000)]),
                ("/f3", vec![("f3", 0, 0)]),
            ] {
                let got = owner_of(ctx, &id, path)?;
                let got: Vec<(&str, u64, u64)> = got
                    .iter()
                    .map(|(n, u, g)| (n.trim_end_matches('/'), *u, *g))
                    .collect();
                if got != want {
                    return Err(fail(format!(
                        "owners under {path}: dockerd {want:?}, got {got:?}"
                    )));
                }
            }
            Ok(())
        })();
        ctx.remove(&id);
        checks
    })();
    clean(ctx, &b);
    result?;
    let dockerfile = format!("FROM {}\nCOPY --chown=nosuch f /f1\n", img.tag);
    let tar = tar_with(
        &[("Dockerfile", &dockerfile), ("f", "x\n")],
        0o644,
        CONTEXT_MTIME,
    )?;
    let b = build_tar(ctx, tar, "")?;
    clean(ctx, &b);
    expect_status(&b.resp, 200, "a build whose COPY --chown names no user")?;
    let want = "unable to convert uid/gid chown string to host mapping: can't find uid for user nosuch: no such user: nosuch";
    match &b.error {
        Some(e) if e["error"] == json!(want) => Ok(()),
        other => Err(fail_at(
            &b.resp,
            format!("dockerd's stream ends with the error {want:?}; got {other:?}"),
        )),
    }
}
