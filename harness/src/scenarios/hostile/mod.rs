//! Hostile input any Docker endpoint must survive with Docker's answer:
//! tars whose entries climb out with `..` or absolute names, links that
//! point at host files, huge headers (for load, import, build and `cp`
//! into a container); malformed, mistyped and oversized JSON; bad filters,
//! names and references. Each checks the status and the error text (or,
//! where Go's and other JSON decoders word it differently, that there is a
//! `{"message"}`), and cleans up what a wrongly accepted request created.
//!
//! What dockerd answers is in specs/harness/expectations.json: it confines
//! `..` and `/` entries to the root of a layer, a load or a build context
//! (200, the files land inside), refuses them under a `cp` target (500),
//! and resolves hard links inside the root (so `/etc/passwd` is not found).

mod tar_writer;

use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{scenario, Scenario};
use crate::client::{enc, Req, Response};
use crate::ground::spec::{expectation, render};
use crate::ground::{expect_status, fail_at, json_body, Ctx, Outcome};
use tar_writer::{docker_archive, Kind, RawTar};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(
            "hostile",
            "load-layer-escapes-confined",
            true,
            load_confined,
        ),
        scenario(
            "hostile",
            "load-layer-hardlink-outside",
            false,
            load_hardlink,
        ),
        scenario(
            "hostile",
            "load-layer-symlink-then-file",
            false,
            load_symlink_file,
        ),
        scenario("hostile", "load-huge-header", false, load_huge_header),
        scenario(
            "hostile",
            "load-header-too-long",
            false,
            load_header_too_long,
        ),
        scenario("hostile", "import-escapes-confined", false, import_confined),
        scenario("hostile", "import-hardlink-outside", false, import_hardlink),
        scenario(
            "hostile",
            "import-pax-header-too-long",
            false,
            import_pax_too_long,
        ),
        scenario(
            "hostile",
            "build-context-hardlink-outside",
            false,
            build_hardlink,
        ),
        scenario(
            "hostile",
            "build-context-huge-header",
            false,
            build_huge_header,
        ),
        scenario("hostile", "archive-put-dotdot", true, put_dotdot),
        scenario("hostile", "archive-put-symlink-outside", true, put_symlink),
        scenario(
            "hostile",
            "archive-put-hardlink-outside",
            true,
            put_hardlink,
        ),
        scenario(
            "hostile",
            "archive-put-no-overwrite-dir",
            true,
            put_no_overwrite_dir,
        ),
        scenario("hostile", "create-truncated-json", false, create_truncated),
        scenario("hostile", "create-wrong-type", false, create_wrong_type),
        scenario("hostile", "create-empty-body", false, create_empty_body),
        scenario("hostile", "create-null-body", false, create_null_body),
        scenario("hostile", "create-trailing-data", true, create_trailing),
        scenario("hostile", "create-oversized-json", true, create_oversized),
        scenario("hostile", "create-name-dotdot", true, create_name_dotdot),
        scenario("hostile", "image-ref-uppercase", false, ref_uppercase),
        scenario("hostile", "image-ref-short-digest", false, ref_short_digest),
        scenario("hostile", "filters-malformed", false, filters_malformed),
        scenario("hostile", "filters-wrong-shape", false, filters_wrong_shape),
        scenario(
            "hostile",
            "network-create-truncated-json",
            false,
            network_truncated,
        ),
        scenario("hostile", "build-tag-uppercase", false, build_tag_uppercase),
    ]
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The first error a JSON message stream (load, import, build) reports.
fn stream_error(resp: &Response) -> Option<String> {
    resp.text().lines().find_map(|line| {
        let v: Value = serde_json::from_str(line).ok()?;
        v.get("errorDetail")
            .and_then(|d| d.get("message"))
            .or_else(|| v.get("error"))
            .and_then(Value::as_str)
            .map(str::to_string)
    })
}

