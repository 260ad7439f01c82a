//! The runner: executes the selected scenarios against one endpoint and
//! turns each outcome into a [`ScenarioResult`]. It sits above the scenarios
//! (which it runs), the report (which it fills) and the baseline (which
//! [`finish`] applies); none of those know it.
//!
//! * [`probe`]: what is asked of the endpoint before the scenarios;
//! * [`defaults`]: the run's default cases and seed;
//! * [`finish`]: report files, the closing block and the exit status.

pub mod defaults;
pub mod finish;
pub mod probe;

pub use finish::{finish, ReportArgs};

use crate::client::{Client, Exchange, Negotiation};
use crate::ground::{fail, Ctx, Outcome, Problem, Shared, STOPPED};
use crate::report::unsupported::NotFoundAnswer;
use crate::report::{Endpoint, ExchangeRecord, FailureDetail, Report, ScenarioResult, Status};
use crate::scenarios::{
    hygiene, is_exclusive, is_long, select_partition, Partition, Scenario, LOAD_FIXTURE,
    NOTHING_LEFT,
};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What one run executes: the filters (see `crate::scenarios::select`),
/// the share of them (`--partition`), the property cases and seed, the run
/// id every object is labelled with, and how many scenarios run at once.
pub struct RunOptions {
    pub filters: Vec<String>,
    pub partition: Option<Partition>,
    pub cases: u32,
    pub seed: u64,
    pub run_id: String,
    /// `--registry HOST:PORT`, for the `registry` area.
    pub registry: Option<String>,
    /// Scenarios run at once (at least 1); exclusive ones always alone.
    pub jobs: usize,
    /// After the first failure start nothing more but the cleanup check
    /// (the rest are skipped, saying so).
    pub fail_fast: bool,
}

/// The default `--jobs`: twice the machine's cores. A scenario spends most
/// of its time waiting for the endpoint (a container's start, exit and
/// removal), not computing: on 2 cores against dockerd 20.10 a share of
/// the scenarios took 39-45 s with 2 jobs and 28-31 s with 4 (6 and 8
/// gained nothing more).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(2)
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

/// Names one scenario's objects apart from the others' (see
/// [`Ctx::unique_name`]): scenario `i` counts from `i * NAME_STRIDE`.
const NAME_STRIDE: u32 = 10_000;

/// What running one scenario gave, before it joins the run's transcript.
struct Executed {
    outcome: Outcome,
    duration: Duration,
    notes: Vec<String>,
    /// Exchanges of a scenario run on a forked client (None: it used the
    /// run's client directly, its exchanges are already in).
    exchanges: Option<Vec<Exchange>>,
    first: usize,
    bodies: BTreeMap<usize, Bytes>,
}

impl Executed {
    /// A scenario not run at all.
    fn skipped(ctx: &Ctx, reason: String) -> Executed {
        Executed {
            outcome: Err(Problem::Skip(reason)),
            duration: Duration::ZERO,
            notes: Vec::new(),
            exchanges: Some(Vec::new()),
            first: ctx.client.transcript().len(),
            bodies: BTreeMap::new(),
        }
    }
}

