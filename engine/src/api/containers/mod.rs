//! Containers API group: HTTP in, Docker's JSON out. The lifecycle rules are
//! in `daemon::containers`; this file parses requests and renders answers.

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use super::body::json::{self as json_body, JsonBodyError};
use super::body::request::read_json_body;
use super::body::stream::stream_content_type;
use super::{body, json, json_status, no_content, Ctx, Request, Response};
use crate::daemon::containers::filters::Step;
use crate::daemon::containers::lifecycle::{self, WaitCondition};
use crate::daemon::containers::logs::{self, Filter};
use crate::daemon::containers::record::{CreateRequest, Record};
use crate::errdefs::EngineError;
use crate::version::ApiVersion;

pub mod attach;
mod attach_ws;
mod legacy;
pub mod ops;
mod render;
pub(crate) use render::DEFAULT_RUNTIME;

pub async fn create(ctx: &Ctx, req: Request) -> Result<Response, EngineError> {
    let bytes = read_json_body(req).await?;
    // dockerd 20.10 answers 500 to a body it cannot decode.
    let mut value: Value = json_body::decode(&bytes).map_err(JsonBodyError::internal)?;
    legacy::top_level_host_config(&mut value);
    legacy::fold_host_config_keys(&mut value);
    if !has_config(&value) {
        return Err(EngineError::InvalidParameter(
            "Config cannot be empty in order to create a container".into(),
        ));
    }
    if ctx.version < ApiVersion(1, 40) {
        old_client_ipc_default(&mut value);
    }
    let mut parsed: CreateRequest = serde_json::from_value(value)
        .map_err(|e| EngineError::System(crate::gojson::describe_data(&e)))?;
    parsed.platform = ctx.query.get("platform").map(String::from);
    parsed.several_networks = ctx.version >= ApiVersion(1, 44);
    let name = ctx.query.get("name").map(String::from);
    let daemon = ctx.daemon.clone();
    let (id, warnings) =
        tokio::task::spawn_blocking(move || lifecycle::create(&daemon, name.as_deref(), parsed))
            .await
            .map_err(EngineError::system)??;
    Ok(json_status(
        StatusCode::CREATED,
        &json!({ "Id": id, "Warnings": warnings }),
    ))
}

/// Clients before API 1.40 knew "shareable" as the default IPC mode, so
/// dockerd 20.10 gives it to them when they send a `HostConfig` without an
/// `IpcMode` (without any `HostConfig` the daemon's default, "private",
/// stays; asked of dockerd with curl as API 1.39).
fn old_client_ipc_default(v: &mut Value) {
    if let Some(hc) = v.get_mut("HostConfig").and_then(Value::as_object_mut) {
        // A value of the wrong type is left for the typed decode to refuse.
        let unset = match hc.get("IpcMode") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if unset {
            hc.insert("IpcMode".into(), Value::String("shareable".into()));
        }
    }
}

/// Whether a create body sets any field of the container config proper:
/// dockerd decodes `{}` or `{"HostConfig":...}` alone (and `null`) to no
/// config at all, and refuses it as empty.
fn has_config(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Object(m) => m.keys().any(|k| {
            k != "HostConfig" && k != "NetworkingConfig" && !legacy::is_host_config_field(k)
        }),
        // Not an object: let the typed decode say what is wrong.
        _ => true,
    }
}

