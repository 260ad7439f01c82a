//! The diff for people (console, HTML) and for scripts (JSON).

use super::{DiffReport, Divergence, Kind};
use crate::report::html::{anchor, esc, identity, page};
use crate::report::{ExchangeRecord, Report, Status};
use serde_json::{json, Value};
use std::fmt::Write as _;

fn kinds(d: &DiffReport) -> Vec<(Kind, Vec<&Divergence>)> {
    let mut out: Vec<(Kind, Vec<&Divergence>)> = Vec::new();
    for x in &d.divergences {
        match out.iter_mut().find(|(k, _)| *k == x.kind) {
            Some((_, v)) => v.push(x),
            None => out.push((x.kind, vec![x])),
        }
    }
    out
}

fn place(x: &Divergence) -> String {
    match &x.route {
        Some(r) => r.clone(),
        None => format!(
            "any route (e.g. {})",
            x.routes.first().map(String::as_str).unwrap_or("?")
        ),
    }
}

fn one_line(rec: &Option<ExchangeRecord>) -> String {
    match rec {
        None => "(not sent)".into(),
        Some(r) => {
            let body = r.response_body.replace('\n', " ");
            let body = if body.chars().count() > 110 {
                format!("{}…", body.chars().take(110).collect::<String>())
            } else {
                body
            };
            format!(
                "#{} {} {} → {} {}",
                r.id,
                r.method,
                r.path,
                r.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no answer".into()),
                body.trim()
            )
        }
    }
}

fn results_disagree(d: &DiffReport) -> Vec<(String, Status, Status)> {
    d.a.results
        .iter()
        .filter_map(|ra| {
            let rb = d.b.results.iter().find(|r| r.name == ra.name)?;
            (ra.status != rb.status).then(|| (ra.name.clone(), ra.status, rb.status))
        })
        .collect()
}

pub fn console(d: &DiffReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\ndifferences, A = {} vs B = {}:",
        d.a.target, d.b.target
    );
    let dis = results_disagree(d);
    if !dis.is_empty() {
        let _ = writeln!(s, "\nscenario results that differ:");
        for (n, a, b) in &dis {
            let _ = writeln!(s, "  {n}: A {} / B {}", a.label(), b.label());
        }
    }
    let mut n = 0;
    for (kind, xs) in kinds(d) {
        let _ = writeln!(s, "\n{} ({}):", kind.title(), xs.len());
        for x in xs {
            if x.counted() {
                n += 1;
            }
            let num = if x.counted() {
                format!("{n:>3}.")
            } else {
                "   -".into()
            };
            let _ = writeln!(
                s,
                "{num} {}: {}: A {} | B {}  [{}x; {}]",
                place(x),
                x.what,
                x.a,
                x.b,
                x.occurrences,
                x.scenarios.join(", ")
            );
            let _ = writeln!(s, "       A {}", one_line(&x.evidence.a));
            let _ = writeln!(s, "       B {}", one_line(&x.evidence.b));
        }
    }
    s
}

pub fn json(d: &DiffReport) -> Value {
    let side = |r: &Report| {
        json!({
            "target": r.target,
            "server_version": r.server,
            "endpoint": r.endpoint,
            "summary": r.summary_line(),
            "run_id": r.run_id,
        })
    };
    json!({
        "schema": "shipshape-diff/1",
        "a": side(&d.a),
        "b": side(&d.b),
        "api_version": d.api_version,
        "seed": d.seed,
        "cases": d.cases,
        "paired_exchanges": d.paired_exchanges,
        "divergence_count": d.counted(),
        "scenario_results_differ": results_disagree(d).iter().map(|(n, a, b)| json!({"scenario": n, "a": a, "b": b})).collect::<Vec<_>>(),
        "divergences": d.divergences,
    })
}

fn exchange_html(label: &str, class: &str, rec: &Option<ExchangeRecord>) -> String {
    match rec {
        None => format!("<div><h4 class=\"{class}\">{label}</h4><pre>(not sent on this side)</pre></div>"),
        Some(r) => format!(
            "<div><h4 class=\"{class}\">{label}: request #{}</h4><pre>{}</pre><h4 class=\"{class}\">{label}: response</h4><pre>{}</pre></div>",
            r.id,
            esc(r.request_text().trim_end()),
            esc(r.response_text().trim_end())
        ),
    }
}

