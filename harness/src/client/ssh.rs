//! `ssh://[user@]host[:port]` endpoints, reached as the docker CLI reaches
//! them: `ssh -o ConnectTimeout=30 [-l user] [-p port] -- host docker
//! system dial-stdio`, with HTTP spoken over the command's stdin and
//! stdout. The remote docker CLI connects to its own DOCKER_HOST (or
//! /var/run/docker.sock) and copies bytes both ways, so hijacked streams
//! (attach) work as over a socket: closing our stdin half-closes theirs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub(crate) pool: Pool,
}

type Sender = hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>;

/// Idle HTTP connections over ssh. A connection per request, as over a
/// socket, would start an ssh session and a remote docker CLI for every
/// request (about a second each on a busy machine); the docker CLI keeps
/// its connections alive too. Only a connection whose answer was read in
/// full comes back here, so a broken answer still cannot leak into the
/// next request; hijacked (attach) connections never do.
#[derive(Clone, Default)]
pub(crate) struct Pool(Arc<Mutex<Vec<Sender>>>);

/// Enough for the harness's one request at a time plus a few in parallel.
const POOL_MAX: usize = 4;

impl Pool {
    /// An idle connection that is still open, ready for a request (the
    /// previous answer fully processed), if there is one.
    pub(crate) async fn take(&self) -> Option<Sender> {
        loop {
            let mut s = self.0.lock().ok()?.pop()?;
            if !s.is_closed() && s.ready().await.is_ok() {
                return Some(s);
            }
        }
    }

    pub(crate) fn give_back(&self, s: Sender) {
        if let Ok(mut idle) = self.0.lock() {
            if idle.len() < POOL_MAX && !s.is_closed() {
                idle.push(s);
            }
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pool")
    }
}

/// Pools do not make two targets different.
impl PartialEq for Pool {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Pool {}

impl SshTarget {
    /// Parses what follows `ssh://`, as the CLI does: no path, no password.
    pub fn parse(rest: &str) -> Result<SshTarget, String> {
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') {
            return Err("an ssh URL takes no path: ssh://[user@]host[:port]".into());
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, _)) if u.contains(':') => {
                return Err("a password in an ssh URL is not supported".into())
            }
            Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
            Some(_) => return Err("empty user name".into()),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (
                h,
                Some(p.parse::<u16>().map_err(|_| "invalid port".to_string())?),
            ),
            _ => (hostport, None),
        };
        if host.is_empty() {
            return Err("missing host: ssh://[user@]host[:port]".into());
        }
        Ok(SshTarget {
            user,
            host: host.to_string(),
            port,
            pool: Pool::default(),
        })
    }

    /// The ssh command line after `ssh`.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec!["-o".to_string(), "ConnectTimeout=30".to_string()];
        if let Some(u) = &self.user {
            a.extend(["-l".to_string(), u.clone()]);
        }
        if let Some(p) = self.port {
            a.extend(["-p".to_string(), p.to_string()]);
        }
        a.extend(
            ["--", &self.host, "docker", "system", "dial-stdio"]
                .iter()
                .map(|s| s.to_string()),
        );
        a
    }

    /// Starts one ssh process: one connection.
    pub async fn connect(&self) -> io::Result<SshStream> {
        let mut child = Command::new("ssh")
            .args(self.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("running ssh: {e}")))?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(io::Error::other("ssh: no pipes"));
        };
        // ssh's complaints (authentication, host key, the remote's missing
        // docker CLI) are the only explanation of an empty answer.
        let errors = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf).await;
            buf
        });
        Ok(SshStream {
            _child: child,
            stdin: Some(stdin),
            stdout,
            read_any: false,
            errors: Some(errors),
        })
    }
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ssh://")?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// The ssh process's stdout (read) and stdin (write) as one stream; the
/// process is killed when the stream is dropped.
pub struct SshStream {
    _child: Child,
    /// None once shut down: dropping the pipe is what closes it.
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    read_any: bool,
    /// ssh's stderr, complete once ssh exits.
    errors: Option<tokio::task::JoinHandle<Vec<u8>>>,
}

impl AsyncRead for SshStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.stdout).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before && !this.read_any => {
                // EOF before any byte: ssh failed; say why if it told us
                // (its stderr ends when it exits, which is soon now).
                let Some(h) = this.errors.as_mut() else {
                    return Poll::Ready(Ok(()));
                };
                let text = std::task::ready!(Pin::new(h).poll(cx)).unwrap_or_default();
                this.errors = None;
                let msg = String::from_utf8_lossy(&text).trim().replace('\n', "; ");
                if msg.is_empty() {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Ready(Err(io::Error::other(format!("ssh: {msg}"))))
                }
            }
            Poll::Ready(Ok(())) => {
                this.read_any = true;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.stdin.as_mut() {
            Some(s) => Pin::new(s).poll_write(cx, buf),
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stdin.as_mut() {
            Some(s) => Pin::new(s).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Closes ssh's stdin: the remote side sees EOF and half-closes its
    /// connection to the daemon, as a socket's shutdown(SHUT_WR) would.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(s) = self.stdin.as_mut() {
            std::task::ready!(Pin::new(s).poll_flush(cx))?;
        }
        self.stdin = None;
        Poll::Ready(Ok(()))
    }
}
