//! A raw HTTP/1.1 client for Docker-compatible endpoints.
//!
//! Deliberately low level: the harness must see exactly what an endpoint
//! answers (status, headers, body bytes), so it does not use a Docker SDK that
//! would interpret or hide those. Every exchange is kept in a transcript for
//! failure reports. The API is synchronous — the client owns a tokio runtime
//! and blocks on each request — which keeps scenario code straight-line.
//!
//! Each request opens its own connection. That costs a connect per request
//! (cheap on a unix socket) but means a misbehaving response can never poison
//! later requests, and a hijacked attach naturally owns its connection.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Newest API version the harness speaks; negotiation never goes above it.
pub const MAX_API_VERSION: ApiVersion = ApiVersion {
    major: 1,
    minor: 50,
};

/// Default timeout for one request, response body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How much of each body the transcript keeps.
pub const TRANSCRIPT_BODY_LIMIT: usize = 2048;

/// Host header sent over unix sockets (the docker CLI uses the same dummy).
const UNIX_HOST_HEADER: &str = "api.moby.localhost";

const USER_AGENT: &str = concat!("shipshape-harness/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid host URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    // Not named `source`: thiserror would make it the error's source and
    // printing the chain would repeat it.
    #[error("cannot connect to {target}: {error}")]
    Connect {
        target: String,
        error: std::io::Error,
    },
    #[error("{method} {path} to {target}: {message}")]
    Http {
        target: String,
        method: String,
        path: String,
        message: String,
    },
    #[error("{method} {path} to {target}: no complete answer within {timeout:?}")]
    Timeout {
        target: String,
        method: String,
        path: String,
        timeout: Duration,
    },
    #[error("{target} does not look like a Docker API endpoint: {reason}")]
    NotDocker { target: String, reason: String },
    #[error("invalid API version {0:?} (expected MAJOR.MINOR, e.g. 1.41)")]
    BadVersion(String),
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Protocol(String),
}

/// An API version such as 1.41. Ordered numerically (1.9 < 1.41).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

