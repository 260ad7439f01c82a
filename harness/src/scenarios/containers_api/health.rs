//! Healthchecks (`Config.Healthcheck`, `docker run --health-*`), as dockerd
//! 20.10.24 runs them. Its answers, read from dockerd on this host:
//! - a created container has no `State.Health`; a start sets it to
//!   `{"Status":"starting","FailingStreak":0,"Log":[]}`;
//! - the check runs as an exec in the container every Interval; exit 0 is
//!   healthy (FailingStreak 0), anything else adds to FailingStreak and at
//!   Retries the status is "unhealthy"; `Log` keeps the last 5 results
//!   (Start, End, ExitCode, Output: the check's stdout and stderr);
//! - each change of status is a `health_status: <status>` event;
//! - a check still running at Timeout is killed and logged as ExitCode -1,
//!   Output "Health check exceeded timeout (1s)" (a timeout shorter than a
//!   busy dockerd takes to start the check's exec fires before the process
//!   exists, and that process is then never killed);
//! - failures inside StartPeriod leave the status "starting" and the streak 0;
//! - `Test: ["NONE"]` runs nothing and no Health appears;
//! - the list shows "Up N seconds (health: starting)", "(healthy)" or
//!   "(unhealthy)", and filters on `health` (none for a container without
//!   Health); a stopped container keeps its Health, marked "unhealthy".

use super::{list_ids, Made};
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("containers-api", "health-states", true, health_states),
        scenario("containers-api", "health-timeout", true, health_timeout),
        scenario(
            "containers-api",
            "health-start-period-and-none",
            true,
            health_start_period_and_none,
        ),
    ]
}

/// Generous: dockerd's checks run every 200 ms here.
const LIMIT: Duration = Duration::from_secs(30);
const MS: i64 = 1_000_000;

fn health_config(ctx: &Ctx, test: &[&str], extra: Value) -> Result<Value, Problem> {
    let mut cfg = ctx.probe_config(&["sleep", "300"])?;
    let mut hc = json!({"Test": test, "Interval": 200 * MS});
    if let (Some(hc), Some(extra)) = (hc.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            hc.insert(k.clone(), v.clone());
        }
    }
    cfg["Healthcheck"] = hc;
    Ok(cfg)
}

fn health(ctx: &Ctx, id: &str) -> Result<Value, Problem> {
    Ok(ctx.inspect(id)?["State"]
        .get("Health")
        .cloned()
        .unwrap_or(Value::Null))
}

