//! The classic builder (`DOCKER_BUILDKIT=0 docker build`): runs a parsed
//! Dockerfile step by step against the image store. Each step commits an
//! image whose parent is the previous step's: RUN runs a real container and
//! commits its changes as a layer, COPY/ADD add a layer from the context,
//! the rest change only the config (an `empty_layer` history entry). A
//! step whose result already exists as a child of the current image (same
//! container config) is reused, as dockerd's build cache does.
//! Progress is streamed as dockerd's JSON messages.

mod chown;
pub mod context;
pub mod dockerignore;
mod source_hash;
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
}

/// A build failure as the stream reports it (with the exit code for RUN).
pub struct BuildError {
    pub message: String,
    pub code: Option<i32>,
}

impl From<EngineError> for BuildError {
    fn from(e: EngineError) -> Self {
        BuildError {
            message: e.to_string(),
            code: None,
        }
    }
}

impl From<std::io::Error> for BuildError {
    fn from(e: std::io::Error) -> Self {
        EngineError::from(e).into()
    }
}

impl From<shipshape_store::StoreError> for BuildError {
    fn from(e: shipshape_store::StoreError) -> Self {
        EngineError::from(e).into()
    }
}

/// The progress stream: dockerd's JSON lines.
pub struct Progress {
    tx: mpsc::Sender<Bytes>,
    quiet: bool,
    /// While ONBUILD triggers run: each step's ` ---> <id>` is not shown.
    quiet_results: std::sync::atomic::AtomicBool,
}

impl Progress {
    pub fn new(tx: mpsc::Sender<Bytes>, quiet: bool) -> Self {
        Progress {
            tx,
            quiet,
            quiet_results: std::sync::atomic::AtomicBool::new(false),
        }
    }

    async fn send(&self, v: Value) {
        let mut out = serde_json::to_vec(&v).unwrap_or_default();
        out.push(b'\n');
        let _ = self.tx.send(Bytes::from(out)).await;
    }

    /// A `{"stream": ...}` line (suppressed with `q`).
    pub async fn stream(&self, s: &str) {
        if !self.quiet {
            self.send(json!({ "stream": s })).await;
        }
    }

    /// `{"aux":{"ID":...}}`: an image the build made (not in quiet mode).
    pub async fn aux_id(&self, id: &str) {
        if !self.quiet {
            self.send(json!({ "aux": { "ID": id } })).await;
        }
    }

    /// A line sent even in quiet mode.
    pub async fn always(&self, v: Value) {
        self.send(v).await;
    }

    fn set_quiet_results(&self, on: bool) {
        self.quiet_results
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// A step's ` ---> <short id>` line.
    async fn result(&self, id: &str) {
        if !self
            .quiet_results
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            self.stream(&format!(" ---> {}\n", short(id))).await;
        }
    }

    pub async fn error(&self, e: &BuildError) {
        // dockerd's field order: code (only for a failed RUN), then message.
        let detail = match e.code {
            Some(c) => json!({ "code": c, "message": e.message }),
            None => json!({ "message": e.message }),
        };
        self.send(json!({ "errorDetail": detail, "error": e.message }))
            .await;
    }

    fn gone(&self) -> bool {
        self.tx.is_closed()
    }
}

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// The current stage: its image (None for `scratch`) and config.
struct Stage {
    /// `AS name`, lower-cased.
    name: Option<String>,
    image: Option<Image>,
    /// The image's container config (Docker's `Config`), being changed.
    config: Map<String, Value>,
    /// Config fields of the image config besides `config` (author...).
    author: Option<String>,
    /// Whether CMD was set in this stage (ENTRYPOINT then keeps it).
    cmd_set: bool,
    /// ARGs declared in this stage with their values.
    args: Vec<(String, Option<String>)>,
    /// ARGs declared before the first FROM: their values are the defaults
    /// of the stage's own `ARG name` without a value (build-args still win).
    meta: Vec<(String, Option<String>)>,
}

impl Stage {
    fn image_id(&self) -> String {
        self.image
            .as_ref()
            .map(|i| i.id.clone())
            .unwrap_or_default()
    }

