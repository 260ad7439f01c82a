//! The Engine API over HTTP, and nothing else: version prefixes, Docker's
//! common headers and the route table here; one module per API group, each
//! parsing its requests, calling the daemon and rendering the answer. The
//! rules live in `daemon`; handlers reach the store and runtime only through
//! it. [`body`] holds the body helpers (both ways), [`error`] the one
//! mapping from an error category to a status code.

pub mod body;
pub mod build;
pub mod containers;
pub mod distribution;
pub mod error;
pub mod events;
pub mod exec;
pub mod images;
pub mod networks;
pub mod plugins;
pub mod query;
pub mod resources;
pub mod session;
pub mod swarm;
pub mod system;
pub mod volumes;

#[cfg(test)]
mod fuzz_tests;

use std::convert::Infallible;
use std::sync::Arc;

use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, StatusCode};

pub use body::{empty, json, json_status, no_content, Body, Request, Response};
pub use query::Query;

/// The raw socket a request came in on (unix and plain TCP connections),
/// put in the request's extensions by the server: a hijacked stream uses
/// it to see when the client has read the `101` (see
/// `containers::attach::hijack`).
#[derive(Debug, Clone, Copy)]
pub struct ConnFd(pub std::os::fd::RawFd);

use crate::daemon::Daemon;
use crate::errdefs::EngineError;
use crate::version::{ApiVersion, MAX_API_VERSION, MAX_API_VERSION_STR, MIN_API_VERSION};

/// What every handler gets: the daemon, the version the client asked for, and
/// the parsed query string.
pub struct Ctx {
    pub daemon: Arc<Daemon>,
    pub version: ApiVersion,
    pub query: Query,
}

/// hyper's service entry point. Never fails: every error becomes a response.
pub async fn handle(daemon: Arc<Daemon>, req: Request) -> Result<Response, Infallible> {
    let path = req.uri().path().to_string();
    // Go's server decodes the path before any handler sees it, and answers
    // a bad escape (`%zz`) itself: a plain 400, no Docker headers.
    let Some(decoded) = unescape(&path) else {
        return Ok(bad_request());
    };
    if let Some(resp) = redirect_unclean(&decoded, req.uri().query()) {
        return Ok(resp);
    }
    let (version, rest) = match split_version(&path) {
        Ok(v) => v,
        Err(e) => return Ok(with_docker_headers(error::response(&e))),
    };
    let ctx = Ctx {
        daemon,
        version: version.unwrap_or(MAX_API_VERSION),
        query: Query::parse(req.uri().query().unwrap_or("")),
    };
    let method = req.method().clone();
    tracing::debug!(%method, path = %path, "request");
    let resp = match route(&ctx, req, &method, rest).await {
        Some(Ok(resp)) => with_docker_headers(resp),
        Some(Err(e)) => {
            if error::status(&e).is_server_error() {
                tracing::warn!(%method, path = %path, error = %e, "request failed");
            }
            with_docker_headers(error::response(&e))
        }
        // dockerd answers an unknown route without its usual headers.
        None => error::response(&EngineError::NotFound("page not found".into())),
    };
    Ok(resp)
}

/// The verbs of `/containers/{name}/<verb>` (see `route`: a name may hold
/// slashes).
const CONTAINER_VERBS: &[&str] = &[
    "json", "start", "stop", "restart", "kill", "wait", "attach", "logs", "resize", "changes",
    "pause", "unpause", "stats", "update", "exec", "archive", "export", "rename", "top",
];

/// dockerd's router (gorilla/mux) answers a path that is not clean (`//`,
/// `.` or `..` segments) with `301` to its clean form, query kept, and
/// without Docker's headers or a body, whatever the route.
fn redirect_unclean(path: &str, query: Option<&str>) -> Option<Response> {
    // Only paths: `*` (OPTIONS) and the like are not the router's.
    if !path.starts_with('/') {
        return None;
    }
    let clean = clean_path(path);
    if clean == path {
        return None;
    }
    let clean = escape_path(&clean);
    let location = match query {
        Some(q) => format!("{clean}?{q}"),
        None => clean,
    };
    let mut resp = hyper::Response::new(empty());
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    let value = HeaderValue::from_str(&location).ok()?;
    resp.headers_mut().insert(hyper::header::LOCATION, value);
    Some(resp)
}

