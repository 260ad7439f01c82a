//! Scenarios: named checks, grouped in areas, run against one endpoint.
//!
//! A scenario is a plain function over a [`Ctx`]. It returns `Ok(())` when
//! the endpoint behaved as Docker does, or a [`Problem`] that either fails it
//! (with the exchange that showed it, the expectation and its source) or
//! skips it (a prerequisite is missing). Expected statuses and messages come
//! from specs/harness/expectations.json via [`spec`].

pub mod containers;
pub mod errors;
pub mod hostile;
pub mod hygiene;
pub mod images;
pub mod model;
pub mod protocol;
pub mod schema;
pub mod security;
pub mod seed;
pub mod snapshots;
pub mod spec;
pub mod system;

use crate::client::{demux, enc, Client, ClientError, Demuxed, Negotiation, Req, Response};
use crate::report::unsupported::NotFoundAnswer;
use crate::report::{Endpoint, ExchangeRecord, FailureDetail, Report, ScenarioResult, Status};
use bytes::Bytes;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Label on every container the harness creates; the value is the run id.
pub const RUN_LABEL: &str = "io.shipshape.run";

/// Repository of the per-run fixture tag (`shipshape-probe:run-<id>`).
pub const FIXTURE_REPO: &str = "shipshape-probe";

/// Repository of images made by `POST /commit`.
pub const COMMIT_REPO: &str = "shipshape-commit";

/// Why a scenario did not pass.
#[derive(Debug)]
pub enum Problem {
    Fail(Failure),
    Skip(String),
}

#[derive(Debug, Default)]
pub struct Failure {
    pub reason: String,
    /// Transcript index of the exchange that showed the problem.
    pub exchange: Option<usize>,
    pub expected: Option<String>,
    pub source: Option<String>,
    pub notes: Vec<String>,
}

impl Problem {
    pub fn note(mut self, n: impl Into<String>) -> Self {
        if let Problem::Fail(f) = &mut self {
            f.notes.push(n.into());
        }
        self
    }
}

impl From<ClientError> for Problem {
    fn from(e: ClientError) -> Self {
        fail(e.to_string())
    }
}

pub type Outcome = Result<(), Problem>;

pub fn fail(reason: impl Into<String>) -> Problem {
    Problem::Fail(Failure {
        reason: reason.into(),
        ..Failure::default()
    })
}

/// A failure pinned to the exchange behind `resp`.
pub fn fail_at(resp: &Response, reason: impl Into<String>) -> Problem {
    Problem::Fail(Failure {
        reason: reason.into(),
        exchange: Some(resp.exchange),
        ..Failure::default()
    })
}

/// Short description of what came back, for one-line reasons.
pub fn describe(resp: &Response) -> String {
    match resp.message() {
        Some(m) if resp.status >= 300 => format!("{} {:?}", resp.status, m),
        _ => resp.status.to_string(),
    }
}

/// Fails unless `resp` has status `want` (for supporting requests whose
/// exact error text is not what the scenario is about).
pub fn expect_status(resp: &Response, want: u16, what: &str) -> Outcome {
    if resp.status == want {
        Ok(())
    } else {
        Err(fail_at(
            resp,
            format!("{what}: expected status {want}, got {}", describe(resp)),
        ))
    }
}

pub fn json_body(resp: &Response, what: &str) -> Result<Value, Problem> {
    resp.json()
        .map_err(|e| fail_at(resp, format!("{what}: {e}")))
}

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

/// Everything a scenario can use. Methods take `&self` (state that changes
/// lives in cells) so property closures, which must be `Fn`, can use it.
pub struct Ctx<'a> {
    pub client: &'a Client,
    pub negotiation: &'a Negotiation,
    pub run_id: String,
    pub cases: u32,
    pub seed: u64,
    image: RefCell<Option<ImageRef>>,
    counter: Cell<u32>,
    /// Image references this run created (commit tags), removed at the end.
    created_images: RefCell<Vec<String>>,
    /// Full response bodies of `send` (the transcript keeps 2 KiB), by
    /// transcript id, for `shipshape diff`'s JSON comparisons.
    bodies: RefCell<BTreeMap<usize, Bytes>>,
    /// Notes a passing scenario leaves on its PASS line (e.g. operations
    /// skipped as unsupported).
    notes: RefCell<Vec<String>>,
}

