//! Where the endpoint listens, parsed from a host URL, and opening a
//! connection to it: a unix socket, plain TCP, TCP with TLS, or an ssh
//! command speaking to the remote docker CLI's `dial-stdio`.

use super::ssh::SshTarget;
use super::tls::TlsClient;
use super::wire::RoundtripError;
use super::{ClientError, Duplex};
use std::fmt;
use std::path::PathBuf;

/// Where the endpoint listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    /// `host:port`
    Tcp(String),
    /// `host:port` with TLS (`--tls`/`--tlsverify`).
    Tls(String, TlsClient),
    /// `ssh://[user@]host[:port]`
    Ssh(SshTarget),
}

impl Target {
    /// Parses `unix:///path`, `tcp://host:port`, `http://host:port`
    /// (port defaults to 2375, as with the docker CLI) or
    /// `ssh://[user@]host[:port]`.
    pub fn parse(url: &str) -> Result<Target, ClientError> {
        let bad = |reason: &str| ClientError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = url.strip_prefix("ssh://") {
            return SshTarget::parse(rest).map(Target::Ssh).map_err(|r| bad(&r));
        }
        if let Some(path) = url.strip_prefix("unix://") {
            if path.is_empty() || !path.starts_with('/') {
                return Err(bad(
                    "a unix socket URL needs an absolute path: unix:///path/to/sock",
                ));
            }
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        let rest = url
            .strip_prefix("tcp://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| bad("supported schemes are unix://, tcp://, http:// and ssh://"))?;
        let hostport = rest.strip_suffix('/').unwrap_or(rest);
        if hostport.is_empty() || hostport.contains('/') || hostport.contains('@') {
            return Err(bad("expected tcp://HOST:PORT"));
        }
        let with_port = match hostport.rsplit_once(':') {
            // An IPv6 literal like [::1] has colons but no port after `]`.
            Some((host, port)) if !port.contains(']') => {
                if host.is_empty() {
                    return Err(bad("missing host"));
                }
                port.parse::<u16>().map_err(|_| bad("invalid port"))?;
                hostport.to_string()
            }
            _ => format!("{hostport}:2375"),
        };
        Ok(Target::Tcp(with_port))
    }

    /// The same TCP endpoint spoken to with TLS; only `tcp://` takes it,
    /// as with the docker CLI.
    pub fn with_tls(self, tls: TlsClient) -> Result<Target, ClientError> {
        match self {
            Target::Tcp(h) => Ok(Target::Tls(h, tls)),
            other => Err(ClientError::BadUrl {
                url: other.to_string(),
                reason: "TLS (--tls, --tlsverify, DOCKER_TLS_VERIFY) applies to tcp:// hosts only"
                    .into(),
            }),
        }
    }

    /// How the endpoint is reached, for the first console line and the
    /// reports: `unix`, `tcp`, `tls (server certificate ...)`, `ssh (...)`.
    pub fn transport(&self) -> String {
        match self {
            Target::Unix(_) => "unix".into(),
            Target::Tcp(_) => "tcp".into(),
            Target::Tls(_, t) => t.describe(),
            Target::Ssh(s) => format!("ssh (ssh {})", s.args().join(" ")),
        }
    }

    /// A one-line explanation of a transport failure hidden in `e`'s chain
    /// (for TLS, the certificate problem), when there is one.
    pub(crate) fn explain(&self, e: &(dyn std::error::Error + 'static)) -> Option<String> {
        match self {
            Target::Tls(_, t) => t.explain(e),
            _ => None,
        }
    }

    /// Where idle connections are kept for reuse: only over ssh, where a
    /// new connection costs a process and a login.
    pub(crate) fn pool(&self) -> Option<&super::ssh::Pool> {
        match self {
            Target::Ssh(s) => Some(&s.pool),
            _ => None,
        }
    }

    /// The docker CLI's options that reach the same endpoint.
    pub fn docker_cli_args(&self) -> Vec<String> {
        let mut a = vec!["-H".to_string(), self.to_string()];
        if let Target::Tls(_, t) = self {
            let s = &t.settings;
            a.push(if s.verify { "--tlsverify" } else { "--tls" }.into());
            for (flag, f) in [
                ("--tlscacert", &s.ca),
                ("--tlscert", &s.cert),
                ("--tlskey", &s.key),
            ] {
                if let Some(f) = f {
                    a.extend([flag.to_string(), f.display().to_string()]);
                }
            }
        }
        a
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Unix(p) => write!(f, "unix://{}", p.display()),
            Target::Tcp(h) | Target::Tls(h, _) => write!(f, "tcp://{h}"),
            Target::Ssh(s) => s.fmt(f),
        }
    }
}

pub(crate) async fn connect(target: &Target) -> Result<Box<dyn Duplex>, RoundtripError> {
    match target {
        Target::Unix(p) => tokio::net::UnixStream::connect(p)
            .await
            .map(|s| Box::new(s) as Box<dyn Duplex>)
            .map_err(RoundtripError::Connect),
        Target::Tcp(h) => tokio::net::TcpStream::connect(h.as_str())
            .await
            .map(|s| {
                let _ = s.set_nodelay(true);
                Box::new(s) as Box<dyn Duplex>
            })
            .map_err(RoundtripError::Connect),
        Target::Tls(h, t) => t
            .connect(h)
            .await
            .map(|s| Box::new(s) as Box<dyn Duplex>)
            .map_err(RoundtripError::Connect),
        Target::Ssh(s) => s
            .connect()
            .await
            .map(|s| Box::new(s) as Box<dyn Duplex>)
            .map_err(RoundtripError::Connect),
    }
}
