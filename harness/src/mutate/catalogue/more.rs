//! The kinds added when the whole catalogue was first measured: statuses
//! of error paths, fields engines leave out of inspect, list, df, info and
//! version answers, content types, framing of exec and attach, more query
//! parameters ignored (filters, since/until, size, t), order, and Go's
//! wording of errors.
//!
//! None of them drops a filter of a prune or a `v` of a removal: on a
//! shared dockerd those would remove, or leave behind, objects a run did
//! not label.

use super::*;

/// A mutant changing one message substring of error answers on `path`.
macro_rules! wording {
    ($name:literal, $group:literal, $what:literal, $path:literal, $status:expr, $from:literal, $to:literal) => {
        m(
            $name,
            $group,
            $what,
            "",
            $path,
            $status,
            Action::Body(|b| {
                json_edit(b, |v| {
                    edit_message(v, |s| s.contains($from).then(|| s.replace($from, $to)))
                })
            }),
        )
    };
}

/// A mutant leaving `key` out of a JSON object answer of `method path`.
macro_rules! no_key {
    ($name:literal, $group:literal, $what:literal, $method:literal, $path:literal, $key:literal) => {
        m(
            $name,
            $group,
            $what,
            $method,
            $path,
            Some(200),
            Action::Body(|b| json_edit(b, |v| remove_key(v, $key))),
        )
    };
}

/// A mutant leaving `key` out of the object at `pointer` of a JSON answer.
macro_rules! no_nested {
    ($name:literal, $group:literal, $what:literal, $method:literal, $path:literal, $pointer:literal, $key:literal) => {
        m(
            $name,
            $group,
            $what,
            $method,
            $path,
            Some(200),
            Action::Body(|b| {
                json_edit(b, |v| {
                    v.pointer_mut($pointer).is_some_and(|o| remove_key(o, $key))
                })
            }),
        )
    };
}

/// A mutant leaving `key` out of every item of a JSON list answer.
macro_rules! no_item_key {
    ($name:literal, $group:literal, $what:literal, $path:literal, $key:literal) => {
        m(
            $name,
            $group,
            $what,
            "GET",
            $path,
            Some(200),
            Action::Body(|b| json_edit(b, |v| each_item(v, |i| remove_key(i, $key)))),
        )
    };
}

/// A mutant dropping query parameter `key` of `method path`.
macro_rules! ignores {
    ($name:literal, $group:literal, $what:literal, $method:literal, $path:literal, $key:literal) => {
        m(
            $name,
            $group,
            $what,
            $method,
            $path,
            None,
            Action::Query(|q| drop_param(q, $key)),
        )
    };
}

/// A mutant dropping filter `key` of a read-only list (never a prune).
macro_rules! ignores_filter {
    ($name:literal, $group:literal, $what:literal, $path:literal, $key:literal) => {
        m(
            $name,
            $group,
            $what,
            "GET",
            $path,
            None,
            Action::Query(|q| drop_filter(q, $key)),
        )
    };
}

