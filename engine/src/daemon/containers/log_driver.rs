//! `HostConfig.LogConfig` (`--log-driver`, `--log-opt`): which drivers
//! and options dockerd 20.10.24 accepts at create, which it fails at start,
//! and json-file's rotation (`max-size`, `max-file`), which the engine's
//! log (`logs`) applies. Every answer was read off dockerd on this
//! project's hosts (no journald, no syslog socket, no fluentd).
//!
//! The engine writes its own log for `json-file` and `local` (both read
//! back by `docker logs`); `none` keeps output from `docker logs` (501, as
//! dockerd). The drivers that ship logs elsewhere (syslog, journald, gelf,
//! fluentd, awslogs, splunk, gcplogs, logentries) pass dockerd's create
//! checks but fail the start: the engine has no such driver, and never
//! sends anything off the host.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::logs::Rotation;
use crate::errdefs::EngineError;

/// `HostConfig.LogConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: Option<BTreeMap<String, String>>,
}

/// The log drivers dockerd 20.10 ships on Linux; any other is a plugin it
/// cannot find (etwlogs is Windows-only).
const LOG_DRIVERS: &[&str] = &[
    "json-file",
    "local",
    "journald",
    "syslog",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "gcplogs",
    "logentries",
    "none",
];

/// json-file's options (moby daemon/logger/jsonfilelog, v20.10.24).
const JSON_FILE_OPTS: &[&str] = &[
    "max-file",
    "max-size",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
];

/// The local driver's options.
const LOCAL_OPTS: &[&str] = &["max-file", "max-size", "compress"];

fn invalid(msg: String) -> EngineError {
    EngineError::InvalidParameter(msg)
}

fn opts(raw: &Value) -> BTreeMap<String, String> {
    raw.pointer("/LogConfig/Config")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// dockerd's create checks (400): the driver exists, and its options are
/// ones it knows (json-file, local) or include what it requires.
pub fn validate(host_raw: &Value) -> Result<(), EngineError> {
    let driver = host_raw
        .pointer("/LogConfig/Type")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !driver.is_empty() && !LOG_DRIVERS.contains(&driver) {
        return Err(invalid(format!(
            "error looking up logging plugin {driver}: plugin \"{driver}\" not found"
        )));
    }
    let opts = opts(host_raw);
    // BTreeMap order: the first unknown by name (dockerd walks a Go map,
    // whose order varies, when several are unknown).
    let unknown = |known: &[&str]| opts.keys().find(|k| !known.contains(&k.as_str())).cloned();
    match driver {
        "" | "json-file" => {
            if let Some(k) = unknown(JSON_FILE_OPTS) {
                return Err(invalid(format!(
                    "unknown log opt '{k}' for json-file log driver"
                )));
            }
        }
        "local" => {
            if let Some(k) = unknown(LOCAL_OPTS) {
                return Err(invalid(format!(
                    "unknown log opt '{k}' for log driver local"
                )));
            }
        }
        "gelf" if !opts.contains_key("gelf-address") => {
            return Err(invalid("gelf-address is a required parameter".into()));
        }
        "awslogs" if !opts.contains_key("awslogs-group") => {
            return Err(invalid(
                "must specify a value for log opt 'awslogs-group'".into(),
            ));
        }
        "logentries" if !opts.contains_key("logentries-token") => {
            return Err(invalid("Missing logentries token".into()));
        }
        _ => {}
    }
    Ok(())
}

fn init_failed(why: impl std::fmt::Display) -> EngineError {
    EngineError::System(format!("failed to initialize logging driver: {why}"))
}

/// go-units' `FromHumanSize`: a decimal size (`1k` is 1000 bytes).
fn human_size(s: &str) -> Result<i64, EngineError> {
    let bad = || init_failed(format!("invalid size: '{s}'"));
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, rest) = s.split_at(digits_end);
    // `^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`
    if number.is_empty()
        || number.starts_with('.')
        || number.ends_with('.')
        || number.contains("..")
    {
        return Err(bad());
    }
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut chars = rest.chars().peekable();
    let mul: f64 = match chars.peek().map(|c| c.to_ascii_lowercase()) {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            chars.next();
            let power = "kmgtp".find(c).unwrap_or(0) as i32 + 1;
            1000f64.powi(power)
        }
        _ => 1.0,
    };
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'i')) {
        chars.next();
    }
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'b')) {
        chars.next();
    }
    if chars.next().is_some() {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| {
        init_failed(format!(
            "strconv.ParseFloat: parsing {number:?}: invalid syntax"
        ))
    })?;
    Ok((value * mul) as i64)
}

/// Go's `strconv.Atoi` errors.
fn atoi(s: &str) -> Result<i64, EngineError> {
    s.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        init_failed(format!("strconv.Atoi: parsing {s:?}: {why}"))
    })
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Result<bool, EngineError> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(init_failed(format!(
            "strconv.ParseBool: parsing {s:?}: invalid syntax"
        ))),
    }
}

