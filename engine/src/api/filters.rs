//! Docker's `filters` query parameter, shared by every list endpoint: JSON in
//! either form `{"key":["v1","v2"]}` or the legacy `{"key":{"v1":true}}`.
//! dockerd answers malformed JSON with 500 (its JSON decoder's error) and an
//! unknown key with 400 "Invalid filter 'key'"; so do we.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::ApiError;

pub type Filters = BTreeMap<String, Vec<String>>;

pub fn parse(raw: Option<&str>, allowed_keys: &[&str]) -> Result<Filters, ApiError> {
    let mut out = Filters::new();
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(out);
    };
    let v: Value = serde_json::from_str(raw).map_err(ApiError::internal)?;
    let obj = match v {
        Value::Object(obj) => obj,
        // Go decodes `null` into a nil map: no filters.
        Value::Null => return Ok(out),
        other => {
            return Err(ApiError::Internal(format!(
                "json: cannot unmarshal {} into Go value of type map[string]map[string]bool",
                go_kind(&other)
            )))
        }
    };
    for (k, v) in obj {
        if !allowed_keys.contains(&k.as_str()) {
            return Err(ApiError::BadRequest(format!("Invalid filter '{k}'")));
        }
        let values: Vec<String> = match v {
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            Value::Object(m) => m
                .into_iter()
                .filter(|(_, on)| on.as_bool().unwrap_or(false))
                .map(|(s, _)| s)
                .collect(),
            other => {
                return Err(ApiError::Internal(format!(
                    "json: cannot unmarshal {} into Go value of type map[string]bool",
                    go_kind(&other)
                )))
            }
        };
        out.insert(k, values);
    }
    Ok(out)
}

/// How Go's encoding/json names a JSON value's kind in its errors.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_and_dockerd_statuses() {
        let f = parse(
            Some(r#"{"a":["x","y"],"b":{"z":true,"w":false}}"#),
            &["a", "b"],
        )
        .unwrap();
        assert_eq!(f["a"], vec!["x", "y"]);
        assert_eq!(f["b"], vec!["z"]);
        assert!(parse(None, &[]).unwrap().is_empty());
        let unknown = parse(Some(r#"{"c":["x"]}"#), &["a"]).unwrap_err();
        assert_eq!(unknown.to_string(), "Invalid filter 'c'");
        assert_eq!(unknown.status(), hyper::StatusCode::BAD_REQUEST);
        for bad in ["bad", "[]", r#"{"a":5}"#] {
            assert_eq!(
                parse(Some(bad), &["a"]).unwrap_err().status(),
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                "{bad}"
            );
        }
    }
}
