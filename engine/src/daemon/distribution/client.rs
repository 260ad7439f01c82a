//! A small registry (distribution API v2) client on hyper's HTTP/1
//! connections: one connection per request, plain HTTP for loopback and
//! `--insecure-registry` entries (after trying TLS without verification,
//! as dockerd does), TLS otherwise with the system roots and
//! `<certs dir>/HOST:PORT/ca.crt`. It answers the registry's challenges:
//! basic auth, and the bearer-token flow (token fetched from the realm with
//! the user's credentials, cached per scope).
//!
//! Errors are worded as dockerd's (`Get "http://...": dial tcp ...`,
//! `unauthorized: authentication required`, ...).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::header::WWW_AUTHENTICATE;
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::rustls;

use super::{Credentials, RegistryConfig};
use crate::errdefs::EngineError;

/// How long connecting may take before dockerd's "i/o timeout".
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest JSON document (manifest, config, error, token) we read.
pub const MAX_DOCUMENT: usize = 4 * 1024 * 1024;

/// A request body: small ones in full, blobs streamed from a channel.
pub enum ReqBody {
    Empty,
    Full(Bytes),
    Stream(mpsc::Receiver<io::Result<Bytes>>),
}

pub struct OutBody(ReqBodyInner);

enum ReqBodyInner {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<io::Result<Bytes>>),
}

impl hyper::body::Body for OutBody {
    type Data = Bytes;
    type Error = io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.0 {
            ReqBodyInner::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReqBodyInner::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data))),
        }
    }
    fn is_end_stream(&self) -> bool {
        matches!(&self.0, ReqBodyInner::Full(None))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scheme {
    Http,
    /// TLS; `verify` false for insecure registries.
    Https {
        verify: bool,
    },
}

/// A registry host (`HOST[:PORT]`, as references name it) and how to reach it.
pub struct Client {
    host: String,
    scheme: Scheme,
    tls_verified: Option<Arc<rustls::ClientConfig>>,
    tls_unverified: Arc<rustls::ClientConfig>,
    creds: Credentials,
    /// What a 401 taught us: `Basic`, or bearer tokens by scope.
    auth: Mutex<AuthState>,
}

#[derive(Default)]
struct AuthState {
    basic: bool,
    bearer: Option<Challenge>,
    tokens: HashMap<String, String>,
}

#[derive(Clone, Debug)]
struct Challenge {
    realm: String,
    service: String,
}

/// Whether `host` is plain-HTTP territory: loopback, or listed insecure.
fn is_insecure(cfg: &RegistryConfig, host: &str) -> bool {
    if cfg.insecure_registries.iter().any(|h| h == host) {
        return true;
    }
    let name = host_name(host);
    if name == "localhost" {
        return true;
    }
    let ip = name.trim_start_matches('[').trim_end_matches(']');
    match ip.parse::<IpAddr>() {
        Ok(ip) => {
            ip.is_loopback()
                || cfg
                    .insecure_registries
                    .iter()
                    .any(|c| cidr_contains(c, &ip))
        }
        Err(_) => false,
    }
}

fn cidr_contains(cidr: &str, ip: &IpAddr) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(*i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(*i) & mask
        }
        _ => false,
    }
}

/// `host:port` -> `host` (brackets of an IPv6 literal kept).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// System roots plus `certs.d/HOST/*.crt`, as dockerd reads them.
fn verified_config(cfg: &RegistryConfig, host: &str) -> Result<rustls::ClientConfig, EngineError> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for bundle in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ] {
        if let Ok(iter) = rustls_pki_types::CertificateDer::pem_file_iter(bundle) {
            for c in iter.flatten() {
                let _ = roots.add(c);
            }
            break;
        }
    }
    let dir = cfg.certs_dir.join(host);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "crt") {
                let certs = rustls_pki_types::CertificateDer::pem_file_iter(&p)
                    .map_err(|e| EngineError::System(format!("{}: {e}", p.display())))?;
                for c in certs {
                    let c = c.map_err(|e| EngineError::System(format!("{}: {e}", p.display())))?;
                    roots
                        .add(c)
                        .map_err(|e| EngineError::System(format!("{}: {e}", p.display())))?;
                }
            }
        }
    }
    let b = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(EngineError::system)?;
    Ok(b.with_root_certificates(roots).with_no_client_auth())
}

