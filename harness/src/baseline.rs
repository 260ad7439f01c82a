//! Baselines for CI gating: an endpoint's known divergences.
//!
//! A baseline file lists, for one endpoint, the scenarios known to fail (or
//! be unsupported) there, each with a reason, a link and an expiry date:
//!
//! ```json
//! { "endpoint": "podman 4.3.1",
//!   "divergences": [
//!     { "scenario": "errors/create-invalid-name",
//!       "reason": "answers 500 where dockerd answers 400",
//!       "link": "https://...", "expires": "2027-06-30" } ] }
//! ```
//!
//! With `--baseline`, the run fails (exit 1) when any of these rules fires:
//!
//! * `not-in-baseline`: a scenario failed, or was unsupported, and is not
//!   listed;
//! * `expired`: an entry's expiry date has passed (it is still valid on
//!   that day), so known divergences are looked at again;
//! * `now-passes`: a listed scenario passed — delete the entry, so the
//!   baseline only shrinks (not for an entry marked `"intermittent": true`,
//!   a divergence the endpoint shows on some runs only).
//!
//! Entries for scenarios that did not run (filtered out, skipped) are left
//! alone. A file that does not parse, names an unknown scenario, lists one
//! twice or has an empty reason/link is an error (exit 2) before anything
//! runs.

pub use crate::report::verdict::{Fired, Known, Rule, Verdict};
use crate::report::{Report, Status};
use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineFile {
    /// Which endpoint this baseline is for (free text).
    pub endpoint: String,
    #[serde(default)]
    pub about: Option<String>,
    pub divergences: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub scenario: String,
    pub reason: String,
    pub link: String,
    /// `YYYY-MM-DD`, last day the entry is accepted.
    pub expires: String,
    /// The divergence shows on some runs of the endpoint and not on others
    /// (its answer depends on the host's state): a pass then fires no
    /// `now-passes`. The expiry still brings it back for review.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub intermittent: bool,
}

#[derive(Debug, Clone)]
pub struct Baseline {
    pub path: PathBuf,
    pub file: BaselineFile,
    expiry: Vec<NaiveDate>,
}

impl Baseline {
    /// Reads and validates the file; `names` are the scenarios that exist
    /// (the caller's registry: the baseline does not know the scenarios).
    pub fn load(path: &Path, names: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading baseline {}", path.display()))?;
        let file: BaselineFile = serde_json::from_str(&text)
            .with_context(|| format!("baseline {} is not valid", path.display()))?;
        Self::from_file(path, file, names)
    }

    /// Validates `file` against the known scenario names.
    pub fn from_file(path: &Path, file: BaselineFile, names: &[String]) -> Result<Self> {
        let mut expiry = Vec::new();
        for (i, e) in file.divergences.iter().enumerate() {
            let at = format!(
                "baseline {} entry {} ({})",
                path.display(),
                i + 1,
                e.scenario
            );
            if !names.contains(&e.scenario) {
                bail!("{at}: no such scenario (see `shipshape list`)");
            }
            if file.divergences[..i]
                .iter()
                .any(|o| o.scenario == e.scenario)
            {
                bail!("{at}: listed twice");
            }
            if e.reason.trim().is_empty() || e.link.trim().is_empty() {
                bail!("{at}: reason and link must not be empty");
            }
            let d = NaiveDate::parse_from_str(&e.expires, "%Y-%m-%d")
                .with_context(|| format!("{at}: expires {:?} is not YYYY-MM-DD", e.expires))?;
            expiry.push(d);
        }
        Ok(Baseline {
            path: path.to_path_buf(),
            file,
            expiry,
        })
    }

    pub fn entry(&self, scenario: &str) -> Option<&Entry> {
        self.file
            .divergences
            .iter()
            .find(|e| e.scenario == scenario)
    }

