//! `POST /containers/{id}/attach`: the hijacked connection. After `101
//! Switching Protocols` (`Upgrade: tcp`) the socket carries the container's
//! output (multiplexed without a tty, raw with one) and, if asked, the
//! client's stdin. A client half-close ends stdin; the container's exit ends
//! the output and the connection.

use std::future::Future;

use bytes::Bytes;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::api::body::request::wants_upgrade;
use crate::api::body::stream::{frame, stream_content_type};
use crate::api::{body, Ctx, Request, Response};
use crate::daemon::containers::detach::{self, Escape};
use crate::daemon::containers::io::{FdStream, Output};
use crate::daemon::containers::logs::{self, STDERR, STDOUT};
use crate::daemon::Container;
use crate::errdefs::EngineError;
use std::sync::Arc;

#[derive(Clone, Copy)]
pub(super) struct Want {
    pub(super) stdin: bool,
    pub(super) stdout: bool,
    pub(super) stderr: bool,
    pub(super) logs: bool,
    pub(super) stream: bool,
    /// Output as written (a tty's, or a WebSocket's), else multiplexed.
    pub(super) tty: bool,
    /// The container's start count when attach subscribed to its output,
    /// if it was not running then: an end of output before the next start
    /// belongs to the run that had already ended (its exit is recorded
    /// before its output is closed), and must not end this stream.
    pub(super) stopped_at: Option<u64>,
}

impl Want {
    fn stream_wanted(&self, s: u8) -> bool {
        (s == STDOUT && self.stdout) || (s == STDERR && self.stderr)
    }
}

pub async fn attach(ctx: &Ctx, key: &str, mut req: Request) -> Result<Response, EngineError> {
    let q = &ctx.query;
    // Checked first, as dockerd does, and answered in its hijacked style.
    let keys = match detach::for_attach(q.get("detachKeys").unwrap_or("")) {
        Ok(k) => k,
        Err(e) => return Ok(refusal(&e)),
    };
    // dockerd 20.10.24 refuses a missing container the same way, with or
    // without `Upgrade`: 404, raw-stream, `No such container: C\r\n`.
    let c = match ctx.daemon.container(key) {
        Ok(c) => c,
        Err(e) => return Ok(refusal(&e)),
    };
    let rec = c.snapshot();
    let want = Want {
        stdin: q.flag("stdin"),
        stdout: q.flag("stdout"),
        stderr: q.flag("stderr"),
        logs: q.flag("logs"),
        stream: q.flag("stream"),
        tty: rec.config.tty,
        stopped_at: None,
    };
    // Subscribe before answering, so output produced right after (docker run
    // starts the container once attach is answered) is not lost.
    let output = c.hub.output.subscribe();
    let mut want = want;
    if !c.is_running() {
        want.stopped_at = Some(c.progress.borrow().starts);
    }
    crate::daemon::events::container(&c, "attach", Default::default());
    let content_type = stream_content_type(ctx.version, want.tty);

    if wants_upgrade(req.headers()) {
        let conn = req.extensions().get::<crate::api::ConnFd>().copied();
        return Ok(hijack(
            hyper::upgrade::on(&mut req),
            conn,
            content_type,
            move |io| session(io, c, want, output, keys),
        ));
    }

    // Without an upgrade we cannot read stdin, but output can still stream.
    let (tx, resp) = body::channel(StatusCode::OK, content_type);
    tokio::spawn(async move {
        let _ = write_output(&tx, &c, want, output).await;
    });
    Ok(resp)
}

async fn session<S>(
    io: S,
    c: Arc<Container>,
    want: Want,
    output: broadcast::Receiver<Output>,
    keys: Vec<u8>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (rd, tx, writer) = split_hijacked(io);
    let detached = Arc::new(tokio::sync::Notify::new());
    let (stdin_task, rd) = if want.stdin && c.record().config.open_stdin {
        let (c, detached) = (c.clone(), detached.clone());
        // dockerd watches for the detach keys on a TTY's stdin only.
        let escape = want.tty.then(|| Escape::new(keys));
        let task = tokio::spawn(async move {
            let mut rd = rd;
            if forward_stdin(&mut rd, &c, escape).await {
                detached.notify_one();
            }
            rd
        });
        (Some(task), None)
    } else {
        (None, Some(rd))
    };
    // A detach ends the client's stream at once, without more output; the
    // container keeps running.
    tokio::select! {
        _ = write_output(&tx, &c, want, output) => {}
        _ = detached.notified() => {}
    }
    drop(tx);
    let _ = writer.await;
    let rd = match stdin_task {
        None => rd,
        // It ends at the client's EOF, or at the container's closed stdin.
        Some(mut t) => match tokio::time::timeout(LINGER, &mut t).await {
            Ok(Ok(rd)) => Some(rd),
            _ => {
                t.abort();
                None
            }
        },
    };
    if let Some(mut rd) = rd {
        linger(&mut rd).await;
    }
}

