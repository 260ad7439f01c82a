//! Remote build contexts (`POST /build?remote=URL`), as dockerd 20.10.24's
//! classic builder takes them (each answer read with curl, against a
//! server on 127.0.0.1):
//!
//! * an http(s) URL is fetched: a body of `text/plain` (or sniffed as
//!   text) is the Dockerfile itself; a tar (plain or compressed) is the
//!   context. Other types are 500 `error detecting content type for remote
//!   URL: unsupported Content-Type "text/html"`, nothing at all `... empty
//!   response`; a failed fetch `error downloading remote context URL: Get
//!   "URL": dial tcp ...` (500), an error status `error downloading remote
//!   context URL: failed to GET URL with status 404 Not Found: <body>` with
//!   that status's category;
//! * a redirect (301, 302, 303, 307, 308) is followed, up to Go's 10
//!   requests (`daemon::distribution::redirect`); the progress line and
//!   the errors name the URL asked for, not where it led;
//! * a git URL (`git://`, `git@`, `github.com/`, or a path ending in
//!   `.git`) dockerd clones: not done here (501);
//! * anything else: 500 `remoteURL (X) could not be recognized as URL`.

use std::io::Write;
use std::path::Path;

use http_body_util::BodyExt;
use hyper::{Method, StatusCode};

use crate::daemon::distribution::client::{Client, ReqBody};
use crate::daemon::distribution::redirect;
use crate::daemon::distribution::{Credentials, RegistryConfig};
use crate::errdefs::EngineError;

/// What a remote URL gave: the context as a tar (plain or compressed),
/// its size, and whether it was a lone Dockerfile.
pub struct Fetched {
    pub spool: tempfile::NamedTempFile,
    pub size: u64,
    pub dockerfile: bool,
}

/// moby's `urlutil.IsGitURL`.
fn is_git_url(s: &str) -> bool {
    if s.starts_with("git://") || s.starts_with("git@") || s.starts_with("github.com/") {
        return true;
    }
    let is_http = s.starts_with("http://") || s.starts_with("https://");
    let path = s.split('#').next().unwrap_or(s);
    is_http && (path.ends_with(".git") || s.contains(".git#"))
}

/// Refuses what is not an http(s) URL, in dockerd's words.
pub fn check(remote: &str) -> Result<(), EngineError> {
    if is_git_url(remote) {
        return Err(EngineError::NotImplemented(
            "git build contexts (remote git URLs) are not supported by this engine".into(),
        ));
    }
    if !(remote.starts_with("http://") || remote.starts_with("https://")) {
        return Err(EngineError::System(format!(
            "remoteURL ({remote}) could not be recognized as URL"
        )));
    }
    Ok(())
}

/// moby's `errdefs.FromStatusCode`: an error status's category.
fn by_status(status: StatusCode, message: String) -> EngineError {
    match status.as_u16() {
        400 => EngineError::InvalidParameter(message),
        403 => EngineError::Forbidden(message),
        404 => EngineError::NotFound(message),
        409 => EngineError::Conflict(message),
        501 => EngineError::NotImplemented(message),
        503 => EngineError::Unavailable(message),
        _ => EngineError::System(message),
    }
}

/// Go's `http.DetectContentType`, as far as the choice here needs it.
fn sniff(head: &[u8]) -> &'static str {
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        return "application/x-gzip";
    }
    let text = String::from_utf8_lossy(head);
    let start = text.trim_start().to_ascii_lowercase();
    let html = [
        "<!doctype html",
        "<html",
        "<head",
        "<script",
        "<iframe",
        "<h1",
        "<div",
        "<font",
        "<table",
        "<a",
        "<style",
        "<title",
        "<b",
        "<body",
        "<br",
        "<p",
        "<!--",
    ];
    if html.iter().any(|t| {
        start.starts_with(t)
            && start[t.len()..]
                .chars()
                .next()
                .is_some_and(|c| c == ' ' || c == '>')
    }) {
        return "text/html";
    }
    let binary = |b: &u8| matches!(*b, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f);
    if head.iter().any(binary) {
        "application/octet-stream"
    } else {
        "text/plain"
    }
}

/// The content types dockerd accepts (`acceptableRemoteMIME`): a tar,
/// compressed or not, or text. True for text.
fn acceptable(content_type: &str) -> Option<bool> {
    let t = content_type.split(';').next().unwrap_or("").trim();
    if t.starts_with("text/plain") {
        return Some(true);
    }
    let archive = [
        "application/tar",
        "application/x-tar",
        "application/octet-stream",
        "application/gzip",
        "application/x-gzip",
        "application/bzip",
        "application/x-bzip",
        "application/bzip2",
        "application/x-bzip2",
        "application/xz",
        "application/x-xz",
    ];
    archive.contains(&t).then_some(false)
}