pub async fn inspect(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    let rec = c.snapshot();
    let d = &ctx.daemon;
    let mut v = render::inspect(&rec, &c.log_path(), &c.fs_dir(), ops::mounts_json(d, &rec));
    // dockerd fills these paths (and the runtime) at the first start; a
    // container on another's network shows that one's files.
    let log_path = c.log_path();
    let started = log_path.exists();
    let dir = &crate::daemon::networks::container_mode::files_dir(d, &c, started);
    use crate::daemon::containers::init_layer::{shown_path, HOSTNAME, HOSTS, RESOLV_CONF};
    v["HostnamePath"] = json!(shown_path(dir, HOSTNAME));
    v["HostsPath"] = json!(shown_path(dir, HOSTS));
    v["ResolvConfPath"] = json!(shown_path(dir, RESOLV_CONF));
    v["LogPath"] = json!(if started {
        log_path
    } else {
        Default::default()
    });
    if started {
        v["HostConfig"]["Runtime"] = json!(DEFAULT_RUNTIME);
    }
    // As overlay2 shows it: the image's layers and the init layer, top first.
    if let Ok(layers) = crate::daemon::containers::init_layer::root_layers(d, &rec.image_id) {
        let lower: Vec<String> = layers
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect();
        v["GraphDriver"]["Data"]["LowerDir"] = json!(lower.join(":"));
    }
    network_settings(d, &c, &mut v["NetworkSettings"]);
    let execs = d.execs.pending_for(&c.id);
    if !execs.is_empty() {
        v["ExecIDs"] = json!(execs);
    }
    if ctx.query.flag("size") {
        let (rw, rootfs) = crate::daemon::containers::container::sizes(d, &c).await;
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(rootfs);
    }
    legacy::inspect_for_version(&mut v, ctx.version);
    Ok(json(&v))
}

/// Fills inspect's `NetworkSettings` from the container's networks and its
/// live endpoints, as dockerd shows them: the top-level address fields only
/// for the default bridge, `Aliases` only on user-defined networks.
fn network_settings(d: &crate::daemon::Daemon, c: &crate::daemon::Container, ns: &mut Value) {
    use crate::daemon::networks;
    let eps = networks::endpoint::endpoints_of(d, &c.id);
    if c.is_running() {
        let rec = c.snapshot();
        ns["Ports"] = networks::ports::render_ports(&rec, &d.networks.published(&c.id));
    }
    let template = ns["Networks"]
        .as_object()
        .and_then(|m| m.values().next().cloned())
        .unwrap_or_else(|| json!({}));
    let on = networks::networks_of(d, c);
    let rec = c.snapshot();
    // A container that left its own network (NetworkMode stays).
    if !on.iter().any(|n| n.name == rec.network_name()) {
        if let Some(m) = ns["Networks"].as_object_mut() {
            m.remove(rec.network_name());
        }
    }
    for n in on {
        let mut entry = match ns["Networks"].get(&n.name) {
            Some(e) if e.is_object() => e.clone(),
            _ => template.clone(),
        };
        entry["NetworkID"] = json!(n.id);
        let given = networks::endpoint::endpoint_config(&rec, &n.name, &n.id);
        if let Some((_, _, e)) = eps.iter().find(|(_, id, _)| *id == n.id) {
            fill_endpoint(&mut entry, ns, &n, &c.id, e);
            // On a predefined network nothing is added to the aliases, and
            // dockerd shows them as sent: the `[]` the docker CLI sends
            // stays `[]`, a bare `{"Container": ...}` gives null.
            if let (true, Some(cfg)) = (n.predefined(), given) {
                entry["Aliases"] = cfg.get("Aliases").cloned().unwrap_or(Value::Null);
            }
        } else if let Some(cfg) = given {
            // Not running: the settings as given (at create or connect).
            entry["Aliases"] = cfg.get("Aliases").cloned().unwrap_or(Value::Null);
            entry["IPAMConfig"] = Value::Null;
            // A MacAddress asked for shows until the start gives the
            // endpoint its own (dockerd 20.10.24 on a second network:
            // the given one before the start, a generated one after;
            // docker-py's test_connect_with_mac_address).
            if let Some(mac) = cfg
                .get("MacAddress")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
            {
                entry["MacAddress"] = json!(mac);
            }
        }
        if let Some(cfg) = given {
            given_endpoint_settings(&mut entry, cfg);
        }
        ns["Networks"][&n.name] = entry;
    }
}

