//! Dockerfile text: the line parser (continuations, comments, instruction
//! words), the shell-like word processing Docker applies to arguments
//! (quotes, escapes, `$VAR` substitution), and the config-only instructions
//! (ENV, LABEL, CMD, ...) applied to an image's container config. Shared by
//! `docker build`, `docker import --change` and `docker commit --change`.

use serde_json::{json, Map, Value};

use crate::errdefs::EngineError;

/// One instruction as written, continuation lines joined.
#[derive(Debug, Clone)]
pub struct Instruction {
    /// Lower-case instruction word (`run`, `copy`, ...).
    pub cmd: String,
    /// Leading `--name=value` flags (COPY/ADD), in order.
    pub flags: Vec<(String, String)>,
    /// Everything after the instruction word and flags, trimmed.
    pub args: String,
    /// The instruction as dockerd echoes it in "Step N/M : ...".
    pub original: String,
    /// 1-based line where the instruction starts.
    pub line: usize,
}

/// Instructions the classic builder knows.
const KNOWN: &[&str] = &[
    "from",
    "run",
    "cmd",
    "entrypoint",
    "env",
    "label",
    "maintainer",
    "expose",
    "volume",
    "user",
    "workdir",
    "arg",
    "copy",
    "add",
    "onbuild",
    "stopsignal",
    "healthcheck",
    "shell",
];

/// Splits Dockerfile text into instructions with dockerd's rules: `#` lines
/// are comments (also inside a continuation), a trailing `\` joins the next
/// line, blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Instruction>, EngineError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        if cur.is_empty() {
            if trimmed.is_empty() {
                continue;
            }
            start = i + 1;
        }
        let body = line.trim_end();
        if let Some(joined) = body.strip_suffix('\\') {
            cur.push_str(if cur.is_empty() {
                joined.trim_start()
            } else {
                joined
            });
            continue;
        }
        cur.push_str(if cur.is_empty() { trimmed } else { body });
        out.push(instruction(&cur, start)?);
        cur.clear();
    }
    if !cur.trim().is_empty() {
        out.push(instruction(&cur, start)?);
    }
    Ok(out)
}

fn instruction(text: &str, line: usize) -> Result<Instruction, EngineError> {
    let text = text.trim();
    let (word, rest) = match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    };
    let cmd = word.to_ascii_lowercase();
    if !KNOWN.contains(&cmd.as_str()) {
        return Err(EngineError::InvalidParameter(format!(
            "dockerfile parse error line {line}: unknown instruction: {}",
            word.to_ascii_uppercase()
        )));
    }
    let mut args = rest;
    let mut flags = Vec::new();
    if matches!(
        cmd.as_str(),
        "copy" | "add" | "from" | "run" | "healthcheck"
    ) {
        while let Some(f) = args.strip_prefix("--") {
            let end = f.find(char::is_whitespace).unwrap_or(f.len());
            let (name, value) = match f[..end].split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => (f[..end].to_string(), String::new()),
            };
            flags.push((name, value));
            args = f[end..].trim_start();
        }
    }
    Ok(Instruction {
        cmd,
        flags,
        args: args.trim().to_string(),
        original: text.to_string(),
        line,
    })
}

/// The JSON ("exec") form of CMD/RUN/ENTRYPOINT/COPY/VOLUME, if `args` is one.
pub fn json_form(args: &str) -> Option<Vec<String>> {
    if !args.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(args).ok()
}

