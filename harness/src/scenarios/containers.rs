//! Container lifecycle basics that the error paths and properties rely on.

use super::{scenario, Scenario};
use crate::client::{demux, enc, Req};
use crate::fixture;
use crate::ground::spec::expectation;
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem, RUN_LABEL};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("containers", "create-and-inspect", true, create_and_inspect),
        scenario("containers", "run-exit-code", true, run_exit_code),
        scenario("containers", "logs-multiplexed", true, logs_multiplexed),
        scenario("containers", "attach-hijack", true, attach_hijack),
        scenario("containers", "attach-stdin", true, attach_stdin),
        scenario("containers", "stop-sends-sigterm", true, stop_sigterm),
        scenario("containers", "env-and-workdir", true, env_and_workdir),
        scenario("containers", "user-by-name", true, user_by_name),
        scenario("containers", "hostname", true, hostname),
        scenario("containers", "list-by-label", true, list_by_label),
        scenario("containers", "changes", true, changes),
        scenario("containers", "remove", true, remove),
    ]
}

fn str_at<'v>(v: &'v Value, ptr: &str) -> &'v str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn create_and_inspect(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let e = expectation("containers/create-and-inspect")?;
    let name = ctx.unique_name("inspect");
    let resp = ctx.send(
        Req::post(format!("/containers/create?name={}", enc(&name)))
            .json(ctx.probe_config(&["exit", "0"])?),
    )?;
    e.check(&resp, &[])?;
    let id = resp
        .json()
        .ok()
        .and_then(|v| v.get("Id")?.as_str().map(str::to_string))
        .unwrap_or_default();
    let result = (|| {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(e.fail(Some(&resp), format!("Id {id:?} is not 64 hex digits"), &[]));
        }
        let ins = ctx.send(Req::get(format!("/containers/{}/json", enc(&name))))?;
        expect_status(&ins, 200, "inspecting by name")?;
        let v = json_body(&ins, "inspect")?;
        let checks: [(bool, String); 7] = [
            (
                str_at(&v, "/Id") == id,
                format!("Id {:?}", str_at(&v, "/Id")),
            ),
            (
                str_at(&v, "/Name") == format!("/{name}"),
                format!("Name {:?}, expected \"/{name}\"", str_at(&v, "/Name")),
            ),
            (
                str_at(&v, "/State/Status") == "created",
                format!(
                    "State.Status {:?}, expected \"created\"",
                    str_at(&v, "/State/Status")
                ),
            ),
            (
                str_at(&v, "/Image") == image.id,
                format!("Image {:?}, expected {:?}", str_at(&v, "/Image"), image.id),
            ),
            (
                str_at(&v, "/Path") == fixture::PROBE_PATH,
                format!("Path {:?}", str_at(&v, "/Path")),
            ),
            (
                v.get("Args") == Some(&json!(["exit", "0"])),
                format!("Args {:?}", v.get("Args")),
            ),
            (
                str_at(
                    &v,
                    &format!("/Config/Labels/{}", RUN_LABEL.replace('/', "~1")),
                ) == ctx.run_id
                    && str_at(&v, "/Config/Labels/io.shipshape.fixture") == "probe",
                format!(
                    "Config.Labels {:?} should hold the run label and the image's label",
                    v.pointer("/Config/Labels")
                ),
            ),
        ];
        for (ok, what) in checks {
            if !ok {
                return Err(e.fail(Some(&ins), what, &[]));
            }
        }
        // Sizes only with size=1 (dockerd 20.10.24: SizeRw 0 and SizeRootFs
        // the image's size for a created container; neither key without).
        if v.get("SizeRw").is_some() || v.get("SizeRootFs").is_some() {
            return Err(e.fail(Some(&ins), "SizeRw/SizeRootFs without size=1", &[]));
        }
        let sized = ctx.send(Req::get(format!("/containers/{}/json?size=1", enc(&name))))?;
        expect_status(&sized, 200, "inspecting with size=1")?;
        let sv = json_body(&sized, "inspect size=1")?;
        if sv.get("SizeRw") != Some(&json!(0)) || !sv.get("SizeRootFs").is_some_and(Value::is_i64) {
            return Err(e.fail(
                Some(&sized),
                format!(
                    "size=1: SizeRw {:?}, SizeRootFs {:?}; dockerd: 0 and the image's size",
                    sv.get("SizeRw"),
                    sv.get("SizeRootFs")
                ),
                &[],
            ));
        }
        Ok(())
    })();
    if !id.is_empty() {
        ctx.remove(&id);
    }
    result
}

