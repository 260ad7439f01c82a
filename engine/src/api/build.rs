//! `POST /build`: the classic builder over HTTP. The body is the build
//! context as a tar (optionally gzip). Everything that can be refused (bad
//! tags, bad context, missing or unparsable Dockerfile) is refused with a
//! status before the build starts; after that, progress and failures arrive
//! in the 200 stream as dockerd's JSON messages.

use std::collections::BTreeMap;
use std::sync::Arc;

use hyper::StatusCode;
use serde_json::json;

use super::body::request::{drain, spool};
use super::{body, Ctx, Request, Response};
use crate::daemon::images::build::{self, context::Context, BuildOptions, Progress};
use crate::daemon::images::dockerfile::{self, Instruction};
use crate::errdefs::EngineError;

/// Quotes a LABEL value so the word processing gives it back unchanged.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

pub async fn build(ctx: &Ctx, req: Request) -> Result<Response, EngineError> {
    let (opts, dockerfile_name, labels) = match options(ctx) {
        Ok(v) => v,
        Err(e) => {
            drain(req).await;
            return Err(e);
        }
    };
    let Some(url) = ctx.query.get("remote").filter(|r| !r.is_empty()) else {
        let spool = spool(ctx.daemon.tmp_dir(), req).await?;
        return start(ctx, spool, opts, dockerfile_name, labels, Vec::new()).await;
    };
    // A remote context: the body, if any, is not read (as dockerd).
    drain(req).await;
    build::remote::check(url)?;
    let fetched =
        build::remote::fetch(&ctx.daemon.config.registry, url, &ctx.daemon.tmp_dir()).await?;
    // dockerd reports the download first; a lone Dockerfile's report ends
    // with an empty message.
    let mut preface = vec![json!({
        "status": url,
        "progressDetail": {"current": fetched.size},
        "progress": format!("{:>8}", build::remote::human_size(fetched.size)),
        "id": "Downloading context",
    })];
    let dockerfile_name = if fetched.dockerfile {
        preface.push(json!({}));
        "Dockerfile".to_string()
    } else {
        dockerfile_name
    };
    start(ctx, fetched.spool, opts, dockerfile_name, labels, preface).await
}

type Options = (BuildOptions, String, BTreeMap<String, String>);

/// The query parameters, checked.
fn options(ctx: &Ctx) -> Result<Options, EngineError> {
    let q = &ctx.query;
    let mut tags = Vec::new();
    for t in q.all("t") {
        tags.push(build::tag_for(&t)?);
    }
    // dockerd's words and statuses for each.
    let buildargs: BTreeMap<String, Option<String>> = q
        .json("buildargs")
        .map_err(|m| EngineError::InvalidParameter(format!("error reading build args: {m}")))?;
    let labels: BTreeMap<String, String> = q
        .json("labels")
        .map_err(|m| EngineError::InvalidParameter(format!("error reading labels: {m}")))?;
    let cache_from = q
        .json::<Vec<String>>("cachefrom")
        .map_err(EngineError::System)?;
    let opts = BuildOptions {
        tags,
        buildargs,
        nocache: q.flag("nocache"),
        // dockerd removes intermediate containers unless told not to.
        rm: q.get("rm").is_none() || q.flag("rm"),
        forcerm: q.flag("forcerm"),
        quiet: q.flag("q"),
        target: q.get("target").filter(|t| !t.is_empty()).map(String::from),
        cache_from,
        // dockerd 20.10.24 reads every `extrahosts` value (`host:ip`).
        extra_hosts: q.all("extrahosts"),
        network_mode: q.get("networkmode").unwrap_or("").to_string(),
    };
    // dockerd 20.10.24 without experimental mode: squash=1 (or any true
    // value) is 400.
    if let Some(p) = q.get("platform").filter(|p| !p.is_empty()) {
        crate::daemon::platform::parse(p)?;
    }
    // dockerd 20.10.24: "1" is the classic builder, "2" BuildKit; any
    // other value is 500 `invalid version "7"`.
    if let Some(v) = q
        .get("version")
        .filter(|v| !v.is_empty() && *v != "1" && *v != "2")
    {
        return Err(EngineError::System(format!("invalid version {v:?}")));
    }
    if q.flag("squash") {
        return Err(EngineError::InvalidParameter(
            "squash is only supported with experimental mode".into(),
        ));
    }
    let dockerfile_name = q
        .get("dockerfile")
        .filter(|s| !s.is_empty())
        .unwrap_or("Dockerfile")
        .to_string();
    if dockerfile_name.starts_with("http://") || dockerfile_name.starts_with("https://") {
        return Err(EngineError::NotImplemented(
            "remote Dockerfiles are not supported by this engine".into(),
        ));
    }
    Ok((opts, dockerfile_name, labels))
}

