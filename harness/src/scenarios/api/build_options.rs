//! `POST /build` query parameters the other build scenarios never send,
//! and `POST /build/prune`, as dockerd 20.10.24 answers them (read with
//! curl on this host):
//!
//! * `dockerfile` names the Dockerfile inside the context; `extrahosts`
//!   lands in a RUN step's /etc/hosts (`10.1.2.3\tshipshape-extra`), also
//!   with `networkmode=none`; the resource parameters (`memory`,
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
//!   'bogus'`.

use super::build_classic::{build, clean, ok_build, tar_of, want_line};
use crate::client::Req;
use crate::ground::{expect_status, fail_at, json_body, Ctx, Outcome};
use crate::scenarios::containers_api::expect_error;
use serde_json::json;

pub fn options(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let dockerfile = format!(
        "FROM {}\nRUN [\"/probe\", \"read\", \"/etc/hosts\"]\n",
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
    });
    clean(ctx, &b);
    res?;
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
    )
}
