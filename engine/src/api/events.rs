//! `GET /events`: past events from the bus's ring (`since`/`until`), then the
//! live feed until `until` passes or the client goes away. Headers go out
//! before the first event, as the docker CLI expects.

use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use tokio::sync::broadcast::error::RecvError;

use super::{body, Ctx, Response};
use crate::daemon::events::{self, Event};
use crate::errdefs::EngineError;
use crate::filters::{self, time::parse_timestamp};

fn line(e: &Event) -> Bytes {
    let mut v = serde_json::to_vec(&e.to_json()).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

pub async fn events(ctx: &Ctx) -> Result<Response, EngineError> {
    let since_raw = ctx.query.get("since").unwrap_or("");
    let until_raw = ctx.query.get("until").unwrap_or("");
    let since = parse_timestamp(since_raw)?;
    let until = parse_timestamp(until_raw)?;
    if let (Some(u), s) = (until, since) {
        if u < s.unwrap_or(0) {
            return Err(EngineError::InvalidParameter(format!(
                "`since` time ({since_raw}) cannot be after `until` time ({until_raw})"
            )));
        }
    }
    // dockerd accepts any filter key here (unknown ones match nothing
    // special); the shared parser is told the keys present are allowed.
    let raw = ctx.query.get("filters");
    let keys: Vec<String> = raw
        .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
        .unwrap_or_default();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let f = filters::parse(raw, &key_refs)?;

    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let (past, mut rx) = events::bus().subscribe(since, until);
    let (tx, resp) = body::channel(StatusCode::OK, "application/json");
    tokio::spawn(async move {
        for e in past.iter().filter(|e| events::matches(&f, e)) {
            if tx.send(line(e)).await.is_err() {
                return;
            }
        }
        // With `until` in the past there is nothing live to wait for.
        let deadline = match until {
            Some(u) if u <= now => return,
            Some(u) => tokio::time::Instant::now() + Duration::from_nanos((u - now) as u64),
            None => tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86_400),
        };
        loop {
            tokio::select! {
                got = rx.recv() => match got {
                    Ok(e) => {
                        if events::matches(&f, &e) && tx.send(line(&e)).await.is_err() {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "events subscriber fell behind");
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tx.closed() => return,
            }
        }
    });
    Ok(resp)
}