/// Polls until the container's Health satisfies `ok`; fails with the last seen.
fn wait_health(
    ctx: &Ctx,
    id: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Result<Value, Problem> {
    let mut last = Value::Null;
    let got = ctx.poll(LIMIT, || {
        last = health(ctx, id)?;
        Ok(ok(&last).then(|| last.clone()))
    })?;
    got.ok_or_else(|| fail(format!("{what}: State.Health never got there; last {last}")))
}

fn status_is(h: &Value, s: &str) -> bool {
    h["Status"] == s
}

fn log(h: &Value) -> Vec<Value> {
    h["Log"].as_array().cloned().unwrap_or_default()
}

/// The `Status` column of the container's list entry.
fn list_status(ctx: &Ctx, id: &str) -> Result<String, Problem> {
    let resp = ctx.send(Req::get(format!(
        "/containers/json?all=1&filters={}",
        enc(&json!({"id": [id]}).to_string())
    )))?;
    expect_status(&resp, 200, "listing the container")?;
    let v = json_body(&resp, "container list")?;
    Ok(v[0]["Status"].as_str().unwrap_or("").to_string())
}

fn exec(ctx: &Ctx, id: &str, cmd: &[&str]) -> Outcome {
    let resp = ctx.send(
        Req::post(format!("/containers/{}/exec", enc(id)))
            .json(json!({"Cmd": cmd, "AttachStdout": true, "AttachStderr": true})),
    )?;
    expect_status(&resp, 201, "creating an exec")?;
    let eid = json_body(&resp, "exec create")?["Id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let resp =
        ctx.send(Req::post(format!("/exec/{}/start", enc(&eid))).json(json!({"Detach": false})))?;
    expect_status(&resp, 200, "running an exec")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn expect_in_list(ctx: &Ctx, id: &str, health: &str, want: bool) -> Outcome {
    let among = [id.to_string()];
    let (_, ids) = list_ids(ctx, &json!({"health": [health]}), true, &among)?;
    if ids.contains(id) != want {
        return Err(fail(format!(
            "list with filter health={health}: dockerd {} the container",
            if want { "lists" } else { "does not list" }
        )));
    }
    Ok(())
}

fn health_states(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let cfg = health_config(
        ctx,
        &["CMD", "/probe", "read", "/data/ok"],
        json!({"Retries": 2}),
    )?;
    let id = made.create(cfg, None)?;
    let h = health(ctx, &id)?;
    if !h.is_null() {
        return Err(fail(format!(
            "a created container: dockerd shows no State.Health, got {h}"
        )));
    }
    expect_in_list(ctx, &id, "none", true)?;
    let since = now_secs().saturating_sub(1);
    ctx.start(&id)?;
    let h = wait_health(ctx, &id, "a failing check, Retries 2", |h| {
        status_is(h, "unhealthy")
    })?;
    if h["FailingStreak"].as_i64().unwrap_or(0) < 2 {
        return Err(fail(format!(
            "unhealthy with Retries 2: FailingStreak {}",
            h["FailingStreak"]
        )));
    }
    let want_out = "probe: read /data/ok: No such file or directory (os error 2)\n";
    for e in log(&h) {
        if e["ExitCode"] != 1 || e["Output"] != want_out {
            return Err(fail(format!(
                "a failed check's Log entry: dockerd has ExitCode 1 and Output {want_out:?}, got {e}"
            )));
        }
        for k in ["Start", "End"] {
            if !e[k].as_str().is_some_and(|s| s.starts_with("20")) {
                return Err(fail(format!("Log entry without an RFC 3339 {k}: {e}")));
            }
        }
    }
    let s = list_status(ctx, &id)?;
    if !(s.starts_with("Up ") && s.ends_with(" (unhealthy)")) {
        return Err(fail(format!(
            "list Status: dockerd shows \"Up N seconds (unhealthy)\", got {s:?}"
        )));
    }
    expect_in_list(ctx, &id, "unhealthy", true)?;
    expect_in_list(ctx, &id, "none", false)?;
    // Let the check succeed: healthy, streak 0, the check's output logged.
    exec(ctx, &id, &["/probe", "write", "/data/ok", "yes"])?;
    let h = wait_health(ctx, &id, "the check now passing", |h| {
        status_is(h, "healthy")
    })?;
    if h["FailingStreak"] != 0 {
        return Err(fail(format!(
            "healthy: dockerd resets FailingStreak to 0, got {h}"
        )));
    }
    let last = log(&h).last().cloned().unwrap_or(Value::Null);
    if last["ExitCode"] != 0 || last["Output"] != "yes" {
        return Err(fail(format!(
            "the passing check's Log entry: dockerd has ExitCode 0 and Output \"yes\", got {last}"
        )));
    }
    expect_in_list(ctx, &id, "healthy", true)?;
    let s = list_status(ctx, &id)?;
    if !s.ends_with(" (healthy)") {
        return Err(fail(format!(
            "list Status: dockerd shows \"Up N seconds (healthy)\", got {s:?}"
        )));
    }
    // The Log keeps the last 5 results.
    let h = wait_health(ctx, &id, "more checks", |h| {
        log(h).iter().filter(|e| e["ExitCode"] == 0).count() >= 5
    })?;
    if log(&h).len() != 5 {
        return Err(fail(format!(
            "dockerd keeps 5 Log entries, got {}",
            log(&h).len()
        )));
    }
    let resp = ctx.stop(&id, 1)?;
    expect_status(&resp, 204, "stopping the container")?;
    let h = health(ctx, &id)?;
    if !status_is(&h, "unhealthy") {
        return Err(fail(format!(
            "a stopped container: dockerd keeps Health, Status \"unhealthy\"; got {h}"
        )));
    }
    // The changes of status were events.
    let until = now_secs() + 1;
    let filters = json!({"container": [id], "event": ["health_status"]});
    let resp = ctx.send(
        Req::get(format!(
            "/events?since={since}&until={until}&filters={}",
            enc(&filters.to_string())
        ))
        .timeout(Duration::from_secs(10)),
    )?;
    expect_status(&resp, 200, "reading the events")?;
    let text = resp.text();
    let actions: Vec<String> = serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .filter_map(|v| v.ok()?.get("Action")?.as_str().map(str::to_string))
        .collect();
    let want = ["health_status: unhealthy", "health_status: healthy"];
    if actions.len() < 2 || actions[..2] != want {
        return Err(fail(format!(
            "health_status events: dockerd emits {want:?} (one per change), got {actions:?}"
        )));
    }
    Ok(())
}

fn health_timeout(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let cfg = health_config(
        ctx,
        &["CMD", "/probe", "sleep", "100"],
        json!({"Timeout": 1000 * MS, "Retries": 1}),
    )?;
    let id = made.create(cfg, None)?;
    ctx.start(&id)?;
    let h = wait_health(ctx, &id, "checks that hang", |h| {
        status_is(h, "unhealthy") && log(h).len() >= 3
    })?;
    for e in log(&h) {
        if e["ExitCode"] != -1 || e["Output"] != "Health check exceeded timeout (1s)" {
            return Err(fail(format!(
                "a check past its timeout: dockerd logs ExitCode -1, Output \"Health check exceeded timeout (1s)\"; got {e}"
            )));
        }
    }
    // Each hanging check is killed at its timeout: none is left running, or
    // one seen running is gone a moment later (well before its `sleep 100`
    // could end). Not a count: a new check starts every 200 ms after the
    // last, and a busy dockerd takes its time to kill.
    let hanging = |ctx: &Ctx| -> Result<Vec<String>, Problem> {
        let resp = ctx.send(Req::get(format!("/containers/{}/top", enc(&id))))?;
        expect_status(&resp, 200, "top")?;
        let top = json_body(&resp, "top")?;
        let pid_col = top["Titles"]
            .as_array()
            .and_then(|t| t.iter().position(|x| x == "PID"))
            .ok_or_else(|| fail_at(&resp, "top has no PID title"))?;
        Ok(top["Processes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .filter(|r| r.last().and_then(Value::as_str) == Some("/probe sleep 100"))
            .filter_map(|r| r.get(pid_col).and_then(Value::as_str).map(str::to_string))
            .collect())
    };
    let mut seen: Vec<String> = Vec::new();
    let killed = ctx.poll(Duration::from_secs(20), || {
        let now = hanging(ctx)?;
        let gone = seen.iter().any(|p| !now.contains(p));
        seen.extend(
            now.iter()
                .filter(|p| !seen.contains(p))
                .cloned()
                .collect::<Vec<_>>(),
        );
        Ok((now.is_empty() || gone).then_some(()))
    })?;
    if killed.is_none() {
        return Err(fail(format!(
            "hanging checks (pids {seen:?}) all still run 20 s later: dockerd kills each at its timeout"
        )));
    }
    Ok(())
}

fn health_start_period_and_none(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let cfg = health_config(
        ctx,
        &["CMD", "/probe", "exit", "3"],
        json!({"StartPeriod": 3_600_000 * MS, "Retries": 1}),
    )?;
    let id = made.create(cfg, None)?;
    let none = made.create(health_config(ctx, &["NONE"], json!({}))?, None)?;
    ctx.start(&id)?;
    ctx.start(&none)?;
    let h = wait_health(ctx, &id, "failing checks in the start period", |h| {
        log(h).len() >= 2
    })?;
    if !status_is(&h, "starting") || h["FailingStreak"] != 0 {
        return Err(fail(format!(
            "failures within StartPeriod: dockerd stays \"starting\" with FailingStreak 0, got {h}"
        )));
    }
    if log(&h).iter().any(|e| e["ExitCode"] != 3) {
        return Err(fail(format!(
            "the check exits 3: dockerd logs ExitCode 3, got {h}"
        )));
    }
    let s = list_status(ctx, &id)?;
    if !s.ends_with(" (health: starting)") {
        return Err(fail(format!(
            "list Status: dockerd shows \"Up N seconds (health: starting)\", got {s:?}"
        )));
    }
    expect_in_list(ctx, &id, "starting", true)?;
    let h = health(ctx, &none)?;
    if !h.is_null() {
        return Err(fail(format!(
            "Test [\"NONE\"]: dockerd runs no check and shows no Health, got {h}"
        )));
    }
    let hc = &ctx.inspect(&none)?["Config"]["Healthcheck"];
    if *hc != json!({"Test": ["NONE"], "Interval": 200 * MS}) {
        return Err(fail(format!(
            "Config.Healthcheck: dockerd keeps what was sent, got {hc}"
        )));
    }
    expect_in_list(ctx, &none, "none", true)
}
