//! The first mutants: statuses, fields, headers, framing, query
//! parameters and order, one or two of each kind per API group.

use super::*;

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
