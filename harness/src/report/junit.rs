//! `--report-junit FILE`: JUnit XML (via `quick-junit`), one test suite per
//! area and one test case per scenario, for CI systems that render test
//! results (GitLab, Jenkins, GitHub test reporters).
//!
//! Mapping: pass → success; fail → `<failure>` whose text holds the
//! expectation, its source, the exchange and the replay commands (a failure
//! listed in the baseline stays a failure, its message prefixed with
//! "known divergence", because the endpoint does fail it — the gate is the
//! exit status); skip → `<skipped>`; unsupported → `<skipped
//! type="unsupported">`.

use super::Verdict;
use super::{Report, Status};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

pub fn build(report: &Report, verdict: Option<&Verdict>) -> quick_junit::Report {
    let mut out = quick_junit::Report::new("shipshape");
    let mut total = std::time::Duration::ZERO;
    for (area, results) in report.areas() {
        let mut suite = TestSuite::new(format!("shipshape.{area}"));
        suite.add_property(Property::new("target", report.target.as_str()));
        suite.add_property(Property::new("api_version", report.api_version.as_str()));
        suite.add_property(Property::new("server_version", report.server.as_str()));
        suite.add_property(Property::new("seed", report.seed.to_string()));
        let mut suite_time = std::time::Duration::ZERO;
        for r in results {
            let status = match r.status {
                Status::Pass => TestCaseStatus::success(),
                Status::Fail => {
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let known = verdict.and_then(|v| v.known.iter().find(|k| k.scenario == r.name));
                    let msg = match known {
                        Some(k) => format!(
                            "known divergence (baseline, expires {}: {}): {}",
                            k.expires, k.link, r.reason
                        ),
                        None => r.reason.clone(),
                    };
                    st.set_message(msg).set_type("conformance");
                    let mut text = r.detail_text();
                    for c in report.replay(r) {
                        text.push_str(&format!("    replay: {c}\n"));
                    }
                    st.set_description(text);
                    st
                }
                Status::Skip => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message(r.reason.as_str());
                    st
                }
                Status::Unsupported => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message(format!("unsupported: {}", r.reason))
                        .set_type("unsupported");
                    st
                }
            };
            let mut tc = TestCase::new(r.name.as_str(), status);
            tc.set_classname(format!("shipshape.{area}"))
                .set_time(r.duration);
            suite_time += r.duration;
            suite.add_test_case(tc);
        }
        suite.set_time(suite_time);
        total += suite_time;
        out.add_test_suite(suite);
    }
    out.set_time(total);
    out
}

pub fn write(
    path: &std::path::Path,
    report: &Report,
    verdict: Option<&Verdict>,
) -> anyhow::Result<()> {
    let xml = build(report, verdict)
        .to_string()
        .map_err(|e| anyhow::anyhow!("serialising JUnit XML: {e}"))?;
    std::fs::write(path, xml).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}
