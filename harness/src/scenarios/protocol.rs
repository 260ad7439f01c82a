//! Wire-level protocol checks: multiplexed stream framing and its
//! Content-Type, hijacking (101, Upgrade: tcp, stdin, half-close), response
//! headers flushed before a pending body (wait, logs with follow, events),
//! the JSON progress stream of load, and the events dockerd emits for a
//! container's life and an image's. Expectations: specs/harness/
//! expectations.json, `protocol/*`.

use super::{scenario, Scenario};
use crate::client::{demux, enc, Req, Response, Target, MAX_API_VERSION};
use crate::fixture;
use crate::ground::spec::expectation;
use crate::ground::COMMIT_REPO;
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};
use crate::model::route_missing;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("protocol", "multiplexed-framing", true, multiplexed_framing),
        scenario("protocol", "tty-raw-stream", true, tty_raw_stream),
        scenario(
            "protocol",
            "exec-stream-content-type",
            true,
            exec_content_type,
        ),
        scenario("protocol", "hijack-stdin-half-close", true, hijack_stdin),
        scenario(
            "protocol",
            "wait-headers-before-body",
            true,
            wait_headers_first,
        ),
        scenario(
            "protocol",
            "logs-follow-headers-before-body",
            true,
            logs_follow_headers_first,
        ),
        scenario(
            "protocol",
            "events-headers-before-body",
            false,
            events_headers_first,
        ),
        scenario("protocol", "load-progress-stream", false, load_progress),
        scenario(
            "protocol",
            "events-container-life",
            true,
            events_container_life,
        ),
        scenario("protocol", "events-image-life", true, events_image_life),
        scenario("protocol", "events-filters", true, events_filters),
    ]
}

/// Removes a container when dropped (failures must not leak).
struct Guard<'c, 'a>(&'c Ctx<'a>, String);

impl Drop for Guard<'_, '_> {
    fn drop(&mut self) {
        self.0.remove(&self.1);
    }
}

fn version(ctx: &Ctx) -> crate::client::ApiVersion {
    ctx.client.api_version().unwrap_or(MAX_API_VERSION)
}

/// Checks every frame header of a multiplexed stream: stream id 1 or 2
/// (0 is stdin, never sent back), three zero bytes, a size that fits.
fn check_frames(
    resp: Option<&Response>,
    data: &[u8],
    what: &str,
) -> Result<crate::client::Demuxed, Problem> {
    let e = expectation("protocol/multiplexed-framing")?;
    let d = demux(data).map_err(|m| e.fail(resp, format!("{what}: {m}"), &[]))?;
    if let Some((id, _)) = d.frames.iter().find(|(id, _)| *id != 1 && *id != 2) {
        return Err(e.fail(resp, format!("{what}: a frame with stream id {id}"), &[]));
    }
    Ok(d)
}

/// dockerd 20.10 answers logs with no Content-Type at all, TTY or not, at
/// every version it serves (newer daemons name the stream's media type):
/// a client up to 1.41 must not be told a type dockerd never sends.
fn no_logs_content_type(ctx: &Ctx, resp: &Response) -> Outcome {
    let v141 = crate::client::ApiVersion {
        major: 1,
        minor: 41,
    };
    match resp.header("Content-Type") {
        Some(ct) if version(ctx) <= v141 => Err(fail_at(
            resp,
            format!("logs answered Content-Type {ct:?}; dockerd 20.10 (API <= 1.41) sends none"),
        )),
        _ => Ok(()),
    }
}

fn multiplexed_framing(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let args = ["lines", "2", "--", "stderr", "oops", "--", "echo", "after"];
    let (id, code, _) = ctx.run_probe(&image.tag, &args)?;
    let _g = Guard(ctx, id.clone());
    if code != 0 {
        return Err(fail(format!("probe exited {code}")));
    }
    let resp = ctx.send(Req::get(format!(
        "/containers/{}/logs?stdout=1&stderr=1",
        enc(&id)
    )))?;
    expect_status(&resp, 200, "logs")?;
    no_logs_content_type(ctx, &resp)?;
    let d = check_frames(Some(&resp), &resp.body, "logs")?;
    if d.stdout_text() != "line 1\nline 2\nafter\n" || d.stderr_text() != "oops\n" {
        return Err(fail_at(
            &resp,
            format!(
                "stdout {:?} / stderr {:?}, expected \"line 1\\nline 2\\nafter\\n\" / \"oops\\n\"",
                d.stdout_text(),
                d.stderr_text()
            ),
        ));
    }
    // Only stdout asked for: no stream-2 frame may appear.
    let resp = ctx.send(Req::get(format!("/containers/{}/logs?stdout=1", enc(&id))))?;
    let d = check_frames(Some(&resp), &resp.body, "stdout-only logs")?;
    if d.frames.iter().any(|(s, _)| *s == 2) {
        return Err(fail_at(&resp, "stdout=1 alone still sent stderr frames"));
    }
    Ok(())
}

