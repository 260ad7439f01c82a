//! Why a scenario did not pass ([`Problem`]: a failure with its evidence,
//! or a skip) and the small helpers that turn an answer into one.

use crate::client::{ClientError, Response};
use serde_json::Value;

/// Why a scenario did not pass.
#[derive(Debug)]
pub enum Problem {
    Fail(Failure),
    Skip(String),
}

#[derive(Debug, Default)]
pub struct Failure {
    pub reason: String,
    /// Transcript index of the exchange that showed the problem.
    pub exchange: Option<usize>,
    pub expected: Option<String>,
    pub source: Option<String>,
    pub notes: Vec<String>,
}

impl Problem {
    pub fn note(mut self, n: impl Into<String>) -> Self {
        if let Problem::Fail(f) = &mut self {
            f.notes.push(n.into());
        }
        self
    }
}

impl From<ClientError> for Problem {
    fn from(e: ClientError) -> Self {
        fail(e.to_string())
    }
}

pub type Outcome = Result<(), Problem>;

pub fn fail(reason: impl Into<String>) -> Problem {
    Problem::Fail(Failure {
        reason: reason.into(),
        ..Failure::default()
    })
}

/// A failure that says what Docker does and where that was read.
pub fn fail_expected(
    reason: impl Into<String>,
    expected: impl Into<String>,
    source: impl Into<String>,
) -> Problem {
    Problem::Fail(Failure {
        reason: reason.into(),
        expected: Some(expected.into()),
        source: Some(source.into()),
        ..Failure::default()
    })
}

/// A failure pinned to the exchange behind `resp`.
pub fn fail_at(resp: &Response, reason: impl Into<String>) -> Problem {
    Problem::Fail(Failure {
        reason: reason.into(),
        exchange: Some(resp.exchange),
        ..Failure::default()
    })
}

/// Short description of what came back, for one-line reasons.
pub fn describe(resp: &Response) -> String {
    match resp.message() {
        Some(m) if resp.status >= 300 => format!("{} {:?}", resp.status, m),
        _ => resp.status.to_string(),
    }
}

/// Fails unless `resp` has status `want` (for supporting requests whose
/// exact error text is not what the scenario is about).
pub fn expect_status(resp: &Response, want: u16, what: &str) -> Outcome {
    if resp.status == want {
        Ok(())
    } else {
        Err(fail_at(
            resp,
            format!("{what}: expected status {want}, got {}", describe(resp)),
        ))
    }
}

pub fn json_body(resp: &Response, what: &str) -> Result<Value, Problem> {
    resp.json()
        .map_err(|e| fail_at(resp, format!("{what}: {e}")))
}
