//! Streams (issue 14): what attach and exec start carry, and how.
//!
//! * attach replaying the logs (`logs=1`, with or without `stream`), per
//!   chosen stream, multiplexed without a TTY and raw with one; attach to
//!   a stopped container waiting for its next start;
//! * detach keys read from the client's stdin (attach's `detachKeys=`, exec
//!   create's `DetachKeys`) and their invalid-spec messages;
//! * exec output with a TTY, and its framing (the start request's `Tty`
//!   decides, not the create request's);
//! * exec instances' life: a second start, resize, a stopped container.
//!
//! Every expectation was asked of dockerd 20.10.24 (API 1.41); the answers
//! are in specs/harness/expectations.json or quoted next to the check.

use super::{scenario, Scenario};
use crate::client::{demux, enc, Attach, Req, Response};
use crate::fixture;
use crate::ground::spec::expectation;
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};
use serde_json::{json, Value};
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("streams", "attach-logs-replay", true, attach_logs_replay),
        scenario(
            "streams",
            "attach-before-restart",
            true,
            attach_before_restart,
        ),
        scenario("streams", "attach-detach-keys", true, attach_detach_keys),
        scenario("streams", "exec-detach-keys", true, exec_detach_keys),
        scenario("streams", "exec-tty-output", true, exec_tty_output),
        scenario(
            "streams",
            "tty-is-container-pts",
            true,
            tty_is_container_pts,
        ),
        scenario("streams", "exec-framing-by-start", true, exec_framing),
        scenario("streams", "exec-start-twice", true, exec_start_twice),
        scenario("streams", "exec-inspect-states", true, exec_inspect_states),
        scenario("streams", "exec-gone-with-container", true, exec_gone),
    ]
}

/// The probe prints "hello out" on stdout, then "hello err" on stderr.
const OUT_THEN_ERR: [&str; 6] = ["echo", "hello out", "--", "stderr", "hello err", "--"];

/// Runs `body` on a new container built from `cfg` (already started when
/// `start`), and removes the container whatever happened.
fn with_container(
    ctx: &Ctx,
    cfg: Value,
    start: bool,
    body: impl FnOnce(&str) -> Outcome,
) -> Outcome {
    let id = ctx.create(cfg, None)?;
    let result = (|| {
        if start {
            ctx.start(&id)?;
        }
        body(&id)
    })();
    ctx.remove(&id);
    result
}

