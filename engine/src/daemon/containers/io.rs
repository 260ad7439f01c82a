//! A running container's stdio, seen from the daemon: output is pumped into
//! the log file and broadcast to attached clients; stdin is written from
//! attach. Pipes and pty masters are driven by tokio through `AsyncFd`, so no
//! thread is spent per container.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::sync::{broadcast, watch};

use super::logs::{LogWriter, STDERR, STDOUT};

/// What attached clients receive.
#[derive(Debug, Clone)]
pub enum Output {
    Data {
        stream: u8,
        bytes: Bytes,
    },
    /// The run ended and all its output has been sent.
    End,
}

/// Per-container fan-out of output, living as long as the container.
pub struct Hub {
    pub output: broadcast::Sender<Output>,
    /// Bumped whenever the log file grows or a run ends; `logs --follow` waits on it.
    pub log_changed: watch::Sender<u64>,
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Hub {
            output: broadcast::channel(1024).0,
            log_changed: watch::channel(0).0,
        })
    }

    pub fn bump(&self) {
        self.log_changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// A non-blocking fd (pipe end or pty master) usable from tokio.
pub struct FdStream {
    fd: AsyncFd<File>,
}

impl FdStream {
    pub fn new(file: File) -> io::Result<Self> {
        set_nonblocking(&file)?;
        // SAFETY: `register` requires that the fd stay open and owned while
        // registered; the `File` is moved into the AsyncFd, which owns it
        // until drop and deregisters it before closing.
        let fd = unsafe { AsyncFd::register(file) }.map_err(io::Error::from)?;
        Ok(FdStream { fd })
    }

    pub fn get_ref(&self) -> &File {
        self.fd.get_ref()
    }
}

fn set_nonblocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on an fd we own; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl AsyncRead for FdStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|inner| inner.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // A pty master reads EIO once the last slave fd closes: that is EOF.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for FdStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|inner| inner.get_ref().write(data)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Copies one output stream into the log and the hub until EOF.
async fn pump_one(mut src: FdStream, stream: u8, log: Arc<Mutex<LogWriter>>, hub: Arc<Hub>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match src.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                let bytes = Bytes::copy_from_slice(&buf[..n]);
                let wrote = match log.lock() {
                    Ok(mut w) => w.write(stream, &bytes).unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "writing container log");
                        false
                    }),
                    Err(_) => false,
                };
                // No receivers is normal (nobody attached).
                let _ = hub.output.send(Output::Data { stream, bytes });
                if wrote {
                    hub.bump();
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading container output");
                break;
            }
        }
    }
}

/// Pumps stdout (and stderr, without a tty) until both reach EOF, then
/// flushes the log. The caller sends `Output::End` once the exit is recorded.
pub async fn pump(stdout: File, stderr: Option<File>, log: LogWriter, hub: Arc<Hub>) {
    let log = Arc::new(Mutex::new(log));
    let out = match FdStream::new(stdout) {
        Ok(s) => Some(tokio::spawn(pump_one(s, STDOUT, log.clone(), hub.clone()))),
        Err(e) => {
            tracing::warn!(error = %e, "container stdout");
            None
        }
    };
    if let Some(err) = stderr {
        match FdStream::new(err) {
            Ok(s) => pump_one(s, STDERR, log.clone(), hub.clone()).await,
            Err(e) => tracing::warn!(error = %e, "container stderr"),
        }
    }
    if let Some(out) = out {
        let _ = out.await;
    }
    if let Ok(mut w) = log.lock() {
        if let Err(e) = w.finish() {
            tracing::warn!(error = %e, "flushing container log");
        }
    }
    hub.bump();
}

/// Sets a terminal's size (`docker resize`, exec's console size), clamped
/// to what a tty holds.
pub fn resize_tty(tty: &File, h: i64, w: i64) -> Result<(), crate::errdefs::EngineError> {
    let (h, w) = (h.clamp(0, 65535) as u16, w.clamp(0, 65535) as u16);
    Ok(shipshape_runtime::resize_tty(tty, h, w)?)
}
