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
    /// expired, or a listed scenario now passes. With several endpoints,
    /// HOST=FILE applies FILE to the --host HOST only; a plain FILE to the
    /// others.
    #[arg(long, value_name = "[HOST=]FILE")]
    pub baseline: Vec<String>,
}

impl ReportArgs {
    /// The baseline file for `host`: its own `HOST=FILE`, else a plain
    /// `FILE`. A HOST= prefix is told from a path by its `scheme://`.
    pub fn baseline_path(&self, host: &str) -> Option<std::path::PathBuf> {
        let split = |b: &str| {
            b.split_once('=')
                .filter(|(h, _)| h.contains("://"))
                .map(|(h, f)| (h.to_string(), f.to_string()))
        };
        let own = self
            .baseline
            .iter()
            .filter_map(|b| split(b))
            .find(|(h, _)| h == host)
            .map(|(_, f)| f);
        let plain = self.baseline.iter().find(|b| split(b).is_none()).cloned();
        own.or(plain).map(std::path::PathBuf::from)
    }

    /// Loads `host`'s baseline (before the run, so a broken file stops it
    /// early).
    pub fn load_baseline(&self, host: &str) -> anyhow::Result<Option<Baseline>> {
        self.baseline_path(host)
            .map(|p| Baseline::load(&p, &all_names()))
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
    Ok(if gate(report, args, baseline)? {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

/// [`finish`], answering whether the endpoint passed its gate (a run
/// against several endpoints exits with the worst).
pub fn gate(
    report: &Report,
    args: &ReportArgs,
    baseline: Option<&Baseline>,
) -> anyhow::Result<bool> {
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
    Ok(!failed)
}

type WriteFn = fn(&std::path::Path, &Report, Option<&Verdict>) -> anyhow::Result<()>;

/// `run --report-requests FILE`: per scenario, in run order, the requests
/// it made as `[method, path as sent (version and query included), status
/// or null]`, so `shipshape mutants` can tell which scenarios a mutant's
/// route and status could reach.
pub fn write_requests(
    path: &std::path::Path,
    report: &Report,
    transcript: &[crate::client::Exchange],
) -> anyhow::Result<()> {
    let scenarios: Vec<serde_json::Value> = report
        .results
        .iter()
        .map(|r| {
            let requests: Vec<serde_json::Value> = transcript
                .get(r.transcript.clone())
                .unwrap_or_default()
                .iter()
                .map(|e| serde_json::json!([e.method, e.path, e.status]))
                .collect();
            serde_json::json!({"name": r.name, "requests": requests})
        })
        .collect();
    let text = serde_json::to_string(&serde_json::json!({ "scenarios": scenarios }))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::ReportArgs;

    #[test]
    fn a_host_baseline_wins_over_the_plain_one() {
        let args = ReportArgs {
            baseline: vec!["all.json".into(), "unix:///run/e.sock=engine.json".into()],
            ..ReportArgs::default()
        };
        let path = |h: &str| args.baseline_path(h).map(|p| p.display().to_string());
        assert_eq!(path("unix:///run/e.sock").as_deref(), Some("engine.json"));
        assert_eq!(
            path("unix:///var/run/docker.sock").as_deref(),
            Some("all.json")
        );
        let only_one = ReportArgs {
            baseline: vec!["unix:///run/e.sock=engine.json".into()],
            ..ReportArgs::default()
        };
        assert_eq!(only_one.baseline_path("tcp://x:1"), None);
    }
}
