//! The `shipshape` command line.

use crate::client::{ApiVersion, Client, DEFAULT_TIMEOUT};
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
    /// List the scenarios (area/name), in run order.
    List,
    /// Write the fixture image as a docker-archive tarball (for `docker load -i`).
    Fixture {
        /// Where to write the tarball.
        #[arg(long, short)]
        output: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Endpoint: unix:///path, tcp://host:port or http://host:port. Defaults
    /// to $DOCKER_HOST, else a reference engine started for the run.
    #[arg(long, short = 'H')]
    pub host: Option<String>,
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
    #[command(flatten)]
    pub reports: runner::ReportArgs,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Diff(args) => crate::diff::run(args),
        Command::Bench(args) => crate::bench::main(args),
        Command::Coverage(args) => crate::coverage::listing::main(args),
        Command::Fixture { output } => write_fixture(&output).map(|()| ExitCode::SUCCESS),
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

fn write_fixture(output: &std::path::Path) -> Result<()> {
    let fx = fixture::build(&[FIXTURE_FILE_TAG.to_string()]).context("building the fixture")?;
    std::fs::write(output, &fx.tarball).with_context(|| format!("writing {}", output.display()))?;
    println!(
        "wrote {} ({} bytes): image {} tagged {FIXTURE_FILE_TAG}",
        output.display(),
        fx.tarball.len(),
        fx.image_id
    );
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
    let baseline = args.reports.load_baseline()?;
    let env_host = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty());
    let (url, origin, mut engine) = match (args.host, env_host) {
        (Some(h), _) => (h, "--host", None),
        (None, Some(h)) => (h, "DOCKER_HOST", None),
        (None, None) => {
            let e = ReferenceEngine::start()?;
            (e.url().to_string(), "reference engine", Some(e))
        }
    };
    let mut client = Client::from_url(&url)?;
    client.set_timeout(Duration::from_secs(args.timeout.max(1)));
    // Printed only once negotiation worked, so a bad endpoint yields just
    // the one error line.
    let n = client.negotiate(pinned)?;
    println!("target: {} ({origin})", client.target());
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
        filters: args.filter,
        cases: args.cases,
        seed: args.seed,
        run_id,
    };
    // Plain lines on stdout; a progress bar on stderr only on a terminal.
    let progress =
        crate::report::console::Progress::new(scenarios::select(&opts.filters).len(), "");
    let report = runner::run(&client, &n, &opts, |r| progress.result(r));
    progress.finish();
    if let Some(e) = engine.as_mut() {
        e.stop();
    }
    runner::finish(&report, &args.reports, baseline.as_ref())
}
