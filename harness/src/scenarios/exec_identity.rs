//! Exec's identity: generated combinations of `User`, `WorkingDir` and
//! `Env` run with exactly the identity dockerd 20.10.24 gives them (read
//! with `docker exec` on this host, fixture image):
//!
//! * users by name and number resolve through the image's /etc/passwd and
//!   /etc/group: `root` 0:0 (HOME /root), `probe` and `1000` 1000:1000
//!   (HOME /data), `nobody` 65534:65534 (HOME /nonexistent), `4242` (not
//!   in passwd) 4242:0 with HOME /, `probe:nogroup` 1000:65534, `0:1000`;
//! * the working directory is `WorkingDir`, else the container's (/);
//! * the environment is the container's (PATH, HOSTNAME = the short id,
//!   its Env) with the exec's `Env` replacing or adding variables in order
//!   (a later duplicate wins), plus HOME from the user unless `Env` sets it
//!   to something not empty;
//! * inspect shows `ExitCode` 0, `Running` false and `ProcessConfig.user`
//!   (absent when empty) and `privileged` as created;
//! * `POST /exec/{id}/resize?h=x` is 400 `strconv.Atoi: parsing "x":
//!   invalid syntax`.

use super::containers_api::{expect_error, Made};
use super::{scenario, Scenario};
use crate::client::{demux, enc, Req};
use crate::ground::{expect_status, fail, fail_at, json_body, property, Ctx, Outcome, Problem};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

pub fn scenarios() -> Vec<Scenario> {
    vec![scenario("exec", "identity-property", true, identity)]
}

/// (User as given, "uid:gid" it runs as, its HOME).
const USERS: &[(&str, &str, &str)] = &[
    ("", "0:0", "/root"),
    ("root", "0:0", "/root"),
    ("probe", "1000:1000", "/data"),
    ("1000", "1000:1000", "/data"),
    ("nobody", "65534:65534", "/nonexistent"),
    ("4242", "4242:0", "/"),
    ("4242:4243", "4242:4243", "/"),
    ("probe:nogroup", "1000:65534", "/data"),
    ("0:1000", "0:1000", "/root"),
];

const WORKDIRS: &[&str] = &["", "/", "/data", "/tmp", "/etc"];

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone)]
struct Case {
    user: usize,
    workdir: usize,
    env: Vec<(String, String)>,
}

fn case() -> impl Strategy<Value = Case> {
    let name = prop_oneof![
        "[A-Z]{1,3}",
        Just("SHARED".to_string()),
        Just("HOME".to_string()),
        Just("PATH".to_string()),
    ];
    (
        0..USERS.len(),
        0..WORKDIRS.len(),
        prop::collection::vec((name, "[a-z0-9=/]{0,6}"), 0..5),
    )
        .prop_map(|(user, workdir, env)| Case { user, workdir, env })
}

fn run_case(ctx: &Ctx, id: &str, c: &Case) -> Outcome {
    let (user, ids, home) = USERS[c.user];
    let workdir = WORKDIRS[c.workdir];
    let env: Vec<String> = c.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut body = json!({"Cmd": ["/probe", "uid", "--", "cwd", "--", "env"],
        "AttachStdout": true, "AttachStderr": true, "Env": env, "Privileged": false});
    if !user.is_empty() {
        body["User"] = json!(user);
    }
    if !workdir.is_empty() {
        body["WorkingDir"] = json!(workdir);
    }
    let exec = crate::scenarios::streams::exec_create(ctx, id, body)?;
    let resp =
        ctx.send(Req::post(format!("/exec/{}/start", enc(&exec))).json(json!({"Detach": false})))?;
    expect_status(&resp, 200, "exec start")?;
    let out = demux(&resp.body).map_err(|e| fail_at(&resp, format!("exec stream: {e}")))?;
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("PATH".into(), PATH.into());
    vars.insert("HOSTNAME".into(), id.chars().take(12).collect());
    vars.insert("C".into(), "container".into());
    vars.insert("SHARED".into(), "c".into());
    for (k, v) in &c.env {
        vars.insert(k.clone(), v.clone());
    }
    if vars.get("HOME").is_none_or(String::is_empty) {
        vars.insert("HOME".into(), home.to_string());
    }
    let mut want = vec![
        ids.to_string(),
        if workdir.is_empty() { "/" } else { workdir }.to_string(),
    ];
    want.extend(vars.iter().map(|(k, v)| format!("{k}={v}")));
    let got: Vec<String> = out.stdout_text().lines().map(String::from).collect();
    if got != want {
        return Err(fail_at(
            &resp,
            format!(
                "exec as {user:?} in {workdir:?} with Env {env:?} printed {got:?} (stderr {:?}); \
                 dockerd: {want:?}",
                out.stderr_text()
            ),
        ));
    }
    let resp = ctx.send(Req::get(format!("/exec/{}/json", enc(&exec))))?;
    expect_status(&resp, 200, "exec inspect")?;
    let v = json_body(&resp, "exec inspect")?;
    let pc = &v["ProcessConfig"];
    // `user` is left out when empty (Go's omitempty).
    let pc_user = pc.get("user").and_then(|u| u.as_str()).unwrap_or("");
    if v["ExitCode"] != 0 || v["Running"] != false || pc_user != user || pc["privileged"] != false {
        return Err(fail_at(
            &resp,
            format!(
                "exec inspect {v}; dockerd: ExitCode 0, Running false, ProcessConfig.user \
                 {user:?}, privileged false"
            ),
        ));
    }
    Ok(())
}

fn identity(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let mut config = ctx.probe_config(&["sleep", "300"])?;
    config["Env"] = json!(["C=container", "SHARED=c"]);
    let id = made.create(config, None)?;
    ctx.start(&id)?;
    let exec =
        crate::scenarios::streams::exec_create(ctx, &id, json!({"Cmd": ["/probe", "exit", "0"]}))?;
    let resp = ctx.send(Req::post(format!("/exec/{}/resize?h=x&w=10", enc(&exec))))?;
    expect_error(
        &resp,
        400,
        "strconv.Atoi: parsing \"x\": invalid syntax",
        "exec resize with h=x",
    )?;
    let strategy = prop::collection::vec(case(), 1..4);
    property::check(ctx, "exec/identity-property", strategy, |cases| {
        for c in cases {
            run_case(ctx, &id, c).map_err(|p| match p {
                Problem::Fail(f) => fail(f.reason),
                skip => skip,
            })?;
        }
        Ok(())
    })
}
