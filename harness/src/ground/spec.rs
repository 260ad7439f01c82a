//! The machine-readable expectations in specs/harness/expectations.json and
//! the generic check that compares a response against one of them.

use super::{fail, Failure, Outcome, Problem};
use crate::client::Response;
use crate::schema::json_type;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

pub const SPEC_JSON: &str = include_str!("../../../specs/harness/expectations.json");

#[derive(Debug, Deserialize)]
pub struct SpecFile {
    pub about: String,
    pub observed_on: String,
    pub checks: BTreeMap<String, Expectation>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Expectation {
    pub request: String,
    pub status: u16,
    /// Exact error text (template).
    #[serde(default)]
    pub message: Option<String>,
    /// Substring of the error text (template).
    #[serde(default)]
    pub message_contains: Option<String>,
    /// Exact body.
    #[serde(default)]
    pub body: Option<String>,
    /// Headers that must be present.
    #[serde(default)]
    pub headers: Vec<String>,
    /// Headers that must have exactly this value.
    #[serde(default)]
    pub header_values: BTreeMap<String, String>,
    /// Header values that change with the API version: from the version
    /// named in the key on, these override `header_values`.
    #[serde(default)]
    pub header_values_since: BTreeMap<String, BTreeMap<String, String>>,
    /// Top-level JSON fields and their JSON types.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Top-level JSON string fields with fixed values.
    #[serde(default)]
    pub field_values: BTreeMap<String, String>,
    #[serde(default)]
    pub kinds: BTreeMap<String, String>,
    #[serde(default)]
    pub note: Option<String>,
    pub source: String,
}

static SPEC: OnceLock<Result<SpecFile, String>> = OnceLock::new();

pub fn spec() -> Result<&'static SpecFile, Problem> {
    SPEC.get_or_init(|| {
        serde_json::from_str(SPEC_JSON)
            .map_err(|e| format!("specs/harness/expectations.json is invalid: {e}"))
    })
    .as_ref()
    .map_err(|e| fail(e.clone()))
}

pub fn expectation(name: &str) -> Result<&'static Expectation, Problem> {
    spec()?.checks.get(name).ok_or_else(|| {
        fail(format!(
            "harness bug: no expectation {name:?} in specs/harness/expectations.json"
        ))
    })
}

/// Replaces `{key}` with values.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut s = template.to_string();
    for (k, v) in vars {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

impl Expectation {
    /// One-line statement of what Docker answers.
    /// `header_values` as they apply at API version `v`.
    pub fn header_values_at(&self, v: crate::client::ApiVersion) -> BTreeMap<String, String> {
        let mut out = self.header_values.clone();
        for (since, values) in &self.header_values_since {
            if crate::client::ApiVersion::parse(since).is_ok_and(|s| v >= s) {
                out.extend(values.clone());
            }
        }
        out
    }

    pub fn summary(&self, vars: &[(&str, &str)]) -> String {
        let mut s = format!("{} → status {}", render(&self.request, vars), self.status);
        if let Some(m) = &self.message {
            s.push_str(&format!(", message {:?}", render(m, vars)));
        }
        if let Some(m) = &self.message_contains {
            s.push_str(&format!(", message containing {:?}", render(m, vars)));
        }
        if let Some(b) = &self.body {
            s.push_str(&format!(", body {b:?}"));
        }
        s
    }

    fn failure(&self, resp: Option<&Response>, reason: String, vars: &[(&str, &str)]) -> Problem {
        Problem::Fail(Failure {
            reason,
            exchange: resp.map(|r| r.exchange),
            expected: Some(self.summary(vars)),
            source: Some(self.source.clone()),
            notes: Vec::new(),
        })
    }

    /// A failure that carries this expectation and its source.
    pub fn fail(
        &self,
        resp: Option<&Response>,
        reason: impl Into<String>,
        vars: &[(&str, &str)],
    ) -> Problem {
        self.failure(resp, reason.into(), vars)
    }

    /// Checks status, error text, body, headers and field types.
    pub fn check(&self, resp: &Response, vars: &[(&str, &str)]) -> Outcome {
        let f = |reason: String| self.failure(Some(resp), reason, vars);
        if resp.status != self.status {
            return Err(f(format!(
                "expected status {}, got {}",
                self.status,
                super::describe(resp)
            )));
        }
        let got = resp.message();
        if let Some(m) = &self.message {
            let want = render(m, vars);
            if got.as_deref() != Some(want.as_str()) {
                return Err(f(format!("expected message {want:?}, got {got:?}")));
            }
        }
        if let Some(m) = &self.message_contains {
            let want = render(m, vars);
            if !got.as_deref().unwrap_or("").contains(&want) {
                return Err(f(format!(
                    "expected a message containing {want:?}, got {got:?}"
                )));
            }
        }
        if let Some(b) = &self.body {
            if resp.body != b.as_bytes() {
                return Err(f(format!("expected body {b:?}, got {:?}", resp.text())));
            }
        }
        for h in &self.headers {
            if resp.header(h).is_none() {
                return Err(f(format!("missing header {h}")));
            }
        }
        for (h, want) in &self.header_values {
            let got = resp.header(h);
            if got != Some(want.as_str()) {
                return Err(f(format!("header {h}: expected {want:?}, got {got:?}")));
            }
        }
        if !self.fields.is_empty() || !self.field_values.is_empty() {
            let body = resp.json().map_err(&f)?;
            self.check_fields(&body).map_err(f)?;
        }
        Ok(())
    }

    /// Field presence and JSON types, and fixed values.
    pub fn check_fields(&self, body: &Value) -> Result<(), String> {
        let obj = body
            .as_object()
            .ok_or_else(|| format!("expected a JSON object, got {}", json_type(body)))?;
        for (field, want) in &self.fields {
            match obj.get(field) {
                None => return Err(format!("missing field {field} ({want})")),
                Some(v) if json_type(v) != want.as_str() => {
                    return Err(format!(
                        "field {field}: expected {want}, got {} ({v})",
                        json_type(v)
                    ))
                }
                Some(_) => {}
            }
        }
        for (field, want) in &self.field_values {
            let got = obj.get(field).and_then(Value::as_str);
            if got != Some(want.as_str()) {
                return Err(format!("field {field}: expected {want:?}, got {got:?}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_and_every_entry_has_a_source() {
        let s = spec().map_err(|_| "invalid spec").expect("spec parses");
        assert!(s.checks.len() >= 25);
        for (name, e) in &s.checks {
            assert!(!e.source.trim().is_empty(), "{name} has no source");
            assert!(name.contains('/'), "{name} is not area/name");
        }
    }

    #[test]
    fn renders_templates() {
        assert_eq!(
            render("No such container: {name}", &[("name", "x")]),
            "No such container: x"
        );
    }
}
