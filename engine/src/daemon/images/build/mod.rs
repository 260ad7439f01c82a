//! The classic builder (`DOCKER_BUILDKIT=0 docker build`): runs a parsed
//! Dockerfile step by step against the image store. Each step commits an
//! image whose parent is the previous step's: RUN runs a real container and
//! commits its changes as a layer, COPY/ADD add a layer from the context,
//! the rest change only the config (an `empty_layer` history entry). A
//! step whose result already exists as a child of the current image (same
//! container config) is reused, as dockerd's build cache does.
//! Progress is streamed as dockerd's JSON messages.

mod cache;
mod chown;
mod commit;
pub mod context;
mod copy;
pub mod dockerignore;
mod progress;
pub mod remote;
mod run_step;
mod source_hash;
mod stage;
pub mod stage_root;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Map, Value};
use shipshape_store::{Image, LayerSource};
use tokio::sync::mpsc;

use crate::daemon::containers::lifecycle::{self, now_rfc3339, DEFAULT_PATH};
use crate::daemon::containers::record::{Config, CreateRequest};
use crate::daemon::images::dockerfile::{self, Instruction};
use crate::daemon::images::import::{go_arch, zero_config};
use crate::daemon::Daemon;
use crate::errdefs::EngineError;
use context::{Context, Source};

use cache::cached;
use commit::{commit, config_step};
use copy::copy_step;
use progress::short;
pub use progress::{BuildError, Progress};
use run_step::run_step;
use stage::{arg_value, config_change, image_config, shell_of, step_container_config, Stage};

/// A build's `-t` value, normalized as the image will be tagged. dockerd
/// answers 500 to a bad tag here (not the 400 elsewhere).
pub fn tag_for(t: &str) -> Result<String, EngineError> {
    let r = shipshape_store::reference::parse_normalized_named(t)
        .map_err(|e| EngineError::System(e.to_string()))?;
    if r.digest.is_some() {
        return Err(EngineError::System(
            "build tag cannot contain a digest".into(),
        ));
    }
    Ok(r.with_default_tag().familiar())
}

/// What `POST /build` asks for.
#[derive(Debug, Default, Clone)]
pub struct BuildOptions {
    /// Familiar `name:tag` references to tag the result with.
    pub tags: Vec<String>,
    pub buildargs: BTreeMap<String, Option<String>>,
    pub nocache: bool,
    /// Remove intermediate containers after a successful step.
    pub rm: bool,
    /// Remove them after a failed step too.
    pub forcerm: bool,
    pub quiet: bool,
    /// `target`: the stage to stop after (instructions already cut to it).
    pub target: Option<String>,
    /// `cachefrom`: when given, only these images and their ancestors are
    /// cache sources (as dockerd: `cachefrom=["nosuchimage"]` uses no cache).
    pub cache_from: Vec<String>,
    /// `extrahosts` (repeated `host:ip`): added to each RUN step's /etc/hosts.
    pub extra_hosts: Vec<String>,
    /// `networkmode`: each RUN step's container's `HostConfig.NetworkMode`
    /// (`none`, `host`, a network's name, `container:<X>`); empty is the
    /// default bridge.
    pub network_mode: String,
}

/// Checks a parsed Dockerfile before the build answers 200 (dockerd's 400s).
pub fn validate(ins: &[Instruction]) -> Result<(), EngineError> {
    if ins.is_empty() {
        return Err(EngineError::InvalidParameter(
            "the Dockerfile (Dockerfile) cannot be empty".into(),
        ));
    }
    for i in ins.iter().filter(|i| i.cmd == "from") {
        stage_name(i)?;
    }
    match ins.iter().find(|i| i.cmd != "arg") {
        Some(i) if i.cmd == "from" => Ok(()),
        _ => Err(EngineError::InvalidParameter(
            "Please provide a source image with `from` prior to commit".into(),
        )),
    }
}

/// The `AS name` of a FROM line, lower-cased, checked with dockerd's rule
/// (a letter, then letters, digits, `-`, `_` and `.`).
fn stage_name(ins: &Instruction) -> Result<Option<String>, EngineError> {
    let words = dockerfile::split_words(&ins.args);
    match words.len() {
        1 => Ok(None),
        3 if words[1].eq_ignore_ascii_case("as") => {
            let name = words[2].to_ascii_lowercase();
            let mut chars = name.chars();
            let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !ok {
                return Err(EngineError::InvalidParameter(format!(
                    "dockerfile parse error line {}: invalid name for build stage: {:?}, name can't start with a number or contain symbols",
                    ins.line, words[2]
                )));
            }
            Ok(Some(name))
        }
        _ => Err(EngineError::InvalidParameter(format!(
            "dockerfile parse error line {}: FROM requires either one or three arguments",
            ins.line
        ))),
    }
}