/// A load answers 200 and reports failure inside its stream: the stream's
/// error must be the expected message, or absent when none is expected.
fn check_stream(spec: &str, resp: &Response, vars: &[(&str, &str)]) -> Outcome {
    let e = expectation(spec)?;
    // Not `check`: that compares a top-level "message", which a stream has not.
    if resp.status != e.status {
        return Err(e.fail(
            Some(resp),
            format!(
                "expected status {}, got {}",
                e.status,
                crate::ground::describe(resp)
            ),
            vars,
        ));
    }
    let got = stream_error(resp);
    match (&e.message, got) {
        (Some(want), got) => {
            let want = render(want, vars);
            if got.as_deref() != Some(want.as_str()) {
                return Err(e.fail(
                    Some(resp),
                    format!("expected the stream to report {want:?}, got {got:?}"),
                    vars,
                ));
            }
        }
        (None, Some(got)) => {
            return Err(e.fail(Some(resp), format!("the stream reports {got:?}"), vars));
        }
        (None, None) => {}
    }
    Ok(())
}

/// An error answer must carry a non-empty `{"message"}` whatever its words.
fn check_status_and_message(spec: &str, resp: &Response) -> Outcome {
    let e = expectation(spec)?;
    e.check(resp, &[])?;
    match resp.message() {
        Some(m) if !m.trim().is_empty() => Ok(()),
        _ => Err(e.fail(Some(resp), "no {\"message\"} in the error body", &[])),
    }
}

fn load(ctx: &Ctx, archive: Vec<u8>) -> Result<Response, crate::ground::Problem> {
    ctx.send(
        Req::post("/images/load?quiet=1")
            .raw(archive, "application/x-tar")
            .timeout(Duration::from_secs(120)),
    )
}

fn remove_image(ctx: &Ctx, reference: &str) {
    let _ = ctx.send(Req::delete(format!("/images/{}?force=1", enc(reference))));
    ctx.forget_created_image(reference);
}

/// Loads a one-layer image made of `layer` under a fresh tag.
fn load_layer(ctx: &Ctx, layer: &[u8]) -> Result<(String, Response), crate::ground::Problem> {
    let tag = format!("{}:latest", ctx.unique_name("hostile"));
    ctx.record_created_image(tag.clone());
    let resp = load(ctx, docker_archive(layer, &sha256(layer), &tag))?;
    Ok((tag, resp))
}

fn load_confined(ctx: &Ctx) -> Outcome {
    let mut t = RawTar::new();
    t.entry("../escape-dotdot", Kind::File(b"x"))
        .entry("/escape-absolute", Kind::File(b"x"))
        .entry("link", Kind::Symlink("../../../../etc/passwd"));
    let layer = t.finish();
    let (tag, resp) = load_layer(ctx, &layer)?;
    let vars = [("tag", tag.as_str())];
    let result = check_stream("hostile/load-layer-escapes-confined", &resp, &vars)
        .and_then(|()| files_landed_inside(ctx, &tag));
    remove_image(ctx, &tag);
    result
}

/// The escaping entries are in the image, at its root.
fn files_landed_inside(ctx: &Ctx, image: &str) -> Outcome {
    let config = json!({"Image": image, "Cmd": ["/nothing"], "Labels": ctx.labels()});
    let id = ctx.create(config, None)?;
    let mut result = Ok(());
    for path in ["/escape-dotdot", "/escape-absolute", "/link"] {
        let resp = ctx.send(Req::head(format!(
            "/containers/{}/archive?path={}",
            enc(&id),
            enc(path)
        )))?;
        if let Err(p) = expect_status(&resp, 200, &format!("{path} in the loaded image")) {
            result = Err(p);
            break;
        }
    }
    ctx.remove(&id);
    result
}

fn load_hardlink(ctx: &Ctx) -> Outcome {
    let mut t = RawTar::new();
    t.entry("passwd", Kind::Hardlink("/etc/passwd"));
    let (tag, resp) = load_layer(ctx, &t.finish())?;
    let result = check_stream("hostile/load-layer-hardlink-outside", &resp, &[]);
    remove_image(ctx, &tag);
    result
}

fn load_symlink_file(ctx: &Ctx) -> Outcome {
    let mut t = RawTar::new();
    t.entry("evil", Kind::Symlink("/tmp/shipshape-canary"))
        .entry("evil/pwned", Kind::File(b"pwned"));
    let (tag, resp) = load_layer(ctx, &t.finish())?;
    let result = check_stream("hostile/load-layer-symlink-then-file", &resp, &[]);
    remove_image(ctx, &tag);
    result
}

