//! The classic builder (`POST /build`, what `DOCKER_BUILDKIT=0 docker build`
//! drives) on Dockerfiles over the fixture image: multi-stage builds
//! (`FROM .. AS`, `COPY --from=` a stage name, index or image, `target`),
//! `ARG` before `FROM` and its scoping per stage, HEALTHCHECK / ONBUILD /
//! STOPSIGNAL / SHELL in the image config, the daemon's own use of
//! `.dockerignore`, and a failing RUN's error in the stream. Every
//! expectation is dockerd 20.10.24's answer (observed 2026-12-03).
//!
//! Each build's images are removed afterwards: the tagged result, then every
//! image the stream named (` ---> <id>`, intermediate stages' images
//! included), newest first, except the fixture.

use std::time::Duration;

use serde_json::Value;

use crate::client::{enc, Req, Response};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem, RUN_LABEL};

/// A tar holding `files` (name, content).
pub(crate) fn tar_of(files: &[(&str, &str)]) -> Result<Vec<u8>, Problem> {
    tar_with(files, 0o644, CONTEXT_MTIME)
}

/// The mtime of every context file (2024-01-01T00:00:00Z).
pub(super) const CONTEXT_MTIME: u64 = 1_704_067_200;

/// A tar holding `files`, each with `mode` and `mtime`.
pub(super) fn tar_with(files: &[(&str, &str)], mode: u32, mtime: u64) -> Result<Vec<u8>, Problem> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(mtime);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_bytes())
            .map_err(|e| fail(format!("writing the build context: {e}")))?;
    }
    b.into_inner()
        .map_err(|e| fail(format!("writing the build context: {e}")))
}

/// A finished build: the response, its stream text and the image it tagged.
pub(crate) struct Built {
    pub resp: Response,
    pub stream: String,
    pub error: Option<Value>,
    pub tag: String,
    pub ids: Vec<String>,
}

/// `POST /build` with the run's label, tagged with a unique name.
pub(crate) fn build(ctx: &Ctx, files: &[(&str, &str)], query: &str) -> Result<Built, Problem> {
    build_tar(ctx, tar_of(files)?, query)
}

/// [`build`] of a context tar. Without the build cache unless the query is
/// about it: the fixture's ID is the same in every run, so another run's
/// build on the same daemon leaves "Using cache" steps whose RUN output
/// never shows.
pub(crate) fn build_tar(ctx: &Ctx, context: Vec<u8>, query: &str) -> Result<Built, Problem> {
    let tag = format!("{}:latest", ctx.unique_name("build"));
    let query = if query.contains("cache") {
        query.to_string()
    } else {
        format!("{query}&nocache=1")
    };
    ctx.record_created_image(tag.clone());
    let labels = serde_json::json!({ RUN_LABEL: ctx.run_id }).to_string();
    let resp = ctx.send(
        Req::post(format!(
            "/build?t={}&rm=1&forcerm=1&labels={}{query}",
            enc(&tag),
            enc(&labels)
        ))
        .raw(context, "application/x-tar")
        .timeout(Duration::from_secs(180)),
    )?;
    let mut stream = String::new();
    let mut error = None;
    let mut ids = Vec::new();
    for line in resp.text().lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let Some(s) = v.get("stream").and_then(Value::as_str) {
            stream.push_str(s);
            if let Some(id) = s.trim().strip_prefix("---> ") {
                if id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()) {
                    ids.push(id.to_string());
                }
            }
        }
        if v.get("error").is_some() {
            error = Some(v);
        }
    }
    Ok(Built {
        resp,
        stream,
        error,
        tag,
        ids,
    })
}

/// Removes what a build made (never the fixture).
pub(crate) fn clean(ctx: &Ctx, b: &Built) {
    let _ = ctx.send(Req::delete(format!("/images/{}", enc(&b.tag))));
    ctx.forget_created_image(&b.tag);
    let fixture = ctx
        .loaded_image()
        .map(|i| i.id.trim_start_matches("sha256:").to_string())
        .unwrap_or_default();
    for id in b.ids.iter().rev() {
        if !fixture.starts_with(id.as_str()) {
            let _ = ctx.send(Req::delete(format!("/images/{id}")));
        }
    }
}

