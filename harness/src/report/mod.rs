//! Results of a run, independent of how they are shown, and the writers that
//! show them: the console ([`console`]), JUnit XML ([`junit`]), JSON
//! ([`json`]) and one self-contained HTML page ([`html`]). Every writer is
//! fed from the same [`Report`], so the formats cannot disagree.

pub mod console;
pub mod html;
pub mod json;
pub mod junit;
pub mod merge;
pub mod unsupported;
pub mod verdict;

pub use verdict::Verdict;

use crate::client::{printable, Exchange};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::ops::Range;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Not applicable to this endpoint (API version, OS, missing prerequisite).
    Skip,
    /// The endpoint says it does not implement what the scenario needs (see
    /// [`unsupported`] for the exact rule). Counted with the skipped ones in
    /// the summary line.
    Unsupported,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
            Status::Unsupported => "UNSUPPORTED",
        }
    }
}

/// One request/response pair, kept structured for the JSON and HTML reports
/// (bodies are the transcript's first 2 KiB, rendered printable).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExchangeRecord {
    pub id: usize,
    pub method: String,
    pub path: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: String,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: String,
    /// Transport error, when no complete answer came.
    pub error: Option<String>,
    pub elapsed_ms: u128,
    /// Raw request body bytes (for the curl replay); not serialised.
    #[serde(skip, default)]
    pub request_bytes: Vec<u8>,
}

impl From<&Exchange> for ExchangeRecord {
    fn from(e: &Exchange) -> Self {
        ExchangeRecord {
            id: e.id,
            method: e.method.clone(),
            path: e.path.clone(),
            request_headers: e.request_headers.clone(),
            request_body: readable(&e.request_body, e.request_body_len),
            status: e.status,
            response_headers: e.response_headers.clone(),
            response_body: readable(&e.response_body, e.response_body_len),
            error: e.error.clone(),
            elapsed_ms: e.elapsed.as_millis(),
            request_bytes: e.request_body.clone(),
        }
    }
}

/// Text for people: [`printable`], except that binary data (an image
/// tarball, say) is summarised instead of shown as a wall of escapes.
pub fn readable(data: &[u8], total_len: usize) -> String {
    let control = data
        .iter()
        .filter(|&&b| b < 0x20 && !b"\n\r\t".contains(&b))
        .count();
    if data.len() >= 64 && control * 10 > data.len() {
        let tar = data.len() > 262 && &data[257..262] == b"ustar";
        return format!(
            "({total_len} bytes of binary data{})",
            if tar { ", a tar archive" } else { "" }
        );
    }
    printable(data, total_len)
}

impl ExchangeRecord {
    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The request part of the transcript rendering.
    pub fn request_text(&self) -> String {
        let mut s = format!("{} {}\n", self.method, self.path);
        for (k, v) in &self.request_headers {
            let _ = writeln!(s, "{k}: {v}");
        }
        if !self.request_body.is_empty() {
            let _ = write!(s, "\n{}\n", self.request_body);
        }
        s
    }

    /// The response part of the transcript rendering.
    pub fn response_text(&self) -> String {
        let mut s = String::new();
        match (self.status, &self.error) {
            (_, Some(e)) => {
                let _ = writeln!(s, "no response: {e}");
            }
            (Some(st), None) => {
                let _ = writeln!(s, "{st} (after {} ms)", self.elapsed_ms);
                for (k, v) in &self.response_headers {
                    let _ = writeln!(s, "{k}: {v}");
                }
                if !self.response_body.is_empty() {
                    // Pretty JSON reads far better than one long line.
                    let body = serde_json::from_str::<serde_json::Value>(&self.response_body)
                        .ok()
                        .and_then(|v| serde_json::to_string_pretty(&v).ok())
                        .unwrap_or_else(|| self.response_body.clone());
                    let _ = write!(s, "\n{body}\n");
                }
            }
            (None, None) => s.push_str("no response\n"),
        }
        s
    }