/// The hijacked connection, or the refusal as a failure.
fn upgraded<'c>(ctx: &'c Ctx, req: Req, what: &str) -> Result<Attach<'c>, Problem> {
    match ctx.client.hijack(req)? {
        Ok(a) => Ok(a),
        Err(resp) => Err(fail_at(
            &resp,
            format!(
                "{what}: expected 101, got {}",
                crate::ground::describe(&resp)
            ),
        )),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Waits until the container's logs hold `needle` (its output was
/// written). The raw body is searched: with a TTY it is not multiplexed.
fn wait_for_logs(ctx: &Ctx, id: &str, needle: &str) -> Outcome {
    let path = format!("/containers/{}/logs?stdout=1&stderr=1", enc(id));
    let seen = ctx.poll(Duration::from_secs(15), || {
        let resp = ctx.send(Req::get(path.clone()))?;
        Ok(resp.text().contains(needle).then_some(()))
    })?;
    seen.ok_or_else(|| fail(format!("the container never logged {needle:?}")))
}

/// `POST /containers/{id}/attach` with `logs=1`: dockerd replays the output
/// so far, for the chosen streams only, then (with `stream=0`) ends the
/// stream although the container still runs. Asked of dockerd 20.10.24:
/// without a TTY the frames are `[2] "hello err\n"`, `[1] "hello out\n"`
/// (stdout=1 alone: only the first, stderr=1 alone: only the second); with
/// a TTY raw `hello out\r\nhello err\r\n` for stdout=1 (the TTY merged the
/// two) and nothing for stderr=1 alone; without stdout/stderr, or with
/// `logs=0&stream=0`, nothing at all.
fn attach_logs_replay(ctx: &Ctx) -> Outcome {
    let e = expectation("streams/attach-logs-replay")?;
    for tty in [false, true] {
        let mut args = OUT_THEN_ERR.to_vec();
        args.extend(["sleep", "300"]);
        let mut cfg = ctx.probe_config(&args)?;
        cfg["Tty"] = json!(tty);
        with_container(ctx, cfg, true, |id| {
            wait_for_logs(ctx, id, "hello err")?;
            let cases: [(&str, &str, &str); 6] = if tty {
                [
                    (
                        "stream=0&logs=1&stdout=1&stderr=1",
                        "hello out\r\nhello err\r\n",
                        "",
                    ),
                    ("logs=1&stdout=1&stderr=1", "hello out\r\nhello err\r\n", ""),
                    ("stream=0&logs=1&stdout=1", "hello out\r\nhello err\r\n", ""),
                    ("stream=0&logs=1&stderr=1", "", ""),
                    ("stream=0&logs=1", "", ""),
                    ("stream=0&logs=0&stdout=1&stderr=1", "", ""),
                ]
            } else {
                [
                    (
                        "stream=0&logs=1&stdout=1&stderr=1",
                        "hello out\n",
                        "hello err\n",
                    ),
                    ("logs=1&stdout=1&stderr=1", "hello out\n", "hello err\n"),
                    ("stream=0&logs=1&stdout=1", "hello out\n", ""),
                    ("stream=0&logs=1&stderr=1", "", "hello err\n"),
                    ("stream=0&logs=1", "", ""),
                    ("stream=0&logs=0&stdout=1&stderr=1", "", ""),
                ]
            };
            for (q, want_out, want_err) in cases {
                let path = format!("/containers/{}/attach?{q}", enc(id));
                let mut att = upgraded(ctx, Req::post(path), "attach")?;
                if att.status != e.status {
                    return Err(e.fail(None, format!("{q}: status {}", att.status), &[]));
                }
                let raw = att.read_to_end(Duration::from_secs(15))?;
                let (out, err) = if tty {
                    (text(&raw), String::new())
                } else {
                    let d = demux(&raw).map_err(|m| fail(format!("{q}: {m}")))?;
                    (d.stdout_text(), d.stderr_text())
                };
                if out != want_out || err != want_err {
                    return Err(e.fail(
                        None,
                        format!(
                            "Tty {tty}, {q}: stdout {out:?} / stderr {err:?}, expected \
                             {want_out:?} / {want_err:?} ({})",
                            if tty { "raw" } else { "multiplexed" }
                        ),
                        &[],
                    ));
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Attach (`stream=1`) to a container that already exited, then start it
/// again, as `docker start -a` does. dockerd 20.10.24 keeps the stream
/// open while the container is stopped (nothing arrives in 2 s), then
/// sends the new run's output (`[1] "hello out\n"`) and ends the stream
/// when that run exits.
fn attach_before_restart(ctx: &Ctx) -> Outcome {
    let cfg = ctx.probe_config(&["echo", "hello out"])?;
    with_container(ctx, cfg, true, |id| {
        ctx.wait(id)?;
        let path = format!("/containers/{}/attach?stream=1&stdout=1&stderr=1", enc(id));
        let mut att = upgraded(ctx, Req::post(path), "attach")?;
        let (early, ended) = att.read_for(Duration::from_secs(2))?;
        if ended {
            return Err(fail(format!(
                "attach to the exited container ended its stream at once ({:?}); dockerd \
                 keeps it open for the next start",
                text(&early)
            )));
        }
        ctx.start(id)?;
        let raw = att.read_to_end(Duration::from_secs(15))?;
        let mut all = early;
        all.extend(raw);
        let d = demux(&all).map_err(|m| fail(format!("attach stream: {m}")))?;
        if d.stdout_text() != "hello out\n" || !d.stderr.is_empty() {
            return Err(fail(format!(
                "after the restart: stdout {:?} / stderr {:?}, expected \"hello out\\n\" / \"\"",
                d.stdout_text(),
                d.stderr_text()
            )));
        }
        Ok(())
    })
}

/// A `cat` container with a TTY and an open stdin.
fn tty_cat(ctx: &Ctx) -> Result<Value, Problem> {
    let mut cfg = ctx.probe_config(&["cat"])?;
    for k in [
        "Tty",
        "OpenStdin",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
    ] {
        cfg[k] = json!(true);
    }
    Ok(cfg)
}

/// Writes each piece on its own (a pause between them), then reads the
/// stream to its end: it must end, since the last piece detaches.
/// Types each piece, then waits until the TTY has echoed what it should
/// (`Some`: the text to see; `None`: nothing shows, e.g. a key held back as
/// a possible start of the detach sequence), then reads to the end.
/// Waiting for the echo rather than a fixed pause: on a busy daemon the
/// echo can come after the detach otherwise, and never at all.
fn type_then_read(att: &mut Attach, steps: &[(&[u8], Option<&str>)]) -> Result<String, Problem> {
    let mut seen = Vec::new();
    for (piece, echo) in steps {
        att.write(piece)?;
        match echo {
            None => std::thread::sleep(Duration::from_millis(200)),
            Some(want) => {
                let deadline = std::time::Instant::now() + Duration::from_secs(15);
                while !text(&seen).contains(want) && std::time::Instant::now() < deadline {
                    let (got, closed) = att.read_for(Duration::from_millis(100))?;
                    seen.extend_from_slice(&got);
                    if closed {
                        return Ok(text(&seen));
                    }
                }
            }
        }
    }
    seen.extend(att.read_to_end(Duration::from_secs(15))?);
    Ok(text(&seen))
}

fn expect_running(ctx: &Ctx, id: &str, what: &str) -> Outcome {
    let v = ctx.inspect(id)?;
    if v.pointer("/State/Running") != Some(&json!(true)) {
        return Err(fail(format!(
            "{what}: the container should still run after a detach, State {:?}",
            v.get("State")
        )));
    }
    Ok(())
}

/// Detach keys on attach (TTY container, as dockerd applies them only to
/// a TTY's stdin). Asked of dockerd 20.10.24: typing `ab`, ctrl-p, `c`,
/// ctrl-p, ctrl-q ends the stream after the TTY echoed `ab^Pc` (the partial
/// sequence ctrl-p + `c` is forwarded), and the container keeps running;
/// with `detachKeys=ctrl-a,x` ctrl-p ctrl-q is plain input and ctrl-a `x`
/// detaches (echo `ab^P^Ay`); `detachKeys=foo` answers 101, then
/// `Invalid detach keys (foo) provided\r\n` and the end of the stream.
fn attach_detach_keys(ctx: &Ctx) -> Outcome {
    let e = expectation("streams/attach-detach-keys")?;
    with_container(ctx, tty_cat(ctx)?, true, |id| {
        let attach = |extra: &str| {
            let q = format!("stream=1&stdin=1&stdout=1&stderr=1{extra}");
            upgraded(
                ctx,
                Req::post(format!("/containers/{}/attach?{q}", enc(id))),
                "attach",
            )
        };
        let mut att = attach("")?;
        let got = type_then_read(
            &mut att,
            &[
                (b"ab", Some("ab")),
                (b"\x10", None),
                (b"c", Some("^Pc")),
                (b"\x10", None),
                (b"\x11", None),
            ],
        )
        .map_err(|p| p.note("default detach keys ctrl-p,ctrl-q"))?;
        if !got.contains("ab^Pc") {
            return Err(fail(format!(
                "default keys: echo {got:?}, expected \"ab^Pc\" (ctrl-p then c forwarded)"
            )));
        }
        expect_running(ctx, id, "default keys")?;

        let mut att = attach("&detachKeys=ctrl-a,x")?;
        let got = type_then_read(
            &mut att,
            &[
                (b"ab", Some("ab")),
                (b"\x10\x11", Some("^P")),
                (b"\x01y", Some("^Ay")),
                (b"\x01", None),
                (b"x", None),
            ],
        )
        .map_err(|p| p.note("detachKeys=ctrl-a,x"))?;
        if !got.contains("ab^P") || !got.contains("^Ay") {
            return Err(fail(format!(
                "detachKeys=ctrl-a,x: echo {got:?}, expected \"ab^P^Ay\""
            )));
        }
        expect_running(ctx, id, "detachKeys=ctrl-a,x")?;

        // dockerd refuses before hijacking: 400, the message and CRLF as a
        // raw-stream body.
        let q = "stream=1&stdin=1&stdout=1&stderr=1&detachKeys=foo";
        let path = format!("/containers/{}/attach?{q}", enc(id));
        let want = e.message.clone().unwrap_or_default();
        match ctx.client.hijack(Req::post(path))? {
            Ok(att) => {
                return Err(e.fail(
                    None,
                    format!(
                        "detachKeys=foo: status {}, expected {}",
                        att.status, e.status
                    ),
                    &[],
                ))
            }
            Err(resp) if resp.status != e.status || resp.text() != format!("{want}\r\n") => {
                return Err(e.fail(
                    Some(&resp),
                    format!("detachKeys=foo: {}", crate::ground::describe(&resp)),
                    &[],
                ))
            }
            Err(_) => {}
        }
        expect_running(ctx, id, "detachKeys=foo")
    })
}

pub(crate) fn exec_create(ctx: &Ctx, id: &str, body: Value) -> Result<String, Problem> {
    let resp = ctx.send(Req::post(format!("/containers/{}/exec", enc(id))).json(body))?;
    expect_status(&resp, 201, "exec create")?;
    json_body(&resp, "exec create")?
        .get("Id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| fail_at(&resp, "exec create answered no Id"))
}

fn exec_start_hijacked<'c>(ctx: &'c Ctx, exec: &str, tty: bool) -> Result<Attach<'c>, Problem> {
    upgraded(
        ctx,
        Req::post(format!("/exec/{}/start", enc(exec))).json(json!({"Detach": false, "Tty": tty})),
        "exec start",
    )
}

/// Exec create's `DetachKeys`. dockerd 20.10.24: `"foo"` is refused at
/// create (500, message in expectations.json); with `ctrl-a,x` on a TTY
/// exec, typing `ab`, ctrl-p ctrl-q (plain input), ctrl-a, `x` ends the
/// stream with `exec attach failed: error on attach stdin: read escape
/// sequence\r\n` after the echo `ab^P`, and inspect shows `DetachKeys`
/// `"AXg="` (the key bytes, base64).
fn exec_detach_keys(ctx: &Ctx) -> Outcome {
    let e = expectation("streams/exec-detach-keys")?;
    let cfg = ctx.probe_config(&["sleep", "300"])?;
    with_container(ctx, cfg, true, |id| {
        let resp = ctx.send(
            Req::post(format!("/containers/{}/exec", enc(id)))
                .json(json!({"Cmd": [fixture::PROBE_PATH, "cat"], "DetachKeys": "foo"})),
        )?;
        e.check(&resp, &[])?;
        let exec = exec_create(
            ctx,
            id,
            json!({"Cmd": [fixture::PROBE_PATH, "cat"], "Tty": true, "AttachStdin": true,
                   "AttachStdout": true, "AttachStderr": true, "DetachKeys": "ctrl-a,x"}),
        )?;
        let mut att = exec_start_hijacked(ctx, &exec, true)?;
        let got = type_then_read(
            &mut att,
            &[
                (b"ab", Some("ab")),
                (b"\x10\x11", Some("^P")),
                (b"\x01", None),
                (b"x", None),
            ],
        )?;
        let tail = "exec attach failed: error on attach stdin: read escape sequence\r\n";
        if !got.starts_with("ab^P") || !got.ends_with(tail) {
            return Err(fail(format!(
                "exec DetachKeys ctrl-a,x: stream {got:?}, expected \"ab^P\" … {tail:?}"
            )));
        }
        let inspect = |exec: &str, what: &str| -> Result<Value, Problem> {
            let v = json_body(
                &ctx.send(Req::get(format!("/exec/{}/json", enc(exec))))?,
                "exec inspect",
            )?;
            if v.get("DetachKeys") != Some(&json!("AXg=")) {
                return Err(fail(format!(
                    "exec inspect DetachKeys {:?} ({what}), expected \"AXg=\"",
                    v.get("DetachKeys")
                )));
            }
            Ok(v)
        };
        inspect(&exec, "DetachKeys ctrl-a,x")?;
        // Keys in another case name the same fields, as Go's decoder
        // matches them: docker-py sends `detachKeys` from its config file.
        let other = exec_create(
            ctx,
            id,
            json!({"cmd": [fixture::PROBE_PATH, "cat"], "detachKeys": "ctrl-a,x"}),
        )?;
        let v = inspect(&other, "sent as detachKeys")?;
        if v["ProcessConfig"]["arguments"] != json!(["cat"]) {
            return Err(fail(format!(
                "exec created with `cmd`: ProcessConfig {}, expected arguments [\"cat\"]",
                v["ProcessConfig"]
            )));
        }
        Ok(())
    })
}

/// A TTY exec printing to stdout then stderr, started hijacked as the
/// docker CLI does: dockerd sends the raw `hello out\r\nhello err\r\n`.
fn exec_tty_output(ctx: &Ctx) -> Outcome {
    let cfg = ctx.probe_config(&["sleep", "300"])?;
    with_container(ctx, cfg, true, |id| {
        for round in 0..5 {
            let mut cmd = vec![fixture::PROBE_PATH];
            cmd.extend(&OUT_THEN_ERR[..5]);
            let exec = exec_create(
                ctx,
                id,
                json!({"Cmd": cmd, "Tty": true, "AttachStdout": true, "AttachStderr": true}),
            )?;
            let mut att = exec_start_hijacked(ctx, &exec, true)?;
            let got = text(&att.read_to_end(Duration::from_secs(15))?);
            if got != "hello out\r\nhello err\r\n" {
                return Err(fail(format!(
                    "round {round}: TTY exec output {got:?}, expected \"hello out\\r\\nhello err\\r\\n\""
                )));
            }
        }
        Ok(())
    })
}

/// With `Tty: true` the process's terminal is a pty of the container's own
/// devpts (runc's console socket): dockerd 20.10.24 lists /dev/pts as
/// "0", "ptmx", and /dev/pts/0 and /dev/console (the slave bound there) are
/// both char 136:0; an exec with a TTY in a container without one gets
/// /dev/pts/0 of the container.
fn tty_is_container_pts(ctx: &Ctx) -> Outcome {
    let look = [
        "ls",
        "/dev/pts",
        "--",
        "devstat",
        "/dev/pts/0",
        "--",
        "devstat",
        "/dev/console",
    ];
    let mut cfg = ctx.probe_config(&look)?;
    cfg["Tty"] = json!(true);
    with_container(ctx, cfg, true, |id| {
        ctx.wait(id)?;
        let resp = ctx.send(Req::get(format!("/containers/{}/logs?stdout=1", enc(id))))?;
        expect_status(&resp, 200, "reading a TTY container's logs")?;
        let want = "0\r\nptmx\r\n/dev/pts/0: char 136:0\r\n/dev/console: char 136:0\r\n";
        let got = text(&resp.body);
        if got != want {
            return Err(fail(format!(
                "a TTY container's view of its terminal: got {got:?}, dockerd shows {want:?}"
            )));
        }
        Ok(())
    })?;
    let cfg = ctx.probe_config(&["sleep", "300"])?;
    with_container(ctx, cfg, true, |id| {
        let exec = exec_create(
            ctx,
            id,
            json!({"Cmd": [fixture::PROBE_PATH, "devstat", "/dev/pts/0"], "Tty": true, "AttachStdout": true}),
        )?;
        let mut att = exec_start_hijacked(ctx, &exec, true)?;
        let got = text(&att.read_to_end(Duration::from_secs(15))?);
        let want = "/dev/pts/0: char 136:0\r\n";
        if got != want {
            return Err(fail(format!(
                "a TTY exec in a container without a TTY: got {got:?}, dockerd shows {want:?}"
            )));
        }
        Ok(())
    })
}

/// Create `Tty` x start `Tty`: the start request decides the framing.
/// dockerd 20.10.24 (stdout "hello out", then stderr "hello err"):
/// create true / start true: raw `hello out\r\nhello err\r\n`; true/false:
/// one stdout frame `hello out\r\nhello err\r\n`; false/true: raw
/// `hello out\n` (stderr is dropped: a raw stream has no place for it);
/// false/false: frames, stdout `hello out\n`, stderr `hello err\n`.
fn exec_framing(ctx: &Ctx) -> Outcome {
    let cfg = ctx.probe_config(&["sleep", "300"])?;
    with_container(ctx, cfg, true, |id| {
        let cases = [
            (true, true, "hello out\r\nhello err\r\n", ""),
            (true, false, "hello out\r\nhello err\r\n", ""),
            (false, true, "hello out\n", ""),
            (false, false, "hello out\n", "hello err\n"),
        ];
        for (create_tty, start_tty, want_out, want_err) in cases {
            let mut cmd = vec![fixture::PROBE_PATH];
            cmd.extend(&OUT_THEN_ERR[..5]);
            let exec = exec_create(
                ctx,
                id,
                json!({"Cmd": cmd, "Tty": create_tty, "AttachStdout": true, "AttachStderr": true}),
            )?;
            let mut att = exec_start_hijacked(ctx, &exec, start_tty)?;
            let raw = att.read_to_end(Duration::from_secs(15))?;
            let what = format!("create Tty {create_tty}, start Tty {start_tty}");
            let (out, err) = if start_tty {
                (text(&raw), String::new())
            } else {
                let d = demux(&raw).map_err(|m| {
                    fail(format!(
                        "{what}: expected a multiplexed stream: {m} (raw {:?})",
                        text(&raw)
                    ))
                })?;
                (d.stdout_text(), d.stderr_text())
            };
            if out != want_out || err != want_err {
                return Err(fail(format!(
                    "{what}: stdout {out:?} / stderr {err:?}, expected {want_out:?} / {want_err:?}"
                )));
            }
        }
        Ok(())
    })
}

/// dockerd 20.10.24: a detached start of an exec that already ran is 409
/// with the message in expectations.json (an attached one writes the same
/// text into its stream); resizing it once it ended is 404 `no such exec`;
/// inspect shows `Running` false, `ExitCode` 0, its `Pid`, and the
/// `ProcessConfig` of the create request.
fn exec_start_twice(ctx: &Ctx) -> Outcome {
    let e = expectation("streams/exec-start-twice")?;
    let cfg = ctx.probe_config(&["sleep", "300"])?;
    with_container(ctx, cfg, true, |id| {
        let exec = exec_create(
            ctx,
            id,
            json!({"Cmd": [fixture::PROBE_PATH, "echo", "hi"], "AttachStdout": true}),
        )?;
        let start = |detach: bool| {
            ctx.send(
                Req::post(format!("/exec/{}/start", enc(&exec)))
                    .json(json!({"Detach": detach, "Tty": false})),
            )
        };
        let first = start(false)?;
        expect_status(&first, 200, "first exec start")?;
        let v = json_body(
            &ctx.send(Req::get(format!("/exec/{}/json", enc(&exec))))?,
            "exec inspect",
        )?;
        let pc = json!({"tty": false, "entrypoint": fixture::PROBE_PATH,
                        "arguments": ["echo", "hi"], "privileged": false});
        if v.get("Running") != Some(&json!(false))
            || v.get("ExitCode") != Some(&json!(0))
            || v.get("Pid").and_then(Value::as_i64).is_none_or(|p| p <= 0)
            || v.get("ProcessConfig") != Some(&pc)
        {
            return Err(fail(format!(
                "exec inspect after the run: {v}, expected Running false, ExitCode 0, a Pid and ProcessConfig {pc}"
            )));
        }
        let again = start(true)?;
        e.check(&again, &[("id", &exec)])?;
        // dockerd 20.10.24: 404 {"message":"no such exec"} once the exec's
        // process is reaped; for a moment after it exited, dockerd still
        // holds the process and answers 500 "cannot resize a stopped
        // container: unknown", 500 "cannot resize a deleted process:
        // unknown" or 404 "process does not exist <id>: not found" (all
        // seen on a loaded machine). Those transitional answers
        // are allowed for up to 5 s; the final one must be the 404.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let resize = ctx.send(Req::post(format!("/exec/{}/resize?h=10&w=20", enc(&exec))))?;
            if resize.status == 404 && resize.message().as_deref() == Some("no such exec") {
                break;
            }
            let msg = resize.message().unwrap_or_default();
            let transitional = (resize.status == 500
                && (msg == "cannot resize a stopped container: unknown"
                    || msg == "cannot resize a deleted process: unknown"))
                || (resize.status == 404
                    && msg.starts_with("process does not exist ")
                    && msg.ends_with(": not found"));
            if !transitional || std::time::Instant::now() > deadline {
                return Err(fail_at(
                    &resize,
                    format!(
                        "resize of a finished exec: {}, expected 404 \"no such exec\"",
                        crate::ground::describe(&resize)
                    ),
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(())
    })
}

/// dockerd 20.10.24: once its container stopped, an exec that never
/// started is gone: inspect, start and resize answer 404 with the message
/// in expectations.json.
fn exec_gone(ctx: &Ctx) -> Outcome {
    let e = expectation("streams/exec-gone-with-container")?;
    let cfg = ctx.probe_config(&["sleep", "300"])?;
    with_container(ctx, cfg, true, |id| {
        let exec = exec_create(
            ctx,
            id,
            json!({"Cmd": [fixture::PROBE_PATH, "echo", "hi"], "AttachStdout": true}),
        )?;
        let kill = ctx.send(Req::post(format!("/containers/{}/kill", enc(id))))?;
        expect_status(&kill, 204, "kill")?;
        ctx.wait(id)?;
        let vars = [("id", exec.as_str())];
        e.check(
            &ctx.send(Req::get(format!("/exec/{}/json", enc(&exec))))?,
            &vars,
        )?;
        e.check(
            &ctx.send(
                Req::post(format!("/exec/{}/start", enc(&exec)))
                    .json(json!({"Detach": true, "Tty": false})),
            )?,
            &vars,
        )?;
        e.check(
            &ctx.send(Req::post(format!("/exec/{}/resize?h=10&w=20", enc(&exec))))?,
            &vars,
        )
    })
}

/// Exec inspect before and during its run, as dockerd 20.10.24 answers
/// (curl, 2026-12-04): created, `Running` false, `ExitCode` null, `Pid` 0,
/// `ContainerID` the container, `CanRemove` false, the Open* flags as
/// attached (none here); once started detached, `Running` true, `ExitCode`
/// still null and `Pid` the host PID that the container's top lists;
/// resizing it is 200 (not a TTY too), `h=x` 400 `strconv.Atoi: parsing
/// "x": invalid syntax`.
fn exec_inspect_states(ctx: &Ctx) -> Outcome {
    let cfg = ctx.probe_config(&["sleep", "300"])?;
    with_container(ctx, cfg, true, |id| {
        let exec = exec_create(
            ctx,
            id,
            json!({"Cmd": [fixture::PROBE_PATH, "sleep", "301"]}),
        )?;
        let inspect = || -> Result<(Response, Value), Problem> {
            let resp = ctx.send(Req::get(format!("/exec/{}/json", enc(&exec))))?;
            expect_status(&resp, 200, "exec inspect")?;
            let v = json_body(&resp, "exec inspect")?;
            Ok((resp, v))
        };
        let (resp, v) = inspect()?;
        let created = v.get("Running") == Some(&json!(false))
            && v.get("ExitCode") == Some(&Value::Null)
            && v.get("Pid") == Some(&json!(0))
            && v.get("ContainerID") == Some(&json!(id))
            && v.get("CanRemove") == Some(&json!(false))
            && ["OpenStdin", "OpenStdout", "OpenStderr"]
                .iter()
                .all(|k| v.get(*k) == Some(&json!(false)));
        if !created {
            return Err(fail_at(
                &resp,
                format!(
                    "a created exec inspects as {v}; dockerd: Running false, ExitCode null, Pid 0, \
                     ContainerID {id}, CanRemove false, OpenStdin/OpenStdout/OpenStderr false"
                ),
            ));
        }
        let resp = ctx
            .send(Req::post(format!("/exec/{}/start", enc(&exec))).json(json!({"Detach": true})))?;
        expect_status(&resp, 200, "detached exec start")?;
        // Until the process is the probe's (a detached start answers
        // before runc has run it).
        let running = ctx.poll(
            ctx.client.scaled(std::time::Duration::from_secs(10)),
            || {
                let (resp, v) = inspect()?;
                let pid = v.get("Pid").and_then(Value::as_i64).unwrap_or(0);
                if pid <= 0 {
                    return Ok(None);
                }
                let top = ctx.send(Req::get(format!(
                    "/containers/{}/top?ps_args={}",
                    enc(id),
                    enc("-o pid,args")
                )))?;
                let listed = top.status == 200
                    && json_body(&top, "top")?["Processes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|row| {
                            row[0] == json!(pid.to_string()) && row[1] == "/probe sleep 301"
                        });
                Ok(listed.then_some((resp, v)))
            },
        )?;
        let Some((resp, v)) = running else {
            return Err(fail(
                "within 10 s the running exec's inspect named no Pid that top lists as /probe sleep 301",
            ));
        };
        if v.get("Running") != Some(&json!(true)) || v.get("ExitCode") != Some(&Value::Null) {
            return Err(fail_at(
                &resp,
                format!("a running exec inspects as {v}; dockerd: Running true, ExitCode null"),
            ));
        }
        // Resizing a running exec, TTY or not, is 200; a size that is not
        // a number is 400 with Go's strconv wording.
        let resize = |q: &str| ctx.send(Req::post(format!("/exec/{}/resize?{q}", enc(&exec))));
        expect_status(&resize("h=10&w=20")?, 200, "resizing a running exec")?;
        let resp = resize("h=x&w=20")?;
        if resp.status != 400
            || resp.message().as_deref() != Some("strconv.Atoi: parsing \"x\": invalid syntax")
        {
            return Err(fail_at(
                &resp,
                "resize with h=x: dockerd answers 400 strconv.Atoi: parsing \"x\": invalid syntax",
            ));
        }
        Ok(())
    })
}
