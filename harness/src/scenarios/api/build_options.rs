//! `POST /build` query parameters the other build scenarios never send,
//! and `POST /build/prune`, as dockerd 20.10.24 answers them (read with
//! curl on this host):
//!
//! * `dockerfile` names the Dockerfile inside the context; `extrahosts`
//!   lands in a RUN step's /etc/hosts (`10.1.2.3\tshipshape-extra`), also
//!   with `networkmode=none`, where the step has only `lo` (2026-12-04:
//!   `networkmode` is the step container's NetworkMode); a `networkmode`
//!   naming no network fails the RUN step after "Running in": the stream
//!   ends with "Removing intermediate container <id>" (forcerm) and
//!   `{"errorDetail":{"message":"network <name> not found"},"error":...}`;
//!   the resource parameters (`memory`,
//!   `memswap`, `cpushares`, `cpusetcpus`, `cpuperiod`, `cpuquota`,
//!   `shmsize`), `platform=linux`, `version=1` and an empty `outputs` are
//!   taken and the build succeeds;
//! * `q=1` (with `pull=1` on `FROM scratch`, which pulls nothing) streams
//!   only `{"stream":"sha256:<id>\n"}`;
//! * `squash=1` on a daemon without experimental features: 400 `squash is
//!   only supported with experimental mode`; `platform=bogus`: 400
//!   `"bogus": unknown operating system or architecture: invalid
//!   argument`; `version=7`: 500 `invalid version "7"`; a `remote` URL
//!   nothing answers (loopback port 1): 500 `error downloading remote
//!   context URL: Get "URL": dial tcp 127.0.0.1:1: connect: connection
//!   refused`;
//! * `/build/prune?all=1&keep-storage=<1 TB>&filters={"id":[<nothing>]}`
//!   deletes nothing: 200 `{"CachesDeleted":null,"SpaceReclaimed":0}`;
//!   `keep-storage=x` 500 `keep-storage is in bytes and expects an
//!   integer, got x: strconv.Atoi: parsing "x": invalid syntax`; an
//!   unknown filter 400 `failed to prune build cache: Invalid filter
//!   'bogus'`; `until=2020-01-01` 500 `failed to prune build cache:
//!   "until" filter expects a duration (e.g., '24h'): time: unknown unit
//!   "-" in duration "2020-01-01"`; `until` with `unused-for` 400
//!   `... conflicting filters: "until" and "unused-for"`; two values 400
//!   `... filters expect only one value`.

use super::build_classic::{build, clean, ok_build, tar_of, want, want_line};
use crate::client::Req;
use crate::ground::{expect_status, fail_at, json_body, Ctx, Outcome};
use crate::scenarios::containers_api::expect_error;
use serde_json::json;