    /// Applies the three rules to a finished run, as of `today`.
    pub fn judge(&self, report: &Report, today: NaiveDate) -> Verdict {
        let mut fired = Vec::new();
        let mut known = Vec::new();
        for (e, exp) in self.file.divergences.iter().zip(&self.expiry) {
            if *exp < today {
                fired.push(Fired {
                    rule: Rule::Expired,
                    scenario: e.scenario.clone(),
                    message: format!(
                        "{}: the entry expired on {} (review it: {}; link {})",
                        e.scenario, e.expires, e.reason, e.link
                    ),
                });
            }
        }
        for r in &report.results {
            let entry = self.entry(&r.name);
            match (r.status, entry) {
                (Status::Fail | Status::Unsupported, None) => fired.push(Fired {
                    rule: Rule::NotInBaseline,
                    scenario: r.name.clone(),
                    message: format!(
                        "{} {} and is not in the baseline: {}",
                        r.name,
                        if r.status == Status::Fail {
                            "failed"
                        } else {
                            "is unsupported"
                        },
                        r.reason
                    ),
                }),
                (Status::Pass, Some(e)) if !e.intermittent => fired.push(Fired {
                    rule: Rule::NowPasses,
                    scenario: r.name.clone(),
                    message: format!(
                        "{} now passes: remove its entry from the baseline (was: {})",
                        r.name, e.reason
                    ),
                }),
                (Status::Fail | Status::Unsupported, Some(e)) => known.push(Known {
                    scenario: e.scenario.clone(),
                    reason: e.reason.clone(),
                    link: e.link.clone(),
                    expires: e.expires.clone(),
                }),
                _ => {}
            }
        }
        Verdict {
            file: self.path.display().to_string(),
            endpoint: self.file.endpoint.clone(),
            fired,
            known,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ScenarioResult;
    use std::time::Duration;

    fn res(name: &str, status: Status) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            status,
            reason: "why".into(),
            detail: None,
            duration: Duration::ZERO,
            transcript: 0..0,
        }
    }

    fn entry(s: &str, expires: &str) -> Entry {
        Entry {
            scenario: s.into(),
            reason: "known".into(),
            link: "https://example.invalid/1".into(),
            expires: expires.into(),
            intermittent: false,
        }
    }

    fn baseline(entries: Vec<Entry>) -> Result<Baseline> {
        let names: Vec<String> = ["a/x", "a/y", "a/z", "a/w"].map(String::from).to_vec();
        Baseline::from_file(
            Path::new("b.json"),
            BaselineFile {
                endpoint: "e".into(),
                about: None,
                divergences: entries,
            },
            &names,
        )
    }

    #[test]
    fn rules() {
        let today = NaiveDate::from_ymd_opt(2027, 1, 10).unwrap();
        let b = baseline(vec![
            entry("a/x", "2027-01-10"), // fails, valid through today
            entry("a/y", "2027-06-01"), // passes now
            entry("a/w", "2026-12-31"), // expired (not run)
        ])
        .unwrap();
        let report = Report {
            results: vec![
                res("a/x", Status::Fail),
                res("a/y", Status::Pass),
                res("a/z", Status::Unsupported),
            ],
            ..Report::default()
        };
        let v = b.judge(&report, today);
        let fired: Vec<(Rule, &str)> = v
            .fired
            .iter()
            .map(|f| (f.rule, f.scenario.as_str()))
            .collect();
        assert_eq!(
            fired,
            vec![
                (Rule::Expired, "a/w"),
                (Rule::NowPasses, "a/y"),
                (Rule::NotInBaseline, "a/z"),
            ]
        );
        assert_eq!(v.known.len(), 1);
        assert!(!v.passed());
        assert!(v.lines()[0].starts_with("baseline: rule expired fired: a/w"));
    }

    #[test]
    fn an_intermittent_entry_may_pass_or_fail() {
        let today = NaiveDate::from_ymd_opt(2027, 1, 10).unwrap();
        let b = baseline(vec![Entry {
            intermittent: true,
            ..entry("a/x", "2027-02-01")
        }])
        .unwrap();
        for status in [Status::Pass, Status::Fail] {
            let report = Report {
                results: vec![res("a/x", status)],
                ..Report::default()
            };
            assert!(b.judge(&report, today).passed(), "{status:?}");
        }
        let expired = b.judge(
            &Report::default(),
            NaiveDate::from_ymd_opt(2027, 2, 2).unwrap(),
        );
        assert!(!expired.passed());
    }

    #[test]
    fn a_matching_run_passes() {
        let today = NaiveDate::from_ymd_opt(2027, 1, 10).unwrap();
        let b = baseline(vec![entry("a/x", "2027-02-01")]).unwrap();
        let report = Report {
            results: vec![res("a/x", Status::Fail), res("a/y", Status::Skip)],
            ..Report::default()
        };
        assert!(b.judge(&report, today).passed());
    }

    #[test]
    fn invalid_files_are_errors() {
        assert!(baseline(vec![entry("a/nope", "2027-01-01")]).is_err());
        assert!(baseline(vec![entry("a/x", "next year")]).is_err());
        assert!(baseline(vec![entry("a/x", "2027-01-01"), entry("a/x", "2027-01-01")]).is_err());
        let mut e = entry("a/x", "2027-01-01");
        e.link = " ".into();
        assert!(baseline(vec![e]).is_err());
    }
}