/// Fetches `url` into a spool under `tmp`.
pub async fn fetch(cfg: &RegistryConfig, url: &str, tmp: &Path) -> Result<Fetched, EngineError> {
    let downloading = |m: String| format!("error downloading remote context {url}: {m}");
    let host = hyper::Uri::try_from(url)
        .ok()
        .and_then(|u| u.authority().map(|a| a.as_str().to_string()))
        .unwrap_or_default();
    let client = Client::new(cfg, &host, Credentials::default())?;
    let resp = client
        .send_url(Method::GET, url, &[], ReqBody::Empty)
        .await
        .map_err(|e| EngineError::System(downloading(e.to_string())))?;
    let resp = redirect::follow(&client, resp)
        .await
        .map_err(|e| EngineError::System(downloading(e.to_string())))?;
    if resp.status.as_u16() >= 400 {
        let status = resp.status;
        let body = resp.bytes(64 * 1024).await.unwrap_or_default();
        let reason = status.canonical_reason().unwrap_or("");
        return Err(by_status(
            status,
            downloading(format!(
                "failed to GET {url} with status {} {reason}: {}",
                status.as_u16(),
                String::from_utf8_lossy(&body).trim()
            )),
        ));
    }
    let declared = resp.header("content-type").unwrap_or("").to_string();
    std::fs::create_dir_all(tmp)?;
    let mut spool = tempfile::Builder::new()
        .prefix("remote-")
        .tempfile_in(tmp)?;
    let mut size = 0u64;
    let mut head = Vec::new();
    let mut body = resp.body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| EngineError::System(downloading(e.to_string())))?;
        if let Ok(d) = frame.into_data() {
            if head.len() < 512 {
                head.extend_from_slice(&d[..d.len().min(512 - head.len())]);
            }
            spool.write_all(&d)?;
            size += d.len() as u64;
        }
    }
    let detecting = |m: String| format!("error detecting content type for remote {url}: {m}");
    if size == 0 {
        return Err(EngineError::System(detecting("empty response".into())));
    }
    let base = declared.split(';').next().unwrap_or("").trim();
    let content_type = if base.is_empty() || base == "application/octet-stream" {
        sniff(&head)
    } else {
        declared.as_str()
    };
    let Some(text) = acceptable(content_type) else {
        return Err(EngineError::System(detecting(format!(
            "unsupported Content-Type {declared:?}"
        ))));
    };
    if !text {
        spool.flush()?;
        return Ok(Fetched {
            spool,
            size,
            dockerfile: false,
        });
    }
    // A lone Dockerfile: the context is a tar holding it as `Dockerfile`.
    let dockerfile = std::fs::read(spool.path())?;
    let mut tar_spool = tempfile::Builder::new()
        .prefix("remote-")
        .tempfile_in(tmp)?;
    {
        let mut b = tar::Builder::new(&mut tar_spool);
        let mut h = tar::Header::new_gnu();
        h.set_size(dockerfile.len() as u64);
        h.set_mode(0o600);
        h.set_cksum();
        b.append_data(&mut h, "Dockerfile", dockerfile.as_slice())?;
        b.finish()?;
    }
    tar_spool.flush()?;
    Ok(Fetched {
        spool: tar_spool,
        size,
        dockerfile: true,
    })
}

/// docker/go-units' `HumanSize`: four significant digits, decimal units.
pub fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let mut s = format!("{v:.digits$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", units[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_apart_as_dockerd() {
        assert!(is_git_url("git://h/r"));
        assert!(is_git_url("git@h:r"));
        assert!(is_git_url("https://h/r.git"));
        assert!(is_git_url("https://h/r.git#main:dir"));
        assert!(!is_git_url("https://h/ctx.tar"));
        assert_eq!(
            check("ftp://h/x").unwrap_err().to_string(),
            "remoteURL (ftp://h/x) could not be recognized as URL"
        );
        assert!(check("http://127.0.0.1/ctx.tar").is_ok());
    }

    #[test]
    fn content_types_as_dockerd() {
        assert_eq!(sniff(b"FROM scratch\n"), "text/plain");
        assert_eq!(sniff(b"<html>x</html>"), "text/html");
        assert_eq!(sniff(&[0x1f, 0x8b, 0x08, 0]), "application/x-gzip");
        assert_eq!(acceptable("text/plain; charset=utf-8"), Some(true));
        assert_eq!(acceptable("application/x-tar"), Some(false));
        assert_eq!(acceptable("text/html"), None);
        assert_eq!(human_size(29), "29B");
        assert_eq!(human_size(1234), "1.234kB");
    }
}
