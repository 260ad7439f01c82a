//! One HTTP/1.1 round trip over hyper on a fresh connection, and the
//! header and error renderings the transcript shows.

use super::target::{connect, Target};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

pub(crate) enum RoundtripError {
    Connect(std::io::Error),
    Http(String),
}

pub(super) type Parts = (u16, Vec<(String, String)>, Bytes);

pub(super) fn header_list(h: &hyper::HeaderMap) -> Vec<(String, String)> {
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
pub(super) fn display_name(name: &str) -> String {
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

pub(super) fn display_headers(h: &hyper::HeaderMap) -> Vec<(String, String)> {
    header_list(h)
        .into_iter()
        .map(|(k, v)| (display_name(&k), v))
        .collect()
}

/// An error with its causes: hyper's own message is often just
/// "connection error", and the cause (e.g. "Connection reset by peer") is
/// what tells a user what the endpoint did.
pub(super) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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

/// A failure after connecting, as `what: cause`; a transport problem
/// (under TLS 1.3 a server's refusal of the client certificate only shows
/// at the first read) becomes the connect error it really is.
pub(super) fn http_error(
    target: &Target,
    what: &str,
    e: &(dyn std::error::Error + 'static),
) -> RoundtripError {
    match target.explain(e) {
        Some(m) => RoundtripError::Connect(std::io::Error::other(m)),
        None => RoundtripError::Http(format!("{what}: {}", error_chain(e))),
    }
}

/// Runs a connection's task, keeping its error: under TLS 1.3 a server's
/// refusal of our client certificate ends the connection there, and the
/// request only learns that it was "not ready".
pub(super) fn watch<F>(conn: F) -> tokio::sync::oneshot::Receiver<hyper::Error>
where
    F: std::future::Future<Output = Result<(), hyper::Error>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            let _ = tx.send(e);
        }
    });
    rx
}

/// [`http_error`], preferring the explanation the connection's own error
/// gives (TLS targets only: others have nothing to add).
pub(super) async fn request_failure(
    target: &Target,
    what: &str,
    e: &hyper::Error,
    conn: Option<tokio::sync::oneshot::Receiver<hyper::Error>>,
) -> RoundtripError {
    if let (Target::Tls(..), Some(rx)) = (target, conn) {
        let waited = tokio::time::timeout(std::time::Duration::from_millis(500), rx).await;
        if let Ok(Ok(ce)) = waited {
            if let Some(m) = target.explain(&ce) {
                return RoundtripError::Connect(std::io::Error::other(m));
            }
        }
    }
    http_error(target, what, e)
}

pub(super) async fn roundtrip(
    target: &Target,
    req: Request<Full<Bytes>>,
) -> Result<Parts, RoundtripError> {
    let pooled = match target.pool() {
        Some(p) => p.take().await,
        None => None,
    };
    let (mut sender, conn) = match pooled {
        Some(s) => (s, None),
        None => {
            let io = TokioIo::new(connect(target).await?);
            let (sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| http_error(target, "HTTP handshake failed", &e))?;
            (sender, Some(watch(conn)))
        }
    };
    let res = match sender.send_request(req).await {
        Ok(r) => r,
        Err(e) => return Err(request_failure(target, "no valid HTTP response", &e, conn).await),
    };
    let status = res.status().as_u16();
    let headers = display_headers(res.headers());
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| http_error(target, "reading the response body failed", &e))?
        .to_bytes();
    if let Some(p) = target.pool() {
        p.give_back(sender);
    }
    Ok((status, headers, body))
}