/// `--target`: the instructions up to the end of the named stage (dockerd
/// runs nothing after it, and counts steps only up to it).
pub fn cut_to_target(ins: &mut Vec<Instruction>, target: &str) -> Result<(), EngineError> {
    let target = target.to_ascii_lowercase();
    let start = ins
        .iter()
        .position(|i| i.cmd == "from" && stage_name(i).ok().flatten().as_deref() == Some(&target))
        .ok_or_else(|| {
            EngineError::InvalidParameter(format!(
                "failed to reach build target {target} in Dockerfile"
            ))
        })?;
    if let Some(next) = ins[start + 1..].iter().position(|i| i.cmd == "from") {
        ins.truncate(start + 1 + next);
    }
    Ok(())
}

/// Runs the build; returns the final image ID. Errors are for the stream.
pub async fn run(
    d: &Arc<Daemon>,
    ctx: Arc<Context>,
    instructions: Vec<Instruction>,
    opts: BuildOptions,
    out: &Progress,
) -> Result<String, BuildError> {
    let total = instructions.len();
    let mut meta_args: Vec<(String, Option<String>)> = Vec::new();
    let mut stage: Option<Stage> = None;
    // Finished stages, for `FROM <stage>` and `COPY --from=`.
    let mut done: Vec<Done> = Vec::new();
    let mut consumed: Vec<String> = Vec::new();
    for (n, ins) in instructions.iter().enumerate() {
        if out.gone() {
            return Err(BuildError {
                message: "build canceled: the client went away".into(),
                code: None,
            });
        }
        out.stream(&format!("Step {}/{} : {}", n + 1, total, ins.original))
            .await;
        out.stream("\n").await;
        if ins.cmd == "from" {
            if let Some(prev) = stage.take() {
                // dockerd emits each finished stage's image as an aux line
                // (the last stage's is the build's result, sent after run).
                if let Some(img) = &prev.image {
                    out.aux_id(&img.id).await;
                }
                done.push(Done {
                    name: prev.name,
                    image: prev.image,
                });
            }
            let mut st = from(d, ins, &meta_args, &done).await?;
            let triggers = take_triggers(&mut st)?;
            if !triggers.is_empty() {
                // The base image's ONBUILD triggers run as steps of FROM,
                // with only the last result shown.
                let n = triggers.len();
                // dockerd writes the plural "s" and the newline apart.
                out.stream(&format!("# Executing {n} build trigger")).await;
                if n > 1 {
                    out.stream("s").await;
                }
                out.stream("\n").await;
                out.set_quiet_results(true);
                let mut result = Ok(());
                for t in &triggers {
                    result = dispatch(d, &ctx, &mut st, t, &opts, &done, &mut consumed, out).await;
                    if result.is_err() {
                        break;
                    }
                }
                out.set_quiet_results(false);
                result?;
            }
            match &st.image {
                Some(i) => out.stream(&format!(" ---> {}\n", short(&i.id))).await,
                None => out.stream(" ---> \n").await,
            }
            stage = Some(st);
            continue;
        }
        let Some(st) = stage.as_mut() else {
            // ARG before the first FROM: a value for FROM lines only.
            if ins.cmd == "arg" {
                let (k, v) = arg_value(ins, &[], &opts)?;
                consumed.push(k.clone());
                meta_args.push((k, v));
                continue;
            }
            return Err(EngineError::InvalidParameter(
                "Please provide a source image with `from` prior to commit".into(),
            )
            .into());
        };
        dispatch(d, &ctx, st, ins, &opts, &done, &mut consumed, out).await?;
    }
    let Some(st) = stage else {
        return Err(EngineError::InvalidParameter(
            "No image was generated. Is your Dockerfile empty?".into(),
        )
        .into());
    };
    let Some(img) = st.image else {
        return Err(EngineError::InvalidParameter(
            "No image was generated. Is your Dockerfile empty?".into(),
        )
        .into());
    };
    let unused: Vec<&String> = opts
        .buildargs
        .keys()
        .filter(|k| !consumed.contains(k))
        .collect();
    if !unused.is_empty() {
        let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        out.stream(&format!(
            "[Warning] One or more build-args [{}] were not consumed\n",
            names.join(" ")
        ))
        .await;
    }
    Ok(img.id)
}

