//! Credentials: `X-Registry-Auth` (base64url JSON, as the CLI sends it) and
//! `POST /auth`, which checks them against the registry as dockerd does.

use base64::Engine as _;
use hyper::StatusCode;

use super::client::Client;
use super::{Credentials, RegistryConfig};
use crate::errdefs::EngineError;

/// Decodes `X-Registry-Auth`; dockerd treats what it cannot decode as no
/// credentials.
pub fn decode_header(v: Option<&str>) -> Credentials {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Credentials::default();
    };
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    let raw = URL_SAFE
        .decode(v)
        .or_else(|_| URL_SAFE_NO_PAD.decode(v))
        .or_else(|_| STANDARD.decode(v));
    raw.ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The registry host of a login's `serveraddress` (`http://h:p/`, `h:p`).
pub fn login_host(addr: &str) -> String {
    let a = addr
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    a.split('/').next().unwrap_or(a).to_string()
}

/// `POST /auth`: pings the registry with the credentials. Returns the
/// identity token (always empty: basic auth and registry tokens carry none).
pub async fn login(cfg: &RegistryConfig, creds: Credentials) -> Result<String, EngineError> {
    let host = login_host(&creds.server_address);
    if host.is_empty()
        || host == "index.docker.io"
        || host == "registry-1.docker.io"
        || host == "docker.io"
    {
        return Err(EngineError::System(
            "this engine does not log in to Docker Hub; give the address of your registry".into(),
        ));
    }
    let mut client = Client::new(cfg, &host, creds)?;
    let ping = client.ping().await?;
    if ping.status == StatusCode::OK {
        return Ok(String::new());
    }
    if ping.status != StatusCode::UNAUTHORIZED {
        let url = client.url("/v2/");
        return Err(EngineError::System(format!(
            "login attempt to {url} failed with status: {}",
            status_text(ping.status)
        )));
    }
    // The challenge is learnt; ask again with the credentials.
    let url = client.url("/v2/");
    let r = client
        .send(
            "",
            hyper::Method::GET,
            "/v2/",
            &[],
            super::client::ReqBody::Empty,
        )
        .await
        .map_err(|e| match e {
            EngineError::System(m) if m.contains("no basic auth credentials") => {
                EngineError::System(format!(
                    "login attempt to {url} failed with status: 401 Unauthorized"
                ))
            }
            e => e,
        })?;
    if r.status == StatusCode::OK {
        return Ok(String::new());
    }
    Err(EngineError::System(format!(
        "login attempt to {url} failed with status: {}",
        status_text(r.status)
    )))
}

/// Go's `resp.Status`: `401 Unauthorized`.
pub fn status_text(s: StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_decodes_url_safe_and_std() {
        let c = decode_header(Some("eyJ1c2VybmFtZSI6ImEiLCJwYXNzd29yZCI6ImIifQ=="));
        assert_eq!((c.username.as_str(), c.password.as_str()), ("a", "b"));
        let c = decode_header(Some("e30="));
        assert_eq!(c.username, "");
        let c = decode_header(Some("not base64!"));
        assert_eq!(c.username, "");
    }

    #[test]
    fn login_hosts() {
        assert_eq!(login_host("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(login_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(login_host("https://reg.example/v2/"), "reg.example");
    }
}