fn run_exit_code(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let (id, code, _) = ctx.run_probe(&image.tag, &["exit", "3"])?;
    let result = (|| {
        if code != 3 {
            return Err(fail(format!("wait reported StatusCode {code}, expected 3")));
        }
        let v = ctx.inspect(&id)?;
        if str_at(&v, "/State/Status") != "exited"
            || v.pointer("/State/ExitCode") != Some(&json!(3))
        {
            return Err(fail(format!(
                "State {:?}, expected Status \"exited\" and ExitCode 3",
                v.get("State")
            )));
        }
        Ok(())
    })();
    ctx.remove(&id);
    result
}

fn logs_multiplexed(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let (id, code, logs) = ctx.run_probe(&image.tag, &["lines", "3", "--", "stderr", "oops"])?;
    let res = (|| {
        if code != 0 {
            return Err(fail(format!("probe exited {code}")));
        }
        if logs.stdout_text() != "line 1\nline 2\nline 3\n" || logs.stderr_text() != "oops\n" {
            return Err(fail(format!(
                "stdout {:?} / stderr {:?}, expected \"line 1\\nline 2\\nline 3\\n\" / \"oops\\n\"",
                logs.stdout_text(),
                logs.stderr_text()
            )));
        }
        logs_options(ctx, &id)
    })();
    ctx.remove(&id);
    res
}

/// `tail` and `timestamps` on the same logs, as dockerd 20.10.24 answers
/// them (`curl .../logs?stdout=1&stderr=1&tail=1` and so on, 2026-12-03):
/// `tail` counts the last lines of both streams together (which of
/// `line 3` and `oops` came last is the container's timing), `tail=0`
/// gives nothing, `tail=all` every line; `timestamps=1` puts each line
/// after an RFC 3339 UTC time with nanoseconds and a space.
fn logs_options(ctx: &Ctx, id: &str) -> Outcome {
    let logs = |q: &str| -> Result<crate::client::Demuxed, Problem> {
        let resp = ctx.send(Req::get(format!("/containers/{}/logs?{q}", enc(id))))?;
        expect_status(&resp, 200, "reading logs")?;
        demux(&resp.body).map_err(|e| {
            fail_at(
                &resp,
                format!("logs are not a valid multiplexed stream: {e}"),
            )
        })
    };
    let stdout =
        |q: &str| -> Result<String, Problem> { Ok(logs(&format!("stdout=1&{q}"))?.stdout_text()) };
    let last = logs("stdout=1&stderr=1&tail=1")?;
    let one = (last.stdout_text(), last.stderr_text());
    if one != ("line 3\n".into(), String::new()) && one != (String::new(), "oops\n".into()) {
        return Err(fail(format!(
            "logs?stdout=1&stderr=1&tail=1: stdout {:?}, stderr {:?}; expected only the last line written (\"line 3\" or \"oops\")",
            one.0, one.1
        )));
    }
    for (q, want) in [("tail=0", ""), ("tail=all", "line 1\nline 2\nline 3\n")] {
        let got = stdout(q)?;
        if got != want {
            return Err(fail(format!(
                "logs?stdout=1&{q}: {got:?}, expected {want:?}"
            )));
        }
    }
    let stamped = stdout("timestamps=1")?;
    let lines: Vec<&str> = stamped.lines().collect();
    let ok = lines.len() == 3
        && lines.iter().enumerate().all(|(i, l)| {
            l.split_once(' ').is_some_and(|(t, rest)| {
                rest == format!("line {}", i + 1)
                    && t.ends_with('Z')
                    && t.contains('.')
                    && chrono::DateTime::parse_from_rfc3339(t).is_ok()
            })
        });
    if !ok {
        return Err(fail(format!(
            "logs?stdout=1&timestamps=1: {stamped:?}, expected each line after an RFC 3339 time (2026-12-03T16:54:36.611537661Z line 1)"
        )));
    }
    Ok(())
}

