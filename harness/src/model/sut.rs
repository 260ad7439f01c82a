//! Runs model sequences against an endpoint, step by step, and compares each
//! answer with the model's [`Prediction`]; shrinks failures with proptest,
//! persists their seeds in a proptest regression file and prints a replay
//! script of curl commands.

use super::{precondition, sequences, step, FileWrite, Op, Place, Prediction, State, Support};
use crate::client::{demux, enc, Req, Response, Target};
use crate::filetree::{parse_dump, show, Tree};
use crate::ground::{fail, seed_bytes, Ctx, Outcome, Problem, COMMIT_REPO, RUN_LABEL};
use crate::{fixture, schema};
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// Marker the containers' guarded first-start block leaves behind.
const MARKER: &str = "/tmp/.m";

/// Scenario name, also the seed label.
pub const NAME: &str = "model/lifecycle";

/// Env var overriding where failing seeds are persisted ("" disables).
pub const REGRESSIONS_ENV: &str = "SHIPSHAPE_MODEL_REGRESSIONS";

/// The repo's regression file (used when the source tree is present).
pub const REPO_REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../proptest-regressions/model-lifecycle.txt"
);

#[derive(Debug, Clone)]
pub struct ModelOptions {
    pub cases: u32,
    pub seed: u64,
    /// Steps per sequence: 1..max_len.
    pub max_len: usize,
    pub max_shrink_iters: u32,
    pub regressions: Option<PathBuf>,
}

impl ModelOptions {
    pub fn for_ctx(ctx: &Ctx) -> Self {
        let regressions = match std::env::var(REGRESSIONS_ENV) {
            Ok(p) if p.is_empty() => None,
            Ok(p) => Some(PathBuf::from(p)),
            Err(_) => {
                let p = PathBuf::from(REPO_REGRESSIONS);
                let dir_exists = p.parent().is_some_and(|d| d.is_dir());
                dir_exists.then_some(p)
            }
        };
        ModelOptions {
            cases: ctx.cases.max(1),
            seed: ctx.seed,
            max_len: 14,
            max_shrink_iters: 200,
            regressions,
        }
    }
}

/// True when an answer means "this route does not exist here": dockerd's
/// router answers an unknown route 404 {"message":"page not found"}; some
/// endpoints answer 501.
pub fn route_missing(resp: &Response) -> bool {
    resp.status == 501
        || (resp.status == 404 && resp.message().is_some_and(|m| m.trim() == "page not found"))
}

/// Asks harmless questions about a container/volume that does not exist:
/// Docker answers 404 "No such container"/"no such volume"; an endpoint
/// without the route answers 404 "page not found" (or 501).
pub fn probe_support(ctx: &Ctx) -> Result<Support, Problem> {
    let ghost = format!("shipshape-{}-no-such-thing", ctx.run_id);
    let missing = |req: Req| -> Result<bool, Problem> { Ok(route_missing(&ctx.send(req)?)) };
    Ok(Support {
        pause: !missing(Req::post(format!("/containers/{ghost}/pause")))?
            && !missing(Req::post(format!("/containers/{ghost}/unpause")))?,
        exec: !missing(
            Req::post(format!("/containers/{ghost}/exec")).json(json!({"Cmd": ["/probe"]})),
        )? && !missing(Req::get(format!("/exec/{ghost}/json")))?,
        volumes: !missing(Req::get(format!("/volumes/{ghost}")))?,
        commit: !missing(Req::post(format!("/commit?container={ghost}")))?,
    })
}

/// Why a step went wrong.
#[derive(Debug, Clone)]
pub struct StepFailure {
    pub step: usize,
    pub reason: String,
    pub exchange: Option<usize>,
}

type StepResult = Result<(), (String, Option<usize>)>;

fn at(resp: &Response, reason: impl Into<String>) -> (String, Option<usize>) {
    (reason.into(), Some(resp.exchange))
}

fn describe(resp: &Response) -> String {
    match resp.message() {
        Some(m) if resp.status >= 300 => format!("{} {:?}", resp.status, m),
        _ => resp.status.to_string(),
    }
}

fn want_status(resp: &Response, want: u16, what: &str) -> StepResult {
    if resp.status == want {
        Ok(())
    } else {
        Err(at(
            resp,
            format!(
                "{what}: model predicts {want}, endpoint answered {}",
                describe(resp)
            ),
        ))
    }
}

fn body_json(resp: &Response, what: &str) -> Result<Value, (String, Option<usize>)> {
    resp.json().map_err(|e| at(resp, format!("{what}: {e}")))
}

/// Checks a JSON answer against the Engine API schema.
fn check_schema(resp: &Response, def: &str, version: crate::client::ApiVersion) -> StepResult {
    let v = body_json(resp, def)?;
    schema::validate(def, &v, version).map_err(|e| at(resp, format!("schema {def}: {e}")))
}