fn tty_raw_stream(ctx: &Ctx) -> Outcome {
    let e = expectation("protocol/tty-raw-stream")?;
    let mut cfg = ctx.probe_config(&["echo", "hello"])?;
    cfg["Tty"] = json!(true);
    let id = ctx.create(cfg, None)?;
    let _g = Guard(ctx, id.clone());
    ctx.start(&id)?;
    ctx.wait(&id)?;
    let resp = ctx.send(Req::get(format!(
        "/containers/{}/logs?stdout=1&stderr=1",
        enc(&id)
    )))?;
    e.check(&resp, &[])?;
    no_logs_content_type(ctx, &resp)?;
    // A TTY has one stream: the bytes as the terminal produced them (the
    // line discipline turns \n into \r\n), with no frame headers.
    if resp.body.as_ref() != b"hello\r\n" {
        return Err(e.fail(
            Some(&resp),
            format!("body {:?}, expected the raw \"hello\\r\\n\"", resp.text()),
            &[],
        ));
    }
    Ok(())
}

/// Exec start (no TTY): the stream's Content-Type per API version, and its
/// framing.
fn exec_content_type(ctx: &Ctx) -> Outcome {
    let e = expectation("protocol/exec-stream-content-type")?;
    let id = ctx.create(ctx.probe_config(&["trap-term", "0"])?, None)?;
    let _g = Guard(ctx, id.clone());
    let probe = ctx.send(
        Req::post(format!("/containers/{}/exec", enc(&id))).json(json!({
            "Cmd": [fixture::PROBE_PATH, "echo"], "AttachStdout": true
        })),
    )?;
    if route_missing(&probe) {
        return Err(Problem::Skip(
            "the endpoint has no exec route (404 page not found / 501)".into(),
        ));
    }
    ctx.start(&id)?;
    let resp = ctx.send(
        Req::post(format!("/containers/{}/exec", enc(&id))).json(json!({
            "Cmd": [fixture::PROBE_PATH, "echo", "out", "--", "stderr", "err"],
            "AttachStdout": true, "AttachStderr": true
        })),
    )?;
    expect_status(&resp, 201, "exec create")?;
    let exec = json_body(&resp, "exec create")?
        .get("Id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| fail_at(&resp, "exec create answered no Id"))?;
    let resp = ctx.send(
        Req::post(format!("/exec/{}/start", enc(&exec)))
            .json(json!({"Detach": false, "Tty": false})),
    )?;
    // Not e.check: its header_values are 1.41's; the loop below applies
    // the per-version values.
    expect_status(&resp, e.status, "exec start")?;
    for (h, want) in &e.header_values_at(version(ctx)) {
        if resp.header(h) != Some(want.as_str()) {
            return Err(e.fail(
                Some(&resp),
                format!("header {h}: expected {want:?}, got {:?}", resp.header(h)),
                &[],
            ));
        }
    }
    let d = check_frames(Some(&resp), &resp.body, "exec output")?;
    if d.stdout_text() != "out\n" || d.stderr_text() != "err\n" {
        return Err(fail_at(
            &resp,
            format!(
                "stdout {:?} / stderr {:?}",
                d.stdout_text(),
                d.stderr_text()
            ),
        ));
    }
    let stop = ctx.stop(&id, 10)?;
    expect_status(&stop, 204, "stopping the container")
}

fn hijack_stdin(ctx: &Ctx) -> Outcome {
    let e = expectation("protocol/hijack-stdin-half-close")?;
    let mut cfg = ctx.probe_config(&["cat"])?;
    for k in [
        "OpenStdin",
        "StdinOnce",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
    ] {
        cfg[k] = json!(true);
    }
    let id = ctx.create(cfg, None)?;
    let _g = Guard(ctx, id.clone());
    let mut att = match ctx.client.attach(&id, true)? {
        Ok(a) => a,
        Err(resp) => {
            return Err(e.fail(
                Some(&resp),
                format!("expected 101, got {}", crate::ground::describe(&resp)),
                &[],
            ))
        }
    };
    let fail_att = |reason: String| {
        Problem::Fail(crate::ground::Failure {
            reason,
            exchange: Some(att.exchange),
            expected: Some(e.summary(&[])),
            source: Some(e.source.clone()),
            notes: vec![],
        })
    };
    if att.status != 101 {
        return Err(fail_att(format!("status {}, expected 101", att.status)));
    }
    for (h, want) in &e.header_values_at(version(ctx)) {
        let got = att.header(h).map(str::to_ascii_lowercase);
        if got.as_deref() != Some(want.to_ascii_lowercase().as_str()) {
            return Err(fail_att(format!(
                "header {h}: expected {want:?}, got {got:?}"
            )));
        }
    }
    ctx.start(&id)?;
    att.write(b"ping\n")?;
    att.write(b"pong\n")?;
    // Half-close: our write side ends, the container's stdin sees EOF, cat
    // exits, and the endpoint closes its side after the output.
    att.close_stdin()?;
    let raw = att.read_to_end(Duration::from_secs(20))?;
    let d = check_frames(None, &raw, "hijacked stream")?;
    if d.stdout_text() != "ping\npong\n" {
        return Err(fail(format!(
            "after a half-close the container echoed {:?}, expected \"ping\\npong\\n\"",
            d.stdout_text()
        )));
    }
    let code = ctx.wait(&id)?;
    if code != 0 {
        return Err(fail(format!(
            "cat exited {code} after stdin EOF, expected 0"
        )));
    }
    Ok(())
}

/// A raw HTTP/1.1 request over a fresh connection that returns as soon as
/// the response head has arrived, with the connection still open.
struct RawExchange {
    head: String,
    early: Vec<u8>,
    conn: Box<dyn ReadWriteTimeout>,
}

trait ReadWriteTimeout: Read + Write {
    fn set_timeout(&self, t: Duration) -> std::io::Result<()>;
}

impl ReadWriteTimeout for std::os::unix::net::UnixStream {
    fn set_timeout(&self, t: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(t))
    }
}

