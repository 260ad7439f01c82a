//! `GET /containers/{id}/attach/ws`: attach over a WebSocket, as dockerd
//! 20.10.24 serves it (golang.org/x/net/websocket; each answer below read
//! with curl on this host):
//!
//! * an unknown container is 404 JSON before any handshake;
//! * a request that is no WebSocket handshake is 400 with x/net/websocket's
//!   plain text: `not websocket protocol` (no `Upgrade: websocket`), `mismatch
//!   challenge/response` (no key), `missing or bad WebSocket Version` (with
//!   `Sec-WebSocket-Version: 13`);
//! * then `101` with `Sec-WebSocket-Accept`, and the output (with `logs`,
//!   then with `stream`) as one frame per write, never multiplexed: binary
//!   frames from API 1.28, text frames below; a close frame (1000) ends it.
//!   Below API 1.42 dockerd attaches stdin, stdout and stderr whatever the
//!   query says; from 1.42 `stdin`, `stdout` and `stderr` choose;
//! * frames from the client go to the container's stdin.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::header::{HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, UPGRADE};
use hyper::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::attach::{forward_stdin, write_output, Want};
use crate::api::{body, Ctx, Request, Response};
use crate::errdefs::EngineError;
use crate::version::ApiVersion;

/// x/net/websocket's refusal of a request that is no handshake: the
/// status, and its error's text as the body.
fn not_websocket(message: &'static str, version_header: bool) -> Response {
    let mut resp = hyper::Response::new(body::full(message.to_string()));
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    if version_header {
        resp.headers_mut()
            .insert("Sec-WebSocket-Version", HeaderValue::from_static("13"));
    }
    resp
}

/// x/net/websocket's checks of the handshake, in its order; the key, or
/// the refusal's text and whether it names the version it wants.
fn handshake_key(req: &Request) -> Result<String, (&'static str, bool)> {
    let h = req.headers();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if !get("upgrade").eq_ignore_ascii_case("websocket")
        || !get("connection").to_ascii_lowercase().contains("upgrade")
    {
        return Err(("not websocket protocol", false));
    }
    let key = get("sec-websocket-key");
    if key.is_empty() {
        return Err(("mismatch challenge/response", false));
    }
    if get("sec-websocket-version") != "13" {
        return Err(("missing or bad WebSocket Version", true));
    }
    Ok(key)
}

pub async fn attach_ws(ctx: &Ctx, key: &str, mut req: Request) -> Result<Response, EngineError> {
    let c = ctx.daemon.container(key)?;
    let ws_key = match handshake_key(&req) {
        Ok(k) => k,
        Err((message, version)) => return Ok(not_websocket(message, version)),
    };
    let q = &ctx.query;
    let chosen = ctx.version >= ApiVersion(1, 42);
    let rec = c.snapshot();
    let mut want = Want {
        stdin: !chosen || q.flag("stdin"),
        stdout: !chosen || q.flag("stdout"),
        stderr: !chosen || q.flag("stderr"),
        logs: q.flag("logs"),
        stream: q.flag("stream"),
        // Raw: a WebSocket carries the bytes as written (dockerd's
        // MuxStreams is false here).
        tty: true,
        stopped_at: None,
    };
    let output = c.hub.output.subscribe();
    if !c.is_running() {
        want.stopped_at = Some(c.progress.borrow().starts);
    }
    let binary = ctx.version >= ApiVersion(1, 28);
    let stdin = want.stdin && rec.config.open_stdin;
    crate::daemon::events::container(&c, "attach", Default::default());
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let io = match on_upgrade.await {
            Ok(u) => hyper_util::rt::TokioIo::new(u),
            Err(e) => {
                tracing::debug!(error = %e, "websocket upgrade failed");
                return;
            }
        };
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        let (mut sink, mut frames) = ws.split();
        if stdin {
            // The client's frames, as a byte stream for the stdin copier.
            let (mut to_stdin, from_client) = tokio::io::duplex(64 * 1024);
            let c = c.clone();
            tokio::spawn(async move {
                let mut from_client = from_client;
                tokio::join!(
                    async {
                        while let Some(Ok(m)) = frames.next().await {
                            let data = match m {
                                Message::Binary(b) => b,
                                Message::Text(t) => Bytes::from(t.as_str().to_owned()),
                                Message::Close(_) => break,
                                _ => continue,
                            };
                            if to_stdin.write_all(&data).await.is_err() {
                                break;
                            }
                        }
                        drop(to_stdin);
                    },
                    forward_stdin(&mut from_client, &c, None)
                );
            });
        }
        let (tx, mut rx) = mpsc::channel::<Bytes>(64);
        let writer = tokio::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                let kind = if binary { Data::Binary } else { Data::Text };
                let frame = Frame::message(chunk, OpCode::Data(kind), true);
                if sink.send(Message::Frame(frame)).await.is_err() {
                    return;
                }
            }
            let close = CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            };
            let _ = sink.send(Message::Close(Some(close))).await;
            let _ = sink.close().await;
        });
        let _ = write_output(&tx, &c, want, output).await;
        drop(tx);
        let _ = writer.await;
    });
    let mut resp = hyper::Response::new(body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&derive_accept_key(ws_key.as_bytes())) {
        h.insert(SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok(resp)
}
