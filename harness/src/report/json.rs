//! `--report-json FILE`: the whole run as one JSON document
//! (`"schema": "shipshape-report/1"`), for dashboards and scripts.
//! Failures carry their exchanges, the expectation with its source, and the
//! replay commands; the baseline verdict is included when one was used.

use super::Verdict;
use super::{Report, Status};
use serde_json::{json, Value};

pub const SCHEMA: &str = "shipshape-report/1";

pub fn to_value(report: &Report, verdict: Option<&Verdict>) -> Value {
    let results: Vec<Value> = report
        .results
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("area".into(), json!(r.area()));
                if matches!(r.status, Status::Fail | Status::Unsupported) {
                    m.insert("replay".into(), json!(report.replay(r)));
                }
                if let Some(e) = verdict.and_then(|v| v.known.iter().find(|k| k.scenario == r.name))
                {
                    m.insert("baseline".into(), json!(e));
                }
            }
            v
        })
        .collect();
    json!({
        "schema": SCHEMA,
        "target": report.target,
        "api_version": report.api_version,
        "server_version": report.server,
        "endpoint": report.endpoint,
        "run": {
            "id": report.run_id,
            "seed": report.seed,
            "cases": report.cases,
            "started": report.started,
        },
        "summary": {
            "passed": report.count(Status::Pass),
            "failed": report.count(Status::Fail),
            "skipped": report.count(Status::Skip),
            "unsupported": report.count(Status::Unsupported),
            "line": report.summary_line(),
        },
        "baseline": verdict,
        "results": results,
        "coverage": report.coverage.as_ref().map(coverage),
    })
}

/// The coverage sets (what a merge unites) plus, for readers, the totals
/// and the console line derived from them.
fn coverage(c: &crate::coverage::Coverage) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("totals".into(), json!(c.totals()));
        m.insert("line".into(), json!(c.line()));
    }
    v
}

pub fn write(
    path: &std::path::Path,
    report: &Report,
    verdict: Option<&Verdict>,
) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(&to_value(report, verdict))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}