/// At each start, as dockerd initializes the driver: the rotation json-file
/// (and local) asks for, or the start's failure (500) for a bad value or a
/// driver the engine does not have.
pub fn at_start(config: Option<&LogConfig>) -> Result<Option<Rotation>, EngineError> {
    let kind = config.map_or("", |c| c.kind.as_str());
    let empty = BTreeMap::new();
    let opts = config.and_then(|c| c.config.as_ref()).unwrap_or(&empty);
    match kind {
        "" | "json-file" | "local" => {}
        "none" => return Ok(None),
        // dockerd's words where the host lacks what the driver needs (as
        // here); the engine has none of these drivers either way.
        "journald" if !std::path::Path::new("/run/systemd/journal/socket").exists() => {
            return Err(init_failed("journald is not enabled on this host"))
        }
        "syslog" if !["/dev/log", "/var/run/syslog", "/var/run/log"]
            .iter()
            .any(|p| std::path::Path::new(p).exists()) =>
        {
            return Err(init_failed("Unix syslog delivery error"))
        }
        other => {
            return Err(init_failed(format!(
                "the {other} log driver is not supported by this engine (json-file, local and none are)"
            )))
        }
    }
    // json-file's order of checks (local: the same options).
    let mut max_size = None;
    if let Some(v) = opts.get("max-size") {
        let n = human_size(v)?;
        if n <= 0 {
            return Err(init_failed("max-size must be a positive number"));
        }
        max_size = Some(n as u64);
    }
    let mut max_file = 1;
    if let Some(v) = opts.get("max-file") {
        max_file = atoi(v)?;
        if max_file < 1 {
            return Err(init_failed("max-file cannot be less than 1"));
        }
    }
    if let Some(v) = opts.get("compress") {
        // Accepted; rotated files are kept uncompressed (readers do not care).
        if parse_bool(v)? && (max_file == 1 || max_size.is_none()) {
            return Err(init_failed(
                "compress cannot be true when max-file is less than 2 or max-size is not set",
            ));
        }
    }
    Ok(max_size.map(|max_size| Rotation {
        max_size,
        max_file: u32::try_from(max_file).unwrap_or(u32::MAX),
    }))
}

/// Whether `docker logs` can read what the driver keeps (dockerd: 501
/// "configured logging driver does not support reading" for `none`).
pub fn readable(config: Option<&LogConfig>) -> bool {
    config.is_none_or(|c| c.kind != "none")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn start(opts: &[(&str, &str)]) -> Result<Option<Rotation>, String> {
        let c = LogConfig {
            kind: "json-file".into(),
            config: Some(
                opts.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        };
        at_start(Some(&c)).map_err(|e| e.to_string())
    }

    #[test]
    fn dockerds_answers_at_start() {
        // Each observed on dockerd 20.10.24 (POST /containers/{id}/start, 500).
        let f = |m: &str| Err(format!("failed to initialize logging driver: {m}"));
        assert_eq!(start(&[("max-size", "abc")]), f("invalid size: 'abc'"));
        assert_eq!(start(&[("max-size", "-1")]), f("invalid size: '-1'"));
        assert_eq!(
            start(&[("max-size", "0")]),
            f("max-size must be a positive number")
        );
        assert_eq!(
            start(&[("max-size", "1k"), ("max-file", "0")]),
            f("max-file cannot be less than 1")
        );
        assert_eq!(
            start(&[("max-size", "1k"), ("max-file", "x")]),
            f("strconv.Atoi: parsing \"x\": invalid syntax")
        );
        assert_eq!(
            start(&[("max-size", "1k"), ("compress", "maybe")]),
            f("strconv.ParseBool: parsing \"maybe\": invalid syntax")
        );
        assert_eq!(start(&[("max-file", "3")]), Ok(None));
        assert_eq!(
            start(&[("max-size", "1.5KB"), ("max-file", "3")]),
            Ok(Some(Rotation {
                max_size: 1500,
                max_file: 3
            }))
        );
    }

    #[test]
    fn dockerds_answers_at_create() {
        let hc = |t: &str, c: Value| json!({"LogConfig": {"Type": t, "Config": c}});
        let err = |v: Value| validate(&v).unwrap_err().to_string();
        assert_eq!(
            err(hc("json-file", json!({"bogus": "1"}))),
            "unknown log opt 'bogus' for json-file log driver"
        );
        assert_eq!(
            err(hc("local", json!({"bogus": "1"}))),
            "unknown log opt 'bogus' for log driver local"
        );
        assert_eq!(
            err(hc("etwlogs", json!({}))),
            "error looking up logging plugin etwlogs: plugin \"etwlogs\" not found"
        );
        assert_eq!(
            err(hc("gelf", json!({}))),
            "gelf-address is a required parameter"
        );
        assert!(validate(&hc("json-file", json!({"max-size": "abc", "tag": "x"}))).is_ok());
        assert!(validate(&hc("none", json!({"max-size": "1k"}))).is_ok());
    }
}
