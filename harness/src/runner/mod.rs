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

use crate::client::{Client, Negotiation};
use crate::ground::{fail, Ctx, Problem};
use crate::report::unsupported::NotFoundAnswer;
use crate::report::{Endpoint, ExchangeRecord, FailureDetail, Report, ScenarioResult, Status};
use crate::scenarios::{hygiene, select, Scenario, LOAD_FIXTURE, NOTHING_LEFT};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What one run executes: the filters (see `crate::scenarios::select`),
/// the property cases and seed, and the run id every object is labelled with.
pub struct RunOptions {
    pub filters: Vec<String>,
    pub cases: u32,
    pub seed: u64,
    pub run_id: String,
    /// `--registry HOST:PORT`, for the `registry` area.
    pub registry: Option<String>,
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

/// [`run`], keeping full response bodies for `shipshape diff`.
pub fn run_recorded(
    client: &Client,
    negotiation: &Negotiation,
    opts: &RunOptions,
    mut on_result: impl FnMut(&ScenarioResult),
) -> Recording {
    let (endpoint, not_found) = probe::endpoint(client, negotiation);
    let ctx = Ctx::new(
        client,
        negotiation,
        opts.run_id.clone(),
        opts.cases,
        opts.seed,
    );
    ctx.set_registry(opts.registry.clone());
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
    for s in select(&opts.filters) {
        if s.full_name() == NOTHING_LEFT {
            // Remove everything first; the check then verifies it worked.
            hygiene::cleanup(&ctx);
        }
        let r = run_one(&ctx, &s, &report.endpoint, not_found.as_ref());
        on_result(&r);
        report.results.push(r);
    }
    // Every exchange counts, the negotiation and cleanup's included.
    report.coverage =
        match crate::coverage::measure(&ctx.client.transcript().all(), negotiation.api_version) {
            Ok(c) => Some(c),
            Err(e) => {
                // Only a broken embedded table gets here (a unit test loads
                // them); the run's results still stand.
                eprintln!("shipshape: coverage not measured: {e}");
                None
            }
        };
    Recording {
        report,
        bodies: ctx.take_bodies(),
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
