//! What streamed answers are made of: multiplexed-stream frames and their
//! content type (attach, logs, exec), and JSON lines (load, import, build,
//! events).

use bytes::Bytes;
use serde_json::Value;

use crate::version::ApiVersion;

/// Multiplexed-stream frame: [stream, 0, 0, 0, len (BE u32)] + payload.
pub fn frame(stream: u8, payload: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(8 + payload.len());
    b.extend_from_slice(&[stream, 0, 0, 0]);
    b.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    b.extend_from_slice(payload);
    Bytes::from(b)
}

/// Content type of attach/logs streams: API 1.42 introduced the
/// multiplexed-stream type; older versions always say raw-stream.
pub fn stream_content_type(version: ApiVersion, tty: bool) -> &'static str {
    if !tty && version >= ApiVersion(1, 42) {
        "application/vnd.docker.multiplexed-stream"
    } else {
        "application/vnd.docker.raw-stream"
    }
}

/// One JSON value and a newline, as progress streams carry them.
pub fn json_line(v: &Value) -> Bytes {
    let mut out = serde_json::to_vec(v).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}
