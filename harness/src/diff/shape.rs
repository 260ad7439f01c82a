//! What a response looks like once values are set aside: its body kind,
//! JSON field types, stream framing.

use crate::client::demux;
use serde_json::Value;
use std::collections::BTreeMap;

/// The kind of a response body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Empty,
    Json(Value),
    /// Several JSON documents (progress streams: load, create, pull).
    JsonStream(Vec<Value>),
    /// Docker's multiplexed stream: the stream ids that carried data.
    Multiplexed(Vec<u8>),
    Tar,
    Text(String),
    /// Only a truncated prefix was kept; not compared beyond its kind.
    Truncated,
}

impl Body {
    pub fn kind(&self) -> String {
        match self {
            Body::Empty => "empty".into(),
            Body::Json(_) => "JSON".into(),
            Body::JsonStream(_) => "JSON stream".into(),
            Body::Multiplexed(ids) => format!(
                "multiplexed stream ({})",
                ids.iter()
                    .map(|i| match i {
                        1 => "stdout",
                        2 => "stderr",
                        0 => "stdin",
                        _ => "other",
                    })
                    .collect::<Vec<_>>()
                    .join("+")
            ),
            Body::Tar => "tar archive".into(),
            Body::Text(_) => "plain text".into(),
            Body::Truncated => "truncated".into(),
        }
    }
}

