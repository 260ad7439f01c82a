//! A request before the version prefix is applied ([`Req`]), a complete
//! answer ([`Response`]) and the percent-encoding of path segments.

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;
use std::time::Duration;

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Index of this exchange in the client's [`Transcript`].
    pub exchange: usize,
}

impl Response {
    /// First value of a header, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("body is not valid JSON: {e}"))
    }

    /// Docker's error text: `{"message": ...}` for JSON bodies; the trimmed
    /// text for plain bodies (some dockerd errors, e.g. a too-old API
    /// version, are text/plain).
    pub fn message(&self) -> Option<String> {
        if let Ok(v) = serde_json::from_slice::<Value>(&self.body) {
            return v.get("message").and_then(Value::as_str).map(str::to_string);
        }
        let t = self.text();
        let t = t.trim();
        (!t.is_empty()).then(|| t.to_string())
    }
}

/// Body of a request.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(Value),
    /// Raw bytes with their content type.
    Raw(Bytes, String),
}

/// A request before the version prefix is applied.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    /// Path plus query, e.g. `/containers/json?all=1`.
    pub path: String,
    /// Prefix `path` with `/vX.Y` (true for everything but version tests).
    pub versioned: bool,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub timeout: Option<Duration>,
}

impl Req {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Req {
            method,
            path: path.into(),
            versioned: true,
            headers: Vec::new(),
            body: Body::Empty,
            timeout: None,
        }
    }
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }
    pub fn head(path: impl Into<String>) -> Self {
        Self::new(Method::HEAD, path)
    }
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }
    /// Send the path exactly as given, without the `/vX.Y` prefix.
    pub fn unversioned(mut self) -> Self {
        self.versioned = false;
        self
    }
    pub fn json(mut self, v: Value) -> Self {
        self.body = Body::Json(v);
        self
    }
    pub fn raw(mut self, data: impl Into<Bytes>, content_type: &str) -> Self {
        self.body = Body::Raw(data.into(), content_type.to_string());
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
    /// A longer allowance for a request known to be slow, given at the
    /// default pace: the client scales it with its own timeout
    /// ([`Client::scaled`]).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
}

/// Percent-encodes a path segment or query value: everything except
/// unreserved characters and `:` `/` `@` (which image references contain and
/// Docker's router expects literally).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
