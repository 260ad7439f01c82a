//! `shipshape diff --host A --host B`: runs the same scenarios (and the same
//! property cases: same seed, same number of cases) against two endpoints
//! and reports where their answers differ once IDs, names, timestamps and
//! sizes are normalised away.
//!
//! Exchanges are paired scenario by scenario: each request becomes a route
//! pattern (`POST /v{api}/containers/{ref}/stop?t=5`) and the two sequences
//! are aligned by longest common subsequence, so a scenario that stops
//! early on one side still pairs what both did. Each pair is compared on:
//! status code; header presence (all but hop-by-hop and per-response ones)
//! and the values of the API-level headers (Content-Type, Api-Version,
//! Ostype, Docker-Experimental); body kind; JSON field presence and types
//! (values are data and are not compared, except error messages); stream
//! framing (multiplexed or not, which streams). Identical divergences are
//! counted once with their occurrences and one piece of evidence: both
//! exchanges as they went over the wire.

pub mod normalize;
pub mod render;
pub mod shape;

use crate::client::{ApiVersion, Client, Exchange, Negotiation, DEFAULT_TIMEOUT};
use crate::report::{ExchangeRecord, Report};
use crate::runner::defaults::{DEFAULT_CASES, DEFAULT_SEED};
use crate::runner::{self, Recording, RunOptions};
use crate::scenarios;
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Args;
use serde::Serialize;
use shape::{Body, JsonDiff};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The two endpoints, in order A then B (repeat: --host A --host B).
    #[command(flatten)]
    pub target: crate::cli::target::TargetArgs,
    /// Pin the API version on both; by default the lower of the two
    /// negotiated versions is used on both, so they answer the same API.
    #[arg(long)]
    pub api_version: Option<String>,
    /// Run only scenarios whose area/name contains TEXT (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub filter: Vec<String>,
    /// Cases per property (the same on both sides).
    #[arg(long, default_value_t = DEFAULT_CASES)]
    pub cases: u32,
    /// Seed for the property generators (the same on both sides).
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Timeout for one request, in seconds.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT.as_secs())]
    pub timeout: u64,
    /// Write the differences as one self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
    /// Write the differences as JSON.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Status,
    BodyKind,
    ErrorMessage,
    JsonField,
    JsonType,
    BodyText,
    StreamFraming,
    HeaderValue,
    HeaderPresence,
    /// A request only one side made (a consequence of an earlier
    /// divergence in the same scenario); listed, not counted.
    Flow,
}

impl Kind {
    pub fn title(self) -> &'static str {
        match self {
            Kind::Status => "Status codes",
            Kind::BodyKind => "Body kinds",
            Kind::ErrorMessage => "Error messages",
            Kind::JsonField => "JSON fields",
            Kind::JsonType => "JSON types",
            Kind::BodyText => "Plain-text bodies",
            Kind::StreamFraming => "Stream framing",
            Kind::HeaderValue => "Header values",
            Kind::HeaderPresence => "Headers present on one side only",
            Kind::Flow => "Requests made on one side only (consequences)",
        }
    }
}

/// The evidence for a divergence: both exchanges, as they went over the wire.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub scenario: String,
    pub a: Option<ExchangeRecord>,
    pub b: Option<ExchangeRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Divergence {
    pub kind: Kind,
    /// Route pattern, or None for divergences seen on every kind of route
    /// (header presence, error-body fields).
    pub route: Option<String>,
    /// What is compared (a header name, a JSON path, "status").
    pub what: String,
    /// A's and B's normalised values.
    pub a: String,
    pub b: String,
    pub occurrences: usize,
    /// Scenarios where it showed (first few).
    pub scenarios: Vec<String>,
    /// Routes where it showed, for divergences not keyed by route.
    pub routes: Vec<String>,
    pub evidence: Evidence,
}

impl Divergence {
    pub fn counted(&self) -> bool {
        self.kind != Kind::Flow
    }
}

pub struct Side {
    pub report: Report,
    pub transcript: Vec<Exchange>,
    pub bodies: BTreeMap<usize, Bytes>,
}

