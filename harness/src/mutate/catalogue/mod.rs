//! The mutants: deliberate divergences from dockerd, one planted per run
//! by the proxy, each the kind of mistake an engine makes (a wrong status,
//! a missing or renamed field, a wrong type or header, broken framing, a
//! query parameter ignored, a list in the wrong order).

use super::proxy::{RequestHead, ResponseHead};
use serde_json::Value;

/// Rewrites one multiplexed frame (stream byte, payload): the bytes to send
/// instead, or None to keep it.
pub type FrameEdit = fn(u8, &[u8]) -> Option<Vec<u8>>;

/// A body or message rewrite: the new bytes, or None when nothing changed.
pub type BodyEdit = fn(&[u8]) -> Option<Vec<u8>>;

pub enum Action {
    /// Rewrites the request's query pairs (an endpoint ignoring one);
    /// returns whether anything changed.
    Query(fn(&mut Vec<(String, String)>) -> bool),
    /// Answers with this status instead.
    Status(u16),
    DropHeader(&'static str),
    SetHeader(&'static str, &'static str),
    /// Rewrites the whole (finite) body.
    Body(BodyEdit),
    /// Rewrites each chunk of a streamed answer (JSON messages) as it comes.
    Messages(BodyEdit),
    /// The first chunk of a chunked answer declares a wrong size.
    BadChunking,
    /// Rewrites the frames of a multiplexed stream (logs, attach, exec).
    Frames(FrameEdit),
}

pub struct Mutant {
    pub name: &'static str,
    /// The API group it belongs to.
    pub group: &'static str,
    pub what: &'static str,
    /// The method it applies to ("" any).
    pub method: &'static str,
    /// The path (version prefix and query left out) it applies to: `*`
    /// matches one segment, a trailing `**` the rest; "" any path.
    pub path: &'static str,
    /// Only answers with this status ([`ERRORS`]: any 4xx or 5xx).
    pub status: Option<u16>,
    pub action: Action,
}

impl Mutant {
    pub fn matches_request(&self, req: &RequestHead) -> bool {
        (self.method.is_empty() || self.method == req.method)
            && (self.path.is_empty() || path_matches(self.path, &req.path))
    }

    /// Applies a query action; whether it changed the request.
    pub fn mutate_request(&self, req: &mut RequestHead) -> bool {
        let Action::Query(f) = self.action else {
            return false;
        };
        let mut pairs = req.pairs();
        if !f(&mut pairs) {
            return false;
        }
        req.set_pairs(&pairs);
        true
    }

    /// The action for an answer, when the mutant applies to it.
    pub fn response_action(&self, _req: &RequestHead, resp: &ResponseHead) -> Option<&Action> {
        if matches!(self.action, Action::Query(_)) {
            return None;
        }
        match self.status {
            Some(0) if resp.status < 400 => None,
            Some(s) if s != 0 && s != resp.status => None,
            _ => Some(&self.action),
        }
    }
}

/// Any error status (4xx, 5xx).
const ERRORS: Option<u16> = Some(0);

pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut p = pattern.trim_matches('/').split('/');
    let mut s = path.trim_matches('/').split('/');
    loop {
        match (p.next(), s.next()) {
            (Some("**"), _) => return true,
            (Some(a), Some(b)) if a == "*" || a == b => continue,
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A JSON body rewritten by `f` (which says whether it changed anything),
/// ending in a newline as dockerd's do.
fn json_edit(body: &[u8], f: fn(&mut Value) -> bool) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    if !f(&mut v) {
        return None;
    }
    let mut out = serde_json::to_vec(&v).ok()?;
    out.push(b'\n');
    Some(out)
}

/// Each JSON message (one per line) of a stream chunk rewritten by `f`.
fn lines_edit(chunk: &[u8], f: fn(&mut Value) -> bool) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(chunk).ok()?;
    let mut changed = false;
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let end = &line[body.len()..];
        match serde_json::from_str::<Value>(body) {
            Ok(mut v) => {
                if f(&mut v) {
                    changed = true;
                    out.push_str(&v.to_string());
                    out.push_str(end);
                } else {
                    out.push_str(line);
                }
            }
            Err(_) => out.push_str(line),
        }
    }
    changed.then(|| out.into_bytes())
}

fn remove_key(v: &mut Value, key: &str) -> bool {
    v.as_object_mut().and_then(|o| o.remove(key)).is_some()
}