    /// `KEY=value` list for variable substitution: ARGs, then ENV (ENV wins).
    fn sub_env(&self) -> Vec<String> {
        let mut env: Vec<String> = self
            .args
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        env.extend(dockerfile::env_of(&self.config));
        env
    }

    /// ARGs with values, as RUN sees them and history records them.
    fn arg_pairs(&self) -> Vec<String> {
        let mut seen = BTreeMap::new();
        for (k, v) in &self.args {
            if let Some(v) = v {
                seen.insert(k.clone(), v.clone());
            }
        }
        seen.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
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

/// `ARG name[=default]`: the value is the build-arg if given, else the default.
fn arg_value(
    ins: &Instruction,
    env: &[String],
    opts: &BuildOptions,
) -> Result<(String, Option<String>), BuildError> {
    let words = dockerfile::split_words(&ins.args);
    if words.len() != 1 {
        return Err(
            EngineError::InvalidParameter("ARG requires exactly one argument".into()).into(),
        );
    }
    let (name, default) = match words[0].split_once('=') {
        Some((k, v)) => (k.to_string(), Some(dockerfile::expand(v, env)?)),
        None => (words[0].clone(), None),
    };
    let value = match opts.buildargs.get(&name) {
        Some(Some(v)) => Some(v.clone()),
        _ => default,
    };
    Ok((name, value))
}

/// Applies a config-only instruction; returns the history text after `#(nop) `.
fn config_change(
    st: &mut Stage,
    ins: &Instruction,
    opts: &BuildOptions,
    consumed: &mut Vec<String>,
) -> Result<String, BuildError> {
    let env = st.sub_env();
    match ins.cmd.as_str() {
        "arg" => {
            let (k, mut v) = arg_value(ins, &env, opts)?;
            if v.is_none() {
                v = st
                    .meta
                    .iter()
                    .rev()
                    .find(|(m, _)| *m == k)
                    .and_then(|(_, mv)| mv.clone());
            }
            consumed.push(k.clone());
            // dockerd records the declaration as written (the default, not
            // the value a build-arg gives it).
            let declared = dockerfile::split_words(&ins.args)
                .first()
                .and_then(|w| w.split_once('=').map(|(_, d)| d.to_string()));
            let text = match declared {
                Some(d) => format!(" ARG {k}={}", dockerfile::expand(&d, &env)?),
                None => format!(" ARG {k}"),
            };
            st.args.push((k, v));
            Ok(text)
        }
        "maintainer" => {
            st.author = Some(ins.args.clone());
            Ok(format!(" MAINTAINER {}", ins.args))
        }
        "shell" => {
            let Some(shell) = dockerfile::json_form(&ins.args).filter(|s| !s.is_empty()) else {
                return Err(EngineError::InvalidParameter(
                    "SHELL requires the arguments to be in JSON form".into(),
                )
                .into());
            };
            let text = format!(" SHELL {}", dockerfile::go_quoted(&shell));
            st.config.insert("Shell".into(), json!(shell));
            Ok(text)
        }
        "cmd" | "entrypoint" => {
            let shell = shell_of(&st.config);
            let value = match dockerfile::json_form(&ins.args) {
                Some(v) => v,
                None => shell.into_iter().chain([ins.args.clone()]).collect(),
            };
            let key = if ins.cmd == "cmd" {
                "Cmd"
            } else {
                "Entrypoint"
            };
            st.config.insert(key.into(), json!(value));
            if ins.cmd == "cmd" {
                st.cmd_set = true;
            } else if !st.cmd_set {
                // A new ENTRYPOINT drops the CMD inherited from the base image.
                st.config.insert("Cmd".into(), Value::Null);
            }
            Ok(format!(
                " {} {}",
                ins.cmd.to_ascii_uppercase(),
                dockerfile::go_quoted(&value)
            ))
        }
        _ => Ok(dockerfile::apply_config(&mut st.config, ins, &env)?),
    }
}

fn shell_of(cfg: &Map<String, Value>) -> Vec<String> {
    cfg.get("Shell")
        .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

/// The image config for a step's result.
fn image_config(
    st: &Stage,
    container_id: &str,
    container_config: Value,
    history_entry: Value,
) -> Value {
    let mut history = st
        .image
        .as_ref()
        .and_then(|i| i.config.get("history"))
        .and_then(|h| h.as_array())
        .cloned()
        .unwrap_or_default();
    let created = history_entry
        .get("created")
        .cloned()
        .unwrap_or_else(|| json!(now_rfc3339()));
    history.push(history_entry);
    let mut config = Value::Object(st.config.clone());
    config["Image"] = json!(st.image_id());
    let mut out = json!({
        "architecture": go_arch(),
        "config": config,
        "container": container_id,
        "container_config": container_config,
        "created": created,
        "docker_version": crate::version::ENGINE_VERSION,
        "history": history,
        "os": "linux",
    });
    if let Some(a) = &st.author {
        out["author"] = json!(a);
    }
    out
}

/// The container config a step records (and the build cache compares):
/// the stage config with the step's command line as `Cmd`.
fn step_container_config(st: &Stage, cmd: Vec<String>) -> Value {
    let mut cc = Value::Object(st.config.clone());
    cc["Cmd"] = json!(cmd);
    cc["Image"] = json!(st.image_id());
    cc
}

/// The images `cachefrom` allows as cache hits: each named image and its
/// ancestors (None: no `cachefrom`, any child of the parent is allowed).
fn cache_sources(d: &Daemon, opts: &BuildOptions) -> Option<std::collections::HashSet<String>> {
    if opts.cache_from.is_empty() {
        return None;
    }
    let mut set = std::collections::HashSet::new();
    for r in &opts.cache_from {
        let mut next = d.images.get(r).ok();
        while let Some(img) = next {
            if !set.insert(img.id.clone()) || img.parent.is_empty() {
                break;
            }
            next = d.images.get(&img.parent).ok();
        }
    }
    Some(set)
}

/// A child of the current image made by the same step, if caching applies.
fn cached(d: &Daemon, st: &Stage, cc: &Value, opts: &BuildOptions) -> Option<Image> {
    if opts.nocache {
        return None;
    }
    let parent = st.image.as_ref()?;
    let allowed = cache_sources(d, opts);
    d.images
        .children(&parent.id)
        .into_iter()
        .filter(|id| allowed.as_ref().is_none_or(|a| a.contains(id)))
        .filter_map(|id| d.images.get(&id).ok())
        .filter(|i| i.config.get("container_config") == Some(cc))
        .filter(|i| {
            i.config.get("config").map(strip_image)
                == Some(strip_image(&Value::Object(st.config.clone())))
        })
        .max_by_key(|i| i.created.clone())
}

fn strip_image(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("Image");
    }
    v
}

/// Commits `config` + the parent's layers (+ `layer`) with the stage's image as parent.
async fn commit(
    d: &Arc<Daemon>,
    st: &Stage,
    config: Value,
    layer: Option<std::path::PathBuf>,
) -> Result<Image, BuildError> {
    let d2 = d.clone();
    let parent = st.image.clone();
    let img = tokio::task::spawn_blocking(move || -> Result<Image, EngineError> {
        let mut layers: Vec<LayerSource> = parent
            .as_ref()
            .map(|p| {
                p.layers
                    .iter()
                    .cloned()
                    .map(LayerSource::Existing)
                    .collect()
            })
            .unwrap_or_default();
        // A scratch file of the build's: the store takes it over.
        if let Some(path) = layer {
            layers.push(LayerSource::TarFile(path));
        }
        Ok(d2
            .images
            .create_image(config, layers, parent.as_ref().map(|p| p.id.as_str()), &[])?)
    })
    .await
    .map_err(EngineError::system)??;
    Ok(img)
}

/// A config-only step: an image with an `empty_layer` history entry.
async fn config_step(
    d: &Arc<Daemon>,
    st: &mut Stage,
    text: &str,
    opts: &BuildOptions,
    out: &Progress,
) -> Result<(), BuildError> {
    let cc = step_container_config(
        st,
        vec![
            "/bin/sh".into(),
            "-c".into(),
            "#(nop) ".into(),
            text.trim_start().to_string(),
        ],
    );
    if let Some(img) = cached(d, st, &cc, opts) {
        out.stream(" ---> Using cache\n").await;
        out.result(&img.id).await;
        st.image = Some(img);
        return Ok(());
    }
    // dockerd runs a no-op container for these steps; only its ID shows.
    let cid = crate::daemon::containers::names::new_id();
    out.stream(&format!(" ---> Running in {}\n", &cid[..12]))
        .await;
    let entry = json!({
        "created": now_rfc3339(),
        "created_by": format!("/bin/sh -c #(nop) {text}"),
        "empty_layer": true,
    });
    let config = image_config(st, &cid, cc, entry);
    let img = commit(d, st, config, None).await?;
    out.stream(&format!("Removing intermediate container {}\n", &cid[..12]))
        .await;
    out.result(&img.id).await;
    st.image = Some(img);
    Ok(())
}

/// COPY/ADD: a layer from the context.
async fn copy_step(
    d: &Arc<Daemon>,
    ctx: &Arc<Context>,
    st: &mut Stage,
    ins: &Instruction,
    opts: &BuildOptions,
    done: &[Done],
    out: &Progress,
) -> Result<(), BuildError> {
    // `--from=`: a finished stage (by name or index) or a local image.
    let from_image: Option<Option<Image>> = match ins.flags.iter().find(|(k, _)| k == "from") {
        None => None,
        Some((_, v)) => Some(copy_from_image(d, v, done).await?),
    };
    // `--chown=`: the owner of everything copied (root's without it).
    let owner = match ins.flags.iter().rev().find(|(k, _)| k == "chown") {
        Some((_, v)) if !v.is_empty() => {
            chown::resolve(d, st.image.as_ref().map(|i| i.id.clone()), v).await?
        }
        _ => (0, 0),
    };
    let upper = ins.cmd.to_ascii_uppercase();
    let words = dockerfile::list(&ins.args, &st.sub_env())?;
    if words.len() < 2 {
        return Err(EngineError::InvalidParameter(format!(
            "{upper} requires at least two arguments"
        ))
        .into());
    }
    let (srcs, dest) = words.split_at(words.len() - 1);
    let mut dest = dest[0].clone();
    if !dest.starts_with('/') {
        let wd = st
            .config
            .get("WorkingDir")
            .and_then(|v| v.as_str())
            .filter(|w| !w.is_empty())
            .unwrap_or("/")
            .to_string();
        let keep_slash = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
        dest = dockerfile::clean_path(&format!("{wd}/{dest}"));
        if keep_slash && !dest.ends_with('/') {
            dest.push('/');
        }
    }
    let (ctx2, cmd, srcs2, dest2, tmp) = (
        ctx.clone(),
        ins.cmd.clone(),
        srcs.to_vec(),
        dest.clone(),
        d.tmp_dir(),
    );
    let d2 = d.clone();
    let layer = tokio::task::spawn_blocking(move || match from_image {
        None => context::copy_layer(Source::Context(&ctx2), &cmd, &srcs2, &dest2, &tmp, owner),
        Some(Some(img)) => {
            let root = stage_root::ImageRoot::mount(&d2, &img.id)?;
            context::copy_layer(
                Source::Image(root.root()),
                &cmd,
                &srcs2,
                &dest2,
                &tmp,
                owner,
            )
        }
        Some(None) => {
            // An empty scratch stage: nothing to copy from.
            std::fs::create_dir_all(&tmp)?;
            let empty = tempfile::Builder::new()
                .prefix("copy-from-")
                .tempdir_in(&tmp)?;
            context::copy_layer(
                Source::Image(empty.path()),
                &cmd,
                &srcs2,
                &dest2,
                &tmp,
                owner,
            )
        }
    })
    .await
    .map_err(EngineError::system)??;
    let text = format!("{upper} {} in {dest} ", layer.source_id);
    let cc = step_container_config(
        st,
        vec!["/bin/sh".into(), "-c".into(), format!("#(nop) {text}")],
    );
    if let Some(img) = cached(d, st, &cc, opts) {
        out.stream(" ---> Using cache\n").await;
        out.result(&img.id).await;
        st.image = Some(img);
        return Ok(());
    }
    let entry = json!({
        "created": now_rfc3339(),
        "created_by": format!("/bin/sh -c #(nop) {text}"),
    });
    let config = image_config(st, "", cc, entry);
    let img = commit(d, st, config, Some(layer.tar.path().to_path_buf())).await?;
    drop(layer);
    out.result(&img.id).await;
    st.image = Some(img);
    Ok(())
}

/// The image `COPY --from=value` reads: a finished stage by name or index
/// (None for an empty scratch stage), else a local image.
async fn copy_from_image(
    d: &Arc<Daemon>,
    value: &str,
    done: &[Done],
) -> Result<Option<Image>, BuildError> {
    let lower = value.to_ascii_lowercase();
    if let Some(s) = done
        .iter()
        .rev()
        .find(|s| s.name.as_deref() == Some(&lower))
    {
        return Ok(s.image.clone());
    }
    if let Ok(i) = value.parse::<usize>() {
        return match done.get(i) {
            Some(s) => Ok(s.image.clone()),
            None => Err(EngineError::InvalidParameter(format!(
                "invalid from flag value {value}: index out of bounds"
            ))
            .into()),
        };
    }
    match d.images.get(value) {
        Ok(i) => Ok(Some(i)),
        Err(_) => Err(crate::daemon::images::pull::pull_error(value, "")
            .await
            .into()),
    }
}

/// RUN: a real container from the current image; its changes become a layer.
async fn run_step(
    d: &Arc<Daemon>,
    st: &mut Stage,
    ins: &Instruction,
    opts: &BuildOptions,
    out: &Progress,
) -> Result<(), BuildError> {
    if ins.args.is_empty() {
        return Err(
            EngineError::InvalidParameter("RUN requires at least one argument".into()).into(),
        );
    }
    let argv = match dockerfile::json_form(&ins.args) {
        Some(v) => v,
        None => shell_of(&st.config)
            .into_iter()
            .chain([ins.args.clone()])
            .collect(),
    };
    let args = st.arg_pairs();
    // dockerd records the build args used by a RUN as `|N k=v ...` so the
    // cache tells runs with different args apart.
    let mut recorded = Vec::new();
    if !args.is_empty() {
        recorded.push(format!("|{}", args.len()));
        recorded.extend(args.iter().cloned());
    }
    recorded.extend(argv.iter().cloned());
    let cc = step_container_config(st, recorded.clone());
    if let Some(img) = cached(d, st, &cc, opts) {
        out.stream(" ---> Using cache\n").await;
        out.result(&img.id).await;
        st.image = Some(img);
        return Ok(());
    }
    let Some(image) = st.image.clone() else {
        return Err(EngineError::InvalidParameter(
            "RUN needs a filesystem: FROM scratch has no files to run (COPY some first)".into(),
        )
        .into());
    };
    // ENV wins over a build arg of the same name.
    let mut env = dockerfile::env_of(&st.config);
    for a in &args {
        let k = a.split('=').next().unwrap_or("");
        if !env.iter().any(|e| e.split('=').next() == Some(k)) {
            env.push(a.clone());
        }
    }
    let text = |k: &str| {
        st.config
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let req = CreateRequest {
        config: Config {
            image: image.id.clone(),
            cmd: Some(argv.clone()),
            entrypoint: Some(Vec::new()),
            env: Some(env),
            working_dir: text("WorkingDir"),
            user: text("User"),
            attach_stdout: true,
            attach_stderr: true,
            ..Default::default()
        },
        host_config: (!opts.extra_hosts.is_empty())
            .then(|| json!({ "ExtraHosts": opts.extra_hosts })),
        networking_config: None,
        platform: None,
        several_networks: false,
    };
    let d2 = d.clone();
    let (cid, _) = tokio::task::spawn_blocking(move || lifecycle::create(&d2, None, req))
        .await
        .map_err(EngineError::system)??;
    let c = d.container(&cid)?;
    out.stream(&format!(" ---> Running in {}\n", &cid[..12]))
        .await;
    let result = run_container(d, &c, out).await;
    let outcome = match result {
        Ok(0) => commit_run(d, st, &c, cc, &argv, &args).await,
        Ok(code) => Err(BuildError {
            message: format!(
                "The command '{}' returned a non-zero code: {code}",
                argv.join(" ")
            ),
            code: Some(code),
        }),
        Err(e) => Err(e),
    };
    // As dockerd: `rm` removes the container of a successful step, `forcerm`
    // that of a failed one too (it stays for inspection otherwise).
    let cleanup = if outcome.is_ok() {
        opts.rm
    } else {
        opts.forcerm
    };
    if cleanup {
        if let Err(e) = lifecycle::remove(d, &c, true).await {
            tracing::warn!(id = %cid, error = %e, "removing intermediate container");
        }
        if outcome.is_ok() {
            out.stream(&format!("Removing intermediate container {}\n", &cid[..12]))
                .await;
        }
    }
    let img = outcome?;
    out.result(&img.id).await;
    st.image = Some(img);
    Ok(())
}

/// Starts the container, streams its output, and returns its exit code.
async fn run_container(
    d: &Arc<Daemon>,
    c: &Arc<crate::daemon::Container>,
    out: &Progress,
) -> Result<i32, BuildError> {
    lifecycle::start(d, c).await?;
    let done = lifecycle::wait(c.clone(), lifecycle::WaitCondition::NotRunning);
    tokio::pin!(done);
    let log = c.log_path();
    let mut offset = 0u64;
    let code = loop {
        let finished = tokio::select! {
            code = &mut done => Some(code),
            _ = tokio::time::sleep(Duration::from_millis(200)) => None,
        };
        offset = forward_logs(&log, offset, out).await;
        if let Some(code) = finished {
            break code;
        }
    };
    forward_logs(&log, offset, out).await;
    Ok(code)
}

/// Streams new log records since `offset`; returns the new offset.
async fn forward_logs(log: &std::path::Path, offset: u64, out: &Progress) -> u64 {
    let path = log.to_path_buf();
    let read = tokio::task::spawn_blocking(move || {
        crate::daemon::containers::logs::read_from(&path, offset)
    })
    .await;
    match read {
        Ok(Ok((entries, next))) => {
            for e in entries {
                let text = String::from_utf8_lossy(&e.bytes);
                if e.stream == crate::daemon::containers::logs::STDERR {
                    // dockerd shows a RUN's stderr in red.
                    out.stream(&format!("\x1b[91m{text}\x1b[0m")).await;
                } else {
                    out.stream(&text).await;
                }
            }
            next
        }
        _ => offset,
    }
}

/// Commits a finished RUN container's changes as the step's layer.
async fn commit_run(
    d: &Arc<Daemon>,
    st: &Stage,
    c: &Arc<crate::daemon::Container>,
    cc: Value,
    argv: &[String],
    args: &[String],
) -> Result<Image, BuildError> {
    let fs_dir = c.fs_dir();
    if shipshape_runtime::rootfs_kind(&fs_dir) == shipshape_runtime::RootfsKind::Copy {
        return Err(EngineError::NotImplemented(
            "RUN needs overlayfs to commit its changes (this container has a copied root)".into(),
        )
        .into());
    }
    let tmp = d.tmp_dir();
    let upper = fs_dir.join("upper");
    let layer =
        tokio::task::spawn_blocking(move || -> Result<tempfile::NamedTempFile, EngineError> {
            let f = tempfile::NamedTempFile::new_in(tmp)?;
            // Written sparse: a sparse file in the changes is all zeros in the tar.
            let mut w = shipshape_store::sparse::HoleWriter::new(f.as_file())?;
            shipshape_store::diff::pack_overlay_upper(&upper, &mut w)?;
            w.finish()?;
            Ok(f)
        })
        .await
        .map_err(EngineError::system)??;
    let mut created_by = String::new();
    if !args.is_empty() {
        created_by = format!("|{} {} ", args.len(), args.join(" "));
    }
    created_by.push_str(&argv.join(" "));
    let entry = json!({ "created": now_rfc3339(), "created_by": created_by });
    let config = image_config(st, &c.id, cc, entry);
    let img = commit(d, st, config, Some(layer.path().to_path_buf())).await?;
    drop(layer);
    Ok(img)
}