/// Names of one case's objects: containers `shipshape-<run>-m<case>-k<i>`,
/// volumes `…-v<i>`, tags `shipshape-commit:<run>-m<case>-<sym>`.
#[derive(Debug, Clone)]
pub struct Names {
    pub prefix: String,
    pub tag_prefix: String,
    pub fixture_ref: String,
}

impl Names {
    pub fn container(&self, i: usize) -> String {
        format!("{}-k{i}", self.prefix)
    }
    pub fn volume(&self, v: usize) -> String {
        format!("{}-v{v}", self.prefix)
    }
    pub fn tag(&self, sym: &str) -> String {
        format!("{}-{sym}", self.tag_prefix)
    }
    pub fn tag_ref(&self, sym: &str) -> String {
        format!("{COMMIT_REPO}:{}", self.tag(sym))
    }
    /// The reference a step uses for image `i` in state `s`: the fixture's
    /// run tag, else the image's first model tag.
    pub fn image_ref(&self, s: &State, i: usize) -> String {
        if i == 0 {
            return self.fixture_ref.clone();
        }
        s.images
            .get(i)
            .and_then(|im| im.tags.first())
            .map(|t| self.tag_ref(t))
            .unwrap_or_else(|| format!("{}-image{i}-untagged", self.tag_prefix))
    }
}

/// The container's command: a guarded first-start block (the optional write
/// and the marker), then wait for SIGTERM (server) or exit (oneshot).
pub fn container_cmd(server: bool, code: i64, write: &Option<FileWrite>) -> Vec<String> {
    let mut v: Vec<String> = vec![fixture::PROBE_PATH.into(), "guard".into(), MARKER.into()];
    v.push("--".into());
    if let Some(w) = write {
        v.extend([
            "write".into(),
            format!("{}/{}", w.place.dir(), w.name),
            w.content.clone(),
            "--".into(),
        ]);
    }
    v.extend([
        "write".into(),
        MARKER.into(),
        "1".into(),
        "--".into(),
        "end".into(),
        "--".into(),
    ]);
    v.push(if server { "trap-term" } else { "exit" }.into());
    v.push(code.to_string());
    v
}

fn exec_cmd(op: &Op, s: &State) -> Vec<String> {
    let mut v: Vec<String> = vec![fixture::PROBE_PATH.into()];
    match op {
        Op::ExecWrite { write, .. } => v.extend([
            "write".into(),
            format!("{}/{}", write.place.dir(), write.name),
            write.content.clone(),
        ]),
        Op::ExecDelete { name, .. } => v.extend(["delete".into(), format!("/data/{name}")]),
        Op::ExecDump(c) => {
            v.extend(["dump".into(), "/data".into()]);
            if s.containers.get(*c).and_then(|c| c.volume).is_some() {
                v.extend(["--".into(), "dump".into(), "/vol".into()]);
            }
        }
        _ => {}
    }
    v
}

/// One case against the endpoint.
struct Sut<'c, 'a> {
    ctx: &'c Ctx<'a>,
    names: Names,
    version: crate::client::ApiVersion,
    /// Image IDs by model index (None until known / when creation failed).
    image_ids: Vec<Option<String>>,
    ncontainers: usize,
    nvolumes: usize,
    tags: Vec<String>,
    views: u32,
}

impl<'c, 'a> Sut<'c, 'a> {
    fn container_path(&self, i: usize, rest: &str) -> String {
        format!("/containers/{}{rest}", enc(&self.names.container(i)))
    }

    fn send(&self, req: Req) -> Result<Response, (String, Option<usize>)> {
        self.ctx.send(req).map_err(|p| (problem_text(p), None))
    }

    /// Compares `State` of container `i` with the model's.
    fn check_container(&self, s: &State, i: usize) -> StepResult {
        let resp = self.send(Req::get(self.container_path(i, "/json")))?;
        let Some(c) = s.containers.get(i) else {
            return Ok(());
        };
        let Some(status) = c.status.docker() else {
            return want_status(&resp, 404, "inspecting a removed container");
        };
        want_status(&resp, 200, "inspecting the container")?;
        check_schema(&resp, "ContainerInspect", self.version)?;
        let v = body_json(&resp, "inspect")?;
        let got = json!({
            "Status": v.pointer("/State/Status"),
            "Running": v.pointer("/State/Running"),
            "Paused": v.pointer("/State/Paused"),
            "ExitCode": v.pointer("/State/ExitCode"),
        });
        let running = matches!(
            c.status,
            super::Status::Running | super::Status::Paused | super::Status::Restarting
        );
        let want = json!({
            "Status": status,
            "Running": running,
            "Paused": c.status == super::Status::Paused,
            "ExitCode": c.exit_code,
        });
        if got != want {
            return Err(at(&resp, format!("State is {got}, model predicts {want}")));
        }
        Ok(())
    }

