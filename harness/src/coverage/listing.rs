//! `shipshape coverage --report FILE.json`: what the runs behind one or
//! more JSON reports never exercised, so scenarios can be planned where
//! they are missing. Several reports of the same spec are merged first.

use super::{Coverage, OperationCoverage};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CoverageArgs {
    /// A JSON report written by `shipshape run --report-json FILE`; may be
    /// repeated: the runs' coverage is merged (same API spec only).
    #[arg(long, value_name = "FILE", required = true)]
    pub report: Vec<PathBuf>,
}

/// What a group of the spec (a tag) still lacks, within the goal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupGap {
    pub tag: String,
    pub operations: usize,
    pub parameters: usize,
    pub statuses: usize,
}

impl GroupGap {
    /// Uncovered operations weigh most, then parameters, then statuses.
    fn weight(&self) -> (usize, usize, usize) {
        (self.operations, self.parameters, self.statuses)
    }
}

/// Per group: operations never exercised, parameters never sent and
/// statuses never seen (unservable operations left out), biggest first.
pub fn gaps(cov: &Coverage) -> Vec<GroupGap> {
    let mut by_tag: BTreeMap<&str, GroupGap> = BTreeMap::new();
    for op in cov.operations.iter().filter(|o| o.unservable.is_none()) {
        let g = by_tag.entry(&op.tag).or_insert_with(|| GroupGap {
            tag: op.tag.clone(),
            ..GroupGap::default()
        });
        g.operations += usize::from(!op.covered());
        g.parameters += op.params_documented() - op.params_sent();
        g.statuses += op.statuses_missing.len();
    }
    let mut v: Vec<GroupGap> = by_tag
        .into_values()
        .filter(|g| g.weight() != (0, 0, 0))
        .collect();
    v.sort_by(|a, b| b.weight().cmp(&a.weight()).then(a.tag.cmp(&b.tag)));
    v
}

/// Items as `a, b, c` (for the listing and the HTML report's table).
pub fn join<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn name(op: &OperationCoverage) -> String {
    format!("{} ({} {})", op.operation, op.method, op.path)
}

/// The listing of everything never exercised.
pub fn render(cov: &Coverage) -> String {
    let mut s = String::new();
    let goal: Vec<&OperationCoverage> = cov
        .operations
        .iter()
        .filter(|o| o.unservable.is_none())
        .collect();
    let never: Vec<&&OperationCoverage> = goal.iter().filter(|o| !o.covered()).collect();
    let _ = writeln!(
        s,
        "never exercised ({} of {} operations):",
        never.len(),
        goal.len()
    );
    for op in &never {
        let _ = writeln!(s, "  {:<12} {}", op.tag, name(op));
    }
    s.push_str("exercised, with documented parameters never sent or statuses never seen:\n");
    for op in goal.iter().filter(|o| o.covered()) {
        let params: Vec<&String> = op.query_missing.iter().chain(&op.body_missing).collect();
        if params.is_empty() && op.statuses_missing.is_empty() {
            continue;
        }
        let _ = writeln!(s, "  {:<12} {}", op.tag, name(op));
        if !op.query_missing.is_empty() {
            let _ = writeln!(s, "      query never sent: {}", join(&op.query_missing));
        }
        if !op.body_missing.is_empty() {
            let _ = writeln!(
                s,
                "      body fields never sent: {}",
                join(&op.body_missing)
            );
        }
        if !op.statuses_missing.is_empty() {
            let _ = writeln!(
                s,
                "      statuses never seen: {}",
                join(&op.statuses_missing)
            );
        }
    }
    s.push_str("uncovered by group, biggest first (operations, parameters, statuses):\n");
    for g in gaps(cov) {
        let _ = writeln!(
            s,
            "  {:<12} {:>3} operations {:>4} parameters {:>4} statuses",
            g.tag, g.operations, g.parameters, g.statuses
        );
    }
    let unservable: Vec<&OperationCoverage> = cov
        .operations
        .iter()
        .filter(|o| o.unservable.is_some())
        .collect();
    let probed = join(
        unservable
            .iter()
            .filter(|o| o.covered())
            .map(|o| o.operation.as_str()),
    );
    let _ = writeln!(
        s,
        "not in the goal, a single host cannot serve them ({}; probed: {}):",
        unservable.len(),
        if probed.is_empty() { "none" } else { &probed }
    );
    let mut tags: BTreeMap<&str, usize> = BTreeMap::new();
    for op in &unservable {
        *tags.entry(&op.tag).or_default() += 1;
    }
    let _ = writeln!(
        s,
        "  {}",
        join(tags.iter().map(|(t, n)| format!("{t} ({n})")))
    );
    let unproducible: Vec<String> = cov
        .operations
        .iter()
        .filter(|o| o.unservable.is_none() && !o.statuses_unservable.is_empty())
        .map(|o| format!("{} {}", o.operation, join(&o.statuses_unservable)))
        .collect();
    let _ = writeln!(
        s,
        "statuses not in the goal, a single host cannot produce them (reasons in \
         specs/coverage/unservable.json; {}):",
        unproducible.len()
    );
    if !unproducible.is_empty() {
        let _ = writeln!(s, "  {}", unproducible.join("; "));
    }
    let total: usize = cov.unmatched.iter().map(|u| u.exchanges).sum();
    let _ = writeln!(s, "requests that matched no operation ({total}):");
    for u in &cov.unmatched {
        let _ = writeln!(
            s,
            "  {} {} ({}×; {})",
            u.method,
            u.path,
            u.exchanges,
            if u.statuses.is_empty() {
                "no answer".to_string()
            } else {
                join(&u.statuses)
            }
        );
    }
    s
}

/// Reads the `coverage` of a JSON report.
fn read(path: &std::path::Path) -> Result<Coverage> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut doc: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let cov = doc
        .get_mut("coverage")
        .map(serde_json::Value::take)
        .filter(|v| !v.is_null())
        .with_context(|| {
            format!(
                "{} has no coverage (not a shipshape run report?)",
                path.display()
            )
        })?;
    serde_json::from_value(cov).with_context(|| format!("the coverage in {}", path.display()))
}

/// `shipshape coverage`: prints the merged coverage line and the listing.
pub fn main(args: CoverageArgs) -> Result<ExitCode> {
    let mut merged: Option<Coverage> = None;
    for p in &args.report {
        let cov = read(p)?;
        match merged.as_mut() {
            None => merged = Some(cov),
            Some(m) => m
                .merge(&cov)
                .with_context(|| format!("merging {}", p.display()))?,
        }
    }
    let Some(cov) = merged else {
        anyhow::bail!("no report given");
    };
    let text = format!("{}{}\n", render(&cov), cov.line());
    // A reader that stops early (`| head`) is not an error.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing stdout"),
        _ => Ok(ExitCode::SUCCESS),
    }
}
