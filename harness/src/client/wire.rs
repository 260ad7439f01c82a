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

pub(super) async fn roundtrip(
    target: &Target,
    req: Request<Full<Bytes>>,
) -> Result<Parts, RoundtripError> {
    let io = TokioIo::new(connect(target).await?);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| http_error(target, "HTTP handshake failed", &e))?;
    tokio::spawn(async move {
        // Errors surface through send_request / the body; nothing to do here.
        let _ = conn.await;
    });
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| http_error(target, "no valid HTTP response", &e))?;
    let status = res.status().as_u16();
    let headers = display_headers(res.headers());
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| http_error(target, "reading the response body failed", &e))?
        .to_bytes();
    Ok((status, headers, body))
}