fn rename_key(v: &mut Value, from: &str, to: &str) -> bool {
    let Some(o) = v.as_object_mut() else {
        return false;
    };
    match o.remove(from) {
        Some(x) => {
            o.insert(to.to_string(), x);
            true
        }
        None => false,
    }
}

fn each_item(v: &mut Value, f: impl Fn(&mut Value) -> bool) -> bool {
    v.as_array_mut()
        .map(|a| a.iter_mut().fold(false, |c, i| f(i) | c))
        .unwrap_or(false)
}

fn to_string_at(v: &mut Value, pointer: &str) -> bool {
    match v.pointer_mut(pointer) {
        Some(x) if !x.is_string() && !x.is_null() => {
            *x = Value::String(x.to_string());
            true
        }
        _ => false,
    }
}

fn reverse(v: &mut Value) -> bool {
    match v.as_array_mut() {
        Some(a) if a.len() > 1 => {
            a.reverse();
            true
        }
        _ => false,
    }
}

/// A filters JSON with one key left out (an endpoint not knowing it).
fn drop_filter(pairs: &mut [(String, String)], key: &str) -> bool {
    let mut changed = false;
    for (k, v) in pairs.iter_mut() {
        if k != "filters" {
            continue;
        }
        if let Ok(mut f) = serde_json::from_str::<Value>(v) {
            if remove_key(&mut f, key) {
                *v = f.to_string();
                changed = true;
            }
        }
    }
    changed
}

fn drop_param(pairs: &mut Vec<(String, String)>, key: &str) -> bool {
    let n = pairs.len();
    pairs.retain(|(k, _)| k != key);
    n != pairs.len()
}

fn edit_message(v: &mut Value, f: fn(&str) -> Option<String>) -> bool {
    let Some(m) = v.get("message").and_then(Value::as_str) else {
        return false;
    };
    match f(m) {
        Some(new) if new != m => {
            v["message"] = Value::String(new);
            true
        }
        _ => false,
    }
}

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![kind, 0, 0, 0];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

const fn m(
    name: &'static str,
    group: &'static str,
    what: &'static str,
    method: &'static str,
    path: &'static str,
    status: Option<u16>,
    action: Action,
) -> Mutant {
    Mutant {
        name,
        group,
        what,
        method,
        path,
        status,
        action,
    }
}

