//! After a run: the report files, the closing block on the console and the
//! exit status, with the baseline's verdict when one was given. It lives
//! with the runner because it joins three things that must not know one
//! another: the report, the baseline and the scenario names.

use crate::baseline::Baseline;
use crate::report::{self, Report, Verdict};
use crate::scenarios::all_names;

/// Report and gating options of `shipshape run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReportArgs {
    /// Write JUnit XML (one suite per area) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<std::path::PathBuf>,
    /// Write the run as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<std::path::PathBuf>,
    /// Write one self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<std::path::PathBuf>,
    /// Gate on this endpoint's known divergences (see README, "Gating your
    /// CI on conformance"): exit 1 when a failure is not listed, an entry
    /// expired, or a listed scenario now passes.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<std::path::PathBuf>,
}

impl ReportArgs {
    /// Loads the baseline (before the run, so a broken file stops it early).
    pub fn load_baseline(&self) -> anyhow::Result<Option<Baseline>> {
        self.baseline
            .as_deref()
            .map(|p| Baseline::load(p, &all_names()))
            .transpose()
    }
}

/// After a run: writes the report files, prints the closing block (its last
/// line is `N passed, M failed, K skipped`) and decides the exit status:
/// with a baseline, 1 when a rule fired; without, 1 when a scenario failed.
pub fn finish(
    report: &Report,
    args: &ReportArgs,
    baseline: Option<&Baseline>,
) -> anyhow::Result<std::process::ExitCode> {
    let verdict = baseline.map(|b| b.judge(report, chrono::Utc::now().date_naive()));
    let v = verdict.as_ref();
    let mut extra = Vec::new();
    let mut write_err = None;
    let outputs: [(&Option<std::path::PathBuf>, &str, WriteFn); 3] = [
        (&args.report_junit, "junit", report::junit::write),
        (&args.report_json, "json", report::json::write),
        (&args.report_html, "html", report::html::write),
    ];
    for (path, what, f) in outputs {
        if let Some(p) = path {
            match f(p, report, v) {
                Ok(()) => extra.push(format!("{what} report: {}", p.display())),
                Err(e) => write_err = Some(e),
            }
        }
    }
    if let Some(v) = v {
        extra.extend(v.lines());
    }
    // Just above the last line, which stays `N passed, ...` for scripts.
    if let Some(c) = &report.coverage {
        extra.push(c.line());
    }
    print!("{}", report::console::summary(report, &extra));
    if let Some(e) = write_err {
        return Err(e);
    }
    let failed = match v {
        Some(v) => !v.passed(),
        None => report.failed(),
    };
    Ok(if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

type WriteFn = fn(&std::path::Path, &Report, Option<&Verdict>) -> anyhow::Result<()>;
