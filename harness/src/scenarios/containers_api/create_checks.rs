//! `POST /containers/create` refusing what dockerd 20.10.24 refuses, each
//! with its status and message (read from dockerd; `{image}` is the fixture
//! tag, `{missing}` a container name no one uses). One scenario per check,
//! so each engine fault is reported on its own.

use super::expect_error;
use crate::client::Req;
use crate::ground::spec::render;
use crate::ground::{Ctx, Outcome};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Value};

const AREA: &str = "containers-api";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(AREA, "create-rejects-bad-env", true, |c| {
            rejects(c, BAD_ENV)
        }),
        scenario(AREA, "create-rejects-missing-link", true, |c| {
            rejects(c, MISSING_LINK)
        }),
        scenario(AREA, "create-rejects-missing-volumes-from", true, |c| {
            rejects(c, MISSING_VOLUMES_FROM)
        }),
        scenario(AREA, "create-rejects-relative-tmpfs", true, |c| {
            rejects(c, RELATIVE_TMPFS)
        }),
        scenario(AREA, "create-rejects-bad-healthcheck", true, |c| {
            rejects(c, BAD_HEALTHCHECK)
        }),
        scenario(AREA, "create-rejects-unknown-platform", true, |c| {
            rejects(c, UNKNOWN_PLATFORM)
        }),
        scenario(AREA, "create-rejects-bad-port-binding", true, |c| {
            rejects(c, BAD_PORT_BINDING)
        }),
        scenario(AREA, "create-rejects-unknown-log-driver", true, |c| {
            rejects(c, UNKNOWN_LOG_DRIVER)
        }),
        scenario(
            AREA,
            "create-host-config-key-case",
            true,
            host_config_key_case,
        ),
    ]
}

/// One refused create: what is merged into a probe config (top level, and
/// `HostConfig`), the query, and dockerd's status and message.
struct Case {
    config: &'static str,
    host_config: &'static str,
    query: &'static str,
    status: u16,
    message: &'static str,
}

type Check = &'static [Case];

const fn case(
    config: &'static str,
    host_config: &'static str,
    query: &'static str,
    status: u16,
    message: &'static str,
) -> Case {
    Case {
        config,
        host_config,
        query,
        status,
        message,
    }
}

const BAD_ENV: Check = &[
    case(
        r#"{"Env":["=foo"]}"#,
        "{}",
        "",
        400,
        "invalid environment variable: =foo",
    ),
    case(
        r#"{"Env":[""]}"#,
        "{}",
        "",
        400,
        "invalid environment variable: ",
    ),
];

/// Go's `nat` rules: a key's port is a number, a `HostPort` empty, a
/// number or a range "A-B" with A <= B (dockerd answers these before it
/// looks at anything else a probe config holds).
const BAD_PORT_BINDING: Check = &[
    case(
        "{}",
        r#"{"PortBindings":{"abc/tcp":[{"HostPort":"1"}]}}"#,
        "",
        400,
        r#"invalid port specification: "abc""#,
    ),
    case(
        "{}",
        r#"{"PortBindings":{"80-81/tcp":[{"HostPort":"1"}]}}"#,
        "",
        400,
        r#"invalid port specification: "80-81""#,
    ),
    case(
        "{}",
        r#"{"PortBindings":{"80/tcp":[{"HostPort":"70000"}]}}"#,
        "",
        400,
        r#"invalid port specification: "70000""#,
    ),
    case(
        "{}",
        r#"{"PortBindings":{"80/tcp":[{"HostPort":"5-3"}]}}"#,
        "",
        400,
        r#"invalid port specification: "5-3""#,
    ),
    case(
        "{}",
        r#"{"PortBindings":{"80/tcp":[{"HostPort":" 5"}]}}"#,
        "",
        400,
        r#"invalid port specification: " 5""#,
    ),
];

const MISSING_LINK: Check = &[case(
    "{}",
    r#"{"Links":["{missing}:alias"]}"#,
    "",
    400,
    "could not get container for {missing}: No such container: {missing}",
)];

const MISSING_VOLUMES_FROM: Check = &[case(
    "{}",
    r#"{"VolumesFrom":["{missing}"]}"#,
    "",
    400,
    "No such container: {missing}",
)];

const RELATIVE_TMPFS: Check = &[
    case(
        "{}",
        r#"{"Tmpfs":{"relative":""}}"#,
        "",
        400,
        "invalid mount path: 'relative' mount path must be absolute",
    ),
    case(
        "{}",
        r#"{"Tmpfs":{".":""}}"#,
        "",
        400,
        "invalid mount path: '.' mount path must be absolute",
    ),
    // Nothing may be mounted over the root (moby's TestCreateTmpfsMountsTarget).
    case(
        "{}",
        r#"{"Tmpfs":{"/":""}}"#,
        "",
        400,
        "invalid specification: destination can't be '/'",
    ),
    case(
        "{}",
        r#"{"Tmpfs":{"//":""}}"#,
        "",
        400,
        "invalid specification: destination can't be '/'",
    ),
];