/// What dockerd shows of an endpoint's settings as the client gave them
/// (at create or connect), running or not: `Links` and `DriverOpts` as
/// sent, and `IPAMConfig` in its Go shape (each of `IPv4Address`,
/// `IPv6Address` and `LinkLocalIPs` only when set).
fn given_endpoint_settings(entry: &mut Value, cfg: &Value) {
    for k in ["Links", "DriverOpts"] {
        entry[k] = cfg.get(k).cloned().unwrap_or(Value::Null);
    }
    let Some(Value::Object(ipam)) = cfg.get("IPAMConfig") else {
        return;
    };
    let mut shown = serde_json::Map::new();
    for k in ["IPv4Address", "IPv6Address"] {
        if let Some(a) = ipam
            .get(k)
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            shown.insert(k.into(), json!(a));
        }
    }
    if let Some(ips) = ipam
        .get("LinkLocalIPs")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        shown.insert("LinkLocalIPs".into(), Value::Array(ips.clone()));
    }
    entry["IPAMConfig"] = Value::Object(shown);
}

fn fill_endpoint(
    entry: &mut Value,
    ns: &mut Value,
    n: &crate::daemon::networks::Network,
    cid: &str,
    e: &crate::daemon::networks::endpoint::Endpoint,
) {
    use crate::daemon::networks;
    {
        let endpoint_id = networks::endpoint_id(&n.id, cid);
        let gateway = e.gateway.map(|g| g.to_string()).unwrap_or_default();
        let v6 = e.ipv6.as_ref();
        let gateway6 = v6.and_then(|a| a.gateway).map(|g| g.to_string());
        for (k, v) in [
            ("EndpointID", json!(endpoint_id)),
            ("Gateway", json!(gateway)),
            ("IPAddress", json!(e.ip.to_string())),
            ("IPPrefixLen", json!(e.prefix)),
            ("MacAddress", json!(e.mac)),
            (
                "GlobalIPv6Address",
                json!(v6.map(|a| a.address.to_string()).unwrap_or_default()),
            ),
            (
                "GlobalIPv6PrefixLen",
                json!(v6.map(|a| a.prefix).unwrap_or(0)),
            ),
            ("IPv6Gateway", json!(gateway6.unwrap_or_default())),
        ] {
            entry[k] = v.clone();
            if n.name == "bridge" {
                ns[k] = v;
            }
        }
        if e.requested_ip.is_some() || e.requested_ip6.is_some() {
            let mut cfg = serde_json::Map::new();
            if let Some(ip) = e.requested_ip {
                cfg.insert("IPv4Address".into(), json!(ip.to_string()));
            }
            if let Some(ip) = e.requested_ip6 {
                cfg.insert("IPv6Address".into(), json!(ip.to_string()));
            }
            entry["IPAMConfig"] = Value::Object(cfg);
        }
        if !n.predefined() {
            entry["Aliases"] = json!(e.aliases);
        }
    }
}

/// The names of the networks, among `nets`, container `r` is on.
fn networks_on<'a>(nets: &'a [crate::daemon::networks::Network], r: &Record) -> Vec<&'a str> {
    if r.config.network_disabled {
        return Vec::new();
    }
    crate::daemon::networks::on(nets, &r.id, &r.host_config.network_mode)
        .into_iter()
        .map(|n| n.name.as_str())
        .collect()
}

