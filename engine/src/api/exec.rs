//! Exec API group: `POST /containers/{id}/exec`, `POST /exec/{id}/start`
//! (hijacked like attach), `GET /exec/{id}/json`, `POST /exec/{id}/resize`.
//! The exec rules are in `daemon::containers::exec`; the stream plumbing is shared with
//! attach (`containers::attach`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::{mpsc, watch};

use super::body::request::{check_json_content_type, read_json_body, wants_upgrade};
use super::body::stream::stream_content_type;
use super::containers::attach::{copy_stdin, hijack, linger, send_chunk, split_hijacked};
use super::{body, json, json_status, Ctx, Request, Response};
use crate::daemon::containers::detach::Escape;
use crate::daemon::containers::exec::{self, Exec, ExecConfig, ExecIo};
use crate::daemon::containers::io::FdStream;
use crate::daemon::containers::logs::{STDERR, STDOUT};
use crate::daemon::Daemon;
use crate::errdefs::EngineError;
use http_body_util::BodyExt;

/// How long the output may keep flowing after the process exited (a
/// background child can hold the pipe open forever).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// dockerd waits this long for an exec to start before refusing a resize.
const RESIZE_WAIT: Duration = Duration::from_secs(10);
/// The start body is a few flags.
const MAX_START_BODY: usize = 64 << 10;

