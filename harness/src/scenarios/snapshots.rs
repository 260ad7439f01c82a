//! Snapshots of normalised responses, one per kind of answer.
//!
//! [`capture`] asks the endpoint a fixed list of questions and normalises
//! each JSON answer ([`normalise`]): IDs and digests become `<id:N>` /
//! `<digest:N>` by order of appearance, timestamps `<time>`, sizes and PIDs
//! `<n>`, the run id `<run>`, host paths, addresses and MACs placeholders.
//! The set taken from dockerd lives in snapshots/ as insta snapshots
//! (harness/tests/model_snapshots.rs checks the live dockerd against them).
//!
//! `snapshots/dockerd-baseline` compares an endpoint's snapshots with
//! dockerd's, field by field (JSON paths and values). On a Docker endpoint
//! any difference fails. On another endpoint every difference outside
//! [`ALLOWED`] is a finding: they are listed on the PASS line (count and
//! first paths), since the engine's gaps are tracked as issues, not as
//! failures of this scenario.

use super::{scenario, Scenario};
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, Ctx, Outcome, Problem, RUN_LABEL};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

pub fn scenarios() -> Vec<Scenario> {
    vec![scenario("snapshots", "dockerd-baseline", true, baseline)]
}

/// The dockerd snapshots (insta files), compiled in.
pub const DOCKERD: &[(&str, &str)] = &[
    (
        "container-create",
        include_str!("../../../snapshots/container-create.snap"),
    ),
    (
        "container-inspect-created",
        include_str!("../../../snapshots/container-inspect-created.snap"),
    ),
    (
        "container-inspect-exited",
        include_str!("../../../snapshots/container-inspect-exited.snap"),
    ),
    (
        "container-wait",
        include_str!("../../../snapshots/container-wait.snap"),
    ),
    (
        "container-list-entry",
        include_str!("../../../snapshots/container-list-entry.snap"),
    ),
    (
        "image-inspect-fixture",
        include_str!("../../../snapshots/image-inspect-fixture.snap"),
    ),
    (
        "error-no-such-container",
        include_str!("../../../snapshots/error-no-such-container.snap"),
    ),
];

/// Paths (prefixes) whose differences from dockerd are legitimate for a
/// non-Docker endpoint: storage/log driver names and their data, network
/// details of a bridge the endpoint may not have, platform security
/// defaults, and fields dockerd fills from its own configuration.
pub const ALLOWED: &[&str] = &[
    "/Driver",
    "/GraphDriver",
    "/HostConfig/LogConfig",
    "/HostConfig/Runtime",
    "/HostConfig/CgroupnsMode",
    "/HostConfig/MaskedPaths",
    "/HostConfig/ReadonlyPaths",
    "/HostConfig/ShmSize",
    "/NetworkSettings",
    "/AppArmorProfile",
    "/MountLabel",
    "/ProcessLabel",
    "/Platform",
    "/Metadata",
    "/DockerVersion",
    "/Container",
    "/ContainerConfig",
    "/0/HostConfig/NetworkMode",
    "/0/NetworkSettings",
];

/// Normalises a JSON answer: see the module docs. `run` is the run id.
pub fn normalise(v: &Value, run: &str) -> Value {
    let mut ids: HashMap<String, String> = HashMap::new();
    norm(v, "", run, &mut ids)
}

fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && s.ends_with('Z')
}

fn norm_str(s: &str, key: &str, run: &str, ids: &mut HashMap<String, String>) -> Value {
    let mut id = |hex: &str, kind: &str| -> String {
        let n = ids.len() + 1;
        ids.entry(hex.to_string())
            .or_insert_with(|| format!("<{kind}:{n}>"))
            .clone()
    };
    if let Some(hex) = s.strip_prefix("sha256:") {
        if is_hex(hex, 64) {
            return json!(id(hex, "digest"));
        }
    }
    if is_hex(s, 64) {
        return json!(id(s, "id"));
    }
    if is_hex(s, 12) {
        // A short ID (Hostname, short references): name it after its full ID.
        let full = ids
            .iter()
            .find(|(k, _)| k.starts_with(s))
            .map(|(_, v)| v.clone());
        return json!(full
            .map(|f| format!("{f}:short"))
            .unwrap_or_else(|| "<short-id>".into()));
    }
    if looks_like_time(s) && !s.starts_with("0001-01-01") {
        return json!("<time>");
    }
    // Host paths hold random layer and sandbox IDs of the daemon's own.
    let host_path = matches!(
        key,
        "LogPath"
            | "ResolvConfPath"
            | "HostnamePath"
            | "HostsPath"
            | "Mountpoint"
            | "SandboxKey"
            | "LowerDir"
            | "MergedDir"
            | "UpperDir"
            | "WorkDir"
            | "Source"
    );
    if host_path && !s.is_empty() {
        return json!("<path>");
    }
    if key == "Status" {
        if let Some(d) = exited_ago(s) {
            return json!(s.replacen(d, "<duration>", 1));
        }
    }
    if !run.is_empty() && s.contains(run) {
        return json!(s.replace(run, "<run>"));
    }
    json!(s)
}