pub(crate) fn ok_build(b: &Built) -> Outcome {
    expect_status(&b.resp, 200, "building")?;
    if let Some(e) = &b.error {
        return Err(fail_at(&b.resp, format!("the build failed: {e}")));
    }
    Ok(())
}

fn inspect_config(ctx: &Ctx, tag: &str) -> Result<Value, Problem> {
    let resp = ctx.send(Req::get(format!("/images/{}/json", enc(tag))))?;
    expect_status(&resp, 200, "inspecting the built image")?;
    let body = json_body(&resp, "image inspect")?;
    Ok(body.get("Config").cloned().unwrap_or(Value::Null))
}

/// The stream has `text` as a whole line (not only in an echoed Step line).
pub(super) fn want_line(b: &Built, text: &str, why: &str) -> Outcome {
    if b.stream.lines().any(|l| l.trim_end() == text) {
        Ok(())
    } else {
        Err(fail_at(
            &b.resp,
            format!("{why}: the stream has no line {text:?}:\n{}", b.stream),
        ))
    }
}

pub(super) fn want(b: &Built, text: &str, why: &str) -> Outcome {
    if b.stream.contains(text) {
        Ok(())
    } else {
        Err(fail_at(
            &b.resp,
            format!("{why}: the stream has no {text:?}:\n{}", b.stream),
        ))
    }
}

/// Stages by name and index, an image as `--from`, ARG before FROM with
/// its per-stage scoping, then `target`.
pub fn multistage(ctx: &Ctx) -> Outcome {
    let img = ctx.image()?;
    let dockerfile = format!(
        "ARG BASE={base}\n\
         ARG V=meta\n\
         FROM ${{BASE}} AS first\n\
         ARG V\n\
         RUN [\"/probe\", \"env\"]\n\
         RUN [\"/probe\", \"write\", \"/made-in-first\", \"first-stage\\n\"]\n\
         FROM {base} AS Second\n\
         RUN [\"/probe\", \"write\", \"/made-in-second\", \"second-stage\\n\"]\n\
         FROM scratch\n\
         COPY --from=first /made-in-first /a\n\
         COPY --from=1 /made-in-second /b\n\
         COPY --from={base} /probe /probe\n\
         RUN [\"/probe\", \"read\", \"/a\"]\n\
         RUN [\"/probe\", \"read\", \"/b\"]\n",
        base = img.tag
    );
    let b = build(ctx, &[("Dockerfile", &dockerfile)], "")?;
    let r = (|| -> Outcome {
        ok_build(&b)?;
        // 14 instructions and the `labels` LABEL step.
        want(&b, "Step 15/15 : LABEL", "every stage runs")?;
        want_line(
            &b,
            "V=meta",
            "a stage's `ARG V` takes the value of the ARG before FROM",
        )?;
        want_line(
            &b,
            "first-stage",
            "COPY --from=<stage name> copies its file",
        )?;
        want_line(
            &b,
            "second-stage",
            "COPY --from=<stage index> copies its file",
        )?;
        Ok(())
    })();
    clean(ctx, &b);
    r?;

    // target: the build stops after the named stage, counting steps to it.
    let t = build(ctx, &[("Dockerfile", &dockerfile)], "&target=first")?;
    let r = (|| -> Outcome {
        ok_build(&t)?;
        want(
            &t,
            "Step 7/7 : LABEL",
            "target=first runs only up to stage first",
        )?;
        if t.stream.contains("made-in-second") {
            return Err(fail_at(&t.resp, "target=first ran a later stage"));
        }
        Ok(())
    })();
    clean(ctx, &t);
    r?;

    // An unknown target is refused before the build starts.
    let n = build(ctx, &[("Dockerfile", &dockerfile)], "&target=nope")?;
    clean(ctx, &n);
    expect_status(&n.resp, 400, "target=nope")?;
    let msg = n.resp.message().unwrap_or_default();
    if msg != "failed to reach build target nope in Dockerfile" {
        return Err(fail_at(&n.resp, format!("target=nope: message {msg:?}")));
    }
    Ok(())
}

