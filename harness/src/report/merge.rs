//! `shipshape report merge`: the JSON reports of a run's partitions
//! (`run --partition K/N --report-json FILE`) read back and joined into one
//! report, from which every writer (JUnit, JSON, HTML, the console summary)
//! works as after a whole run.

use super::{Endpoint, FailureDetail, Report, ScenarioResult, Status};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Reads a report written by `--report-json` (schema `shipshape-report/1`).
pub fn read(path: &Path) -> Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    from_value(&doc).with_context(|| format!("{} is not a shipshape run report", path.display()))
}

/// A report back from its JSON form (what `json::to_value` wrote).
pub fn from_value(doc: &Value) -> Result<Report> {
    let schema = doc.get("schema").and_then(Value::as_str).unwrap_or("");
    if schema != super::json::SCHEMA {
        bail!("schema {schema:?}, expected {:?}", super::json::SCHEMA);
    }
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let run = doc.get("run").cloned().unwrap_or(Value::Null);
    let endpoint: Endpoint = match doc.get("endpoint") {
        Some(e) if !e.is_null() => serde_json::from_value(e.clone()).context("its endpoint")?,
        _ => Endpoint::default(),
    };
    let mut results = Vec::new();
    for (i, r) in doc
        .get("results")
        .and_then(Value::as_array)
        .context("it has no results array")?
        .iter()
        .enumerate()
    {
        let status: Status = serde_json::from_value(r.get("status").cloned().unwrap_or_default())
            .with_context(|| format!("result {i} has no valid status"))?;
        let name = text(r.get("name"));
        if name.is_empty() {
            bail!("result {i} has no name");
        }
        let detail: Option<FailureDetail> = match r.get("detail") {
            Some(d) if !d.is_null() => Some(
                serde_json::from_value(d.clone())
                    .with_context(|| format!("the detail of {name}"))?,
            ),
            _ => None,
        };
        results.push(ScenarioResult {
            name,
            status,
            reason: text(r.get("reason")),
            detail,
            duration: Duration::from_millis(
                r.get("duration_ms").and_then(Value::as_u64).unwrap_or(0),
            ),
            transcript: 0..0,
        });
    }
    let coverage = match doc.get("coverage") {
        Some(c) if !c.is_null() => Some(serde_json::from_value(c.clone()).context("its coverage")?),
        _ => None,
    };
    Ok(Report {
        target: text(doc.get("target")),
        api_version: text(doc.get("api_version")),
        server: text(doc.get("server_version")),
        endpoint,
        run_id: text(run.get("id")),
        seed: run.get("seed").and_then(Value::as_u64).unwrap_or(0),
        cases: run.get("cases").and_then(Value::as_u64).unwrap_or(0) as u32,
        started: text(run.get("started")),
        results,
        coverage,
    })
}

/// How bad a result is, for picking one of a scenario's several results
/// (the setup and cleanup checks run in every partition).
fn severity(s: Status) -> u8 {
    match s {
        Status::Pass => 0,
        Status::Skip => 1,
        Status::Unsupported => 2,
        Status::Fail => 3,
    }
}

