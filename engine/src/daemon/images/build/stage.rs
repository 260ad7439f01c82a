//! The stage being built: its image and config, and the instructions
//! that change only the config (ENV, LABEL, CMD, ARG...).

use super::*;

/// The current stage: its image (None for `scratch`) and config.
pub(super) struct Stage {
    /// `AS name`, lower-cased.
    pub(super) name: Option<String>,
    pub(super) image: Option<Image>,
    /// The image's container config (Docker's `Config`), being changed.
    pub(super) config: Map<String, Value>,
    /// Config fields of the image config besides `config` (author...).
    pub(super) author: Option<String>,
    /// Whether CMD was set in this stage (ENTRYPOINT then keeps it).
    pub(super) cmd_set: bool,
    /// ARGs declared in this stage with their values.
    pub(super) args: Vec<(String, Option<String>)>,
    /// ARGs declared before the first FROM: their values are the defaults
    /// of the stage's own `ARG name` without a value (build-args still win).
    pub(super) meta: Vec<(String, Option<String>)>,
}

impl Stage {
    pub(super) fn image_id(&self) -> String {
        self.image
            .as_ref()
            .map(|i| i.id.clone())
            .unwrap_or_default()
    }

    /// `KEY=value` list for variable substitution: ARGs, then ENV (ENV wins).
    pub(super) fn sub_env(&self) -> Vec<String> {
        let mut env: Vec<String> = self
            .args
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        env.extend(dockerfile::env_of(&self.config));
        env
    }

    /// ARGs with values, as RUN sees them and history records them.
    pub(super) fn arg_pairs(&self) -> Vec<String> {
        let mut seen = BTreeMap::new();
        for (k, v) in &self.args {
            if let Some(v) = v {
                seen.insert(k.clone(), v.clone());
            }
        }
        seen.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

/// `ARG name[=default]`: the value is the build-arg if given, else the default.
pub(super) fn arg_value(
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
pub(super) fn config_change(
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

pub(super) fn shell_of(cfg: &Map<String, Value>) -> Vec<String> {
    cfg.get("Shell")
        .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

/// The image config for a step's result.
pub(super) fn image_config(
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
pub(super) fn step_container_config(st: &Stage, cmd: Vec<String>) -> Value {
    let mut cc = Value::Object(st.config.clone());
    cc["Cmd"] = json!(cmd);
    cc["Image"] = json!(st.image_id());
    cc
}