/// Splits on unquoted whitespace; quotes and escapes are kept for `expand`.
pub fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            (None, '\\') | (Some('"'), '\\') => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn lookup<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    // Later entries win, as a later ENV/ARG overrides an earlier one.
    env.iter().rev().find_map(|e| {
        let (k, v) = e.split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Docker's word processing: removes quotes, applies backslash escapes and
/// substitutes `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` from
/// `env` (`KEY=value` entries). Single quotes keep everything literal.
pub fn expand(word: &str, env: &[String]) -> Result<String, EngineError> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match (quote, c) {
            (Some('\''), '\'') => quote = None,
            (Some('\''), c) => out.push(c),
            (None, '\'') | (None, '"') => quote = Some(c),
            (Some('"'), '"') => quote = None,
            (None, '\\') => {
                i += 1;
                if let Some(n) = chars.get(i) {
                    out.push(*n);
                }
            }
            (Some('"'), '\\') => {
                // Inside double quotes only these are escapes, as in sh.
                match chars.get(i + 1) {
                    Some(n @ ('"' | '\\' | '$')) => {
                        out.push(*n);
                        i += 1;
                    }
                    _ => out.push('\\'),
                }
            }
            (_, '$') => {
                let (value, used) = variable(&chars[i + 1..], env)?;
                if used == 0 {
                    out.push('$');
                } else {
                    out.push_str(&value);
                    i += used;
                }
            }
            (_, c) => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

/// Parses the variable after a `$`: returns its value and how many chars it used.
fn variable(rest: &[char], env: &[String]) -> Result<(String, usize), EngineError> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if rest.first() == Some(&'{') {
        let Some(close) = rest.iter().position(|&c| c == '}') else {
            return Err(EngineError::InvalidParameter(
                "missing '}' in variable substitution".into(),
            ));
        };
        let inner: String = rest[1..close].iter().collect();
        let name_len = inner.chars().take_while(|&c| is_name(c)).count();
        let name = &inner[..name_len];
        let modifier = &inner[name_len..];
        let val = lookup(env, name);
        let value = if let Some(def) = modifier.strip_prefix(":-") {
            match val {
                Some(v) if !v.is_empty() => v.to_string(),
                _ => expand(def, env)?,
            }
        } else if let Some(alt) = modifier.strip_prefix(":+") {
            match val {
                Some(v) if !v.is_empty() => expand(alt, env)?,
                _ => String::new(),
            }
        } else if modifier.is_empty() {
            val.unwrap_or("").to_string()
        } else {
            return Err(EngineError::InvalidParameter(format!(
                "unsupported modifier ({modifier}) in substitution"
            )));
        };
        return Ok((value, close + 1));
    }
    let n = rest.iter().take_while(|&&c| is_name(c)).count();
    if n == 0 {
        return Ok((String::new(), 0));
    }
    let name: String = rest[..n].iter().collect();
    Ok((lookup(env, &name).unwrap_or("").to_string(), n))
}

/// `KEY=value ...` pairs (ENV, LABEL, ARG), or the legacy `KEY value` form.
pub fn name_values(
    cmd: &str,
    args: &str,
    env: &[String],
) -> Result<Vec<(String, String)>, EngineError> {
    let upper = cmd.to_ascii_uppercase();
    let words = split_words(args);
    if words.is_empty() {
        return Err(EngineError::InvalidParameter(format!(
            "{upper} requires at least one argument"
        )));
    }
    if !words[0].contains('=') {
        // Legacy form: the first word is the key, the rest is the value.
        let key = expand(&words[0], env)?;
        let rest = args.trim_start()[words[0].len()..].trim();
        if rest.is_empty() {
            return Err(EngineError::InvalidParameter(format!(
                "{upper} must have two arguments"
            )));
        }
        return Ok(vec![(key, expand(rest, env)?)]);
    }
    let mut out = Vec::new();
    for w in &words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(EngineError::InvalidParameter(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            )));
        };
        let key = expand(k, env)?;
        if key.is_empty() {
            return Err(EngineError::InvalidParameter(format!(
                "{upper} names can not be blank"
            )));
        }
        out.push((key, expand(v, env)?));
    }
    Ok(out)
}

/// CMD/ENTRYPOINT/RUN argument: the JSON form as is, else `/bin/sh -c <text>`.
pub fn command(args: &str) -> Vec<String> {
    match json_form(args) {
        Some(v) => v,
        None => vec!["/bin/sh".into(), "-c".into(), args.to_string()],
    }
}

