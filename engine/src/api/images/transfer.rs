//! Images in and out over HTTP: `POST /images/load`, `GET /images/get`
//! (save) and `POST /images/create` (import of an uploaded tar, or a pull,
//! which fails as dockerd's does when no registry is reachable).

use std::io::Write;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::json;
use tokio::sync::mpsc;

use crate::api::body::request::{drain, spool};
use crate::api::body::stream::json_line;
use crate::api::{body, Ctx, Request, Response};
use crate::daemon::images::{dockerfile, import};
use crate::errdefs::EngineError;

pub async fn load(ctx: &Ctx, req: Request) -> Result<Response, EngineError> {
    // Spool the upload to disk first: bounded memory, and the store wants a
    // plain reader it can drive from a blocking thread.
    let spooled = spool(ctx.daemon.tmp_dir(), req).await?;
    // dockerd answers 200 at once and reports failures inside the stream.
    let (tx, resp) = body::channel(StatusCode::OK, "application/json");
    let daemon = ctx.daemon.clone();
    tokio::task::spawn_blocking(move || {
        let result = daemon.load_images(spooled.path(), &mut |line| {
            let _ = tx.blocking_send(json_line(&json!({ "stream": format!("{line}\n") })));
        });
        // The upload is deleted however the load ends.
        drop(spooled);
        if let Err(e) = result {
            tracing::info!(error = %e, "image load failed");
            let msg = e.to_string();
            let _ = tx.blocking_send(json_line(
                &json!({"errorDetail": {"message": msg}, "error": msg}),
            ));
        }
    });
    Ok(resp)
}

/// Feeds a blocking writer into a streamed response in 64 KiB chunks.
struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

pub async fn save(ctx: &Ctx, names: Vec<String>) -> Result<Response, EngineError> {
    // Resolve first, so a bad name is a proper error status, not a broken tar.
    let plan = ctx.daemon.plan_save(&names)?;
    let (tx, resp) = body::channel(StatusCode::OK, "application/x-tar");
    let daemon = ctx.daemon.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        // Once streaming has started there is no status left to change; a
        // failure truncates the tar, which `docker load` then rejects.
        if let Err(e) = daemon.write_save(&plan, &mut w) {
            tracing::warn!(error = %e, "image save failed mid-stream");
        }
    });
    Ok(resp)
}

/// `POST /images/create`: `fromSrc=-` imports the request body; `fromImage`
/// pulls, which fails the way dockerd fails without a reachable registry.
pub async fn create(ctx: &Ctx, req: Request) -> Result<Response, EngineError> {
    let q = &ctx.query;
    if let Some(image) = q.get("fromImage").filter(|s| !s.is_empty()) {
        let image = image.to_string();
        return crate::api::distribution::pull(ctx, req, &image).await;
    }
    let Some(src) = q.get("fromSrc").filter(|s| !s.is_empty()) else {
        return Err(EngineError::InvalidParameter("no image specified".into()));
    };
    if src != "-" {
        return Err(EngineError::NotImplemented(
            "importing from a URL is not supported by this engine; upload the tar (fromSrc=-)"
                .into(),
        ));
    }
    // Check everything that can be refused before storing the upload.
    let checked = (|| -> Result<_, EngineError> {
        // dockerd 20.10.24 parses `platform` first: `bogus` is 400.
        if let Some(p) = q.get("platform").filter(|p| !p.is_empty()) {
            crate::daemon::platform::parse(p)?;
        }
        let changes = dockerfile::parse_changes(&q.all("changes"))?;
        let mut tags = Vec::new();
        if let Some(repo) = q.get("repo").filter(|r| !r.is_empty()) {
            tags.push(import::tag_for(repo, q.get("tag"))?);
        }
        Ok((changes, tags))
    })();
    let (changes, tags) = match checked {
        Ok(v) => v,
        Err(e) => {
            drain(req).await;
            return Err(e);
        }
    };
    let spooled = spool(ctx.daemon.tmp_dir(), req).await?;
    let opts = import::ImportOptions {
        tags,
        message: q.get("message").unwrap_or("").to_string(),
        changes,
    };
    let d = ctx.daemon.clone();
    let id = tokio::task::spawn_blocking(move || {
        let r = import::import(&d, spooled.path(), opts);
        drop(spooled);
        r
    })
    .await
    .map_err(EngineError::system)??;
    // dockerd writes nothing until the import is done, so every failure
    // above is a plain error status; success is one status line.
    let (tx, resp) = body::channel(StatusCode::OK, "application/json");
    let _ = tx.send(json_line(&json!({ "status": id }))).await;
    Ok(resp)
}