/// Classifies `body`; `complete` says whether it is the whole body.
pub fn classify(body: &[u8], complete: bool, content_type: &str) -> Body {
    if body.is_empty() {
        return if complete {
            Body::Empty
        } else {
            Body::Truncated
        };
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Body::Json(v);
    }
    if body.len() > 262 && &body[257..262] == b"ustar" {
        return Body::Tar;
    }
    let ct = content_type.to_ascii_lowercase();
    let stream_type = ct.contains("vnd.docker") || ct.contains("octet-stream");
    if stream_type || body.first().is_some_and(|&b| b <= 2) {
        if let Ok(d) = demux(body) {
            if !d.frames.is_empty() {
                let mut ids: Vec<u8> = d.frames.iter().map(|f| f.0).collect();
                ids.sort_unstable();
                ids.dedup();
                return Body::Multiplexed(ids);
            }
        }
    }
    if !complete {
        return Body::Truncated;
    }
    let docs: Result<Vec<Value>, _> = serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .collect();
    if let Ok(docs) = docs {
        if docs.len() > 1 {
            return Body::JsonStream(docs);
        }
    }
    Body::Text(String::from_utf8_lossy(body).into_owned())
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One structural difference between two JSON documents.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonDiff {
    OnlyA(String, &'static str),
    OnlyB(String, &'static str),
    Type(String, &'static str, &'static str),
}

/// Maximum depth compared (deeper fields are data, e.g. mount options).
const MAX_DEPTH: usize = 5;

/// Compares field presence and types, recursively. Arrays compare the
/// merged shape of their elements, so lengths (data) do not matter.
pub fn json_diff(a: &Value, b: &Value) -> Vec<JsonDiff> {
    let mut out = Vec::new();
    walk(a, b, "", 0, &mut out);
    out
}

fn walk(a: &Value, b: &Value, path: &str, depth: usize, out: &mut Vec<JsonDiff>) {
    let (ta, tb) = (type_name(a), type_name(b));
    // integer vs number is one JSON type to a client; do not report it.
    let numeric = |t: &str| t == "integer" || t == "number";
    if ta != tb && !(numeric(ta) && numeric(tb)) {
        out.push(JsonDiff::Type(
            if path.is_empty() {
                ".".into()
            } else {
                path.into()
            },
            ta,
            tb,
        ));
        return;
    }
    if depth >= MAX_DEPTH {
        return;
    }
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) if is_map(path) => {
            // Keys are data here (label names, network names, runtimes):
            // compare the shape of the values, not which keys exist.
            let va: Vec<Value> = ma.values().cloned().collect();
            let vb: Vec<Value> = mb.values().cloned().collect();
            if let (Some(ea), Some(eb)) = (merged(&va), merged(&vb)) {
                walk(&ea, &eb, &format!("{path}.*"), depth + 1, out);
            }
        }
        (Value::Object(ma), Value::Object(mb)) => {
            for (k, va) in ma {
                let p = format!("{path}.{k}");
                match mb.get(k) {
                    Some(vb) => walk(va, vb, &p, depth + 1, out),
                    None => out.push(JsonDiff::OnlyA(p, type_name(va))),
                }
            }
            for (k, vb) in mb {
                if !ma.contains_key(k) {
                    out.push(JsonDiff::OnlyB(format!("{path}.{k}"), type_name(vb)));
                }
            }
        }
        (Value::Array(xa), Value::Array(xb)) => {
            if let (Some(ea), Some(eb)) = (merged(xa), merged(xb)) {
                walk(&ea, &eb, &format!("{path}[]"), depth + 1, out);
            }
        }
        _ => {}
    }
}

/// Objects whose keys are names chosen by users or by the engine rather
/// than API fields.
const MAP_FIELDS: &[&str] = &[
    "Labels",
    "Networks",
    "Runtimes",
    "IndexConfigs",
    "Volumes",
    "ExposedPorts",
    "Ports",
    "Options",
    "Data",
    "Annotations",
    "DriverOpts",
    "Status",
    "Plugins",
];

fn is_map(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or("");
    MAP_FIELDS.contains(&last.trim_end_matches("[]"))
}

/// The elements of an array merged into one (objects: union of fields), or
/// None for an empty array.
fn merged(xs: &[Value]) -> Option<Value> {
    let first = xs.first()?;
    if !xs.iter().all(Value::is_object) {
        return Some(first.clone());
    }
    let mut m: BTreeMap<String, Value> = BTreeMap::new();
    for x in xs {
        if let Value::Object(o) = x {
            for (k, v) in o {
                m.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    Some(Value::Object(m.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn map_keys_are_data() {
        let a = json!({"Labels": {"x": "1"}, "Networks": {"bridge": {"IPAddress": "a"}}});
        let b =
            json!({"Labels": {"y": "2"}, "Networks": {"podman": {"IPAddress": "b", "Extra": 1}}});
        assert_eq!(
            json_diff(&a, &b),
            vec![JsonDiff::OnlyB(".Networks.*.Extra".into(), "integer")]
        );
    }

    #[test]
    fn fields_and_types() {
        let a = json!({"message": "x", "Id": "a", "State": {"Pid": 1, "Health": null}, "L": [{"a": 1}]});
        let b = json!({"message": "y", "cause": "c", "response": 404, "State": {"Pid": 2.5, "Health": {}}, "L": [{"a": "s"}], "Id": "b"});
        let d = json_diff(&a, &b);
        assert_eq!(
            d,
            vec![
                JsonDiff::Type(".State.Health".into(), "null", "object"),
                JsonDiff::Type(".L[].a".into(), "integer", "string"),
                JsonDiff::OnlyB(".cause".into(), "string"),
                JsonDiff::OnlyB(".response".into(), "integer"),
            ]
        );
    }

    #[test]
    fn kinds() {
        assert_eq!(classify(b"", true, "").kind(), "empty");
        assert_eq!(
            classify(b"{\"a\":1}", true, "application/json").kind(),
            "JSON"
        );
        assert_eq!(
            classify(b"{\"a\":1}\n{\"b\":2}\n", true, "").kind(),
            "JSON stream"
        );
        let mut frame = vec![1, 0, 0, 0, 0, 0, 0, 2];
        frame.extend_from_slice(b"hi");
        assert_eq!(
            classify(&frame, true, "application/vnd.docker.raw-stream").kind(),
            "multiplexed stream (stdout)"
        );
        assert_eq!(
            classify(b"404 page not found\n", true, "text/plain").kind(),
            "plain text"
        );
    }
}
