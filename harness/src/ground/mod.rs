//! The ground every scenario stands on: the [`Ctx`] a scenario body gets
//! (the client, the negotiated version, the run's identity and what it
//! created), the [`Problem`] it returns, the expectations of
//! specs/harness/expectations.json ([`spec`]) and the run-wide labels and
//! tags. Scenarios (`crate::scenarios`) and the model (`crate::model`) both
//! build on it; it knows neither of them, nor how a run is driven.

pub mod problem;
pub mod property;
pub mod spec;

pub use problem::{
    describe, expect_status, fail, fail_at, fail_expected, json_body, Failure, Outcome, Problem,
};

use crate::client::{demux, enc, Client, Demuxed, Negotiation, Req, Response};
use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Label on every container the harness creates; the value is the run id.
pub const RUN_LABEL: &str = "io.shipshape.run";

/// Repository of the per-run fixture tag (`shipshape-probe:run-<id>`).
pub const FIXTURE_REPO: &str = "shipshape-probe";

/// Repository of images made by `POST /commit`.
pub const COMMIT_REPO: &str = "shipshape-commit";

/// A fixture image loaded for this run.
#[derive(Debug, Clone)]
pub struct ImageRef {
    pub id: String,
    /// `shipshape-probe:run-<id>`
    pub tag: String,
    pub diff_id: String,
    /// Whether the image existed before this run loaded it.
    pub preexisting: bool,
}

/// What the scenarios of one run share, whichever thread runs them: the
/// fixture image once loaded and the images the run created.
#[derive(Debug, Default)]
pub struct Shared {
    image: Mutex<Option<ImageRef>>,
    /// Image references this run created (commit tags), removed at the end.
    created_images: Mutex<Vec<String>>,
    /// Set by `--fail-fast` after a failure: scenarios still running stop at
    /// their next request (their own cleanup, sent with `client.send`, goes on).
    stopping: AtomicBool,
}

/// What [`Ctx::send`] answers once the run is stopping.
pub const STOPPED: &str = "stopped: --fail-fast after a failure elsewhere";

impl Shared {
    /// Makes every later [`Ctx::send`] of the run give up.
    pub fn stop(&self, on: bool) {
        self.stopping.store(on, Ordering::SeqCst);
    }
}

