//! Coverage, measured rather than declared: every exchange of a run is
//! matched to an operation of the Engine API spec for the negotiated
//! version, and for each operation the run records which documented query
//! parameters and body fields it sent and which documented statuses came
//! back. Hijacked and streaming exchanges (attach, exec start, events,
//! logs) count by their request and status like any other.
//!
//! * [`spec`]: the embedded operation tables (specs/coverage/) and the
//!   operations a single host cannot serve;
//! * [`matcher`]: path templates against real paths;
//! * [`listing`]: what was never exercised, for `shipshape coverage`.
//!
//! The [`Coverage`] it produces is made of sets only, so two runs' figures
//! merge by union ([`Coverage::merge`]) and every count is derived from the
//! sets ([`Coverage::totals`]), never stored on its own.

pub mod listing;
pub mod matcher;
pub mod spec;

use crate::client::{ApiVersion, Exchange};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a run exercised of one operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationCoverage {
    pub operation: String,
    pub method: String,
    pub path: String,
    pub tag: String,
    /// Why a single host cannot serve it; such operations are outside the goal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unservable: Option<String>,
    /// How many exchanges reached it.
    pub exchanges: usize,
    /// Documented query parameters sent, and those never sent.
    pub query_sent: BTreeSet<String>,
    pub query_missing: BTreeSet<String>,
    /// Documented top-level body fields sent, and those never sent.
    pub body_sent: BTreeSet<String>,
    pub body_missing: BTreeSet<String>,
    /// Documented statuses that came back, and those that never did.
    pub statuses_seen: BTreeSet<u16>,
    pub statuses_missing: BTreeSet<u16>,
    /// Documented statuses a single host cannot produce
    /// (specs/coverage/unservable.json) that were not seen: outside the
    /// goal. One that comes back anyway moves to `statuses_seen`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub statuses_unservable: BTreeSet<u16>,
    /// What was sent or answered beyond the spec: query parameters, body
    /// fields, statuses.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub undocumented_query: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub undocumented_body: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub undocumented_statuses: BTreeSet<u16>,
}

impl OperationCoverage {
    pub fn covered(&self) -> bool {
        self.exchanges > 0
    }

    pub fn params_documented(&self) -> usize {
        self.query_sent.len()
            + self.query_missing.len()
            + self.body_sent.len()
            + self.body_missing.len()
    }

    pub fn params_sent(&self) -> usize {
        self.query_sent.len() + self.body_sent.len()
    }

    /// Documented statuses in the goal: those seen and those a single host
    /// can produce but never did.
    pub fn statuses_documented(&self) -> usize {
        self.statuses_seen.len() + self.statuses_missing.len()
    }

    /// Folds in what another run exercised of the same operation.
    fn merge(&mut self, other: &OperationCoverage) {
        self.exchanges += other.exchanges;
        union_moving(
            &mut self.query_sent,
            &mut self.query_missing,
            &other.query_sent,
            &other.query_missing,
        );
        union_moving(
            &mut self.body_sent,
            &mut self.body_missing,
            &other.body_sent,
            &other.body_missing,
        );
        union_moving(
            &mut self.statuses_seen,
            &mut self.statuses_missing,
            &other.statuses_seen,
            &other.statuses_missing,
        );
        self.statuses_unservable
            .extend(other.statuses_unservable.iter().copied());
        let seen = &self.statuses_seen;
        self.statuses_unservable.retain(|s| !seen.contains(s));
        self.undocumented_query
            .extend(other.undocumented_query.iter().cloned());
        self.undocumented_body
            .extend(other.undocumented_body.iter().cloned());
        self.undocumented_statuses
            .extend(other.undocumented_statuses.iter().copied());
    }
}

/// `hit ∪= other_hit`, `miss = (miss ∪ other_miss) − hit`.
fn union_moving<T: Ord + Clone>(
    hit: &mut BTreeSet<T>,
    miss: &mut BTreeSet<T>,
    other_hit: &BTreeSet<T>,
    other_miss: &BTreeSet<T>,
) {
    hit.extend(other_hit.iter().cloned());
    miss.extend(other_miss.iter().cloned());
    miss.retain(|x| !hit.contains(x));
}

/// Requests that matched no operation (unknown routes probed on purpose,
/// wrong methods), by method and path without query or version prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmatched {
    pub method: String,
    pub path: String,
    pub exchanges: usize,
    pub statuses: BTreeSet<u16>,
}

/// A run's coverage of one spec document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// The spec document measured against (`1.41`, `1.50`).
    pub spec: String,
    /// Every operation of the spec, exercised or not, in spec order.
    pub operations: Vec<OperationCoverage>,
    pub unmatched: Vec<Unmatched>,
}

/// The figures of the coverage line, all derived from a [`Coverage`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Operations in the goal (servable) and how many were exercised.
    pub operations: usize,
    pub operations_covered: usize,
    /// Documented query parameters plus body fields of the goal operations.
    pub parameters: usize,
    pub parameters_sent: usize,
    /// Of those, the query parameters alone.
    pub query: usize,
    pub query_sent: usize,
    /// Documented statuses in the goal (seen, or producible on one host).
    pub statuses: usize,
    pub statuses_seen: usize,
    /// Documented statuses of goal operations a single host cannot produce
    /// and the run did not see (outside the goal).
    pub statuses_unservable: usize,
    /// Operations a single host cannot serve, and how many were probed.
    pub unservable: usize,
    pub unservable_probed: usize,
    /// Exchanges that matched no operation.
    pub unmatched_exchanges: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error("{0}")]
    Spec(String),
    #[error("cannot merge coverage of spec {0} with coverage of spec {1}")]
    SpecMismatch(String, String),
}