/// Every mutant, in a fixed order.
pub static MUTANTS: &[Mutant] = &[
    // --- statuses ---
    m(
        "start-twice-204",
        "containers",
        "starting a running container answers 204, not 304",
        "POST",
        "/containers/*/start",
        Some(304),
        Action::Status(204),
    ),
    m(
        "stop-stopped-204",
        "containers",
        "stopping a stopped container answers 204, not 304",
        "POST",
        "/containers/*/stop",
        Some(304),
        Action::Status(204),
    ),
    m(
        "create-200",
        "containers",
        "a created container answers 200, not 201",
        "POST",
        "/containers/create",
        Some(201),
        Action::Status(200),
    ),
    m(
        "create-conflict-500",
        "containers",
        "a name conflict answers 500, not 409",
        "POST",
        "/containers/create",
        Some(409),
        Action::Status(500),
    ),
    m(
        "inspect-missing-500",
        "containers",
        "inspecting a missing container answers 500, not 404",
        "GET",
        "/containers/*/json",
        Some(404),
        Action::Status(500),
    ),
    m(
        "remove-running-500",
        "containers",
        "removing a running container answers 500, not 409",
        "DELETE",
        "/containers/*",
        Some(409),
        Action::Status(500),
    ),
    m(
        "remove-200",
        "containers",
        "a removed container answers 200, not 204",
        "DELETE",
        "/containers/*",
        Some(204),
        Action::Status(200),
    ),
    m(
        "image-missing-400",
        "images",
        "inspecting a missing image answers 400, not 404",
        "GET",
        "/images/**",
        Some(404),
        Action::Status(400),
    ),
    m(
        "bad-request-500",
        "errors",
        "every 400 becomes a 500",
        "",
        "",
        Some(400),
        Action::Status(500),
    ),
    m(
        "network-create-200",
        "networks",
        "a created network answers 200, not 201",
        "POST",
        "/networks/create",
        Some(201),
        Action::Status(200),
    ),
    m(
        "volume-create-200",
        "volumes",
        "a created volume answers 200, not 201",
        "POST",
        "/volumes/create",
        Some(201),
        Action::Status(200),
    ),
    m(
        "exec-create-200",
        "exec",
        "a created exec answers 200, not 201",
        "POST",
        "/containers/*/exec",
        Some(201),
        Action::Status(200),
    ),
    m(
        "not-found-405",
        "errors",
        "every 404 becomes a 405",
        "",
        "",
        Some(404),
        Action::Status(405),
    ),
    // --- error bodies and wording ---
    m(
        "no-such-container-wording",
        "errors",
        "'No such container' spelt 'no such container'",
        "",
        "/containers/**",
        Some(404),
        Action::Body(|b| {
            json_edit(b, |v| {
                edit_message(v, |s| {
                    Some(s.replace("No such container", "no such container"))
                })
            })
        }),
    ),
    m(
        "error-message-key",
        "errors",
        "error bodies say {\"error\": ...} instead of {\"message\": ...}",
        "",
        "",
        ERRORS,
        Action::Body(|b| json_edit(b, |v| rename_key(v, "message", "error"))),
    ),
    m(
        "conflict-wording",
        "errors",
        "409 messages lose their 'Conflict.' wording",
        "",
        "",
        Some(409),
        Action::Body(|b| {
            json_edit(b, |v| {
                edit_message(v, |s| Some(format!("conflict: {}", s.to_lowercase())))
            })
        }),
    ),
    m(
        "image-missing-wording",
        "images",
        "'No such image' spelt 'image not found'",
        "",
        "/images/**",
        Some(404),
        Action::Body(|b| {
            json_edit(b, |v| {
                edit_message(v, |s| Some(s.replace("No such image", "image not found")))
            })
        }),
    ),
    // --- JSON fields: missing, renamed, wrong type ---
    m(
        "inspect-no-state-running",
        "containers",
        "container inspect without State.Running",
        "GET",
        "/containers/*/json",
        Some(200),
        Action::Body(|b| {
            json_edit(b, |v| {
                v.get_mut("State").is_some_and(|s| remove_key(s, "Running"))
            })
        }),
    ),
    m(
        "inspect-exitcode-string",
        "containers",
        "State.ExitCode as a string",
        "GET",
        "/containers/*/json",
        Some(200),
        Action::Body(|b| json_edit(b, |v| to_string_at(v, "/State/ExitCode"))),
    ),
    m(
        "inspect-config-renamed",
        "containers",
        "inspect's Config renamed config",
        "GET",
        "/containers/*/json",
        Some(200),
        Action::Body(|b| json_edit(b, |v| rename_key(v, "Config", "config"))),
    ),
    m(
        "inspect-no-hostconfig-binds",
        "containers",
        "HostConfig without Binds",
        "GET",
        "/containers/*/json",
        Some(200),
        Action::Body(|b| {
            json_edit(b, |v| {
                v.get_mut("HostConfig")
                    .is_some_and(|s| remove_key(s, "Binds"))
            })
        }),
    ),
    m(
        "list-no-names",
        "containers",
        "container list items without Names",
        "GET",
        "/containers/json",
        Some(200),
        Action::Body(|b| json_edit(b, |v| each_item(v, |i| remove_key(i, "Names")))),
    ),
    m(
        "list-state-capitalised",
        "containers",
        "container list State 'Running' instead of 'running'",
        "GET",
        "/containers/json",
        Some(200),
        Action::Body(|b| {
            json_edit(b, |v| {
                each_item(v, |i| match i.get("State").and_then(Value::as_str) {
                    Some(s) if !s.is_empty() => {
                        let mut c = s.to_string();
                        c[..1].make_ascii_uppercase();
                        i["State"] = Value::String(c);
                        true
                    }
                    _ => false,
                })
            })
        }),
    ),
    m(
        "create-no-warnings",
        "containers",
        "create's answer without Warnings",
        "POST",
        "/containers/create",
        Some(201),
        Action::Body(|b| json_edit(b, |v| remove_key(v, "Warnings"))),
    ),
    m(
        "wait-statuscode-string",
        "containers",
        "wait's StatusCode as a string",
        "POST",
        "/containers/*/wait",
        Some(200),
        Action::Body(|b| json_edit(b, |v| to_string_at(v, "/StatusCode"))),
    ),
    m(
        "top-titles-renamed",
        "containers",
        "top's Titles renamed titles",
        "GET",
        "/containers/*/top",
        Some(200),
        Action::Body(|b| json_edit(b, |v| rename_key(v, "Titles", "titles"))),
    ),
    m(
        "changes-kind-shifted",
        "containers",
        "changes' Kind 0 (modified) reported as 1 (added)",
        "GET",
        "/containers/*/changes",
        Some(200),
        Action::Body(|b| {
            json_edit(b, |v| {
                each_item(v, |i| {
                    if i.get("Kind") == Some(&Value::from(0)) {
                        i["Kind"] = Value::from(1);
                        true
                    } else {
                        false
                    }
                })
            })
        }),
    ),
    m(
        "stats-no-memory-stats",
        "containers",
        "stats without memory_stats",
        "GET",
        "/containers/*/stats",
        Some(200),
        Action::Messages(|b| lines_edit(b, |v| remove_key(v, "memory_stats"))),
    ),
    m(
        "image-inspect-no-repotags",
        "images",
        "image inspect without RepoTags",
        "GET",
        "/images/*/json",
        Some(200),
        Action::Body(|b| json_edit(b, |v| remove_key(v, "RepoTags"))),
    ),
    m(
        "image-list-size-string",
        "images",
        "image list Size as a string",
        "GET",
        "/images/json",
        Some(200),
        Action::Body(|b| json_edit(b, |v| each_item(v, |i| to_string_at(i, "/Size")))),
    ),
    m(
        "image-history-reversed",
        "images",
        "image history oldest first",
        "GET",
        "/images/*/history",
        Some(200),
        Action::Body(|b| json_edit(b, reverse)),
    ),
    m(
        "version-no-apiversion",
        "system",
        "/version without ApiVersion",
        "GET",
        "/version",
        Some(200),
        Action::Body(|b| json_edit(b, |v| remove_key(v, "ApiVersion"))),
    ),
    m(
        "info-ncpu-string",
        "system",
        "/info NCPU as a string",
        "GET",
        "/info",
        Some(200),
        Action::Body(|b| json_edit(b, |v| to_string_at(v, "/NCPU"))),
    ),
    m(
        "info-containers-off-by-one",
        "system",
        "/info counts one container too many",
        "GET",
        "/info",
        Some(200),
        Action::Body(|b| {
            json_edit(b, |v| match v.get("Containers").and_then(Value::as_i64) {
                Some(n) => {
                    v["Containers"] = Value::from(n + 1);
                    true
                }
                None => false,
            })
        }),
    ),
    m(
        "df-no-layerssize",
        "system",
        "/system/df without LayersSize",
        "GET",
        "/system/df",
        Some(200),
        Action::Body(|b| json_edit(b, |v| remove_key(v, "LayersSize"))),
    ),
    m(
        "network-inspect-no-ipam",
        "networks",
        "network inspect without IPAM",
        "GET",
        "/networks/*",
        Some(200),
        Action::Body(|b| json_edit(b, |v| remove_key(v, "IPAM"))),
    ),
    m(
        "network-list-no-driver",
        "networks",
        "network list items without Driver",
        "GET",
        "/networks",
        Some(200),
        Action::Body(|b| json_edit(b, |v| each_item(v, |i| remove_key(i, "Driver")))),
    ),
    m(
        "volume-list-lowercase",
        "volumes",
        "volume list's Volumes renamed volumes",
        "GET",
        "/volumes",
        Some(200),
        Action::Body(|b| json_edit(b, |v| rename_key(v, "Volumes", "volumes"))),
    ),
    m(
        "volume-no-mountpoint",
        "volumes",
        "volume inspect without Mountpoint",
        "GET",
        "/volumes/*",
        Some(200),
        Action::Body(|b| json_edit(b, |v| remove_key(v, "Mountpoint"))),
    ),
    m(
        "exec-inspect-exitcode-null",
        "exec",
        "exec inspect ExitCode null after the process ended",
        "GET",
        "/exec/*/json",
        Some(200),
        Action::Body(|b| {
            json_edit(b, |v| match v.get("ExitCode") {
                Some(x) if !x.is_null() => {
                    v["ExitCode"] = Value::Null;
                    true
                }
                _ => false,
            })
        }),
    ),
    // --- headers and content types ---
    m(
        "json-as-text",
        "protocol",
        "JSON answers labelled text/plain",
        "GET",
        "/containers/json",
        None,
        Action::SetHeader("Content-Type", "text/plain; charset=utf-8"),
    ),
    m(
        "inspect-content-type",
        "protocol",
        "container inspect without a Content-Type",
        "GET",
        "/containers/*/json",
        None,
        Action::DropHeader("Content-Type"),
    ),
    m(
        "no-api-version-header",
        "protocol",
        "answers without the Api-Version header",
        "",
        "",
        None,
        Action::DropHeader("Api-Version"),
    ),
    m(
        "ping-no-experimental",
        "system",
        "/_ping without Docker-Experimental",
        "",
        "/_ping",
        None,
        Action::DropHeader("Docker-Experimental"),
    ),
    m(
        "ping-no-ostype",
        "system",
        "/_ping without Ostype",
        "",
        "/_ping",
        None,
        Action::DropHeader("Ostype"),
    ),
    m(
        "ping-body-lowercase",
        "system",
        "/_ping says 'ok'",
        "GET",
        "/_ping",
        Some(200),
        Action::Body(|b| (b == b"OK").then(|| b"ok".to_vec())),
    ),
    m(
        "ping-cache-control",
        "system",
        "/_ping without Cache-Control: no-cache",
        "",
        "/_ping",
        None,
        Action::DropHeader("Cache-Control"),
    ),
    m(
        "logs-content-type",
        "streams",
        "logs labelled application/json",
        "GET",
        "/containers/*/logs",
        Some(200),
        Action::SetHeader("Content-Type", "application/json"),
    ),
    m(
        "attach-no-upgrade-header",
        "streams",
        "the 101 of an attach without Upgrade: tcp",
        "POST",
        "/containers/*/attach",
        Some(101),
        Action::DropHeader("Upgrade"),
    ),
    // --- streams and framing ---
    m(
        "logs-stdout-stderr-swapped",
        "streams",
        "logs frames of stdout marked stderr and back",
        "GET",
        "/containers/*/logs",
        Some(200),
        Action::Frames(|k, p| match k {
            1 => Some(frame(2, p)),
            2 => Some(frame(1, p)),
            _ => None,
        }),
    ),
    m(
        "logs-no-frame-headers",
        "streams",
        "logs without the 8-byte frame headers",
        "GET",
        "/containers/*/logs",
        Some(200),
        Action::Frames(|_, p| Some(p.to_vec())),
    ),
    m(
        "logs-extra-frame",
        "streams",
        "every logs frame sent twice",
        "GET",
        "/containers/*/logs",
        Some(200),
        Action::Frames(|k, p| {
            let mut f = frame(k, p);
            f.extend(frame(k, p));
            Some(f)
        }),
    ),
    m(
        "attach-stream-swapped",
        "streams",
        "attach frames of stdout marked stderr",
        "POST",
        "/containers/*/attach",
        None,
        Action::Frames(|k, p| (k == 1).then(|| frame(2, p))),
    ),
    m(
        "exec-stream-swapped",
        "exec",
        "exec output frames of stdout marked stderr",
        "POST",
        "/exec/*/start",
        None,
        Action::Frames(|k, p| (k == 1).then(|| frame(2, p))),
    ),
    m(
        "events-bad-chunking",
        "events",
        "the events stream's first chunk declares a wrong size",
        "GET",
        "/events",
        Some(200),
        Action::BadChunking,
    ),
    m(
        "events-no-status",
        "events",
        "events without the legacy status field",
        "GET",
        "/events",
        Some(200),
        Action::Messages(|b| lines_edit(b, |v| remove_key(v, "status"))),
    ),
    m(
        "events-actor-no-attributes",
        "events",
        "events whose Actor has no Attributes",
        "GET",
        "/events",
        Some(200),
        Action::Messages(|b| {
            lines_edit(b, |v| {
                v.get_mut("Actor")
                    .is_some_and(|a| remove_key(a, "Attributes"))
            })
        }),
    ),
    m(
        "load-stream-renamed",
        "images",
        "image load's stream messages say 'status' instead of 'stream'",
        "POST",
        "/images/load",
        Some(200),
        Action::Messages(|b| lines_edit(b, |v| rename_key(v, "stream", "status"))),
    ),
    m(
        "build-stream-no-aux",
        "images",
        "build's stream without the aux message (image ID)",
        "POST",
        "/build",
        Some(200),
        Action::Messages(|b| {
            lines_edit(b, |v| {
                if v.get("aux").is_some() {
                    *v = serde_json::json!({"stream": ""});
                    true
                } else {
                    false
                }
            })
        }),
    ),
    m(
        "pull-no-progress-status",
        "distribution",
        "pull messages without status",
        "POST",
        "/images/create",
        Some(200),
        Action::Messages(|b| lines_edit(b, |v| remove_key(v, "status"))),
    ),
    // --- query parameters ignored ---
    m(
        "list-ignores-all",
        "containers",
        "GET /containers/json ignores all=1",
        "GET",
        "/containers/json",
        None,
        Action::Query(|q| drop_param(q, "all")),
    ),
    m(
        "list-ignores-status-filter",
        "containers",
        "container list ignores the status filter",
        "GET",
        "/containers/json",
        None,
        Action::Query(|q| drop_filter(q, "status")),
    ),
    m(
        "list-ignores-limit",
        "containers",
        "container list ignores limit",
        "GET",
        "/containers/json",
        None,
        Action::Query(|q| drop_param(q, "limit")),
    ),
    m(
        "logs-ignore-tail",
        "streams",
        "logs ignore tail",
        "GET",
        "/containers/*/logs",
        None,
        Action::Query(|q| drop_param(q, "tail")),
    ),
    m(
        "logs-ignore-stderr",
        "streams",
        "logs ignore stderr=1",
        "GET",
        "/containers/*/logs",
        None,
        Action::Query(|q| drop_param(q, "stderr")),
    ),
    m(
        "logs-ignore-timestamps",
        "streams",
        "logs ignore timestamps=1",
        "GET",
        "/containers/*/logs",
        None,
        Action::Query(|q| drop_param(q, "timestamps")),
    ),
    m(
        "remove-ignores-force",
        "containers",
        "DELETE /containers/{id} ignores force=1",
        "DELETE",
        "/containers/*",
        None,
        Action::Query(|q| drop_param(q, "force")),
    ),
    m(
        "kill-ignores-signal",
        "containers",
        "kill ignores signal (always SIGKILL)",
        "POST",
        "/containers/*/kill",
        None,
        Action::Query(|q| drop_param(q, "signal")),
    ),
    m(
        "images-ignore-reference",
        "images",
        "image list ignores the reference filter",
        "GET",
        "/images/json",
        None,
        Action::Query(|q| drop_filter(q, "reference")),
    ),
    m(
        "events-ignore-type-filter",
        "events",
        "events ignore the type filter",
        "GET",
        "/events",
        None,
        Action::Query(|q| drop_filter(q, "type")),
    ),
    m(
        "inspect-ignores-size",
        "containers",
        "container inspect ignores size=1",
        "GET",
        "/containers/*/json",
        None,
        Action::Query(|q| drop_param(q, "size")),
    ),
    m(
        "rmi-ignores-force",
        "images",
        "DELETE /images/{name} ignores force=1",
        "DELETE",
        "/images/*",
        None,
        Action::Query(|q| drop_param(q, "force")),
    ),
    // --- order ---
    m(
        "container-list-reversed",
        "containers",
        "container list oldest first",
        "GET",
        "/containers/json",
        Some(200),
        Action::Body(|b| json_edit(b, reverse)),
    ),
    m(
        "top-processes-reversed",
        "containers",
        "top's processes in reverse order",
        "GET",
        "/containers/*/top",
        Some(200),
        Action::Body(|b| json_edit(b, |v| v.get_mut("Processes").is_some_and(reverse))),
    ),
];