impl ReadWriteTimeout for std::net::TcpStream {
    fn set_timeout(&self, t: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(t))
    }
}

fn raw_head(ctx: &Ctx, method: &str, path: &str, within: Duration) -> Result<RawExchange, Problem> {
    let target = ctx.client.target().clone();
    let (mut conn, host): (Box<dyn ReadWriteTimeout>, String) = match &target {
        Target::Unix(p) => (
            Box::new(
                std::os::unix::net::UnixStream::connect(p)
                    .map_err(|e| fail(format!("connecting to {target}: {e}")))?,
            ),
            "api.moby.localhost".into(),
        ),
        Target::Tcp(h) => (
            Box::new(
                std::net::TcpStream::connect(h.as_str())
                    .map_err(|e| fail(format!("connecting to {target}: {e}")))?,
            ),
            h.clone(),
        ),
        // Raw bytes over TLS or ssh would need their own blocking
        // transports; these checks are about the server's framing, which
        // the transport does not change.
        other => {
            return Err(Problem::Skip(format!(
                "raw-socket check: needs a unix:// or plain tcp:// target, not {}",
                other.transport()
            )))
        }
    };
    let full = format!("/v{}{path}", version(ctx));
    let req = format!(
        "{method} {full} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: shipshape-harness\r\nContent-Length: 0\r\n\r\n"
    );
    conn.write_all(req.as_bytes())
        .map_err(|e| fail(format!("{method} {full}: write failed: {e}")))?;
    let deadline = Instant::now() + within;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).into_owned();
            let early = buf[pos + 4..].to_vec();
            return Ok(RawExchange { head, early, conn });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(fail(format!(
                "{method} {full}: no complete status line and headers within {within:?} ({} bytes so far): the endpoint holds the response head back until the body is ready",
                buf.len()
            )));
        }
        conn.set_timeout(left.max(Duration::from_millis(10)))
            .map_err(|e| fail(e.to_string()))?;
        match conn.read(&mut chunk) {
            Ok(0) => {
                return Err(fail(format!(
                    "{method} {full}: connection closed before the headers ended"
                )))
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(fail(format!("{method} {full}: read failed: {e}"))),
        }
    }
}