/// HEALTHCHECK, ONBUILD, STOPSIGNAL and SHELL in the built config; the base
/// image's ONBUILD triggers run in a build FROM it and are not inherited.
pub fn config_instructions(ctx: &Ctx) -> Outcome {
    let img = ctx.image()?;
    let dockerfile = format!(
        "FROM {}\n\
         HEALTHCHECK --interval=5s --timeout=3s --retries=2 CMD [\"/probe\", \"exit\", \"0\"]\n\
         STOPSIGNAL SIGUSR1\n\
         SHELL [\"/probe\", \"echo\"]\n\
         ONBUILD RUN [\"/probe\", \"write\", \"/triggered\", \"triggered-yes\\n\"]\n",
        img.tag
    );
    let base = build(ctx, &[("Dockerfile", &dockerfile)], "")?;
    let r = (|| -> Outcome {
        ok_build(&base)?;
        let cfg = inspect_config(ctx, &base.tag)?;
        let hc = serde_json::json!({
            "Test": ["CMD", "/probe", "exit", "0"],
            "Interval": 5_000_000_000u64,
            "Timeout": 3_000_000_000u64,
            "Retries": 2
        });
        if cfg.get("Healthcheck") != Some(&hc) {
            return Err(fail(format!(
                "Healthcheck is {:?}, dockerd stores {hc}",
                cfg.get("Healthcheck")
            )));
        }
        if cfg.get("StopSignal").and_then(Value::as_str) != Some("SIGUSR1") {
            return Err(fail(format!("StopSignal is {:?}", cfg.get("StopSignal"))));
        }
        if cfg.get("Shell") != Some(&serde_json::json!(["/probe", "echo"])) {
            return Err(fail(format!("Shell is {:?}", cfg.get("Shell"))));
        }
        if cfg.get("OnBuild")
            != Some(&serde_json::json!([
                "RUN [\"/probe\", \"write\", \"/triggered\", \"triggered-yes\\n\"]"
            ]))
        {
            return Err(fail(format!("OnBuild is {:?}", cfg.get("OnBuild"))));
        }
        // A build FROM it runs the trigger as part of its FROM step.
        let child_df = format!(
            "FROM {}\nRUN [\"/probe\", \"read\", \"/triggered\"]\n",
            base.tag
        );
        let child = build(ctx, &[("Dockerfile", &child_df)], "")?;
        let r = (|| -> Outcome {
            ok_build(&child)?;
            want(
                &child,
                "# Executing 1 build trigger\n",
                "the ONBUILD trigger runs",
            )?;
            want_line(&child, "triggered-yes", "the trigger's RUN wrote its file")?;
            let cfg = inspect_config(ctx, &child.tag)?;
            if !cfg.get("OnBuild").is_none_or(Value::is_null) {
                return Err(fail(format!(
                    "the child inherits OnBuild {:?}; dockerd clears it",
                    cfg.get("OnBuild")
                )));
            }
            Ok(())
        })();
        clean(ctx, &child);
        r
    })();
    clean(ctx, &base);
    r
}

/// The daemon drops the Dockerfile and .dockerignore from the context when
/// .dockerignore lists them, and nothing else (the CLI filters the rest).
pub fn dockerignore(ctx: &Ctx) -> Outcome {
    let img = ctx.image()?;
    let dockerfile = format!(
        "FROM {}\nCOPY . /ctx/\nRUN [\"/probe\", \"ls\", \"/ctx\"]\n",
        img.tag
    );
    let files = [
        ("Dockerfile", dockerfile.as_str()),
        (
            ".dockerignore",
            "kept.txt\nDocker*\n.dockerignore\n!Dockerfile.not\n",
        ),
        ("kept.txt", "kept\n"),
        ("other.txt", "other\n"),
    ];
    let b = build(ctx, &files, "")?;
    let r = (|| -> Outcome {
        ok_build(&b)?;
        want_line(&b, "kept.txt", "the daemon does not filter other files")?;
        want_line(&b, "other.txt", "other files are copied")?;
        for gone in ["Dockerfile", ".dockerignore"] {
            if b.stream.lines().any(|l| l.trim() == gone) {
                return Err(fail_at(
                    &b.resp,
                    format!(
                        "{gone} was copied although .dockerignore lists it:\n{}",
                        b.stream
                    ),
                ));
            }
        }
        Ok(())
    })();
    clean(ctx, &b);
    r
}