fn load_huge_header(ctx: &Ctx) -> Outcome {
    // A GNU long name that says 1 GiB follows, and then the stream ends.
    let mut t = RawTar::new();
    t.special(b'L', 1 << 30, &[b'a'; 64 * 1024]);
    let resp = load(ctx, t.truncated())?;
    check_stream("hostile/load-huge-header", &resp, &[])
}

fn load_header_too_long(ctx: &Ctx) -> Outcome {
    // A real GNU long name just over Go's 1 MiB limit for such headers.
    let name = format!("d/{}", "a".repeat((1 << 20) + 16));
    let mut t = RawTar::new();
    t.gnu_long_name(&name).entry("x", Kind::File(b"x"));
    let resp = load(ctx, t.finish())?;
    check_stream("hostile/load-header-too-long", &resp, &[])
}

fn import(ctx: &Ctx, tar: Vec<u8>) -> Result<(String, Response), crate::ground::Problem> {
    let repo = ctx.unique_name("hostile-import");
    let reference = format!("{repo}:latest");
    ctx.record_created_image(reference.clone());
    let resp = ctx.send(
        Req::post(format!(
            "/images/create?fromSrc=-&repo={}&tag=latest",
            enc(&repo)
        ))
        .raw(tar, "application/x-tar")
        .timeout(Duration::from_secs(120)),
    )?;
    Ok((reference, resp))
}

fn import_confined(ctx: &Ctx) -> Outcome {
    let mut t = RawTar::new();
    t.entry("../../escape-dotdot", Kind::File(b"x"))
        .entry("/escape-absolute", Kind::File(b"x"));
    let (reference, resp) = import(ctx, t.finish())?;
    let result = check_stream("hostile/import-escapes-confined", &resp, &[]);
    remove_image(ctx, &reference);
    result
}

fn import_hardlink(ctx: &Ctx) -> Outcome {
    let mut t = RawTar::new();
    t.entry("passwd", Kind::Hardlink("../../../../etc/passwd"));
    let (reference, resp) = import(ctx, t.finish())?;
    let result = expectation("hostile/import-hardlink-outside")?.check(&resp, &[]);
    remove_image(ctx, &reference);
    result
}

fn import_pax_too_long(ctx: &Ctx) -> Outcome {
    // A PAX header whose one record (a path) is over Go's 1 MiB limit.
    let path = format!("d/{}", "a".repeat(1 << 20));
    let body = format!("path={path}\n");
    // A record's length counts its own digits too.
    let mut len = body.len() + 1;
    while format!("{len} {body}").len() != len {
        len += 1;
    }
    let record = format!("{len} {body}");
    let mut t = RawTar::new();
    t.special(b'x', record.len() as u64, record.as_bytes())
        .entry("x", Kind::File(b"x"));
    let (reference, resp) = import(ctx, t.finish())?;
    let result = expectation("hostile/import-pax-header-too-long")?.check(&resp, &[]);
    remove_image(ctx, &reference);
    result
}

fn build_huge_header(ctx: &Ctx) -> Outcome {
    // The Dockerfile, then a GNU long name declaring 1 GiB, cut short.
    let tag = format!("{}:latest", ctx.unique_name("hostile-build"));
    ctx.record_created_image(tag.clone());
    let mut t = RawTar::new();
    t.entry("Dockerfile", Kind::File(b"FROM scratch\nCOPY . /\n"))
        .special(b'L', 1 << 30, &[b'a'; 4096]);
    let resp = ctx.send(
        Req::post(format!("/build?t={}&rm=1", enc(&tag)))
            .raw(t.truncated(), "application/x-tar")
            .timeout(Duration::from_secs(120)),
    )?;
    let result = expectation("hostile/build-context-huge-header")?.check(&resp, &[]);
    remove_image(ctx, &tag);
    result
}

fn build_hardlink(ctx: &Ctx) -> Outcome {
    let tag = format!("{}:latest", ctx.unique_name("hostile-build"));
    ctx.record_created_image(tag.clone());
    let mut t = RawTar::new();
    t.entry("Dockerfile", Kind::File(b"FROM scratch\nCOPY . /\n"))
        .entry("passwd", Kind::Hardlink("/etc/passwd"));
    let resp = ctx.send(
        Req::post(format!("/build?t={}&rm=1&forcerm=1", enc(&tag)))
            .raw(t.finish(), "application/x-tar")
            .timeout(Duration::from_secs(120)),
    )?;
    let result = expectation("hostile/build-context-hardlink-outside")?.check(&resp, &[]);
    remove_image(ctx, &tag);
    result
}

