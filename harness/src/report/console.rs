//! Console output: one plain line per scenario on stdout (with failure
//! details), and, only when stderr is a terminal, an `indicatif` progress
//! bar on stderr. CI logs (no terminal) get exactly the plain lines.

use super::{Report, ScenarioResult};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress display for `total` scenarios; the bar only appears when
    /// stderr is a terminal.
    pub fn new(total: usize, prefix: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let pb = ProgressBar::new(total as u64);
            let style = ProgressStyle::with_template(
                "{prefix}[{bar:30.cyan/blue}] {pos}/{len} {elapsed} {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            pb.set_style(style);
            pb.set_prefix(prefix.to_string());
            pb
        });
        Progress { bar }
    }

    /// Prints a line on stdout without tearing the bar.
    pub fn println(&self, text: &str) {
        match &self.bar {
            Some(pb) => pb.suspend(|| print!("{text}")),
            None => print!("{text}"),
        }
    }

    /// One finished scenario: its line and details, and the bar moves on.
    pub fn result(&self, r: &ScenarioResult) {
        self.println(&format!("{}\n{}", r.line(), r.detail_text()));
        if let Some(pb) = &self.bar {
            pb.inc(1);
            pb.set_message(format!("{} {}", r.status.label(), r.name));
        }
    }

    pub fn finish(&self) {
        if let Some(pb) = &self.bar {
            pb.finish_and_clear();
        }
    }
}

/// The closing block: per-area counts, the unsupported note, then (last)
/// `N passed, M failed, K skipped`. `extra` lines (the baseline verdict) go
/// between the area table and the last line.
pub fn summary(report: &Report, extra: &[String]) -> String {
    use super::Status::*;
    let mut s = String::new();
    s.push_str("summary by area:\n");
    for (area, rs) in report.areas() {
        let n = |st| rs.iter().filter(|r| r.status == st).count();
        s.push_str(&format!(
            "  {area:<12} {:>3} passed {:>3} failed {:>3} skipped {:>3} unsupported\n",
            n(Pass),
            n(Fail),
            n(Skip),
            n(Unsupported)
        ));
    }
    for l in extra {
        s.push_str(l);
        s.push('\n');
    }
    if let Some(l) = report.unsupported_line() {
        s.push_str(&l);
        s.push('\n');
    }
    s.push_str(&report.summary_line());
    s.push('\n');
    s
}