fn unverified_config() -> Result<rustls::ClientConfig, EngineError> {
    let p = provider();
    let b = rustls::ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .map_err(EngineError::system)?;
    Ok(b.dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify(p)))
        .with_no_client_auth())
}

/// A response: status, headers and the body still to read.
pub struct Resp {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Incoming,
    pub url: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The whole body, refusing more than `limit` bytes.
    pub async fn bytes(self, limit: usize) -> Result<Vec<u8>, EngineError> {
        let mut body = self.body;
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| EngineError::System(format!("reading {}: {e}", self.url)))?;
            if let Ok(d) = frame.into_data() {
                if out.len() + d.len() > limit {
                    return Err(EngineError::InvalidParameter(format!(
                        "response from {} is larger than {limit} bytes",
                        self.url
                    )));
                }
                out.extend_from_slice(&d);
            }
        }
        Ok(out)
    }

    /// The registry's error (`{"errors":[{code,message}]}`) as dockerd
    /// words it: `manifest unknown: manifest unknown`; otherwise the status.
    pub async fn error_text(self) -> String {
        let status = self.status;
        let body = self.bytes(64 * 1024).await.unwrap_or_default();
        registry_error_text(status, &body)
    }
}

pub fn registry_error_text(status: StatusCode, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct E {
        code: String,
        #[serde(default)]
        message: String,
    }
    #[derive(serde::Deserialize)]
    struct Errs {
        errors: Vec<E>,
    }
    if let Ok(errs) = serde_json::from_slice::<Errs>(body) {
        if !errs.errors.is_empty() {
            let parts: Vec<String> = errs
                .errors
                .iter()
                .map(|e| {
                    let code = e.code.to_lowercase().replace('_', " ");
                    if e.message.is_empty() {
                        code
                    } else {
                        format!("{code}: {}", e.message)
                    }
                })
                .collect();
            return parts.join(", ");
        }
    }
    match status {
        StatusCode::UNAUTHORIZED => "unauthorized: authentication required".into(),
        StatusCode::FORBIDDEN => "denied: requested access to the resource is denied".into(),
        s => format!("unexpected status code {}", s.as_u16()),
    }
}

/// One header of a bearer/basic challenge, parsed (`Bearer realm="..",service=".."`).
fn parse_challenge(v: &str) -> Option<(String, HashMap<String, String>)> {
    let v = v.trim();
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((k, r)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().to_ascii_lowercase();
        let r = r.trim_start();
        let (val, r) = if let Some(r) = r.strip_prefix('"') {
            let end = r.find('"')?;
            (r[..end].to_string(), &r[end + 1..])
        } else {
            let end = r.find(',').unwrap_or(r.len());
            (r[..end].trim().to_string(), &r[end..])
        };
        params.insert(k, val);
        rest = r.trim_start().trim_start_matches(',').trim_start();
    }
    Some((scheme.to_ascii_lowercase(), params))
}

/// dockerd's wording of a failed connection: `dial tcp ADDR: connect: connection refused`.
fn dial_error(addr: &str, e: &io::Error) -> String {
    let what = match e.kind() {
        io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
        io::ErrorKind::TimedOut => "i/o timeout".to_string(),
        _ => format!("connect: {e}"),
    };
    format!("dial tcp {addr}: {what}")
}

enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Client {
    /// A client for `host` (`HOST[:PORT]`; docker.io is refused: no test
    /// may reach Docker Hub, and this engine has no mirror for it).
    pub fn new(cfg: &RegistryConfig, host: &str, creds: Credentials) -> Result<Self, EngineError> {
        let scheme = if is_insecure(cfg, host) {
            Scheme::Https { verify: false }
        } else {
            Scheme::Https { verify: true }
        };
        let tls_verified = match scheme {
            Scheme::Https { verify: true } => Some(Arc::new(verified_config(cfg, host)?)),
            _ => None,
        };
        Ok(Client {
            host: host.to_string(),
            scheme,
            tls_verified,
            tls_unverified: Arc::new(unverified_config()?),
            creds,
            auth: Mutex::new(AuthState::default()),
        })
    }

    fn base(&self) -> String {
        match self.scheme {
            Scheme::Http => format!("http://{}", self.host),
            Scheme::Https { .. } => format!("https://{}", self.host),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// Picks the scheme by pinging `/v2/`: an insecure registry is tried
    /// over TLS (unverified) first, then over plain HTTP. Returns the ping's
    /// response (its 401 challenge teaches the auth scheme).
    pub async fn ping(&mut self) -> Result<Resp, EngineError> {
        if self.scheme == (Scheme::Https { verify: false }) {
            match self
                .send_raw(Method::GET, "/v2/", &[], ReqBody::Empty)
                .await
            {
                Ok(r) => {
                    self.learn(&r);
                    return Ok(r);
                }
                Err(_) => self.scheme = Scheme::Http,
            }
        }
        let r = self
            .send_raw(Method::GET, "/v2/", &[], ReqBody::Empty)
            .await?;
        self.learn(&r);
        Ok(r)
    }

    /// dockerd's v1 endpoint check before a search of an insecure
    /// registry: `/v1/_ping` over TLS, then over plain HTTP; any answer
    /// will do. Both failing is dockerd's `invalid registry endpoint`.
    /// A secure registry is not checked here (its wording is unverified).
    pub async fn ping_v1(&self) -> Result<(), EngineError> {
        if self.scheme == (Scheme::Https { verify: true }) {
            return Ok(());
        }
        let mut errors = Vec::new();
        for scheme in ["https", "http"] {
            let url = format!("{scheme}://{}/v1/_ping", self.host);
            match self.send_url(Method::GET, &url, &[], ReqBody::Empty).await {
                Ok(_) => return Ok(()),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Err(EngineError::System(format!(
            "invalid registry endpoint \"http://{}/v1/\". HTTPS attempt: {}. HTTP attempt: {}",
            self.host,
            errors.first().map_or("", String::as_str),
            errors.get(1).map_or("", String::as_str)
        )))
    }

    /// Remembers the auth scheme a 401 announces.
    fn learn(&self, r: &Resp) {
        if r.status != StatusCode::UNAUTHORIZED {
            return;
        }
        let Some((scheme, params)) = r.header("www-authenticate").and_then(parse_challenge) else {
            return;
        };
        if let Ok(mut a) = self.auth.lock() {
            match scheme.as_str() {
                "basic" => a.basic = true,
                "bearer" => {
                    a.bearer = params.get("realm").map(|realm| Challenge {
                        realm: realm.clone(),
                        service: params.get("service").cloned().unwrap_or_default(),
                    })
                }
                _ => {}
            }
        }
    }

    fn basic_header(&self) -> Option<String> {
        if self.creds.username.is_empty() && self.creds.password.is_empty() {
            return None;
        }
        let raw = format!("{}:{}", self.creds.username, self.creds.password);
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
    }

    /// The Authorization header for `scope`, fetching a token if needed.
    async fn authorization(
        &self,
        scope: &str,
        method: &Method,
        url: &str,
    ) -> Result<Option<String>, EngineError> {
        let (basic, bearer, cached) = {
            let a = self
                .auth
                .lock()
                .map_err(|_| EngineError::System("auth lock poisoned".into()))?;
            (a.basic, a.bearer.clone(), a.tokens.get(scope).cloned())
        };
        if let Some(t) = cached {
            return Ok(Some(format!("Bearer {t}")));
        }
        if let Some(ch) = bearer {
            let token = self.fetch_token(&ch, scope, method, url).await?;
            if let Ok(mut a) = self.auth.lock() {
                a.tokens.insert(scope.to_string(), token.clone());
            }
            return Ok(Some(format!("Bearer {token}")));
        }
        if basic {
            return match self.basic_header() {
                Some(h) => Ok(Some(h)),
                None => Err(EngineError::System(format!(
                    "{} {url:?}: no basic auth credentials",
                    go_method(method),
                ))),
            };
        }
        Ok(None)
    }

    /// A token for `scope` from the challenge's realm; `method` and `for_url`
    /// are the request it is for: a refusal is worded as dockerd's, behind
    /// that request (`Get "https://H/v2/": unauthorized: ...`).
    async fn fetch_token(
        &self,
        ch: &Challenge,
        scope: &str,
        method: &Method,
        for_url: &str,
    ) -> Result<String, EngineError> {
        let query = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if !ch.service.is_empty() {
                q.append_pair("service", &ch.service);
            }
            if !scope.is_empty() {
                q.append_pair("scope", scope);
            }
            if !self.creds.username.is_empty() {
                q.append_pair("account", &self.creds.username);
            }
            q.finish()
        };
        let sep = if ch.realm.contains('?') { "&" } else { "?" };
        let url = format!("{}{sep}{query}", ch.realm);
        let mut headers = Vec::new();
        if let Some(b) = self.basic_header() {
            headers.push(("authorization".to_string(), b));
        }
        let r = self
            .send_url(Method::GET, &url, &headers, ReqBody::Empty)
            .await?;
        if r.status != StatusCode::OK {
            let status = r.status;
            let text = r.error_text().await;
            return Err(
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    EngineError::System(format!("{} {for_url:?}: {text}", go_method(method)))
                } else {
                    EngineError::System(format!("token request to {url} failed: {text}"))
                },
            );
        }
        #[derive(serde::Deserialize)]
        struct Tok {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let body = r.bytes(MAX_DOCUMENT).await?;
        let t: Tok = serde_json::from_slice(&body)
            .map_err(|e| EngineError::System(format!("decoding the token from {url}: {e}")))?;
        let token = if t.token.is_empty() {
            t.access_token
        } else {
            t.token
        };
        if token.is_empty() {
            return Err(EngineError::System(
                "authorization server did not include a token in the response".into(),
            ));
        }
        Ok(token)
    }

    /// A request under `scope` (`repository:NAME:pull`), authenticated as
    /// the registry asks; a 401 that teaches a new challenge is retried once.
    pub async fn send(
        &self,
        scope: &str,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: ReqBody,
    ) -> Result<Resp, EngineError> {
        let retry_body = match &body {
            ReqBody::Empty => Some(ReqBody::Empty),
            ReqBody::Full(b) => Some(ReqBody::Full(b.clone())),
            ReqBody::Stream(_) => None,
        };
        let mut h = headers.to_vec();
        if let Some(a) = self.authorization(scope, &method, &self.url(path)).await? {
            h.push(("authorization".into(), a));
        }
        let r = self.send_raw(method.clone(), path, &h, body).await?;
        if r.status == StatusCode::UNAUTHORIZED && !h.iter().any(|(k, _)| k == "authorization") {
            if let Some(b) = retry_body {
                self.learn(&r);
                let mut h = headers.to_vec();
                if let Some(a) = self.authorization(scope, &method, &self.url(path)).await? {
                    h.push(("authorization".into(), a));
                    return self.send_raw(method, path, &h, b).await;
                }
            }
        }
        Ok(r)
    }

    /// Like [`Self::send`], to an absolute URL of the registry (an upload
    /// location), with the authorization already learnt.
    pub async fn send_auth_url(
        &self,
        scope: &str,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: ReqBody,
    ) -> Result<Resp, EngineError> {
        let mut h = headers.to_vec();
        if let Some(a) = self.authorization(scope, &method, url).await? {
            h.push(("authorization".into(), a));
        }
        self.send_url(method, url, &h, body).await
    }

    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: ReqBody,
    ) -> Result<Resp, EngineError> {
        let url = self.url(path);
        self.send_url(method, &url, headers, body).await
    }

    /// Sends to an absolute URL (an upload location, a token realm).
    pub async fn send_url(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: ReqBody,
    ) -> Result<Resp, EngineError> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| EngineError::System(format!("parse {url:?}: {e}")))?;
        let tls = uri.scheme_str() == Some("https");
        let authority = uri
            .authority()
            .ok_or_else(|| EngineError::System(format!("no host in {url:?}")))?
            .clone();
        let addr = match authority.port_u16() {
            Some(_) => authority.as_str().to_string(),
            None => format!("{}:{}", authority.host(), if tls { 443 } else { 80 }),
        };
        let fail =
            |msg: String| EngineError::System(format!("{} {url:?}: {msg}", go_method(&method)));
        let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(fail(dial_error(&addr, &e))),
            Err(_) => return Err(fail(format!("dial tcp {addr}: i/o timeout"))),
        };
        let _ = tcp.set_nodelay(true);
        let io = if tls {
            let verified = self.scheme == (Scheme::Https { verify: true });
            let config = match (&self.tls_verified, verified) {
                (Some(c), true) => c.clone(),
                _ => self.tls_unverified.clone(),
            };
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let name = rustls_pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| fail(e.to_string()))?;
            let conn = tokio_rustls::TlsConnector::from(config);
            match tokio::time::timeout(CONNECT_TIMEOUT, conn.connect(name, tcp)).await {
                Ok(Ok(s)) => Io::Tls(Box::new(s)),
                Ok(Err(e)) => return Err(fail(tls_error_text(&e))),
                Err(_) => return Err(fail("net/http: TLS handshake timeout".into())),
            }
        } else {
            Io::Plain(tcp)
        };
        let path_q = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let mut req = hyper::Request::builder()
            .method(method.clone())
            .uri(path_q)
            .header("host", authority.as_str())
            .header(
                "user-agent",
                concat!("shipshape-engine/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let body = match body {
            ReqBody::Empty => OutBody(ReqBodyInner::Full(None)),
            ReqBody::Full(b) => {
                req = req.header("content-length", b.len().to_string());
                OutBody(ReqBodyInner::Full(Some(b)))
            }
            ReqBody::Stream(rx) => OutBody(ReqBodyInner::Stream(rx)),
        };
        if matches!(body.0, ReqBodyInner::Full(None))
            && (method == Method::PUT || method == Method::POST || method == Method::PATCH)
        {
            req = req.header("content-length", "0");
        }
        let req = req.body(body).map_err(|e| fail(e.to_string()))?;
        let resp = match io {
            Io::Plain(s) => roundtrip(TokioIo::new(s), req).await,
            Io::Tls(s) => roundtrip(TokioIo::new(*s), req).await,
        }
        .map_err(|e| fail(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        Ok(Resp {
            status: parts.status,
            headers: parts.headers,
            body,
            url: url.to_string(),
        })
    }
}

async fn roundtrip<T>(
    io: T,
    req: hyper::Request<OutBody>,
) -> Result<hyper::Response<Incoming>, hyper::Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await
}