/// A created (not started) container of the fixture, for `cp` into it.
fn put(ctx: &Ctx, spec: &str, tar: Vec<u8>) -> Outcome {
    let id = ctx.create(ctx.probe_config(&["exit", "0"])?, None)?;
    let resp = ctx.send(
        Req::new(
            hyper::Method::PUT,
            format!("/containers/{}/archive?path=/tmp", enc(&id)),
        )
        .raw(tar, "application/x-tar"),
    );
    ctx.remove(&id);
    expectation(spec)?.check(&resp?, &[])
}

fn put_dotdot(ctx: &Ctx) -> Outcome {
    let mut t = RawTar::new();
    t.entry("../escape-dotdot", Kind::File(b"x"));
    put(ctx, "hostile/archive-put-dotdot", t.finish())
}

fn put_symlink(ctx: &Ctx) -> Outcome {
    let mut t = RawTar::new();
    t.entry("link", Kind::Symlink("../../../../etc/passwd"));
    put(ctx, "hostile/archive-put-symlink-outside", t.finish())
}

fn put_hardlink(ctx: &Ctx) -> Outcome {
    let mut t = RawTar::new();
    t.entry("passwd", Kind::Hardlink("/etc/passwd"));
    put(ctx, "hostile/archive-put-hardlink-outside", t.finish())
}

/// `docker cp`'s noOverwriteDirNonDir: a file may not replace a directory.
fn put_no_overwrite_dir(ctx: &Ctx) -> Outcome {
    let id = ctx.create(ctx.probe_config(&["exit", "0"])?, None)?;
    let send = |entry: &str, kind: Kind| {
        let mut t = RawTar::new();
        t.entry(entry, kind);
        ctx.send(
            Req::new(
                hyper::Method::PUT,
                format!(
                    "/containers/{}/archive?path=/tmp&noOverwriteDirNonDir=true",
                    enc(&id)
                ),
            )
            .raw(t.finish(), "application/x-tar"),
        )
    };
    let result = send("d/", Kind::Dir)
        .and_then(|r| expect_status(&r, 200, "putting a directory"))
        .and_then(|()| send("d", Kind::File(b"x")))
        .and_then(|r| expectation("hostile/archive-put-no-overwrite-dir")?.check(&r, &[]));
    ctx.remove(&id);
    result
}

/// Sends a create with a raw body; removes whatever it created.
fn create_raw(
    ctx: &Ctx,
    body: Vec<u8>,
    name: Option<&str>,
) -> Result<Response, crate::ground::Problem> {
    let path = match name {
        Some(n) => format!("/containers/create?name={}", enc(n)),
        None => "/containers/create".into(),
    };
    let resp = ctx.send(
        Req::post(path)
            .raw(body, "application/json")
            .timeout(Duration::from_secs(120)),
    )?;
    if resp.status == 201 {
        if let Some(id) = resp
            .json()
            .ok()
            .and_then(|v| v.get("Id")?.as_str().map(str::to_string))
        {
            ctx.remove(&id);
        }
    }
    Ok(resp)
}