fn attach_hijack(ctx: &Ctx) -> Outcome {
    let e = expectation("containers/attach-hijack")?;
    let id = ctx.create(
        ctx.probe_config(&["lines", "3", "--", "stderr", "oops"])?,
        None,
    )?;
    let result = (|| {
        let mut att = match ctx.client.attach(&id, false)? {
            Ok(a) => a,
            Err(resp) => {
                return Err(e.fail(
                    Some(&resp),
                    format!("expected 101, got {}", crate::ground::describe(&resp)),
                    &[],
                ))
            }
        };
        let version = ctx
            .client
            .api_version()
            .unwrap_or(crate::client::MAX_API_VERSION);
        for (h, want) in &e.header_values_at(version) {
            if att.header(h) != Some(want.as_str()) {
                let got = att.header(h).map(str::to_string);
                return Err(crate::ground::Problem::Fail(crate::ground::Failure {
                    reason: format!("header {h}: expected {want:?}, got {got:?}"),
                    exchange: Some(att.exchange),
                    expected: Some(e.summary(&[])),
                    source: Some(e.source.clone()),
                    notes: vec![],
                }));
            }
        }
        ctx.start(&id)?;
        let raw = att.read_to_end(Duration::from_secs(30))?;
        let out = demux(&raw).map_err(|m| fail(format!("attach stream: {m}")))?;
        if out.stdout_text() != "line 1\nline 2\nline 3\n" || out.stderr_text() != "oops\n" {
            return Err(fail(format!(
                "attach stdout {:?} / stderr {:?}",
                out.stdout_text(),
                out.stderr_text()
            )));
        }
        let code = ctx.wait(&id)?;
        if code != 0 {
            return Err(fail(format!("exit code {code}, expected 0")));
        }
        Ok(())
    })();
    ctx.remove(&id);
    result
}

fn attach_stdin(ctx: &Ctx) -> Outcome {
    let mut cfg = ctx.probe_config(&["cat"])?;
    cfg["OpenStdin"] = json!(true);
    cfg["StdinOnce"] = json!(true);
    cfg["AttachStdin"] = json!(true);
    cfg["AttachStdout"] = json!(true);
    cfg["AttachStderr"] = json!(true);
    let id = ctx.create(cfg, None)?;
    let result = (|| {
        let mut att = match ctx.client.attach(&id, true)? {
            Ok(a) => a,
            Err(resp) => {
                return Err(fail_at(
                    &resp,
                    format!("expected 101, got {}", crate::ground::describe(&resp)),
                ))
            }
        };
        ctx.start(&id)?;
        att.write(b"hello through stdin\n")?;
        // Half-close: with StdinOnce the container sees EOF and `cat` ends.
        att.close_stdin()?;
        let raw = att.read_to_end(Duration::from_secs(30))?;
        let out = demux(&raw).map_err(|m| fail(format!("attach stream: {m}")))?;
        if out.stdout_text() != "hello through stdin\n" {
            return Err(fail(format!("echoed stdout {:?}", out.stdout_text())));
        }
        let code = ctx.wait(&id)?;
        if code != 0 {
            return Err(fail(format!("exit code {code}, expected 0")));
        }
        Ok(())
    })();
    ctx.remove(&id);
    result
}

fn stop_sigterm(ctx: &Ctx) -> Outcome {
    let id = ctx.create(ctx.probe_config(&["trap-term", "7"])?, None)?;
    let result = (|| {
        ctx.start(&id)?;
        // Stop only once the handler is installed, or SIGTERM is ignored
        // (PID 1) and stop would fall back to SIGKILL after the timeout.
        let ready = ctx.poll(Duration::from_secs(15), || {
            Ok(ctx
                .logs(&id)?
                .stdout_text()
                .contains("waiting for SIGTERM")
                .then_some(()))
        })?;
        if ready.is_none() {
            return Err(fail("the probe never reported its SIGTERM handler ready"));
        }
        let resp = ctx.stop(&id, 20)?;
        expect_status(&resp, 204, "stopping")?;
        let v = ctx.inspect(&id)?;
        if v.pointer("/State/ExitCode") != Some(&json!(7))
            || str_at(&v, "/State/Status") != "exited"
        {
            return Err(fail(format!(
                "State {:?}: expected exited with the handler's code 7 (SIGTERM delivered first)",
                v.get("State")
            )));
        }
        Ok(())
    })();
    ctx.remove(&id);
    result
}