/// How long a finished session still reads what its client sends.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// Once the output has ended (and the write side is shut down), reads and
/// drops what the client still sends until it closes, for at most
/// [`LINGER`]. Closing a unix socket with unread bytes in it makes the
/// client's next read fail with "connection reset by peer", though it was
/// sent everything it was owed (`docker exec -it` hit it with a process
/// faster than its terminal's last keystrokes).
pub(crate) async fn linger<R: AsyncRead + Unpin>(rd: &mut R) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(n) = rd.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Client bytes to the container's stdin. Attach usually comes before start
/// (docker run), so first wait for the run that owns a stdin pipe. At the
/// client's EOF (half-close), close the container's stdin if it asked for
/// StdinOnce. True when the client typed the detach keys.
pub(super) async fn forward_stdin<R: AsyncRead + Unpin>(
    rd: &mut R,
    c: &Container,
    escape: Option<Escape>,
) -> bool {
    let mut progress = c.progress.subscribe();
    let stdin = loop {
        if let Some(s) = c.run_handles().stdin.clone() {
            break s;
        }
        let p = *progress.borrow_and_update();
        if p.removed || (p.starts > 0 && !c.is_running()) {
            return false;
        }
        if progress.changed().await.is_err() {
            return false;
        }
    };
    if copy_stdin(rd, &stdin, escape).await {
        // A detached client leaves the stdin open for the next one.
        return true;
    }
    if c.record().config.stdin_once {
        stdin.lock().await.take();
    }
    false
}

pub(super) async fn write_output(
    w: &mpsc::Sender<Bytes>,
    c: &Container,
    want: Want,
    mut output: broadcast::Receiver<Output>,
) -> std::io::Result<()> {
    if want.logs {
        let path = c.log_path();
        let entries = tokio::task::spawn_blocking(move || logs::read_all(&path))
            .await
            .map_err(std::io::Error::other)??;
        for e in entries.into_iter().filter(|e| want.stream_wanted(e.stream)) {
            write_chunk(w, want, e.stream, &e.bytes).await?;
        }
    }
    if !want.stream {
        return Ok(());
    }
    // A stopped container's stream stays open for its next run (`docker
    // start -a` attaches first), as dockerd; it ends when that run does, or
    // when the container is removed (where dockerd would leave it open).
    let mut progress = c.progress.subscribe();
    loop {
        let next = tokio::select! {
            next = output.recv() => next,
            _ = progress.wait_for(|p| p.removed) => break,
        };
        match next {
            Ok(Output::Data { stream, bytes }) => {
                if want.stream_wanted(stream) {
                    write_chunk(w, want, stream, &bytes).await?;
                }
            }
            Ok(Output::End) if want.stopped_at == Some(c.progress.borrow().starts) => {}
            Ok(Output::End) | Err(broadcast::error::RecvError::Closed) => break,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(id = %c.id, skipped = n, "slow attach client lost output");
            }
        }
    }
    Ok(())
}

async fn write_chunk(
    w: &mpsc::Sender<Bytes>,
    want: Want,
    stream: u8,
    bytes: &[u8],
) -> std::io::Result<()> {
    send_chunk(w, want.tty, stream, bytes).await
}

/// One chunk of output to a client: raw with a tty, else a multiplexed frame.
pub(crate) async fn send_chunk(
    w: &mpsc::Sender<Bytes>,
    tty: bool,
    stream: u8,
    bytes: &[u8],
) -> std::io::Result<()> {
    let chunk = if tty {
        Bytes::copy_from_slice(bytes)
    } else {
        frame(stream, bytes)
    };
    w.send(chunk)
        .await
        .map_err(|_| std::io::ErrorKind::BrokenPipe.into())
}

