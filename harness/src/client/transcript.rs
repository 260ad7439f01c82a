//! The transcript: every exchange as it went over the wire (bodies cut to
//! [`TRANSCRIPT_BODY_LIMIT`](super::TRANSCRIPT_BODY_LIMIT)), for failure
//! reports and for `shipshape diff`.

use super::TRANSCRIPT_BODY_LIMIT;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request/response pair as it went over the wire.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub id: usize,
    pub method: String,
    /// Full request path, version prefix and query included.
    pub path: String,
    pub request_headers: Vec<(String, String)>,
    /// First [`TRANSCRIPT_BODY_LIMIT`] bytes of the request body.
    pub request_body: Vec<u8>,
    pub request_body_len: usize,
    /// Top-level field names of the request body when it is a JSON object,
    /// taken from the whole body (the kept bytes may cut it): what the
    /// coverage counts as body parameters sent.
    pub request_fields: Vec<String>,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    /// First [`TRANSCRIPT_BODY_LIMIT`] bytes of the response body.
    pub response_body: Vec<u8>,
    pub response_body_len: usize,
    /// Transport error, if the exchange did not complete.
    pub error: Option<String>,
    pub elapsed: Duration,
}

/// The top-level field names of `body` if it is a JSON object, else none.
pub fn json_fields(body: &[u8]) -> Vec<String> {
    // Cheap test first: tarballs and empty bodies are never parsed.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Vec::new();
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Renders bytes for humans: UTF-8 where possible, escapes otherwise.
pub fn printable(data: &[u8], total_len: usize) -> String {
    let mut s = String::new();
    for chunk in data.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' | '\t' => s.push(c),
                c if c.is_control() => s.push_str(&c.escape_default().to_string()),
                c => s.push(c),
            }
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    if total_len > data.len() {
        s.push_str(&format!("… ({total_len} bytes in all)"));
    }
    s
}

impl fmt::Display for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "request #{}: {} {}", self.id, self.method, self.path)?;
        for (k, v) in &self.request_headers {
            writeln!(f, "  {k}: {v}")?;
        }
        if self.request_body_len > 0 {
            writeln!(
                f,
                "  body: {}",
                printable(&self.request_body, self.request_body_len)
            )?;
        }
        match (self.status, &self.error) {
            (_, Some(e)) => writeln!(f, "response: none ({e})")?,
            (Some(st), None) => {
                writeln!(f, "response: {st} (after {:?})", self.elapsed)?;
                for (k, v) in &self.response_headers {
                    writeln!(f, "  {k}: {v}")?;
                }
                if self.response_body_len > 0 {
                    writeln!(
                        f,
                        "  body: {}",
                        printable(&self.response_body, self.response_body_len)
                    )?;
                }
            }
            (None, None) => writeln!(f, "response: none")?,
        }
        Ok(())
    }
}

/// Shared, append-only record of every exchange.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    inner: Arc<Mutex<Vec<Exchange>>>,
}

impl Transcript {
    /// Records the body of an exchange whose body came after it was pushed
    /// (an attach stream, read to its end later).
    pub(super) fn set_response_body(&self, id: usize, body: &[u8]) {
        let mut v = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ex) = v.get_mut(id) {
            ex.response_body = body[..body.len().min(TRANSCRIPT_BODY_LIMIT)].to_vec();
            ex.response_body_len = body.len();
        }
    }

    pub(super) fn push(&self, mut ex: Exchange) -> usize {
        // A poisoned lock only means another thread panicked mid-push; the
        // data is still a valid Vec, so keep recording.
        let mut v = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        ex.id = v.len();
        v.push(ex);
        v.len() - 1
    }

    /// Appends another transcript's exchanges (a forked client's),
    /// renumbering them; returns their new ids.
    pub fn append(&self, exchanges: Vec<Exchange>) -> std::ops::Range<usize> {
        let mut v = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let first = v.len();
        for (i, mut ex) in exchanges.into_iter().enumerate() {
            ex.id = first + i;
            v.push(ex);
        }
        first..v.len()
    }

    pub fn get(&self, id: usize) -> Option<Exchange> {
        let v = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        v.get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn all(&self) -> Vec<Exchange> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
