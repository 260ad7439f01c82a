//! `GET /events`: past events from the bus's ring (`since`/`until`), then the
//! live feed until `until` passes or the client goes away. Headers go out
//! before the first event, as the docker CLI expects.

use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use tokio::sync::broadcast::error::RecvError;

use super::{body, filters, Ctx, Response};
use crate::daemon::events::{self, Event};
use crate::error::ApiError;

/// dockerd's `timetypes.ParseTimestamps`: "seconds[.fraction]", as the CLI
/// sends after converting durations and dates; "" means unset.
pub(crate) fn parse_time(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let (secs, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let s: i64 = secs.parse().map_err(|_| {
        ApiError::Internal(format!(
            "strconv.ParseInt: parsing {secs:?}: invalid syntax"
        ))
    })?;
    let nanos: i64 = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().take(9).collect();
        let n: i64 = digits.parse().map_err(|_| {
            ApiError::Internal(format!(
                "strconv.ParseInt: parsing {frac:?}: invalid syntax"
            ))
        })?;
        n * 10i64.pow(9 - digits.len() as u32)
    };
    Ok(Some(s.saturating_mul(1_000_000_000).saturating_add(nanos)))
}

fn line(e: &Event) -> Bytes {
    let mut v = serde_json::to_vec(&e.to_json()).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

pub async fn events(ctx: &Ctx) -> Result<Response, ApiError> {
    let since_raw = ctx.query.get("since").unwrap_or("");
    let until_raw = ctx.query.get("until").unwrap_or("");
    let since = parse_time(Some(since_raw))?;
    let until = parse_time(Some(until_raw))?;
    if let (Some(u), s) = (until, since) {
        if u < s.unwrap_or(0) {
            return Err(ApiError::BadRequest(format!(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_as_dockerd() {
        assert_eq!(parse_time(None).unwrap(), None);
        assert_eq!(parse_time(Some("")).unwrap(), None);
        assert_eq!(parse_time(Some("5")).unwrap(), Some(5_000_000_000));
        assert_eq!(parse_time(Some("5.5")).unwrap(), Some(5_500_000_000));
        assert_eq!(
            parse_time(Some("1.000000001")).unwrap(),
            Some(1_000_000_001)
        );
        let e = parse_time(Some("abc")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
    }
}