impl ApiVersion {
    pub fn parse(s: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::BadVersion(s.to_string());
        let (a, b) = s.trim().split_once('.').ok_or_else(bad)?;
        Ok(ApiVersion {
            major: a.parse().map_err(|_| bad())?,
            minor: b.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Where the endpoint listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    /// `host:port`
    Tcp(String),
}

impl Target {
    /// Parses `unix:///path`, `tcp://host:port` or `http://host:port`
    /// (port defaults to 2375, as with the docker CLI).
    pub fn parse(url: &str) -> Result<Target, ClientError> {
        let bad = |reason: &str| ClientError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if let Some(path) = url.strip_prefix("unix://") {
            if path.is_empty() || !path.starts_with('/') {
                return Err(bad(
                    "a unix socket URL needs an absolute path: unix:///path/to/sock",
                ));
            }
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        let rest = url
            .strip_prefix("tcp://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| bad("supported schemes are unix://, tcp:// and http://"))?;
        let hostport = rest.strip_suffix('/').unwrap_or(rest);
        if hostport.is_empty() || hostport.contains('/') || hostport.contains('@') {
            return Err(bad("expected tcp://HOST:PORT"));
        }
        let with_port = match hostport.rsplit_once(':') {
            // An IPv6 literal like [::1] has colons but no port after `]`.
            Some((host, port)) if !port.contains(']') => {
                if host.is_empty() {
                    return Err(bad("missing host"));
                }
                port.parse::<u16>().map_err(|_| bad("invalid port"))?;
                hostport.to_string()
            }
            _ => format!("{hostport}:2375"),
        };
        Ok(Target::Tcp(with_port))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Unix(p) => write!(f, "unix://{}", p.display()),
            Target::Tcp(h) => write!(f, "tcp://{h}"),
        }
    }
}

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
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    /// First [`TRANSCRIPT_BODY_LIMIT`] bytes of the response body.
    pub response_body: Vec<u8>,
    pub response_body_len: usize,
    /// Transport error, if the exchange did not complete.
    pub error: Option<String>,
    pub elapsed: Duration,
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
    fn push(&self, mut ex: Exchange) -> usize {
        // A poisoned lock only means another thread panicked mid-push; the
        // data is still a valid Vec, so keep recording.
        let mut v = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        ex.id = v.len();
        v.push(ex);
        v.len() - 1
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

/// Result of version negotiation.
#[derive(Debug, Clone)]
pub struct Negotiation {
    /// The version used for every `/vX.Y` prefix.
    pub api_version: ApiVersion,
    /// `Api-Version` header of `/_ping` (the server's maximum).
    pub server_api_version: ApiVersion,
    /// `MinAPIVersion` from `/version`, when reported.
    pub server_min_api_version: Option<ApiVersion>,
    /// `Version` from `/version` (the engine's own version string).
    pub server_version: String,
    /// `Server` header, when sent.
    pub server_header: Option<String>,
    /// True when `--api-version` pinned the version.
    pub pinned: bool,
}

/// A stream connection after a successful `101 Switching Protocols`.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

pub struct Client {
    rt: tokio::runtime::Runtime,
    target: Target,
    version: Option<ApiVersion>,
    timeout: Duration,
    transcript: Transcript,
}

impl Client {
    /// A client for `target`. Nothing is sent until the first request.
    pub fn new(target: Target) -> Result<Self, ClientError> {
        // Two worker threads: connection tasks run there while the caller's
        // thread blocks, and the machine is small.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(ClientError::Runtime)?;
        Ok(Client {
            rt,
            target,
            version: None,
            timeout: DEFAULT_TIMEOUT,
            transcript: Transcript::default(),
        })
    }

    /// Parses a host URL and creates a client for it.
    pub fn from_url(url: &str) -> Result<Self, ClientError> {
        Self::new(Target::parse(url)?)
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The allowance for a step a scenario knows is slow (`Req::timeout`,
    /// an attach stream's end), given at the default pace: it scales with
    /// the client's timeout, and never drops below it. With the default
    /// timeout nothing changes; `--timeout 1` against an endpoint that hangs
    /// turns a 180 s image load into 3 s instead of keeping it at 180 s.
    pub fn scaled(&self, at_default: Duration) -> Duration {
        let factor = self.timeout.as_secs_f64() / DEFAULT_TIMEOUT.as_secs_f64();
        at_default.mul_f64(factor).max(self.timeout)
    }

    /// The negotiated (or pinned) version, once set.
    pub fn api_version(&self) -> Option<ApiVersion> {
        self.version
    }

    /// Sets the version prefix without negotiating.
    pub fn set_api_version(&mut self, v: ApiVersion) {
        self.version = Some(v);
    }

    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Negotiates like the docker CLI: `HEAD /_ping` (falling back to
    /// `GET /_ping`) for the server's `Api-Version`, then uses
    /// min(server, [`MAX_API_VERSION`]) unless `pinned`; finally checks that
    /// `GET /vX.Y/version` answers with Docker's version document.
    pub fn negotiate(&mut self, pinned: Option<ApiVersion>) -> Result<Negotiation, ClientError> {
        let target = self.target.to_string();
        let not_docker = |reason: String| ClientError::NotDocker {
            target: target.clone(),
            reason,
        };
        let mut ping = self.send(Req::head("/_ping").unversioned())?;
        if ping.header("Api-Version").is_none() {
            // Some servers reject HEAD (405); the CLI retries with GET.
            ping = self.send(Req::get("/_ping").unversioned())?;
        }
        let header = ping.header("Api-Version").map(str::to_string);
        let server_header = ping.header("Server").map(str::to_string);
        let server_api = match header {
            Some(h) => ApiVersion::parse(&h).map_err(|_| {
                not_docker(format!("/_ping sent an invalid Api-Version header {h:?}"))
            })?,
            None => {
                return Err(not_docker(format!(
                    "GET /_ping answered {} without an Api-Version header",
                    ping.status
                )))
            }
        };
        let api_version = pinned.unwrap_or_else(|| server_api.min(MAX_API_VERSION));
        self.version = Some(api_version);
        let v = self.send(Req::get("/version"))?;
        if v.status != 200 && pinned.is_some() {
            return Err(ClientError::Protocol(format!(
                "{target} rejects the pinned API version {api_version}: {} {}",
                v.status,
                v.message().unwrap_or_default()
            )));
        }
        if v.status != 200 {
            return Err(not_docker(format!(
                "GET /v{api_version}/version answered {}: {}",
                v.status,
                printable(&v.body[..v.body.len().min(200)], v.body.len())
            )));
        }
        let doc = v
            .json()
            .map_err(|e| not_docker(format!("GET /v{api_version}/version: {e}")))?;
        let server_version = doc
            .get("Version")
            .and_then(Value::as_str)
            .ok_or_else(|| not_docker("/version has no Version string".to_string()))?
            .to_string();
        let server_min_api_version = doc
            .get("MinAPIVersion")
            .and_then(Value::as_str)
            .and_then(|s| ApiVersion::parse(s).ok());
        Ok(Negotiation {
            api_version,
            server_api_version: server_api,
            server_min_api_version,
            server_version,
            server_header,
            pinned: pinned.is_some(),
        })
    }

    fn full_path(&self, req: &Req) -> String {
        match (req.versioned, self.version) {
            (true, Some(v)) => format!("/v{v}{}", req.path),
            _ => req.path.clone(),
        }
    }

    fn host_header(&self) -> String {
        match &self.target {
            Target::Unix(_) => UNIX_HOST_HEADER.to_string(),
            Target::Tcp(h) => h.clone(),
        }
    }

    fn build_request(
        &self,
        req: &Req,
        path: &str,
        extra: &[(&str, &str)],
    ) -> Result<(Request<Full<Bytes>>, Exchange), ClientError> {
        let proto = |m: String| ClientError::Http {
            target: self.target.to_string(),
            method: req.method.to_string(),
            path: path.to_string(),
            message: m,
        };
        let (body, ctype) = match &req.body {
            Body::Empty => (Bytes::new(), None),
            Body::Json(v) => (
                Bytes::from(serde_json::to_vec(v).map_err(|e| proto(e.to_string()))?),
                Some("application/json".to_string()),
            ),
            Body::Raw(b, ct) => (b.clone(), Some(ct.clone())),
        };
        let mut headers: Vec<(String, String)> = vec![
            ("Host".into(), self.host_header()),
            ("User-Agent".into(), USER_AGENT.into()),
        ];
        // An explicit Content-Type in req.headers wins (error scenarios send
        // deliberately wrong ones).
        let explicit_ct = req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if let (Some(ct), false) = (ctype, explicit_ct) {
            headers.push(("Content-Type".into(), ct));
        }
        if !body.is_empty() || matches!(req.method, Method::POST | Method::PUT) {
            headers.push(("Content-Length".into(), body.len().to_string()));
        }
        for (k, v) in &req.headers {
            headers.push((k.clone(), v.clone()));
        }
        for (k, v) in extra {
            headers.push((k.to_string(), v.to_string()));
        }
        let mut builder = Request::builder().method(req.method.clone()).uri(path);
        for (k, v) in &headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| proto(e.to_string()))?;
            let value = HeaderValue::from_str(v).map_err(|e| proto(e.to_string()))?;
            builder = builder.header(name, value);
        }
        let exchange = Exchange {
            id: 0,
            method: req.method.to_string(),
            path: path.to_string(),
            request_headers: headers,
            request_body: body[..body.len().min(TRANSCRIPT_BODY_LIMIT)].to_vec(),
            request_body_len: body.len(),
            status: None,
            response_headers: Vec::new(),
            response_body: Vec::new(),
            response_body_len: 0,
            error: None,
            elapsed: Duration::ZERO,
        };
        let request = builder
            .body(Full::new(body))
            .map_err(|e| proto(e.to_string()))?;
        Ok((request, exchange))
    }

    /// Sends a request and reads the whole response body.
    pub fn send(&self, req: Req) -> Result<Response, ClientError> {
        let path = self.full_path(&req);
        let (request, mut exchange) = self.build_request(&req, &path, &[])?;
        let timeout = req.timeout.map_or(self.timeout, |t| self.scaled(t));
        let target = self.target.clone();
        let started = Instant::now();
        let result = self
            .rt
            .block_on(async { tokio::time::timeout(timeout, roundtrip(&target, request)).await });
        exchange.elapsed = started.elapsed();
        let err_ctx = |message: String| ClientError::Http {
            target: target.to_string(),
            method: req.method.to_string(),
            path: path.clone(),
            message,
        };
        match result {
            Err(_) => {
                exchange.error = Some(format!("timed out after {timeout:?}"));
                self.transcript.push(exchange);
                Err(ClientError::Timeout {
                    target: target.to_string(),
                    method: req.method.to_string(),
                    path,
                    timeout,
                })
            }
            Ok(Err(RoundtripError::Connect(e))) => {
                exchange.error = Some(format!("connect: {e}"));
                self.transcript.push(exchange);
                Err(ClientError::Connect {
                    target: target.to_string(),
                    error: e,
                })
            }
            Ok(Err(RoundtripError::Http(m))) => {
                exchange.error = Some(m.clone());
                self.transcript.push(exchange);
                Err(err_ctx(m))
            }
            Ok(Ok((status, headers, body))) => {
                exchange.status = Some(status);
                exchange.response_headers = headers.clone();
                exchange.response_body = body[..body.len().min(TRANSCRIPT_BODY_LIMIT)].to_vec();
                exchange.response_body_len = body.len();
                let id = self.transcript.push(exchange);
                Ok(Response {
                    status,
                    headers,
                    body,
                    exchange: id,
                })
            }
        }
    }

    /// `POST /containers/{id}/attach?stream=1&stdout=1&stderr=1` (plus
    /// stdin when asked) as a hijacked connection. On `101` the returned
    /// [`Attach`] reads the raw (multiplexed unless TTY) stream; on any other
    /// status the response is returned as `Err(Ok(response))` so scenarios
    /// can report it.
    pub fn attach(
        &self,
        id: &str,
        stdin: bool,
    ) -> Result<Result<Attach<'_>, Response>, ClientError> {
        let mut q = "stream=1&stdout=1&stderr=1".to_string();
        if stdin {
            q.push_str("&stdin=1");
        }
        let req = Req::post(format!("/containers/{}/attach?{q}", enc(id)));
        let path = self.full_path(&req);
        let (request, mut exchange) = self.build_request(
            &req,
            &path,
            &[("Connection", "Upgrade"), ("Upgrade", "tcp")],
        )?;
        let timeout = self.timeout;
        let target = self.target.clone();
        let started = Instant::now();
        let result = self.rt.block_on(async {
            tokio::time::timeout(timeout, upgrade_roundtrip(&target, request)).await
        });
        exchange.elapsed = started.elapsed();
        let res = match result {
            Err(_) => {
                exchange.error = Some(format!("timed out after {timeout:?}"));
                self.transcript.push(exchange);
                return Err(ClientError::Timeout {
                    target: target.to_string(),
                    method: "POST".into(),
                    path,
                    timeout,
                });
            }
            Ok(Err(RoundtripError::Connect(e))) => {
                exchange.error = Some(format!("connect: {e}"));
                self.transcript.push(exchange);
                return Err(ClientError::Connect {
                    target: target.to_string(),
                    error: e,
                });
            }
            Ok(Err(RoundtripError::Http(m))) => {
                exchange.error = Some(m.clone());
                self.transcript.push(exchange);
                return Err(ClientError::Http {
                    target: target.to_string(),
                    method: "POST".into(),
                    path,
                    message: m,
                });
            }
            Ok(Ok(r)) => r,
        };
        match res {
            Upgraded::Switched(status, headers, stream) => {
                exchange.status = Some(status);
                exchange.response_headers = headers.clone();
                let id = self.transcript.push(exchange);
                Ok(Ok(Attach {
                    client: self,
                    stream: Some(stream),
                    status,
                    headers,
                    exchange: id,
                }))
            }
            Upgraded::Refused(status, headers, body) => {
                exchange.status = Some(status);
                exchange.response_headers = headers.clone();
                exchange.response_body = body[..body.len().min(TRANSCRIPT_BODY_LIMIT)].to_vec();
                exchange.response_body_len = body.len();
                let id = self.transcript.push(exchange);
                Ok(Err(Response {
                    status,
                    headers,
                    body,
                    exchange: id,
                }))
            }
        }
    }
}

/// A hijacked attach connection.
pub struct Attach<'c> {
    client: &'c Client,
    stream: Option<Box<dyn Duplex>>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub exchange: usize,
}

impl Attach<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Writes to the container's stdin.
    pub fn write(&mut self, data: &[u8]) -> Result<(), ClientError> {
        let timeout = self.client.timeout;
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| ClientError::Protocol("attach stream already closed".into()))?;
        self.client
            .rt
            .block_on(async { tokio::time::timeout(timeout, stream.write_all(data)).await })
            .map_err(|_| {
                ClientError::Protocol(format!("attach: write timed out after {timeout:?}"))
            })?
            .map_err(|e| ClientError::Protocol(format!("attach: write failed: {e}")))
    }

    /// Half-closes the connection so the container sees EOF on stdin.
    pub fn close_stdin(&mut self) -> Result<(), ClientError> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| ClientError::Protocol("attach stream already closed".into()))?;
        self.client
            .rt
            .block_on(stream.shutdown())
            .map_err(|e| ClientError::Protocol(format!("attach: shutdown failed: {e}")))
    }