/// Bodies larger than this are not kept whole (image tarballs, long logs).
pub const CAPTURE_LIMIT: usize = 256 * 1024;

impl<'a> Ctx<'a> {
    pub fn new(
        client: &'a Client,
        negotiation: &'a Negotiation,
        run_id: String,
        cases: u32,
        seed: u64,
    ) -> Self {
        Ctx {
            client,
            negotiation,
            run_id,
            cases,
            seed,
            image: RefCell::new(None),
            counter: Cell::new(0),
            created_images: RefCell::new(Vec::new()),
            bodies: RefCell::new(BTreeMap::new()),
            notes: RefCell::new(Vec::new()),
        }
    }

    /// Adds a note to the current scenario's PASS line.
    pub fn note(&self, text: impl Into<String>) {
        self.notes.borrow_mut().push(text.into());
    }

    fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.borrow_mut())
    }

    pub fn send(&self, req: Req) -> Result<Response, Problem> {
        let resp = self.client.send(req)?;
        if resp.body.len() <= CAPTURE_LIMIT {
            self.bodies
                .borrow_mut()
                .insert(resp.exchange, resp.body.clone());
        }
        Ok(resp)
    }

    /// The fixture image, or a skip when it could not be loaded.
    pub fn image(&self) -> Result<ImageRef, Problem> {
        self.image.borrow().clone().ok_or_else(|| {
            Problem::Skip("fixture image not available (images/load-fixture did not pass)".into())
        })
    }

    pub fn set_image(&self, image: ImageRef) {
        *self.image.borrow_mut() = Some(image);
    }

    pub fn loaded_image(&self) -> Option<ImageRef> {
        self.image.borrow().clone()
    }

    pub fn record_created_image(&self, reference: String) {
        self.created_images.borrow_mut().push(reference);
    }

    pub fn forget_created_image(&self, reference: &str) {
        self.created_images.borrow_mut().retain(|r| r != reference);
    }

    pub fn created_images(&self) -> Vec<String> {
        self.created_images.borrow().clone()
    }

    /// A name unique to this run: `shipshape-<run>-<n>-<what>`.
    pub fn unique_name(&self, what: &str) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        format!("shipshape-{}-{n}-{what}", self.run_id)
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
        let id = self.create(self.probe_config_for(image, args), None)?;
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

pub type ScenarioFn = fn(&Ctx) -> Outcome;

pub struct Scenario {
    pub area: &'static str,
    pub name: &'static str,
    /// Needs the fixture image (so images/load-fixture runs first).
    pub needs_image: bool,
    pub run: ScenarioFn,
}

impl Scenario {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.area, self.name)
    }
}

pub(crate) const fn scenario(
    area: &'static str,
    name: &'static str,
    needs_image: bool,
    run: ScenarioFn,
) -> Scenario {
    Scenario {
        area,
        name,
        needs_image,
        run,
    }
}

/// Every scenario in run order. images/load-fixture comes first among the
/// image users; hygiene/nothing-left is last.
pub fn all() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.extend(system::scenarios());
    v.extend(images::scenarios());
    v.extend(errors::scenarios());
    v.extend(containers::scenarios());
    v.extend(hostile::scenarios());
    v.extend(seed::scenarios());
    v.extend(model::scenarios());
    v.extend(protocol::scenarios());
    v.extend(schema::scenarios());
    v.extend(snapshots::scenarios());
    v.extend(security::scenarios());
    v.extend(hygiene::scenarios());
    v
}

