//! Where the endpoint listens, parsed from a host URL, and opening a
//! connection to it.

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
}

impl Target {
    /// Parses `unix:///path`, `tcp://host:port` or `http://host:port`
    /// (port defaults to 2375, as with the docker CLI).
    pub fn parse(url: &str) -> Result<Target, ClientError> {
        let bad = |reason: &str| ClientError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
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
            .ok_or_else(|| bad("supported schemes are unix://, tcp:// and http://"))?;
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
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Unix(p) => write!(f, "unix://{}", p.display()),
            Target::Tcp(h) => write!(f, "tcp://{h}"),
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
    }
}