/// Joins partition reports into one. They must share the API version,
/// seed and cases (partitions of one run); targets and run ids are listed.
/// Results follow `order` (scenario names in run order; names it lacks
/// come last, in the order read); a scenario reported by several
/// partitions keeps its worst result. Coverage is the union.
pub fn merge(reports: Vec<Report>, order: &[String]) -> Result<Report> {
    let Some(first) = reports.first() else {
        bail!("no report to merge");
    };
    for r in &reports[1..] {
        if r.api_version != first.api_version {
            bail!(
                "API versions differ: {} and {} (merge partitions of one run)",
                first.api_version,
                r.api_version
            );
        }
        if (r.seed, r.cases) != (first.seed, first.cases) {
            bail!(
                "seeds or cases differ: seed {} with {} cases and seed {} with {} (merge partitions of one run)",
                first.seed, first.cases, r.seed, r.cases
            );
        }
    }
    let join = |f: &dyn Fn(&Report) -> &str| {
        let mut seen: Vec<&str> = Vec::new();
        for r in &reports {
            let v = f(r);
            if !seen.contains(&v) {
                seen.push(v);
            }
        }
        seen.join(", ")
    };
    let mut merged = Report {
        target: join(&|r| r.target.as_str()),
        api_version: first.api_version.clone(),
        server: join(&|r| r.server.as_str()),
        endpoint: first.endpoint.clone(),
        run_id: join(&|r| r.run_id.as_str()),
        seed: first.seed,
        cases: first.cases,
        started: reports
            .iter()
            .map(|r| r.started.clone())
            .min()
            .unwrap_or_default(),
        results: Vec::new(),
        coverage: None,
    };
    let mut coverage: Option<crate::coverage::Coverage> = None;
    let mut results: Vec<ScenarioResult> = Vec::new();
    for r in reports {
        if let Some(c) = r.coverage {
            match coverage.as_mut() {
                None => coverage = Some(c),
                Some(m) => m.merge(&c).context("merging the coverage")?,
            }
        }
        for res in r.results {
            match results.iter_mut().find(|x| x.name == res.name) {
                Some(x) if severity(res.status) > severity(x.status) => *x = res,
                Some(_) => {}
                None => results.push(res),
            }
        }
    }
    let rank = |name: &str| order.iter().position(|o| o == name).unwrap_or(usize::MAX);
    // Stable: unknown names keep the order they were read in.
    results.sort_by_key(|r| rank(&r.name));
    merged.results = results;
    merged.coverage = coverage;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, status: Status) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            status,
            reason: if status == Status::Pass {
                String::new()
            } else {
                format!("{name} went wrong")
            },
            detail: (status == Status::Fail).then(|| FailureDetail {
                exchanges: vec!["request #3: GET /x".into()],
                expected: Some("a 200".into()),
                ..FailureDetail::default()
            }),
            duration: Duration::from_millis(12),
            transcript: 0..0,
        }
    }

    fn report(run: &str, results: Vec<ScenarioResult>) -> Report {
        Report {
            target: format!("unix:///{run}.sock"),
            api_version: "1.41".into(),
            server: "20.10.24".into(),
            run_id: run.into(),
            seed: 7,
            cases: 3,
            started: format!("2026-01-01T00:00:0{}Z", run.len()),
            results,
            ..Report::default()
        }
    }

    #[test]
    fn round_trips_through_json() {
        let r = report(
            "a",
            vec![result("x/one", Status::Pass), result("x/two", Status::Fail)],
        );
        let back = from_value(&super::super::json::to_value(&r, None)).expect("reads back");
        assert_eq!(back.results.len(), 2);
        assert_eq!(back.results[1].status, Status::Fail);
        assert_eq!(back.results[1].reason, "x/two went wrong");
        assert_eq!(back.results[1].duration, Duration::from_millis(12));
        let d = back.results[1].detail.as_ref().expect("detail");
        assert_eq!(d.expected.as_deref(), Some("a 200"));
        assert_eq!((back.seed, back.cases, back.run_id.as_str()), (7, 3, "a"));
    }

    #[test]
    fn merges_in_run_order_keeping_the_worst_of_duplicates() {
        let order: Vec<String> = ["s/a", "s/b", "s/c", "h/last"].map(String::from).to_vec();
        let a = report(
            "a",
            vec![result("s/c", Status::Pass), result("h/last", Status::Pass)],
        );
        let b = report(
            "b",
            vec![
                result("s/a", Status::Skip),
                result("s/b", Status::Fail),
                result("h/last", Status::Fail),
            ],
        );
        let m = merge(vec![a, b], &order).expect("merges");
        let names: Vec<&str> = m.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["s/a", "s/b", "s/c", "h/last"]);
        assert_eq!(m.results[3].status, Status::Fail);
        assert_eq!(m.run_id, "a, b");
        assert!(m.failed());
    }

    #[test]
    fn refuses_reports_of_different_runs() {
        let a = report("a", vec![]);
        let mut b = report("b", vec![]);
        b.seed = 8;
        assert!(merge(vec![a.clone(), b], &[]).is_err());
        let mut c = report("c", vec![]);
        c.api_version = "1.50".into();
        assert!(merge(vec![a, c], &[]).is_err());
        assert!(merge(vec![], &[]).is_err());
        assert!(from_value(&serde_json::json!({"schema": "other"})).is_err());
    }
}