impl RawExchange {
    fn status(&self) -> Option<u16> {
        self.head.split_whitespace().nth(1)?.parse().ok()
    }

    /// Reads whatever arrives within `t`.
    fn read_for(&mut self, t: Duration) -> Vec<u8> {
        self.read_until(t, |_| false)
    }

    /// Reads until `done` holds for what arrived, or `t` passes.
    fn read_until(&mut self, t: Duration, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + t;
        let mut out = std::mem::take(&mut self.early);
        let mut chunk = [0u8; 4096];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if self
                .conn
                .set_timeout(left.max(Duration::from_millis(10)))
                .is_err()
            {
                break;
            }
            match self.conn.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    out.extend_from_slice(&chunk[..n]);
                    if done(&out) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        out
    }
}

fn headers_first_fail(what: &str, reason: String) -> Problem {
    match expectation("protocol/wait-headers-before-body") {
        Ok(e) => e.fail(None, format!("{what}: {reason}"), &[]),
        Err(p) => p,
    }
}

fn wait_headers_first(ctx: &Ctx) -> Outcome {
    let id = ctx.create(ctx.probe_config(&["trap-term", "4"])?, None)?;
    let _g = Guard(ctx, id.clone());
    ctx.start(&id)?;
    let mut ex = raw_head(
        ctx,
        "POST",
        &format!("/containers/{}/wait", enc(&id)),
        Duration::from_secs(5),
    )
    .map_err(|p| match p {
        Problem::Fail(f) => headers_first_fail("wait", f.reason),
        other => other,
    })?;
    if ex.status() != Some(200) {
        return Err(headers_first_fail(
            "wait",
            format!("status line {:?}", ex.head.lines().next()),
        ));
    }
    let early = ex.read_for(Duration::from_millis(300));
    if String::from_utf8_lossy(&early).contains("StatusCode") {
        return Err(headers_first_fail(
            "wait",
            "the body arrived while the container was still running".into(),
        ));
    }
    // Give the probe time to install its handler before the stop.
    std::thread::sleep(Duration::from_millis(300));
    let stop = ctx.stop(&id, 10)?;
    expect_status(&stop, 204, "stopping the container")?;
    let rest = ex.read_until(Duration::from_secs(5), |b| {
        String::from_utf8_lossy(b).contains("StatusCode")
    });
    let text = String::from_utf8_lossy(&rest).into_owned();
    if !text.contains("\"StatusCode\":4") {
        return Err(headers_first_fail(
            "wait",
            format!("after the stop the body was {text:?}, expected StatusCode 4"),
        ));
    }
    Ok(())
}

fn logs_follow_headers_first(ctx: &Ctx) -> Outcome {
    let id = ctx.create(ctx.probe_config(&["trap-term", "0"])?, None)?;
    let _g = Guard(ctx, id.clone());
    ctx.start(&id)?;
    let mut ex = raw_head(
        ctx,
        "GET",
        &format!("/containers/{}/logs?follow=1&stdout=1&stderr=1", enc(&id)),
        Duration::from_secs(5),
    )
    .map_err(|p| match p {
        Problem::Fail(f) => headers_first_fail("logs?follow=1", f.reason),
        other => other,
    })?;
    if ex.status() != Some(200) {
        return Err(headers_first_fail(
            "logs?follow=1",
            format!("status line {:?}", ex.head.lines().next()),
        ));
    }
    // The stream stays open while the container runs.
    let _ = ex.read_for(Duration::from_millis(300));
    let stop = ctx.stop(&id, 10)?;
    expect_status(&stop, 204, "stopping the container")?;
    Ok(())
}

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Skips when the endpoint has no /events route.
fn events_supported(ctx: &Ctx) -> Outcome {
    let t = now_secs();
    let resp = ctx.send(Req::get(format!("/events?since={}&until={}", t - 2, t - 1)))?;
    if route_missing(&resp) {
        return Err(Problem::Skip(
            "the endpoint has no /events route (404 page not found / 501)".into(),
        ));
    }
    expect_status(&resp, 200, "GET /events with a past window")
}