/// [`run`], keeping full response bodies for `shipshape diff`.
///
/// With `jobs > 1` scenarios run concurrently, each on a fork of `client`
/// with its own transcript and context; exclusive ones (see
/// `crate::scenarios::is_exclusive`) wait for all before them and run alone.
/// Results are reported, and transcripts joined, in run order, so the
/// output does not depend on which finished first.
pub fn run_recorded(
    client: &Client,
    negotiation: &Negotiation,
    opts: &RunOptions,
    mut on_result: impl FnMut(&ScenarioResult),
) -> Recording {
    let (endpoint, not_found) = probe::endpoint(client, negotiation);
    let shared = Shared::default();
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
        coverage: None,
    };
    let mut bodies = BTreeMap::new();
    let selected = select_partition(&opts.filters, opts.partition);
    let jobs = opts.jobs.max(1);
    let os = report
        .endpoint
        .os
        .clone()
        .unwrap_or_else(|| "linux".to_string());
    // Each result is joined to the run's transcript, reported and kept, in
    // run order (exclusive and batched scenarios alike).
    let mut record = |s: &Scenario, ex: Executed| {
        let r = join(
            client,
            s,
            ex,
            &mut bodies,
            &report.endpoint,
            not_found.as_ref(),
        );
        on_result(&r);
        report.results.push(r);
    };
    let stop = AtomicBool::new(false);
    // Runs one scenario, or skips it once --fail-fast has seen a failure.
    let execute = |ctx: &Ctx, s: &Scenario, forked: bool| {
        if stop.load(Ordering::SeqCst) && s.full_name() != NOTHING_LEFT {
            return Executed::skipped(ctx, "not run: --fail-fast after a failure".into());
        }
        let ex = execute(ctx, s, &os, forked);
        let stopped = matches!(&ex.outcome, Err(Problem::Fail(f)) if f.reason.contains(STOPPED));
        if opts.fail_fast && !stopped && matches!(ex.outcome, Err(Problem::Fail(_))) {
            stop.store(true, Ordering::SeqCst);
            // Those still running give up at their next request.
            shared.stop(true);
        }
        ex
    };
    let mut i = 0;
    while i < selected.len() {
        let exclusive = jobs == 1 || is_exclusive(&selected[i].full_name());
        if exclusive {
            let s = &selected[i];
            let ctx = ctx_for(client, negotiation, opts, &shared, i);
            if s.full_name() == NOTHING_LEFT {
                // Everything before it has ended: its own requests must go.
                shared.stop(false);
                // Remove everything first; the check then verifies it worked.
                hygiene::cleanup(&ctx);
            }
            record(s, execute(&ctx, s, false));
            i += 1;
            continue;
        }
        // The batch: every scenario up to the next exclusive one.
        let end = (i..selected.len())
            .find(|&j| is_exclusive(&selected[j].full_name()))
            .unwrap_or(selected.len());
        let batch = &selected[i..end];
        // Long ones start first; the rest in run order.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by_key(|&k| !is_long(&batch[k].full_name()));
        let order = &order;
        let next = AtomicUsize::new(0);
        let (tx, rx) = mpsc::channel::<(usize, Executed)>();
        std::thread::scope(|scope| {
            for _ in 0..jobs.min(batch.len()) {
                let tx = tx.clone();
                let next = &next;
                let shared = &shared;
                let execute = &execute;
                scope.spawn(move || {
                    while let Some(&k) = order.get(next.fetch_add(1, Ordering::SeqCst)) {
                        let fork = client.fork();
                        let ctx = ctx_for(&fork, negotiation, opts, shared, i + k);
                        let ex = execute(&ctx, &batch[k], true);
                        if tx.send((k, ex)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            // Joined and reported in run order as they become ready.
            let mut ready: BTreeMap<usize, Executed> = BTreeMap::new();
            let mut want = 0;
            for (k, ex) in rx.iter() {
                ready.insert(k, ex);
                while let Some(ex) = ready.remove(&want) {
                    record(&batch[want], ex);
                    want += 1;
                }
            }
        });
        i = end;
    }
    // Every exchange counts, the negotiation and cleanup's included.
    report.coverage =
        match crate::coverage::measure(&client.transcript().all(), negotiation.api_version) {
            Ok(c) => Some(c),
            Err(e) => {
                // Only a broken embedded table gets here (a unit test loads
                // them); the run's results still stand.
                eprintln!("shipshape: coverage not measured: {e}");
                None
            }
        };
    Recording { report, bodies }
}

/// The context of the `i`-th selected scenario, over `client`.
fn ctx_for<'b>(
    client: &'b Client,
    negotiation: &'b Negotiation,
    opts: &RunOptions,
    shared: &'b Shared,
    i: usize,
) -> Ctx<'b> {
    let ctx = Ctx::new(
        client,
        negotiation,
        opts.run_id.clone(),
        opts.cases,
        opts.seed,
        shared,
        (i as u32 + 1) * NAME_STRIDE,
    );
    ctx.set_registry(opts.registry.clone());
    ctx
}

/// Runs one scenario body (a panic becomes a failure). `forked`: `ctx`'s
/// client is a fork whose exchanges are handed back for [`join`].
fn execute(ctx: &Ctx, s: &Scenario, os: &str, forked: bool) -> Executed {
    let first = ctx.client.transcript().len();
    let started = Instant::now();
    // The fixture is a static linux binary: on another OS the scenarios that
    // run it do not apply.
    let outcome = if (s.needs_image || s.full_name() == LOAD_FIXTURE) && os != "linux" {
        Err(Problem::Skip(format!(
            "needs the linux fixture image; the endpoint's OS is {os}"
        )))
    } else {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (s.run)(ctx))).unwrap_or_else(
            |p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                Err(fail(format!("harness bug: scenario panicked: {msg}")))
            },
        )
    };
    let skipped_early =
        matches!(&outcome, Err(Problem::Skip(r)) if r.starts_with("needs the linux fixture"));
    Executed {
        outcome,
        duration: if skipped_early {
            Duration::ZERO
        } else {
            started.elapsed()
        },
        notes: ctx.take_notes(),
        exchanges: forked.then(|| ctx.client.transcript().all()),
        first,
        bodies: ctx.take_bodies(),
    }
}

/// Joins an executed scenario's exchanges to the run's transcript (ids
/// renumbered in run order) and turns its outcome into a result.
fn join(
    client: &Client,
    s: &Scenario,
    ex: Executed,
    bodies: &mut BTreeMap<usize, Bytes>,
    endpoint: &Endpoint,
    not_found: Option<&NotFoundAnswer>,
) -> ScenarioResult {
    let t = client.transcript();
    let (transcript, offset) = match ex.exchanges {
        Some(list) => {
            let r = t.append(list);
            let offset = r.start;
            (r, offset)
        }
        None => (ex.first..t.len(), 0),
    };
    bodies.extend(ex.bodies.into_iter().map(|(id, b)| (id + offset, b)));
    let name = s.full_name();
    let duration = ex.duration;
    match ex.outcome {
        Ok(()) => ScenarioResult {
            name,
            status: Status::Pass,
            reason: ex.notes.join("; "),
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
            // Show the exchange named by the failure, else the scenario's
            // last one (a transport error, for instance).
            let idx = f.exchange.map(|i| i + offset).or_else(|| {
                transcript
                    .end
                    .checked_sub(1)
                    .filter(|&i| i >= transcript.start)
            });
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
