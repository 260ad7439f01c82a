//! Results of a run, independent of how they are shown. The console printer
//! lives here; JUnit/JSON/HTML writers can be added beside it later, fed from
//! the same [`Report`].

use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// Why a scenario failed, ready to print.
#[derive(Debug, Clone, Default)]
pub struct FailureDetail {
    /// The exchanges involved, rendered (request and what came back).
    pub exchanges: Vec<String>,
    /// What Docker does.
    pub expected: Option<String>,
    /// Where that expectation comes from.
    pub source: Option<String>,
    /// Anything else worth showing (e.g. the minimal failing proptest input).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// Full name, `area/name`.
    pub name: String,
    pub status: Status,
    /// One line: why it failed or was skipped (empty on pass).
    pub reason: String,
    pub detail: Option<FailureDetail>,
    pub duration: Duration,
}

impl ScenarioResult {
    pub fn area(&self) -> &str {
        self.name.split('/').next().unwrap_or("")
    }

    /// The PASS/FAIL/SKIP line.
    pub fn line(&self) -> String {
        let ms = self.duration.as_millis();
        if self.reason.is_empty() {
            format!("{} {} ({ms} ms)", self.status.label(), self.name)
        } else {
            format!(
                "{} {} ({ms} ms): {}",
                self.status.label(),
                self.name,
                self.reason
            )
        }
    }

    /// Indented failure details, empty when there are none.
    pub fn detail_text(&self) -> String {
        let Some(d) = &self.detail else {
            return String::new();
        };
        let mut s = String::new();
        let indent = |s: &mut String, text: &str| {
            for l in text.lines() {
                let _ = writeln!(s, "    {l}");
            }
        };
        if let Some(e) = &d.expected {
            indent(&mut s, &format!("expected (Docker): {e}"));
        }
        if let Some(src) = &d.source {
            indent(&mut s, &format!("source: {src}"));
        }
        for n in &d.notes {
            indent(&mut s, n);
        }
        for ex in &d.exchanges {
            indent(&mut s, ex);
        }
        s
    }
}

/// Everything a run produced.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub target: String,
    pub api_version: String,
    pub server: String,
    pub run_id: String,
    pub seed: u64,
    pub cases: u32,
    pub results: Vec<ScenarioResult>,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }

    pub fn failed(&self) -> bool {
        self.count(Status::Fail) > 0
    }

    /// The closing line: `N passed, M failed, K skipped`.
    pub fn summary_line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Skip)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, status: Status) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            status,
            reason: String::new(),
            detail: None,
            duration: Duration::from_millis(3),
        }
    }

    #[test]
    fn summary_counts() {
        let rep = Report {
            results: vec![
                r("a/x", Status::Pass),
                r("a/y", Status::Fail),
                r("b/z", Status::Skip),
                r("b/w", Status::Pass),
            ],
            ..Report::default()
        };
        assert_eq!(rep.summary_line(), "2 passed, 1 failed, 1 skipped");
        assert!(rep.failed());
        assert_eq!(rep.results[2].area(), "b");
        assert_eq!(rep.results[0].line(), "PASS a/x (3 ms)");
    }
}
