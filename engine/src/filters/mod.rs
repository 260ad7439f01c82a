//! Docker's filter grammar, below both `api` and `daemon`: the `filters`
//! query parameter of every list and prune endpoint, JSON in either form
//! `{"key":["v1","v2"]}` or the legacy `{"key":{"v1":true}}`; label filters
//! (`label`, `label!`); and, in [`time`], the `since`/`until` timestamps.
//! dockerd answers malformed JSON with 500 (its JSON decoder's error) and an
//! unknown key with 400 "Invalid filter 'key'"; so do we.

pub mod time;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::errdefs::EngineError;

pub type Filters = BTreeMap<String, Vec<String>>;

pub fn parse(raw: Option<&str>, allowed_keys: &[&str]) -> Result<Filters, EngineError> {
    let mut out = Filters::new();
    let v: Value = crate::gojson::from_param(raw).map_err(EngineError::System)?;
    let obj = match v {
        Value::Object(obj) => obj,
        // Go decodes `null` into a nil map: no filters.
        Value::Null => return Ok(out),
        other => {
            return Err(EngineError::System(format!(
                "json: cannot unmarshal {} into Go value of type map[string]map[string]bool",
                crate::gojson::kind(&other)
            )))
        }
    };
    for (k, v) in obj {
        if !allowed_keys.contains(&k.as_str()) {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid filter '{k}'"
            )));
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
                return Err(EngineError::System(format!(
                    "json: cannot unmarshal {} into Go value of type map[string]bool",
                    crate::gojson::kind(&other)
                )))
            }
        };
        out.insert(k, values);
    }
    Ok(out)
}

/// An object's labels, as a filter reads them.
pub trait Labels {
    /// `None` when the label is absent; `Some(None)` when it is present
    /// without a string value (an image config may hold any JSON there).
    fn label(&self, key: &str) -> Option<Option<&str>>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<Option<&str>> {
        self.get(key).map(|v| Some(v.as_str()))
    }
}

impl Labels for Map<String, Value> {
    fn label(&self, key: &str) -> Option<Option<&str>> {
        self.get(key).map(Value::as_str)
    }
}

impl<T: Labels> Labels for Option<&T> {
    fn label(&self, key: &str) -> Option<Option<&str>> {
        self.and_then(|l| l.label(key))
    }
}

/// One label filter value, `key` or `key=value`, against an object's labels.
pub fn label_matches(labels: &impl Labels, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.label(k).is_some_and(|have| have == Some(v)),
        None => labels.label(filter).is_some(),
    }
}

/// dockerd's `MatchKVList`: every value (`key` or `key=value`) must match.
pub fn labels_match(labels: &impl Labels, wanted: &[String]) -> bool {
    wanted.iter().all(|w| label_matches(labels, w))
}

/// The `label` and `label!` keys of a prune: every `label` matches and no
/// `label!` does.
pub fn label_filters_match(f: &Filters, labels: &impl Labels) -> bool {
    f.get("label").is_none_or(|w| labels_match(labels, w))
        && f.get("label!")
            .is_none_or(|w| !w.iter().any(|l| label_matches(labels, l)))
}

/// A filter value parsed as Go's `strconv.<func>` would, failing with its
/// message (`strconv.Atoi: parsing "x": invalid syntax`), which dockerd
/// passes on as the answer to a bad filter value.
pub fn go_parse<T>(func: &str, s: &str) -> Result<T, String>
where
    T: std::str::FromStr<Err = std::num::ParseIntError>,
{
    // Go takes no leading '+' on unsigned numbers; Rust would.
    let signed_unsigned = func == "ParseUint" && s.starts_with('+');
    match s.parse::<T>() {
        Ok(v) if !signed_unsigned => Ok(v),
        Ok(_) => Err(format!("strconv.{func}: parsing {s:?}: invalid syntax")),
        Err(e) => {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            Err(format!("strconv.{func}: parsing {s:?}: {why}"))
        }
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
        assert!(matches!(unknown, EngineError::InvalidParameter(_)));
        for bad in ["bad", "[]", r#"{"a":5}"#] {
            assert!(
                matches!(
                    parse(Some(bad), &["a"]).unwrap_err(),
                    EngineError::System(_)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn labels_as_dockerd_matches_them() {
        let labels: BTreeMap<String, String> =
            [("a".to_string(), "1".to_string()), ("b".into(), "".into())].into();
        assert!(label_matches(&labels, "a"));
        assert!(label_matches(&labels, "a=1"));
        assert!(!label_matches(&labels, "a=2"));
        assert!(label_matches(&labels, "b="));
        assert!(!label_matches(&labels, "c"));
        assert!(labels_match(&labels, &["a".into(), "b".into()]));
        assert!(!labels_match(&labels, &["a".into(), "c".into()]));
        let f: Filters = [
            ("label".to_string(), vec!["a".to_string()]),
            (
                "label!".to_string(),
                vec!["c".to_string(), "a=2".to_string()],
            ),
        ]
        .into();
        assert!(label_filters_match(&f, &labels));
        let f: Filters = [(
            "label!".to_string(),
            vec!["c".to_string(), "a=1".to_string()],
        )]
        .into();
        assert!(!label_filters_match(&f, &labels));
        // Image configs: a label with a non-string value is present, equal to nothing.
        let img: Map<String, Value> = serde_json::from_str(r#"{"n":5,"s":"x"}"#).unwrap();
        assert!(label_matches(&img, "n") && !label_matches(&img, "n=5"));
        assert!(label_matches(&Some(&img), "s=x"));
        assert!(!label_matches(&None::<&Map<String, Value>>, "s"));
    }
}