/// Matches every exchange to an operation of the spec for `version`.
pub fn measure(exchanges: &[Exchange], version: ApiVersion) -> Result<Coverage, CoverageError> {
    let table = spec::table(version).map_err(CoverageError::Spec)?;
    let mut ops: Vec<OperationCoverage> = table
        .operations
        .iter()
        .map(|op| OperationCoverage {
            operation: op.operation.clone(),
            method: op.method.clone(),
            path: op.path.clone(),
            tag: op.tag.clone(),
            unservable: op.unservable.clone(),
            query_missing: op.query.iter().cloned().collect(),
            body_missing: op.body.iter().cloned().collect(),
            statuses_missing: op
                .statuses
                .iter()
                .copied()
                .filter(|st| !op.unservable_statuses.contains_key(st))
                .collect(),
            statuses_unservable: op.unservable_statuses.keys().copied().collect(),
            ..OperationCoverage::default()
        })
        .collect();
    let mut unmatched: BTreeMap<(String, String), Unmatched> = BTreeMap::new();
    for ex in exchanges {
        let Some(i) = table.find(&ex.method, &ex.path) else {
            let path = format!("/{}", matcher::segments(&ex.path).join("/"));
            let u = unmatched
                .entry((ex.method.clone(), path.clone()))
                .or_insert_with(|| Unmatched {
                    method: ex.method.clone(),
                    path,
                    ..Unmatched::default()
                });
            u.exchanges += 1;
            u.statuses.extend(ex.status);
            continue;
        };
        let cov = &mut ops[i];
        cov.exchanges += 1;
        for q in matcher::query_names(&ex.path) {
            record(
                &mut cov.query_sent,
                &mut cov.query_missing,
                &mut cov.undocumented_query,
                q,
            );
        }
        for f in &ex.request_fields {
            record(
                &mut cov.body_sent,
                &mut cov.body_missing,
                &mut cov.undocumented_body,
                f.clone(),
            );
        }
        if let Some(st) = ex.status {
            if cov.statuses_unservable.remove(&st) {
                cov.statuses_seen.insert(st);
                continue;
            }
            record(
                &mut cov.statuses_seen,
                &mut cov.statuses_missing,
                &mut cov.undocumented_statuses,
                st,
            );
        }
    }
    Ok(Coverage {
        spec: table.version.clone(),
        operations: ops,
        unmatched: unmatched.into_values().collect(),
    })
}

/// Moves `x` from `missing` to `hit` when documented, else notes it as
/// undocumented (unless it was already hit).
fn record<T: Ord>(
    hit: &mut BTreeSet<T>,
    missing: &mut BTreeSet<T>,
    undocumented: &mut BTreeSet<T>,
    x: T,
) {
    if missing.remove(&x) {
        hit.insert(x);
    } else if !hit.contains(&x) {
        undocumented.insert(x);
    }
}

impl Coverage {
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for op in &self.operations {
            if op.unservable.is_some() {
                t.unservable += 1;
                t.unservable_probed += usize::from(op.covered());
                continue;
            }
            t.operations += 1;
            t.operations_covered += usize::from(op.covered());
            t.parameters += op.params_documented();
            t.parameters_sent += op.params_sent();
            t.query += op.query_sent.len() + op.query_missing.len();
            t.query_sent += op.query_sent.len();
            t.statuses += op.statuses_documented();
            t.statuses_seen += op.statuses_seen.len();
            t.statuses_unservable += op.statuses_unservable.len();
        }
        t.unmatched_exchanges = self.unmatched.iter().map(|u| u.exchanges).sum();
        t
    }

    /// The console line, e.g. `coverage: 87 of 98 operations, 412 of 530
    /// parameters, 160 of 240 documented statuses (API 1.41 spec; ...)`.
    pub fn line(&self) -> String {
        let t = self.totals();
        format!(
            "coverage: {} of {} operations, {} of {} parameters ({} of {} query), {} of {} \
             documented statuses (API {} spec; +{} statuses and {} swarm/plugin operations a \
             single host cannot serve, {} of those operations probed; {} matched no operation)",
            t.operations_covered,
            t.operations,
            t.parameters_sent,
            t.parameters,
            t.query_sent,
            t.query,
            t.statuses_seen,
            t.statuses,
            self.spec,
            t.statuses_unservable,
            t.unservable,
            t.unservable_probed,
            match t.unmatched_exchanges {
                1 => "1 request".to_string(),
                n => format!("{n} requests"),
            }
        )
    }

    /// Folds in another run's coverage of the same spec: sets are united,
    /// so the counts of the result are those of both runs together.
    pub fn merge(&mut self, other: &Coverage) -> Result<(), CoverageError> {
        if self.spec != other.spec {
            return Err(CoverageError::SpecMismatch(
                self.spec.clone(),
                other.spec.clone(),
            ));
        }
        for op in &other.operations {
            match self
                .operations
                .iter_mut()
                .find(|o| o.operation == op.operation)
            {
                Some(mine) => mine.merge(op),
                None => self.operations.push(op.clone()),
            }
        }
        for u in &other.unmatched {
            match self
                .unmatched
                .iter_mut()
                .find(|m| m.method == u.method && m.path == u.path)
            {
                Some(m) => {
                    m.exchanges += u.exchanges;
                    m.statuses.extend(u.statuses.iter().copied());
                }
                None => self.unmatched.push(u.clone()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
