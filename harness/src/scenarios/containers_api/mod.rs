//! The `containers-api/` area: container endpoints checked against what
//! dockerd 20.10.24 answers, one module per concept (list filters, ...).
//! Expected statuses and messages are written next to each check, with the
//! note that they are dockerd's answers.

mod archive;
mod archive_created;
mod archive_paths;
mod create_checks;
mod health;
mod inspect_defaults;
mod links;
mod list_filters;
mod logs;
mod old_clients;
mod ops;
mod params;
mod top;
mod volumes;

use super::Scenario;
use crate::client::{enc, Req, Response};
use crate::ground::{describe, fail_at, json_body, Ctx, Outcome, Problem};
use serde_json::Value;
use std::collections::BTreeSet;

pub fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.extend(list_filters::scenarios());
    v.extend(create_checks::scenarios());
    v.extend(volumes::scenarios());
    v.extend(top::scenarios());
    v.extend(ops::scenarios());
    v.extend(health::scenarios());
    v.extend(links::scenarios());
    v.extend(params::scenarios());
    v.extend(logs::scenarios());
    v.extend(archive::scenarios());
    v.extend(archive_created::scenarios());
    v.extend(archive_paths::scenarios());
    v.extend(old_clients::scenarios());
    v.extend(inspect_defaults::scenarios());
    v
}

/// Containers a scenario made, removed (with their anonymous volumes) when
/// it ends however it ends, then the volumes it made.
pub(crate) struct Made<'c, 'a> {
    ctx: &'c Ctx<'a>,
    pub ids: Vec<String>,
    pub volumes: Vec<String>,
}

impl<'c, 'a> Made<'c, 'a> {
    pub fn new(ctx: &'c Ctx<'a>) -> Self {
        Made {
            ctx,
            ids: Vec::new(),
            volumes: Vec::new(),
        }
    }

    /// Creates a container (expecting 201) and remembers it.
    pub fn create(&mut self, config: Value, name: Option<&str>) -> Result<String, Problem> {
        let id = self.ctx.create(config, name)?;
        self.ids.push(id.clone());
        Ok(id)
    }
}

impl Drop for Made<'_, '_> {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            let _ = self
                .ctx
                .client
                .send(Req::delete(format!("/containers/{}?force=1&v=1", enc(&id))));
        }
        for v in self.volumes.drain(..) {
            let _ = self
                .ctx
                .client
                .send(Req::delete(format!("/volumes/{}?force=1", enc(&v))));
        }
    }
}

/// Fails unless `resp` is `status` with `{"message": message}`, which is
/// what dockerd answered (the caller names where).
pub(crate) fn expect_error(resp: &Response, status: u16, message: &str, what: &str) -> Outcome {
    if resp.status == status && resp.message().as_deref() == Some(message) {
        Ok(())
    } else {
        Err(fail_at(
            resp,
            format!(
                "{what}: dockerd answers {status} {message:?}, got {}",
                describe(resp)
            ),
        ))
    }
}

/// `GET /containers/json` with `filters` (and `all=1` when asked): the 200
/// answer's IDs, kept to `among` (other clients' containers may exist).
pub(crate) fn list_ids(
    ctx: &Ctx,
    filters: &Value,
    all: bool,
    among: &[String],
) -> Result<(Response, BTreeSet<String>), Problem> {
    let resp = ctx.send(list_request(filters, all))?;
    crate::ground::expect_status(&resp, 200, &format!("listing with filters {filters}"))?;
    let v = json_body(&resp, "container list")?;
    let ids = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("Id")?.as_str())
        .filter(|id| among.iter().any(|m| m == id))
        .map(str::to_string)
        .collect();
    Ok((resp, ids))
}

pub(crate) fn list_request(filters: &Value, all: bool) -> Req {
    let all = if all { "&all=1" } else { "" };
    Req::get(format!(
        "/containers/json?filters={}{all}",
        enc(&filters.to_string())
    ))
}
