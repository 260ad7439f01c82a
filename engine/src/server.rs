//! Listeners: unix sockets and TCP, as `-H` names them. Each connection is
//! served by hyper's HTTP/1.1 server with upgrades enabled (attach hijacks
//! the connection).
//!
//! Security defaults, as dockerd's:
//! * a unix socket is mode 0660, group `docker` when that group exists;
//! * TCP on a non-loopback address needs TLS with client certificates
//!   (`--tlsverify`): without them anyone who can reach the port is root on
//!   the host. Loopback TCP may go without TLS, or use `--tls` alone;
//! * a client gets [`ServeOptions::header_read_timeout`] to send a request's
//!   headers, and a TLS handshake [`TLS_HANDSHAKE_TIMEOUT`]: a slow or silent
//!   client holds only its own connection task, never the listener, and is
//!   dropped in bounded time.

use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Notify;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use crate::daemon::Daemon;

/// How long a TLS client may take to complete its handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("invalid host {0:?}: expected unix:///path or tcp://IP:PORT")]
    Invalid(String),
    #[error(
        "refusing to listen on {0}: a non-loopback address needs TLS with client \
         certificate verification (--tlsverify --tlscacert CA --tlscert CERT --tlskey KEY)"
    )]
    NotLoopback(String),
}

impl Host {
    /// Parses `-H` values as dockerd does: `unix:///path`, `tcp://host:port`,
    /// or a bare path.
    pub fn parse(s: &str) -> Result<Host, HostError> {
        if let Some(p) = s.strip_prefix("unix://") {
            if p.is_empty() {
                return Err(HostError::Invalid(s.into()));
            }
            return Ok(Host::Unix(PathBuf::from(p)));
        }
        if let Some(a) = s.strip_prefix("tcp://") {
            let addr: std::net::SocketAddr = a
                .trim_end_matches('/')
                .parse()
                .map_err(|_| HostError::Invalid(s.into()))?;
            return Ok(Host::Tcp(addr));
        }
        if s.starts_with('/') {
            return Ok(Host::Unix(PathBuf::from(s)));
        }
        Err(HostError::Invalid(s.into()))
    }

    /// Whether this host may be served with the given TLS settings: TCP
    /// beyond loopback only with client verification.
    pub fn check(&self, tls: Option<&TlsOptions>) -> Result<(), HostError> {
        match self {
            Host::Tcp(addr) if !addr.ip().is_loopback() && !tls.is_some_and(|t| t.verify) => {
                Err(HostError::NotLoopback(format!("tcp://{addr}")))
            }
            _ => Ok(()),
        }
    }
}

