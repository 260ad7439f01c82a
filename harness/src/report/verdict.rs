//! A baseline's verdict on a run, as the writers show it: the rules that
//! fired and the known divergences that matched. The baseline
//! (`crate::baseline`) computes it; the report only renders it, so the
//! report does not depend on the baseline.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    NotInBaseline,
    Expired,
    NowPasses,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::NotInBaseline => "not-in-baseline",
            Rule::Expired => "expired",
            Rule::NowPasses => "now-passes",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Fired {
    pub rule: Rule,
    pub scenario: String,
    pub message: String,
}

/// A known divergence that showed up as expected.
#[derive(Debug, Clone, Serialize)]
pub struct Known {
    pub scenario: String,
    pub reason: String,
    pub link: String,
    pub expires: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub file: String,
    pub endpoint: String,
    pub fired: Vec<Fired>,
    pub known: Vec<Known>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.fired.is_empty()
    }

    /// Console lines: one per fired rule, then the verdict.
    pub fn lines(&self) -> Vec<String> {
        let mut v = Vec::new();
        for f in &self.fired {
            v.push(format!(
                "baseline: rule {} fired: {}",
                f.rule.name(),
                f.message
            ));
        }
        v.push(if self.passed() {
            format!(
                "baseline {}: OK ({} known divergences matched, no rule fired)",
                self.file,
                self.known.len()
            )
        } else {
            format!(
                "baseline {}: FAILED ({} rule(s) fired; {} known divergences matched)",
                self.file,
                self.fired.len(),
                self.known.len()
            )
        });
        v
    }
}