pub fn html(d: &DiffReport) -> String {
    let mut b = String::new();
    let name = |r: &Report| {
        r.endpoint
            .server_header
            .clone()
            .unwrap_or_else(|| r.target.clone())
    };
    let _ = write!(
        b,
        "<h1>Differential report: <span class=\"a\">{}</span> vs <span class=\"b\">{}</span></h1>\
         <p class=\"sub\">Same scenarios, same property cases (seed {}, {} cases), API {} on both. \
         IDs, names, run ids and timestamps are normalised; values are compared only for error \
         messages, plain-text bodies and API headers.</p>",
        esc(&name(&d.a)),
        esc(&name(&d.b)),
        d.seed,
        d.cases,
        esc(&d.api_version)
    );
    let _ = write!(
        b,
        "<div class=\"cards\"><div class=\"card\"><h3 class=\"a\">A</h3>{}<p class=\"line\">{}</p></div>\
         <div class=\"card\"><h3 class=\"b\">B</h3>{}<p class=\"line\">{}</p></div></div>",
        identity(&d.a),
        esc(&d.a.summary_line()),
        identity(&d.b),
        esc(&d.b.summary_line())
    );
    let groups = kinds(d);
    let _ = write!(
        b,
        "<div class=\"tiles\" style=\"margin-top:18px\"><div class=\"tile t-fail\"><b>{}</b>divergences</div>\
         <div class=\"tile t-skip\"><b>{}</b>exchanges paired</div>\
         <div class=\"tile t-unsup\"><b>{}</b>scenario results differ</div>\
         <div class=\"tile t-skip\"><b>{}</b>flow consequences</div></div>",
        d.counted(),
        d.paired_exchanges,
        results_disagree(d).len(),
        d.divergences.len() - d.counted()
    );
    b.push_str("<nav class=\"areas\">");
    for (k, xs) in &groups {
        let _ = write!(
            b,
            "<a href=\"#k-{}\">{} ({})</a>",
            anchor(k.title()),
            esc(k.title()),
            xs.len()
        );
    }
    b.push_str("</nav>");
    let dis = results_disagree(d);
    if !dis.is_empty() {
        // Collapsed: the divergences below are the point; this table only
        // says which scenarios they break.
        let _ = write!(
            b,
            "<h2>Scenario results</h2><details><summary>{} scenario(s) end differently on A and B (show)</summary>\
             <table><tr><th>Scenario</th><th>A</th><th>B</th></tr>",
            dis.len()
        );
        for (n, a, bb) in &dis {
            let _ = write!(
                b,
                "<tr><td class=\"name\">{}</td><td><span class=\"badge b-{}\">{}</span></td><td><span class=\"badge b-{}\">{}</span></td></tr>",
                esc(n),
                a.label().to_ascii_lowercase(),
                a.label(),
                bb.label().to_ascii_lowercase(),
                bb.label()
            );
        }
        b.push_str("</table></details>");
    }
    let mut n = 0;
    for (k, xs) in &groups {
        let _ = write!(b, "<h2 id=\"k-{}\">{} <span class=\"muted\" style=\"font-weight:400;font-size:15px\">{}</span></h2>", anchor(k.title()), esc(k.title()), xs.len());
        for x in xs {
            if x.counted() {
                n += 1;
            }
            let _ = write!(
                b,
                "<div class=\"failure unsup\"><h3>{}{} — {}</h3>\
                 <table><tr class=\"diffrow\"><td style=\"width:50%\"><b class=\"a\">A</b> {}</td><td><b class=\"b\">B</b> {}</td></tr></table>\
                 <p class=\"muted\" style=\"font-size:13px;margin:6px 0\">Seen {} time(s) in {}{}</p>\
                 <details><summary>Evidence from {}: both exchanges</summary><div class=\"pair\">{}{}</div></details></div>",
                if x.counted() { format!("{n}. ") } else { String::new() },
                esc(&place(x)),
                esc(&x.what),
                esc(&x.a),
                esc(&x.b),
                x.occurrences,
                esc(&x.scenarios.join(", ")),
                if x.routes.len() > 1 { format!("; routes: {}", esc(&x.routes.join(", "))) } else { String::new() },
                esc(&x.evidence.scenario),
                exchange_html("A", "a", &x.evidence.a),
                exchange_html("B", "b", &x.evidence.b)
            );
        }
    }
    page(&format!("Shipshape diff: {} divergences", d.counted()), &b)
}