fn env_and_workdir(ctx: &Ctx) -> Outcome {
    let mut cfg = ctx.probe_config(&["env", "--", "cwd"])?;
    cfg["Env"] = json!(["SHIPSHAPE_GREETING=hello world"]);
    cfg["WorkingDir"] = json!("/tmp");
    let id = ctx.create(cfg, None)?;
    let result = (|| {
        ctx.start(&id)?;
        let code = ctx.wait(&id)?;
        let out = ctx.logs(&id)?.stdout_text();
        let lines: BTreeSet<&str> = out.lines().collect();
        if code != 0
            || !lines.contains("SHIPSHAPE_GREETING=hello world")
            || !lines.contains(fixture::DEFAULT_PATH)
            || out.lines().last() != Some("/tmp")
        {
            return Err(fail(format!(
                "exit {code}, output {out:?}: expected the Env entry, the image's PATH and cwd /tmp"
            )));
        }
        Ok(())
    })();
    ctx.remove(&id);
    result
}

fn user_by_name(ctx: &Ctx) -> Outcome {
    let mut cfg = ctx.probe_config(&["uid"])?;
    cfg["User"] = json!("probe");
    let id = ctx.create(cfg, None)?;
    let result = (|| {
        ctx.start(&id)?;
        let code = ctx.wait(&id)?;
        let out = ctx.logs(&id)?;
        if code != 0 || out.stdout_text() != "1000:1000\n" {
            return Err(fail(format!(
                "exit {code}, stdout {:?}, stderr {:?}: expected \"1000:1000\" (user probe in the image's /etc/passwd)",
                out.stdout_text(),
                out.stderr_text()
            )));
        }
        Ok(())
    })();
    ctx.remove(&id);
    result
}

fn hostname(ctx: &Ctx) -> Outcome {
    let mut cfg = ctx.probe_config(&["hostname"])?;
    cfg["Hostname"] = json!("shipshape-host");
    let id = ctx.create(cfg, None)?;
    let result = (|| {
        ctx.start(&id)?;
        let code = ctx.wait(&id)?;
        let out = ctx.logs(&id)?.stdout_text();
        if code != 0 || out != "shipshape-host\n" {
            return Err(fail(format!(
                "exit {code}, output {out:?}, expected \"shipshape-host\\n\""
            )));
        }
        Ok(())
    })();
    ctx.remove(&id);
    result
}