/// dockerd's `--tls`, `--tlsverify`, `--tlscacert`, `--tlscert`, `--tlskey`.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// Require and verify client certificates against `ca`.
    pub verify: bool,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Pem {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error("{0}: no certificate in it")]
    NoCertificate(PathBuf),
    #[error("{path}: not a usable CA certificate: {source}")]
    BadCa {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("client certificate verification: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

fn read_certs(path: &Path) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, TlsError> {
    use rustls_pki_types::pem::PemObject;
    let pem = |source| TlsError::Pem {
        path: path.to_path_buf(),
        source,
    };
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .map_err(pem)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(certs)
}

/// The server side of `--tls`/`--tlsverify`: the engine's certificate, and
/// with `verify` a client certificate signed by the CA is required.
pub fn tls_acceptor(o: &TlsOptions) -> Result<TlsAcceptor, TlsError> {
    use rustls_pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_certs(&o.cert)?;
    let key =
        rustls_pki_types::PrivateKeyDer::from_pem_file(&o.key).map_err(|source| TlsError::Pem {
            path: o.key.clone(),
            source,
        })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if o.verify {
        let mut roots = rustls::RootCertStore::empty();
        for ca in read_certs(&o.ca)? {
            roots.add(ca).map_err(|source| TlsError::BadCa {
                path: o.ca.clone(),
                source,
            })?;
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Connection-level settings shared by every listener.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How long a client has to send a request's complete headers (also
    /// bounds how long an idle keep-alive connection is kept).
    pub header_read_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves one connection until it closes; `_open` counts it as open
/// until then.
async fn serve_conn<I>(
    io: I,
    daemon: Arc<Daemon>,
    opts: ServeOptions,
    fd: Option<RawFd>,
    _open: OpenConn,
) where
    I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let svc = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        if let Some(fd) = fd {
            req.extensions_mut().insert(crate::api::ConnFd(fd));
        }
        crate::api::handle(daemon.clone(), req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        // Without a timer hyper enforces no header timeout at all: a client
        // that never finishes its headers would hold the connection forever.
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

pub enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener, Option<TlsAcceptor>),
}

/// Binds every host. A stale unix socket file (left by a crash) is replaced;
/// the socket is made mode 0660, as dockerd's, and given to `group` (the
/// docker group, normally) so its members can use it without root. TCP
/// listeners get `tls` when it is set (unix sockets never use TLS, as with
/// dockerd).
pub fn bind(
    hosts: &[Host],
    group: Option<u32>,
    tls: Option<&TlsAcceptor>,
) -> std::io::Result<Vec<Listener>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    for h in hosts {
        match h {
            Host::Unix(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                if path.exists() {
                    std::fs::remove_file(path)?;
                }
                let l = UnixListener::bind(path)?;
                if let Some(gid) = group {
                    std::os::unix::fs::chown(path, None, Some(gid))?;
                }
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
                out.push(Listener::Unix(l, path.clone()));
            }
            Host::Tcp(addr) => {
                let std_l = std::net::TcpListener::bind(addr)?;
                std_l.set_nonblocking(true)?;
                out.push(Listener::Tcp(TcpListener::from_std(std_l)?, tls.cloned()));
            }
        }
    }
    Ok(out)
}

/// Accepts connections on every listener until the task is dropped. Each
/// connection (and its TLS handshake) runs in its own task, so the accept
/// loop never waits on a client.
pub async fn serve(listeners: Vec<Listener>, daemon: Arc<Daemon>, opts: ServeOptions) {
    let idle = Arc::new(IdleTrim::new(TRIM_AFTER_IDLE));
    let trimmer = tokio::spawn(trim_when_idle(idle.clone()));
    let mut tasks = Vec::new();
    for l in listeners {
        let daemon = daemon.clone();
        let idle = idle.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match &l {
                    Listener::Unix(u, _) => match u.accept().await {
                        Ok((s, _)) => {
                            let fd = s.as_raw_fd();
                            let open = idle.opened();
                            tokio::spawn(serve_conn(s, daemon.clone(), opts, Some(fd), open));
                        }
                        Err(e) => accept_error(e).await,
                    },
                    Listener::Tcp(t, tls) => match t.accept().await {
                        Ok((s, peer)) => {
                            let _ = s.set_nodelay(true);
                            // A peer that vanished (no FIN) is noticed
                            // eventually instead of holding its task forever.
                            let _ = set_keepalive(&s);
                            let open = idle.opened();
                            match tls {
                                None => {
                                    let fd = s.as_raw_fd();
                                    tokio::spawn(serve_conn(
                                        s,
                                        daemon.clone(),
                                        opts,
                                        Some(fd),
                                        open,
                                    ));
                                }
                                Some(acceptor) => {
                                    tokio::spawn(serve_tls(
                                        acceptor.clone(),
                                        s,
                                        peer,
                                        daemon.clone(),
                                        opts,
                                        open,
                                    ));
                                }
                            }
                        }
                        Err(e) => accept_error(e).await,
                    },
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    trimmer.abort();
}

async fn serve_tls(
    acceptor: TlsAcceptor,
    s: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    daemon: Arc<Daemon>,
    opts: ServeOptions,
    open: OpenConn,
) {
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(s)).await {
        // Under TLS the socket holds ciphertext: no hijack wait (see ConnFd).
        Ok(Ok(tls)) => serve_conn(tls, daemon, opts, None, open).await,
        Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
    }
}

/// SO_KEEPALIVE, probing after one minute idle (Linux's default of two
/// hours is too late for a daemon), every 10 s, 6 probes.
fn set_keepalive(s: &tokio::net::TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = s.as_raw_fd();
    for (level, opt, value) in [
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 60),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 10),
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 6),
    ] {
        let v: libc::c_int = value;
        // SAFETY: setsockopt on a socket fd we own, with a c_int value of
        // the size we pass.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                level,
                opt,
                &v as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// How long no API connection may have opened or closed before freed heap
/// is given back: a burst of requests (a client opens one connection per
/// command) pays for no trim between its connections.
pub const TRIM_AFTER_IDLE: Duration = Duration::from_millis(250);

/// Counts connections opening and closing, and wakes [`trim_when_idle`]
/// when one closes. Open connections are not required to be zero: a client
/// following `/events` or logs holds one for hours, and the requests
/// around it still leave freed heap behind.
struct IdleTrim {
    /// Bumped by every open and close: a quiet period that a connection
    /// interrupts starts over.
    activity: AtomicU64,
    wake: Notify,
    /// The quiet period ([`TRIM_AFTER_IDLE`]; shorter in tests).
    after: Duration,
    /// Trims done (for tests and the trace).
    trims: AtomicU64,
}

impl IdleTrim {
    fn new(after: Duration) -> IdleTrim {
        IdleTrim {
            activity: AtomicU64::new(0),
            wake: Notify::new(),
            after,
            trims: AtomicU64::new(0),
        }
    }

    fn opened(self: &Arc<Self>) -> OpenConn {
        self.activity.fetch_add(1, Ordering::SeqCst);
        OpenConn(self.clone())
    }
}

/// One open API connection; its close may start a quiet period.
struct OpenConn(Arc<IdleTrim>);

impl Drop for OpenConn {
    fn drop(&mut self) {
        self.0.activity.fetch_add(1, Ordering::SeqCst);
        self.0.wake.notify_one();
    }
}

/// Gives freed heap back to the kernel once a connection has closed and
/// none has opened or closed for the quiet period. glibc returns only the
/// top of the heap by itself: what a burst of requests freed below a live
/// allocation stays resident, so an idle engine's RSS would keep its
/// busiest moment's size.
async fn trim_when_idle(idle: Arc<IdleTrim>) {
    // Activity starts at 0, with nothing to give back.
    let mut trimmed_at = 0;
    loop {
        idle.wake.notified().await;
        loop {
            let seen = idle.activity.load(Ordering::SeqCst);
            if seen == trimmed_at {
                // A wake-up left by a close the last trim already covered.
                break;
            }
            tokio::time::sleep(idle.after).await;
            if idle.activity.load(Ordering::SeqCst) == seen {
                trim_heap();
                idle.trims.fetch_add(1, Ordering::Relaxed);
                trimmed_at = seen;
                break;
            }
        }
    }
}

/// `malloc_trim(0)`: with one arena (see main) it walks the one heap; well
/// under a millisecond for an idle engine's few MB, so it runs in place.
fn trim_heap() {
    let started = std::time::Instant::now();
    // SAFETY: malloc_trim only takes glibc's arena locks; no pointer is
    // passed and any thread may call it at any time.
    let released = unsafe { libc::malloc_trim(0) };
    tracing::trace!(released, took = ?started.elapsed(), "idle: heap trimmed");
}

/// Out of fds and the like: log, back off briefly, keep serving.
async fn accept_error(e: std::io::Error) {
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_like_dockerd() {
        assert_eq!(
            Host::parse("unix:///run/x.sock").unwrap(),
            Host::Unix("/run/x.sock".into())
        );
        assert_eq!(
            Host::parse("tcp://127.0.0.1:2375").unwrap(),
            Host::Tcp("127.0.0.1:2375".parse().unwrap())
        );
        let any = Host::parse("tcp://0.0.0.0:2375").unwrap();
        assert!(matches!(any.check(None), Err(HostError::NotLoopback(_))));
        let tls = |verify| TlsOptions {
            verify,
            ca: "ca.pem".into(),
            cert: "cert.pem".into(),
            key: "key.pem".into(),
        };
        // TLS without client verification still lets anyone in.
        assert!(any.check(Some(&tls(false))).is_err());
        assert!(any.check(Some(&tls(true))).is_ok());
        let lo = Host::parse("tcp://127.0.0.1:2375").unwrap();
        assert!(lo.check(None).is_ok());
        assert!(Host::parse("unix:///x.sock").unwrap().check(None).is_ok());
        assert!(Host::parse("bogus://x").is_err());
        assert!(Host::parse("unix://").is_err());
    }

    #[tokio::test]
    async fn heap_is_trimmed_once_after_connections_go_quiet() {
        let after = Duration::from_millis(20);
        let idle = Arc::new(IdleTrim::new(after));
        let trimmer = tokio::spawn(trim_when_idle(idle.clone()));
        let trims = || idle.trims.load(Ordering::Relaxed);
        // A follower's connection stays open throughout: it does not
        // keep the heap from being trimmed after the others close.
        let _events = idle.opened();
        for _ in 0..3 {
            drop(idle.opened());
        }
        for _ in 0..200 {
            if trims() > 0 {
                break;
            }
            tokio::time::sleep(after).await;
        }
        assert!(trims() >= 1, "no trim after connections went quiet");
        // No connection opens or closes: no further trim.
        let done = trims();
        tokio::time::sleep(after * 10).await;
        assert_eq!(trims(), done);
        trimmer.abort();
    }

    #[tokio::test]
    async fn unix_socket_is_0660_and_a_stale_one_is_replaced() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.sock");
        // A leftover of a crash: a plain file where the socket goes.
        std::fs::write(&path, "stale").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let gid = std::fs::metadata(dir.path()).unwrap().gid();
        let listeners = bind(&[Host::Unix(path.clone())], Some(gid), None).unwrap();
        assert_eq!(listeners.len(), 1);
        let meta = std::fs::metadata(&path).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));
        assert_eq!(meta.mode() & 0o7777, 0o660);
        assert_eq!(meta.gid(), gid);
    }
}
