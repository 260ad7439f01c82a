//! Decoding request bodies the way dockerd's `json.NewDecoder(body).Decode`
//! does, so malformed input gets dockerd's answer:
//!
//! - only the first JSON value counts: trailing bytes are ignored, not an
//!   error (`{"Image":"x"} junk` creates a container on dockerd);
//! - an empty body is Go's `EOF`, a value cut short is `unexpected EOF`;
//! - other syntax and type errors are worded as Go's decoder words them
//!   (`crate::gojson`), which clients and scripts match on;
//! - a key names a field whatever its case, as Go matches them: docker-py
//!   sends exec's `detachKeys` for `DetachKeys`. Folded at the body's top
//!   level, for the fields the target type declares ([`fold_keys`]).
//!
//! The status is the caller's: dockerd answers 500 for some endpoints
//! (container create and update) and 400 for others (exec, networks, volumes).

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::errdefs::EngineError;

/// Why a body could not be decoded, worded for the client.
#[derive(Debug, thiserror::Error)]
pub enum JsonBodyError {
    /// Nothing but whitespace.
    #[error("EOF")]
    Empty,
    /// The value stopped in the middle.
    #[error("unexpected EOF")]
    Truncated,
    #[error("{0}")]
    Invalid(String),
}

impl JsonBodyError {
    pub fn bad_request(self) -> EngineError {
        EngineError::InvalidParameter(self.to_string())
    }

    pub fn internal(self) -> EngineError {
        EngineError::System(self.to_string())
    }
}

/// Decodes the first JSON value of `bytes` as `T`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonBodyError> {
    let fields = serde_aux::serde_introspection::serde_introspect::<T>();
    match folded(bytes, fields) {
        Some(bytes) => decode_as_sent(&bytes),
        None => decode_as_sent(bytes),
    }
}

/// The first value of `bytes` again with its top-level keys folded onto
/// `fields`, when it is an object with a key to fold; None otherwise (and
/// for anything malformed, whose error comes from the bytes as sent).
fn folded(bytes: &[u8], fields: &[&str]) -> Option<Vec<u8>> {
    if fields.is_empty() {
        return None;
    }
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    let Some(Ok(Value::Object(mut obj))) = values.next() else {
        return None;
    };
    fold_keys(&mut obj, fields).then(|| serde_json::to_vec(&obj).ok())?
}

/// Renames the keys of `obj` that name one of `fields` in another case to
/// that field, as Go's decoder matches keys (a key spelt exactly keeps its
/// value); whether any was renamed.
pub fn fold_keys(obj: &mut Map<String, Value>, fields: &[&str]) -> bool {
    let renames: Vec<(String, &str)> = obj
        .keys()
        .filter(|k| !fields.contains(&k.as_str()))
        .filter_map(|k| {
            fields
                .iter()
                .find(|f| f.eq_ignore_ascii_case(k))
                .map(|f| (k.clone(), *f))
        })
        .collect();
    for (from, to) in &renames {
        if let Some(v) = obj.remove(from) {
            obj.entry(*to).or_insert(v);
        }
    }
    !renames.is_empty()
}

fn decode_as_sent<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonBodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(JsonBodyError::Empty);
    }
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<T>();
    match values.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) if e.is_eof() => Err(JsonBodyError::Truncated),
        Some(Err(e)) => Err(JsonBodyError::Invalid(crate::gojson::describe(&e, bytes))),
        None => Err(JsonBodyError::Empty),
    }
}

/// Like [`decode`], with `T::default()` for an empty body (the endpoints
/// where dockerd treats no body as `{}`).
pub fn decode_or_default<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, JsonBodyError> {
    match decode(bytes) {
        Err(JsonBodyError::Empty) => Ok(T::default()),
        other => other,
    }
}

/// Decodes a body that must be present, as dockerd's `httputils.ReadJSON`
/// (networks, volumes, exec, swarm, plugins): no body at all is 400 "got
/// EOF while reading request body", anything malformed a 400 too.
pub fn decode_required<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, EngineError> {
    match decode(bytes) {
        Err(JsonBodyError::Empty) => Err(EngineError::InvalidParameter(
            "got EOF while reading request body".into(),
        )),
        other => other.map_err(JsonBodyError::bad_request),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn first_value_wins_and_eof_reads_like_go() {
        let v: Value = decode(br#"{"a":1} trailing junk"#).unwrap();
        assert_eq!(v["a"], 1);
        let v: Value = decode(br#"{"a":1}{"b":2}"#).unwrap();
        assert_eq!(v["a"], 1);
        assert!(matches!(
            decode::<Value>(b"  \n"),
            Err(JsonBodyError::Empty)
        ));
        assert!(matches!(
            decode::<Value>(br#"{"Image":"#),
            Err(JsonBodyError::Truncated)
        ));
        assert_eq!(
            decode::<Value>(b"{]").unwrap_err().to_string(),
            "invalid character ']' looking for beginning of object key string"
        );
        let v: Value = decode_or_default(b"").unwrap();
        assert!(v.is_null());
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", default)]
    struct Body {
        detach_keys: String,
        tty: bool,
    }

    impl Default for Body {
        fn default() -> Self {
            Body {
                detach_keys: "unset".into(),
                tty: false,
            }
        }
    }

    #[test]
    fn keys_match_fields_whatever_their_case_as_in_go() {
        let b: Body = decode(br#"{"detachKeys":"ctrl-p","TTY":true}"#).unwrap();
        assert_eq!(
            b,
            Body {
                detach_keys: "ctrl-p".into(),
                tty: true
            }
        );
        // The exact spelling wins over another case.
        let b: Body = decode(br#"{"detachkeys":"a","DetachKeys":"b"}"#).unwrap();
        assert_eq!(b.detach_keys, "b");
        // Errors still come from the body as sent.
        assert_eq!(
            decode::<Body>(br#"{"tty":1}"#).unwrap_err().to_string(),
            decode::<Body>(br#"{"Tty":1}"#).unwrap_err().to_string()
        );
        assert!(matches!(
            decode::<Body>(br#"{"detachKeys":"#),
            Err(JsonBodyError::Truncated)
        ));
    }
}