#[derive(Serialize)]
pub struct DiffReport {
    #[serde(skip)]
    pub a: Report,
    #[serde(skip)]
    pub b: Report,
    pub api_version: String,
    pub seed: u64,
    pub cases: u32,
    pub paired_exchanges: usize,
    pub divergences: Vec<Divergence>,
}

impl DiffReport {
    pub fn counted(&self) -> usize {
        self.divergences.iter().filter(|d| d.counted()).count()
    }
}

/// Headers that differ per response for reasons unrelated to the API.
const IGNORED_HEADERS: &[&str] = &[
    "date",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// Headers whose values are part of the API contract.
const VALUE_HEADERS: &[&str] = &[
    "content-type",
    "api-version",
    "ostype",
    "docker-experimental",
];

/// A normalised exchange, ready to compare.
struct View<'a> {
    key: String,
    ex: &'a Exchange,
    status: Option<u16>,
    headers: BTreeMap<String, String>,
    body: Body,
}

fn view<'a>(
    ex: &'a Exchange,
    bodies: &BTreeMap<usize, Bytes>,
    api: &str,
    runs: &[&str],
) -> View<'a> {
    let headers: BTreeMap<String, String> = ex
        .response_headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let ct = headers.get("content-type").cloned().unwrap_or_default();
    let body = match bodies.get(&ex.id) {
        Some(full) => shape::classify(full, true, &ct),
        None => shape::classify(
            &ex.response_body,
            ex.response_body_len == ex.response_body.len(),
            &ct,
        ),
    };
    View {
        key: normalize::route(&ex.method, &ex.path, api, runs),
        ex,
        status: ex.status,
        headers,
        body,
    }
}

/// Longest-common-subsequence pairing of two key sequences.
fn align(a: &[String], b: &[String]) -> Vec<(Option<usize>, Option<usize>)> {
    let (n, m) = (a.len(), b.len());
    let mut t = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i][j] = if a[i] == b[j] {
                t[i + 1][j + 1] + 1
            } else {
                t[i + 1][j].max(t[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        if a[i] == b[j] {
            out.push((Some(i), Some(j)));
            i += 1;
            j += 1;
        } else if t[i + 1][j] >= t[i][j + 1] {
            out.push((Some(i), None));
            i += 1;
        } else {
            out.push((None, Some(j)));
            j += 1;
        }
    }
    out.extend((i..n).map(|i| (Some(i), None)));
    out.extend((j..m).map(|j| (None, Some(j))));
    out
}

/// Accumulates divergences, merging identical ones.
#[derive(Default)]
struct Collector {
    map: BTreeMap<(Kind, Option<String>, String, String, String), Divergence>,
}

impl Collector {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        kind: Kind,
        route: Option<&str>,
        seen_on: &str,
        what: String,
        a: String,
        b: String,
        scenario: &str,
        ea: Option<&Exchange>,
        eb: Option<&Exchange>,
    ) {
        let key = (
            kind,
            route.map(str::to_string),
            what.clone(),
            a.clone(),
            b.clone(),
        );
        let d = self.map.entry(key).or_insert_with(|| Divergence {
            kind,
            route: route.map(str::to_string),
            what,
            a,
            b,
            occurrences: 0,
            scenarios: Vec::new(),
            routes: Vec::new(),
            evidence: Evidence {
                scenario: scenario.to_string(),
                a: ea.map(ExchangeRecord::from),
                b: eb.map(ExchangeRecord::from),
            },
        });
        d.occurrences += 1;
        if !d.scenarios.iter().any(|s| s == scenario) && d.scenarios.len() < 8 {
            d.scenarios.push(scenario.to_string());
        }
        if route.is_none() && !d.routes.iter().any(|r| r == seen_on) && d.routes.len() < 8 {
            d.routes.push(seen_on.to_string());
        }
    }
}