fn create_truncated(ctx: &Ctx) -> Outcome {
    let resp = create_raw(ctx, br#"{"Image":"#.to_vec(), None)?;
    expectation("hostile/create-truncated-json")?.check(&resp, &[])
}

fn create_wrong_type(ctx: &Ctx) -> Outcome {
    let resp = create_raw(ctx, br#"{"Image":5,"Cmd":["x"]}"#.to_vec(), None)?;
    check_status_and_message("hostile/create-wrong-type", &resp)
}

fn create_empty_body(ctx: &Ctx) -> Outcome {
    let resp = create_raw(ctx, Vec::new(), None)?;
    expectation("hostile/create-empty-body")?.check(&resp, &[])
}

fn create_null_body(ctx: &Ctx) -> Outcome {
    let resp = create_raw(ctx, b"null".to_vec(), None)?;
    expectation("hostile/create-null-body")?.check(&resp, &[])
}

fn create_trailing(ctx: &Ctx) -> Outcome {
    let mut body = serde_json::to_vec(&ctx.probe_config(&["exit", "0"])?)
        .map_err(|e| crate::ground::fail(format!("encoding: {e}")))?;
    body.extend_from_slice(b" trailing garbage {");
    let resp = create_raw(ctx, body, None)?;
    expectation("hostile/create-trailing-data")?.check(&resp, &[])
}

fn create_oversized(ctx: &Ctx) -> Outcome {
    // 8 MiB of label: far beyond any real config, but dockerd takes it.
    let mut config = ctx.probe_config(&["exit", "0"])?;
    config["Labels"]["io.shipshape.big"] = json!("x".repeat(8 << 20));
    let body =
        serde_json::to_vec(&config).map_err(|e| crate::ground::fail(format!("encoding: {e}")))?;
    let resp = create_raw(ctx, body, None)?;
    expectation("hostile/create-oversized-json")?.check(&resp, &[])?;
    json_body(&resp, "create response").map(|_| ())
}

fn create_name_dotdot(ctx: &Ctx) -> Outcome {
    let body = serde_json::to_vec(&ctx.probe_config(&["exit", "0"])?)
        .map_err(|e| crate::ground::fail(format!("encoding: {e}")))?;
    let name = "../etc";
    let resp = create_raw(ctx, body, Some(name))?;
    expectation("hostile/create-name-dotdot")?.check(&resp, &[("name", name)])
}

fn ref_uppercase(ctx: &Ctx) -> Outcome {
    let body = serde_json::to_vec(&json!({"Image": "Shipshape-UPPER:tag", "Labels": ctx.labels()}))
        .map_err(|e| crate::ground::fail(format!("encoding: {e}")))?;
    let resp = create_raw(ctx, body, None)?;
    expectation("hostile/image-ref-uppercase")?.check(&resp, &[])
}

fn ref_short_digest(ctx: &Ctx) -> Outcome {
    let resp = ctx.send(Req::get("/images/shipshape@sha256:abc/json"))?;
    expectation("hostile/image-ref-short-digest")?.check(&resp, &[])
}

fn filters_malformed(ctx: &Ctx) -> Outcome {
    let resp = ctx.send(Req::get(format!(
        "/containers/json?filters={}",
        enc("{not json")
    )))?;
    check_status_and_message("hostile/filters-malformed", &resp)
}

fn filters_wrong_shape(ctx: &Ctx) -> Outcome {
    let resp = ctx.send(Req::get(format!(
        "/containers/json?filters={}",
        enc(r#"{"status":"running"}"#)
    )))?;
    expectation("hostile/filters-wrong-shape")?.check(&resp, &[])
}

fn network_truncated(ctx: &Ctx) -> Outcome {
    let resp =
        ctx.send(Req::post("/networks/create").raw(br#"{"Name":"#.to_vec(), "application/json"))?;
    if resp.status == 201 {
        if let Ok(v) = resp.json() {
            if let Some(id) = v.get("Id").and_then(Value::as_str) {
                let _ = ctx.send(Req::delete(format!("/networks/{}", enc(id))));
            }
        }
        return Err(fail_at(&resp, "a truncated body created a network"));
    }
    expectation("hostile/network-create-truncated-json")?.check(&resp, &[])
}

fn build_tag_uppercase(ctx: &Ctx) -> Outcome {
    let mut t = RawTar::new();
    t.entry("Dockerfile", Kind::File(b"FROM scratch\n"));
    let resp =
        ctx.send(Req::post("/build?t=Shipshape-UPPER").raw(t.finish(), "application/x-tar"))?;
    expectation("hostile/build-tag-uppercase")?.check(&resp, &[])
}

#[cfg(test)]
mod tests {
    use super::tar_writer::{Kind, RawTar};

    #[test]
    fn the_tar_crate_reads_what_we_write() {
        let mut t = RawTar::new();
        t.entry("../up", Kind::File(b"x"))
            .entry("/abs", Kind::Symlink("/etc"))
            .entry("h", Kind::Hardlink("/etc/passwd"))
            .entry("null", Kind::Char(1, 3));
        let bytes = t.finish();
        let mut a = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                String::from_utf8_lossy(&e.path_bytes()).into_owned()
            })
            .collect();
        assert_eq!(names, ["../up", "/abs", "h", "null"]);
    }
}