/// Durations are nanoseconds: 0 means the default, anything else must be
/// at least 1 ms; retries must not be negative.
const BAD_HEALTHCHECK: Check = &[
    case(
        r#"{"Healthcheck":{"Test":["CMD","x"],"Interval":-1}}"#,
        "{}",
        "",
        400,
        "Interval in Healthcheck cannot be less than 1ms",
    ),
    case(
        r#"{"Healthcheck":{"Test":["CMD","x"],"Interval":1000}}"#,
        "{}",
        "",
        400,
        "Interval in Healthcheck cannot be less than 1ms",
    ),
    case(
        r#"{"Healthcheck":{"Test":["CMD","x"],"Timeout":-1}}"#,
        "{}",
        "",
        400,
        "Timeout in Healthcheck cannot be less than 1ms",
    ),
    case(
        r#"{"Healthcheck":{"Test":["CMD","x"],"Timeout":1000}}"#,
        "{}",
        "",
        400,
        "Timeout in Healthcheck cannot be less than 1ms",
    ),
    case(
        r#"{"Healthcheck":{"Test":["CMD","x"],"StartPeriod":-1}}"#,
        "{}",
        "",
        400,
        "StartPeriod in Healthcheck cannot be less than 1ms",
    ),
    case(
        r#"{"Healthcheck":{"Test":["CMD","x"],"StartPeriod":1000}}"#,
        "{}",
        "",
        400,
        "StartPeriod in Healthcheck cannot be less than 1ms",
    ),
    case(
        r#"{"Healthcheck":{"Test":["CMD","x"],"Retries":-1}}"#,
        "{}",
        "",
        400,
        "Retries in Healthcheck cannot be negative",
    ),
];

const UNKNOWN_PLATFORM: Check = &[
    case("{}", "{}", "platform=bogus", 400, "\"bogus\": unknown operating system or architecture: invalid argument"),
    case("{}", "{}", "platform=windows/amd64", 404, "image with reference {image} was found but does not match the specified platform: wanted windows/amd64, actual: linux/amd64"),
];

const UNKNOWN_LOG_DRIVER: Check = &[case(
    "{}",
    r#"{"LogConfig":{"Type":"bogus"}}"#,
    "",
    400,
    "error looking up logging plugin bogus: plugin \"bogus\" not found",
)];

fn merge(into: &mut Value, from: &str, vars: &[(&str, &str)]) {
    let from: Value = serde_json::from_str(&render(from, vars)).unwrap_or(Value::Null);
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        into.extend(from.clone());
    }
}

fn rejects(ctx: &Ctx, check: Check) -> Outcome {
    let image = ctx.image()?;
    let missing = ctx.unique_name("missing");
    let vars = [("image", image.tag.as_str()), ("missing", missing.as_str())];
    for c in check {
        let mut cfg = ctx.probe_config(&["exit", "0"])?;
        merge(&mut cfg, c.config, &vars);
        let mut hc = json!({});
        merge(&mut hc, c.host_config, &vars);
        cfg["HostConfig"] = hc;
        let path = match c.query {
            "" => "/containers/create".to_string(),
            q => format!("/containers/create?{q}"),
        };
        let resp = ctx.send(Req::post(path).json(cfg.clone()))?;
        if resp.status == 201 {
            // Do not leak what should not have been created.
            if let Some(id) = resp
                .json()
                .ok()
                .and_then(|v| v["Id"].as_str().map(str::to_string))
            {
                ctx.remove(&id);
            }
        }
        let message = render(c.message, &vars);
        expect_error(&resp, c.status, &message, &format!("create with {cfg}"))?;
    }
    Ok(())
}

/// `HostConfig` keys in another case (docker-py sends `CPURealtimePeriod`
/// and `CPURealtimeRuntime`): Go's JSON decoder matches field names case
/// aside, so dockerd 20.10.24 takes them (inspect: `CpuRealtimePeriod`
/// 1000, `CpuRealtimeRuntime` 500; read with curl, 2026-12-04).
fn host_config_key_case(ctx: &Ctx) -> Outcome {
    let mut made = super::Made::new(ctx);
    let mut cfg = ctx.probe_config(&["exit", "0"])?;
    cfg["HostConfig"] = json!({"CPURealtimePeriod": 1000, "cpurealtimeruntime": 500});
    let id = made.create(cfg, None)?;
    let hc = ctx.inspect(&id)?["HostConfig"].clone();
    let got = (&hc["CpuRealtimePeriod"], &hc["CpuRealtimeRuntime"]);
    if got != (&json!(1000), &json!(500)) {
        return Err(crate::ground::fail(format!(
            "inspect's CpuRealtimePeriod {}, CpuRealtimeRuntime {}; dockerd: 1000, 500 \
             (CPURealtimePeriod and cpurealtimeruntime taken case aside)",
            got.0, got.1
        )));
    }
    Ok(())
}