fn compare_pair(c: &mut Collector, scenario: &str, va: &View, vb: &View, runs: &[&str]) {
    let route = va.key.as_str();
    let (ea, eb) = (Some(va.ex), Some(vb.ex));
    let show = |s: Option<u16>| {
        s.map(|s| s.to_string())
            .unwrap_or_else(|| "no answer".into())
    };
    if va.status != vb.status {
        c.add(
            Kind::Status,
            Some(route),
            route,
            "status".into(),
            show(va.status),
            show(vb.status),
            scenario,
            ea,
            eb,
        );
    }
    // Headers: presence everywhere, values for the API-level ones.
    for (k, v) in &va.headers {
        if IGNORED_HEADERS.contains(&k.as_str()) {
            continue;
        }
        match vb.headers.get(k) {
            None => c.add(
                Kind::HeaderPresence,
                None,
                route,
                k.clone(),
                "present".into(),
                "absent".into(),
                scenario,
                ea,
                eb,
            ),
            Some(w) if VALUE_HEADERS.contains(&k.as_str()) => {
                let (na, nb) = (header_value(k, v), header_value(k, w));
                if na != nb {
                    c.add(
                        Kind::HeaderValue,
                        None,
                        route,
                        k.clone(),
                        na,
                        nb,
                        scenario,
                        ea,
                        eb,
                    );
                }
            }
            Some(_) => {}
        }
    }
    for k in vb.headers.keys() {
        if !IGNORED_HEADERS.contains(&k.as_str()) && !va.headers.contains_key(k) {
            c.add(
                Kind::HeaderPresence,
                None,
                route,
                k.clone(),
                "absent".into(),
                "present".into(),
                scenario,
                ea,
                eb,
            );
        }
    }
    // Bodies: only when both answered in the same class (success or
    // error); otherwise the status divergence says it all and the body
    // differences are its consequences.
    let class = |s: Option<u16>| s.map(|s| s >= 400);
    if class(va.status) != class(vb.status) {
        return;
    }
    let error = va.status.is_some_and(|s| s >= 400) && vb.status.is_some_and(|s| s >= 400);
    match (&va.body, &vb.body) {
        (Body::Json(ja), Body::Json(jb)) => {
            // Fields of error bodies are the same on every route: key them
            // as "error body" so one extra field counts once.
            let keyed = if error { None } else { Some(route) };
            let what_prefix = if error { "error body " } else { "" };
            for d in shape::json_diff(ja, jb) {
                match d {
                    JsonDiff::OnlyA(p, t) => c.add(
                        Kind::JsonField,
                        keyed,
                        route,
                        format!("{what_prefix}{p}"),
                        t.into(),
                        "absent".into(),
                        scenario,
                        ea,
                        eb,
                    ),
                    JsonDiff::OnlyB(p, t) => c.add(
                        Kind::JsonField,
                        keyed,
                        route,
                        format!("{what_prefix}{p}"),
                        "absent".into(),
                        t.into(),
                        scenario,
                        ea,
                        eb,
                    ),
                    JsonDiff::Type(p, ta, tb) => c.add(
                        Kind::JsonType,
                        keyed,
                        route,
                        format!("{what_prefix}{p}"),
                        ta.into(),
                        tb.into(),
                        scenario,
                        ea,
                        eb,
                    ),
                }
            }
            if error {
                let msg = |j: &serde_json::Value| {
                    j.get("message")
                        .and_then(serde_json::Value::as_str)
                        .map(|m| normalize::text(m, runs))
                };
                if let (Some(ma), Some(mb)) = (msg(ja), msg(jb)) {
                    if ma != mb {
                        c.add(
                            Kind::ErrorMessage,
                            Some(route),
                            route,
                            "message".into(),
                            ma,
                            mb,
                            scenario,
                            ea,
                            eb,
                        );
                    }
                }
            }
        }
        (Body::JsonStream(xa), Body::JsonStream(xb)) => {
            let keys = |xs: &[serde_json::Value]| {
                let mut k: Vec<String> = xs
                    .iter()
                    .filter_map(|x| x.as_object())
                    .flat_map(|o| o.keys().cloned())
                    .collect();
                k.sort();
                k.dedup();
                k.join(",")
            };
            let (ka, kb) = (keys(xa), keys(xb));
            if ka != kb {
                c.add(
                    Kind::StreamFraming,
                    Some(route),
                    route,
                    "JSON stream message fields".into(),
                    ka,
                    kb,
                    scenario,
                    ea,
                    eb,
                );
            }
        }
        (Body::Multiplexed(sa), Body::Multiplexed(sb)) if sa != sb => {
            c.add(
                Kind::StreamFraming,
                Some(route),
                route,
                "streams carrying data".into(),
                va.body.kind(),
                vb.body.kind(),
                scenario,
                ea,
                eb,
            );
        }
        (Body::Text(ta), Body::Text(tb)) => {
            let (na, nb) = (
                normalize::text(ta.trim(), runs),
                normalize::text(tb.trim(), runs),
            );
            if na != nb && na.len() < 300 && nb.len() < 300 {
                c.add(
                    Kind::BodyText,
                    Some(route),
                    route,
                    "body".into(),
                    na,
                    nb,
                    scenario,
                    ea,
                    eb,
                );
            }
        }
        (x, y) if std::mem::discriminant(x) != std::mem::discriminant(y) => {
            if matches!(x, Body::Truncated) || matches!(y, Body::Truncated) {
                return;
            }
            let streamish = |b: &Body| matches!(b, Body::Multiplexed(_) | Body::JsonStream(_));
            let kind = if streamish(x) || streamish(y) {
                Kind::StreamFraming
            } else {
                Kind::BodyKind
            };
            c.add(
                kind,
                Some(route),
                route,
                "body".into(),
                describe_body(x, runs),
                describe_body(y, runs),
                scenario,
                ea,
                eb,
            );
        }
        _ => {}
    }
}