fn events_headers_first(ctx: &Ctx) -> Outcome {
    events_supported(ctx)?;
    let mut ex = raw_head(ctx, "GET", "/events", Duration::from_secs(5)).map_err(|p| match p {
        Problem::Fail(f) => headers_first_fail("events", f.reason),
        other => other,
    })?;
    if ex.status() != Some(200) {
        return Err(headers_first_fail(
            "events",
            format!("status line {:?}", ex.head.lines().next()),
        ));
    }
    let ct = ex
        .head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        })
        .map(|(_, v)| v.trim().to_string());
    if ct.as_deref() != Some("application/json") {
        return Err(headers_first_fail(
            "events",
            format!("Content-Type {ct:?}, expected application/json"),
        ));
    }
    drop(ex.read_for(Duration::from_millis(100)));
    Ok(())
}

/// The JSON stream of a non-quiet load: one JSON object per message, no
/// error message, and the loaded image named.
fn load_progress(ctx: &Ctx) -> Outcome {
    let e = expectation("protocol/load-progress-stream")?;
    let fx = fixture::build(&[]).map_err(|err| fail(format!("building the fixture: {err}")))?;
    let resp = ctx.send(
        Req::post("/images/load")
            .raw(fx.tarball, "application/x-tar")
            .timeout(Duration::from_secs(180)),
    )?;
    e.check(&resp, &[])?;
    let text = resp.text();
    let mut messages = Vec::new();
    let stream = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    for m in stream {
        let m = m.map_err(|err| e.fail(Some(&resp), format!("not a JSON stream: {err}"), &[]))?;
        messages.push(m);
    }
    if messages.is_empty() {
        return Err(e.fail(Some(&resp), "no JSON message", &[]));
    }
    for m in &messages {
        if !m.is_object() || m.get("error").is_some() || m.get("errorDetail").is_some() {
            return Err(e.fail(Some(&resp), format!("message {m}"), &[]));
        }
        for (k, want) in [
            ("stream", "string"),
            ("status", "string"),
            ("id", "string"),
            ("progressDetail", "object"),
        ] {
            if let Some(v) = m.get(k) {
                if crate::schema::json_type(v) != want {
                    return Err(e.fail(Some(&resp), format!("{k} is not a {want} in {m}"), &[]));
                }
            }
        }
    }
    let want = format!("Loaded image ID: {}", fx.image_id);
    if !messages.iter().any(|m| {
        m.get("stream")
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains(&want))
    }) {
        return Err(e.fail(Some(&resp), format!("no stream message says {want:?}"), &[]));
    }
    Ok(())
}

/// Events between `since` and now matching `filters`, in order.
pub(super) fn events(
    ctx: &Ctx,
    since: u64,
    filters: Value,
) -> Result<(Response, Vec<Value>), Problem> {
    // `until` in the past returns at once; wait a moment so the window
    // holds everything just done.
    std::thread::sleep(Duration::from_millis(1100));
    events_until(ctx, since, now_secs(), filters)
}

/// Events between `since` and `until` (in the past) matching `filters`.
fn events_until(
    ctx: &Ctx,
    since: u64,
    until: u64,
    filters: Value,
) -> Result<(Response, Vec<Value>), Problem> {
    let resp = ctx.send(Req::get(format!(
        "/events?since={since}&until={until}&filters={}",
        enc(&filters.to_string())
    )))?;
    expect_status(&resp, 200, "GET /events")?;
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_slice(&resp.body).into_iter::<Value>() {
        out.push(v.map_err(|e| fail_at(&resp, format!("events are not a JSON stream: {e}")))?);
    }
    Ok((resp, out))
}

fn actions(evs: &[Value]) -> Vec<String> {
    evs.iter()
        .filter_map(|e| e.get("Action").and_then(Value::as_str).map(str::to_string))
        .collect()
}