/// Go's `url.PathUnescape`: `%XX` escapes decoded (`+` stays `+`); `None`
/// for a malformed escape. Bytes that are not UTF-8 are replaced, as no
/// name the daemon keeps can hold them.
fn unescape(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `url.URL.String` for a path: what may not stand in a path escaped
/// again (a redirect's `Location` to a decoded, cleaned path).
fn escape_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Go's server's own answer to a request line it cannot parse.
fn bad_request() -> Response {
    let mut resp = hyper::Response::new(body::full("400 Bad Request"));
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Go's `path.Clean` as mux applies it: rooted, `.` and `..` resolved,
/// repeated slashes folded, and a trailing slash kept.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut clean = format!("/{}", parts.join("/"));
    if path.ends_with('/') && clean != "/" {
        clean.push('/');
    }
    clean
}

/// Splits `/v1.41/containers/json` into (Some(1.41), "/containers/json") and
/// checks the version against what we serve, with dockerd's messages.
fn split_version(path: &str) -> Result<(Option<ApiVersion>, &str), EngineError> {
    let Some(after) = path.strip_prefix("/v") else {
        return Ok((None, path));
    };
    let (ver, rest) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, ""),
    };
    let Some(v) = ApiVersion::parse(ver) else {
        // Not a version prefix (e.g. `/volumes`): route the path as it is.
        return Ok((None, path));
    };
    if v > MAX_API_VERSION {
        return Err(EngineError::InvalidParameter(format!(
            "client version {ver} is too new. Maximum supported API version is {MAX_API_VERSION}"
        )));
    }
    if v < MIN_API_VERSION {
        return Err(EngineError::InvalidParameter(format!(
            "client version {ver} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    Ok((Some(v), rest))
}

/// The route table. `None` means "no such route" (404 page not found, as dockerd).
async fn route(
    ctx: &Ctx,
    req: Request,
    method: &Method,
    path: &str,
) -> Option<Result<Response, EngineError>> {
    // mux matches the path as sent and decodes each variable: a name may
    // hold an escaped space or slash (`/networks/my%20net`, `a%2Fb`).
    let mut decoded = Vec::new();
    for seg in path.trim_start_matches('/').split('/') {
        match unescape(seg) {
            Some(s) => decoded.push(s),
            None => return Some(Ok(bad_request())),
        }
    }
    let mut segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    // dockerd's routes are `/containers/{name:.*}/<verb>`: an unescaped
    // slash stays in the name (`/containers/a/b/json` asks for "a/b").
    let collapsed = match segs.as_slice() {
        ["containers", middle @ .., verb]
            if middle.len() > 1 && method != Method::DELETE && CONTAINER_VERBS.contains(verb) =>
        {
            Some((middle.join("/"), *verb))
        }
        _ => None,
    };
    if let Some((name, verb)) = &collapsed {
        segs = vec!["containers", name.as_str(), verb];
    }
    let is_get = method == Method::GET || method == Method::HEAD;
    let is_post = method == Method::POST;
    let is_delete = method == Method::DELETE;
    let r = match segs.as_slice() {
        ["_ping"] if is_get => system::ping(ctx, method),
        ["version"] if is_get => system::version(ctx),
        ["info"] if is_get => system::info(ctx).await,

        ["containers", "json"] if is_get => containers::list(ctx).await,
        ["containers", "create"] if is_post => containers::create(ctx, req).await,
        ["containers", id, "json"] if is_get => containers::inspect(ctx, id).await,
        ["containers", id, "start"] if is_post => containers::start(ctx, id).await,
        ["containers", id, "stop"] if is_post => containers::stop(ctx, id).await,
        ["containers", id, "restart"] if is_post => containers::restart(ctx, id).await,
        ["containers", id, "kill"] if is_post => containers::kill(ctx, id).await,
        ["containers", id, "wait"] if is_post => {
            body::request::drain(req).await;
            containers::wait(ctx, id).await
        }
        ["containers", id, "attach"] if is_post => containers::attach_route(ctx, id, req).await,
        ["containers", id, "attach", "ws"] if is_get => {
            containers::attach_ws_route(ctx, id, req).await
        }
        ["containers", id, "logs"] if is_get => {
            body::request::drain(req).await;
            containers::logs(ctx, id).await
        }
        ["containers", id, "resize"] if is_post => containers::resize(ctx, id).await,
        ["containers", id, "changes"] if is_get => containers::changes(ctx, id).await,
        ["containers", id, "pause"] if is_post => resources::pause(ctx, id).await,
        ["containers", id, "unpause"] if is_post => resources::unpause(ctx, id).await,
        ["containers", id, "stats"] if is_get => {
            body::request::drain(req).await;
            resources::stats(ctx, id).await
        }
        ["containers", id, "update"] if is_post => resources::update(ctx, id, req).await,
        ["containers", id] if is_delete => containers::remove(ctx, id).await,
        // dockerd's `{name:.*}`: a link is named "<container>/<alias>".
        ["containers", rest @ ..] if is_delete && rest.len() > 1 => {
            containers::remove(ctx, &rest.join("/")).await
        }
        ["containers", id, "exec"] if is_post => exec::create(ctx, id, req).await,
        ["exec", id, "start"] if is_post => exec::start(ctx, id, req).await,
        ["exec", id, "json"] if is_get => exec::inspect(ctx, id).await,
        ["exec", id, "resize"] if is_post => exec::resize(ctx, id).await,
        ["containers", id, "archive"] if method == Method::HEAD => {
            containers::ops::archive_head(ctx, id).await
        }
        ["containers", id, "archive"] if is_get => containers::ops::archive_get(ctx, id).await,
        ["containers", id, "archive"] if method == Method::PUT => {
            containers::ops::archive_put(ctx, id, req).await
        }
        ["containers", id, "export"] if is_get => containers::ops::export(ctx, id).await,
        ["containers", id, "rename"] if is_post => containers::ops::rename(ctx, id).await,
        ["containers", id, "top"] if is_get => containers::ops::top(ctx, id).await,
        ["containers", "prune"] if is_post => containers::ops::prune(ctx).await,
        ["system", "df"] if is_get => containers::ops::system_df(ctx).await,
        ["events"] if is_get => {
            body::request::drain(req).await;
            events::events(ctx).await
        }
        // dockerd's router has `/networks/` for the list too.
        ["networks"] | ["networks", ""] if is_get => networks::list(ctx).await,
        ["networks", "create"] if is_post => networks::create(ctx, req).await,
        ["networks", "prune"] if is_post => networks::prune(ctx).await,
        // dockerd's inspect routes are `/networks/{id:.*}` and
        // `/volumes/{name:.*}`: the rest of the path, slashes included.
        ["networks", id @ ..] if is_get => networks::inspect(ctx, &id.join("/")).await,
        ["networks", id] if is_delete => networks::remove(ctx, id).await,
        ["networks", id, "connect"] if is_post => networks::connect(ctx, id, req, true).await,
        ["networks", id, "disconnect"] if is_post => networks::connect(ctx, id, req, false).await,
        ["volumes"] if is_get => volumes::list(ctx).await,
        ["volumes", "create"] if is_post => volumes::create(ctx, req).await,
        ["volumes", "prune"] if is_post => volumes::prune(ctx).await,
        ["volumes", name @ ..] if is_get => volumes::inspect(ctx, &name.join("/")).await,
        ["volumes", name] if is_delete => volumes::remove(ctx, name).await,

        ["commit"] if is_post => images::commit(ctx, req).await,
        ["images", "json"] if is_get => images::list(ctx).await,
        ["images", "load"] if is_post => images::load(ctx, req).await,
        ["images", "create"] if is_post => images::create(ctx, req).await,
        ["images", "prune"] if is_post => images::prune(ctx).await,
        ["images", "search"] if is_get => distribution::search(ctx, req).await,
        ["auth"] if is_post => distribution::login(ctx, req).await,
        ["distribution", name @ .., "json"] if is_get && !name.is_empty() => {
            distribution::inspect(ctx, req, &name.join("/")).await
        }
        ["images", name @ .., "push"] if is_post && !name.is_empty() => {
            distribution::push_image(ctx, req, &name.join("/")).await
        }
        ["build"] if is_post => build::build(ctx, req).await,
        ["build", "prune"] if is_post => build::prune(ctx).await,
        ["images", name @ .., "history"] if is_get && !name.is_empty() => {
            images::history(ctx, &name.join("/")).await
        }
        ["images", "get"] if is_get => images::save(ctx, ctx.query.all("names")).await,
        // Image references may contain slashes (`example.com/team/app:1`),
        // so image routes match on their ends.
        ["images", name @ .., "json"] if is_get && !name.is_empty() => {
            images::inspect(ctx, &name.join("/")).await
        }
        ["images", name @ .., "tag"] if is_post && !name.is_empty() => {
            images::tag(ctx, &name.join("/")).await
        }
        ["images", name @ .., "get"] if is_get && !name.is_empty() => {
            images::save(ctx, vec![name.join("/")]).await
        }
        ["images", name @ ..] if is_delete && !name.is_empty() => {
            images::remove(ctx, &name.join("/")).await
        }
        ["session"] if is_post => session::session(req).await,
        ["plugins", ..] => return plugins::route(ctx, req, method, &segs).await,
        _ => return swarm::route(ctx, req, method, &segs).await,
    };
    Some(r)
}

fn with_docker_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(MAX_API_VERSION_STR));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert("Server", HeaderValue::from_static(SERVER_HEADER));
    if !h.contains_key(CONTENT_TYPE) && resp.status() != StatusCode::NO_CONTENT {
        // Keep hyper from sending a body-less response without a type; harmless.
    }
    resp
}

const SERVER_HEADER: &str = concat!("shipshape-engine/", env!("CARGO_PKG_VERSION"), " (linux)");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unclean_paths_are_cleaned_as_go_does() {
        for (path, clean) in [
            ("/v1.41/version", "/v1.41/version"),
            ("/v1.41//version", "/v1.41/version"),
            ("//v1.41/info", "/v1.41/info"),
            ("/v1.41/x/../version", "/v1.41/version"),
            ("/v1.41/./_ping", "/v1.41/_ping"),
            ("/v1.41/networks/", "/v1.41/networks/"),
            ("/../..", "/"),
            ("/", "/"),
        ] {
            assert_eq!(clean_path(path), clean, "{path}");
        }
        assert!(redirect_unclean("/v1.41/networks/", None).is_none());
        assert!(redirect_unclean("*", None).is_none());
        let r = redirect_unclean("/v1.41//containers/json", Some("all=1")).unwrap();
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(r.headers()["location"], "/v1.41/containers/json?all=1");
    }

    #[test]
    fn path_escapes_are_decoded_as_go_does() {
        assert_eq!(
            unescape("/networks/my%20net").as_deref(),
            Some("/networks/my net")
        );
        assert_eq!(unescape("a%2Fb+c").as_deref(), Some("a/b+c"));
        assert_eq!(unescape("a%25b").as_deref(), Some("a%b"));
        assert_eq!(unescape("a%zz"), None);
        assert_eq!(unescape("a%2"), None);
        assert_eq!(escape_path("/networks/my net"), "/networks/my%20net");
        // An unclean decoded path redirects to its clean form, escaped again.
        let r = redirect_unclean("/v1.41/networks/a/../my net", None).unwrap();
        assert_eq!(r.headers()["location"], "/v1.41/networks/my%20net");
    }

    #[test]
    fn version_prefix_is_split_and_checked() {
        let (v, rest) = split_version("/v1.41/containers/json").unwrap();
        assert_eq!(v, Some(ApiVersion(1, 41)));
        assert_eq!(rest, "/containers/json");
        assert_eq!(split_version("/_ping").unwrap(), (None, "/_ping"));
        assert_eq!(split_version("/volumes").unwrap(), (None, "/volumes"));
        let too_new = split_version("/v1.99/version").unwrap_err();
        assert_eq!(
            too_new.to_string(),
            "client version 1.99 is too new. Maximum supported API version is 1.50"
        );
        assert!(split_version("/v1.11/version")
            .unwrap_err()
            .to_string()
            .contains("too old"));
    }
}
