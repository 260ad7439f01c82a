//! Following HTTP redirects as Go's `net/http` client does for a GET, for
//! every fetch the engine makes by URL: registry blobs (registries send
//! them on to storage) and remote build contexts (`POST /build?remote=`).
//!
//! Go's rules, as dockerd 20.10.24 showed them against a loopback server
//! (read with curl, 2026-12-04): 301, 302, 303, 307 and 308 with a
//! `Location` are followed (absolute, host-relative or relative to the
//! URL that answered); one without a `Location`, or any other status, is
//! the answer; the tenth redirect in a row fails with `Get "LOCATION":
//! stopped after 10 redirects`. The follow-up requests carry no
//! credentials (the caller's client sends none by URL).

use hyper::{Method, StatusCode};

use super::client::{Client, ReqBody, Resp};
use crate::errdefs::EngineError;

/// Go's default `CheckRedirect`: at most 10 requests in a chain.
pub const MAX_REQUESTS: usize = 10;

/// Whether Go's client follows this status on a GET.
fn follows(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// `location` resolved against `base` (RFC 3986 reference resolution, as
/// Go's `URL.Parse` does it; a fragment is dropped).
pub fn resolve(base: &str, location: &str) -> Option<String> {
    let location = location.split('#').next().unwrap_or("");
    let has_scheme = location.split_once(':').is_some_and(|(s, _)| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !s.contains('/')
    });
    if has_scheme {
        return Some(location.to_string());
    }
    let uri: hyper::Uri = base.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?.as_str();
    if location.starts_with("//") {
        return Some(format!("{scheme}:{location}"));
    }
    let origin = format!("{scheme}://{authority}");
    let base_path = uri.path();
    if location.is_empty() {
        let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        return Some(format!("{origin}{base_path}{query}"));
    }
    if location.starts_with('?') {
        return Some(format!("{origin}{base_path}{location}"));
    }
    let (path, query) = match location.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (location, None),
    };
    let merged = if path.starts_with('/') {
        path.to_string()
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{path}", if dir.is_empty() { "/" } else { dir })
    };
    let clean = remove_dot_segments(&merged);
    Some(match query {
        Some(q) => format!("{origin}{clean}?{q}"),
        None => format!("{origin}{clean}"),
    })
}

/// RFC 3986 5.2.4: `.` and `..` segments removed, a trailing slash kept
/// where the last segment was one of them.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let last = segs.len().saturating_sub(1);
    for (i, seg) in segs.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// Follows `resp` while it redirects, with GETs through `client`.
pub async fn follow(client: &Client, mut resp: Resp) -> Result<Resp, EngineError> {
    let mut requests = 1;
    loop {
        if !follows(resp.status) {
            return Ok(resp);
        }
        let Some(loc) = resp.header("location").map(str::to_string) else {
            return Ok(resp);
        };
        if requests >= MAX_REQUESTS {
            return Err(EngineError::System(format!(
                "Get {loc:?}: stopped after {MAX_REQUESTS} redirects"
            )));
        }
        let url = resolve(&resp.url, &loc).ok_or_else(|| {
            EngineError::System(format!("failed to parse Location header {loc:?}"))
        })?;
        resp = client
            .send_url(Method::GET, &url, &[], ReqBody::Empty)
            .await?;
        requests += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_as_go_does() {
        let base = "http://127.0.0.1:8080/a/b/r302?x=1";
        for (loc, want) in [
            ("http://other:1/ctx.tar", "http://other:1/ctx.tar"),
            ("//other/x", "http://other/x"),
            ("/Dockerfile", "http://127.0.0.1:8080/Dockerfile"),
            ("Dockerfile", "http://127.0.0.1:8080/a/b/Dockerfile"),
            ("../c?y=2", "http://127.0.0.1:8080/a/c?y=2"),
            ("./", "http://127.0.0.1:8080/a/b/"),
            ("?z", "http://127.0.0.1:8080/a/b/r302?z"),
            ("x#frag", "http://127.0.0.1:8080/a/b/x"),
        ] {
            assert_eq!(resolve(base, loc).as_deref(), Some(want), "{loc}");
        }
        assert_eq!(
            resolve("http://h", "Dockerfile").as_deref(),
            Some("http://h/Dockerfile")
        );
    }

    #[test]
    fn only_gos_redirect_statuses_are_followed() {
        for s in [301, 302, 303, 307, 308] {
            assert!(follows(StatusCode::from_u16(s).unwrap()));
        }
        for s in [200, 300, 304, 305, 404] {
            assert!(!follows(StatusCode::from_u16(s).unwrap()));
        }
    }
}