pub async fn list(ctx: &Ctx) -> Result<Response, EngineError> {
    let all = ctx.query.flag("all");
    let limit = ctx
        .query
        .int_uncategorised("limit")?
        .filter(|n| *n > 0)
        .map(|n| n as usize);
    let d = &ctx.daemon;
    let filters = d.container_filters(ctx.query.get("filters"))?;
    let with_sizes = ctx.query.flag("size");
    let mut containers = d.all_containers();
    // Newest first, as dockerd lists them.
    containers.sort_by_cached_key(|c| std::cmp::Reverse(c.record().created.clone()));
    let wanted = |r: &Record| {
        (all || limit.is_some() || r.state.running() || filters.implies_all()) && filters.matches(r)
    };
    // `before` and `since` depend on where a container sits in the walk.
    let mut walk = filters.walk();
    let link_names = crate::daemon::containers::links::names_by_target(d);
    // The networks each container is on now (connected, or left its own).
    let nets = d.networks.list();
    let on = |r: &Record| networks_on(&nets, r);
    let names_of = |r: &Record| -> Option<Value> {
        let extra = link_names.get(&r.name)?;
        let mut all: Vec<&String> = extra.iter().chain([&r.name]).collect();
        all.sort();
        Some(json!(all))
    };
    if with_sizes {
        // Sizes walk the filesystem: the slow path, built as JSON values.
        let mut out: Vec<Value> = Vec::new();
        for c in &containers {
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            match walk.step(&c.id) {
                Step::Skip => continue,
                Step::Stop => break,
                Step::Consider => {}
            }
            let mut v = {
                let r = c.record();
                if !wanted(&r) {
                    continue;
                }
                let mut v = render::list_entry(&r, ops::mounts_json(d, &r));
                if let Some(names) = names_of(&r) {
                    v["Names"] = names;
                }
                v["NetworkSettings"]["Networks"] = render::list_networks(&on(&r));
                v
            };
            let published = d.networks.published(&c.id);
            if !published.is_empty() {
                v["Ports"] = crate::daemon::networks::ports::render_list(&published);
            }
            let (rw, rootfs) = crate::daemon::containers::container::sizes(d, c).await;
            v["SizeRw"] = json!(rw);
            v["SizeRootFs"] = json!(rootfs);
            out.push(v);
        }
        return Ok(json(&out));
    }
    // The fast path: each entry is its record's cached fixed fragments around
    // the time-dependent state, written under the record's lock.
    let mut buf = Vec::with_capacity(64 + 700 * containers.len());
    buf.push(b'[');
    let mut n = 0usize;
    let mut state = Vec::with_capacity(64);
    for c in &containers {
        if limit.is_some_and(|l| n >= l) {
            break;
        }
        match walk.step(&c.id) {
            Step::Skip => continue,
            Step::Stop => break,
            Step::Consider => {}
        }
        let mut r = c.record();
        if !wanted(&r) {
            continue;
        }
        if n > 0 {
            buf.push(b',');
        }
        state.clear();
        render::write_list_state(&mut state, &r);
        let names = names_of(&r).map(|n| (json!([r.name]).to_string(), n));
        let networks = render::list_networks_splice(&r, &on(&r));
        let fixed = r.derived(|r| render::list_fixed(r, ops::mounts_json(d, r)));
        let published = d.networks.published(&c.id);
        if published.is_empty() && names.is_none() {
            buf.extend_from_slice(&fixed.list_head);
        } else {
            // The cached head has no ports and only the container's own
            // name: a running container's ports and its link names go in.
            let mut head = String::from_utf8_lossy(&fixed.list_head).into_owned();
            if !published.is_empty() {
                let ports = crate::daemon::networks::ports::render_list(&published);
                head = head.replacen("\"Ports\":[]", &format!("\"Ports\":{ports}"), 1);
            }
            if let Some((own, names)) = names {
                head = head.replacen(
                    &format!("\"Names\":{own}"),
                    &format!("\"Names\":{names}"),
                    1,
                );
            }
            buf.extend_from_slice(head.as_bytes());
        }
        buf.extend_from_slice(&state);
        match networks {
            None => buf.extend_from_slice(&fixed.list_tail),
            Some((cached, actual)) => {
                let tail = String::from_utf8_lossy(&fixed.list_tail);
                buf.extend_from_slice(tail.replacen(&cached, &actual, 1).as_bytes());
            }
        }
        n += 1;
    }
    buf.extend_from_slice(b"]\n");
    Ok(body::json_bytes(buf))
}

pub async fn start(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    lifecycle::start(&ctx.daemon, &c).await?;
    Ok(no_content())
}

fn signal_param(ctx: &Ctx) -> Result<Option<i32>, EngineError> {
    match ctx.query.get("signal") {
        None | Some("") => Ok(None),
        Some(s) => lifecycle::parse_signal(s).map(Some),
    }
}

/// dockerd parses `t` before it looks the container up: `stop?t=x` of a
/// missing container is 500 (strconv.Atoi), not 404.
fn timeout_param(ctx: &Ctx) -> Result<Option<i64>, EngineError> {
    ctx.query.int_uncategorised("t")
}

