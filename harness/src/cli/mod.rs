//! The `shipshape` command line. [`target`] holds the target options all
//! commands share and how endpoints are chosen from them.

pub mod target;

use crate::client::{ApiVersion, Client, Target, DEFAULT_TIMEOUT};
use crate::engine::ReferenceEngine;
use crate::runner::defaults::{DEFAULT_CASES, DEFAULT_SEED};
use crate::{fixture, runner, scenarios};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Tag written into the manifest by `shipshape fixture`.
pub const FIXTURE_FILE_TAG: &str = "shipshape-probe:latest";

#[derive(Debug, Parser)]
#[command(
    name = "shipshape",
    version,
    about = "Conformance harness for Docker-compatible Engine API endpoints"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the conformance scenarios against an endpoint.
    Run(RunArgs),
    /// Run the same scenarios against two endpoints and report the
    /// normalised differences in their answers.
    Diff(crate::diff::DiffArgs),
    /// Benchmark one endpoint, or two side by side (A B A B): latencies,
    /// throughput and memory, with the reference engine's targets.
    Bench(crate::bench::BenchArgs),
    /// List what the runs behind JSON reports (`run --report-json`) never
    /// exercised of the Engine API spec: operations, parameters, statuses.
    Coverage(crate::coverage::listing::CoverageArgs),
    /// Work on JSON reports written by `run --report-json`.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Measure how many deliberate divergences (mutants) planted by a
    /// proxy in front of a real endpoint make a run fail.
    Mutants(crate::mutate::MutantsArgs),
    /// Remove what runs left on an endpoint (an interrupted run, say):
    /// everything carrying their run label or tags, nothing else.
    Cleanup(CleanupArgs),
    /// List the scenarios (area/name), in run order.
    List,
    /// Write the fixture image as a docker-archive tarball (for `docker load -i`),
    /// or load it into an endpoint (`--load`).
    Fixture(FixtureArgs),
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Join the JSON reports of a run's partitions (`run --partition K/N
    /// --report-json FILE`) into one and write JUnit, JSON or HTML from it;
    /// prints the summary and exits as the whole run would have (1 when a
    /// scenario failed, or by --baseline).
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The partitions' JSON reports.
    #[arg(required = true, value_name = "REPORT.json")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub reports: runner::ReportArgs,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// The run id (printed as `run ID: ...` and in the JSON report); repeatable.
    #[arg(long = "run", value_name = "ID", required = true)]
    pub runs: Vec<String>,
    #[command(flatten)]
    pub target: target::TargetArgs,
}

#[derive(Debug, Args)]
pub struct FixtureArgs {
    /// Where to write the tarball.
    #[arg(long, short, required_unless_present = "load")]
    pub output: Option<PathBuf>,
    /// Load the image into the endpoint the target options name, tagged
    /// shipshape-probe:latest.
    #[arg(long)]
    pub load: bool,
    #[command(flatten)]
    pub target: target::TargetArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: target::TargetArgs,
    /// Pin the API version (X.Y) instead of negotiating.
    #[arg(long)]
    pub api_version: Option<String>,
    /// Run only scenarios whose full name (area/name) contains TEXT; may be
    /// repeated (any match). Setup and cleanup checks run when needed.
    #[arg(long, value_name = "TEXT")]
    pub filter: Vec<String>,
    /// Cases per property.
    #[arg(long, default_value_t = DEFAULT_CASES)]
    pub cases: u32,
    /// Seed for the property generators.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Timeout for one request, in seconds.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT.as_secs())]
    pub timeout: u64,
    /// A registry (HOST:PORT, plain HTTP on loopback) for the `registry`
    /// area: pull, push and auth scenarios; without it they skip.
    #[arg(long, value_name = "HOST:PORT")]
    pub registry: Option<String>,
    /// Scenarios run at once (default: twice the number of cores). Those that
    /// need the endpoint to themselves still run alone; output and results
    /// stay in run order.
    #[arg(long, short = 'j', value_name = "N", default_value_t = runner::default_jobs(),
          value_parser = parse_jobs)]
    pub jobs: usize,
    /// Run only the K-th of N deterministic shares of the selected
    /// scenarios (e.g. 2/4), for a CI matrix; join the partitions' JSON
    /// reports with `shipshape report merge`.
    #[arg(long, value_name = "K/N", value_parser = scenarios::Partition::parse)]
    pub partition: Option<scenarios::Partition>,
    /// Stop at the first failure: later scenarios are skipped, the cleanup
    /// check still runs.
    #[arg(long)]
    pub fail_fast: bool,
    /// Write each scenario's requests (method, path as sent, status) as
    /// JSON to FILE: what `shipshape mutants` selects scenarios by.
    #[arg(long, value_name = "FILE", hide = true)]
    pub report_requests: Option<PathBuf>,
    #[command(flatten)]
    pub reports: runner::ReportArgs,
}

fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err(format!("invalid job count {s:?} (expected 1 to 256)")),
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Diff(args) => crate::diff::run(args),
        Command::Bench(args) => crate::bench::main(args),
        Command::Coverage(args) => crate::coverage::listing::main(args),
        Command::Mutants(args) => crate::mutate::main(args),
        Command::Cleanup(args) => cleanup_command(&args).map(|()| ExitCode::SUCCESS),
        Command::Report(ReportCommand::Merge(args)) => merge_reports(&args),
        Command::Fixture(args) => fixture_command(&args).map(|()| ExitCode::SUCCESS),
        Command::List => {
            for s in scenarios::all() {
                println!("{}", s.full_name());
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line: the error and its causes, colon-separated.
            let line = format!("{e:#}").replace('\n', " ");
            eprintln!("shipshape: error: {line}");
            ExitCode::from(2)
        }
    }
}

fn merge_reports(args: &MergeArgs) -> Result<ExitCode> {
    let reports = args
        .inputs
        .iter()
        .map(|p| crate::report::merge::read(p))
        .collect::<Result<Vec<_>>>()?;
    let merged = crate::report::merge::merge(reports, &scenarios::all_names())?;
    let baseline = args.reports.load_baseline(&merged.target)?;
    println!(
        "merged {} reports: {} ({}), run {}",
        args.inputs.len(),
        merged.target,
        merged.api_version,
        merged.run_id
    );
    let passed = runner::finish::gate(&merged, &args.reports, baseline.as_ref())?;
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cleanup_command(args: &CleanupArgs) -> Result<()> {
    let endpoints = args.target.resolve()?;
    if endpoints.is_empty() {
        anyhow::bail!("cleanup needs an endpoint: --host, DOCKER_HOST or a docker context");
    }
    for ep in endpoints {
        let mut client = Client::new(ep.target.clone())?;
        client.negotiate(None)?;
        for id in &args.runs {
            scenarios::hygiene::sweep(&client, id);
            println!("swept run {id} on {}", ep.target);
        }
    }
    Ok(())
}

fn fixture_command(args: &FixtureArgs) -> Result<()> {
    let fx = fixture::build(&[FIXTURE_FILE_TAG.to_string()]).context("building the fixture")?;
    if let Some(output) = &args.output {
        std::fs::write(output, &fx.tarball)
            .with_context(|| format!("writing {}", output.display()))?;
        println!(
            "wrote {} ({} bytes): image {} tagged {FIXTURE_FILE_TAG}",
            output.display(),
            fx.tarball.len(),
            fx.image_id
        );
    }
    if args.load {
        let endpoints = args.target.resolve()?;
        if endpoints.is_empty() {
            anyhow::bail!("--load needs an endpoint: --host, DOCKER_HOST or a docker context");
        }
        for ep in endpoints {
            let client = Client::new(ep.target.clone())?;
            let r = client.send(
                crate::client::Req::post("/images/load?quiet=1")
                    .unversioned()
                    .raw(fx.tarball.clone(), "application/x-tar"),
            )?;
            if r.status != 200 || r.text().contains("\"error") {
                anyhow::bail!("loading into {}: {} {}", ep.target, r.status, r.text());
            }
            println!(
                "loaded image {} tagged {FIXTURE_FILE_TAG} into {} (via {})",
                fx.image_id,
                ep.target,
                ep.transport()
            );
        }
    }
    Ok(())
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let pinned = args
        .api_version
        .as_deref()
        .map(ApiVersion::parse)
        .transpose()?;
    // A mistyped filter must not turn into a green run of nothing.
    if !args.filter.is_empty() && scenarios::matching(&args.filter) == 0 {
        anyhow::bail!(
            "no scenario name contains {} (see `shipshape list`)",
            args.filter.join(" or ")
        );
    }
    let mut endpoints = args.target.resolve()?;
    let mut engine = None;
    if endpoints.is_empty() {
        let e = ReferenceEngine::start()?;
        endpoints.push(target::Resolved {
            target: Target::parse(e.url())?,
            origin: "reference engine".into(),
        });
        engine = Some(e);
    }
    // Every baseline is read before any run, so a broken one stops early.
    let baselines = endpoints
        .iter()
        .map(|e| args.reports.load_baseline(&e.target.to_string()))
        .collect::<Result<Vec<_>>>()?;
    let several = endpoints.len() > 1;
    let mut passed = true;
    let mut unreachable = None;
    for (ep, baseline) in endpoints.iter().zip(&baselines) {
        if several {
            println!("=== endpoint {} ({})", ep.target, ep.origin);
        }
        match run_one(&args, ep, pinned, baseline.as_ref(), several) {
            Ok(ok) => passed &= ok,
            // One endpoint: its error is the run's (exit 2, one line).
            Err(e) if !several => return Err(e),
            Err(e) => {
                let line = format!("{e:#}").replace('\n', " ");
                println!("shipshape: error: {}: {line}", ep.target);
                unreachable = Some(e);
            }
        }
    }
    if let Some(e) = engine.as_mut() {
        e.stop();
    }
    if let Some(e) = unreachable {
        return Err(e.context("an endpoint could not be run"));
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One endpoint's run; whether it passed its gate.
fn run_one(
    args: &RunArgs,
    ep: &target::Resolved,
    pinned: Option<ApiVersion>,
    baseline: Option<&crate::baseline::Baseline>,
    several: bool,
) -> Result<bool> {
    let mut client = Client::new(ep.target.clone())?;
    client.set_timeout(Duration::from_secs(args.timeout.max(1)));
    // Printed only once negotiation worked, so a bad endpoint yields just
    // the one error line.
    let n = client.negotiate(pinned)?;
    println!(
        "target: {} ({}; via {})",
        client.target(),
        ep.origin,
        ep.transport()
    );
    println!(
        "api version: {} ({}; server max {}, min {}; {}{})",
        n.api_version,
        if n.pinned { "pinned" } else { "negotiated" },
        n.server_api_version,
        n.server_min_api_version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "?".into()),
        n.server_version,
        n.server_header
            .as_deref()
            .map(|s| format!(", Server: {s}"))
            .unwrap_or_default()
    );
    let run_id = format!("{:08x}", rand::random::<u32>());
    println!(
        "run {run_id}: seed {}, {} cases per property",
        args.seed, args.cases
    );
    let opts = runner::RunOptions {
        filters: args.filter.clone(),
        partition: args.partition,
        cases: args.cases,
        seed: args.seed,
        run_id,
        registry: args.registry.clone(),
        jobs: args.jobs,
        fail_fast: args.fail_fast,
    };
    if let Some(p) = args.partition {
        println!("partition {p}");
    }
    // Plain lines on stdout; a progress bar on stderr only on a terminal.
    let progress = crate::report::console::Progress::new(
        scenarios::select_partition(&opts.filters, opts.partition).len(),
        "",
    );
    let mut report = runner::run(&client, &n, &opts, |r| progress.result(r));
    progress.finish();
    report.endpoint.transport = Some(ep.transport());
    if let Some(path) = &args.report_requests {
        runner::finish::write_requests(path, &report, &client.transcript().all())?;
    }
    let reports = if several {
        suffixed(&args.reports, &slug(&ep.target.to_string()))
    } else {
        args.reports.clone()
    };
    runner::finish::gate(&report, &reports, baseline)
}

/// `unix:///var/run/docker.sock` -> `unix-var-run-docker.sock`: a report
/// file suffix naming the endpoint.
fn slug(url: &str) -> String {
    let s: String = url
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The report files with `.<suffix>` before their extension
/// (`out/run.json` -> `out/run.unix-var-run-docker.sock.json`).
fn suffixed(r: &runner::ReportArgs, suffix: &str) -> runner::ReportArgs {
    let with = |p: &Option<PathBuf>| {
        p.as_ref().map(|p| {
            let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned());
            let name = match (stem, p.extension()) {
                (Some(s), Some(e)) => format!("{s}.{suffix}.{}", e.to_string_lossy()),
                (Some(s), None) => format!("{s}.{suffix}"),
                _ => suffix.to_string(),
            };
            p.with_file_name(name)
        })
    };
    runner::ReportArgs {
        report_junit: with(&r.report_junit),
        report_json: with(&r.report_json),
        report_html: with(&r.report_html),
        baseline: r.baseline.clone(),
    }
}
