//! Reports and baseline gating end to end, against a tiny fake endpoint
//! that fails some scenarios (no `Ostype` header) and does not implement
//! others (501 on /commit, its no-such-route answer on container routes).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

/// Serves a Docker-ish API on 127.0.0.1; returns `tcp://addr`.
fn fake_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().expect("clone"));
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let path = parts.next().unwrap_or("").to_string();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let p = path.split('?').next().unwrap_or("");
            let (status, ctype, text) = if p == "/_ping" {
                ("200 OK", "text/plain", "OK".to_string())
            } else if p == "/v1.41/version" {
                (
                    "200 OK",
                    "application/json",
                    r#"{"Version":"0.1-fake","ApiVersion":"1.41","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"}"#.into(),
                )
            } else if p == "/v1.41/containers/json"
                || p == "/v1.41/images/json"
                || p == "/v1.41/networks"
            {
                ("200 OK", "application/json", "[]".into())
            } else if p == "/v1.41/volumes" {
                (
                    "200 OK",
                    "application/json",
                    r#"{"Volumes":[],"Warnings":null}"#.into(),
                )
            } else if p == "/v1.41/commit" {
                (
                    "501 Not Implemented",
                    "application/json",
                    r#"{"message":"commit is not implemented"}"#.into(),
                )
            } else {
                ("404 Not Found", "text/plain", "404 page not found\n".into())
            };
            let body = if method == "HEAD" {
                String::new()
            } else {
                text.clone()
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nApi-Version: 1.41\r\nServer: Fake/0.1 (linux)\r\n\
                 Content-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                text.len()
            );
        }
    });
    format!("tcp://{addr}")
}

fn shipshape(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shipshape"))
        .args(args)
        .env_remove("DOCKER_HOST")
        .output()
        .expect("run shipshape");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

const FILTERS: [&str; 6] = [
    "--filter",
    "system/ping",
    "--filter",
    "errors/commit-unknown",
    "--filter",
    "errors/unknown-container-start",
];

fn baseline(dir: &Path, entries: &[(&str, &str)]) -> String {
    let list: Vec<String> = entries
        .iter()
        .map(|(s, exp)| {
            format!(
                r#"{{"scenario":"{s}","reason":"known","link":"https://example.invalid/{s}","expires":"{exp}"}}"#
            )
        })
        .collect();
    let path = dir.join(format!("b{}.json", entries.len()));
    std::fs::write(
        &path,
        format!(
            r#"{{"endpoint":"fake","divergences":[{}]}}"#,
            list.join(",")
        ),
    )
    .expect("write baseline");
    path.to_string_lossy().into_owned()
}

#[test]
fn reports_and_gating() {
    let host = fake_endpoint();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let mut args = vec!["run", "--host", &host];
    args.extend(FILTERS);
    let (junit, json, html) = (file("r.xml"), file("r.json"), file("r.html"));
    let mut with_reports = args.clone();
    with_reports.extend([
        "--report-junit",
        &junit,
        "--report-json",
        &json,
        "--report-html",
        &html,
    ]);
    let (code, out) = shipshape(&with_reports);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out.lines().last(),
        Some("1 passed, 2 failed, 2 skipped"),
        "{out}"
    );
    assert!(out.contains("FAIL system/ping-get"), "{out}");
    assert!(
        out.contains("UNSUPPORTED errors/commit-unknown-container"),
        "{out}"
    );
    assert!(
        out.contains("UNSUPPORTED errors/unknown-container-start"),
        "{out}"
    );
    assert!(
        out.contains("2 of the skipped are unsupported by the endpoint"),
        "{out}"
    );

    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(
        xml.contains("<testsuite name=\"shipshape.system\""),
        "{xml}"
    );
    assert!(xml.contains("<failure"), "{xml}");
    assert!(xml.contains("type=\"unsupported\""), "{xml}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("valid json");
    assert_eq!(v["schema"], "shipshape-report/1");
    assert_eq!(v["summary"]["unsupported"], 2);
    assert_eq!(v["endpoint"]["server_header"], "Fake/0.1 (linux)");
    let fail = v["results"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["name"] == "system/ping-get"))
        .expect("ping-get result");
    assert!(fail["replay"][0]
        .as_str()
        .is_some_and(|c| c.contains("--filter system/ping-get")));
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(
        page.contains("What Docker does:"),
        "html lacks the expectation"
    );
    assert!(page.contains("Fake/0.1 (linux)"));
    assert!(!page.contains("<script"), "the page must be self-contained");

    // Coverage: the console line, the JSON sets, the HTML table and the
    // `coverage` command reading the JSON back. The fake answers 200 to
    // GET /_ping, which the spec documents for SystemPing.
    let line = out
        .lines()
        .find(|l| l.starts_with("coverage: "))
        .expect("coverage line");
    assert!(line.contains("(API 1.41 spec;"), "{line}");
    let ping = v["coverage"]["operations"]
        .as_array()
        .and_then(|o| o.iter().find(|x| x["operation"] == "SystemPing"))
        .expect("SystemPing coverage");
    assert!(ping["statuses_seen"]
        .as_array()
        .is_some_and(|s| s.contains(&serde_json::json!(200))));
    assert_eq!(v["coverage"]["line"].as_str(), Some(line));
    assert!(page.contains("<h2 id=\"coverage\">"), "html lacks coverage");
    let (code, listing) = shipshape(&["coverage", "--report", &json]);
    assert_eq!(code, 0, "{listing}");
    assert!(listing.contains("never exercised ("), "{listing}");
    assert_eq!(listing.lines().last(), Some(line), "{listing}");

    // Gating: everything listed → 0.
    let all = [
        ("system/ping-get", "2999-01-01"),
        ("system/ping-head", "2999-01-01"),
        ("errors/commit-unknown-container", "2999-01-01"),
        ("errors/unknown-container-start", "2999-01-01"),
    ];
    let b = baseline(dir.path(), &all);
    let mut gated = args.clone();
    gated.extend(["--baseline", &b]);
    let (code, out) = shipshape(&gated);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no rule fired"), "{out}");
    assert_eq!(out.lines().last(), Some("1 passed, 2 failed, 2 skipped"));

    // An unsupported scenario missing from the baseline fires.
    let b = baseline(dir.path(), &all[..3]);
    let mut gated = args.clone();
    gated.extend(["--baseline", &b]);
    let (code, out) = shipshape(&gated);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("rule not-in-baseline fired: errors/unknown-container-start"),
        "{out}"
    );

    // Expired entries and entries that now pass fire too.
    let b = baseline(
        dir.path(),
        &[
            ("system/ping-get", "2000-01-01"),
            ("system/ping-head", "2999-01-01"),
            ("errors/commit-unknown-container", "2999-01-01"),
            ("errors/unknown-container-start", "2999-01-01"),
            ("hygiene/nothing-left", "2999-01-01"),
        ],
    );
    let mut gated = args.clone();
    gated.extend(["--baseline", &b]);
    let (code, out) = shipshape(&gated);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("rule expired fired: system/ping-get"), "{out}");
    assert!(
        out.contains("rule now-passes fired: hygiene/nothing-left"),
        "{out}"
    );

    // A broken baseline stops the run before it starts.
    let bad = file("bad.json");
    std::fs::write(&bad, r#"{"endpoint":"x","divergences":[{"scenario":"no/such","reason":"r","link":"l","expires":"2999-01-01"}]}"#).expect("write");
    let mut gated = args.clone();
    gated.extend(["--baseline", &bad]);
    let (code, out) = shipshape(&gated);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no such scenario"), "{out}");
}