fn describe_body(b: &Body, runs: &[&str]) -> String {
    match b {
        // Untrimmed and quoted, so a lone "\n" shows as such.
        Body::Text(t) if t.len() < 80 => format!("plain text {:?}", normalize::text(t, runs)),
        other => other.kind(),
    }
}

fn header_value(name: &str, v: &str) -> String {
    if name == "content-type" {
        v.to_ascii_lowercase().replace(' ', "")
    } else {
        v.trim().to_string()
    }
}

/// Compares two recorded runs.
pub fn compare(a: &Side, b: &Side) -> DiffReport {
    let runs = [a.report.run_id.as_str(), b.report.run_id.as_str()];
    let api = a.report.api_version.clone();
    let mut c = Collector::default();
    let mut paired = 0;
    for ra in &a.report.results {
        let Some(rb) = b.report.results.iter().find(|r| r.name == ra.name) else {
            continue;
        };
        let va: Vec<View> = a
            .transcript
            .get(ra.transcript.clone())
            .unwrap_or_default()
            .iter()
            .map(|e| view(e, &a.bodies, &api, &runs))
            .collect();
        let vb: Vec<View> = b
            .transcript
            .get(rb.transcript.clone())
            .unwrap_or_default()
            .iter()
            .map(|e| view(e, &b.bodies, &api, &runs))
            .collect();
        let ka: Vec<String> = va.iter().map(|v| v.key.clone()).collect();
        let kb: Vec<String> = vb.iter().map(|v| v.key.clone()).collect();
        for pair in align(&ka, &kb) {
            match pair {
                (Some(i), Some(j)) => {
                    paired += 1;
                    compare_pair(&mut c, &ra.name, &va[i], &vb[j], &runs);
                }
                (Some(i), None) => c.add(
                    Kind::Flow,
                    Some(&ka[i]),
                    &ka[i],
                    "request".into(),
                    "sent".into(),
                    "not sent".into(),
                    &ra.name,
                    Some(va[i].ex),
                    None,
                ),
                (None, Some(j)) => c.add(
                    Kind::Flow,
                    Some(&kb[j]),
                    &kb[j],
                    "request".into(),
                    "not sent".into(),
                    "sent".into(),
                    &ra.name,
                    None,
                    Some(vb[j].ex),
                ),
                (None, None) => {}
            }
        }
    }
    let mut divergences: Vec<Divergence> = c.map.into_values().collect();
    divergences.sort_by(|x, y| (x.kind, &x.route, &x.what).cmp(&(y.kind, &y.route, &y.what)));
    DiffReport {
        a: a.report.clone(),
        b: b.report.clone(),
        api_version: api,
        seed: a.report.seed,
        cases: a.report.cases,
        paired_exchanges: paired,
        divergences,
    }
}

