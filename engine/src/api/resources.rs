//! Containers' resources over HTTP: pause, unpause, stats and update.
//! The rules live in `daemon::containers::{cgroups, stats, restart}`; this module only
//! speaks HTTP.

use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use shipshape_runtime::cgroups::Resources;

use crate::api::body::request::read_json_body;
use crate::api::{body, json, no_content, Ctx, Request, Response};
use crate::daemon::containers::record::{HostConfig, RestartPolicy};
use crate::daemon::containers::{blkio, cgroups, restart, stats};
use crate::daemon::Container;
use crate::errdefs::EngineError;
use crate::version::ApiVersion;

/// How often a stats stream reports, as dockerd's collector.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// `POST /containers/{id}/pause`.
pub async fn pause(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    cgroups::pause(&c).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/unpause`.
pub async fn unpause(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    cgroups::unpause(&c).await?;
    Ok(no_content())
}

async fn sample(c: &std::sync::Arc<Container>) -> Option<stats::Sample> {
    let c = c.clone();
    tokio::task::spawn_blocking(move || stats::sample(&c))
        .await
        .ok()
        .flatten()
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

/// `GET /containers/{id}/stats`: `stream` (default true) sends one object
/// per second; otherwise one object, with `precpu_stats` a second earlier
/// unless `one-shot` is set (then precpu is empty, as dockerd's).
pub async fn stats(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    let stream = ctx.query.get("stream").is_none() || ctx.query.flag("stream");
    let one_shot = ctx.query.flag("one-shot");
    let (name, id) = (c.name(), c.id.clone());
    if !stream {
        let Some(first) = sample(&c).await else {
            return Ok(json(&stats::not_running(&name, &id)));
        };
        if one_shot {
            return Ok(json(&stats::render(&name, &id, &first, None)));
        }
        tokio::time::sleep(STATS_INTERVAL).await;
        let v = match sample(&c).await {
            Some(second) => stats::render(&name, &id, &second, Some(&first)),
            None => stats::render(&name, &id, &first, None),
        };
        return Ok(json(&v));
    }
    let (tx, resp) = body::channel(StatusCode::OK, "application/json");
    tokio::spawn(async move {
        let mut prev: Option<stats::Sample> = None;
        // Like dockerd: nothing is sent while the container is not running;
        // the stream ends when the client goes away or the container is removed.
        while !c.progress.borrow().removed && !tx.is_closed() {
            let cur = sample(&c).await;
            if let Some(cur) = &cur {
                let v = stats::render(&c.name(), &c.id, cur, prev.as_ref());
                if tx.send(line(&v)).await.is_err() {
                    break;
                }
            }
            prev = cur;
            tokio::time::sleep(STATS_INTERVAL).await;
        }
    });
    Ok(resp)
}

/// The body of `POST /containers/{id}/update` (Docker's UpdateConfig: the
/// Resources plus RestartPolicy). Zero means "leave alone", as dockerd reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct UpdateRequest {
    memory: i64,
    memory_swap: i64,
    memory_reservation: i64,
    pids_limit: Option<i64>,
    cpu_shares: i64,
    cpu_quota: i64,
    cpu_period: i64,
    nano_cpus: i64,
    blkio_weight: u16,
    restart_policy: Option<RestartPolicy>,
}

impl UpdateRequest {
    /// The settings `cgroups::validate` checks, alone (the rest left unset).
    pub(crate) fn as_host_config(&self) -> HostConfig {
        HostConfig {
            memory: self.memory,
            memory_swap: self.memory_swap,
            memory_reservation: self.memory_reservation,
            cpu_quota: self.cpu_quota,
            cpu_period: self.cpu_period,
            nano_cpus: self.nano_cpus,
            blkio_weight: self.blkio_weight,
            ..Default::default()
        }
    }
}

/// `POST /containers/{id}/update`: new limits go into the record and, while
/// it runs, into the container's cgroup at once.
pub async fn update(ctx: &Ctx, key: &str, req: Request) -> Result<Response, EngineError> {
    let bytes = read_json_body(req).await?;
    // dockerd 20.10 decodes the body before it looks the container up, and
    // answers 500 to one it cannot decode.
    let u: UpdateRequest = crate::api::body::json::decode_or_default(&bytes)
        .map_err(crate::api::body::json::JsonBodyError::internal)?;
    let c = ctx.daemon.container(key)?;
    // dockerd checks the request on its own first (plain 400s)...
    cgroups::validate(&u.as_host_config())?;
    let policy = u.restart_policy.filter(|p| !p.name.is_empty());
    if let Some(p) = &policy {
        restart::validate(p)?;
    }
    // ...then against the container ("Cannot update container ...").
    let cannot = |e: EngineError| match e {
        EngineError::Conflict(m) => {
            EngineError::Conflict(format!("Cannot update container {}: {m}", c.id))
        }
        EngineError::InvalidParameter(m) => {
            EngineError::InvalidParameter(format!("Cannot update container {}: {m}", c.id))
        }
        other => EngineError::System(format!("Cannot update container {}: {other}", c.id)),
    };
    let _op = c.op_lock.lock().await;
    let rec = c.snapshot();
    let mut hc = rec.host_config.clone();
    let mut raw = rec.host_config_raw.clone();
    if !raw.is_object() {
        raw = json!({});
    }
    let mut set = |field: &str, v: Value| {
        if let Some(o) = raw.as_object_mut() {
            o.insert(field.to_string(), v);
        }
    };
    let mut res = Resources::default();
    if u.memory != 0 {
        if u.memory > hc.memory_swap && u.memory_swap == 0 {
            return Err(cannot(EngineError::Conflict(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time".into(),
            )));
        }
        hc.memory = u.memory;
        set("Memory", json!(u.memory));
        res.memory = Some(u.memory);
    }
    if u.memory_swap != 0 {
        hc.memory_swap = u.memory_swap;
        set("MemorySwap", json!(u.memory_swap));
    }
    if u.memory != 0 || u.memory_swap != 0 {
        res.memory_swap = Some(if hc.memory_swap < 0 {
            -1
        } else {
            hc.memory_swap
        });
    }
    if u.memory_reservation != 0 {
        hc.memory_reservation = u.memory_reservation;
        set("MemoryReservation", json!(u.memory_reservation));
        res.memory_reservation = Some(u.memory_reservation);
    }
    // Clients before API 1.25 cannot update PidsLimit: dockerd drops the
    // field. Zero or less lifts the limit, and inspect then shows 0
    // (dockerd 20.10.24 for -2, -1 and 0).
    let pids_limit = u.pids_limit.filter(|_| ctx.version >= ApiVersion(1, 25));
    if let Some(p) = pids_limit {
        let p = p.max(0);
        hc.pids_limit = Some(p);
        set("PidsLimit", json!(p));
        res.pids = Some(if p > 0 { p } else { -1 });
    }
    if u.cpu_shares != 0 {
        hc.cpu_shares = u.cpu_shares;
        set("CpuShares", json!(u.cpu_shares));
        res.cpu_shares = Some(u.cpu_shares.max(2) as u64);
    }
    if u.nano_cpus != 0 {
        hc.nano_cpus = u.nano_cpus;
        set("NanoCpus", json!(u.nano_cpus));
        res.cpu_period = Some(100_000);
        res.cpu_quota = Some(u.nano_cpus * 100_000 / 1_000_000_000);
    }
    if u.cpu_period != 0 {
        hc.cpu_period = u.cpu_period;
        set("CpuPeriod", json!(u.cpu_period));
        res.cpu_period = Some(u.cpu_period as u64);
    }
    if u.cpu_quota != 0 {
        hc.cpu_quota = u.cpu_quota;
        set("CpuQuota", json!(u.cpu_quota));
        res.cpu_quota = Some(u.cpu_quota);
    }
    // A weight the host cannot apply is discarded with dockerd's warning
    // (the update still succeeds); one it can goes to the cgroup.
    let mut warnings = Vec::new();
    if u.blkio_weight != 0 {
        if let Some(w) = blkio::weight_for_update(u.blkio_weight, &mut warnings) {
            hc.blkio_weight = w;
            set("BlkioWeight", json!(w));
            res.blkio.weight = Some(w);
        }
    }
    if let Some(p) = policy {
        if hc.auto_remove && p.name != "no" {
            return Err(cannot(EngineError::Conflict(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
                    .into(),
            )));
        }
        set(
            "RestartPolicy",
            json!({"Name": p.name, "MaximumRetryCount": p.maximum_retry_count}),
        );
        hc.restart_policy = Some(p);
    }
    // The combination must still make sense (e.g. memory above the swap).
    cgroups::validate(&hc).map_err(cannot)?;

    if c.is_running() && res != Resources::default() {
        let cg = cgroups::cgroup(&c.id);
        if cg.exists() {
            tokio::task::spawn_blocking(move || cg.apply(&res))
                .await
                .map_err(EngineError::system)?
                .map_err(|e| cannot(EngineError::System(e.to_string())))?;
        }
    }
    {
        let mut r = c.record();
        r.host_config = hc;
        r.host_config_raw = raw;
    }
    c.save().map_err(EngineError::from)?;
    // dockerd 1.41 answers null when there is nothing to warn about.
    if warnings.is_empty() {
        return Ok(json(&json!({ "Warnings": null })));
    }
    Ok(json(&json!({ "Warnings": warnings })))
}