    /// Reads until the endpoint closes the stream (the container exited) or
    /// `timeout` (at the default pace, see [`Client::scaled`]) passes;
    /// returns the raw bytes. The data is also recorded as this exchange's
    /// response body.
    pub fn read_to_end(&mut self, timeout: Duration) -> Result<Vec<u8>, ClientError> {
        let timeout = self.client.scaled(timeout);
        let mut stream = self
            .stream
            .take()
            .ok_or_else(|| ClientError::Protocol("attach stream already read".into()))?;
        let mut buf = Vec::new();
        let res = self
            .client
            .rt
            .block_on(async { tokio::time::timeout(timeout, stream.read_to_end(&mut buf)).await });
        {
            let mut v = self
                .client
                .transcript
                .inner
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(ex) = v.get_mut(self.exchange) {
                ex.response_body = buf[..buf.len().min(TRANSCRIPT_BODY_LIMIT)].to_vec();
                ex.response_body_len = buf.len();
            }
        }
        match res {
            Err(_) => Err(ClientError::Protocol(format!(
                "attach: stream still open after {timeout:?} ({} bytes read)",
                buf.len()
            ))),
            Ok(Err(e)) => Err(ClientError::Protocol(format!("attach: read failed: {e}"))),
            Ok(Ok(_)) => Ok(buf),
        }
    }
}