pub async fn stop(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let t = timeout_param(ctx)?;
    let c = ctx.daemon.container(key)?;
    let signal = signal_param(ctx)?;
    lifecycle::stop(&ctx.daemon, &c, signal, t).await?;
    Ok(no_content())
}

pub async fn restart(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let t = timeout_param(ctx)?;
    let c = ctx.daemon.container(key)?;
    let signal = signal_param(ctx)?;
    lifecycle::restart(&ctx.daemon, &c, signal, t).await?;
    Ok(no_content())
}

pub async fn kill(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    // dockerd words a missing container as the kill's own failure.
    let c = ctx.daemon.container(key).map_err(|e| match e {
        EngineError::NotFound(m) => {
            EngineError::NotFound(format!("Cannot kill container: {key}: {m}"))
        }
        e => e,
    })?;
    let signal = signal_param(ctx)?.unwrap_or(lifecycle::SIGKILL);
    match lifecycle::kill(&c, signal, key).await {
        // Before API 1.20 dockerd took a kill of a container that is not
        // running as done, not as a conflict.
        Err(EngineError::Conflict(_)) if ctx.version < ApiVersion(1, 20) => Ok(no_content()),
        r => r.map(|_| no_content()),
    }
}

pub async fn remove(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    if ctx.query.flag("link") {
        crate::daemon::containers::links::remove(&ctx.daemon, key)?;
        return Ok(no_content());
    }
    let c = ctx.daemon.container(key)?;
    let rec = c.snapshot();
    lifecycle::remove(&ctx.daemon, &c, ctx.query.flag("force")).await?;
    if ctx.query.flag("v") {
        let d = ctx.daemon.clone();
        tokio::task::spawn_blocking(move || crate::daemon::volumes::remove_anonymous(&d, &rec))
            .await
            .map_err(EngineError::system)?;
    }
    Ok(no_content())
}

/// `POST /containers/{id}/wait`. The status line and headers go out at once;
/// the body follows when the condition holds (the docker CLI relies on this
/// to know the wait is registered before it starts the container).
pub async fn wait(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    let cond = WaitCondition::parse(ctx.query.get("condition"));
    let (tx, resp) = body::channel(StatusCode::OK, "application/json");
    let waiter = lifecycle::wait(c, cond);
    tokio::spawn(async move {
        let code = waiter.await;
        let mut b =
            serde_json::to_vec(&json!({"Error": null, "StatusCode": code})).unwrap_or_default();
        b.push(b'\n');
        let _ = tx.send(Bytes::from(b)).await;
    });
    Ok(resp)
}

pub async fn resize(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    let h = ctx.query.int("h")?.unwrap_or(0);
    let w = ctx.query.int("w")?.unwrap_or(0);
    if !c.is_running() {
        return Err(EngineError::Conflict(format!(
            "Container {} is not running",
            c.id
        )));
    }
    let run = c.run_handles();
    if let Some(tty) = &run.tty {
        crate::daemon::containers::io::resize_tty(tty, h, w)?;
    }
    Ok(json(&json!({})))
}

/// `GET /containers/{id}/changes`: `null` when nothing changed, as dockerd.
pub async fn changes(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    let d = ctx.daemon.clone();
    let list = tokio::task::spawn_blocking(move || crate::daemon::images::commit::changes(&d, &c))
        .await
        .map_err(EngineError::system)??;
    if list.is_empty() {
        return Ok(json(&Value::Null));
    }
    let out: Vec<Value> = list
        .into_iter()
        .map(|ch| json!({"Path": ch.path, "Kind": ch.kind as u8}))
        .collect();
    Ok(json(&out))
}

/// Bytes of log frames gathered before they are sent as one HTTP chunk.
const LOG_CHUNK: usize = 64 * 1024;