/// `POST /containers/{id}/exec`.
pub async fn create(ctx: &Ctx, key: &str, req: Request) -> Result<Response, EngineError> {
    // dockerd decodes the (required) body before it looks the container up.
    let bytes = read_json_body(req).await?;
    let config: ExecConfig = super::body::json::decode_required(&bytes)?;
    let c = ctx.daemon.container(key)?;
    let id = exec::create(&ctx.daemon, &c, config)?;
    Ok(json_status(StatusCode::CREATED, &json!({ "Id": id })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct StartRequest {
    detach: bool,
    /// Frames the output (raw when true, multiplexed when false), whatever
    /// the create request said: dockerd goes by the start request.
    tty: bool,
    console_size: Option<[u32; 2]>,
}

/// `POST /exec/{id}/start`.
pub async fn start(ctx: &Ctx, id: &str, mut req: Request) -> Result<Response, EngineError> {
    let on_upgrade = wants_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
    let conn = req.extensions().get::<crate::api::ConnFd>().copied();
    // dockerd decodes the (required) body before it looks the exec up.
    let bytes = read_start_body(&mut req).await?;
    let sr: StartRequest = super::body::json::decode_required(&bytes)?;
    let e = ctx.daemon.execs.get(id)?;

    if sr.detach {
        exec::check_startable(&e)?;
        let (d, e2) = (ctx.daemon.clone(), e.clone());
        let io = tokio::task::spawn_blocking(move || exec::start(&d, &e2))
            .await
            .map_err(EngineError::system)??;
        resize_initial(&e, sr.console_size);
        // Nobody reads a detached exec's output: drain it so the process
        // never blocks on a full pipe.
        tokio::spawn(drain(
            io,
            None,
            false,
            false,
            false,
            watch::channel(false).1,
        ));
        return Ok(body::status_only(StatusCode::OK));
    }

    let content_type = stream_content_type(ctx.version, sr.tty);
    let daemon = ctx.daemon.clone();
    if let Some(on_upgrade) = on_upgrade {
        return Ok(hijack(on_upgrade, conn, content_type, move |io| {
            session(io, daemon, e, sr)
        }));
    }
    // Without an upgrade there is no stdin, but the output still streams.
    let (tx, resp) = body::channel(StatusCode::OK, content_type);
    tokio::spawn(async move {
        run_streams(&daemon, &e, tx, None::<&mut tokio::io::Empty>, &sr).await;
    });
    Ok(resp)
}

/// Reads the start body without giving up the request (its upgrade is
/// taken first, the body must be consumed before the connection is hijacked).
async fn read_start_body(req: &mut Request) -> Result<Bytes, EngineError> {
    check_json_content_type(req.headers())?;
    let limited = http_body_util::Limited::new(req.body_mut(), MAX_START_BODY);
    Ok(limited
        .collect()
        .await
        .map_err(|e| EngineError::InvalidParameter(format!("reading request body: {e}")))?
        .to_bytes())
}

async fn session<S>(io: S, d: Arc<Daemon>, e: Arc<Exec>, sr: StartRequest)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, tx, writer) = split_hijacked(io);
    run_streams(&d, &e, tx, Some(&mut rd), &sr).await;
    let _ = writer.await;
    linger(&mut rd).await;
}

/// Starts the exec and streams it: the client's bytes to its stdin (when
/// attached), its output to `tx`, until it exited and its output drained.
/// A start failure is written into the stream, as dockerd does.
async fn run_streams<R>(
    d: &Arc<Daemon>,
    e: &Arc<Exec>,
    tx: mpsc::Sender<Bytes>,
    rd: Option<&mut R>,
    sr: &StartRequest,
) where
    R: AsyncRead + Unpin + Send,
{
    let raw = sr.tty;
    let started = match exec::check_startable(e) {
        Ok(()) => {
            let (d, e2) = (d.clone(), e.clone());
            tokio::task::spawn_blocking(move || exec::start(&d, &e2))
                .await
                .unwrap_or_else(|j| Err(EngineError::system(j)))
        }
        Err(err) => Err(err),
    };
    let io = match started {
        Ok(io) => io,
        Err(err) => {
            let _ = send_chunk(&tx, raw, STDOUT, format!("{err}\r\n").as_bytes()).await;
            return;
        }
    };
    resize_initial(e, sr.console_size);
    let stdin = io.stdin.is_some() && e.config.attach_stdin;
    let mut io = io;
    let stdin_pipe = io
        .stdin
        .take()
        .map(|s| Arc::new(tokio::sync::Mutex::new(Some(s))));
    // `tx` is kept until the exit is recorded: the client reads the exit
    // code (exec inspect) as soon as the stream ends.
    // A raw stream has no place for stderr: dockerd drops it.
    let (stop, stopped) = watch::channel(false);
    let output = tokio::spawn(drain(
        io,
        Some(tx.clone()),
        e.config.attach_stdout,
        e.config.attach_stderr && !raw,
        raw,
        stopped,
    ));
    // dockerd watches for the detach keys on a TTY exec's stdin only.
    let escape = e
        .config
        .tty
        .then(|| Escape::new(e.detach_keys.clone().unwrap_or_default()));
    let stdin_task = async {
        if let (true, Some(rd), Some(pipe)) = (stdin, rd, stdin_pipe.clone()) {
            if copy_stdin(rd, &pipe, escape).await {
                return;
            }
            // The client's EOF is the process's EOF.
            pipe.lock().await.take();
        }
        std::future::pending::<()>().await
    };
    let mut state = e.state.subscribe();
    let detached = tokio::select! {
        _ = state.wait_for(|s| s.exit_code.is_some()) => false,
        _ = stdin_task => true,
    };
    if detached {
        // The stream ends with dockerd's words (its escape error, wrapped
        // twice); the process runs on, its output drained unread.
        let _ = stop.send(true);
        let msg = "exec attach failed: error on attach stdin: read escape sequence\r\n";
        let _ = send_chunk(&tx, raw, STDOUT, msg.as_bytes()).await;
        return;
    }
    if let Some(p) = stdin_pipe {
        p.lock().await.take();
    }
    let mut output = output;
    if tokio::time::timeout(DRAIN_TIMEOUT, &mut output)
        .await
        .is_err()
    {
        tracing::debug!(exec = %e.id, "exec output did not drain in time");
        output.abort();
    }
    drop(tx);
}

/// Copies the exec's stdout/stderr to `tx` (the attached ones), discarding
/// the rest, until both reach EOF; `raw` unframed, else multiplexed. Once
/// `stop` changes (the client detached) nothing more is sent: the senders
/// go, so the client's stream can end while the process runs on.
async fn drain(
    io: ExecIo,
    tx: Option<mpsc::Sender<Bytes>>,
    out: bool,
    err: bool,
    raw: bool,
    stop: watch::Receiver<bool>,
) {
    let pump = |s: Option<FdStream>, stream: u8, keep: bool, tx: Option<mpsc::Sender<Bytes>>| {
        let mut stop = stop.clone();
        async move {
            let Some(mut s) = s else { return };
            let mut buf = vec![0u8; 32 * 1024];
            let mut tx = if keep { tx } else { None };
            loop {
                let read = tokio::select! {
                    r = s.read(&mut buf) => r,
                    _ = stop.changed(), if tx.is_some() => {
                        tx = None;
                        continue;
                    }
                };
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Some(t) = &tx {
                            if send_chunk(t, raw, stream, &buf[..n]).await.is_err() {
                                // The client left: keep draining, stop sending.
                                tx = None;
                            }
                        }
                    }
                }
            }
        }
    };
    // Only the pumps hold senders, so that they can let go of them.
    tokio::join!(
        pump(io.stdout, STDOUT, out, tx.clone()),
        pump(io.stderr, STDERR, err, tx),
    );
}

