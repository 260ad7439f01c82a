//! `GET /containers/{id}/logs` windows: `since`, `until`, `tail`,
//! `timestamps` and `follow` select exactly the lines the law says, on a
//! generated log. Read from dockerd 20.10.24 (json-file driver):
//!
//! * `timestamps=1` prefixes each line with its RFC 3339 nanosecond time
//!   and a space;
//! * `since=S.N` / `until=S.N` (seconds.nanoseconds) keep the lines with
//!   `since <= time <= until` (both ends inclusive);
//! * `tail=K` keeps the last K lines first, then the window applies;
//!   `tail=0` gives nothing, `tail=all` and a non-number (`tail=x`)
//!   everything;
//! * `follow=1` on an exited container ends with the same lines;
//! * `since=x` and `until=x` are 500 `strconv.ParseInt: parsing "x":
//!   invalid syntax`.

use super::{expect_error, Made};
use crate::client::{demux, enc, Req};
use crate::ground::{expect_status, fail, fail_at, property, Ctx, Outcome, Problem};
use crate::scenarios::{scenario, Scenario};
use proptest::prelude::*;

pub fn scenarios() -> Vec<Scenario> {
    vec![scenario(
        "containers-api",
        "logs-window-property",
        true,
        window_property,
    )]
}

/// Lines the container prints.
const LINES: usize = 12;

#[derive(Debug, Clone)]
enum Tail {
    Count(usize),
    All,
    NotANumber,
}

#[derive(Debug, Clone)]
struct Query {
    /// Index of the line whose time is `since`, and 1 ns later when true.
    since: Option<(usize, bool)>,
    /// Index of the line whose time is `until`, and 1 ns earlier when true.
    until: Option<(usize, bool)>,
    tail: Option<Tail>,
    timestamps: bool,
    follow: bool,
}

fn query() -> impl Strategy<Value = Query> {
    let at = (0..LINES, any::<bool>());
    let tail = prop_oneof![
        (0..LINES + 3).prop_map(Tail::Count),
        Just(Tail::All),
        Just(Tail::NotANumber),
    ];
    (
        proptest::option::of(at.clone()),
        proptest::option::of(at),
        proptest::option::of(tail),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(since, until, tail, timestamps, follow)| Query {
            since,
            until,
            tail,
            timestamps,
            follow,
        })
}

/// A log line's time as nanoseconds since the epoch.
fn nanos(stamp: &str) -> Result<i128, Problem> {
    let t = chrono::DateTime::parse_from_rfc3339(stamp)
        .map_err(|e| fail(format!("log timestamp {stamp:?} is not RFC 3339: {e}")))?;
    Ok(i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos()))
}

/// `S.NNNNNNNNN`, as the API takes a time.
fn param(n: i128) -> String {
    format!(
        "{}.{:09}",
        n.div_euclid(1_000_000_000),
        n.rem_euclid(1_000_000_000)
    )
}

fn logs(ctx: &Ctx, id: &str, query: &str) -> Result<Vec<String>, Problem> {
    let resp = ctx.send(Req::get(format!(
        "/containers/{}/logs?stdout=1&stderr=1{query}",
        enc(id)
    )))?;
    expect_status(&resp, 200, &format!("logs with {query:?}"))?;
    let d = demux(&resp.body).map_err(|e| fail_at(&resp, format!("logs stream: {e}")))?;
    Ok(d.stdout_text().lines().map(String::from).collect())
}

fn window_property(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let n = LINES.to_string();
    let id = made.create(ctx.probe_config(&["lines", &n])?, None)?;
    ctx.start(&id)?;
    ctx.wait(&id)?;
    // Every line with its time: the ground truth the windows select from.
    let stamped = logs(ctx, &id, "&timestamps=1")?;
    let mut lines = Vec::new();
    for (i, l) in stamped.iter().enumerate() {
        let (stamp, text) = l
            .split_once(' ')
            .ok_or_else(|| fail(format!("timestamps=1 line without a space: {l:?}")))?;
        if text != format!("line {}", i + 1) {
            return Err(fail(format!(
                "timestamps=1 line {i} is {l:?}, expected \"<time> line {}\"",
                i + 1
            )));
        }
        lines.push((nanos(stamp)?, l.clone(), text.to_string()));
    }
    if lines.len() != LINES {
        return Err(fail(format!(
            "the container printed {LINES} lines, logs gave {}",
            lines.len()
        )));
    }
    for bad in ["since", "until"] {
        let resp = ctx.send(Req::get(format!(
            "/containers/{}/logs?stdout=1&{bad}=x",
            enc(&id)
        )))?;
        expect_error(
            &resp,
            500,
            "strconv.ParseInt: parsing \"x\": invalid syntax",
            &format!("logs with {bad}=x"),
        )?;
    }
    let name = "containers-api/logs-window-property";
    let strategy = proptest::collection::vec(query(), 1..4);
    property::check(ctx, name, strategy, |queries| {
        for q in queries {
            let mut s = String::new();
            let since = q.since.map(|(i, later)| lines[i].0 + i128::from(later));
            let until = q.until.map(|(i, earlier)| lines[i].0 - i128::from(earlier));
            if let Some(t) = since {
                s.push_str(&format!("&since={}", param(t)));
            }
            if let Some(t) = until {
                s.push_str(&format!("&until={}", param(t)));
            }
            let keep = match &q.tail {
                None | Some(Tail::All) | Some(Tail::NotANumber) => LINES,
                Some(Tail::Count(k)) => (*k).min(LINES),
            };
            match &q.tail {
                Some(Tail::Count(k)) => s.push_str(&format!("&tail={k}")),
                Some(Tail::All) => s.push_str("&tail=all"),
                Some(Tail::NotANumber) => s.push_str("&tail=x"),
                None => {}
            }
            if q.timestamps {
                s.push_str("&timestamps=1");
            }
            if q.follow {
                s.push_str("&follow=1");
            }
            let want: Vec<String> = lines[LINES - keep..]
                .iter()
                .filter(|(t, _, _)| since.is_none_or(|s| *t >= s) && until.is_none_or(|u| *t <= u))
                .map(|(_, stamped, text)| if q.timestamps { stamped } else { text }.clone())
                .collect();
            let got = logs(ctx, &id, &s)?;
            if got != want {
                return Err(fail(format!(
                    "logs with {s:?} gave {got:?}; dockerd keeps the last `tail` lines, then \
                     those with since <= time <= until: {want:?}"
                )));
            }
        }
        Ok(())
    })
}
