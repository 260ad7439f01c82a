//! API versions (`1.41`, ordered numerically) and the negotiation that
//! picks one the way the docker CLI does.

use super::{printable, Client, ClientError, Req, MAX_API_VERSION};
use serde_json::Value;
use std::fmt;

/// An API version such as 1.41. Ordered numerically (1.9 < 1.41).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

impl ApiVersion {
    pub fn parse(s: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::BadVersion(s.to_string());
        let (a, b) = s.trim().split_once('.').ok_or_else(bad)?;
        Ok(ApiVersion {
            major: a.parse().map_err(|_| bad())?,
            minor: b.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Result of version negotiation.
#[derive(Debug, Clone)]
pub struct Negotiation {
    /// The version used for every `/vX.Y` prefix.
    pub api_version: ApiVersion,
    /// `Api-Version` header of `/_ping` (the server's maximum).
    pub server_api_version: ApiVersion,
    /// `MinAPIVersion` from `/version`, when reported.
    pub server_min_api_version: Option<ApiVersion>,
    /// `Version` from `/version` (the engine's own version string).
    pub server_version: String,
    /// `Server` header, when sent.
    pub server_header: Option<String>,
    /// True when `--api-version` pinned the version.
    pub pinned: bool,
}

impl Client {
    /// Negotiates like the docker CLI: `HEAD /_ping` (falling back to
    /// `GET /_ping`) for the server's `Api-Version`, then uses
    /// min(server, [`MAX_API_VERSION`]) unless `pinned`; finally checks that
    /// `GET /vX.Y/version` answers with Docker's version document.
    pub fn negotiate(&mut self, pinned: Option<ApiVersion>) -> Result<Negotiation, ClientError> {
        let target = self.target.to_string();
        let not_docker = |reason: String| ClientError::NotDocker {
            target: target.clone(),
            reason,
        };
        let mut ping = self.send(Req::head("/_ping").unversioned())?;
        if ping.header("Api-Version").is_none() {
            // Some servers reject HEAD (405); the CLI retries with GET.
            ping = self.send(Req::get("/_ping").unversioned())?;
        }
        let header = ping.header("Api-Version").map(str::to_string);
        let server_header = ping.header("Server").map(str::to_string);
        let server_api = match header {
            Some(h) => ApiVersion::parse(&h).map_err(|_| {
                not_docker(format!("/_ping sent an invalid Api-Version header {h:?}"))
            })?,
            None => {
                return Err(not_docker(format!(
                    "GET /_ping answered {} without an Api-Version header",
                    ping.status
                )))
            }
        };
        let api_version = pinned.unwrap_or_else(|| server_api.min(MAX_API_VERSION));
        self.version = Some(api_version);
        let v = self.send(Req::get("/version"))?;
        if v.status != 200 && pinned.is_some() {
            return Err(ClientError::Protocol(format!(
                "{target} rejects the pinned API version {api_version}: {} {}",
                v.status,
                v.message().unwrap_or_default()
            )));
        }
        if v.status != 200 {
            return Err(not_docker(format!(
                "GET /v{api_version}/version answered {}: {}",
                v.status,
                printable(&v.body[..v.body.len().min(200)], v.body.len())
            )));
        }
        let doc = v
            .json()
            .map_err(|e| not_docker(format!("GET /v{api_version}/version: {e}")))?;
        let server_version = doc
            .get("Version")
            .and_then(Value::as_str)
            .ok_or_else(|| not_docker("/version has no Version string".to_string()))?
            .to_string();
        let server_min_api_version = doc
            .get("MinAPIVersion")
            .and_then(Value::as_str)
            .and_then(|s| ApiVersion::parse(s).ok());
        Ok(Negotiation {
            api_version,
            server_api_version: server_api,
            server_min_api_version,
            server_version,
            server_header,
            pinned: pinned.is_some(),
        })
    }
}
