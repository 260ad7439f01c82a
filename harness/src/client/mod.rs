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
//! Over ssh, where a connection is a login and a remote process, a
//! connection whose answer was read in full is kept for the next request
//! (see `ssh::Pool`).
//!
//! * [`target`]: where the endpoint listens (`unix://`, `tcp://`, TLS,
//!   `ssh://`) and connecting to it; [`tls`] and [`ssh`] the two
//!   transports beyond a plain socket;
//! * [`request`]: requests, responses and percent-encoding;
//! * [`version`]: API versions and their negotiation;
//! * [`transcript`]: the record of every exchange;
//! * [`hijack`]: attach's upgraded (hijacked) connection;
//! * [`demux`]: Docker's multiplexed stdout/stderr framing;
//! * `wire`: one HTTP/1.1 round trip over hyper.

pub mod context;
pub mod demux;
pub mod hijack;
pub mod request;
pub mod ssh;
pub mod target;
pub mod tls;
pub mod transcript;
pub mod version;
mod wire;

pub use demux::{demux, Demuxed};
pub use hijack::{Attach, Duplex};
pub use request::{enc, Body, Req, Response};
pub(crate) use target::connect;
pub use target::Target;
pub use transcript::{json_fields, printable, Exchange, Transcript};
pub use version::{ApiVersion, Negotiation};
pub(crate) use wire::RoundtripError;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request};
use std::time::{Duration, Instant};
use wire::roundtrip;

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

pub struct Client {
    /// Shared by a client and its forks (see [`Client::fork`]).
    rt: std::sync::Arc<tokio::runtime::Runtime>,
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
            rt: std::sync::Arc::new(rt),
            target,
            version: None,
            timeout: DEFAULT_TIMEOUT,
            transcript: Transcript::default(),
        })
    }

    /// A client for the same endpoint, version and timeout, sharing the
    /// runtime but with a transcript of its own: what one scenario of a
    /// concurrent run sends, merged into the run's transcript afterwards
    /// ([`Transcript::append`]) so ids follow the scenarios' order.
    pub fn fork(&self) -> Client {
        Client {
            rt: self.rt.clone(),
            target: self.target.clone(),
            version: self.version,
            timeout: self.timeout,
            transcript: Transcript::default(),
        }
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

    fn full_path(&self, req: &Req) -> String {
        match (req.versioned, self.version) {
            (true, Some(v)) => format!("/v{v}{}", req.path),
            _ => req.path.clone(),
        }
    }

    fn host_header(&self) -> String {
        match &self.target {
            Target::Unix(_) | Target::Ssh(_) => UNIX_HOST_HEADER.to_string(),
            Target::Tcp(h) | Target::Tls(h, _) => h.clone(),
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
            request_fields: json_fields(&body),
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
}

#[cfg(test)]
mod tests;