/// A list argument (VOLUME, COPY): JSON form or whitespace-separated words.
pub fn list(args: &str, env: &[String]) -> Result<Vec<String>, EngineError> {
    match json_form(args) {
        Some(v) => v.iter().map(|w| expand_json_word(w, env)).collect(),
        None => split_words(args).iter().map(|w| expand(w, env)).collect(),
    }
}

/// Substitution inside a JSON-form word: variables only, no quote removal.
fn expand_json_word(w: &str, env: &[String]) -> Result<String, EngineError> {
    // Escaping the quotes makes `expand` keep them, so only `$` is processed.
    let escaped: String = w
        .chars()
        .flat_map(|c| match c {
            '\'' | '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    expand(&escaped, env)
}

/// The container config's `Env` as a list.
pub fn env_of(cfg: &Map<String, Value>) -> Vec<String> {
    cfg.get("Env")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// Sets `KEY=value` in an env list, replacing an entry with the same key.
pub fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
        Some(e) => *e = entry,
        None => env.push(entry),
    }
}

/// Docker's EXPOSE port specs (`80`, `80/udp`, `8000-8002/tcp`) as
/// `ExposedPorts` keys.
pub fn port_keys(spec: &str) -> Result<Vec<String>, EngineError> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(EngineError::InvalidParameter(format!(
            "invalid proto: {proto}"
        )));
    }
    let bad = || EngineError::InvalidParameter(format!("invalid containerPort: {ports}"));
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = ports.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if hi < lo {
        return Err(bad());
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// `path.Clean` for absolute container paths.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Applies one config-only instruction to a container config (Docker's
/// PascalCase `Config` object). `env` is the substitution environment.
/// Returns the text dockerd records in history after `#(nop) `.
pub fn apply_config(
    cfg: &mut Map<String, Value>,
    ins: &Instruction,
    env: &[String],
) -> Result<String, EngineError> {
    let upper = ins.cmd.to_ascii_uppercase();
    let need_args = || {
        if ins.args.is_empty() {
            Err(EngineError::InvalidParameter(format!(
                "{upper} requires at least one argument"
            )))
        } else {
            Ok(())
        }
    };
    match ins.cmd.as_str() {
        "env" => {
            let pairs = name_values("env", &ins.args, env)?;
            let mut list = env_of(cfg);
            let mut shown = Vec::new();
            for (k, v) in &pairs {
                set_env(&mut list, k, v);
                shown.push(format!("{k}={v}"));
            }
            cfg.insert("Env".into(), json!(list));
            Ok(format!(" ENV {}", shown.join(" ")))
        }
        "label" => {
            let pairs = name_values("label", &ins.args, env)?;
            let mut labels = cfg
                .get("Labels")
                .and_then(|v| v.as_object())
                .cloned()
                .unwrap_or_default();
            let mut shown = Vec::new();
            for (k, v) in pairs {
                shown.push(format!("{k}={v}"));
                labels.insert(k, json!(v));
            }
            cfg.insert("Labels".into(), Value::Object(labels));
            Ok(format!(" LABEL {}", shown.join(" ")))
        }
        "cmd" => {
            need_args()?;
            let c = command(&ins.args);
            let shown = go_quoted(&c);
            cfg.insert("Cmd".into(), json!(c));
            Ok(format!(" CMD {shown}"))
        }
        "entrypoint" => {
            need_args()?;
            let c = command(&ins.args);
            let shown = go_quoted(&c);
            cfg.insert("Entrypoint".into(), json!(c));
            Ok(format!(" ENTRYPOINT {shown}"))
        }
        "workdir" => {
            need_args()?;
            let dir = expand(&ins.args, env)?;
            let base = cfg
                .get("WorkingDir")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            let full = if dir.starts_with('/') {
                clean_path(&dir)
            } else {
                clean_path(&format!(
                    "{}/{dir}",
                    if base.is_empty() { "/" } else { &base }
                ))
            };
            cfg.insert("WorkingDir".into(), json!(full));
            Ok(format!("WORKDIR {full}"))
        }
        "user" => {
            need_args()?;
            let u = expand(&ins.args, env)?;
            cfg.insert("User".into(), json!(u));
            Ok(format!(" USER {u}"))
        }
        "expose" => {
            need_args()?;
            let mut ports = cfg
                .get("ExposedPorts")
                .and_then(|v| v.as_object())
                .cloned()
                .unwrap_or_default();
            let mut shown = Vec::new();
            for w in split_words(&ins.args) {
                let spec = expand(&w, env)?;
                for k in port_keys(&spec)? {
                    ports.insert(k, json!({}));
                }
                shown.push(spec);
            }
            cfg.insert("ExposedPorts".into(), Value::Object(ports));
            Ok(format!(" EXPOSE {}", shown.join(" ")))
        }
        "volume" => {
            let vols = list(&ins.args, env)?;
            if vols.is_empty() || vols.iter().any(|v| v.trim().is_empty()) {
                return Err(EngineError::InvalidParameter(
                    "VOLUME specified can not be an empty string".into(),
                ));
            }
            let mut map = cfg
                .get("Volumes")
                .and_then(|v| v.as_object())
                .cloned()
                .unwrap_or_default();
            for v in &vols {
                map.insert(v.clone(), json!({}));
            }
            cfg.insert("Volumes".into(), Value::Object(map));
            Ok(format!(" VOLUME [{}]", vols.join(" ")))
        }
        "stopsignal" => {
            need_args()?;
            let s = expand(&ins.args, env)?;
            cfg.insert("StopSignal".into(), json!(s));
            Ok(format!(" STOPSIGNAL [{s}]"))
        }
        "onbuild" => {
            need_args()?;
            let mut list: Vec<Value> = cfg
                .get("OnBuild")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default();
            list.push(json!(ins.args));
            cfg.insert("OnBuild".into(), Value::Array(list));
            Ok(format!(" ONBUILD {}", ins.args))
        }
        "healthcheck" => healthcheck(cfg, ins),
        "maintainer" => Ok(format!(" MAINTAINER {}", ins.args)),
        other => Err(EngineError::InvalidParameter(format!(
            "{other} is not a valid change command"
        ))),
    }
}

/// `HEALTHCHECK [--interval=..] [--timeout=..] [--start-period=..]
/// [--retries=..] CMD ...` or `HEALTHCHECK NONE`, with dockerd's rules and
/// words; sets `Healthcheck` as dockerd stores it (zero fields omitted).
fn healthcheck(cfg: &mut Map<String, Value>, ins: &Instruction) -> Result<String, EngineError> {
    let bad = |m: String| EngineError::InvalidParameter(m);
    let (typ, rest) = match ins.args.find(char::is_whitespace) {
        Some(i) => (&ins.args[..i], ins.args[i..].trim()),
        None => (ins.args.as_str(), ""),
    };
    if typ.is_empty() {
        return Err(bad("HEALTHCHECK requires an argument".into()));
    }
    let typ = typ.to_ascii_uppercase();
    let mut hc = Map::new();
    let (test, interval, timeout, start, retries): (Vec<String>, i64, i64, i64, i64);
    if typ == "NONE" {
        if !rest.is_empty() {
            return Err(bad("HEALTHCHECK NONE takes no arguments".into()));
        }
        test = vec!["NONE".into()];
        (interval, timeout, start, retries) = (0, 0, 0, 0);
    } else if typ == "CMD" {
        if rest.is_empty() {
            return Err(bad("Missing command after HEALTHCHECK CMD".into()));
        }
        test = match json_form(rest) {
            Some(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
            None => vec!["CMD-SHELL".into(), rest.to_string()],
        };
        let flag = |name: &str| -> Option<String> {
            ins.flags
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        for (k, _) in &ins.flags {
            if !["interval", "timeout", "start-period", "retries"].contains(&k.as_str()) {
                return Err(bad(format!("Unknown flag: {k}")));
            }
        }
        let dur = |name: &str, v: Option<String>| -> Result<i64, EngineError> {
            let Some(v) = v.filter(|v| !v.is_empty()) else {
                return Ok(0);
            };
            let d = crate::filters::time::parse_go_duration(&v).ok_or_else(|| {
                bad(format!(
                    "time: invalid duration {}",
                    serde_json::to_string(&v).unwrap_or_default()
                ))
            })?;
            if d != 0 && d < 1_000_000 {
                return Err(bad(format!("Interval {name:?} cannot be less than 1ms")));
            }
            Ok(d)
        };
        interval = dur("interval", flag("interval"))?;
        timeout = dur("timeout", flag("timeout"))?;
        start = dur("start-period", flag("start-period"))?;
        retries = match flag("retries").filter(|v| !v.is_empty()) {
            None => 0,
            Some(v) => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad(format!("strconv.Atoi: parsing {v:?}: invalid syntax")))?;
                if n < 0 {
                    return Err(bad(format!("--retries cannot be negative ({n})")));
                }
                n
            }
        };
    } else {
        return Err(bad(format!(
            "Unknown type {typ:?} in HEALTHCHECK (try CMD)"
        )));
    }
    hc.insert("Test".into(), json!(test));
    for (k, v) in [
        ("Interval", interval),
        ("Timeout", timeout),
        ("StartPeriod", start),
        ("Retries", retries),
    ] {
        if v != 0 {
            hc.insert(k.into(), json!(v));
        }
    }
    cfg.insert("Healthcheck".into(), Value::Object(hc));
    // Go's `%q` of the *HealthConfig: durations as strings, retries as a rune.
    let rune = match retries {
        0x20..=0x7e if retries != 0x27 && retries != 0x5c => {
            format!("'{}'", char::from(retries as u8))
        }
        0x27 => "'\\''".into(),
        0x5c => "'\\\\'".into(),
        n if n < 0x100 => format!("'\\x{n:02x}'"),
        n => format!("'\\u{n:04x}'"),
    };
    Ok(format!(
        " HEALTHCHECK &{{{} {:?} {:?} {:?} {rune}}}",
        go_quoted(&test),
        go_duration_string(interval),
        go_duration_string(timeout),
        go_duration_string(start),
    ))
}

/// Go's `time.Duration.String()` of a count of nanoseconds: `0s`, `1.5ms`,
/// `30s`, `1m30s`, `1h0m0s`.
pub fn go_duration_string(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    // Trailing zeros of a fraction are dropped, as Go does.
    let frac = |v: u64, div: u64| -> String {
        let whole = v / div;
        let rest = v % div;
        if rest == 0 {
            return whole.to_string();
        }
        let digits = format!("{rest:0width$}", width = div.to_string().len() - 1);
        format!("{whole}.{}", digits.trim_end_matches('0'))
    };
    let out = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", frac(u, 1_000))
    } else if u < 1_000_000_000 {
        format!("{}ms", frac(u, 1_000_000))
    } else {
        let h = u / 3_600_000_000_000;
        let m = (u / 60_000_000_000) % 60;
        let s = frac(u % 60_000_000_000, 1_000_000_000);
        if h > 0 {
            format!("{h}h{m}m{s}s")
        } else if m > 0 {
            format!("{m}m{s}s")
        } else {
            format!("{s}s")
        }
    };
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

/// Go's `%q` of a string slice: `["a" "b"]`, as dockerd writes CMD in history.
pub fn go_quoted(v: &[String]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", items.join(" "))
}

/// Dockerfile instructions allowed in `--change` (dockerd's list, minus
/// HEALTHCHECK which this engine does not model).
const CHANGE_COMMANDS: &[&str] = &[
    "cmd",
    "entrypoint",
    "env",
    "expose",
    "label",
    "onbuild",
    "user",
    "volume",
    "workdir",
];

/// Parses `changes` (one instruction per entry) for import/commit; errors are
/// dockerd's 400s.
pub fn parse_changes(changes: &[String]) -> Result<Vec<Instruction>, EngineError> {
    let mut out = Vec::new();
    for c in changes.iter().filter(|c| !c.trim().is_empty()) {
        let word = c
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if !CHANGE_COMMANDS.contains(&word.as_str()) {
            return Err(EngineError::InvalidParameter(format!(
                "{word} is not a valid change command"
            )));
        }
        out.extend(parse(c)?);
    }
    Ok(out)
}

/// Applies parsed changes to a container config object (created if null).
pub fn apply_changes(cfg: &mut Value, changes: &[Instruction]) -> Result<(), EngineError> {
    if !cfg.is_object() {
        *cfg = json!({});
    }
    let Value::Object(map) = cfg else {
        return Ok(());
    };
    for ins in changes {
        let env = env_of(map);
        apply_config(map, ins, &env)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (ns, want) in [
            (0, "0s"),
            (5_000_000_000, "5s"),
            (1_500_000, "1.5ms"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (2_500_000_000, "2.5s"),
        ] {
            assert_eq!(go_duration_string(ns), want);
        }
    }

    /// The config and history text dockerd 20.10.24 gave for these lines.
    #[test]
    fn healthcheck_as_dockerd() {
        let ins = &parse(
            "HEALTHCHECK --interval=5s --timeout=3s --retries=2 CMD [\"/bin/busybox\",\"true\"]",
        )
        .unwrap()[0];
        let mut cfg = Map::new();
        let text = apply_config(&mut cfg, ins, &[]).unwrap();
        assert_eq!(
            text,
            " HEALTHCHECK &{[\"CMD\" \"/bin/busybox\" \"true\"] \"5s\" \"3s\" \"0s\" '\\x02'}"
        );
        assert_eq!(
            cfg["Healthcheck"],
            json!({"Test": ["CMD", "/bin/busybox", "true"], "Interval": 5_000_000_000i64, "Timeout": 3_000_000_000i64, "Retries": 2})
        );
        let none = &parse("HEALTHCHECK NONE").unwrap()[0];
        apply_config(&mut cfg, none, &[]).unwrap();
        assert_eq!(cfg["Healthcheck"], json!({"Test": ["NONE"]}));
    }

    #[test]
    fn parses_continuations_and_comments() {
        let text = "# c\nFROM x\nRUN a \\\n  # inner\n  b\n\nCMD [\"y\"]\n";
        let ins = parse(text).unwrap();
        assert_eq!(ins.len(), 3);
        assert_eq!(ins[1].cmd, "run");
        assert_eq!(ins[1].args, "a   b");
        assert_eq!(ins[2].line, 7);
        assert!(parse("BOGUS x").is_err());
    }

    #[test]
    fn expands_words() {
        let env = vec!["A=1".to_string(), "B=two".to_string()];
        assert_eq!(expand("$A-${B}", &env).unwrap(), "1-two");
        assert_eq!(expand("'$A'", &env).unwrap(), "$A");
        assert_eq!(expand("\"x $B\"", &env).unwrap(), "x two");
        assert_eq!(expand("${C:-d}", &env).unwrap(), "d");
        assert_eq!(expand("\\$A", &env).unwrap(), "$A");
        let nv = name_values("env", "K=\"a b\" L=$A", &env).unwrap();
        assert_eq!(
            nv,
            vec![("K".into(), "a b".into()), ("L".into(), "1".into())]
        );
        let legacy = name_values("env", "K a b", &env).unwrap();
        assert_eq!(legacy, vec![("K".into(), "a b".into())]);
    }

    #[test]
    fn applies_changes() {
        let ch = parse_changes(&[
            "CMD [\"/probe\"]".into(),
            "ENV A=b".into(),
            "WORKDIR /w".into(),
            "WORKDIR sub".into(),
            "EXPOSE 80 53/udp".into(),
        ])
        .unwrap();
        let mut cfg = Value::Null;
        apply_changes(&mut cfg, &ch).unwrap();
        assert_eq!(cfg["Cmd"], json!(["/probe"]));
        assert_eq!(cfg["Env"], json!(["A=b"]));
        assert_eq!(cfg["WorkingDir"], json!("/w/sub"));
        assert!(cfg["ExposedPorts"].get("53/udp").is_some());
        let err = parse_changes(&["FROM x".into()]).unwrap_err();
        assert_eq!(err.to_string(), "from is not a valid change command");
    }
}