/// Output of a multiplexed stream, split by stream id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demuxed {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Every frame in order: (stream id, payload).
    pub frames: Vec<(u8, Vec<u8>)>,
}

impl Demuxed {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Splits Docker's multiplexed stream: frames of an 8-byte header
/// `[stream, 0, 0, 0, size (u32 big-endian)]` followed by `size` bytes;
/// stream 0 = stdin, 1 = stdout, 2 = stderr.
pub fn demux(data: &[u8]) -> Result<Demuxed, String> {
    let mut out = Demuxed::default();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.len() < 8 {
            return Err(format!(
                "truncated frame header: {} trailing bytes at offset {}",
                rest.len(),
                data.len() - rest.len()
            ));
        }
        let stream = rest[0];
        if stream > 3 || rest[1..4] != [0, 0, 0] {
            return Err(format!(
                "invalid frame header {:02x?} at offset {}",
                &rest[..8],
                data.len() - rest.len()
            ));
        }
        let size = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let payload = rest
            .get(8..8 + size)
            .ok_or_else(|| format!("frame of {size} bytes truncated to {}", rest.len() - 8))?;
        match stream {
            1 => out.stdout.extend_from_slice(payload),
            2 => out.stderr.extend_from_slice(payload),
            _ => {}
        }
        out.frames.push((stream, payload.to_vec()));
        rest = &rest[8 + size..];
    }
    Ok(out)
}