/// Answers `101 Switching Protocols` (`Upgrade: tcp`, as dockerd) and runs
/// `session` on the raw connection once hyper hands it over. Shared by
/// attach and exec start.
///
/// The stream starts only once the client has read the `101` (or after
/// [`HEADERS_READ_WAIT`]): a client that reads the answer through a
/// buffered HTTP parser and then takes over the raw socket (docker-py:
/// `http.client`, then the socket) keeps whatever came in the same read as
/// the headers in that parser's buffer, where nobody reads it. A fast exec
/// wrote all of its output right behind the headers and it was lost.
pub(crate) fn hijack<F, Fut>(
    on_upgrade: OnUpgrade,
    conn: Option<crate::api::ConnFd>,
    content_type: &'static str,
    session: F,
) -> Response
where
    F: FnOnce(TokioIo<Upgraded>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let session = move |io: TokioIo<Upgraded>| async move {
        if let Some(fd) = conn {
            headers_read(fd).await;
        }
        session(io).await
    };
    let mut resp = switch_protocols(on_upgrade, "tcp", session);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// The longest a hijacked stream waits for its client to read the `101`.
const HEADERS_READ_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits until the connection's send queue is empty: the client has read
/// everything sent so far, the `101` included (unix sockets: the bytes not
/// yet read by the peer; TCP: not yet acknowledged, which on loopback comes
/// as soon as they are received).
async fn headers_read(conn: crate::api::ConnFd) {
    let deadline = tokio::time::Instant::now() + HEADERS_READ_WAIT;
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int through the pointer,
        // which points at a live local; the fd belongs to the connection,
        // which the upgraded stream (held by the caller) keeps open.
        let rc = unsafe { libc::ioctl(conn.0, libc::TIOCOUTQ, &mut queued as *mut libc::c_int) };
        if rc != 0 || queued == 0 || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// Answers `101 Switching Protocols` to `protocol` and runs `session` on
/// the raw connection once hyper hands it over (attach, exec, /session).
pub(crate) fn switch_protocols<F, Fut>(
    on_upgrade: OnUpgrade,
    protocol: &'static str,
    session: F,
) -> Response
where
    F: FnOnce(TokioIo<Upgraded>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => session(TokioIo::new(upgraded)).await,
            Err(e) => tracing::debug!(error = %e, "connection upgrade failed"),
        }
    });
    let mut resp = hyper::Response::new(body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static(protocol));
    resp
}

/// Splits a hijacked connection into its read half and a sender: one writer
/// task copies the sent chunks to the socket and shuts its write side down
/// once every sender is gone (await the returned handle for that).
pub(crate) fn split_hijacked<S>(io: S) -> (ReadHalf<S>, mpsc::Sender<Bytes>, JoinHandle<()>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, mut wr) = tokio::io::split(io);
    let (tx, mut rx) = mpsc::channel::<Bytes>(64);
    let writer = tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            if wr.write_all(&chunk).await.is_err() || wr.flush().await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    (rd, tx, writer)
}

/// Copies client bytes into a process's stdin until the client's EOF
/// (half-close), an error, the stdin being closed by someone else, or the
/// detach keys (when `escape` watches for them: then true).
pub(crate) async fn copy_stdin<R: AsyncRead + Unpin>(
    rd: &mut R,
    stdin: &tokio::sync::Mutex<Option<FdStream>>,
    mut escape: Option<Escape>,
) -> bool {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let filtered;
        let data = match escape.as_mut() {
            None => &buf[..n],
            Some(e) => match e.filter(&buf[..n]) {
                None => return true,
                Some(d) => {
                    filtered = d;
                    &filtered[..]
                }
            },
        };
        if data.is_empty() {
            continue;
        }
        let mut guard = stdin.lock().await;
        let Some(w) = guard.as_mut() else {
            return false;
        };
        if w.write_all(data).await.is_err() {
            return false;
        }
    }
}

/// An attach refused before its stream starts, the way dockerd writes it
/// on the hijacked connection: the category's status, a raw-stream
/// Content-Type and the message with CRLF as the body.
fn refusal(e: &EngineError) -> Response {
    let mut resp = hyper::Response::new(body::full(format!("{e}\r\n")));
    *resp.status_mut() = crate::api::error::status(e);
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.docker.raw-stream"),
    );
    resp
}