/// A failing RUN: dockerd's message and error shape, with the exit code.
pub fn run_failure(ctx: &Ctx) -> Outcome {
    let img = ctx.image()?;
    let dockerfile = format!("FROM {}\nRUN [\"/probe\", \"exit\", \"3\"]\n", img.tag);
    let b = build(ctx, &[("Dockerfile", &dockerfile)], "")?;
    clean(ctx, &b);
    expect_status(&b.resp, 200, "building")?;
    let msg = "The command '/probe exit 3' returned a non-zero code: 3";
    let want = serde_json::json!({
        "errorDetail": { "code": 3, "message": msg },
        "error": msg,
    });
    match &b.error {
        Some(e) if *e == want => Ok(()),
        other => Err(fail_at(
            &b.resp,
            format!("error line {other:?}, dockerd sends {want}"),
        )),
    }
}

/// `cachefrom`: only the named images (and their ancestors) are cache
/// sources; an unknown one means no cache at all, as dockerd decides it.
pub fn cache_from(ctx: &Ctx) -> Outcome {
    let img = ctx.image()?;
    let dockerfile = format!(
        "FROM {}\nENV FOO=cache-{}\nRUN [\"/probe\", \"write\", \"/baz\", \"x\"]\n",
        img.tag, ctx.run_id
    );
    let files = [("Dockerfile", dockerfile.as_str())];
    let first = build(ctx, &files, "")?;
    let r = (|| -> Outcome {
        ok_build(&first)?;
        let hits = |b: &Built| b.stream.matches("---> Using cache").count();
        let from = serde_json::json!([first.tag]).to_string();
        let second = build(ctx, &files, &format!("&cachefrom={}", enc(&from)))?;
        let r2 = ok_build(&second).and_then(|()| {
            // ENV and RUN, and the labels step (same labels) too.
            if hits(&second) == 3 {
                Ok(())
            } else {
                Err(fail_at(
                    &second.resp,
                    format!(
                        "cachefrom=[the first build]: {} steps from cache, dockerd 3:\n{}",
                        hits(&second),
                        second.stream
                    ),
                ))
            }
        });
        clean(ctx, &second);
        r2?;
        let none = serde_json::json!(["shipshape-no-such-image-for-cache"]).to_string();
        let third = build(ctx, &files, &format!("&cachefrom={}", enc(&none)))?;
        let r3 = ok_build(&third).and_then(|()| {
            if hits(&third) == 0 {
                Ok(())
            } else {
                Err(fail_at(
                    &third.resp,
                    format!(
                        "cachefrom=[an unknown image]: {} steps from cache, dockerd none",
                        hits(&third)
                    ),
                ))
            }
        });
        clean(ctx, &third);
        r3
    })();
    clean(ctx, &first);
    r
}

/// A RUN's stderr arrives in the stream wrapped in red (ESC[91m .. ESC[0m).
pub fn run_stderr(ctx: &Ctx) -> Outcome {
    let img = ctx.image()?;
    let dockerfile = format!(
        "FROM {}\nRUN [\"/probe\", \"stderr\", \"to-stderr-{}\"]\n",
        img.tag, ctx.run_id
    );
    let b = build(ctx, &[("Dockerfile", &dockerfile)], "&nocache=1")?;
    clean(ctx, &b);
    ok_build(&b)?;
    // dockerd wraps each chunk the process wrote, and a line may come in
    // several chunks (seen: "to-stderr-X" and "\n" apart): where one red
    // span ends and the next begins is not part of the law.
    let joined = b.stream.replace("\u{1b}[0m\u{1b}[91m", "");
    let text = format!("\u{1b}[91mto-stderr-{}\n\u{1b}[0m", ctx.run_id);
    if joined.contains(&text) {
        Ok(())
    } else {
        Err(fail_at(
            &b.resp,
            format!(
                "stderr is shown in red: the stream has no {text:?}:\n{}",
                b.stream
            ),
        ))
    }
}
