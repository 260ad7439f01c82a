//! Networks API group: list, inspect, create, remove, connect, disconnect,
//! prune. The daemon's side is `daemon::networks`.

use std::collections::BTreeMap;
use std::sync::Arc;

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::request::read_json_body;
use super::{json, json_status, no_content, Ctx, Request, Response};
use crate::daemon::networks::{self, Network};
use crate::daemon::{Container, Daemon};
use crate::errdefs::EngineError;
use crate::filters;

/// Running containers on network `n` (only those have an endpoint in dockerd).
fn members(d: &Daemon, n: &Network) -> Vec<Arc<Container>> {
    d.all_containers()
        .into_iter()
        .filter(|c| c.is_running())
        .filter(|c| networks::networks_of(d, c).iter().any(|x| x.id == n.id))
        .collect()
}

/// A required JSON body (none is dockerd's 400 "got EOF while reading request body").
async fn body_json<T: for<'de> Deserialize<'de>>(req: Request) -> Result<T, EngineError> {
    let bytes = read_json_body(req).await?;
    super::body::json::decode_required(&bytes)
}

/// `GET /networks`, with filters driver, id, label, name, scope, type.
pub async fn list(ctx: &Ctx) -> Result<Response, EngineError> {
    let f = filters::parse(
        ctx.query.get("filters"),
        &["dangling", "driver", "id", "label", "name", "scope", "type"],
    )?;
    // dockerd refuses a type other than its two (case counts), as a 500.
    if let Some(bad) = f
        .get("type")
        .and_then(|ts| ts.iter().find(|t| *t != "custom" && *t != "builtin"))
    {
        return Err(EngineError::System(format!(
            "invalid filter: 'type'='{bad}'"
        )));
    }
    // dockerd takes dangling as true/1 or false/0 only (a 400 otherwise).
    let odd = |v: &String| !matches!(v.as_str(), "true" | "1" | "false" | "0");
    if f.get("dangling").is_some_and(|ds| ds.iter().any(odd)) {
        return Err(EngineError::InvalidParameter(
            "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")"
                .into(),
        ));
    }
    let d = &ctx.daemon;
    let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
        f.get(key).is_none_or(|vals| vals.iter().any(|v| pred(v)))
    };
    let out: Vec<Value> = d
        .networks
        .list()
        .iter()
        .filter(|n| any("driver", &|v| v == n.driver))
        .filter(|n| any("id", &|v| n.id.contains(v)))
        .filter(|n| any("name", &|v| n.name.contains(v)))
        .filter(|_| any("scope", &|v| v == "local"))
        .filter(|n| {
            any("type", &|v| match v {
                "builtin" => n.predefined(),
                "custom" => !n.predefined(),
                _ => false,
            })
        })
        .filter(|n| {
            f.get("label")
                .is_none_or(|ls| filters::labels_match(&n.labels, ls))
        })
        .filter(|n| {
            any("dangling", &|v| {
                let dangling = !n.predefined() && members(d, n).is_empty();
                matches!((v, dangling), ("true" | "1", true) | ("false" | "0", false))
            })
        })
        .map(|n| networks::render(n, &members(d, n)))
        .collect();
    Ok(json(&out))
}