/// The duration of a list entry's `Exited (N) <duration> ago`, when it is
/// one Go's `units.HumanDuration` writes: how long ago depends on the
/// machine's pace ("Less than a second" on a quiet one, "1 second" under
/// load), its wording does not.
fn exited_ago(s: &str) -> Option<&str> {
    let rest = s.strip_prefix("Exited (")?;
    let (_, rest) = rest.split_once(") ")?;
    let d = rest.strip_suffix(" ago")?;
    let units = ["second", "minute", "hour", "day", "week", "month", "year"];
    let counted = d.split_once(' ').is_some_and(|(n, unit)| {
        n.parse::<u64>().is_ok()
            && units
                .iter()
                .any(|u| unit == *u || unit.strip_suffix('s') == Some(u))
    });
    (matches!(d, "Less than a second" | "About a minute" | "About an hour") || counted).then_some(d)
}

fn norm(v: &Value, key: &str, run: &str, ids: &mut HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => norm_str(s, key, run, ids),
        Value::Number(_)
            if matches!(
                key,
                "Size" | "VirtualSize" | "SharedSize" | "Pid" | "Created"
            ) =>
        {
            json!("<n>")
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| norm(x, key, run, ids)).collect()),
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, x) in o {
                out.insert(k.clone(), norm(x, k, run, ids));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Asks the fixed questions; returns (snapshot name, normalised JSON).
/// Creates and removes its own containers.
/// The dockerd snapshots were taken at API 1.41. Ask at that version when
/// the endpoint serves it, so version-dependent fields (e.g. `VirtualSize`,
/// dropped in 1.44) compare like for like.
fn send_snap(ctx: &Ctx, mut req: Req) -> Result<crate::client::Response, Problem> {
    let v141 = crate::client::ApiVersion {
        major: 1,
        minor: 41,
    };
    let n = &ctx.negotiation;
    if n.server_min_api_version.is_none_or(|m| m <= v141) && n.server_api_version >= v141 {
        req.path = format!("/v1.41{}", req.path);
        req.versioned = false;
    }
    ctx.send(req)
}

pub fn capture(ctx: &Ctx) -> Result<Vec<(String, Value)>, Problem> {
    let image = ctx.image()?;
    let run = ctx.run_id.clone();
    let mut out = Vec::new();
    let name = format!("shipshape-{run}-snapshot");
    let mut cfg = ctx.probe_config(&["exit", "3"])?;
    cfg["Env"] = json!(["SNAPSHOT=1"]);
    let resp = send_snap(
        ctx,
        Req::post(format!("/containers/create?name={}", enc(&name))).json(cfg),
    )?;
    expect_status(&resp, 201, "creating the snapshot container")?;
    let result = (|| {
        let body = |r: &crate::client::Response| -> Result<Value, Problem> {
            r.json().map_err(|e| crate::ground::fail_at(r, e))
        };
        // One normalisation context for a container's documents, so the
        // same ID gets the same name in each.
        let create = body(&resp)?;
        out.push(("container-create".to_string(), normalise(&create, &run)));
        let inspect = send_snap(ctx, Req::get(format!("/containers/{}/json", enc(&name))))?;
        expect_status(&inspect, 200, "inspect")?;
        out.push((
            "container-inspect-created".into(),
            normalise(&body(&inspect)?, &run),
        ));
        ctx.start(&name)?;
        let wait = send_snap(ctx, Req::post(format!("/containers/{}/wait", enc(&name))))?;
        expect_status(&wait, 200, "wait")?;
        out.push(("container-wait".into(), normalise(&body(&wait)?, &run)));
        let inspect = send_snap(ctx, Req::get(format!("/containers/{}/json", enc(&name))))?;
        out.push((
            "container-inspect-exited".into(),
            normalise(&body(&inspect)?, &run),
        ));
        let filter = json!({"name": [name.clone()], "label": [format!("{RUN_LABEL}={run}")]});
        let list = send_snap(
            ctx,
            Req::get(format!(
                "/containers/json?all=1&filters={}",
                enc(&filter.to_string())
            )),
        )?;
        expect_status(&list, 200, "list")?;
        out.push((
            "container-list-entry".into(),
            normalise(&body(&list)?, &run),
        ));
        let img = send_snap(ctx, Req::get(format!("/images/{}/json", enc(&image.tag))))?;
        expect_status(&img, 200, "image inspect")?;
        let mut v = body(&img)?;
        // Other runs may tag the shared fixture too: keep this run's tags.
        if let Some(tags) = v.get_mut("RepoTags").and_then(Value::as_array_mut) {
            tags.retain(|t| t.as_str().is_some_and(|t| t.contains(&run)));
        }
        out.push(("image-inspect-fixture".into(), normalise(&v, &run)));
        let missing = send_snap(ctx, Req::get(format!("/containers/{name}-missing/json")))?;
        expect_status(&missing, 404, "inspecting a missing container")?;
        out.push((
            "error-no-such-container".into(),
            normalise(&body(&missing)?, &run),
        ));
        Ok(())
    })();
    ctx.remove(&name);
    result.map(|()| out)
}

/// The JSON content of an insta `.snap` file (after its header).
pub fn snap_content(snap: &str) -> Option<Value> {
    let body = snap.splitn(3, "---\n").nth(2)?;
    serde_json::from_str(body.trim()).ok()
}

fn flatten(v: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, x) in o {
                flatten(
                    x,
                    format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                flatten(x, format!("{path}/{i}"), out);
            }
        }
        other => {
            out.insert(path, other.clone());
        }
    }
}

