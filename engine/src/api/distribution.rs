//! Registry routes: pull (through `POST /images/create?fromImage=`),
//! `POST /images/{name}/push`, `POST /auth`, `GET /distribution/{name}/json`
//! and `GET /images/search`. The work is the daemon's
//! (`daemon::distribution`); here are the HTTP shapes: as dockerd, a
//! transfer answers its error as a status while nothing was streamed, and
//! as a last `errorDetail` line once progress has started.

use std::future::Future;

use hyper::StatusCode;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::body::stream::json_line;
use super::{body, json, Ctx, Request, Response};
use crate::daemon::distribution::{auth, info, progress::Progress, pull, push, Credentials};
use crate::errdefs::EngineError;

fn registry_auth(req: &Request) -> Credentials {
    auth::decode_header(
        req.headers()
            .get("x-registry-auth")
            .and_then(|v| v.to_str().ok()),
    )
}

/// Runs a transfer: its error is the status until its first progress
/// message, then streamed messages and a final error line.
async fn stream_transfer<F>(
    mut rx: mpsc::UnboundedReceiver<Value>,
    work: F,
) -> Result<Response, EngineError>
where
    F: Future<Output = Result<(), EngineError>> + Send + 'static,
{
    let mut handle = tokio::spawn(work);
    // A message already sent wins; else whichever comes first. `None`
    // means the work ended (its progress sender dropped) without one.
    let mut done: Option<Result<(), EngineError>> = None;
    let first = tokio::select! {
        biased;
        m = rx.recv() => m,
        r = &mut handle => {
            done = Some(r.unwrap_or_else(|e| Err(EngineError::system(e))));
            rx.recv().await
        }
    };
    if first.is_none() {
        let r = match done.take() {
            Some(r) => r,
            None => (&mut handle)
                .await
                .unwrap_or_else(|e| Err(EngineError::system(e))),
        };
        r?;
        return Ok(body::channel(StatusCode::OK, "application/json").1);
    }
    let (tx, resp) = body::channel(StatusCode::OK, "application/json");
    tokio::spawn(async move {
        if let Some(m) = first {
            let _ = tx.send(json_line(&m)).await;
        }
        while let Some(m) = rx.recv().await {
            if tx.send(json_line(&m)).await.is_err() {
                break;
            }
        }
        let result = match done {
            Some(r) => r,
            None => handle.await.unwrap_or_else(|e| Err(EngineError::system(e))),
        };
        if let Err(e) = result {
            tracing::info!(error = %e, "registry transfer failed");
            let msg = e.to_string();
            let _ = tx
                .send(json_line(
                    &json!({"errorDetail": {"message": msg}, "error": msg}),
                ))
                .await;
        }
    });
    Ok(resp)
}

/// `POST /images/create?fromImage=NAME&tag=TAG&platform=P`.
pub async fn pull(ctx: &Ctx, req: Request, image: &str) -> Result<Response, EngineError> {
    let creds = registry_auth(&req);
    super::body::request::drain(req).await;
    let tag = ctx.query.get("tag").unwrap_or("");
    let reference = crate::daemon::distribution::pull_reference(image, tag)?;
    // dockerd checks the platform before it contacts any registry.
    pull::wanted_platform(ctx.query.get("platform"))?;
    if reference.domain == "docker.io" {
        // Docker Hub is never contacted: fail as dockerd does offline.
        return Err(crate::daemon::images::pull::pull_error(image, tag).await);
    }
    let pr = pull::PullRequest {
        reference,
        platform: ctx.query.get("platform").map(str::to_string),
        creds,
    };
    let (progress, rx) = Progress::new();
    let daemon = ctx.daemon.clone();
    stream_transfer(rx, async move {
        let cfg = daemon.config.registry.clone();
        // The progress sender lives in this task only: when it ends, so does the stream.
        pull::pull(daemon, &cfg, pr, &progress).await.map(|_| ())
    })
    .await
}

/// `POST /images/{name}/push?tag=TAG`.
pub async fn push_image(ctx: &Ctx, req: Request, name: &str) -> Result<Response, EngineError> {
    let Some(header) = req
        .headers()
        .get("x-registry-auth")
        .and_then(|v| v.to_str().ok())
    else {
        return Err(EngineError::InvalidParameter(
            "Bad parameters and missing X-Registry-Auth: EOF".into(),
        ));
    };
    let creds = auth::decode_header(Some(header));
    super::body::request::drain(req).await;
    let tag = ctx.query.get("tag").unwrap_or("").to_string();
    let (progress, rx) = Progress::new();
    let daemon = ctx.daemon.clone();
    let name = name.to_string();
    stream_transfer(rx, async move {
        let cfg = daemon.config.registry.clone();
        push::push(daemon, &cfg, &name, &tag, creds, &progress).await
    })
    .await
}

/// `POST /auth`.
pub async fn login(ctx: &Ctx, req: Request) -> Result<Response, EngineError> {
    // dockerd decodes the body whatever its Content-Type.
    let body =
        http_body_util::BodyExt::collect(http_body_util::Limited::new(req.into_body(), 1 << 20))
            .await
            .map_err(|e| EngineError::InvalidParameter(e.to_string()))?
            .to_bytes();
    let creds: Credentials = serde_json::from_slice(&body)
        .map_err(|e| EngineError::InvalidParameter(format!("invalid JSON: {e}")))?;
    let token = auth::login(&ctx.daemon.config.registry, creds).await?;
    Ok(json(
        &json!({"IdentityToken": token, "Status": "Login Succeeded"}),
    ))
}

/// `GET /distribution/{name}/json`.
pub async fn inspect(ctx: &Ctx, req: Request, name: &str) -> Result<Response, EngineError> {
    let creds = registry_auth(&req);
    Ok(json(
        &info::inspect(&ctx.daemon.config.registry, name, creds).await?,
    ))
}

/// `GET /images/search?term=`.
pub async fn search(ctx: &Ctx, req: Request) -> Result<Response, EngineError> {
    let creds = registry_auth(&req);
    let term = ctx.query.get("term").unwrap_or("").to_string();
    // dockerd 20.10.24 reads `limit` (500 strconv.Atoi) and the filters
    // (400 "Invalid filter ...") before it contacts the registry.
    let limit = ctx.query.int_uncategorised("limit")?;
    let f = crate::filters::parse(
        ctx.query.get("filters"),
        &["is-automated", "is-official", "stars"],
    )?;
    let filter = info::SearchFilter::new(&f)?;
    Ok(json(
        &info::search(&ctx.daemon.config.registry, &term, limit, &filter, creds).await?,
    ))
}