/// dockerd's (Go's) wording of a TLS failure.
fn tls_error_text(e: &io::Error) -> String {
    let s = e.to_string();
    if s.contains("UnknownIssuer") {
        "x509: certificate signed by unknown authority".into()
    } else if s.contains("NotValidForName") {
        "x509: certificate is not valid for this name".into()
    } else if s.contains("Expired") {
        "x509: certificate has expired or is not yet valid".into()
    } else if s.contains("InvalidContentType") || s.contains("corrupt message") {
        "http: server gave HTTP response to HTTPS client".into()
    } else {
        format!("remote error: tls: {s}")
    }
}

/// Go's spelling of a method in `net/url` errors (`Get`, `Head`, ...).
pub fn go_method(m: &Method) -> String {
    let s = m.as_str();
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        out.push(if i == 0 { c } else { c.to_ascii_lowercase() });
    }
    out
}

/// Parses a WWW-Authenticate header (for /auth's login check).
pub fn challenge_scheme(headers: &hyper::HeaderMap) -> Option<String> {
    headers
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_challenge)
        .map(|(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a:pull""#,
        )
        .expect("parses");
        assert_eq!(s, "bearer");
        assert_eq!(p["realm"], "http://127.0.0.1:1/token");
        assert_eq!(p["service"], "reg");
        assert_eq!(p["scope"], "repository:a:pull");
        let (s, p) = parse_challenge(r#"Basic realm="basic-realm""#).expect("parses");
        assert_eq!(s, "basic");
        assert_eq!(p["realm"], "basic-realm");
    }

    #[test]
    fn loopback_and_listed_hosts_are_insecure() {
        let cfg = RegistryConfig {
            insecure_registries: vec!["myreg:5000".into(), "10.1.0.0/16".into()],
            ..RegistryConfig::default()
        };
        assert!(is_insecure(&cfg, "127.0.0.1:5000"));
        assert!(is_insecure(&cfg, "127.3.2.1"));
        assert!(is_insecure(&cfg, "localhost:5000"));
        assert!(is_insecure(&cfg, "myreg:5000"));
        assert!(is_insecure(&cfg, "10.1.3.4:443"));
        assert!(!is_insecure(&cfg, "10.2.3.4:443"));
        assert!(!is_insecure(&cfg, "registry.example.com"));
        assert!(!is_insecure(&cfg, "myreg:5001"));
    }

    #[test]
    fn registry_errors_are_worded_as_dockerd() {
        let body =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(
            registry_error_text(StatusCode::NOT_FOUND, body),
            "manifest unknown: manifest unknown"
        );
        assert_eq!(
            registry_error_text(StatusCode::UNAUTHORIZED, b""),
            "unauthorized: authentication required"
        );
    }
}