fn events_container_life(ctx: &Ctx) -> Outcome {
    events_supported(ctx)?;
    let e = expectation("protocol/events-container-life")?;
    let since = now_secs().saturating_sub(1);
    let name = ctx.unique_name("events");
    let id = ctx.create(ctx.probe_config(&["exit", "3"])?, Some(&name))?;
    let mut g = Guard(ctx, id.clone());
    let mut att = match ctx.client.attach(&id, false)? {
        Ok(a) => a,
        Err(resp) => {
            return Err(fail_at(
                &resp,
                format!("attach answered {}", crate::ground::describe(&resp)),
            ))
        }
    };
    ctx.start(&id)?;
    let _ = att.read_to_end(Duration::from_secs(20))?;
    let code = ctx.wait(&id)?;
    if code != 3 {
        return Err(fail(format!("exit code {code}, expected 3")));
    }
    let resp = ctx.send(Req::delete(format!("/containers/{}", enc(&id))))?;
    expect_status(&resp, 204, "removing the container")?;
    g.1 = String::new();
    let (resp, evs) = events(
        ctx,
        since,
        json!({"type": ["container"], "container": [id]}),
    )?;
    let got = actions(&evs);
    let want = ["create", "attach", "start", "die", "destroy"];
    if got != want {
        return Err(e.fail(
            Some(&resp),
            format!("actions {got:?}, expected {want:?}"),
            &[],
        ));
    }
    for ev in &evs {
        let attrs = ev.pointer("/Actor/Attributes");
        let ok = ev.get("Type") == Some(&json!("container"))
            && ev.pointer("/Actor/ID") == Some(&json!(id))
            && attrs.and_then(|a| a.get("name")) == Some(&json!(name))
            && attrs.and_then(|a| a.get("image")) == Some(&json!(ctx.image()?.tag))
            && ev.get("time").is_some_and(Value::is_i64)
            && ev.get("timeNano").is_some_and(Value::is_i64);
        if !ok {
            return Err(e.fail(
                Some(&resp),
                format!("event {ev} lacks Type/Actor.ID/name/image/time"),
                &[],
            ));
        }
        // The pre-1.22 fields dockerd still sends on container events:
        // status the action, id the container, from its image.
        let legacy = ev.get("status") == ev.get("Action")
            && ev.get("id") == Some(&json!(id))
            && ev.get("from") == Some(&json!(ctx.image()?.tag));
        if !legacy {
            return Err(e.fail(
                Some(&resp),
                format!("event {ev}: dockerd sends status (the Action), id (the container) and from (its image)"),
                &[],
            ));
        }
    }
    // `type=container` alone: every event is a container's, ours among them
    // in order (other clients' events may interleave).
    let (all_resp, all_evs) = events(ctx, since, json!({"type": ["container"]}))?;
    if let Some(other) = all_evs
        .iter()
        .find(|v| v.get("Type") != Some(&json!("container")))
    {
        return Err(e.fail(
            Some(&all_resp),
            format!("filter type=container alone let through {other}"),
            &[],
        ));
    }
    let ours: Vec<Value> = all_evs
        .into_iter()
        .filter(|v| v.pointer("/Actor/ID") == Some(&json!(id)))
        .collect();
    if actions(&ours) != want {
        return Err(e.fail(
            Some(&all_resp),
            format!(
                "filter type=container alone: this container's actions {:?}, expected {want:?}",
                actions(&ours)
            ),
            &[],
        ));
    }
    let die = evs.iter().find(|v| v.get("Action") == Some(&json!("die")));
    if die.and_then(|d| d.pointer("/Actor/Attributes/exitCode")) != Some(&json!("3")) {
        return Err(e.fail(
            Some(&resp),
            "the die event's exitCode attribute is not \"3\"",
            &[],
        ));
    }
    Ok(())
}