/// The mutant called `name`.
pub fn find(name: &str) -> Option<&'static Mutant> {
    MUTANTS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_by_segment() {
        assert!(path_matches("/containers/*/json", "/containers/abc/json"));
        assert!(!path_matches("/containers/*/json", "/containers/json"));
        assert!(path_matches("/images/**", "/images/a/b/json"));
        assert!(path_matches("/containers/*", "/containers/abc"));
        assert!(!path_matches("/containers/*", "/containers/abc/json"));
    }

    #[test]
    fn names_are_unique_and_many() {
        let mut names: Vec<_> = MUTANTS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MUTANTS.len());
        assert!(MUTANTS.len() >= 40);
    }

    #[test]
    fn edits_change_what_they_say() {
        let b = br#"{"State":{"Running":true,"ExitCode":0}}"#;
        let out = json_edit(b, |v| to_string_at(v, "/State/ExitCode")).expect("changed");
        assert_eq!(out, b"{\"State\":{\"Running\":true,\"ExitCode\":\"0\"}}\n");
        assert!(json_edit(b"[]", reverse).is_none());
        let chunk = b"{\"status\":\"x\",\"id\":\"1\"}\n{\"id\":\"2\"}\n";
        let out = lines_edit(chunk, |v| remove_key(v, "status")).expect("changed");
        assert_eq!(out, b"{\"id\":\"1\"}\n{\"id\":\"2\"}\n");
        let mut q = vec![(
            "filters".to_string(),
            r#"{"status":["exited"],"label":["a"]}"#.to_string(),
        )];
        assert!(drop_filter(&mut q, "status"));
        assert_eq!(q[0].1, r#"{"label":["a"]}"#);
    }
}
