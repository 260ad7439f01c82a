//! `--report-html FILE`: one self-contained HTML page (inline CSS, no
//! scripts, no external assets) that reads well in a browser and in a CI
//! artifact viewer. Order: who answered and the totals first, then the
//! results grouped by area; every failure shows what Docker does (and where
//! that comes from), the request, the response and the commands to replay
//! it. `shipshape diff` reuses [`page`] and the helpers.

use super::Verdict;
use super::{Report, ScenarioResult, Status};
use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A hyperlink for web addresses; other references (a file in the
/// repository) stay text, since the page may be opened anywhere.
pub fn link(target: &str) -> String {
    if target.starts_with("https://") || target.starts_with("http://") {
        format!("<a href=\"{}\">{}</a>", esc(target), esc(target))
    } else {
        esc(target)
    }
}

/// An id usable as a fragment (`errors/stop-created` → `errors-stop-created`).
pub fn anchor(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

pub const CSS: &str = r#"
:root{--pass:#1a7f37;--fail:#cf222e;--skip:#6e7781;--unsup:#9a6700;--bg:#f6f8fa;--line:#d0d7de;--ink:#1f2328;--muted:#57606a}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--ink);background:#fff}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:20px;margin:36px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:16px 0 6px}
.sub{color:var(--muted);margin:0 0 20px}
code,pre{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:10px 12px;margin:6px 0;white-space:pre-wrap;word-break:break-word;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:1.4fr 1fr;gap:18px;align-items:start}
.card{border:1px solid var(--line);border-radius:8px;padding:14px 18px;background:#fff}
.card h3{margin-top:0}
dl.id{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0}
dl.id dt{color:var(--muted)} dl.id dd{margin:0;word-break:break-all}
.tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:10px;margin-bottom:12px}
.tile{border-radius:8px;padding:10px 12px;color:#fff}
.tile b{display:block;font-size:28px;line-height:1.1}
.t-pass{background:var(--pass)}.t-fail{background:var(--fail)}.t-skip{background:var(--skip)}.t-unsup{background:var(--unsup)}
.line{font-family:ui-monospace,Menlo,monospace;font-size:13px;background:var(--bg);padding:6px 10px;border-radius:6px}
.verdict{margin-top:10px;padding:8px 12px;border-radius:6px;border-left:5px solid}
.v-ok{border-color:var(--pass);background:#dafbe1}.v-bad{border-color:var(--fail);background:#ffebe9}
.verdict ul{margin:6px 0 0;padding-left:20px}
nav.areas{display:flex;flex-wrap:wrap;gap:8px;margin:22px 0 0}
nav.areas a{border:1px solid var(--line);border-radius:20px;padding:3px 12px;text-decoration:none;color:var(--ink);font-size:13px}
nav.areas a .bad{color:var(--fail);font-weight:600}
table{border-collapse:collapse;width:100%}
td,th{padding:5px 8px;border-bottom:1px solid #eaeef2;vertical-align:top;text-align:left}
th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.03em}
td.name{font-family:ui-monospace,Menlo,monospace;font-size:13px;white-space:nowrap}
td.ms{color:var(--muted);text-align:right;white-space:nowrap;font-size:13px}
td.why{color:var(--muted);font-size:13.5px}
.badge{display:inline-block;min-width:92px;text-align:center;border-radius:4px;padding:1px 6px;font-size:12px;font-weight:700;color:#fff}
.b-pass{background:var(--pass)}.b-fail{background:var(--fail)}.b-skip{background:var(--skip)}.b-unsupported{background:var(--unsup)}
.b-known{background:#8250df}
.failure{border:1px solid var(--line);border-left:5px solid var(--fail);border-radius:8px;margin:14px 0;padding:4px 16px 12px;background:#fff}
.failure.unsup{border-left-color:var(--unsup)}
.failure h3{font-family:ui-monospace,Menlo,monospace;font-size:14px}
.reason{font-weight:600}
.expect{background:#dafbe1;border:1px solid #aceebb;border-radius:6px;padding:8px 12px;margin:8px 0}
.expect .src{display:block;color:var(--muted);font-size:12.5px;margin-top:2px}
.known{background:#fbefff;border:1px solid #e2c5f5;border-radius:6px;padding:6px 12px;margin:8px 0;font-size:13.5px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.pair h4{margin:8px 0 0;font-size:12px;text-transform:uppercase;color:var(--muted);letter-spacing:.03em}
details>summary{cursor:pointer;color:#0969da;font-size:13.5px;margin:4px 0}
.muted{color:var(--muted)}
.diffrow td{font-size:13.5px}
.a{color:#0550ae}.b{color:#953800}
footer{margin-top:40px;color:var(--muted);font-size:12.5px}
"#;

/// A full HTML document around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body><main>\n{body}\n\
         <footer>Generated by shipshape {} — expectations come from dockerd's own answers \
         and the upstream Engine API specs (specs/harness/expectations.json).</footer>\
         </main></body></html>\n",
        esc(title),
        env!("CARGO_PKG_VERSION")
    )
}

fn badge(st: Status) -> String {
    let (class, text) = match st {
        Status::Pass => ("b-pass", "PASS"),
        Status::Fail => ("b-fail", "FAIL"),
        Status::Skip => ("b-skip", "SKIP"),
        Status::Unsupported => ("b-unsupported", "UNSUPPORTED"),
    };
    format!("<span class=\"badge {class}\">{text}</span>")
}

/// The endpoint identity card.
pub fn identity(report: &Report) -> String {
    let e = &report.endpoint;
    let mut rows: Vec<(&str, String)> = vec![
        ("Target", report.target.clone()),
        (
            "Transport",
            e.transport.clone().unwrap_or_else(|| "?".into()),
        ),
        (
            "Server",
            e.server_header
                .clone()
                .unwrap_or_else(|| "(no Server header)".into()),
        ),
        ("Engine version", report.server.clone()),
        (
            "API version",
            format!(
                "{} ({}; server speaks {}–{})",
                report.api_version,
                if e.pinned { "pinned" } else { "negotiated" },
                e.min_api_version.as_deref().unwrap_or("?"),
                e.max_api_version
            ),
        ),
    ];
    if let Some(p) = &e.platform {
        rows.push(("Platform", p.clone()));
    }
    if e.os.is_some() || e.arch.is_some() {
        rows.push((
            "OS / arch",
            format!(
                "{} / {}",
                e.os.as_deref().unwrap_or("?"),
                e.arch.as_deref().unwrap_or("?")
            ),
        ));
    }
    if let Some(k) = &e.kernel {
        rows.push(("Kernel", k.clone()));
    }
    rows.push((
        "Run",
        format!(
            "{} · started {} · seed {} · {} cases per property",
            report.run_id, report.started, report.seed, report.cases
        ),
    ));
    let mut s = String::from("<dl class=\"id\">");
    for (k, v) in rows {
        let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    }
    s.push_str("</dl>");
    s
}

fn summary_card(report: &Report, verdict: Option<&Verdict>) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<div class=\"tiles\">\
         <div class=\"tile t-pass\"><b>{}</b>passed</div>\
         <div class=\"tile t-fail\"><b>{}</b>failed</div>\
         <div class=\"tile t-skip\"><b>{}</b>skipped</div>\
         <div class=\"tile t-unsup\"><b>{}</b>unsupported</div></div>",
        report.count(Status::Pass),
        report.count(Status::Fail),
        report.count(Status::Skip),
        report.count(Status::Unsupported)
    );
    let _ = write!(
        s,
        "<div class=\"line\">{}</div><p class=\"muted\" style=\"font-size:13px;margin:6px 0 0\">\
         The console's last line; “skipped” there includes the unsupported scenarios.</p>",
        esc(&report.summary_line())
    );
    if let Some(v) = verdict {
        let class = if v.passed() { "v-ok" } else { "v-bad" };
        let _ = write!(
            s,
            "<div class=\"verdict {class}\"><b>Baseline {}</b> ({}): {}",
            if v.passed() { "OK" } else { "FAILED" },
            esc(&v.file),
            if v.passed() {
                format!(
                    "{} known divergences matched, no rule fired.",
                    v.known.len()
                )
            } else {
                format!("{} rule(s) fired:", v.fired.len())
            }
        );
        if !v.fired.is_empty() {
            s.push_str("<ul>");
            for f in &v.fired {
                let _ = write!(
                    s,
                    "<li><code>{}</code>: {}</li>",
                    f.rule.name(),
                    esc(&f.message)
                );
            }
            s.push_str("</ul>");
        }
        s.push_str("</div>");
    }
    s
}

fn failure_card(report: &Report, r: &ScenarioResult, verdict: Option<&Verdict>) -> String {
    let mut s = String::new();
    let unsup = r.status == Status::Unsupported;
    let _ = write!(
        s,
        "<div class=\"failure{}\" id=\"{}\"><h3>{} {}</h3><p class=\"reason\">{}</p>",
        if unsup { " unsup" } else { "" },
        anchor(&r.name),
        badge(r.status),
        esc(&r.name),
        esc(&r.reason)
    );
    if let Some(k) = verdict.and_then(|v| v.known.iter().find(|k| k.scenario == r.name)) {
        let _ = write!(
            s,
            "<div class=\"known\"><b>Known divergence</b> (baseline, expires {}): {} — {}</div>",
            esc(&k.expires),
            esc(&k.reason),
            link(&k.link)
        );
    }
    if let Some(d) = &r.detail {
        if let Some(e) = &d.expected {
            let _ = write!(
                s,
                "<div class=\"expect\"><b>What Docker does:</b> {}{}</div>",
                esc(e),
                d.source
                    .as_deref()
                    .map(|src| format!("<span class=\"src\">Source: {}</span>", esc(src)))
                    .unwrap_or_default()
            );
        }
        for rec in &d.records {
            let _ = write!(
                s,
                "<div class=\"pair\"><div><h4>Request #{}</h4><pre>{}</pre></div>\
                 <div><h4>Response</h4><pre>{}</pre></div></div>",
                rec.id,
                esc(rec.request_text().trim_end()),
                esc(rec.response_text().trim_end())
            );
        }
        if d.records.is_empty() && !d.exchanges.is_empty() {
            let _ = write!(s, "<pre>{}</pre>", esc(&d.exchanges.join("\n")));
        }
        if !d.notes.is_empty() {
            let _ = write!(
                s,
                "<h4 class=\"muted\">Notes</h4><pre>{}</pre>",
                esc(&d.notes.join("\n"))
            );
        }
    }
    let _ = write!(
        s,
        "<h4 class=\"muted\">Replay</h4><pre>{}</pre></div>",
        esc(&report.replay(r).join("\n"))
    );
    s
}

pub fn render(report: &Report, verdict: Option<&Verdict>) -> String {
    let mut b = String::new();
    let who = report
        .endpoint
        .server_header
        .clone()
        .unwrap_or_else(|| report.target.clone());
    let _ = write!(
        b,
        "<h1>Conformance report: {}</h1><p class=\"sub\">{} scenarios against <code>{}</code> \
         at API {}</p>",
        esc(&who),
        report.results.len(),
        esc(&report.target),
        esc(&report.api_version)
    );
    let _ = write!(
        b,
        "<div class=\"cards\"><div class=\"card\"><h3>Endpoint</h3>{}</div>\
         <div class=\"card\"><h3>Summary</h3>{}</div></div>",
        identity(report),
        summary_card(report, verdict)
    );
    let areas = report.areas();
    b.push_str("<nav class=\"areas\">");
    for (area, rs) in &areas {
        let bad = rs
            .iter()
            .filter(|r| matches!(r.status, Status::Fail | Status::Unsupported))
            .count();
        let _ = write!(
            b,
            "<a href=\"#area-{}\">{} {}/{}{}</a>",
            anchor(area),
            esc(area),
            rs.iter().filter(|r| r.status == Status::Pass).count(),
            rs.len(),
            if bad > 0 {
                format!(" <span class=\"bad\">· {bad} not passing</span>")
            } else {
                String::new()
            }
        );
    }
    b.push_str("</nav>");
    for (area, rs) in &areas {
        let passed = rs.iter().filter(|r| r.status == Status::Pass).count();
        let _ = write!(
            b,
            "<h2 id=\"area-{}\">{} <span class=\"muted\" style=\"font-weight:400;font-size:15px\">\
             {passed} of {} passed</span></h2>",
            anchor(area),
            esc(area),
            rs.len()
        );
        b.push_str("<table><tr><th>Result</th><th>Scenario</th><th>Why</th><th style=\"text-align:right\">Time</th></tr>");
        for r in rs {
            let name = if matches!(r.status, Status::Fail | Status::Unsupported) {
                format!("<a href=\"#{}\">{}</a>", anchor(&r.name), esc(&r.name))
            } else {
                esc(&r.name)
            };
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"name\">{name}</td><td class=\"why\">{}</td>\
                 <td class=\"ms\">{} ms</td></tr>",
                badge(r.status),
                esc(&r.reason),
                r.duration.as_millis()
            );
        }
        b.push_str("</table>");
        for r in rs
            .iter()
            .filter(|r| matches!(r.status, Status::Fail | Status::Unsupported))
        {
            b.push_str(&failure_card(report, r, verdict));
        }
    }
    if let Some(c) = &report.coverage {
        b.push_str(&coverage_section(c));
    }
    page(&format!("Shipshape: {}", report.summary_line()), &b)
}

/// The coverage table: per operation of the spec, the parameters sent and
/// never sent and the documented statuses seen; the operations a single
/// host cannot serve are marked, the requests that matched nothing listed.
fn coverage_section(c: &crate::coverage::Coverage) -> String {
    use crate::coverage::listing::join;
    let mut s = String::new();
    let _ = write!(
        s,
        "<h2 id=\"coverage\">Coverage <span class=\"muted\" style=\"font-weight:400;\
         font-size:15px\">of the API {} spec</span></h2><p>{}</p>\
         <table><tr><th>Operation</th><th>Requests</th><th>Parameters sent</th>\
         <th>Never sent</th><th>Statuses seen / documented</th></tr>",
        esc(&c.spec),
        esc(&c.line())
    );
    for op in &c.operations {
        let sent = join(op.query_sent.iter().chain(&op.body_sent));
        let missing = join(op.query_missing.iter().chain(&op.body_missing));
        let seen = join(&op.statuses_seen);
        let documented = join(op.statuses_seen.union(&op.statuses_missing));
        let name = match &op.unservable {
            Some(why) => format!(
                "{} <span class=\"muted\">(not in the goal: {})</span>",
                esc(&op.operation),
                esc(why)
            ),
            None => esc(&op.operation),
        };
        let _ = write!(
            s,
            "<tr><td class=\"name\">{name}<br><code>{} {}</code></td><td class=\"ms\">{}</td>\
             <td class=\"why\">{}</td><td class=\"why\">{}</td><td class=\"why\">{} / {}</td></tr>",
            esc(&op.method),
            esc(&op.path),
            op.exchanges,
            esc(&sent),
            esc(&missing),
            esc(&seen),
            esc(&documented)
        );
    }
    s.push_str("</table>");
    if !c.unmatched.is_empty() {
        s.push_str(
            "<h3>Requests that matched no operation</h3><table><tr><th>Request</th>\
             <th>Count</th><th>Statuses</th></tr>",
        );
        for u in &c.unmatched {
            let _ = write!(
                s,
                "<tr><td><code>{} {}</code></td><td class=\"ms\">{}</td><td>{}</td></tr>",
                esc(&u.method),
                esc(&u.path),
                u.exchanges,
                esc(&join(&u.statuses))
            );
        }
        s.push_str("</table>");
    }
    s
}

pub fn write(
    path: &std::path::Path,
    report: &Report,
    verdict: Option<&Verdict>,
) -> anyhow::Result<()> {
    std::fs::write(path, render(report, verdict))
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}