/// Runs one instruction of a stage (not FROM).
#[allow(clippy::too_many_arguments)]
async fn dispatch(
    d: &Arc<Daemon>,
    ctx: &Arc<Context>,
    st: &mut Stage,
    ins: &Instruction,
    opts: &BuildOptions,
    done: &[Done],
    consumed: &mut Vec<String>,
    out: &Progress,
) -> Result<(), BuildError> {
    match ins.cmd.as_str() {
        "run" => run_step(d, st, ins, opts, out).await,
        "copy" | "add" => copy_step(d, ctx, st, ins, opts, done, out).await,
        _ => {
            let text = config_change(st, ins, opts, consumed)?;
            config_step(d, st, &text, opts, out).await
        }
    }
}

/// The base image's ONBUILD triggers, parsed, and removed from the stage's
/// config (they do not carry over to the new image).
fn take_triggers(st: &mut Stage) -> Result<Vec<Instruction>, BuildError> {
    let list: Vec<String> = match st.config.get("OnBuild") {
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => return Ok(Vec::new()),
    };
    st.config.insert("OnBuild".into(), Value::Null);
    let mut out = Vec::new();
    for t in list {
        for ins in dockerfile::parse(&t)? {
            if matches!(ins.cmd.as_str(), "onbuild" | "from" | "maintainer") {
                return Err(EngineError::InvalidParameter(format!(
                    "{} isn't allowed as an ONBUILD trigger",
                    ins.cmd.to_ascii_uppercase()
                ))
                .into());
            }
            out.push(ins);
        }
    }
    Ok(out)
}

/// A finished stage: its name and final image (None for an empty scratch).
struct Done {
    name: Option<String>,
    image: Option<Image>,
}

/// `FROM image [AS name]` (or `scratch`, or an earlier stage's name).
async fn from(
    d: &Arc<Daemon>,
    ins: &Instruction,
    meta_args: &[(String, Option<String>)],
    done: &[Done],
) -> Result<Stage, BuildError> {
    let env: Vec<String> = meta_args
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    let words = dockerfile::split_words(&ins.args);
    let Some(first) = words.first() else {
        return Err(EngineError::InvalidParameter(
            "FROM requires either one or three arguments".into(),
        )
        .into());
    };
    let stage_name = stage_name(ins)?;
    if let Some(n) = &stage_name {
        if done.iter().any(|s| s.name.as_deref() == Some(n)) {
            return Err(EngineError::InvalidParameter("a stage name already used".into()).into());
        }
    }
    let name = dockerfile::expand(first, &env)?;
    let earlier = done
        .iter()
        .rev()
        .find(|s| s.name.as_deref() == Some(name.to_ascii_lowercase().as_str()));
    let mut stage = Stage {
        name: stage_name,
        image: None,
        config: Map::new(),
        author: None,
        cmd_set: false,
        args: Vec::new(),
        meta: meta_args.to_vec(),
    };
    if earlier.is_some_and(|s| s.image.is_none()) || name.eq_ignore_ascii_case("scratch") {
        if let Value::Object(m) = zero_config() {
            stage.config = m;
        }
    } else {
        let found = match earlier.and_then(|s| s.image.clone()) {
            Some(i) => Ok(i),
            None => d.images.get(&name),
        };
        let img = match found {
            Ok(i) => i,
            // dockerd pulls a missing base image; without a registry that
            // fails with the pull's error.
            Err(_) => {
                return Err(crate::daemon::images::pull::pull_error(&name, "")
                    .await
                    .into());
            }
        };
        stage.config = match img.config.get("config") {
            Some(Value::Object(m)) => m.clone(),
            _ => match zero_config() {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        };
        stage.author = img
            .config
            .get("author")
            .and_then(|v| v.as_str())
            .map(String::from);
        stage.image = Some(img);
    }
    // dockerd gives every stage a PATH.
    let mut env = dockerfile::env_of(&stage.config);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
        stage.config.insert("Env".into(), json!(env));
    }
    Ok(stage)
}