    /// A curl command that sends the same request to `host`, so a failure
    /// can be replayed without the harness. None for tcp hosts with no
    /// simple mapping (never happens: tcp maps to http).
    pub fn curl(&self, host: &str) -> String {
        let (sock, base) = match host.strip_prefix("unix://") {
            Some(p) => (Some(p), "http://localhost".to_string()),
            None => (
                None,
                format!(
                    "http://{}",
                    host.trim_start_matches("tcp://")
                        .trim_start_matches("http://")
                ),
            ),
        };
        let mut c = String::from("curl -sS -i");
        if let Some(p) = sock {
            let _ = write!(c, " --unix-socket {}", shell_quote(p));
        }
        if self.method == "HEAD" {
            c.push_str(" -I");
        } else if self.method != "GET" {
            let _ = write!(c, " -X {}", self.method);
        }
        for (k, v) in &self.request_headers {
            // curl sets these itself; repeating them only adds noise.
            if ["host", "user-agent", "content-length"].contains(&k.to_ascii_lowercase().as_str()) {
                continue;
            }
            let _ = write!(c, " -H {}", shell_quote(&format!("{k}: {v}")));
        }
        if !self.request_bytes.is_empty() {
            let body = String::from_utf8_lossy(&self.request_bytes);
            if body.len() < 1500 && !body.contains('\0') {
                let _ = write!(c, " --data-binary {}", shell_quote(&body));
            } else {
                c.push_str(" --data-binary @BODY_FILE");
            }
        }
        let _ = write!(c, " {}", shell_quote(&format!("{base}{}", self.path)));
        c
    }
}

/// Single-quotes for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Why a scenario failed (or was found unsupported), ready to print.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FailureDetail {
    /// The exchanges involved, rendered (request and what came back).
    pub exchanges: Vec<String>,
    /// The same exchanges, structured (for the JSON and HTML reports).
    pub records: Vec<ExchangeRecord>,
    /// What Docker does.
    pub expected: Option<String>,
    /// Where that expectation comes from.
    pub source: Option<String>,
    /// Anything else worth showing (e.g. the minimal failing proptest input).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// Full name, `area/name`.
    pub name: String,
    pub status: Status,
    /// One line: why it failed or was skipped (empty on pass).
    pub reason: String,
    pub detail: Option<FailureDetail>,
    #[serde(rename = "duration_ms", serialize_with = "ser_ms")]
    pub duration: Duration,
    /// Transcript ids of the exchanges this scenario made (for `diff`).
    #[serde(skip)]
    pub transcript: Range<usize>,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl ScenarioResult {
    pub fn area(&self) -> &str {
        self.name.split('/').next().unwrap_or("")
    }

    /// The PASS/FAIL/SKIP/UNSUPPORTED line.
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

/// Who answered: the endpoint's identity as it reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Endpoint {
    /// `Server` header of `/_ping` (e.g. `Docker/20.10.24+dfsg1 (linux)`).
    pub server_header: Option<String>,
    /// Highest API version the server speaks (`Api-Version` of `/_ping`).
    pub max_api_version: String,
    pub min_api_version: Option<String>,
    /// Whether `--api-version` pinned the version.
    pub pinned: bool,
    /// `Os`, `Arch`, `KernelVersion` and the first component's name from
    /// `/version` (e.g. `Engine`, `Podman Engine`).
    pub os: Option<String>,
    pub arch: Option<String>,
    pub kernel: Option<String>,
    pub platform: Option<String>,
    /// How the harness reached it: `unix`, `tcp`, `tls (server
    /// certificate ...)`, `ssh (...)`, and the docker context if one.
    pub transport: Option<String>,
}

impl Endpoint {
    /// dockerd itself (or Docker Desktop): its `Server` header is
    /// `Docker/<version> (<os>)`. The "unsupported" result never applies to
    /// it — every route the scenarios use exists in Docker, so a not-found
    /// there is a real failure.
    pub fn is_docker(&self) -> bool {
        self.server_header
            .as_deref()
            .is_some_and(|s| s.starts_with("Docker/"))
    }
}