fn connect(
    target: &crate::client::Target,
    timeout: u64,
    pinned: Option<ApiVersion>,
) -> Result<(Client, Negotiation)> {
    let mut client = Client::new(target.clone())?;
    client.set_timeout(Duration::from_secs(timeout.max(1)));
    let n = client.negotiate(pinned)?;
    Ok((client, n))
}

fn record(client: &Client, n: &Negotiation, opts: &RunOptions, label: &'static str) -> Side {
    let Recording { report, bodies } = runner::run_recorded(client, n, opts, |r| {
        println!("{label} {}", r.line());
    });
    Side {
        report,
        transcript: client.transcript().all(),
        bodies,
    }
}

pub fn run(args: DiffArgs) -> Result<ExitCode> {
    let hosts = args.target.resolve()?;
    if hosts.len() != 2 {
        bail!("diff needs exactly two endpoints: --host A --host B");
    }
    if !args.filter.is_empty() && scenarios::matching(&args.filter) == 0 {
        bail!(
            "no scenario name contains {} (see `shipshape list`)",
            args.filter.join(" or ")
        );
    }
    let pinned = args
        .api_version
        .as_deref()
        .map(ApiVersion::parse)
        .transpose()?;
    let (mut ca, mut na) = connect(&hosts[0].target, args.timeout, pinned).context("endpoint A")?;
    let (mut cb, mut nb) = connect(&hosts[1].target, args.timeout, pinned).context("endpoint B")?;
    // Both sides speak the same version, or every path would differ.
    let v = na.api_version.min(nb.api_version);
    for (c, n) in [(&mut ca, &mut na), (&mut cb, &mut nb)] {
        c.set_api_version(v);
        n.api_version = v;
    }
    println!(
        "A: {} (via {}; {}, {})",
        ca.target(),
        ca.target().transport(),
        na.server_version,
        na.server_header.as_deref().unwrap_or("no Server header")
    );
    println!(
        "B: {} (via {}; {}, {})",
        cb.target(),
        cb.target().transport(),
        nb.server_version,
        nb.server_header.as_deref().unwrap_or("no Server header")
    );
    println!(
        "api version {v} on both; seed {}, {} cases per property",
        args.seed, args.cases
    );
    let opts = |tag: &str| RunOptions {
        filters: args.filter.clone(),
        partition: None,
        cases: args.cases,
        seed: args.seed,
        run_id: format!("{:07x}{tag}", rand::random::<u32>() >> 4),
        registry: None,
        // The two sides already run side by side.
        jobs: 1,
        fail_fast: false,
    };
    let (oa, ob) = (opts("a"), opts("b"));
    // The two endpoints are independent: run them side by side.
    let (sa, sb) = std::thread::scope(|s| {
        let ha = s.spawn(|| record(&ca, &na, &oa, "A"));
        let hb = s.spawn(|| record(&cb, &nb, &ob, "B"));
        (ha.join(), hb.join())
    });
    let (sa, sb) = match (sa, sb) {
        (Ok(a), Ok(b)) => (a, b),
        _ => bail!("harness bug: a diff run panicked"),
    };
    let d = compare(&sa, &sb);
    print!("{}", render::console(&d));
    if let Some(p) = &args.report_html {
        std::fs::write(p, render::html(&d)).with_context(|| format!("writing {}", p.display()))?;
        println!("html report: {}", p.display());
    }
    if let Some(p) = &args.report_json {
        let text = serde_json::to_string_pretty(&render::json(&d))?;
        std::fs::write(p, text + "\n").with_context(|| format!("writing {}", p.display()))?;
        println!("json report: {}", p.display());
    }
    println!(
        "{} divergences ({} flow consequences), {} exchanges paired",
        d.counted(),
        d.divergences.len() - d.counted(),
        d.paired_exchanges
    );
    // Like diff(1): 0 when the endpoints agree, 1 when they differ.
    Ok(if d.counted() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_pairs_common_requests() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let p = align(&s(&["a", "b", "c", "d"]), &s(&["a", "c", "x", "d"]));
        assert_eq!(
            p,
            vec![
                (Some(0), Some(0)),
                (Some(1), None),
                (Some(2), Some(1)),
                (None, Some(2)),
                (Some(3), Some(3))
            ]
        );
    }
}