fn resize_initial(e: &Exec, console: Option<[u32; 2]>) {
    if let (Some([h, w]), Some(tty)) = (console, e.tty().as_ref()) {
        if h > 0 && w > 0 {
            let _ = crate::daemon::containers::io::resize_tty(tty, h.into(), w.into());
        }
    }
}

/// `GET /exec/{id}/json`.
pub async fn inspect(ctx: &Ctx, id: &str) -> Result<Response, EngineError> {
    let e = ctx.daemon.execs.get(id)?;
    let st = e.snapshot();
    let cmd = e.config.cmd.clone().unwrap_or_default();
    let mut pc = json!({
        "tty": e.config.tty,
        "entrypoint": cmd.first().cloned().unwrap_or_default(),
        "arguments": cmd.get(1..).unwrap_or_default(),
        "privileged": e.config.privileged,
    });
    if !e.config.user.is_empty() {
        pc["user"] = json!(e.config.user);
    }
    Ok(json(&json!({
        "ID": e.id,
        "Running": st.running,
        "ExitCode": st.exit_code,
        "ProcessConfig": pc,
        "OpenStdin": e.config.attach_stdin,
        "OpenStderr": e.config.attach_stderr,
        "OpenStdout": e.config.attach_stdout,
        "CanRemove": false,
        "ContainerID": e.container.id,
        // The key bytes, which Go's JSON writes in base64.
        "DetachKeys": e.detach_keys.as_deref().map(crate::daemon::archive::base64).unwrap_or_default(),
        "Pid": st.pid,
    })))
}

/// `POST /exec/{id}/resize`. The docker CLI resizes right after starting,
/// so wait (as dockerd does) for the process to exist.
pub async fn resize(ctx: &Ctx, id: &str) -> Result<Response, EngineError> {
    let e = ctx.daemon.execs.get(id)?;
    let h = ctx.query.int("h")?.unwrap_or(0);
    let w = ctx.query.int("w")?.unwrap_or(0);
    let mut state = e.state.subscribe();
    let ready = tokio::time::timeout(
        RESIZE_WAIT,
        state.wait_for(|s| s.running || s.exit_code.is_some()),
    )
    .await;
    match ready {
        Ok(Ok(st)) if st.exit_code.is_some() => {
            // dockerd passes the resize to containerd, which no longer
            // knows the ended process: 404 in containerd's words.
            return Err(EngineError::NotFound("no such exec".into()));
        }
        Ok(Ok(_)) => {}
        _ => {
            return Err(EngineError::System(
                "timeout waiting for exec session ready".into(),
            ))
        }
    }
    if let Some(tty) = e.tty().as_ref() {
        crate::daemon::containers::io::resize_tty(tty, h, w)?;
    }
    Ok(body::status_only(StatusCode::OK))
}
