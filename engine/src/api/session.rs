//! `POST /session`: the connection a BuildKit client (`docker buildx`,
//! `DOCKER_BUILDKIT=1 docker build`) lends the daemon for its session
//! services. dockerd upgrades it to `h2c` and speaks HTTP/2 over it as the
//! *client*, calling the file-sync and auth services the client serves.
//! The engine's classic builder needs none of them, so it does what dockerd
//! does at the HTTP level (the upgrade, the HTTP/2 connection preface with
//! an empty SETTINGS frame) and then only holds the connection until the
//! client closes it: it never calls a session service (specs/engine/endpoints.json).

use hyper::header::{HeaderMap, UPGRADE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::containers::attach::switch_protocols;
use super::{body::request::drain, Request, Response};
use crate::errdefs::EngineError;

/// The HTTP/2 client connection preface (RFC 9113, section 3.4), then a
/// SETTINGS frame with no settings (length 0, type 4, no flags, stream 0).
const H2_CLIENT_PREFACE: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// `POST /session`.
pub async fn session(mut req: Request) -> Result<Response, EngineError> {
    let proto = upgrade_protocol(req.headers());
    match proto.as_deref() {
        Some("h2c") => {}
        Some(p) => {
            let msg = format!("protocol {p} not supported");
            drain(req).await;
            return Err(EngineError::InvalidParameter(msg));
        }
        None => {
            drain(req).await;
            return Err(EngineError::InvalidParameter(
                "no upgrade proto in request".into(),
            ));
        }
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    Ok(switch_protocols(on_upgrade, "h2c", |mut io| async move {
        if io.write_all(H2_CLIENT_PREFACE).await.is_err() {
            return;
        }
        // Hold the connection, reading and dropping what the client sends,
        // until it closes it (or it breaks).
        let mut buf = [0u8; 4096];
        while matches!(io.read(&mut buf).await, Ok(n) if n > 0) {}
    }))
}

/// The protocol asked for: the `Upgrade` header as sent, as dockerd reads
/// it (`Connection` is not consulted, case matters); `None` without one.
fn upgrade_protocol(h: &HeaderMap) -> Option<String> {
    h.get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}
