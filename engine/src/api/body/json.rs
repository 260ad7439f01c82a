//! Decoding request bodies the way dockerd's `json.NewDecoder(body).Decode`
//! does, so malformed input gets dockerd's answer:
//!
//! - only the first JSON value counts: trailing bytes are ignored, not an
//!   error (`{"Image":"x"} junk` creates a container on dockerd);
//! - an empty body is Go's `EOF`, a value cut short is `unexpected EOF`;
//! - other syntax and type errors are worded as Go's decoder words them
//!   (`crate::gojson`), which clients and scripts match on.
//!
//! The status is the caller's: dockerd answers 500 for some endpoints
//! (container create and update) and 400 for others (exec, networks, volumes).

use serde::de::DeserializeOwned;

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
}
