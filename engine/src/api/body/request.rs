//! Reading request bodies: JSON with dockerd's content-type rule and a size
//! bound, draining a body the handler does not want, spooling an upload to
//! disk, and telling a connection-upgrade request apart.

use std::io::Write;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::HeaderMap;
use tokio::sync::mpsc;

use super::Request;
use crate::errdefs::EngineError;

/// Largest JSON body we accept. Docker's configs are a few KiB, but dockerd
/// has no limit at all and takes a 50 MB create (huge labels), so the bound
/// is generous: it only keeps one request from taking unbounded memory.
const MAX_JSON_BODY: usize = 64 << 20;

/// Reads a JSON body as dockerd does: the Content-Type must be JSON when a
/// body is present; an empty body is "{}".
pub async fn read_json_body(req: Request) -> Result<Bytes, EngineError> {
    check_json_content_type(req.headers())?;
    let limited = http_body_util::Limited::new(req.into_body(), MAX_JSON_BODY);
    let bytes = limited
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                EngineError::InvalidParameter(format!(
                    "request body too large: this engine accepts at most {} MiB of JSON",
                    MAX_JSON_BODY >> 20
                ))
            } else {
                EngineError::InvalidParameter(format!("reading request body: {e}"))
            }
        })?
        .to_bytes();
    Ok(bytes)
}

pub fn check_json_content_type(h: &HeaderMap) -> Result<(), EngineError> {
    let Some(ct) = h.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = ct.to_str().unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") || media.is_empty() {
        Ok(())
    } else {
        Err(EngineError::InvalidParameter(format!(
            "Content-Type specified ({ct}) must be 'application/json'"
        )))
    }
}

/// Whether the client asks to take the connection over (`Connection:
/// Upgrade`, `Upgrade: tcp`), as the docker CLI does for attach and exec.
pub fn wants_upgrade(h: &HeaderMap) -> bool {
    let has = |name, needle: &str| {
        h.get_all(name).iter().any(|v| {
            v.to_str()
                .unwrap_or("")
                .to_ascii_lowercase()
                .contains(needle)
        })
    };
    has(CONNECTION, "upgrade") && has(UPGRADE, "tcp")
}

/// Reads and drops a request body the handler does not use. Two reasons:
/// a refusal then reaches a client that is still sending (closing early
/// would break its pipe and hide the message); and, before a response that
/// stays open for long (events, logs and stats streams, wait), hyper does
/// not read the connection while a body sits unread, so a client that hangs
/// up would go unnoticed until the next write: for a quiet event stream
/// that may be never, and each such request pins a connection and its task
/// (found by tests/e2e/fuzz_api.rs). Frames are dropped as they come, so an
/// endless body costs no memory; a client that declares a body and never
/// sends it waits for its answer until it hangs up.
pub async fn drain(req: Request) {
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
}

/// Writes the request body to a temp file under `dir` (deleted when the
/// returned handle drops), through a blocking writer fed by a small channel,
/// so a slow disk never stalls the runtime and memory stays bounded. The
/// file is scratch, not synced: the store syncs what it keeps of it.
pub async fn spool(
    dir: std::path::PathBuf,
    req: Request,
) -> Result<tempfile::NamedTempFile, EngineError> {
    let file = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        tempfile::NamedTempFile::new_in(&dir)
    })
    .await
    .map_err(EngineError::system)??;
    let (tx, mut rx) = mpsc::channel::<Bytes>(16);
    let handle = file.reopen()?;
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(handle);
        while let Some(chunk) = rx.blocking_recv() {
            w.write_all(&chunk)?;
        }
        w.flush()
    });
    let mut body = req.into_body();
    let mut upload_err = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    if tx.send(data).await.is_err() {
                        break; // the writer failed; its error is reported below
                    }
                }
            }
            Err(e) => {
                upload_err = Some(EngineError::InvalidParameter(format!(
                    "reading upload: {e}"
                )));
                break;
            }
        }
    }
    drop(tx);
    writer.await.map_err(EngineError::system)??;
    if let Some(e) = upload_err {
        return Err(e);
    }
    Ok(file)
}