pub(crate) enum RoundtripError {
    Connect(std::io::Error),
    Http(String),
}

type Parts = (u16, Vec<(String, String)>, Bytes);

enum Upgraded {
    Switched(u16, Vec<(String, String)>, Box<dyn Duplex>),
    Refused(u16, Vec<(String, String)>, Bytes),
}

pub(crate) async fn connect(target: &Target) -> Result<Box<dyn Duplex>, RoundtripError> {
    match target {
        Target::Unix(p) => tokio::net::UnixStream::connect(p)
            .await
            .map(|s| Box::new(s) as Box<dyn Duplex>)
            .map_err(RoundtripError::Connect),
        Target::Tcp(h) => tokio::net::TcpStream::connect(h.as_str())
            .await
            .map(|s| {
                let _ = s.set_nodelay(true);
                Box::new(s) as Box<dyn Duplex>
            })
            .map_err(RoundtripError::Connect),
    }
}

fn header_list(h: &hyper::HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Canonical-ish capitalisation for display (hyper lowercases names).
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn display_headers(h: &hyper::HeaderMap) -> Vec<(String, String)> {
    header_list(h)
        .into_iter()
        .map(|(k, v)| (display_name(&k), v))
        .collect()
}

/// An error with its causes: hyper's own message is often just
/// "connection error", and the cause (e.g. "Connection reset by peer") is
/// what tells a user what the endpoint did.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        cur = c.source();
    }
    out
}