pub async fn logs(ctx: &Ctx, key: &str) -> Result<Response, EngineError> {
    let q = &ctx.query;
    // dockerd asks for a stream before it looks the container up.
    if !q.flag("stdout") && !q.flag("stderr") {
        return Err(EngineError::InvalidParameter(
            "Bad parameters: you must choose at least one stream".into(),
        ));
    }
    let c = ctx.daemon.container(key)?;
    let time = |k: &str| -> Result<Option<i64>, EngineError> {
        match q.get(k) {
            None | Some("") | Some("0") => Ok(None),
            // dockerd's answer to a bad value: 500 with Go's strconv error.
            Some(v) => crate::filters::time::parse_timestamp(v),
        }
    };
    let filter = Filter {
        stdout: q.flag("stdout"),
        stderr: q.flag("stderr"),
        since_ns: time("since")?,
        until_ns: time("until")?,
        // dockerd 20.10.24 gives every line for `all`, a negative count and
        // anything that is not a number (`tail=x` is 200 with all lines).
        tail: q.get("tail").and_then(|n| n.parse::<usize>().ok()),
    };
    if !crate::daemon::containers::log_driver::readable(c.record().host_config.log_config.as_ref())
    {
        return Err(EngineError::NotImplemented(
            "configured logging driver does not support reading".into(),
        ));
    }
    let follow = q.flag("follow");
    let timestamps = q.flag("timestamps");
    let tty = c.record().config.tty;
    let (tx, mut resp) = body::channel(StatusCode::OK, stream_content_type(ctx.version, tty));
    if ctx.version < ApiVersion(1, 42) {
        // dockerd before API 1.42 sent logs without a Content-Type.
        resp.headers_mut().remove(hyper::header::CONTENT_TYPE);
    }
    let path = c.log_path();
    tokio::spawn(async move {
        let mut changed = c.hub.log_changed.subscribe();
        let mut cursor = logs::Cursor::default();
        let mut first = true;
        loop {
            changed.mark_unchanged();
            let running = c.is_running();
            let read = {
                let path = path.clone();
                tokio::task::spawn_blocking(move || logs::read_since(&path, cursor)).await
            };
            let Ok(Ok((entries, next))) = read else { break };
            cursor = next;
            let entries = if first {
                filter.apply(entries)
            } else {
                entries.into_iter().filter(|e| filter.keep(e)).collect()
            };
            first = false;
            // Many entries per HTTP chunk: one write per line was most of the
            // cost of a long log. Frames stay one per entry, as dockerd's.
            let mut chunk = Vec::new();
            let mut entries = entries.into_iter().peekable();
            while let Some(e) = entries.next() {
                let stamp = timestamps.then(|| logs::format_time_ns(e.time_ns));
                let len = stamp.as_ref().map_or(0, |s| s.len() + 1) + e.bytes.len();
                if !tty {
                    chunk.extend_from_slice(&[e.stream, 0, 0, 0]);
                    chunk.extend_from_slice(&(len as u32).to_be_bytes());
                }
                if let Some(s) = stamp {
                    chunk.extend_from_slice(s.as_bytes());
                    chunk.push(b' ');
                }
                chunk.extend_from_slice(&e.bytes);
                let full = chunk.len() >= LOG_CHUNK || entries.peek().is_none();
                if full
                    && tx
                        .send(Bytes::from(std::mem::take(&mut chunk)))
                        .await
                        .is_err()
                {
                    return;
                }
            }
            if !follow || !running {
                break;
            }
            let past_until = filter
                .until_ns
                .is_some_and(|u| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) > u);
            if past_until {
                break;
            }
            tokio::select! {
                r = changed.changed() => if r.is_err() { break },
                _ = tx.closed() => break,
            }
        }
    });
    Ok(resp)
}

/// `GET /containers/{id}/attach/ws`.
pub async fn attach_ws_route(ctx: &Ctx, key: &str, req: Request) -> Result<Response, EngineError> {
    attach_ws::attach_ws(ctx, key, req).await
}

/// `POST /containers/{id}/attach`.
pub async fn attach_route(ctx: &Ctx, key: &str, req: Request) -> Result<Response, EngineError> {
    attach::attach(ctx, key, req).await
}