/// Everything a scenario can use. Methods take `&self` (state that changes
/// lives in cells) so property closures, which must be `Fn`, can use it.
/// Each scenario of a concurrent run gets its own `Ctx` (and client fork)
/// over the run's [`Shared`] state.
pub struct Ctx<'a> {
    pub client: &'a Client,
    pub negotiation: &'a Negotiation,
    pub run_id: String,
    pub cases: u32,
    pub seed: u64,
    shared: &'a Shared,
    counter: Cell<u32>,
    /// Full response bodies of `send` (the transcript keeps 2 KiB), by
    /// transcript id, for `shipshape diff`'s JSON comparisons.
    bodies: RefCell<BTreeMap<usize, Bytes>>,
    /// Notes a passing scenario leaves on its PASS line (e.g. operations
    /// skipped as unsupported).
    notes: RefCell<Vec<String>>,
    /// `--registry HOST:PORT`, if given.
    registry: RefCell<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a scenario panicked (caught by the
    // runner); the data is still whole.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Bodies larger than this are not kept whole (image tarballs, long logs).
pub const CAPTURE_LIMIT: usize = 256 * 1024;

impl<'a> Ctx<'a> {
    /// A scenario's context. `counter_base` keeps the names it makes
    /// ([`Ctx::unique_name`]) apart from other scenarios' and the same from
    /// run to run whatever order they finish in.
    pub fn new(
        client: &'a Client,
        negotiation: &'a Negotiation,
        run_id: String,
        cases: u32,
        seed: u64,
        shared: &'a Shared,
        counter_base: u32,
    ) -> Self {
        Ctx {
            client,
            negotiation,
            run_id,
            cases,
            seed,
            shared,
            counter: Cell::new(counter_base),
            bodies: RefCell::new(BTreeMap::new()),
            notes: RefCell::new(Vec::new()),
            registry: RefCell::new(None),
        }
    }

    pub fn set_registry(&self, registry: Option<String>) {
        *self.registry.borrow_mut() = registry;
    }

    /// The registry given with `--registry`, or a skip saying how to give one.
    pub fn registry(&self) -> Result<String, Problem> {
        self.registry
            .borrow()
            .clone()
            .ok_or_else(|| Problem::Skip("needs a registry: run with --registry HOST:PORT".into()))
    }

    /// Adds a note to the current scenario's PASS line.
    pub fn note(&self, text: impl Into<String>) {
        self.notes.borrow_mut().push(text.into());
    }

    /// The notes left so far, for the runner to put on the PASS line.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.borrow_mut())
    }

    /// The full bodies kept so far, for the runner to hand to `shipshape diff`.
    pub fn take_bodies(&self) -> BTreeMap<usize, Bytes> {
        self.bodies.take()
    }

    pub fn send(&self, req: Req) -> Result<Response, Problem> {
        if self.shared.stopping.load(Ordering::SeqCst) {
            return Err(Problem::Skip(STOPPED.into()));
        }
        let mut resp = self.client.send(req.clone())?;
        // dockerd runs one prune and one disk usage at a time, whoever asks:
        // another user's (or run's) makes it refuse ours. Ask again once
        // that one is done (a refusal that never ends is still answered).
        let deadline = Instant::now() + Duration::from_secs(60);
        while busy_elsewhere(&resp) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            resp = self.client.send(req.clone())?;
        }
        if resp.body.len() <= CAPTURE_LIMIT {
            self.bodies
                .borrow_mut()
                .insert(resp.exchange, resp.body.clone());
        }
        Ok(resp)
    }

    /// The fixture image, or a skip when it could not be loaded.
    pub fn image(&self) -> Result<ImageRef, Problem> {
        lock(&self.shared.image).clone().ok_or_else(|| {
            Problem::Skip("fixture image not available (images/load-fixture did not pass)".into())
        })
    }

    pub fn set_image(&self, image: ImageRef) {
        *lock(&self.shared.image) = Some(image);
    }

    pub fn loaded_image(&self) -> Option<ImageRef> {
        lock(&self.shared.image).clone()
    }

    pub fn record_created_image(&self, reference: String) {
        lock(&self.shared.created_images).push(reference);
    }

    pub fn forget_created_image(&self, reference: &str) {
        lock(&self.shared.created_images).retain(|r| r != reference);
    }

    pub fn created_images(&self) -> Vec<String> {
        lock(&self.shared.created_images).clone()
    }

    /// A name unique to this run: `shipshape-<run>-<n>-<what>`.
    pub fn unique_name(&self, what: &str) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        format!("{}{n}-{what}", run_name_prefix(&self.run_id))
    }

    pub fn labels(&self) -> Value {
        json!({ RUN_LABEL: self.run_id })
    }

    /// `{"Image": <fixture tag>, "Cmd": ["/probe", args...], "Labels": {run}}`
    pub fn probe_config(&self, args: &[&str]) -> Result<Value, Problem> {
        let image = self.image()?;
        Ok(self.probe_config_for(&image.tag, args))
    }

    pub fn probe_config_for(&self, image: &str, args: &[&str]) -> Value {
        let mut cmd = vec![crate::fixture::PROBE_PATH];
        cmd.extend_from_slice(args);
        json!({ "Image": image, "Cmd": cmd, "Labels": self.labels() })
    }

    /// [`Ctx::probe_config_for`] without a network (`NetworkMode: none`):
    /// for probes that only look at files or processes, a quicker start
    /// (no veth, no bridge port: about a fifth of a start on dockerd).
    pub fn offline_probe_config(&self, image: &str, args: &[&str]) -> Value {
        let mut c = self.probe_config_for(image, args);
        c["HostConfig"] = json!({ "NetworkMode": "none" });
        c
    }

    /// `POST /containers/create`, expecting 201 and an Id.
    pub fn create(&self, config: Value, name: Option<&str>) -> Result<String, Problem> {
        let path = match name {
            Some(n) => format!("/containers/create?name={}", enc(n)),
            None => "/containers/create".to_string(),
        };
        let resp = self.send(Req::post(path).json(config))?;
        expect_status(&resp, 201, "creating a container")?;
        let body = json_body(&resp, "create response")?;
        body.get("Id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| fail_at(&resp, "create response has no Id string"))
    }

    pub fn start(&self, id: &str) -> Outcome {
        let resp = self.send(Req::post(format!("/containers/{}/start", enc(id))))?;
        expect_status(&resp, 204, "starting a container")
    }

    /// `POST /containers/{id}/stop?t=..`, returning the response (204/304).
    pub fn stop(&self, id: &str, t: u32) -> Result<Response, Problem> {
        self.send(Req::post(format!("/containers/{}/stop?t={t}", enc(id))))
    }

    /// `POST /containers/{id}/wait`, returning StatusCode.
    pub fn wait(&self, id: &str) -> Result<i64, Problem> {
        let resp = self.send(Req::post(format!("/containers/{}/wait", enc(id))))?;
        expect_status(&resp, 200, "waiting for a container")?;
        let body = json_body(&resp, "wait response")?;
        body.get("StatusCode")
            .and_then(Value::as_i64)
            .ok_or_else(|| fail_at(&resp, "wait response has no integer StatusCode"))
    }

    /// Logs (stdout and stderr) demultiplexed.
    pub fn logs(&self, id: &str) -> Result<Demuxed, Problem> {
        let resp = self.send(Req::get(format!(
            "/containers/{}/logs?stdout=1&stderr=1",
            enc(id)
        )))?;
        expect_status(&resp, 200, "reading logs")?;
        demux(&resp.body).map_err(|e| {
            fail_at(
                &resp,
                format!("logs are not a valid multiplexed stream: {e}"),
            )
        })
    }

    pub fn inspect(&self, id: &str) -> Result<Value, Problem> {
        let resp = self.send(Req::get(format!("/containers/{}/json", enc(id))))?;
        expect_status(&resp, 200, "inspecting a container")?;
        // dockerd labels every JSON answer application/json; clients that
        // check the type (docker-py's) refuse anything else.
        if resp.header("Content-Type") != Some("application/json") {
            return Err(fail_at(
                &resp,
                format!(
                    "container inspect labelled {:?}; dockerd: application/json",
                    resp.header("Content-Type")
                ),
            ));
        }
        json_body(&resp, "inspect response")
    }

    pub fn inspect_image(&self, reference: &str) -> Result<Value, Problem> {
        let resp = self.send(Req::get(format!("/images/{}/json", enc(reference))))?;
        expect_status(&resp, 200, "inspecting an image")?;
        json_body(&resp, "image inspect response")
    }

    /// Creates, starts and waits for a probe container; returns its id, exit
    /// code and output. The caller removes the container.
    pub fn run_probe(&self, image: &str, args: &[&str]) -> Result<(String, i64, Demuxed), Problem> {
        self.run_config(self.probe_config_for(image, args))
    }

    /// [`Ctx::run_probe`] with a whole container config.
    pub fn run_config(&self, config: Value) -> Result<(String, i64, Demuxed), Problem> {
        let id = self.create(config, None)?;
        let res = (|| {
            self.start(&id)?;
            let code = self.wait(&id)?;
            let logs = self.logs(&id)?;
            Ok((code, logs))
        })();
        match res {
            Ok((code, logs)) => Ok((id, code, logs)),
            Err(e) => {
                self.remove(&id);
                Err(e)
            }
        }
    }

    /// Creates, starts and waits for a container from `config` and returns
    /// its stdout, requiring exit 0; the container is removed whatever
    /// happens.
    pub fn config_output(&self, config: Value) -> Result<String, Problem> {
        let id = self.create(config, None)?;
        let res = (|| {
            self.start(&id)?;
            let code = self.wait(&id)?;
            let logs = self.logs(&id)?;
            if code != 0 {
                return Err(fail(format!(
                    "the probe exited {code}; stderr: {}",
                    logs.stderr_text().trim()
                )));
            }
            Ok(logs.stdout_text())
        })();
        self.remove(&id);
        res
    }

    /// Like [`Ctx::run_probe`], but removes the container and requires exit 0.
    pub fn probe_output(&self, image: &str, args: &[&str]) -> Result<Demuxed, Problem> {
        let (id, code, logs) = self.run_probe(image, args)?;
        self.remove(&id);
        if code != 0 {
            return Err(fail(format!(
                "probe {args:?} exited {code}; stderr: {}",
                logs.stderr_text().trim()
            )));
        }
        Ok(logs)
    }

    /// Best-effort forced removal (cleanup must not mask the real outcome).
    pub fn remove(&self, id: &str) {
        let _ = self
            .client
            .send(Req::delete(format!("/containers/{}?force=1", enc(id))));
    }

    /// Polls `f` every 100 ms until it returns `Some`, up to `limit`.
    pub fn poll<T>(
        &self,
        limit: Duration,
        mut f: impl FnMut() -> Result<Option<T>, Problem>,
    ) -> Result<Option<T>, Problem> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = f()? {
                return Ok(Some(v));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// dockerd's refusal of a prune or disk usage while another runs.
fn busy_elsewhere(resp: &Response) -> bool {
    matches!(
        (resp.status, resp.message().as_deref()),
        (409, Some("a prune operation is already running"))
            | (500, Some("a disk usage operation is already running"))
    )
}

/// 32 seed bytes for one property: sha256 of the run seed and its name.
pub fn seed_bytes(seed: u64, property: &str) -> [u8; 32] {
    Sha256::digest(format!("shipshape-seed:{seed}:{property}").as_bytes()).into()
}

/// What every [`Ctx::unique_name`] of run `run_id` starts with, so that a
/// sweep after the run can recognise, say, an image repository a scenario
/// named (`shipshape-<run>-3-hostile-import:1`) that carries no run label.
pub fn run_name_prefix(run_id: &str) -> String {
    format!("shipshape-{run_id}-")
}