async fn start(
    ctx: &Ctx,
    spool: tempfile::NamedTempFile,
    opts: BuildOptions,
    dockerfile_name: String,
    labels: BTreeMap<String, String>,
    preface: Vec<serde_json::Value>,
) -> Result<Response, EngineError> {
    let tmp = ctx.daemon.tmp_dir();
    let target = opts.target.clone();
    let (context, mut instructions) = tokio::task::spawn_blocking(
        move || -> Result<(Context, Vec<Instruction>), EngineError> {
            let context = Context::unpack(spool.path(), &tmp)?;
            drop(spool);
            let text = context.dockerfile(&dockerfile_name)?;
            context.drop_ignored(&dockerfile_name)?;
            // dockerd 20.10.24: a file of no bytes "cannot be empty"; one of
            // blank lines and comments has "no instructions".
            if text.is_empty() {
                return Err(EngineError::InvalidParameter(format!(
                    "the Dockerfile ({dockerfile_name}) cannot be empty"
                )));
            }
            let mut ins = dockerfile::parse(&text)?;
            if ins.is_empty() {
                return Err(EngineError::InvalidParameter(
                    "failed to parse Dockerfile: file with no instructions".into(),
                ));
            }
            build::validate(&ins)?;
            if let Some(t) = &target {
                build::cut_to_target(&mut ins, t)?;
            }
            Ok((context, ins))
        },
    )
    .await
    .map_err(EngineError::system)??;
    if !labels.is_empty() {
        // dockerd adds the `labels` parameter as a final LABEL step.
        let pairs: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
            .collect();
        let text = format!("LABEL {}", pairs.join(" "));
        instructions.extend(dockerfile::parse(&text)?);
    }

    let (tx, resp) = body::channel(StatusCode::OK, "application/json");
    let daemon = ctx.daemon.clone();
    let context = Arc::new(context);
    tokio::spawn(async move {
        let out = Progress::new(tx, opts.quiet);
        for line in preface {
            out.message(line).await;
        }
        let tags = opts.tags.clone();
        let quiet = opts.quiet;
        match build::run(&daemon, context, instructions, opts, &out).await {
            Ok(id) => {
                let mut tag_err = None;
                for t in &tags {
                    if let Err(e) = daemon.tag_built_image(&id, t) {
                        tag_err = Some(e);
                        break;
                    }
                }
                if quiet {
                    out.always(json!({ "stream": format!("{id}\n") })).await;
                } else {
                    out.aux_id(&id).await;
                    out.stream(&format!(
                        "Successfully built {}\n",
                        id.trim_start_matches("sha256:")
                            .chars()
                            .take(12)
                            .collect::<String>()
                    ))
                    .await;
                }
                match tag_err {
                    Some(e) => out.error(&build::BuildError::from(e)).await,
                    None => {
                        for t in &tags {
                            out.stream(&format!("Successfully tagged {t}\n")).await;
                        }
                    }
                }
                tracing::info!(id = %id, "build finished");
            }
            Err(e) => {
                tracing::info!(error = %e.message, "build failed");
                out.error(&e).await;
            }
        }
    });
    Ok(resp)
}

/// `POST /build/prune`: dockerd prunes BuildKit's build cache here, and with
/// none (a daemon that only ever ran the classic builder) answers
/// `{"CachesDeleted":null,"SpaceReclaimed":0}`. The engine has no BuildKit
/// cache at all (its classic builder's cache is the step images, which go
/// with `docker image prune`, and a build's context is deleted when the
/// build ends), so that is its true answer. The parameters are checked as
/// dockerd 20.10.24 checks them, in its order (read with curl):
/// malformed filters JSON 500 "could not parse filters: ..."; then
/// `keep-storage` 500 "keep-storage is in bytes and expects an integer, got
/// x: strconv.Atoi: ..."; then BuildKit's filter keys, 400 "failed to prune
/// build cache: Invalid filter 'x'"; then `until`/`unused-for`: one value
/// each (400 "filters expect only one value"), not both (400 "conflicting
/// filters: ..."), a Go duration (500 "\"until\" filter expects a
/// duration (e.g., '24h'): time: invalid duration ...").
pub async fn prune(ctx: &Ctx) -> Result<Response, EngineError> {
    const KEYS: &[&str] = &[
        "id",
        "parent",
        "type",
        "description",
        "inuse",
        "shared",
        "private",
        "until",
        "unused-for",
    ];
    let failed = |m: String| format!("failed to prune build cache: {m}");
    let filters = match crate::filters::parse(ctx.query.get("filters"), KEYS) {
        Ok(f) => Ok(f),
        Err(EngineError::System(m)) => {
            return Err(EngineError::System(format!("could not parse filters: {m}")))
        }
        Err(EngineError::InvalidParameter(m)) => Err(failed(m)),
        Err(e) => return Err(e),
    };
    if let Some(v) = ctx.query.get("keep-storage").filter(|v| !v.is_empty()) {
        crate::filters::go_parse::<i64>("Atoi", v).map_err(|e| {
            EngineError::System(format!(
                "keep-storage is in bytes and expects an integer, got {v}: {e}"
            ))
        })?;
    }
    let filters = filters.map_err(EngineError::InvalidParameter)?;
    let durations: Vec<(&str, &Vec<String>)> = ["until", "unused-for"]
        .into_iter()
        .filter_map(|k| filters.get(k).map(|v| (k, v)))
        .collect();
    if durations.iter().any(|(_, v)| v.len() > 1) {
        return Err(EngineError::InvalidParameter(failed(
            "filters expect only one value".into(),
        )));
    }
    if durations.len() > 1 {
        return Err(EngineError::InvalidParameter(failed(
            "conflicting filters: \"until\" and \"unused-for\"".into(),
        )));
    }
    for (key, values) in durations {
        for v in values {
            crate::filters::time::go_duration(v).map_err(|e| {
                EngineError::System(failed(format!(
                    "{key:?} filter expects a duration (e.g., '24h'): {e}"
                )))
            })?;
        }
    }
    Ok(super::json(
        &json!({"CachesDeleted": null, "SpaceReclaimed": 0}),
    ))
}