/// Every scenario's full name (`area/name`), in run order.
pub fn all_names() -> Vec<String> {
    all().iter().map(Scenario::full_name).collect()
}

/// Setup and teardown scenarios that run whenever something needs them,
/// whatever the filters say (they load the fixture and check the cleanup).
pub const LOAD_FIXTURE: &str = "images/load-fixture";
pub const NOTHING_LEFT: &str = "hygiene/nothing-left";

pub struct RunOptions {
    pub filters: Vec<String>,
    pub cases: u32,
    pub seed: u64,
    pub run_id: String,
}

/// How many scenarios the filters match by name (prerequisites aside).
pub fn matching(filters: &[String]) -> usize {
    all()
        .iter()
        .filter(|s| {
            let n = s.full_name();
            filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str()))
        })
        .count()
}

/// Which scenarios a run executes, in order.
pub fn select(filters: &[String]) -> Vec<Scenario> {
    let matches = |s: &Scenario| {
        let n = s.full_name();
        filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str()))
    };
    let all = all();
    let need_image = all.iter().any(|s| s.needs_image && matches(s));
    all.into_iter()
        .filter(|s| {
            let n = s.full_name();
            matches(s) || (n == LOAD_FIXTURE && need_image) || n == NOTHING_LEFT
        })
        .collect()
}

/// Runs the selected scenarios, calling `on_result` as each finishes.
pub fn run(
    client: &Client,
    negotiation: &Negotiation,
    opts: &RunOptions,
    on_result: impl FnMut(&ScenarioResult),
) -> Report {
    run_recorded(client, negotiation, opts, on_result).report
}

/// A run's report plus what `shipshape diff` compares: the full response
/// bodies by transcript id (the transcript itself is the client's).
pub struct Recording {
    pub report: Report,
    pub bodies: BTreeMap<usize, Bytes>,
}