/// `GET /networks/{id}`.
/// `GET /networks/{id}`. As dockerd 20.10.24: `verbose` is read first
/// (`verbose=x` 400), and a `scope` other than `local` finds no network
/// (every network here is local).
pub async fn inspect(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    if let Some(v) = ctx.query.get("verbose").filter(|v| !v.is_empty()) {
        if crate::daemon::containers::security::parse_go_bool(v).is_none() {
            return Err(EngineError::InvalidParameter(format!(
                "invalid value for verbose: {v}: strconv.ParseBool: parsing {v:?}: invalid syntax"
            )));
        }
    }
    if ctx
        .query
        .get("scope")
        .is_some_and(|s| !s.is_empty() && s != "local")
    {
        return Err(EngineError::NotFound(format!("network {key} not found")));
    }
    let n = ctx.daemon.networks.get(key)?;
    Ok(json(&networks::render(&n, &members(&ctx.daemon, &n))))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateRequest {
    name: String,
    /// Refuse a name already taken (else dockerd 20.10 makes another
    /// network of that name, with a warning).
    check_duplicate: bool,
    driver: String,
    internal: bool,
    attachable: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    ipam: Option<Ipam>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    scope: String,
    ingress: bool,
    config_only: bool,
    config_from: Option<ConfigFrom>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConfigFrom {
    network: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ipam {
    config: Option<Vec<Value>>,
    options: Option<BTreeMap<String, String>>,
}

/// `POST /networks/create`. Only the `bridge` driver can be created.
pub async fn create(ctx: &Ctx, req: Request) -> Result<Response, EngineError> {
    let r: CreateRequest = body_json(req).await?;
    if r.name.is_empty() {
        return Err(EngineError::System("invalid name: ".into()));
    }
    let driver = if r.driver.is_empty() {
        "bridge".to_string()
    } else {
        r.driver.clone()
    };
    match driver.as_str() {
        "bridge" => {}
        // dockerd gives a config-only network the `null` driver before it
        // looks the driver up.
        _ if r.config_only && driver != "host" && driver != "null" => {}
        "host" | "null" => {
            return Err(EngineError::Forbidden(format!(
                "only one instance of \"{driver}\" network is allowed"
            )))
        }
        other => {
            return Err(EngineError::NotFound(format!(
                "plugin \"{other}\" not found"
            )))
        }
    }
    // Without a config the store picks the next free subnet of dockerd's pools.
    let ipam = r.ipam.unwrap_or_default();
    let ipam_options = ipam.options;
    let ipam_config = ipam.config.filter(|c| !c.is_empty()).unwrap_or_default();
    let n = Network {
        name: r.name,
        id: String::new(),
        created: String::new(),
        driver,
        internal: r.internal,
        attachable: r.attachable,
        enable_ipv6: r.enable_ipv6,
        ipam_config,
        ipam_options,
        options: r.options.unwrap_or_default(),
        labels: r.labels.unwrap_or_default(),
        connected: Vec::new(),
        left: Vec::new(),
        auto_subnet: false,
        config_only: r.config_only,
        config_from: r.config_from.map(|c| c.network).unwrap_or_default(),
        bridge: String::new(),
        endpoints: Default::default(),
    };
    networks::config_only::validate(&n, &r.scope, r.ingress)?;
    let d = ctx.daemon.clone();
    // From API 1.44 dockerd always refuses a taken name (the field is
    // gone; docker CLI 28 sends it only below 1.44).
    let check = r.check_duplicate || ctx.version >= crate::version::ApiVersion(1, 44);
    let (n, warning) = tokio::task::spawn_blocking(move || d.networks.create(n, check))
        .await
        .map_err(EngineError::system)??;
    Ok(json_status(
        StatusCode::CREATED,
        &json!({"Id": n.id, "Warning": warning}),
    ))
}

/// `DELETE /networks/{id}`.
pub async fn remove(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let d = ctx.daemon.clone();
    let key = key.to_string();
    tokio::task::spawn_blocking(move || d.networks.remove(&key, |n| !members(&d, n).is_empty()))
        .await
        .map_err(EngineError::system)??;
    Ok(no_content())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectRequest {
    container: String,
    endpoint_config: Option<Value>,
    force: bool,
}

/// `POST /networks/{id}/connect` and `/disconnect` (see
/// `daemon::networks::connect`).
pub async fn connect(
    ctx: &Ctx,
    key: &str,
    req: Request,
    on: bool,
) -> Result<Response, EngineError> {
    let r: ConnectRequest = body_json(req).await?;
    let d = &ctx.daemon;
    if on {
        networks::connect::connect(d, key, &r.container, r.endpoint_config).await?;
    } else {
        networks::connect::disconnect(d, key, &r.container, r.force).await?;
    }
    Ok(super::body::status_only(StatusCode::OK))
}

/// `POST /networks/prune`: user networks no running container is on.
pub async fn prune(ctx: &Ctx) -> Result<Response, EngineError> {
    let f = filters::parse(ctx.query.get("filters"), &["label", "label!", "until"])?;
    let d = ctx.daemon.clone();
    let deleted = tokio::task::spawn_blocking(move || {
        let mut deleted = Vec::new();
        for n in d.networks.list() {
            // dockerd's prune leaves configuration-only networks.
            if n.predefined() || n.config_only || !filters::label_filters_match(&f, &n.labels) {
                continue;
            }
            if d.networks
                .remove(&n.id, |n| !members(&d, n).is_empty())
                .is_ok()
            {
                deleted.push(n.name);
            }
        }
        deleted
    })
    .await
    .map_err(EngineError::system)?;
    let deleted = if deleted.is_empty() {
        Value::Null
    } else {
        json!(deleted)
    };
    Ok(json(&json!({ "NetworksDeleted": deleted })))
}
