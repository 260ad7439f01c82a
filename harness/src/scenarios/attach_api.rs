//! Attach as dockerd 20.10.24 serves it beyond the hijacked POST the
//! other stream scenarios use (read with curl and a raw socket on this
//! host):
//!
//! * `GET /containers/{id}/attach/ws?logs=1&stream=0&stdout=1` with a
//!   WebSocket handshake: 101, `Upgrade: websocket`,
//!   `Sec-WebSocket-Accept` derived from the key (RFC 6455's sample key
//!   gives `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`), then one unmasked binary frame
//!   (0x82) per log line with the raw line, and a close frame (0x88);
//!   an unknown container: 404 `{"message":"No such container: C"}`;
//!   without the handshake headers: 400;
//! * `POST /containers/{id}/attach?logs=1&stdout=1` without `Upgrade`:
//!   200, `Content-Type: application/vnd.docker.raw-stream` (from API
//!   1.42 `application/vnd.docker.multiplexed-stream`), the logs
//!   multiplexed, then the connection ends (no `stream`); an unknown
//!   container: 404 with the same content type and the plain text body
//!   `No such container: C` followed by CRLF.

use super::containers_api::{expect_error, Made};
use super::{scenario, Scenario};
use crate::client::{demux, enc, Req};
use crate::ground::{expect_status, fail, fail_at, Ctx, Outcome};
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("streams", "attach-websocket", true, websocket),
        scenario("streams", "attach-without-upgrade", true, plain_post),
    ]
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const LINES: &str = "line 1\nline 2\nline 3\n";

/// A container that printed LINES and exited.
fn exited(ctx: &Ctx, made: &mut Made) -> Result<String, crate::ground::Problem> {
    let id = made.create(ctx.probe_config(&["lines", "3"])?, None)?;
    ctx.start(&id)?;
    ctx.wait(&id)?;
    Ok(id)
}

/// The frames of a server's WebSocket stream (unmasked, lengths < 64 KiB):
/// (opcode byte, payload).
fn frames(mut data: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.len() < 2 {
            return Err(format!("a truncated frame header: {data:?}"));
        }
        let (op, len7) = (data[0], data[1]);
        if len7 & 0x80 != 0 {
            return Err("a masked frame from the server".into());
        }
        let (len, start) = match len7 {
            126 if data.len() >= 4 => (usize::from(u16::from_be_bytes([data[2], data[3]])), 4),
            126 | 127 => return Err("a frame longer than the test's lines".into()),
            n => (usize::from(n), 2),
        };
        if data.len() < start + len {
            return Err(format!("a truncated frame: {data:?}"));
        }
        out.push((op, data[start..start + len].to_vec()));
        data = &data[start + len..];
    }
    Ok(out)
}

fn websocket(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let id = exited(ctx, &mut made)?;
    let ws = |target: &str| {
        Req::get(format!(
            "/containers/{}/attach/ws?logs=1&stream=0&stdout=1",
            enc(target)
        ))
        .header("Sec-WebSocket-Key", KEY)
        .header("Sec-WebSocket-Version", "13")
        .header("Origin", "http://localhost")
    };
    let mut conn = match ctx.client.upgrade(ws(&id), "websocket")? {
        Ok(c) => c,
        Err(resp) => {
            return Err(fail_at(
                &resp,
                format!(
                    "attach/ws answered {}; dockerd switches to websocket (101)",
                    resp.status
                ),
            ))
        }
    };
    let accept = conn.header("Sec-WebSocket-Accept").map(str::to_string);
    let upgrade = conn.header("Upgrade").map(str::to_ascii_lowercase);
    if accept.as_deref() != Some(ACCEPT) || upgrade.as_deref() != Some("websocket") {
        return Err(fail(format!(
            "attach/ws handshake: Upgrade {upgrade:?}, Sec-WebSocket-Accept {accept:?}; dockerd: \
             websocket and {ACCEPT} for the key {KEY}"
        )));
    }
    let data = conn.read_to_end(ctx.client.scaled(Duration::from_secs(10)))?;
    let fr = frames(&data).map_err(|e| fail(format!("attach/ws stream: {e}")))?;
    let text: Vec<u8> = fr
        .iter()
        .filter(|(op, _)| *op == 0x82)
        .flat_map(|(_, p)| p.clone())
        .collect();
    let ops: Vec<u8> = fr.iter().map(|(op, _)| *op).collect();
    if text != LINES.as_bytes()
        || ops.last() != Some(&0x88)
        || ops[..ops.len() - 1].iter().any(|o| *o != 0x82)
    {
        return Err(fail(format!(
            "attach/ws sent frames {ops:x?} holding {:?}; dockerd: binary frames (0x82) holding \
             {LINES:?}, then a close frame (0x88)",
            String::from_utf8_lossy(&text)
        )));
    }
    drop(conn);
    // Without the handshake headers the WebSocket server refuses: 400.
    let resp = ctx.send(Req::get(format!(
        "/containers/{}/attach/ws?logs=1&stdout=1",
        enc(&id)
    )))?;
    expect_status(&resp, 400, "attach/ws without a WebSocket handshake")?;
    let gone = format!("shipshape-{}-no-such-container", ctx.run_id);
    match ctx.client.upgrade(ws(&gone), "websocket")? {
        Ok(_) => Err(fail(
            "attach/ws to an unknown container switched protocols; dockerd: 404",
        )),
        Err(resp) => expect_error(
            &resp,
            404,
            &format!("No such container: {gone}"),
            "attach/ws, unknown container",
        ),
    }
}

fn plain_post(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let id = exited(ctx, &mut made)?;
    let resp = ctx.send(Req::post(format!(
        "/containers/{}/attach?logs=1&stdout=1",
        enc(&id)
    )))?;
    expect_status(&resp, 200, "attach without Upgrade")?;
    // From API 1.42 a non-TTY stream says what it is (upstream v1.50 spec).
    let v142 = crate::client::ApiVersion {
        major: 1,
        minor: 42,
    };
    let raw = if ctx.negotiation.api_version >= v142 {
        "application/vnd.docker.multiplexed-stream"
    } else {
        "application/vnd.docker.raw-stream"
    };
    let out = demux(&resp.body).map_err(|e| fail_at(&resp, format!("attach stream: {e}")))?;
    if resp.header("Content-Type") != Some(raw) || out.stdout_text() != LINES {
        return Err(fail_at(
            &resp,
            format!(
                "attach without Upgrade: Content-Type {:?}, stdout {:?}; dockerd: {raw} and {LINES:?}",
                resp.header("Content-Type"),
                out.stdout_text()
            ),
        ));
    }
    let gone = format!("shipshape-{}-no-such-container", ctx.run_id);
    let resp = ctx.send(Req::post(format!(
        "/containers/{}/attach?logs=1&stdout=1",
        enc(&gone)
    )))?;
    let want = format!("No such container: {gone}\r\n");
    if resp.status != 404 || resp.text() != want {
        return Err(fail_at(
            &resp,
            format!(
                "attach to an unknown container: {} {:?}; dockerd: 404 {want:?}",
                resp.status,
                resp.text()
            ),
        ));
    }
    Ok(())
}