pub static MUTANTS: &[Mutant] = &[
    // --- statuses of error paths ---
    m(
        "rename-conflict-500",
        "containers",
        "renaming to a name in use answers 500, not 409",
        "POST",
        "/containers/*/rename",
        Some(409),
        Action::Status(500),
    ),
    m(
        "volume-in-use-500",
        "volumes",
        "removing a volume in use answers 500, not 409",
        "DELETE",
        "/volumes/*",
        Some(409),
        Action::Status(500),
    ),
    m(
        "network-missing-500",
        "networks",
        "inspecting a missing network answers 500, not 404",
        "GET",
        "/networks/*",
        Some(404),
        Action::Status(500),
    ),
    m(
        "exec-missing-500",
        "exec",
        "a missing exec instance answers 500, not 404",
        "",
        "/exec/**",
        Some(404),
        Action::Status(500),
    ),
    m(
        "kill-not-running-204",
        "containers",
        "killing a container that is not running answers 204, not 409",
        "POST",
        "/containers/*/kill",
        Some(409),
        Action::Status(204),
    ),
    m(
        "tag-200",
        "images",
        "a tagged image answers 200, not 201",
        "POST",
        "/images/**",
        Some(201),
        Action::Status(200),
    ),
    m(
        "volume-remove-200",
        "volumes",
        "a removed volume answers 200, not 204",
        "DELETE",
        "/volumes/*",
        Some(204),
        Action::Status(200),
    ),
    m(
        "network-remove-200",
        "networks",
        "a removed network answers 200, not 204",
        "DELETE",
        "/networks/*",
        Some(204),
        Action::Status(200),
    ),
    m(
        "archive-missing-500",
        "archive",
        "a missing path in a container answers 500, not 404",
        "",
        "/containers/*/archive",
        Some(404),
        Action::Status(500),
    ),
    m(
        "volume-missing-500",
        "volumes",
        "inspecting a missing volume answers 500, not 404",
        "GET",
        "/volumes/*",
        Some(404),
        Action::Status(500),
    ),
    // --- Go's wording of errors (dockerd answers a body that does not
    // decode with 400 on some routes and 500 on create: any error) ---
    wording!(
        "json-decode-wording",
        "errors",
        "Go's JSON decode errors reworded ('invalid character' as 'syntax error')",
        "",
        ERRORS,
        "invalid character",
        "syntax error"
    ),
    wording!(
        "unmarshal-type-wording",
        "errors",
        "Go's 'json: cannot unmarshal' reworded",
        "",
        ERRORS,
        "json: cannot unmarshal",
        "cannot decode"
    ),
    wording!(
        "no-such-volume-wording",
        "volumes",
        "'no such volume' spelt 'volume not found'",
        "/volumes/**",
        Some(404),
        "no such volume",
        "volume not found"
    ),
    wording!(
        "no-such-network-wording",
        "networks",
        "'network X not found' spelt 'No such network: X'",
        "/networks/**",
        Some(404),
        "not found",
        "is missing"
    ),
    wording!(
        "no-such-exec-wording",
        "exec",
        "'No such exec instance' spelt 'no such exec'",
        "/exec/**",
        Some(404),
        "No such exec instance",
        "no such exec"
    ),
    wording!(
        "not-running-wording",
        "containers",
        "'is not running' spelt 'is stopped'",
        "/containers/**",
        Some(409),
        "is not running",
        "is stopped"
    ),
    // --- fields engines leave out ---
    no_nested!(
        "inspect-no-logconfig",
        "containers",
        "HostConfig without LogConfig",
        "GET",
        "/containers/*/json",
        "/HostConfig",
        "LogConfig"
    ),
    no_key!(
        "inspect-no-restartcount",
        "containers",
        "container inspect without RestartCount",
        "GET",
        "/containers/*/json",
        "RestartCount"
    ),
    no_key!(
        "inspect-no-mounts",
        "containers",
        "container inspect without Mounts",
        "GET",
        "/containers/*/json",
        "Mounts"
    ),
    no_nested!(
        "inspect-no-state-pid",
        "containers",
        "State without Pid",
        "GET",
        "/containers/*/json",
        "/State",
        "Pid"
    ),
    no_nested!(
        "inspect-no-networks",
        "containers",
        "NetworkSettings without Networks",
        "GET",
        "/containers/*/json",
        "/NetworkSettings",
        "Networks"
    ),
    no_nested!(
        "inspect-no-stopsignal",
        "containers",
        "Config without StopSignal",
        "GET",
        "/containers/*/json",
        "/Config",
        "StopSignal"
    ),
    no_item_key!(
        "list-no-sizerw",
        "containers",
        "container list items without SizeRw (size=1)",
        "/containers/json",
        "SizeRw"
    ),
    no_item_key!(
        "list-no-mounts",
        "containers",
        "container list items without Mounts",
        "/containers/json",
        "Mounts"
    ),
    no_item_key!(
        "image-list-no-repodigests",
        "images",
        "image list items without RepoDigests",
        "/images/json",
        "RepoDigests"
    ),
    no_key!(
        "image-inspect-no-rootfs",
        "images",
        "image inspect without RootFS",
        "GET",
        "/images/*/json",
        "RootFS"
    ),
    m(
        "history-no-createdby",
        "images",
        "image history items without CreatedBy",
        "GET",
        "/images/*/history",
        Some(200),
        Action::Body(|b| json_edit(b, |v| each_item(v, |i| remove_key(i, "CreatedBy")))),
    ),
    no_key!(
        "version-no-components",
        "system",
        "/version without Components",
        "GET",
        "/version",
        "Components"
    ),
    no_key!(
        "info-no-cgroupdriver",
        "system",
        "/info without CgroupDriver",
        "GET",
        "/info",
        "CgroupDriver"
    ),
    no_key!(
        "df-no-volumes",
        "system",
        "/system/df without Volumes",
        "GET",
        "/system/df",
        "Volumes"
    ),
    no_key!(
        "df-no-buildcache",
        "system",
        "/system/df without BuildCache",
        "GET",
        "/system/df",
        "BuildCache"
    ),
    no_key!(
        "volume-no-scope",
        "volumes",
        "volume inspect without Scope",
        "GET",
        "/volumes/*",
        "Scope"
    ),
    no_key!(
        "network-inspect-no-containers",
        "networks",
        "network inspect without Containers",
        "GET",
        "/networks/*",
        "Containers"
    ),
    no_key!(
        "exec-inspect-no-processconfig",
        "exec",
        "exec inspect without ProcessConfig",
        "GET",
        "/exec/*/json",
        "ProcessConfig"
    ),
    m(
        "prune-no-spacereclaimed",
        "system",
        "prune answers without SpaceReclaimed",
        "POST",
        "/*/prune",
        Some(200),
        Action::Body(|b| json_edit(b, |v| remove_key(v, "SpaceReclaimed"))),
    ),
    m(
        "stats-no-networks",
        "containers",
        "stats without networks",
        "GET",
        "/containers/*/stats",
        Some(200),
        Action::Messages(|b| lines_edit(b, |v| remove_key(v, "networks"))),
    ),
    m(
        "events-no-timenano",
        "events",
        "events without timeNano",
        "GET",
        "/events",
        Some(200),
        Action::Messages(|b| lines_edit(b, |v| remove_key(v, "timeNano"))),
    ),
    m(
        "events-no-exitcode",
        "events",
        "die events whose Actor has no exitCode attribute",
        "GET",
        "/events",
        Some(200),
        Action::Messages(|b| {
            lines_edit(b, |v| {
                v.pointer_mut("/Actor/Attributes")
                    .is_some_and(|a| remove_key(a, "exitCode"))
            })
        }),
    ),
    // --- content types and headers ---
    m(
        "version-as-text",
        "protocol",
        "/version labelled text/plain",
        "GET",
        "/version",
        Some(200),
        Action::SetHeader("Content-Type", "text/plain; charset=utf-8"),
    ),
    m(
        "error-as-text",
        "errors",
        "error answers labelled text/plain",
        "",
        "",
        ERRORS,
        Action::SetHeader("Content-Type", "text/plain; charset=utf-8"),
    ),
    m(
        "export-content-type",
        "containers",
        "container export labelled application/json",
        "GET",
        "/containers/*/export",
        Some(200),
        Action::SetHeader("Content-Type", "application/json"),
    ),
    m(
        "archive-no-stat-header",
        "archive",
        "archive answers without X-Docker-Container-Path-Stat",
        "",
        "/containers/*/archive",
        Some(200),
        Action::DropHeader("X-Docker-Container-Path-Stat"),
    ),
    m(
        "attach-content-type",
        "streams",
        "attach answers without a Content-Type",
        "POST",
        "/containers/*/attach",
        None,
        Action::DropHeader("Content-Type"),
    ),
    m(
        "image-save-content-type",
        "images",
        "image save (one image) labelled application/json",
        "GET",
        "/images/*/get",
        Some(200),
        Action::SetHeader("Content-Type", "application/json"),
    ),
    // --- framing ---
    m(
        "exec-no-frame-headers",
        "exec",
        "exec output without the 8-byte frame headers",
        "POST",
        "/exec/*/start",
        None,
        Action::Frames(|_, p| Some(p.to_vec())),
    ),
    m(
        "attach-no-frame-headers",
        "streams",
        "attach output without the 8-byte frame headers",
        "POST",
        "/containers/*/attach",
        None,
        Action::Frames(|_, p| Some(p.to_vec())),
    ),
    m(
        "logs-stdout-as-stdin",
        "streams",
        "logs frames of stdout marked stream 0 (stdin)",
        "GET",
        "/containers/*/logs",
        Some(200),
        Action::Frames(|k, p| (k == 1).then(|| frame(0, p))),
    ),
    // --- query parameters ignored ---
    ignores!(
        "logs-ignore-since",
        "streams",
        "logs ignore since",
        "GET",
        "/containers/*/logs",
        "since"
    ),
    ignores!(
        "logs-ignore-until",
        "streams",
        "logs ignore until",
        "GET",
        "/containers/*/logs",
        "until"
    ),
    ignores!(
        "logs-ignore-stdout",
        "streams",
        "logs ignore stdout=1",
        "GET",
        "/containers/*/logs",
        "stdout"
    ),
    ignores!(
        "list-ignores-size",
        "containers",
        "container list ignores size=1",
        "GET",
        "/containers/json",
        "size"
    ),
    ignores_filter!(
        "list-ignores-label-filter",
        "containers",
        "container list ignores the label filter",
        "/containers/json",
        "label"
    ),
    ignores_filter!(
        "list-ignores-ancestor-filter",
        "containers",
        "container list ignores the ancestor filter",
        "/containers/json",
        "ancestor"
    ),
    ignores_filter!(
        "list-ignores-since-filter",
        "containers",
        "container list ignores the since filter",
        "/containers/json",
        "since"
    ),
    ignores_filter!(
        "list-ignores-exited-filter",
        "containers",
        "container list ignores the exited filter",
        "/containers/json",
        "exited"
    ),
    ignores_filter!(
        "images-ignore-dangling",
        "images",
        "image list ignores the dangling filter",
        "/images/json",
        "dangling"
    ),
    ignores_filter!(
        "images-ignore-before",
        "images",
        "image list ignores the before filter",
        "/images/json",
        "before"
    ),
    ignores_filter!(
        "volumes-ignore-name-filter",
        "volumes",
        "volume list ignores the name filter",
        "/volumes",
        "name"
    ),
    ignores_filter!(
        "networks-ignore-name-filter",
        "networks",
        "network list ignores the name filter",
        "/networks",
        "name"
    ),
    ignores_filter!(
        "events-ignore-container-filter",
        "events",
        "events ignore the container filter",
        "/events",
        "container"
    ),
    ignores!(
        "events-ignore-since",
        "events",
        "events ignore since",
        "GET",
        "/events",
        "since"
    ),
    ignores!(
        "stop-ignores-t",
        "containers",
        "stop ignores t (always 10 s)",
        "POST",
        "/containers/*/stop",
        "t"
    ),
    ignores!(
        "top-ignores-ps-args",
        "containers",
        "top ignores ps_args",
        "GET",
        "/containers/*/top",
        "ps_args"
    ),
    ignores!(
        "archive-ignores-no-overwrite",
        "archive",
        "archive PUT ignores noOverwriteDirNonDir",
        "PUT",
        "/containers/*/archive",
        "noOverwriteDirNonDir"
    ),
    ignores!(
        "commit-ignores-changes",
        "images",
        "commit ignores changes",
        "POST",
        "/commit",
        "changes"
    ),
    ignores!(
        "images-ignore-all",
        "images",
        "image list ignores all=1",
        "GET",
        "/images/json",
        "all"
    ),
    // --- order ---
    m(
        "image-list-reversed",
        "images",
        "image list oldest first",
        "GET",
        "/images/json",
        Some(200),
        Action::Body(|b| json_edit(b, reverse)),
    ),
    m(
        "changes-reversed",
        "containers",
        "changes in reverse order",
        "GET",
        "/containers/*/changes",
        Some(200),
        Action::Body(|b| json_edit(b, reverse)),
    ),
];