/// What the harness asks the endpoint before the scenarios: its identity
/// and its answer to a route that exists nowhere (for the unsupported rule).
fn probe_endpoint(
    client: &Client,
    negotiation: &Negotiation,
) -> (Endpoint, Option<NotFoundAnswer>) {
    let mut ep = Endpoint {
        server_header: negotiation.server_header.clone(),
        max_api_version: negotiation.server_api_version.to_string(),
        min_api_version: negotiation.server_min_api_version.map(|v| v.to_string()),
        pinned: negotiation.pinned,
        ..Endpoint::default()
    };
    if let Ok(v) = client
        .send(Req::get("/version"))
        .and_then(|r| r.json().map_err(crate::client::ClientError::Protocol))
    {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        ep.os = s("Os");
        ep.arch = s("Arch");
        ep.kernel = s("KernelVersion");
        ep.platform = v
            .pointer("/Platform/Name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .or_else(|| v.pointer("/Components/0/Name").and_then(Value::as_str))
            .map(str::to_string);
    }
    let not_found = client
        .send(Req::get("/shipshape-no-such-route"))
        .ok()
        .map(|r| NotFoundAnswer {
            status: r.status,
            body: crate::client::printable(&r.body, r.body.len()),
        });
    (ep, not_found)
}

/// [`run`], keeping full response bodies for `shipshape diff`.
pub fn run_recorded(
    client: &Client,
    negotiation: &Negotiation,
    opts: &RunOptions,
    mut on_result: impl FnMut(&ScenarioResult),
) -> Recording {
    let (endpoint, not_found) = probe_endpoint(client, negotiation);
    let ctx = Ctx::new(
        client,
        negotiation,
        opts.run_id.clone(),
        opts.cases,
        opts.seed,
    );
    let mut report = Report {
        target: client.target().to_string(),
        api_version: negotiation.api_version.to_string(),
        server: negotiation.server_version.clone(),
        run_id: opts.run_id.clone(),
        seed: opts.seed,
        cases: opts.cases,
        started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        endpoint,
        results: Vec::new(),
    };
    for s in select(&opts.filters) {
        if s.full_name() == NOTHING_LEFT {
            // Remove everything first; the check then verifies it worked.
            hygiene::cleanup(&ctx);
        }
        let r = run_one(&ctx, &s, &report.endpoint, not_found.as_ref());
        on_result(&r);
        report.results.push(r);
    }
    Recording {
        report,
        bodies: ctx.bodies.take(),
    }
}

fn run_one(
    ctx: &Ctx,
    s: &Scenario,
    endpoint: &Endpoint,
    not_found: Option<&NotFoundAnswer>,
) -> ScenarioResult {
    let first = ctx.client.transcript().len();
    let started = Instant::now();
    // The fixture is a static linux binary: on another OS the scenarios that
    // run it do not apply.
    let os = endpoint.os.as_deref().unwrap_or("linux");
    if (s.needs_image || s.full_name() == LOAD_FIXTURE) && os != "linux" {
        return ScenarioResult {
            name: s.full_name(),
            status: Status::Skip,
            reason: format!("needs the linux fixture image; the endpoint's OS is {os}"),
            detail: None,
            duration: Duration::ZERO,
            transcript: first..first,
        };
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (s.run)(ctx)))
        .unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(fail(format!("harness bug: scenario panicked: {msg}")))
        });
    let duration = started.elapsed();
    let name = s.full_name();
    let transcript = first..ctx.client.transcript().len();
    let notes = ctx.take_notes();
    match outcome {
        Ok(()) => ScenarioResult {
            name,
            status: Status::Pass,
            reason: notes.join("; "),
            detail: None,
            duration,
            transcript,
        },
        Err(Problem::Skip(reason)) => ScenarioResult {
            name,
            status: Status::Skip,
            reason,
            detail: None,
            duration,
            transcript,
        },
        Err(Problem::Fail(f)) => {
            let t = ctx.client.transcript();
            // Show the exchange named by the failure, else the scenario's
            // last one (a transport error, for instance).
            let idx = f
                .exchange
                .or_else(|| t.len().checked_sub(1).filter(|&i| i >= first));
            let shown = idx.and_then(|i| t.get(i));
            let exchanges = shown.iter().map(|e| e.to_string()).collect();
            let records: Vec<ExchangeRecord> = shown.iter().map(ExchangeRecord::from).collect();
            let unsupported = records.first().and_then(|rec| {
                crate::report::unsupported::classify(&name, rec, endpoint, not_found)
            });
            let (status, reason) = match unsupported {
                Some(why) => (
                    Status::Unsupported,
                    format!("{why} (would fail: {})", f.reason),
                ),
                None => (Status::Fail, f.reason),
            };
            ScenarioResult {
                name,
                status,
                reason,
                detail: Some(FailureDetail {
                    exchanges,
                    records,
                    expected: f.expected,
                    source: f.source,
                    notes: f.notes,
                }),
                duration,
                transcript,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_specced() {
        let all = all();
        let mut names: Vec<String> = all.iter().map(Scenario::full_name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate scenario names");
        assert!(n >= 30, "only {n} scenarios");
        assert_eq!(
            all.last().map(Scenario::full_name).as_deref(),
            Some(NOTHING_LEFT)
        );
    }

    #[test]
    fn filters_select_by_substring_plus_prerequisites() {
        let names = |f: &[&str]| {
            select(&f.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .iter()
                .map(Scenario::full_name)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&["system/ping-get"]),
            vec!["system/ping-get", NOTHING_LEFT]
        );
        assert_eq!(
            names(&["errors/start-twice"]),
            vec![LOAD_FIXTURE, "errors/start-twice", NOTHING_LEFT]
        );
        let both = names(&["ping-get", "ping-head"]);
        assert!(both.contains(&"system/ping-head".to_string()));
        assert_eq!(names(&[]).len(), all().len());
    }
}