    /// After a start: servers must reach their SIGTERM handler (else a stop
    /// could race it); oneshots must have exited.
    fn settle(&self, s: &State, i: usize) -> StepResult {
        let Some(c) = s.containers.get(i) else {
            return Ok(());
        };
        if !c.server {
            let resp = self.send(
                Req::post(self.container_path(i, "/wait")).timeout(Duration::from_secs(30)),
            )?;
            return want_status(&resp, 200, "waiting for the oneshot container to exit");
        }
        let want = c.starts as usize;
        for _ in 0..200 {
            let resp = self.send(Req::get(self.container_path(i, "/logs?stdout=1&stderr=1")))?;
            want_status(&resp, 200, "reading logs")?;
            let d = demux(&resp.body).map_err(|e| at(&resp, format!("logs: {e}")))?;
            if d.stdout_text().matches("waiting for SIGTERM").count() >= want {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err((
            format!("the server container did not reach start #{want} within 10 s"),
            None,
        ))
    }

    fn dump_compare(&self, resp: &Response, out: &str, p: &Prediction) -> StepResult {
        let mut block = 0;
        if let Some(want) = &p.data {
            let got = parse_dump(out, block).map_err(|e| at(resp, e))?;
            block += 1;
            compare_tree(resp, "/data", &got, want)?;
        }
        if let Some(want) = &p.vol {
            let got = parse_dump(out, block).map_err(|e| at(resp, e))?;
            compare_tree(resp, "/vol", &got, want)?;
        }
        Ok(())
    }

    /// Runs a throwaway container and compares its dump.
    fn view(
        &mut self,
        image: &str,
        binds: Option<String>,
        dir: &str,
        p: &Prediction,
    ) -> StepResult {
        self.views += 1;
        let name = format!("{}-view{}", self.names.prefix, self.views);
        let mut cfg = json!({
            "Image": image,
            "Cmd": [fixture::PROBE_PATH, "dump", dir],
            "Labels": self.ctx.labels(),
        });
        if let Some(b) = binds {
            cfg["HostConfig"] = json!({ "Binds": [b] });
        }
        let resp =
            self.send(Req::post(format!("/containers/create?name={}", enc(&name))).json(cfg))?;
        want_status(&resp, 201, "creating the viewing container")?;
        let path = |rest: &str| format!("/containers/{}{rest}", enc(&name));
        let result = (|| {
            let resp = self.send(Req::post(path("/start")))?;
            want_status(&resp, 204, "starting the viewing container")?;
            let resp = self.send(Req::post(path("/wait")).timeout(Duration::from_secs(30)))?;
            want_status(&resp, 200, "waiting for the viewing container")?;
            let resp = self.send(Req::get(path("/logs?stdout=1&stderr=1")))?;
            want_status(&resp, 200, "reading the viewing container's logs")?;
            let d = demux(&resp.body).map_err(|e| at(&resp, format!("logs: {e}")))?;
            self.dump_compare(&resp, &d.stdout_text(), p)
        })();
        let _ = self.ctx.client.send(Req::delete(path("?force=1")));
        result
    }

    fn run_step(&mut self, before: &State, op: &Op, p: &Prediction, after: &State) -> StepResult {
        let n = &self.names;
        match op {
            Op::Create {
                image,
                server,
                code,
                volume,
                write,
            } => {
                let i = self.ncontainers;
                self.ncontainers += 1;
                let mut cfg = json!({
                    "Image": n.image_ref(before, *image),
                    "Cmd": container_cmd(*server, *code, write),
                    "Labels": self.ctx.labels(),
                });
                if let Some(v) = volume {
                    cfg["HostConfig"] = json!({ "Binds": [format!("{}:/vol", n.volume(*v))] });
                }
                let resp = self.send(
                    Req::post(format!("/containers/create?name={}", enc(&n.container(i))))
                        .json(cfg),
                )?;
                want_status(&resp, p.status, "creating a container")?;
                check_schema(&resp, "ContainerCreateResponse", self.version)?;
                self.check_container(after, i)
            }
            Op::Start(i) | Op::Restart(i) => {
                let path = match op {
                    Op::Start(_) => self.container_path(*i, "/start"),
                    _ => self.container_path(*i, "/restart?t=10"),
                };
                let resp = self.send(Req::post(path))?;
                want_status(&resp, p.status, kind_text(op))?;
                if resp.status == 204 {
                    self.settle(after, *i)?;
                }
                self.check_container(after, *i)
            }
            Op::Stop(i) | Op::Kill(i) | Op::Pause(i) | Op::Unpause(i) => {
                let rest = match op {
                    Op::Stop(_) => "/stop?t=10",
                    Op::Kill(_) => "/kill",
                    Op::Pause(_) => "/pause",
                    _ => "/unpause",
                };
                let resp = self.send(Req::post(self.container_path(*i, rest)))?;
                want_status(&resp, p.status, kind_text(op))?;
                self.check_container(after, *i)
            }
            Op::Wait(i) => {
                let resp = self.send(
                    Req::post(self.container_path(*i, "/wait")).timeout(Duration::from_secs(20)),
                )?;
                want_status(&resp, p.status, "wait")?;
                if let Some(code) = p.exit {
                    check_schema(&resp, "ContainerWaitResponse", self.version)?;
                    let got = body_json(&resp, "wait")?.get("StatusCode").cloned();
                    if got != Some(json!(code)) {
                        return Err(at(
                            &resp,
                            format!("wait StatusCode {got:?}, model predicts {code}"),
                        ));
                    }
                }
                self.check_container(after, *i)
            }
            Op::Remove { c, force } => {
                let q = if *force { "?force=1" } else { "" };
                let resp = self.send(Req::delete(self.container_path(*c, q)))?;
                want_status(&resp, p.status, kind_text(op))?;
                self.check_container(after, *c)
            }
            Op::ExecWrite { c, .. } | Op::ExecDelete { c, .. } | Op::ExecDump(c) => {
                let cmd = exec_cmd(op, before);
                let resp = self.send(Req::post(self.container_path(*c, "/exec")).json(json!({
                    "Cmd": cmd, "AttachStdout": true, "AttachStderr": true
                })))?;
                want_status(&resp, p.status, "exec create")?;
                if resp.status != 201 {
                    return self.check_container(after, *c);
                }
                check_schema(&resp, "IdResponse", self.version)?;
                let id = body_json(&resp, "exec create")?
                    .get("Id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| at(&resp, "exec create answered no Id"))?;
                let start = self.send(
                    Req::post(format!("/exec/{}/start", enc(&id)))
                        .json(json!({"Detach": false, "Tty": false})),
                )?;
                want_status(&start, 200, "exec start")?;
                let out = demux(&start.body)
                    .map_err(|e| at(&start, format!("exec output is not multiplexed: {e}")))?;
                // The exit code is recorded once the process is reaped.
                let mut last = None;
                for _ in 0..100 {
                    let ins = self.send(Req::get(format!("/exec/{}/json", enc(&id))))?;
                    want_status(&ins, 200, "exec inspect")?;
                    check_schema(&ins, "ExecInspectResponse", self.version)?;
                    let v = body_json(&ins, "exec inspect")?;
                    if v.get("Running") == Some(&json!(false)) {
                        last = Some((ins, v));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let (ins, v) =
                    last.ok_or_else(|| ("the exec still runs after 5 s".into(), None))?;
                let code = v.get("ExitCode").cloned();
                if code != p.exit.map(|c| json!(c)) {
                    return Err(at(
                        &ins,
                        format!(
                            "exec exit code {code:?}, model predicts {:?} (stderr {:?})",
                            p.exit,
                            out.stderr_text()
                        ),
                    ));
                }
                self.dump_compare(&start, &out.stdout_text(), p)?;
                self.check_container(after, *c)
            }
            Op::Commit(c) => {
                let Some(sym) = after.images.last().and_then(|im| im.tags.first()).cloned() else {
                    let resp = self.send(Req::post(format!(
                        "/commit?container={}",
                        enc(&n.container(*c))
                    )))?;
                    return want_status(&resp, p.status, "commit");
                };
                let committed = p.status == 201;
                let tag = if committed {
                    n.tag(&sym)
                } else {
                    "never".into()
                };
                let resp = self.send(Req::post(format!(
                    "/commit?container={}&repo={}&tag={}",
                    enc(&n.container(*c)),
                    enc(COMMIT_REPO),
                    enc(&tag)
                )))?;
                if resp.status == 201 {
                    let r = n.tag_ref(&sym);
                    self.ctx.record_created_image(r.clone());
                    self.tags.push(r);
                }
                want_status(&resp, p.status, "commit")?;
                if !committed {
                    return Ok(());
                }
                check_schema(&resp, "IdResponse", self.version)?;
                let id = body_json(&resp, "commit")?
                    .get("Id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| at(&resp, "commit answered no Id"))?;
                self.image_ids.push(Some(id.clone()));
                let ins = self.send(Req::get(format!("/images/{}/json", enc(&n.tag_ref(&sym)))))?;
                want_status(&ins, 200, "inspecting the committed image")?;
                check_schema(&ins, "ImageInspect", self.version)?;
                let v = body_json(&ins, "image inspect")?;
                if v.get("Id") != Some(&json!(id)) {
                    return Err(at(&ins, format!("Id {:?}, commit said {id}", v.get("Id"))));
                }
                let layers = v
                    .pointer("/RootFS/Layers")
                    .and_then(Value::as_array)
                    .map(Vec::len);
                if layers != p.layers {
                    return Err(at(
                        &ins,
                        format!(
                            "RootFS.Layers has {layers:?} layers, model predicts {:?}",
                            p.layers
                        ),
                    ));
                }
                self.check_container(after, *c)
            }
            Op::Tag(i) => {
                let sym = after
                    .images
                    .get(*i)
                    .and_then(|im| im.tags.last())
                    .cloned()
                    .unwrap_or_default();
                let resp = self.send(Req::post(format!(
                    "/images/{}/tag?repo={}&tag={}",
                    enc(&n.image_ref(before, *i)),
                    enc(COMMIT_REPO),
                    enc(&n.tag(&sym))
                )))?;
                if resp.status == 201 {
                    let r = n.tag_ref(&sym);
                    self.ctx.record_created_image(r.clone());
                    self.tags.push(r);
                }
                want_status(&resp, p.status, "tag")?;
                let ins = self.send(Req::get(format!("/images/{}/json", enc(&n.tag_ref(&sym)))))?;
                want_status(&ins, 200, "inspecting the new tag")?;
                let id = body_json(&ins, "image inspect")?.get("Id").cloned();
                let want = self.image_ids.get(*i).cloned().flatten();
                if want.is_some() && id != want.clone().map(Value::String) {
                    return Err(at(
                        &ins,
                        format!("the new tag is {id:?}, expected {want:?}"),
                    ));
                }
                Ok(())
            }
            Op::Rmi { image, tag } => {
                let r = n.tag_ref(tag);
                let resp = self.send(Req::delete(format!("/images/{}", enc(&r))))?;
                want_status(&resp, p.status, "image delete")?;
                if resp.status != 200 {
                    return Ok(());
                }
                self.ctx.forget_created_image(&r);
                self.tags.retain(|t| t != &r);
                check_schema(&resp, "ImageDeleteResponse", self.version)?;
                let body = body_json(&resp, "image delete")?;
                let items = body.as_array().cloned().unwrap_or_default();
                if !items.contains(&json!({ "Untagged": r })) {
                    return Err(at(&resp, format!("the answer does not untag {r}")));
                }
                let id = self.image_ids.get(*image).cloned().flatten();
                let deleted = id
                    .as_ref()
                    .is_some_and(|id| items.contains(&json!({ "Deleted": id })));
                if Some(deleted) != p.deletes_image {
                    return Err(at(
                        &resp,
                        format!(
                            "image {id:?} deleted: {deleted}, model predicts {:?}",
                            p.deletes_image
                        ),
                    ));
                }
                let ins = self.send(Req::get(format!("/images/{}/json", enc(&r))))?;
                want_status(&ins, 404, "inspecting the removed tag")
            }
            Op::VolumeCreate => {
                let name = n.volume(self.nvolumes);
                self.nvolumes += 1;
                let resp = self.send(
                    Req::post("/volumes/create")
                        .json(json!({"Name": name, "Labels": self.ctx.labels()})),
                )?;
                want_status(&resp, p.status, "volume create")?;
                check_schema(&resp, "Volume", self.version)?;
                let got = body_json(&resp, "volume")?.get("Name").cloned();
                if got != Some(json!(name)) {
                    return Err(at(&resp, format!("volume Name {got:?}, expected {name}")));
                }
                Ok(())
            }
            Op::VolumeRemove(v) => {
                let resp = self.send(Req::delete(format!("/volumes/{}", enc(&n.volume(*v)))))?;
                want_status(&resp, p.status, "volume rm")
            }
            Op::ViewImage(i) => {
                let r = n.image_ref(before, *i);
                self.view(&r, None, "/data", p)
            }
            Op::ViewVolume(v) => {
                let b = format!("{}:/vol", n.volume(*v));
                let f = n.fixture_ref.clone();
                self.view(&f, Some(b), "/vol", p)
            }
        }
    }

    /// Removes everything the case made (best effort: hygiene reports what
    /// survives).
    fn teardown(&mut self) {
        let c = self.ctx.client;
        for i in 0..self.ncontainers {
            let _ = c.send(Req::delete(self.container_path(i, "?force=1")));
        }
        for t in self.tags.drain(..).rev() {
            let _ = c.send(Req::delete(format!("/images/{}", enc(&t))));
            self.ctx.forget_created_image(&t);
        }
        // Committed images whose tags went with a failed step.
        for id in self.image_ids.iter().skip(1).flatten() {
            let _ = c.send(Req::delete(format!("/images/{}?force=1", enc(id))));
        }
        for v in 0..self.nvolumes {
            let _ = c.send(Req::delete(format!(
                "/volumes/{}",
                enc(&self.names.volume(v))
            )));
        }
    }
}

fn problem_text(p: Problem) -> String {
    match p {
        Problem::Fail(f) => f.reason,
        Problem::Skip(s) => s,
    }
}

fn compare_tree(resp: &Response, what: &str, got: &Tree, want: &Tree) -> StepResult {
    if got == want {
        Ok(())
    } else {
        Err(at(
            resp,
            format!("{what} is {}, model predicts {}", show(got), show(want)),
        ))
    }
}

fn kind_text(op: &Op) -> &'static str {
    super::kind(op)
}

/// Runs one sequence; the counter tells proptest-state-machine how many
/// steps ran (it drops unseen steps first when shrinking).
pub fn run_case(
    ctx: &Ctx,
    names: Names,
    init: State,
    ops: &[Op],
    seen: Option<&std::sync::atomic::AtomicUsize>,
) -> Result<(), StepFailure> {
    let version = ctx
        .client
        .api_version()
        .unwrap_or(crate::client::MAX_API_VERSION);
    let fixture_id = ctx.loaded_image().map(|i| i.id);
    let mut sut = Sut {
        ctx,
        names,
        version,
        image_ids: vec![fixture_id],
        ncontainers: 0,
        nvolumes: 0,
        tags: Vec::new(),
        views: 0,
    };
    let mut state = init;
    let mut result = Ok(());
    for (i, op) in ops.iter().enumerate() {
        if let Some(c) = seen {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        if !precondition(&state, op) {
            // Generation and shrinking both honour preconditions; this only
            // guards replays of hand-written sequences.
            continue;
        }
        let (next, p) = step(state.clone(), op);
        if let Err((reason, exchange)) = sut.run_step(&state, op, &p, &next) {
            result = Err(StepFailure {
                step: i,
                reason: format!("step {} ({}): {reason}", i + 1, describe_op(op)),
                exchange,
            });
            break;
        }
        state = next;
    }
    sut.teardown();
    result
}

/// One line per step, e.g. `create k0 from image 0 (server, exit 3)`.
pub fn describe_op(op: &Op) -> String {
    let w = |w: &FileWrite| format!("{}/{}={:?}", w.place.dir(), w.name, w.content);
    match op {
        Op::Create {
            image,
            server,
            code,
            volume,
            write,
        } => format!(
            "create from image {image} ({} {code}{}{})",
            if *server { "trap-term" } else { "exit" },
            volume.map(|v| format!(", volume v{v}")).unwrap_or_default(),
            write
                .as_ref()
                .map(|x| format!(", first start writes {}", w(x)))
                .unwrap_or_default()
        ),
        Op::Start(c) => format!("start k{c}"),
        Op::Stop(c) => format!("stop k{c}"),
        Op::Kill(c) => format!("kill k{c}"),
        Op::Pause(c) => format!("pause k{c}"),
        Op::Unpause(c) => format!("unpause k{c}"),
        Op::Restart(c) => format!("restart k{c}"),
        Op::Wait(c) => format!("wait k{c}"),
        Op::Remove { c, force } => format!("rm{} k{c}", if *force { " -f" } else { "" }),
        Op::ExecWrite { c, write } => format!("exec k{c}: write {}", w(write)),
        Op::ExecDelete { c, name } => format!("exec k{c}: delete /data/{name}"),
        Op::ExecDump(c) => format!("exec k{c}: dump"),
        Op::Commit(c) => format!("commit k{c}"),
        Op::Tag(i) => format!("tag image {i}"),
        Op::Rmi { image, tag } => format!("rmi {tag} (image {image})"),
        Op::VolumeCreate => "volume create".into(),
        Op::VolumeRemove(v) => format!("volume rm v{v}"),
        Op::ViewImage(i) => format!("fresh container from image {i}: dump /data"),
        Op::ViewVolume(v) => format!("fresh container with v{v}: dump /vol"),
    }
}

/// Shell-quotes for a single-quoted string.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A POSIX shell script of curl commands that replays `ops` against the
/// same endpoint and prints each answer beside the model's prediction.
pub fn replay_script(
    target: &Target,
    api: &str,
    fixture_id: &str,
    ops: &[Op],
    support: Support,
) -> String {
    let mut out = String::new();
    let (curl, base) = match target {
        Target::Unix(p) => (
            format!("curl -sS --unix-socket {}", sq(&p.display().to_string())),
            format!("http://localhost/v{api}"),
        ),
        Target::Tcp(h) => ("curl -sS".to_string(), format!("http://{h}/v{api}")),
    };
    let _ = writeln!(
        out,
        "#!/bin/sh\n# Replays a shipshape model/lifecycle failure. Needs curl and the fixture\n\
         # image loaded (shipshape fixture -o f.tar; then POST it to /images/load).\n\
         # Each step prints the endpoint's status and the model's prediction.\n\
         set -u\nRUN=${{RUN:-replay$$}}\nFIXTURE=${{FIXTURE:-{fixture_id}}}\nB={base}\n\
         c() {{ {curl} \"$@\"; }}\n\
         step() {{ want=$1; shift; got=$(c -o /tmp/shipshape-replay.$$ -w '%{{http_code}}' \"$@\"); \
         body=$(head -c 400 /tmp/shipshape-replay.$$ | tr -d '\\000-\\010'); \
         if [ \"$got\" = \"$want\" ]; then m=ok; else m=MISMATCH; fi; \
         echo \"$m: $* -> $got (model: $want) $body\"; }}\n\
         json() {{ step \"$1\" -X POST -H 'Content-Type: application/json' -d \"$2\" \"$3\"; }}\n\
         LABEL='\"Labels\":{{\"{RUN_LABEL}\":\"'$RUN'\"}}'"
    );
    let names = Names {
        prefix: "shipshape-$RUN".into(),
        tag_prefix: "$RUN".into(),
        fixture_ref: "$FIXTURE".into(),
    };
    let mut s = State::new(support);
    let mut nc = 0;
    let mut nv = 0;
    for (k, op) in ops.iter().enumerate() {
        if !precondition(&s, op) {
            continue;
        }
        let (next, p) = step(s.clone(), op);
        let _ = writeln!(out, "\n# step {}: {}", k + 1, describe_op(op));
        let cpath =
            |i: usize, rest: &str| format!("\"$B/containers/{}{rest}\"", names.container(i));
        let st = p.status;
        match op {
            Op::Create {
                image,
                server,
                code,
                volume,
                write,
            } => {
                let cmd = serde_json::to_string(&container_cmd(*server, *code, write))
                    .unwrap_or_default();
                let binds = volume
                    .map(|v| {
                        format!(
                            ",\"HostConfig\":{{\"Binds\":[\"{}:/vol\"]}}",
                            names.volume(v)
                        )
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "json {st} '{{\"Image\":\"'\"{}\"'\",\"Cmd\":{cmd}{binds},'\"$LABEL\"'}}' \"$B/containers/create?name={}\"",
                    names.image_ref(&s, *image),
                    names.container(nc)
                );
                nc += 1;
            }
            Op::Start(i) | Op::Restart(i) => {
                let rest = if matches!(op, Op::Start(_)) {
                    "/start"
                } else {
                    "/restart?t=10"
                };
                let _ = writeln!(out, "step {st} -X POST {}", cpath(*i, rest));
                if st == 204 {
                    let _ = writeln!(
                        out,
                        "sleep 1  # let the probe install its SIGTERM handler / exit"
                    );
                }
            }
            Op::Stop(i) => {
                let _ = writeln!(out, "step {st} -X POST {}", cpath(*i, "/stop?t=10"));
            }
            Op::Kill(i) => {
                let _ = writeln!(out, "step {st} -X POST {}", cpath(*i, "/kill"));
            }
            Op::Pause(i) => {
                let _ = writeln!(out, "step {st} -X POST {}", cpath(*i, "/pause"));
            }
            Op::Unpause(i) => {
                let _ = writeln!(out, "step {st} -X POST {}", cpath(*i, "/unpause"));
            }
            Op::Wait(i) => {
                let _ = writeln!(
                    out,
                    "step {st} -X POST {}  # model: StatusCode {:?}",
                    cpath(*i, "/wait"),
                    p.exit
                );
            }
            Op::Remove { c, force } => {
                let q = if *force { "?force=1" } else { "" };
                let _ = writeln!(out, "step {st} -X DELETE {}", cpath(*c, q));
            }
            Op::ExecWrite { c, .. } | Op::ExecDelete { c, .. } | Op::ExecDump(c) => {
                let cmd = serde_json::to_string(&exec_cmd(op, &s)).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "json {st} '{{\"Cmd\":{cmd},\"AttachStdout\":true,\"AttachStderr\":true}}' {}",
                    cpath(*c, "/exec")
                );
                if st == 201 {
                    let _ = writeln!(
                        out,
                        "E=$(sed -n 's/.*\"Id\":\"\\([0-9a-f]*\\)\".*/\\1/p' /tmp/shipshape-replay.$$)\n\
                         c -X POST -H 'Content-Type: application/json' -d '{{\"Detach\":false}}' \"$B/exec/$E/start\" | od -c | head -20\n\
                         step 200 \"$B/exec/$E/json\"  # model: ExitCode {:?}",
                        p.exit
                    );
                }
            }
            Op::Commit(c) => {
                let sym = next
                    .images
                    .last()
                    .and_then(|im| im.tags.first())
                    .cloned()
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "step {st} -X POST \"$B/commit?container={}&repo={COMMIT_REPO}&tag={}\"  # model: {:?} layers",
                    names.container(*c),
                    names.tag(&sym),
                    p.layers
                );
            }
            Op::Tag(i) => {
                let sym = next
                    .images
                    .get(*i)
                    .and_then(|im| im.tags.last())
                    .cloned()
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "step {st} -X POST \"$B/images/{}/tag?repo={COMMIT_REPO}&tag={}\"",
                    names.image_ref(&s, *i),
                    names.tag(&sym)
                );
            }
            Op::Rmi { tag, .. } => {
                let _ = writeln!(
                    out,
                    "step {st} -X DELETE \"$B/images/{}\"  # model: image deleted {:?}",
                    names.tag_ref(tag),
                    p.deletes_image
                );
            }
            Op::VolumeCreate => {
                let _ = writeln!(
                    out,
                    "json {st} '{{\"Name\":\"'\"{}\"'\",'\"$LABEL\"'}}' \"$B/volumes/create\"",
                    names.volume(nv)
                );
                nv += 1;
            }
            Op::VolumeRemove(v) => {
                let _ = writeln!(
                    out,
                    "step {st} -X DELETE \"$B/volumes/{}\"",
                    names.volume(*v)
                );
            }
            Op::ViewImage(_) | Op::ViewVolume(_) => {
                let _ = writeln!(
                    out,
                    "# (a throwaway container dumps the files; the model expects {})",
                    show(p.data.as_ref().or(p.vol.as_ref()).unwrap_or(&Tree::new()))
                );
            }
        }
        s = next;
    }
    let _ = writeln!(out, "\n# cleanup");
    for i in 0..nc {
        let _ = writeln!(
            out,
            "c -X DELETE {} >/dev/null",
            format_args!("\"$B/containers/{}?force=1\"", names.container(i))
        );
    }
    for im in s.images.iter().skip(1) {
        for t in &im.tags {
            let _ = writeln!(
                out,
                "c -X DELETE \"$B/images/{}\" >/dev/null",
                names.tag_ref(t)
            );
        }
    }
    for v in 0..nv {
        let _ = writeln!(
            out,
            "c -X DELETE \"$B/volumes/{}\" >/dev/null",
            names.volume(v)
        );
    }
    let _ = writeln!(out, "rm -f /tmp/shipshape-replay.$$");
    out
}

/// Runs the model: `opts.cases` sequences, shrinking a failure to the
/// shortest sequence proptest finds.
pub fn run(ctx: &Ctx, opts: &ModelOptions) -> Outcome {
    let image = ctx.image()?;
    let support = probe_support(ctx)?;
    let persistence = opts.regressions.as_ref().map(|p| {
        // proptest wants a &'static str; one small leak per run.
        let s: &'static str = Box::leak(p.display().to_string().into_boxed_str());
        Box::new(FileFailurePersistence::Direct(s))
            as Box<dyn proptest::test_runner::FailurePersistence>
    });
    let config = Config {
        cases: opts.cases,
        max_shrink_iters: opts.max_shrink_iters,
        max_shrink_time: 600_000,
        failure_persistence: persistence,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(opts.seed, NAME));
    let mut runner = TestRunner::new_with_rng(config, rng);
    let case = Cell::new(0u32);
    let kinds = RefCell::new(std::collections::BTreeSet::new());
    let names_for = |n: u32| Names {
        prefix: format!("shipshape-{}-m{n}", ctx.run_id),
        tag_prefix: format!("{}-m{n}", ctx.run_id),
        fixture_ref: image.tag.clone(),
    };
    let strategy = sequences(support, 1..opts.max_len.max(2));
    let result = runner.run(&strategy, |(init, ops, seen)| {
        case.set(case.get() + 1);
        kinds.borrow_mut().extend(super::kinds_of(&ops));
        run_case(ctx, names_for(case.get()), init, &ops, seen.as_deref())
            .map_err(|f| TestCaseError::fail(f.reason))
    });
    let skipped = support.missing();
    let reproduce = format!(
        "reproduce: shipshape run --host {} --filter {NAME} --seed {} --cases {}",
        ctx.client.target(),
        opts.seed,
        opts.cases
    );
    match result {
        Ok(()) => {
            let mut note = format!("{} sequences", opts.cases);
            let k = kinds.borrow();
            let _ = write!(note, ", {} kinds of step", k.len());
            if !skipped.is_empty() {
                let _ = write!(
                    note,
                    "; unsupported by this endpoint, not generated: {}",
                    skipped.join(", ")
                );
            }
            ctx.note(note);
            Ok(())
        }
        Err(TestError::Abort(why)) => Err(fail(format!("proptest aborted: {why}")).note(reproduce)),
        Err(TestError::Fail(why, (init, ops, _))) => {
            case.set(case.get() + 1);
            let rerun = run_case(ctx, names_for(case.get()), init, &ops, None);
            let mut listing = String::from("minimal failing sequence:");
            for (i, op) in ops.iter().enumerate() {
                let _ = write!(listing, "\n  {}. {}", i + 1, describe_op(op));
            }
            let api = ctx
                .client
                .api_version()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "1.41".into());
            let script = replay_script(ctx.client.target(), &api, &image.id, &ops, support);
            let script_path =
                std::env::temp_dir().join(format!("shipshape-replay-{}.sh", ctx.run_id));
            let saved = std::fs::write(&script_path, &script)
                .map(|()| format!("replay script (also in {}):", script_path.display()))
                .unwrap_or_else(|e| format!("replay script (could not write a file: {e}):"));
            let regress = opts
                .regressions
                .as_ref()
                .map(|p| format!("failing seed saved in {}", p.display()))
                .unwrap_or_else(|| "failure persistence is off".into());
            let (reason, exchange) = match rerun {
                Err(f) => (f.reason, f.exchange),
                Ok(()) => (
                    format!("{why} (re-running the minimal sequence passed: flaky?)"),
                    None,
                ),
            };
            Err(Problem::Fail(crate::ground::Failure {
                reason: format!("{reason} [after {} sequences incl. shrinking]", case.get()),
                exchange,
                expected: Some(
                    "the answers the reference model predicts (dockerd 20.10.24 behaviour)".into(),
                ),
                source: Some(
                    "harness/src/model/mod.rs (observed on dockerd 20.10.24 / API 1.41)".into(),
                ),
                notes: vec![listing, regress, reproduce, format!("{saved}\n{script}")],
            }))
        }
    }
}

/// Place is used by callers building writes by hand (tests).
pub fn data_write(name: &str, content: &str) -> FileWrite {
    FileWrite {
        place: Place::Data,
        name: name.into(),
        content: content.into(),
    }
}