fn list_by_label(ctx: &Ctx) -> Outcome {
    // Two containers under a label of this scenario's own (for `limit`).
    let mine = ctx.unique_name("list");
    let mut cfg = ctx.probe_config(&["exit", "0"])?;
    cfg["Labels"]["io.shipshape.list"] = json!(mine);
    let id = ctx.create(cfg.clone(), None)?;
    let newer = match ctx.create(cfg, None) {
        Ok(n) => n,
        Err(e) => {
            ctx.remove(&id);
            return Err(e);
        }
    };
    let result = (|| {
        // dockerd lists newest first, and `limit=1` keeps the newest.
        let filters = json!({"label": [format!("io.shipshape.list={mine}")]}).to_string();
        let resp = ctx.send(Req::get(format!(
            "/containers/json?all=1&limit=1&filters={}",
            enc(&filters)
        )))?;
        expect_status(&resp, 200, "listing containers with limit=1")?;
        let body = json_body(&resp, "container list")?;
        let ids: Vec<&str> = body
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("Id").and_then(Value::as_str))
            .collect();
        if ids != [newer.as_str()] {
            return Err(fail_at(
                &resp,
                format!(
                    "limit=1 over two containers listed {ids:?}; dockerd: only the newer, {newer}"
                ),
            ));
        }
        let filters = json!({"label": [format!("{RUN_LABEL}={}", ctx.run_id)]}).to_string();
        let resp = ctx.send(Req::get(format!(
            "/containers/json?all=1&filters={}",
            enc(&filters)
        )))?;
        expect_status(&resp, 200, "listing containers")?;
        let body = json_body(&resp, "container list")?;
        let items = body
            .as_array()
            .ok_or_else(|| fail_at(&resp, "the container list is not a JSON array"))?;
        let ours = items
            .iter()
            .find(|c| c.get("Id").and_then(Value::as_str) == Some(id.as_str()))
            .ok_or_else(|| fail_at(&resp, "the new container is not listed under its label"))?;
        if str_at(ours, "/State") != "created" || !ours.get("Names").is_some_and(Value::is_array) {
            return Err(fail_at(
                &resp,
                format!("entry {ours}: expected State \"created\" and a Names array"),
            ));
        }
        // The filter must exclude containers without the label.
        let foreign = items.iter().find(|c| {
            c.pointer(&format!("/Labels/{RUN_LABEL}"))
                .and_then(Value::as_str)
                != Some(ctx.run_id.as_str())
        });
        if let Some(c) = foreign {
            return Err(fail_at(&resp, format!("the label filter let through {c}")));
        }
        Ok(())
    })();
    ctx.remove(&id);
    ctx.remove(&newer);
    result
}

/// Parses `GET /containers/{id}/changes` into (path, kind) pairs; dockerd
/// answers `null` when nothing changed.
pub fn parse_changes(v: &Value) -> Result<BTreeSet<(String, i64)>, String> {
    match v {
        Value::Null => Ok(BTreeSet::new()),
        Value::Array(items) => items
            .iter()
            .map(|c| {
                let p = c.get("Path").and_then(Value::as_str);
                let k = c.get("Kind").and_then(Value::as_i64);
                match (p, k) {
                    (Some(p), Some(k)) => Ok((p.to_string(), k)),
                    _ => Err(format!("bad change entry {c}")),
                }
            })
            .collect(),
        other => Err(format!("expected an array or null, got {other}")),
    }
}

fn changes(ctx: &Ctx) -> Outcome {
    let e = expectation("containers/changes")?;
    let args = [
        "write",
        "/data/added",
        "new",
        "--",
        "append",
        "/data/alpha",
        "more",
        "--",
        "delete",
        "/data/beta",
    ];
    let image = ctx.image()?;
    let (id, code, logs) = ctx.run_probe(&image.tag, &args)?;
    let result = (|| {
        if code != 0 {
            return Err(fail(format!("probe exited {code}: {}", logs.stderr_text())));
        }
        let resp = ctx.send(Req::get(format!("/containers/{}/changes", enc(&id))))?;
        e.check(&resp, &[])?;
        let got = parse_changes(&json_body(&resp, "changes")?)
            .map_err(|m| e.fail(Some(&resp), m, &[]))?;
        let want: BTreeSet<(String, i64)> = [
            ("/data", 0),
            ("/data/added", 1),
            ("/data/alpha", 0),
            ("/data/beta", 2),
        ]
        .iter()
        .map(|(p, k)| (p.to_string(), *k))
        .collect();
        if got != want {
            return Err(e.fail(
                Some(&resp),
                format!("changes {got:?}, expected {want:?}"),
                &[],
            ));
        }
        Ok(())
    })();
    ctx.remove(&id);
    result
}

fn remove(ctx: &Ctx) -> Outcome {
    let id = ctx.create(ctx.probe_config(&["exit", "0"])?, None)?;
    let resp = ctx.send(Req::delete(format!("/containers/{}", enc(&id))))?;
    if resp.status != 204 {
        ctx.remove(&id);
        return expect_status(&resp, 204, "removing a created container");
    }
    let gone = ctx.send(Req::get(format!("/containers/{}/json", enc(&id))))?;
    expectation("errors/unknown-container")?.check(&gone, &[("name", &id)])
}
