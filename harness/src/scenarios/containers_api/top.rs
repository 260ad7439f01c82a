//! `GET /containers/{id}/top?ps_args=...`: dockerd 20.10.24 runs the host's
//! `ps` with the given options and keeps the rows whose PID column names one
//! of the container's processes. Its answers (read from dockerd, same host
//! and ps as the engine's): `-o pid,args` gives Titles ["PID","COMMAND"];
//! options without a PID column are 500 "Couldn't find PID field in ps
//! output"; a failing ps is 500 "ps: " and the first line of its stderr.
//! Rows come in ps's order: ascending PIDs by default (ps walks /proc),
//! descending with `--sort=-pid`.

use super::{expect_error, Made};
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail_at, json_body, Ctx, Outcome};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![scenario("containers-api", "top-ps-args", true, top_ps_args)]
}

fn top(ctx: &Ctx, id: &str, args: &str) -> Result<crate::client::Response, crate::ground::Problem> {
    ctx.send(Req::get(format!(
        "/containers/{}/top?ps_args={}",
        enc(id),
        enc(args)
    )))
}

fn top_ps_args(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let id = made.create(ctx.probe_config(&["sleep", "300"])?, None)?;
    ctx.start(&id)?;
    let pid = ctx.inspect(&id)?["State"]["Pid"]
        .as_i64()
        .unwrap_or(0)
        .to_string();
    // Under load the container's process may still be runc's `runc init`
    // for a moment after the start answered (dockerd too): wait until it
    // has become the probe.
    let settled = ctx.poll(
        ctx.client.scaled(std::time::Duration::from_secs(10)),
        || {
            let resp = top(ctx, &id, "-o pid,args")?;
            Ok((resp.status != 200 || !resp.text().contains("runc init")).then_some(()))
        },
    )?;
    if settled.is_none() {
        return Err(crate::ground::fail(
            "the container's process was still `runc init` after 10 s",
        ));
    }
    let cases: [(&str, Value); 2] = [
        (
            "-o pid,args",
            json!({"Titles": ["PID", "COMMAND"], "Processes": [[pid, "/probe sleep 300"]]}),
        ),
        (
            "-o pid,comm -o user",
            json!({"Titles": ["PID", "COMMAND", "USER"], "Processes": [[pid, "probe", "root"]]}),
        ),
    ];
    for (args, want) in cases {
        let resp = top(ctx, &id, args)?;
        expect_status(&resp, 200, &format!("top with ps_args {args:?}"))?;
        let got = json_body(&resp, "top")?;
        if got != want {
            return Err(fail_at(
                &resp,
                format!("ps_args {args:?}: got {got}, dockerd answers {want}"),
            ));
        }
    }
    processes_in_pid_order(ctx, &id)?;
    let resp = top(ctx, &id, "-o args")?;
    expect_error(
        &resp,
        500,
        "Couldn't find PID field in ps output",
        "ps_args without a PID column",
    )?;
    let resp = top(ctx, &id, "--bogus")?;
    expect_error(
        &resp,
        500,
        "ps: error: unknown gnu long option",
        "ps_args ps refuses",
    )?;
    // dockerd: 404 "No such container: C" for a container nobody made.
    let gone = format!("shipshape-{}-no-such-container", ctx.run_id);
    let resp = top(ctx, &gone, "-o pid")?;
    expect_error(
        &resp,
        404,
        &format!("No such container: {gone}"),
        "top of an unknown container",
    )
}

/// PIDs of a top answer's rows, in its order (the PID column by title).
fn pids(v: &Value) -> Vec<i64> {
    let col = v["Titles"]
        .as_array()
        .and_then(|t| t.iter().position(|x| x == "PID"))
        .unwrap_or(usize::MAX);
    v["Processes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row.get(col)?.as_str()?.parse().ok())
        .collect()
}

/// Two execs beside the main process: default top lists the three in
/// ascending PID order, `--sort=-pid` in descending (dockerd keeps ps's).
fn processes_in_pid_order(ctx: &Ctx, id: &str) -> Outcome {
    for _ in 0..2 {
        let exec = crate::scenarios::streams::exec_create(
            ctx,
            id,
            json!({"Cmd": ["/probe", "sleep", "300"]}),
        )?;
        let resp = ctx
            .send(Req::post(format!("/exec/{}/start", enc(&exec))).json(json!({"Detach": true})))?;
        expect_status(&resp, 200, "detached exec start")?;
    }
    // Until both execs have become the probe (not `runc init`).
    let three = ctx.poll(
        ctx.client.scaled(std::time::Duration::from_secs(10)),
        || {
            let resp = top(ctx, id, "")?;
            let text = resp.text();
            Ok((resp.status == 200
                && !text.contains("runc init")
                && text.matches("/probe sleep 300").count() == 3)
                .then_some(resp))
        },
    )?;
    let Some(resp) = three else {
        return Err(crate::ground::fail(
            "top did not list the probe and its two execs within 10 s",
        ));
    };
    let got = pids(&json_body(&resp, "top")?);
    let mut sorted = got.clone();
    sorted.sort_unstable();
    if got.len() != 3 || got != sorted {
        return Err(fail_at(
            &resp,
            format!("top listed PIDs {got:?}; dockerd: the three in ascending order"),
        ));
    }
    let resp = top(ctx, id, "-o pid,args --sort=-pid")?;
    expect_status(&resp, 200, "top with --sort=-pid")?;
    let desc = pids(&json_body(&resp, "top")?);
    sorted.reverse();
    if desc != sorted {
        return Err(fail_at(
            &resp,
            format!(
                "top with --sort=-pid listed PIDs {desc:?}; dockerd keeps ps's order: {sorted:?}"
            ),
        ));
    }
    Ok(())
}