/// Paths where `got` differs from `want`: missing, extra or another value.
pub fn differences(want: &Value, got: &Value) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten(want, String::new(), &mut a);
    flatten(got, String::new(), &mut b);
    let mut out = Vec::new();
    for (p, w) in &a {
        match b.get(p) {
            None => out.push(format!("{p}: missing (dockerd: {w})")),
            Some(g) if g != w => out.push(format!("{p}: {g} (dockerd: {w})")),
            _ => {}
        }
    }
    for (p, g) in &b {
        if !a.contains_key(p) {
            out.push(format!("{p}: extra {g}"));
        }
    }
    out
}

fn baseline(ctx: &Ctx) -> Outcome {
    let got = capture(ctx)?;
    let docker = ctx
        .negotiation
        .server_header
        .as_deref()
        .is_some_and(|s| s.starts_with("Docker/"));
    let mut findings = Vec::new();
    for (name, value) in &got {
        let Some((_, snap)) = DOCKERD.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let want = snap_content(snap)
            .ok_or_else(|| fail(format!("harness bug: snapshots/{name}.snap has no JSON")))?;
        for d in differences(&want, value) {
            let allowed = !docker
                && ALLOWED
                    .iter()
                    .any(|a| d.starts_with(&format!("{a}/")) || d.starts_with(&format!("{a}:")));
            if !allowed {
                findings.push(format!("{name}{d}"));
            }
        }
    }
    if findings.is_empty() {
        return Ok(());
    }
    if docker {
        let n = findings.len();
        let mut p = fail(format!(
            "{n} differences from the committed dockerd snapshots (snapshots/*.snap), first: {}",
            findings[0]
        ));
        for f in findings.iter().take(40) {
            p = p.note(f.clone());
        }
        return Err(p);
    }
    ctx.note(format!(
        "{} differences from dockerd's snapshots outside the allowance list, e.g. {}",
        findings.len(),
        findings
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_ids_times_sizes_and_run() {
        let id = "a".repeat(64);
        let v = json!({"Id": id, "Image": format!("sha256:{}", "b".repeat(64)),
            "Hostname": "aaaaaaaaaaaa", "Created": "2026-11-26T17:11:57.649923203Z",
            "Zero": "0001-01-01T00:00:00Z", "Size": 123, "Pid": 9, "Name": "/shipshape-r1-x",
            "Again": id});
        let n = normalise(&v, "r1");
        assert_eq!(n["Id"], "<id:1>");
        assert_eq!(n["Image"], "<digest:2>");
        assert_eq!(n["Hostname"], "<id:1>:short");
        assert_eq!(n["Created"], "<time>");
        assert_eq!(n["Zero"], "0001-01-01T00:00:00Z");
        assert_eq!(n["Size"], "<n>");
        assert_eq!(n["Pid"], "<n>");
        assert_eq!(n["Name"], "/shipshape-<run>-x");
        assert_eq!(n["Again"], "<id:1>");
    }

    #[test]
    fn committed_snapshots_parse() {
        for (name, snap) in DOCKERD {
            assert!(snap_content(snap).is_some(), "{name}");
        }
    }

    #[test]
    fn differences_name_paths() {
        let d = differences(
            &json!({"a": {"b": 1, "c": [1]}}),
            &json!({"a": {"b": 2}, "x": true}),
        );
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d[0].starts_with("/a/b: 2"));
    }
}
