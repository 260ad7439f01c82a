//! One model sequence against an endpoint, step by step: each answer is
//! compared with the model's [`Prediction`], the containers' state and
//! files with the model's state. Running many sequences and shrinking is
//! [`super::lifecycle`]; showing one is [`super::replay`].

use super::replay::describe_op;
use super::{precondition, step, FileWrite, Op, Prediction, State};
use crate::client::{demux, enc, Req, Response};
use crate::filetree::{parse_dump, show, Tree};
use crate::ground::{Ctx, Problem, COMMIT_REPO};
use crate::{fixture, schema};
use serde_json::{json, Value};
use std::time::Duration;

/// Marker the containers' guarded first-start block leaves behind.
const MARKER: &str = "/tmp/.m";

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

pub fn exec_cmd(op: &Op, s: &State) -> Vec<String> {
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
        // No network: the model looks at files and states, and a start
        // without a veth is quicker.
        let mut cfg = json!({
            "Image": image,
            "Cmd": [fixture::PROBE_PATH, "dump", dir],
            "Labels": self.ctx.labels(),
            "HostConfig": { "NetworkMode": "none" },
        });
        if let Some(b) = binds {
            cfg["HostConfig"]["Binds"] = json!([b]);
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
                    "HostConfig": { "NetworkMode": "none" },
                });
                if let Some(v) = volume {
                    cfg["HostConfig"]["Binds"] = json!([format!("{}:/vol", n.volume(*v))]);
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