/// Everything a run produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub target: String,
    pub api_version: String,
    /// The engine's own version string (`Version` of `/version`).
    pub server: String,
    pub endpoint: Endpoint,
    pub run_id: String,
    pub seed: u64,
    pub cases: u32,
    /// When the run started (RFC 3339, UTC).
    pub started: String,
    pub results: Vec<ScenarioResult>,
    /// The run's exchanges matched to the spec's operations; None when no
    /// run measured it (reports built in tests). Written by each writer
    /// itself, hence not serialised here.
    #[serde(skip)]
    pub coverage: Option<crate::coverage::Coverage>,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }

    pub fn failed(&self) -> bool {
        self.count(Status::Fail) > 0
    }

    /// Skipped in the summary's sense: skipped plus unsupported.
    pub fn skipped_total(&self) -> usize {
        self.count(Status::Skip) + self.count(Status::Unsupported)
    }

    /// The closing line: `N passed, M failed, K skipped` (K includes the
    /// unsupported ones; [`Report::unsupported_line`] says how many).
    pub fn summary_line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.skipped_total()
        )
    }

    /// The line printed just before the summary when some scenarios were
    /// unsupported, so the "skipped" figure is not misread.
    pub fn unsupported_line(&self) -> Option<String> {
        let names: Vec<&str> = self
            .results
            .iter()
            .filter(|r| r.status == Status::Unsupported)
            .map(|r| r.name.as_str())
            .collect();
        (!names.is_empty()).then(|| {
            format!(
                "{} of the skipped are unsupported by the endpoint: {}",
                names.len(),
                names.join(", ")
            )
        })
    }

    /// Areas in first-appearance order with their results.
    pub fn areas(&self) -> Vec<(&str, Vec<&ScenarioResult>)> {
        let mut out: Vec<(&str, Vec<&ScenarioResult>)> = Vec::new();
        for r in &self.results {
            match out.iter_mut().find(|(a, _)| *a == r.area()) {
                Some((_, v)) => v.push(r),
                None => out.push((r.area(), vec![r])),
            }
        }
        out
    }

    /// The commands that replay a failure: the harness limited to the
    /// scenario (with the same seed and cases, so property cases repeat),
    /// and a curl command for the exchange that showed the problem.
    pub fn replay(&self, r: &ScenarioResult) -> Vec<String> {
        let mut cmd = format!(
            "shipshape run --host {} --filter {}",
            shell_quote(&self.target),
            shell_quote(&r.name)
        );
        if self.endpoint.pinned {
            let _ = write!(cmd, " --api-version {}", self.api_version);
        }
        let _ = write!(cmd, " --seed {} --cases {}", self.seed, self.cases);
        let mut v = vec![cmd];
        if let Some(rec) = r.detail.as_ref().and_then(|d| d.records.first()) {
            v.push(rec.curl(&self.target));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn r(name: &str, status: Status) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            status,
            reason: String::new(),
            detail: None,
            duration: Duration::from_millis(3),
            transcript: 0..0,
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
                r("b/u", Status::Unsupported),
            ],
            ..Report::default()
        };
        assert_eq!(rep.summary_line(), "2 passed, 1 failed, 2 skipped");
        assert_eq!(
            rep.unsupported_line().as_deref(),
            Some("1 of the skipped are unsupported by the endpoint: b/u")
        );
        assert!(rep.failed());
        assert_eq!(rep.results[2].area(), "b");
        assert_eq!(rep.results[0].line(), "PASS a/x (3 ms)");
        let areas = rep.areas();
        assert_eq!(areas.len(), 2);
        assert_eq!(areas[1].1.len(), 3);
    }

    #[test]
    fn binary_bodies_are_summarised() {
        let mut tar = vec![0u8; 1024];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(
            readable(&tar, 5000),
            "(5000 bytes of binary data, a tar archive)"
        );
        assert_eq!(readable(b"{\"a\":1}\n", 8), "{\"a\":1}\n");
    }

    #[test]
    fn curl_replays_the_request() {
        let rec = ExchangeRecord {
            method: "POST".into(),
            path: "/v1.41/containers/create?name=a%20b".into(),
            request_headers: vec![
                ("Host".into(), "api.moby.localhost".into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            request_bytes: br#"{"Image":"it's"}"#.to_vec(),
            ..ExchangeRecord::default()
        };
        assert_eq!(
            rec.curl("unix:///var/run/docker.sock"),
            r#"curl -sS -i --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/json' --data-binary '{"Image":"it'\''s"}' 'http://localhost/v1.41/containers/create?name=a%20b'"#
        );
    }
}