pub fn options(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let dockerfile = format!(
        "FROM {}\nRUN [\"/probe\", \"read\", \"/etc/hosts\", \"--\", \"ls\", \"/sys/class/net\"]\n",
        image.tag
    );
    let b = build(
        ctx,
        &[("sub/Custom.Dockerfile", &dockerfile)],
        "&dockerfile=sub/Custom.Dockerfile&extrahosts=shipshape-extra:10.1.2.3\
         &networkmode=none&shmsize=1048576&memory=67108864&memswap=134217728\
         &cpushares=512&cpusetcpus=0&cpuperiod=100000&cpuquota=50000&platform=linux\
         &version=1&outputs=&nocache=1",
    )?;
    let res = ok_build(&b).and_then(|()| {
        want_line(
            &b,
            "10.1.2.3\tshipshape-extra",
            "extrahosts in a RUN step's /etc/hosts",
        )
        .and_then(|()| want_line(&b, "lo", "networkmode=none: the RUN step's interfaces"))
        .and_then(|()| {
            if b.stream.lines().any(|l| l.trim_end() == "eth0") {
                Err(fail_at(
                    &b.resp,
                    format!(
                        "networkmode=none: the RUN step has an eth0; dockerd: only lo\n{}",
                        b.stream
                    ),
                ))
            } else {
                Ok(())
            }
        })
    });
    clean(ctx, &b);
    res?;
    let missing = ctx.unique_name("no-such-network");
    let b = build(
        ctx,
        &[("Dockerfile", &dockerfile)],
        &format!("&networkmode={missing}"),
    )?;
    clean(ctx, &b);
    expect_status(&b.resp, 200, "building with networkmode naming no network")?;
    let msg = format!("network {missing} not found");
    let want_error = json!({"errorDetail": {"message": msg}, "error": msg});
    if b.error.as_ref() != Some(&want_error) {
        return Err(fail_at(
            &b.resp,
            format!(
                "networkmode={missing}: error line {:?}; dockerd sends {want_error}",
                b.error
            ),
        ));
    }
    want(
        &b,
        "Removing intermediate container",
        "networkmode naming no network, with forcerm",
    )?;
    let b = build(
        ctx,
        &[("Dockerfile", "FROM scratch\nCOPY f /f\n"), ("f", "x")],
        "&q=1&pull=1",
    )?;
    let quiet = b.resp.text();
    let res = ok_build(&b).and_then(|()| {
        let v: Vec<serde_json::Value> = quiet
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let id_only = v.len() == 1
            && v[0]["stream"].as_str().is_some_and(|s| {
                s.strip_prefix("sha256:")
                    .and_then(|h| h.strip_suffix('\n'))
                    .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
            });
        if id_only {
            Ok(())
        } else {
            Err(fail_at(
                &b.resp,
                format!("q=1 streamed {quiet:?}; dockerd: only {{\"stream\":\"sha256:<id>\\n\"}}"),
            ))
        }
    });
    clean(ctx, &b);
    res?;
    let context = || tar_of(&[("Dockerfile", "FROM scratch\n")]);
    let refused: [(&str, u16, &str); 3] = [
        (
            "squash=1",
            400,
            "squash is only supported with experimental mode",
        ),
        (
            "platform=bogus",
            400,
            "\"bogus\": unknown operating system or architecture: invalid argument",
        ),
        ("version=7", 500, "invalid version \"7\""),
    ];
    for (query, status, message) in refused {
        let resp =
            ctx.send(Req::post(format!("/build?{query}")).raw(context()?, "application/x-tar"))?;
        expect_error(&resp, status, message, &format!("build with {query}"))?;
    }
    let url = "http://127.0.0.1:1/ctx.tar";
    let resp = ctx.send(Req::post(format!("/build?remote={url}")))?;
    expect_error(
        &resp,
        500,
        &format!(
            "error downloading remote context {url}: Get \"{url}\": dial tcp 127.0.0.1:1: \
             connect: connection refused"
        ),
        "build from a remote nothing serves",
    )
}

pub fn prune(ctx: &Ctx) -> Outcome {
    // Deletes nothing: an id filter no cache record has, and a limit far
    // above what any cache holds.
    let filters = json!({"id": [ctx.unique_name("no-such-cache")]}).to_string();
    let resp = ctx.send(Req::post(format!(
        "/build/prune?all=1&keep-storage=1000000000000&filters={}",
        crate::client::enc(&filters)
    )))?;
    expect_status(&resp, 200, "build prune that matches nothing")?;
    let v = json_body(&resp, "build prune")?;
    let want = json!({"CachesDeleted": null, "SpaceReclaimed": 0});
    if v != want {
        return Err(fail_at(
            &resp,
            format!("build prune gave {v}; dockerd: {want}"),
        ));
    }
    let resp = ctx.send(Req::post("/build/prune?keep-storage=x"))?;
    expect_error(
        &resp,
        500,
        "keep-storage is in bytes and expects an integer, got x: strconv.Atoi: parsing \"x\": \
         invalid syntax",
        "build prune with keep-storage=x",
    )?;
    let bogus = crate::client::enc(&json!({"bogus": ["x"]}).to_string());
    let resp = ctx.send(Req::post(format!("/build/prune?filters={bogus}")))?;
    expect_error(
        &resp,
        400,
        "failed to prune build cache: Invalid filter 'bogus'",
        "build prune with an unknown filter",
    )?;
    let checks: [(serde_json::Value, u16, &str); 3] = [
        (
            json!({"until": ["2020-01-01"]}),
            500,
            "failed to prune build cache: \"until\" filter expects a duration (e.g., '24h'): \
             time: unknown unit \"-\" in duration \"2020-01-01\"",
        ),
        (
            json!({"until": ["24h"], "unused-for": ["1h"]}),
            400,
            "failed to prune build cache: conflicting filters: \"until\" and \"unused-for\"",
        ),
        (
            json!({"unused-for": ["24h", "1h"]}),
            400,
            "failed to prune build cache: filters expect only one value",
        ),
    ];
    for (filters, status, message) in checks {
        let q = crate::client::enc(&filters.to_string());
        let resp = ctx.send(Req::post(format!("/build/prune?filters={q}")))?;
        expect_error(
            &resp,
            status,
            message,
            &format!("build prune with {filters}"),
        )?;
    }
    Ok(())
}