async fn roundtrip(target: &Target, req: Request<Full<Bytes>>) -> Result<Parts, RoundtripError> {
    let io = TokioIo::new(connect(target).await?);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| RoundtripError::Http(format!("HTTP handshake failed: {}", error_chain(&e))))?;
    tokio::spawn(async move {
        // Errors surface through send_request / the body; nothing to do here.
        let _ = conn.await;
    });
    let res = sender.send_request(req).await.map_err(|e| {
        RoundtripError::Http(format!("no valid HTTP response: {}", error_chain(&e)))
    })?;
    let status = res.status().as_u16();
    let headers = display_headers(res.headers());
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| {
            RoundtripError::Http(format!(
                "reading the response body failed: {}",
                error_chain(&e)
            ))
        })?
        .to_bytes();
    Ok((status, headers, body))
}

async fn upgrade_roundtrip(
    target: &Target,
    req: Request<Full<Bytes>>,
) -> Result<Upgraded, RoundtripError> {
    let io = TokioIo::new(connect(target).await?);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| RoundtripError::Http(format!("HTTP handshake failed: {}", error_chain(&e))))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut res = sender.send_request(req).await.map_err(|e| {
        RoundtripError::Http(format!("no valid HTTP response: {}", error_chain(&e)))
    })?;
    let status = res.status().as_u16();
    let headers = display_headers(res.headers());
    if res.status() == StatusCode::SWITCHING_PROTOCOLS {
        let upgraded = hyper::upgrade::on(&mut res).await.map_err(|e| {
            RoundtripError::Http(format!("upgrade failed after 101: {}", error_chain(&e)))
        })?;
        return Ok(Upgraded::Switched(
            status,
            headers,
            Box::new(TokioIo::new(upgraded)),
        ));
    }
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| {
            RoundtripError::Http(format!(
                "reading the response body failed: {}",
                error_chain(&e)
            ))
        })?
        .to_bytes();
    Ok(Upgraded::Refused(status, headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;

    #[test]
    fn parses_targets() {
        assert_eq!(
            Target::parse("unix:///var/run/docker.sock").expect("unix"),
            Target::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            Target::parse("tcp://127.0.0.1:2375").expect("tcp"),
            Target::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(
            Target::parse("http://localhost:1234/").expect("http"),
            Target::Tcp("localhost:1234".into())
        );
        assert_eq!(
            Target::parse("tcp://example").expect("default port"),
            Target::Tcp("example:2375".into())
        );
        for bad in [
            "bogus://x",
            "unix://",
            "unix://rel",
            "tcp://",
            "tcp://h:99999",
            "x",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn encodes_components() {
        assert_eq!(enc("shipshape-probe:run-1"), "shipshape-probe:run-1");
        assert_eq!(enc("bad name!"), "bad%20name%21");
        assert_eq!(
            enc("{\"label\":[\"a=b\"]}"),
            "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D".replace("%3A", ":")
        );
    }

    #[test]
    fn orders_versions_numerically() {
        let v = |s| ApiVersion::parse(s).expect("version");
        assert!(v("1.9") < v("1.41"));
        assert!(v("1.41") < v("1.50"));
        assert_eq!(v("1.41").to_string(), "1.41");
        assert!(ApiVersion::parse("1").is_err());
        assert!(ApiVersion::parse("a.b").is_err());
    }

    #[test]
    fn demuxes_frames() {
        let mut data = vec![1, 0, 0, 0, 0, 0, 0, 3];
        data.extend_from_slice(b"out");
        data.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
        data.extend_from_slice(b"err\n");
        let d = demux(&data).expect("demux");
        assert_eq!(d.stdout, b"out");
        assert_eq!(d.stderr, b"err\n");
        assert_eq!(d.frames.len(), 2);
        assert!(demux(&data[..5]).is_err());
        assert!(demux(&[1, 0, 0, 0, 0, 0, 0, 9, b'x']).is_err());
        assert!(demux(b"plain text, not multiplexed").is_err());
    }

    /// A one-connection-per-request fake server on a unix socket: each
    /// accepted connection gets the next canned response.
    fn fake_server(responses: Vec<String>) -> (tempfile::TempDir, Target) {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("fake.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        std::thread::spawn(move || {
            for resp in responses {
                let Ok((mut conn, _)) = listener.accept() else {
                    return;
                };
                // Read the request head; requests here have no body.
                let mut buf = Vec::new();
                let mut byte = [0u8; 1];
                while !buf.ends_with(b"\r\n\r\n") {
                    match conn.read(&mut byte) {
                        Ok(1) => buf.push(byte[0]),
                        _ => break,
                    }
                }
                let _ = conn.write_all(resp.as_bytes());
            }
        });
        (dir, Target::Unix(sock))
    }

    fn ping(api: Option<&str>) -> String {
        let h = api
            .map(|v| format!("Api-Version: {v}\r\n"))
            .unwrap_or_default();
        format!("HTTP/1.1 200 OK\r\n{h}Content-Length: 0\r\nConnection: close\r\n\r\n")
    }

    fn version_doc(api: &str) -> String {
        let body = format!(r#"{{"Version":"fake","ApiVersion":"{api}","MinAPIVersion":"1.24"}}"#);
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    #[test]
    fn negotiates_server_version() {
        let (_d, t) = fake_server(vec![ping(Some("1.45")), version_doc("1.45")]);
        let mut c = Client::new(t).expect("client");
        let n = c.negotiate(None).expect("negotiate");
        assert_eq!(n.api_version.to_string(), "1.45");
        assert_eq!(
            n.server_min_api_version.map(|v| v.to_string()),
            Some("1.24".into())
        );
        let ex = c.transcript().all();
        assert_eq!(ex[0].method, "HEAD");
        assert_eq!(ex[0].path, "/_ping");
        assert_eq!(ex[1].path, "/v1.45/version");
    }

    #[test]
    fn caps_at_max_version() {
        let (_d, t) = fake_server(vec![ping(Some("1.99")), version_doc("1.99")]);
        let mut c = Client::new(t).expect("client");
        let n = c.negotiate(None).expect("negotiate");
        assert_eq!(n.api_version, MAX_API_VERSION);
        assert_eq!(n.server_api_version.to_string(), "1.99");
    }

    #[test]
    fn pinned_version_wins() {
        let (_d, t) = fake_server(vec![ping(Some("1.45")), version_doc("1.45")]);
        let mut c = Client::new(t).expect("client");
        let n = c
            .negotiate(Some(ApiVersion::parse("1.30").expect("v")))
            .expect("negotiate");
        assert_eq!(n.api_version.to_string(), "1.30");
        assert!(n.pinned);
        assert_eq!(c.transcript().all()[1].path, "/v1.30/version");
    }

    #[test]
    fn falls_back_to_get_ping() {
        let not_allowed =
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let (_d, t) = fake_server(vec![
            not_allowed.to_string(),
            ping(Some("1.41")),
            version_doc("1.41"),
        ]);
        let mut c = Client::new(t).expect("client");
        let n = c.negotiate(None).expect("negotiate");
        assert_eq!(n.api_version.to_string(), "1.41");
        assert_eq!(c.transcript().all()[1].method, "GET");
    }

    #[test]
    fn rejects_non_docker_endpoint() {
        let (_d, t) = fake_server(vec![ping(None), ping(None)]);
        let mut c = Client::new(t).expect("client");
        let err = c.negotiate(None).expect_err("not docker");
        assert!(matches!(err, ClientError::NotDocker { .. }), "{err}");
    }

    #[test]
    fn rejects_garbage_response() {
        let (_d, t) = fake_server(vec!["SSH-2.0-OpenSSH\r\n\r\n".to_string()]);
        let mut c = Client::new(t).expect("client");
        let err = c.negotiate(None).expect_err("garbage");
        assert!(matches!(err, ClientError::Http { .. }), "{err}");
        assert!(c.transcript().all()[0].error.is_some());
    }

    #[test]
    fn unreachable_is_connect_error() {
        let c = Client::from_url("unix:///nonexistent/shipshape.sock").expect("client");
        let err = c.send(Req::get("/_ping")).expect_err("unreachable");
        assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    }

    #[test]
    fn hanging_endpoint_times_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("hang.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        let _keep = std::thread::spawn(move || {
            let conn = listener.accept();
            std::thread::sleep(Duration::from_secs(3));
            drop(conn);
        });
        let mut c = Client::new(Target::Unix(sock)).expect("client");
        c.set_timeout(Duration::from_millis(300));
        let err = c.send(Req::get("/_ping")).expect_err("timeout");
        assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    }

    #[test]
    fn slow_step_allowances_scale_with_the_timeout() {
        let mut c = Client::new(Target::Tcp("127.0.0.1:1".into())).expect("client");
        let s = Duration::from_secs;
        assert_eq!(c.scaled(s(180)), s(180), "default timeout: unchanged");
        c.set_timeout(s(1));
        assert_eq!(c.scaled(s(180)), s(3));
        assert_eq!(c.scaled(s(30)), s(1), "never below the timeout itself");
        c.set_timeout(s(120));
        assert_eq!(c.scaled(s(180)), s(360));
    }

    #[test]
    fn message_reads_json_and_text() {
        let r = |body: &str| Response {
            status: 400,
            headers: vec![],
            body: Bytes::from(body.to_string()),
            exchange: 0,
        };
        assert_eq!(
            r(r#"{"message":"boom"}"#).message().as_deref(),
            Some("boom")
        );
        assert_eq!(r("too old\n").message().as_deref(), Some("too old"));
        assert_eq!(r("").message(), None);
    }

    /// Against the real daemon: CI always has dockerd, so a missing socket
    /// is a failure, not a skip.
    #[test]
    fn negotiates_with_dockerd() {
        let sock = std::path::Path::new("/var/run/docker.sock");
        assert!(
            sock.exists(),
            "this test needs dockerd at unix:///var/run/docker.sock (CI starts it)"
        );
        let mut c = Client::from_url("unix:///var/run/docker.sock").expect("client");
        let n = c.negotiate(None).expect("negotiate with dockerd");
        assert_eq!(n.api_version, n.server_api_version.min(MAX_API_VERSION));
        let ping = c.send(Req::get("/_ping")).expect("ping");
        assert_eq!(ping.status, 200);
        assert_eq!(ping.text(), "OK");
        assert!(c.transcript().all()[2].path.starts_with("/v1."));
    }
}