fn events_image_life(ctx: &Ctx) -> Outcome {
    events_supported(ctx)?;
    let e = expectation("protocol/events-image-life")?;
    let image = ctx.image()?;
    let since = now_secs().saturating_sub(1);
    // A load of the fixture (already present: still a load event).
    let fx = fixture::build(&[]).map_err(|err| fail(format!("building the fixture: {err}")))?;
    let resp = ctx.send(
        Req::post("/images/load?quiet=1")
            .raw(fx.tarball, "application/x-tar")
            .timeout(Duration::from_secs(180)),
    )?;
    expect_status(&resp, 200, "loading the fixture")?;
    // Asked at once: dockerd replays only its last 256 events, which other
    // users of a busy daemon can push a load out of within seconds.
    let (resp, evs) = events(
        ctx,
        since,
        json!({"type": ["image"], "event": ["load"], "image": [fx.image_id]}),
    )?;
    // Concurrent runs on the same daemon may load the fixture too.
    if !actions(&evs).iter().any(|a| a == "load") {
        return Err(e.fail(
            Some(&resp),
            format!(
                "load events for {}: {:?}, expected one",
                fx.image_id,
                actions(&evs)
            ),
            &[],
        ));
    }
    // An image of our own to tag, untag and delete: a commit.
    let since = now_secs().saturating_sub(1);
    let (cid, _, _) = ctx.run_probe(&image.tag, &["write", "/data/events", "x"])?;
    let g = Guard(ctx, cid.clone());
    let tag1 = ctx
        .unique_name("ev1")
        .trim_start_matches("shipshape-")
        .to_string();
    let tag2 = ctx
        .unique_name("ev2")
        .trim_start_matches("shipshape-")
        .to_string();
    let (r1, r2) = (
        format!("{COMMIT_REPO}:{tag1}"),
        format!("{COMMIT_REPO}:{tag2}"),
    );
    let resp = ctx.send(Req::post(format!(
        "/commit?container={}&repo={COMMIT_REPO}&tag={}",
        enc(&cid),
        enc(&tag1)
    )))?;
    if route_missing(&resp) {
        return Err(Problem::Skip("the endpoint has no commit route".into()));
    }
    expect_status(&resp, 201, "commit")?;
    ctx.record_created_image(r1.clone());
    let new_id = json_body(&resp, "commit")?
        .get("Id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| fail_at(&resp, "commit answered no Id"))?;
    drop(g);
    let resp = ctx.send(Req::post(format!(
        "/images/{}/tag?repo={COMMIT_REPO}&tag={}",
        enc(&r1),
        enc(&tag2)
    )))?;
    expect_status(&resp, 201, "tag")?;
    ctx.record_created_image(r2.clone());
    for r in [&r2, &r1] {
        let resp = ctx.send(Req::delete(format!("/images/{}", enc(r))))?;
        expect_status(&resp, 200, "image delete")?;
        ctx.forget_created_image(r);
    }
    let (resp, evs) = events(ctx, since, json!({"type": ["image"], "image": [new_id]}))?;
    let got = actions(&evs);
    let want = ["tag", "tag", "untag", "untag", "delete"];
    if got != want {
        return Err(e.fail(
            Some(&resp),
            format!("actions for {new_id}: {got:?}, expected {want:?}"),
            &[],
        ));
    }
    let names: Vec<Value> = evs
        .iter()
        .map(|v| {
            v.pointer("/Actor/Attributes/name")
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect();
    let want_names = [
        json!(r1),
        json!(r2),
        json!(new_id),
        json!(new_id),
        json!(new_id),
    ];
    if names != want_names {
        return Err(e.fail(
            Some(&resp),
            format!("name attributes {names:?}, expected {want_names:?}"),
            &[],
        ));
    }
    if evs
        .iter()
        .any(|v| v.pointer("/Actor/ID") != Some(&json!(new_id)))
    {
        return Err(e.fail(
            Some(&resp),
            format!("an event's Actor.ID is not {new_id}"),
            &[],
        ));
    }
    Ok(())
}

/// (Type, Action) of each event, in order.
fn kinds(evs: &[Value]) -> Vec<(String, String)> {
    evs.iter()
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (s("Type"), s("Action"))
        })
        .collect()
}

/// The event filters no other scenario sends alone, over one container's
/// life (created, started, killed with SIGTERM, which the probe as PID 1
/// ignores, then with the default KILL, removed) and a volume named after
/// it (`<name>-vol`). dockerd 20.10.24's answers (curl, 2026-12-04):
/// `label` keeps the container's events (a key alone matches any value);
/// `event=kill` gives both kills with Actor.Attributes.signal "15" then
/// "9"; `container` matches an event whose Actor ID or name *starts with*
/// the value, whatever its type, so `container=<name>` also keeps the
/// volume's events; `volume` keeps the volume's create and destroy (Actor
/// ID the name, attribute driver "local"); volume events carry no labels,
/// so `type=volume&label=..` keeps nothing.
fn events_filters(ctx: &Ctx) -> Outcome {
    events_supported(ctx)?;
    let since = now_secs().saturating_sub(1);
    let name = ctx.unique_name("evf");
    let vol = format!("{name}-vol");
    let mut cfg = ctx.probe_config(&["sleep", "60"])?;
    cfg["Labels"]["io.shipshape.evf"] = json!(name);
    let id = ctx.create(cfg, Some(&name))?;
    let mut g = Guard(ctx, id.clone());
    ctx.start(&id)?;
    for query in ["?signal=SIGTERM", ""] {
        let resp = ctx.send(Req::post(format!("/containers/{}/kill{query}", enc(&id))))?;
        expect_status(&resp, 204, &format!("kill{query}"))?;
    }
    ctx.wait(&id)?;
    let resp = ctx.send(Req::delete(format!("/containers/{}", enc(&id))))?;
    expect_status(&resp, 204, "removing the container")?;
    g.1 = String::new();
    let resp =
        ctx.send(Req::post("/volumes/create").json(json!({"Name": vol, "Labels": ctx.labels()})))?;
    expect_status(&resp, 201, "creating the volume")?;
    let resp = ctx.send(Req::delete(format!("/volumes/{}", enc(&vol))))?;
    expect_status(&resp, 204, "removing the volume")?;
    std::thread::sleep(Duration::from_millis(1100));
    let until = now_secs();
    let c = |a: &str| ("container".to_string(), a.to_string());
    let v = |a: &str| ("volume".to_string(), a.to_string());
    let life = ["create", "start", "kill", "kill", "die", "destroy"].map(c);
    let mark = format!("io.shipshape.evf={name}");
    let cases: [(Value, Vec<(String, String)>); 4] = [
        (json!({"label": [mark]}), life.to_vec()),
        (
            json!({"event": ["kill"], "container": [id]}),
            vec![c("kill"), c("kill")],
        ),
        (
            json!({"container": [name]}),
            life.iter()
                .cloned()
                .chain([v("create"), v("destroy")])
                .collect(),
        ),
        (json!({"volume": [vol]}), vec![v("create"), v("destroy")]),
    ];
    for (filters, want) in cases {
        let (resp, evs) = events_until(ctx, since, until, filters.clone())?;
        if kinds(&evs) != want {
            return Err(fail_at(
                &resp,
                format!(
                    "filters {filters}: events {:?}; dockerd: {want:?}",
                    kinds(&evs)
                ),
            ));
        }
        let actor_ok = evs.iter().all(|e| {
            let actor = e.pointer("/Actor/ID");
            match e.get("Type").and_then(Value::as_str) {
                Some("volume") => {
                    actor == Some(&json!(vol))
                        && e.pointer("/Actor/Attributes/driver") == Some(&json!("local"))
                }
                _ => actor == Some(&json!(id)),
            }
        });
        if !actor_ok {
            return Err(fail_at(
                &resp,
                format!("filters {filters}: an event of another actor, or a volume event without driver \"local\""),
            ));
        }
        let signals: Vec<&Value> = evs
            .iter()
            .filter_map(|e| e.pointer("/Actor/Attributes/signal"))
            .collect();
        let (term, kill) = (json!("15"), json!("9"));
        let want_signals = match filters.get("volume") {
            Some(_) => vec![],
            None => vec![&term, &kill],
        };
        if signals != want_signals {
            return Err(fail_at(
                &resp,
                format!("filters {filters}: kill signals {signals:?}; dockerd: {want_signals:?}"),
            ));
        }
    }
    let filters = json!({"type": ["volume"], "label": [mark]});
    let (resp, evs) = events_until(ctx, since, until, filters.clone())?;
    if !evs.is_empty() {
        return Err(fail_at(
            &resp,
            format!(
                "filters {filters}: events {:?}; dockerd: none (volume events carry no labels)",
                kinds(&evs)
            ),
        ));
    }
    // A label key alone matches any value; with event=create, only creates.
    let filters = json!({"event": ["create"], "label": ["io.shipshape.evf"]});
    let (resp, evs) = events_until(ctx, since, until, filters.clone())?;
    let ours = evs
        .iter()
        .filter(|e| e.pointer("/Actor/ID") == Some(&json!(id)))
        .count();
    if ours != 1
        || evs
            .iter()
            .any(|e| e.get("Action") != Some(&json!("create")))
    {
        return Err(fail_at(
            &resp,
            format!(
                "filters {filters}: events {:?} ({ours} of ours); dockerd: creates only, ours once",
                kinds(&evs)
            ),
        ));
    }
    Ok(())
}