/// A one-thread HTTP server on 127.0.0.1 for the remote context scenarios:
/// each path's status, content type and body, or (`redirects`) its
/// redirect status and `Location`; it serves `n` requests, then stops (the
/// listener is dropped with it).
fn serve(
    routes: Vec<(&'static str, u16, &'static str, Vec<u8>)>,
    redirects: Vec<(&'static str, u16, &'static str)>,
    n: usize,
) -> Result<(String, std::thread::JoinHandle<()>), crate::ground::Problem> {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| crate::ground::fail(format!("binding a context server: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| crate::ground::fail(format!("context server address: {e}")))?;
    let handle = std::thread::spawn(move || {
        for conn in listener.incoming().take(n) {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(30)));
            let mut first = String::new();
            let mut rd = BufReader::new(match conn.try_clone() {
                Ok(c) => c,
                Err(_) => continue,
            });
            if rd.read_line(&mut first).is_err() {
                continue;
            }
            let mut line = String::new();
            while rd.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = first.split(' ').nth(1).unwrap_or("");
            if let Some((_, status, location)) = redirects.iter().find(|r| r.0 == path) {
                let head = format!(
                    "HTTP/1.1 {status} Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = conn.write_all(head.as_bytes());
                continue;
            }
            let (status, ctype, body) = routes
                .iter()
                .find(|r| r.0 == path)
                .map(|r| (r.1, r.2, r.3.clone()))
                .unwrap_or((404, "text/plain", b"nothing here".to_vec()));
            let reason = if status == 200 { "OK" } else { "Not Found" };
            let head = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
    });
    Ok((format!("http://{addr}"), handle))
}

/// `POST /build?remote=URL` with an http URL, as dockerd 20.10.24 answers
/// (read with curl against a server on 127.0.0.1): a `text/plain` body is
/// the Dockerfile (the stream starts with the download's progress,
/// `{"status":URL,"progressDetail":{"current":N},"progress":"     NB","id":"Downloading context"}`,
/// then `{}`); an `application/x-tar` body is the context; `text/html` is
/// 500 `error detecting content type for remote URL: unsupported
/// Content-Type "text/html"`; a 404 is 404 `error downloading remote
/// context URL: failed to GET URL with status 404 Not Found: <body>`; a URL
/// of another scheme 500 `remoteURL (X) could not be recognized as URL`.
/// Needs the daemon on this machine (it fetches from the harness's
/// loopback): skipped for a remote endpoint.
/// What the remote-context servers serve: a Dockerfile alone, and a
/// context tarball whose Dockerfile copies its file `f`. Skips unless the
/// endpoint is on this machine (the daemon fetches from our loopback).
fn remote_files(ctx: &Ctx) -> Result<(String, Vec<u8>), crate::ground::Problem> {
    if !matches!(ctx.client.target(), crate::client::Target::Unix(_)) {
        return Err(crate::ground::Problem::Skip(
            "the daemon must reach the harness's loopback (a unix socket endpoint)".into(),
        ));
    }
    let label = format!("LABEL {}={}\n", crate::ground::RUN_LABEL, ctx.run_id);
    let copy = format!("FROM scratch\nCOPY f /f\n{label}");
    let tar = tar_of(&[("Dockerfile", copy.as_str()), ("f", "x")])?;
    Ok((format!("FROM scratch\n{label}"), tar))
}

pub fn remote_context(ctx: &Ctx) -> Outcome {
    let (dockerfile, tar) = remote_files(ctx)?;
    let routes = vec![
        (
            "/Dockerfile",
            200,
            "text/plain",
            dockerfile.clone().into_bytes(),
        ),
        ("/ctx.tar", 200, "application/x-tar", tar),
        ("/page.html", 200, "text/html", b"<html>x</html>".to_vec()),
    ];
    let (base, server) = serve(routes, Vec::new(), 4)?;
    let result = (|| {
        let tag = format!("{}:latest", ctx.unique_name("remote"));
        ctx.record_created_image(tag.clone());
        let url = format!("{base}/Dockerfile");
        let resp = ctx.send(Req::post(format!(
            "/build?t={}&remote={}",
            crate::client::enc(&tag),
            crate::client::enc(&url)
        )))?;
        expect_status(&resp, 200, "build of a remote Dockerfile")?;
        let text = resp.text();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let size = dockerfile.len();
        let want_first = json!({"status": url, "progressDetail": {"current": size},
            "progress": format!("{:>8}", format!("{size}B")), "id": "Downloading context"});
        if lines.first() != Some(&want_first)
            || lines.get(1) != Some(&json!({}))
            || !text.contains("Successfully tagged")
        {
            return Err(fail_at(
                &resp,
                format!("remote Dockerfile build streamed {text:?}; dockerd: {want_first}, {{}}, then the build, tagged"),
            ));
        }
        let _ = ctx.send(Req::delete(format!("/images/{}", crate::client::enc(&tag))));
        let tag = format!("{}:latest", ctx.unique_name("remote-tar"));
        ctx.record_created_image(tag.clone());
        let resp = ctx.send(Req::post(format!(
            "/build?t={}&remote={}",
            crate::client::enc(&tag),
            crate::client::enc(&format!("{base}/ctx.tar"))
        )))?;
        expect_status(&resp, 200, "build of a remote tar context")?;
        let text = resp.text();
        if !text.contains("Step 2/3 : COPY f /f") || !text.contains("Successfully tagged") {
            return Err(fail_at(
                &resp,
                format!("remote tar build streamed {text:?}; dockerd: the COPY step, tagged"),
            ));
        }
        let _ = ctx.send(Req::delete(format!("/images/{}", crate::client::enc(&tag))));
        let page = format!("{base}/page.html");
        let resp = ctx.send(Req::post(format!(
            "/build?remote={}",
            crate::client::enc(&page)
        )))?;
        expect_error(
            &resp,
            500,
            &format!("error detecting content type for remote {page}: unsupported Content-Type \"text/html\""),
            "a remote HTML page",
        )?;
        let missing = format!("{base}/missing");
        let resp = ctx.send(Req::post(format!(
            "/build?remote={}",
            crate::client::enc(&missing)
        )))?;
        expect_error(
            &resp,
            404,
            &format!(
                "error downloading remote context {missing}: failed to GET {missing} with status \
                 404 Not Found: nothing here"
            ),
            "a remote context that is not there",
        )?;
        let resp = ctx.send(Req::post("/build?remote=ftp%3A%2F%2F127.0.0.1%2Fx"))?;
        expect_error(
            &resp,
            500,
            "remoteURL (ftp://127.0.0.1/x) could not be recognized as URL",
            "a remote of another scheme",
        )
    })();
    // Requests the failure above never made, so the server's loop ends.
    finish(&base, server, 4);
    result
}

/// Ends a context server that still waits for requests a failure never
/// made (or a daemon that follows fewer redirects never sent): requests
/// until it stops, at most the `n` it serves, so it ends whatever the
/// daemon did.
fn finish(base: &str, server: std::thread::JoinHandle<()>, n: usize) {
    for _ in 0..n {
        if server.is_finished() {
            break;
        }
        let Ok(mut c) = std::net::TcpStream::connect(base.trim_start_matches("http://")) else {
            break;
        };
        use std::io::{Read, Write};
        let _ = c.write_all(b"GET /done HTTP/1.0\r\n\r\n");
        let _ = c.read_to_end(&mut Vec::new());
    }
    let _ = server.join();
}

/// `POST /build?remote=URL` where the URL redirects, as dockerd 20.10.24
/// follows it (Go's client; read with curl against a loopback server,
/// 2026-12-04): a 301 to a path, a 302 to a relative `Location` and a 307
/// to another redirect all build what they lead to, the download's
/// progress line naming the URL asked for; a redirect to nothing is 404
/// `error downloading remote context URL: failed to GET URL with status
/// 404 Not Found: <body>` with the URL asked for; a redirect to itself
/// stops at Go's tenth request: 500 `error downloading remote context
/// URL: Get "/loop": stopped after 10 redirects` (the `Location` as sent).
pub fn remote_context_redirects(ctx: &Ctx) -> Outcome {
    let (dockerfile, tar) = remote_files(ctx)?;
    let routes = vec![
        (
            "/Dockerfile",
            200,
            "text/plain",
            dockerfile.clone().into_bytes(),
        ),
        ("/ctx/ctx.tar", 200, "application/x-tar", tar),
    ];
    let redirects = vec![
        ("/r301", 301, "/Dockerfile"),
        ("/ctx/r302", 302, "ctx.tar"),
        ("/r307", 307, "/r301"),
        ("/gone", 302, "/missing"),
        ("/loop", 302, "/loop"),
    ];
    // 2 + 2 + 3 + 2 requests, and Go's 10 for the loop.
    let total = 19;
    let (base, server) = serve(routes, redirects, total)?;
    let build = |path: &str,
                 tag: Option<&str>|
     -> Result<crate::client::Response, crate::ground::Problem> {
        let url = format!("{base}{path}");
        let mut q = format!("/build?remote={}", crate::client::enc(&url));
        if let Some(t) = tag {
            ctx.record_created_image(t.to_string());
            q.push_str(&format!("&t={}", crate::client::enc(t)));
        }
        ctx.send(Req::post(q))
    };
    let result = (|| {
        for (path, copies) in [("/r301", false), ("/ctx/r302", true), ("/r307", false)] {
            let tag = format!("{}:latest", ctx.unique_name("remote-redirect"));
            let resp = build(path, Some(&tag))?;
            expect_status(
                &resp,
                200,
                &format!("build of a remote context behind {path}"),
            )?;
            let text = resp.text();
            let first: Option<serde_json::Value> = text
                .lines()
                .next()
                .and_then(|l| serde_json::from_str(l).ok());
            let want_status = format!("{base}{path}");
            let ok = first
                .as_ref()
                .is_some_and(|f| f["status"] == json!(want_status))
                && text.contains("Successfully tagged")
                && (!copies || text.contains("COPY f /f"));
            if !ok {
                return Err(fail_at(
                    &resp,
                    format!(
                        "the build behind {path} streamed {text:?}; dockerd follows the redirect: \
                         progress for {want_status}, {}then tagged",
                        if copies { "the COPY step, " } else { "" }
                    ),
                ));
            }
            let _ = ctx.send(Req::delete(format!("/images/{}", crate::client::enc(&tag))));
        }
        let resp = build("/gone", None)?;
        let gone = format!("{base}/gone");
        expect_error(
            &resp,
            404,
            &format!(
                "error downloading remote context {gone}: failed to GET {gone} with status \
                 404 Not Found: nothing here"
            ),
            "a redirect to nothing",
        )?;
        let resp = build("/loop", None)?;
        expect_error(
            &resp,
            500,
            &format!(
                "error downloading remote context {base}/loop: Get \"/loop\": stopped after 10 redirects"
            ),
            "a redirect to itself",
        )
    })();
    finish(&base, server, total);
    result
}
