//! Listeners: unix sockets and loopback TCP, as `-H` names them. Each
//! connection is served by hyper's HTTP/1.1 server with upgrades enabled
//! (attach hijacks the connection).

use std::path::PathBuf;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

use crate::daemon::Daemon;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("invalid host {0:?}: expected unix:///path or tcp://127.0.0.1:port")]
    Invalid(String),
    #[error("refusing to listen on {0}: only loopback addresses are allowed without TLS, which this engine does not support yet")]
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
            if !addr.ip().is_loopback() {
                return Err(HostError::NotLoopback(s.into()));
            }
            return Ok(Host::Tcp(addr));
        }
        if s.starts_with('/') {
            return Ok(Host::Unix(PathBuf::from(s)));
        }
        Err(HostError::Invalid(s.into()))
    }
}

/// Serves one connection until it closes.
async fn serve_conn<I>(io: I, daemon: Arc<Daemon>)
where
    I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let svc = service_fn(move |req| crate::api::handle(daemon.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

pub enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

/// Binds every host. A stale unix socket file (left by a crash) is replaced;
/// the socket is made mode 0660, as dockerd's.
pub fn bind(hosts: &[Host]) -> std::io::Result<Vec<Listener>> {
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
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
                out.push(Listener::Unix(l, path.clone()));
            }
            Host::Tcp(addr) => {
                let std_l = std::net::TcpListener::bind(addr)?;
                std_l.set_nonblocking(true)?;
                out.push(Listener::Tcp(TcpListener::from_std(std_l)?));
            }
        }
    }
    Ok(out)
}

/// Accepts connections on every listener until the task is dropped.
pub async fn serve(listeners: Vec<Listener>, daemon: Arc<Daemon>) {
    let mut tasks = Vec::new();
    for l in listeners {
        let daemon = daemon.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match &l {
                    Listener::Unix(u, _) => match u.accept().await {
                        Ok((s, _)) => {
                            tokio::spawn(serve_conn(s, daemon.clone()));
                        }
                        Err(e) => accept_error(e).await,
                    },
                    Listener::Tcp(t) => match t.accept().await {
                        Ok((s, _)) => {
                            let _ = s.set_nodelay(true);
                            tokio::spawn(serve_conn(s, daemon.clone()));
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
        assert!(matches!(
            Host::parse("tcp://0.0.0.0:2375"),
            Err(HostError::NotLoopback(_))
        ));
        assert!(Host::parse("bogus://x").is_err());
        assert!(Host::parse("unix://").is_err());
    }
}
