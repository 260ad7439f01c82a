//! Checks JSON responses against the Engine API response schemas in
//! specs/schema/ (extracted from the upstream specs by
//! specs/schema/generate.py and adjusted to what dockerd really sends).
//!
//! The rules: objects are open (Docker adds fields over time, so extra
//! fields are fine); a missing required field, a wrong JSON type, a value
//! outside an enum or a string not matching its pattern (ID formats such as
//! `sha256:<hex>`) is an error. `null` is accepted for objects and arrays
//! (dockerd serialises Go nil maps and slices as null) and for fields marked
//! `x-nullable`, nowhere else.

use crate::client::ApiVersion;
use serde_json::Value;
use std::sync::OnceLock;

pub const V141_JSON: &str = include_str!("../../specs/schema/v1.41.json");
pub const V150_JSON: &str = include_str!("../../specs/schema/v1.50.json");

static V141: OnceLock<Result<Value, String>> = OnceLock::new();
static V150: OnceLock<Result<Value, String>> = OnceLock::new();

fn load(
    cell: &'static OnceLock<Result<Value, String>>,
    text: &str,
) -> Result<&'static Value, String> {
    cell.get_or_init(|| {
        serde_json::from_str(text).map_err(|e| format!("specs/schema is not valid JSON: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The schema document for a version: v1.50 from 1.50 on, else v1.41 (the
/// versions between were never observed; 1.41 is what dockerd 20.10 speaks).
pub fn document(version: ApiVersion) -> Result<&'static Value, String> {
    if version
        >= (ApiVersion {
            major: 1,
            minor: 50,
        })
    {
        load(&V150, V150_JSON)
    } else {
        load(&V141, V141_JSON)
    }
}

/// Names of the schemas available for a version.
pub fn names(version: ApiVersion) -> Vec<String> {
    document(version)
        .ok()
        .and_then(|d| d.get("schemas"))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Validates `value` against the named schema; the error lists every
/// problem found (JSON-pointer-like paths).
pub fn validate(name: &str, value: &Value, version: ApiVersion) -> Result<(), String> {
    let doc = document(version)?;
    let schema = doc
        .pointer(&format!("/schemas/{name}"))
        .ok_or_else(|| format!("harness bug: no schema {name:?} for API {version}"))?;
    let mut errors = Vec::new();
    check(schema, value, "", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        if errors.len() > 8 {
            let n = errors.len() - 8;
            errors.truncate(8);
            errors.push(format!("… and {n} more"));
        }
        Err(errors.join("; "))
    }
}

fn type_ok(want: &str, v: &Value) -> bool {
    match want {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        // Unknown type words in the spec: do not guess.
        _ => true,
    }
}

fn check(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let at = if path.is_empty() { "(top)" } else { path };
    let ty = schema.get("type").and_then(Value::as_str);
    if v.is_null() {
        let nullable = schema.get("x-nullable") == Some(&Value::Bool(true))
            || matches!(ty, Some("object") | Some("array"));
        if !nullable && ty.is_some() {
            errors.push(format!(
                "{at}: null where the schema wants {}",
                ty.unwrap_or("?")
            ));
        }
        return;
    }
    if let Some(t) = ty {
        if !type_ok(t, v) {
            errors.push(format!("{at}: {} where the schema wants {t}", json_type(v)));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            errors.push(format!(
                "{at}: {v} is not one of {}",
                Value::Array(allowed.clone())
            ));
        }
    }
    if let (Some(p), Some(s)) = (schema.get("pattern").and_then(Value::as_str), v.as_str()) {
        if !pattern_matches(p, s) {
            errors.push(format!("{at}: {s:?} does not match {p}"));
        }
    }
    if let Some(obj) = v.as_object() {
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errors.push(format!("{path}/{r}: required field missing"));
                }
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        let extra = schema.get("additionalProperties");
        for (k, child) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(s, child, &format!("{path}/{k}"), errors),
                None => {
                    if let Some(s) = extra.filter(|s| s.is_object()) {
                        check(s, child, &format!("{path}/{k}"), errors)
                    }
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, child) in arr.iter().enumerate() {
            check(items, child, &format!("{path}/{i}"), errors);
        }
    }
}

/// The few regular expressions the schemas use, without a regex crate:
/// `^`, `$`, literals, `\.`, `[0-9a-f]`/`[0-9]` classes with `{n}` or `+`,
/// and one optional group `(...)?`. Anything else is a harness bug and
/// fails loudly.
pub fn pattern_matches(pattern: &str, s: &str) -> bool {
    match compile(pattern) {
        Some(tokens) => matches_tokens(&tokens, s.as_bytes()),
        None => false,
    }
}

#[derive(Debug, Clone)]
enum Tok {
    Lit(u8),
    Class(Vec<(u8, u8)>, usize, usize),
    Opt(Vec<Tok>),
    End,
}

fn compile(p: &str) -> Option<Vec<Tok>> {
    let b = p.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'^') {
        i = 1;
    }
    let (toks, j) = compile_seq(b, i)?;
    (j == b.len()).then_some(toks)
}

fn compile_seq(b: &[u8], mut i: usize) -> Option<(Vec<Tok>, usize)> {
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            b')' => return Some((out, i)),
            b'$' => {
                out.push(Tok::End);
                i += 1;
            }
            b'\\' => {
                out.push(Tok::Lit(*b.get(i + 1)?));
                i += 2;
            }
            b'(' => {
                let (inner, j) = compile_seq(b, i + 1)?;
                if b.get(j) != Some(&b')') || b.get(j + 1) != Some(&b'?') {
                    return None;
                }
                out.push(Tok::Opt(inner));
                i = j + 2;
            }
            b'[' => {
                let close = i + b[i..].iter().position(|c| *c == b']')?;
                let body = &b[i + 1..close];
                let mut ranges = Vec::new();
                let mut k = 0;
                while k < body.len() {
                    if body.get(k + 1) == Some(&b'-') && k + 2 < body.len() {
                        ranges.push((body[k], body[k + 2]));
                        k += 3;
                    } else {
                        ranges.push((body[k], body[k]));
                        k += 1;
                    }
                }
                i = close + 1;
                let (min, max) = match b.get(i) {
                    Some(b'+') => {
                        i += 1;
                        (1, usize::MAX)
                    }
                    Some(b'{') => {
                        let end = i + b[i..].iter().position(|c| *c == b'}')?;
                        let n: usize = std::str::from_utf8(&b[i + 1..end]).ok()?.parse().ok()?;
                        i = end + 1;
                        (n, n)
                    }
                    _ => (1, 1),
                };
                out.push(Tok::Class(ranges, min, max));
            }
            c => {
                out.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    Some((out, i))
}

fn matches_tokens(toks: &[Tok], s: &[u8]) -> bool {
    let Some((first, rest)) = toks.split_first() else {
        // No `$`: a prefix match is enough.
        return true;
    };
    match first {
        Tok::End => s.is_empty() && matches_tokens(rest, s),
        Tok::Lit(c) => s.first() == Some(c) && matches_tokens(rest, &s[1..]),
        Tok::Class(ranges, min, max) => {
            let n = s
                .iter()
                .take_while(|c| ranges.iter().any(|(a, b)| (*a..=*b).contains(c)))
                .count();
            if n < *min {
                return false;
            }
            // Greedy with backtracking (patterns here are tiny).
            (*min..=n.min(*max))
                .rev()
                .any(|k| matches_tokens(rest, &s[k..]))
        }
        Tok::Opt(inner) => {
            let mut with: Vec<Tok> = inner.clone();
            with.extend_from_slice(rest);
            matches_tokens(&with, s) || matches_tokens(rest, s)
        }
    }
}

/// The JSON Schema type name of a value (`integer` for whole numbers).
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const V: ApiVersion = ApiVersion {
        major: 1,
        minor: 41,
    };

    #[test]
    fn patterns() {
        let h = "a".repeat(64);
        assert!(pattern_matches(
            "^sha256:[0-9a-f]{64}$",
            &format!("sha256:{h}")
        ));
        assert!(!pattern_matches("^sha256:[0-9a-f]{64}$", &h));
        assert!(pattern_matches("^(sha256:)?[0-9a-f]{64}$", &h));
        assert!(pattern_matches("^(sha256:[0-9a-f]{64})?$", ""));
        assert!(!pattern_matches("^(sha256:[0-9a-f]{64})?$", "x"));
        assert!(pattern_matches("^1\\.[0-9]+$", "1.41"));
        assert!(pattern_matches("^/", "/name"));
        assert!(!pattern_matches("^/", "name"));
    }

    #[test]
    fn every_schema_document_loads() {
        for v in [
            V,
            ApiVersion {
                major: 1,
                minor: 50,
            },
        ] {
            let names = names(v);
            for n in [
                "ContainerInspect",
                "ImageInspect",
                "Volume",
                "IdResponse",
                "ContainerWaitResponse",
                "ImageDeleteResponse",
                "ExecInspectResponse",
                "ContainerCreateResponse",
            ] {
                assert!(names.iter().any(|x| x == n), "{n} missing for {v}");
            }
        }
    }

    fn inspect() -> Value {
        json!({
            "Id": "b".repeat(64), "Created": "2026-01-01T00:00:00Z", "Name": "/x",
            "Image": format!("sha256:{}", "c".repeat(64)), "Path": "/probe", "Args": [],
            "State": {"Status": "running", "Running": true, "Paused": false,
                      "Restarting": false, "OOMKilled": false, "Dead": false, "Pid": 1,
                      "ExitCode": 0, "Error": "", "StartedAt": "", "FinishedAt": ""},
            "Config": {}, "HostConfig": {}, "Mounts": [], "NetworkSettings": {},
            "RestartCount": 0, "Driver": "overlay2", "SomethingNew": 1
        })
    }

    #[test]
    fn accepts_a_good_inspect_and_extra_fields() {
        validate("ContainerInspect", &inspect(), V).expect("valid");
    }

    #[test]
    fn rejects_wrong_enum_type_missing_and_id_format() {
        let mut v = inspect();
        v["State"]["Status"] = json!("sleeping");
        let e = validate("ContainerInspect", &v, V).expect_err("enum");
        assert!(e.contains("/State/Status"), "{e}");
        let mut v = inspect();
        v["State"]["ExitCode"] = json!("0");
        assert!(validate("ContainerInspect", &v, V).is_err());
        let mut v = inspect();
        v.as_object_mut().map(|o| o.remove("State"));
        let e = validate("ContainerInspect", &v, V).expect_err("missing");
        assert!(e.contains("required"), "{e}");
        let mut v = inspect();
        v["Image"] = json!("c".repeat(64));
        let e = validate("ContainerInspect", &v, V).expect_err("prefix");
        assert!(e.contains("sha256"), "{e}");
        let mut v = inspect();
        v["State"]["Running"] = Value::Null;
        assert!(validate("ContainerInspect", &v, V).is_err());
    }

    #[test]
    fn null_objects_are_fine() {
        let mut v = inspect();
        v["Mounts"] = Value::Null;
        validate("ContainerInspect", &v, V).expect("null array");
    }
}
