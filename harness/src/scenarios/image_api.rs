//! Image routes' parameters and errors the other image scenarios never
//! reach, as dockerd 20.10.24 answers them (read with curl on this host):
//!
//! * `GET /images/json?all=1&digests=1` lists the fixture (by reference
//!   filter) with a `RepoDigests` key (null for a loaded image);
//! * `POST /images/create?fromSrc=-&message=M&platform=linux` imports a
//!   tar whose one history entry has `Comment` M and whose `Os` is linux;
//!   `platform=bogus`: 400 `"bogus": unknown operating system or
//!   architecture: invalid argument`;
//! * `DELETE /images/{tag}?noprune=1` untags (200 `[{"Untagged": tag}]`);
//!   deleting by ID an image two tags name: 409 `conflict: unable to
//!   delete <id12> (must be forced) - image is referenced in multiple
//!   repositories`; one a container uses: 409 `conflict: unable to delete
//!   <id12> (must be forced) - image is being used by stopped container
//!   <cid12>`; deleting its last tag: 409 `conflict: unable to remove
//!   repository reference "R" (must force) - container <cid12> is using
//!   its referenced image <id12>`, and with `force=1` 200 `[{"Untagged":
//!   R}, {"Deleted": id}]` (a stopped container does not hold it);
//! * tag: a digest as the new reference 400 `refusing to create a tag with
//!   a digest reference`; an unknown image 404 `No such image: R`; an
//!   upper-case repository 500 `invalid reference format: repository name
//!   must be lowercase`; a bad tag 500 `invalid tag format`;
//! * `POST /commit` with `author`, `comment`, `pause=0`, `changes` (`ENV
//!   X=1`, `WORKDIR /data`) and a full container config as the body: the
//!   image has that Author and Comment, and its Config is the body with
//!   the changes applied (`Env` [Y=2, X=1, PATH], `WorkingDir` /data, the
//!   image's and the container's labels merged under the body's); `changes=BOGUS x`: 400
//!   `bogus is not a valid change command`;
//! * search and distribution inspect of a registry on loopback port 1
//!   (nothing listens; never a name without a registry host, which would
//!   go to Docker Hub): search 500 `invalid registry endpoint
//!   "http://127.0.0.1:1/v1/". HTTPS attempt: Get
//!   "https://127.0.0.1:1/v1/_ping": dial tcp 127.0.0.1:1: connect:
//!   connection refused. HTTP attempt: ...` (the same for http); `limit=x`
//!   500 `strconv.Atoi: parsing "x": invalid syntax`; an unknown filter
//!   400 `Invalid filter 'bogus'`, `stars=x` 400 `Invalid filter
//!   'stars=x'`; `/distribution/127.0.0.1:1/R/json` 500 `Get
//!   "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection
//!   refused`.

use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem, COMMIT_REPO};
use crate::scenarios::containers_api::{expect_error, Made};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Value};

const AREA: &str = "images";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(AREA, "list-all-digests", true, list_all_digests),
        scenario(AREA, "list-filters", false, list_filters),
        scenario(AREA, "list-newest-first", false, list_newest_first),
        scenario(AREA, "list-all-intermediates", true, list_all_intermediates),
        scenario(AREA, "import-message-platform", false, import),
        scenario(AREA, "delete-noprune-and-conflicts", true, delete_conflicts),
        scenario(AREA, "tag-errors", true, tag_errors),
        scenario(AREA, "commit-options", true, commit_options),
        scenario(
            AREA,
            "commit-container-config",
            true,
            commit_container_config,
        ),
        scenario(
            AREA,
            "search-and-distribution-unreachable",
            false,
            unreachable,
        ),
    ]
}

fn list_all_digests(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let filters = enc(&json!({"reference": [image.tag]}).to_string());
    let resp = ctx.send(Req::get(format!(
        "/images/json?all=1&digests=1&filters={filters}"
    )))?;
    expect_status(&resp, 200, "image list with all=1&digests=1")?;
    let v = json_body(&resp, "image list")?;
    let ok = v.as_array().is_some_and(|a| {
        a.len() == 1 && a[0]["Id"] == json!(image.id) && a[0].get("RepoDigests").is_some()
    });
    if !ok {
        return Err(fail_at(
            &resp,
            format!(
                "listing {} gave {v}; dockerd: that one image, with a RepoDigests key",
                image.tag
            ),
        ));
    }
    Ok(())
}

/// A one-file tar to import.
fn layer() -> Vec<u8> {
    layer_of(b"hi\n")
}

fn layer_of(content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    let _ = b.append_data(&mut h, "f", content);
    b.into_inner().unwrap_or_default()
}

/// Imports a one-file image as `repo:tag` with the (encoded) `changes`;
/// its ID.
fn import_labelled(
    ctx: &Ctx,
    repo: &str,
    tag: &str,
    content: &str,
    changes: &str,
) -> Result<String, Problem> {
    let resp = ctx.send(
        Req::post(format!(
            "/images/create?fromSrc=-&repo={}&tag={tag}&changes={changes}",
            enc(repo)
        ))
        .raw(layer_of(content.as_bytes()), "application/x-tar"),
    )?;
    expect_status(&resp, 200, "importing a labelled image")?;
    resp.text()
        .rsplit("sha256:")
        .next()
        .map(|t| format!("sha256:{}", &t[..t.len().min(64)]))
        .filter(|i| i.len() == 71)
        .ok_or_else(|| fail_at(&resp, "the import's answer names no image ID"))
}

/// The IDs `GET /images/json?{query}` lists, in its order.
fn listed_ids(ctx: &Ctx, query: &str) -> Result<(crate::client::Response, Vec<String>), Problem> {
    let resp = ctx.send(Req::get(format!("/images/json?{query}")))?;
    expect_status(&resp, 200, &format!("listing images with {query}"))?;
    let ids = json_body(&resp, "image list")?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["Id"].as_str().map(str::to_string))
        .collect();
    Ok((resp, ids))
}

/// The image list is newest first (dockerd sorts by `Created`, in whole
/// seconds: the three imports are a second apart), with `all=1` too.
fn list_newest_first(ctx: &Ctx) -> Outcome {
    let repo = ctx.unique_name("newest");
    let mark = format!("io.shipshape.newest={repo}");
    let changes = enc(&format!(
        "LABEL {}={} {mark}",
        crate::ground::RUN_LABEL,
        ctx.run_id
    ));
    let mut ids = Vec::new();
    let res = (|| {
        for (i, tag) in ["a", "b", "c"].into_iter().enumerate() {
            if i > 0 {
                std::thread::sleep(std::time::Duration::from_millis(1100));
            }
            ids.push(import_labelled(ctx, &repo, tag, tag, &changes)?);
        }
        let want: Vec<String> = ids.iter().rev().cloned().collect();
        let filters = enc(&json!({ "label": [mark] }).to_string());
        for query in [
            format!("filters={filters}"),
            format!("all=1&filters={filters}"),
        ] {
            let (resp, got) = listed_ids(ctx, &query)?;
            if got != want {
                return Err(fail_at(
                    &resp,
                    format!("{query} listed {got:?}; dockerd lists newest first: {want:?}"),
                ));
            }
        }
        Ok(())
    })();
    for id in &ids {
        let _ = ctx.send(Req::delete(format!("/images/{}?force=1", enc(id))));
    }
    res
}

/// `all=1` adds a classic build's intermediate images (one per step, each
/// the parent of the next, `RepoTags` `["<none>:<none>"]` up to API 1.41),
/// which the default list hides; the tagged result is in both.
fn list_all_intermediates(ctx: &Ctx) -> Outcome {
    let dockerfile = format!(
        "FROM {}\n\
         RUN [\"/probe\", \"write\", \"/data/i1\", \"1\"]\n\
         RUN [\"/probe\", \"write\", \"/data/i2\", \"2\"]\n",
        ctx.image()?.tag
    );
    let b = crate::scenarios::api::build(ctx, &[("Dockerfile", &dockerfile)], "")?;
    let res = (|| {
        crate::scenarios::api::ok_build(&b)?;
        // The stream names the base, then each step's image; the last step
        // (the run's LABEL) is the result.
        let steps: Vec<&String> = b.ids.iter().skip(1).collect();
        let Some((last, middle)) = steps.split_last() else {
            return Err(fail_at(
                &b.resp,
                format!("the stream names no step images:\n{}", b.stream),
            ));
        };
        if middle.len() < 2 {
            return Err(fail_at(
                &b.resp,
                format!(
                    "the stream names {} intermediate images, expected 2 or more:\n{}",
                    middle.len(),
                    b.stream
                ),
            ));
        }
        let short = |id: &str| id.trim_start_matches("sha256:")[..12].to_string();
        let (resp, all) = listed_ids(ctx, "all=1")?;
        let all: Vec<String> = all.iter().map(|i| short(i)).collect();
        if let Some(m) = steps.iter().find(|m| !all.contains(m)) {
            return Err(fail_at(
                &resp,
                format!(
                    "all=1 does not list the build's image {m}; dockerd lists every intermediate"
                ),
            ));
        }
        let body = json_body(&resp, "image list")?;
        // RepoTags as dockerd 20.10 (API <= 1.41) shows an untagged image.
        let legacy = ctx
            .client
            .api_version()
            .unwrap_or(crate::client::MAX_API_VERSION)
            <= crate::client::ApiVersion {
                major: 1,
                minor: 41,
            };
        for m in middle.iter().filter(|_| legacy) {
            let entry = body
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["Id"].as_str().is_some_and(|i| short(i) == **m));
            if entry.map(|e| &e["RepoTags"]) != Some(&json!(["<none>:<none>"])) {
                return Err(fail_at(
                    &resp,
                    format!("all=1 lists {m} as {entry:?}; dockerd: RepoTags [\"<none>:<none>\"]"),
                ));
            }
        }
        let (resp, plain) = listed_ids(ctx, "")?;
        let plain: Vec<String> = plain.iter().map(|i| short(i)).collect();
        if !plain.contains(last) || middle.iter().any(|m| plain.contains(m)) {
            return Err(fail_at(
                &resp,
                format!("without all the list holds {:?} of the build's {steps:?}; dockerd: only the result {last}", steps.iter().filter(|s| plain.contains(s)).collect::<Vec<_>>()),
            ));
        }
        Ok(())
    })();
    crate::scenarios::api::clean(ctx, &b);
    res
}

/// Image list filters as dockerd 20.10.24 answers them (read with curl):
/// three imports labelled for this scenario, `R:a`, then `R:b`, then a
/// third as `R:a` (the first goes dangling):
/// `label` gives the three; with `dangling=true` the untagged first,
/// with `dangling=false` the two tagged; `before=R:b` the first, `since=R:b`
/// the third; `reference=R:b` just `R:b` (the order among images made in
/// one second is dockerd's sort by seconds: the sets are compared). `dangling=maybe` is 400
/// `Invalid filter 'dangling=[maybe]'`, `before` an unknown image 404
/// `No such image: R:none`.
fn list_filters(ctx: &Ctx) -> Outcome {
    let repo = ctx.unique_name("listf");
    let mark = format!("io.shipshape.list={repo}");
    let changes = enc(&format!(
        "LABEL {}={} io.shipshape.list={repo}",
        crate::ground::RUN_LABEL,
        ctx.run_id
    ));
    let mut ids = Vec::new();
    let res = (|| {
        for (tag, content) in [("a", "A\n"), ("b", "B\n"), ("a", "C\n")] {
            ids.push(import_labelled(ctx, &repo, tag, content, &changes)?);
        }
        let (first, second, third) = (&ids[0], &ids[1], &ids[2]);
        let b = format!("{repo}:b");
        let cases: [(Value, Vec<&String>); 6] = [
            (json!({"label": [mark]}), vec![third, second, first]),
            (json!({"label": [mark], "dangling": ["true"]}), vec![first]),
            (
                json!({"label": [mark], "dangling": ["false"]}),
                vec![third, second],
            ),
            (json!({"label": [mark], "before": [b]}), vec![first]),
            (json!({"label": [mark], "since": [b]}), vec![third]),
            (json!({"reference": [b]}), vec![second]),
        ];
        for (filters, want) in cases {
            let resp = ctx.send(Req::get(format!(
                "/images/json?filters={}",
                enc(&filters.to_string())
            )))?;
            expect_status(&resp, 200, "listing images with filters")?;
            let list = json_body(&resp, "image list")?;
            let got: Vec<&str> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["Id"].as_str())
                .collect();
            // Several images imported in one second: the order among them
            // is dockerd's by nanoseconds, the set is what is checked.
            let (mut g, mut w) = (got.clone(), want.clone());
            g.sort_unstable();
            w.sort_unstable();
            if g != w {
                return Err(fail_at(
                    &resp,
                    format!("filters {filters} listed {got:?}; dockerd: {want:?}"),
                ));
            }
        }
        let resp = ctx.send(Req::get(format!(
            "/images/json?filters={}",
            enc(&json!({"dangling": ["maybe"]}).to_string())
        )))?;
        expect_error(
            &resp,
            400,
            "Invalid filter 'dangling=[maybe]'",
            "dangling=maybe",
        )?;
        let none = format!("{repo}:none");
        let resp = ctx.send(Req::get(format!(
            "/images/json?filters={}",
            enc(&json!({"before": [none]}).to_string())
        )))?;
        expect_error(
            &resp,
            404,
            &format!("No such image: {none}"),
            "before an unknown image",
        )
    })();
    for id in &ids {
        let _ = ctx.send(Req::delete(format!("/images/{}?force=1", enc(id))));
    }
    res
}

fn import(ctx: &Ctx) -> Outcome {
    let repo = ctx.unique_name("import");
    let reference = format!("{repo}:1");
    ctx.record_created_image(reference.clone());
    let resp = ctx.send(
        Req::post(format!(
            "/images/create?fromSrc=-&repo={}&tag=1&message={}&platform=linux",
            enc(&repo),
            enc("shipshape import")
        ))
        .raw(layer(), "application/x-tar"),
    )?;
    expect_status(&resp, 200, "importing with message and platform")?;
    let res = (|| {
        let resp = ctx.send(Req::get(format!("/images/{}/history", enc(&reference))))?;
        expect_status(&resp, 200, "history of the import")?;
        let h = json_body(&resp, "history")?;
        if h.as_array().map(Vec::len) != Some(1) || h[0]["Comment"] != "shipshape import" {
            return Err(fail_at(
                &resp,
                format!("history {h}; dockerd: one entry with Comment \"shipshape import\""),
            ));
        }
        let v = ctx.inspect_image(&reference)?;
        if v["Os"] != "linux" || v["Comment"] != "shipshape import" {
            return Err(fail(format!(
                "the import's Os is {} and Comment {}; dockerd: linux and \"shipshape import\"",
                v["Os"], v["Comment"]
            )));
        }
        let resp = ctx.send(
            Req::post(format!(
                "/images/create?fromSrc=-&repo={}&tag=2&platform=bogus",
                enc(&repo)
            ))
            .raw(layer(), "application/x-tar"),
        )?;
        expect_error(
            &resp,
            400,
            "\"bogus\": unknown operating system or architecture: invalid argument",
            "import with platform=bogus",
        )
    })();
    let _ = ctx.send(Req::delete(format!("/images/{}", enc(&reference))));
    ctx.forget_created_image(&reference);
    res
}

/// Commits a created container of the fixture as `shipshape-commit:<tag>`.
fn commit(ctx: &Ctx, made: &mut Made, query: &str, body: Value) -> Result<String, Problem> {
    let c = made.create(ctx.probe_config(&["exit", "0"])?, None)?;
    // `<run>-<n>-commit`, as the run's other commits are tagged.
    let name = ctx.unique_name("commit");
    let tag = name.trim_start_matches("shipshape-").to_string();
    let reference = format!("{COMMIT_REPO}:{tag}");
    ctx.record_created_image(reference.clone());
    let resp = ctx.send(
        Req::post(format!(
            "/commit?container={}&repo={COMMIT_REPO}&tag={}{query}",
            enc(&c),
            enc(&tag)
        ))
        .json(body),
    )?;
    expect_status(&resp, 201, &format!("commit with {query:?}"))?;
    Ok(reference)
}

fn delete_conflicts(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let first = commit(ctx, &mut made, "", json!({}))?;
    let second = format!("{first}-2");
    ctx.record_created_image(second.clone());
    let res = (|| {
        let (repo, tag) = second.rsplit_once(':').unwrap_or_default();
        let resp = ctx.send(Req::post(format!(
            "/images/{}/tag?repo={}&tag={}",
            enc(&first),
            enc(repo),
            enc(tag)
        )))?;
        expect_status(&resp, 201, "tagging the commit again")?;
        let id = ctx.inspect_image(&first)?["Id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let short = id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect::<String>();
        let resp = ctx.send(Req::delete(format!("/images/{}", enc(&id))))?;
        expect_error(
            &resp,
            409,
            &format!(
                "conflict: unable to delete {short} (must be forced) - image is referenced in \
                 multiple repositories"
            ),
            "deleting by ID an image two tags name",
        )?;
        let resp = ctx.send(Req::delete(format!("/images/{}?noprune=1", enc(&second))))?;
        expect_status(&resp, 200, "untagging with noprune=1")?;
        let v = json_body(&resp, "image delete")?;
        if v != json!([{"Untagged": second}]) {
            return Err(fail_at(
                &resp,
                format!("delete gave {v}; dockerd: [{{\"Untagged\": \"{second}\"}}]"),
            ));
        }
        let user = made.create(ctx.probe_config_for(&first, &["exit", "0"]), None)?;
        let resp = ctx.send(Req::delete(format!("/images/{}", enc(&id))))?;
        let cshort = user.chars().take(12).collect::<String>();
        expect_error(
            &resp,
            409,
            &format!(
                "conflict: unable to delete {short} (must be forced) - image is being used by \
                 stopped container {cshort}"
            ),
            "deleting by ID an image a container uses",
        )?;
        // By its last tag: the reference is kept unless forced; forced, a
        // stopped container does not hold the image: untagged and deleted.
        let resp = ctx.send(Req::delete(format!("/images/{}", enc(&first))))?;
        expect_error(
            &resp,
            409,
            &format!(
                "conflict: unable to remove repository reference \"{first}\" (must force) - \
                 container {cshort} is using its referenced image {short}"
            ),
            "deleting the last tag of an image a stopped container uses",
        )?;
        let resp = ctx.send(Req::delete(format!("/images/{}?force=1", enc(&first))))?;
        expect_status(
            &resp,
            200,
            "force-deleting an image a stopped container uses",
        )?;
        let v = json_body(&resp, "image delete")?;
        let want = json!([{"Untagged": first}, {"Deleted": id}]);
        if v != want {
            return Err(fail_at(
                &resp,
                format!("force delete gave {v}; dockerd: {want}"),
            ));
        }
        Ok(())
    })();
    drop(made);
    for r in [&second, &first] {
        let _ = ctx.send(Req::delete(format!("/images/{}", enc(r))));
        ctx.forget_created_image(r);
    }
    res
}

fn tag_errors(ctx: &Ctx) -> Outcome {
    let image = ctx.image()?;
    let tag = |target: &str, query: &str| {
        ctx.send(Req::post(format!("/images/{}/tag?{query}", enc(target))))
    };
    let digest = format!("repo=shipshape-x@sha256:{}", "0".repeat(64));
    let resp = tag(&image.tag, &digest)?;
    expect_error(
        &resp,
        400,
        "refusing to create a tag with a digest reference",
        "tag with a digest",
    )?;
    let unknown = format!("shipshape-{}-no-such-image:1", ctx.run_id);
    let resp = tag(&unknown, "repo=shipshape-x&tag=1")?;
    expect_error(
        &resp,
        404,
        &format!("No such image: {unknown}"),
        "tag of an unknown image",
    )?;
    let resp = tag(&image.tag, "repo=SHIPSHAPE&tag=1")?;
    expect_error(
        &resp,
        500,
        "invalid reference format: repository name must be lowercase",
        "tag with an upper-case repository",
    )?;
    let resp = tag(
        &image.tag,
        &format!("repo=shipshape-x&tag={}", enc("bad:tag")),
    )?;
    expect_error(&resp, 500, "invalid tag format", "tag with a bad tag")
}

fn commit_options(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let body = json!({"Hostname": "h", "Domainname": "d", "User": "probe",
        "AttachStdin": false, "AttachStdout": true, "AttachStderr": true,
        "ExposedPorts": {"80/tcp": {}}, "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": ["Y=2"], "Cmd": ["/probe", "env"], "Healthcheck": {"Test": ["NONE"]},
        "ArgsEscaped": false, "Image": "shipshape-ignored", "Volumes": {"/v": {}},
        "WorkingDir": "/tmp", "Entrypoint": ["/probe"], "NetworkDisabled": false,
        "MacAddress": "", "OnBuild": ["RUN x"], "Labels": {"a": "b"}, "StopSignal": "SIGINT",
        "StopTimeout": 7, "Shell": ["/probe", "echo"]});
    let query = format!(
        "&author={}&comment={}&pause=0&changes={}&changes={}",
        enc("Ann Author"),
        enc("a comment"),
        enc("ENV X=1"),
        enc("WORKDIR /data")
    );
    let reference = commit(ctx, &mut made, &query, body)?;
    let res = (|| {
        let v = ctx.inspect_image(&reference)?;
        let c = &v["Config"];
        let mut fixture_labels = ctx.inspect_image(&ctx.image()?.tag)?["Config"]["Labels"].clone();
        if !fixture_labels.is_object() {
            fixture_labels = json!({});
        }
        // The container's labels (the run's) stay under the body's.
        fixture_labels["a"] = json!("b");
        fixture_labels[crate::ground::RUN_LABEL] = json!(ctx.run_id);
        let want = [
            ("Hostname", json!("h")),
            ("Domainname", json!("d")),
            ("User", json!("probe")),
            ("AttachStdout", json!(true)),
            ("ExposedPorts", json!({"80/tcp": {}})),
            (
                "Env",
                json!([
                    "Y=2",
                    "X=1",
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                ]),
            ),
            ("Cmd", json!(["/probe", "env"])),
            ("Healthcheck", json!({"Test": ["NONE"]})),
            ("Image", json!("shipshape-ignored")),
            ("Volumes", json!({"/v": {}})),
            ("WorkingDir", json!("/data")),
            ("Entrypoint", json!(["/probe"])),
            ("OnBuild", json!(["RUN x"])),
            ("Labels", fixture_labels),
            ("StopSignal", json!("SIGINT")),
            ("StopTimeout", json!(7)),
            ("Shell", json!(["/probe", "echo"])),
        ];
        for (k, w) in want {
            if c[k] != w {
                return Err(fail(format!(
                    "the commit's Config.{k} is {}; dockerd: {w}",
                    c[k]
                )));
            }
        }
        if v["Author"] != "Ann Author" || v["Comment"] != "a comment" {
            return Err(fail(format!(
                "the commit's Author {} and Comment {}; dockerd: \"Ann Author\", \"a comment\"",
                v["Author"], v["Comment"]
            )));
        }
        let c = made.create(ctx.probe_config(&["exit", "0"])?, None)?;
        let resp = ctx.send(Req::post(format!(
            "/commit?container={}&changes={}",
            enc(&c),
            enc("BOGUS x")
        )))?;
        expect_error(
            &resp,
            400,
            "bogus is not a valid change command",
            "commit with changes=BOGUS x",
        )
    })();
    drop(made);
    let _ = ctx.send(Req::delete(format!("/images/{}", enc(&reference))));
    ctx.forget_created_image(&reference);
    res
}

/// What a commit keeps of the container (docker-py's test_commit and
/// test_commit_with_changes), as dockerd 20.10.24 answers (read with
/// curl, 2026-12-04): the image's `ContainerConfig` is the container's own
/// config, untouched by the changes (`Image` as the client named it,
/// `Cmd` as created), `Container` its ID, `Parent` its image's ID. The
/// image's `Config`: without a body (or with `{}`, which names no config
/// field) the container's own config under the changes (`Image` as named,
/// its `Hostname`); with a body naming a field, the body's config under
/// the changes, completed from the container's (`Cmd`, `Env`, `Labels`...)
/// but not its `Hostname` or `Image` (both empty).
fn commit_container_config(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let image = ctx.image()?;
    let cmd = json!(["/probe", "exit", "0"]);
    let c = made.create(ctx.probe_config(&["exit", "0"])?, None)?;
    let hostname = ctx.inspect(&c)?["Config"]["Hostname"].clone();
    let mut made_images = Vec::new();
    let res = (|| {
        let mut commit_with = |query: &str, body: Option<Value>| -> Result<Value, Problem> {
            let tag = ctx
                .unique_name("commit")
                .trim_start_matches("shipshape-")
                .to_string();
            let reference = format!("{COMMIT_REPO}:{tag}");
            ctx.record_created_image(reference.clone());
            made_images.push(reference.clone());
            let mut req = Req::post(format!(
                "/commit?container={}&repo={COMMIT_REPO}&tag={}{query}",
                enc(&c),
                enc(&tag)
            ));
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = ctx.send(req)?;
            expect_status(&resp, 201, &format!("commit with {query:?}"))?;
            // As API 1.41 (docker-py's): from 1.45 inspect drops
            // `Container` and `ContainerConfig`.
            let resp = ctx
                .send(Req::get(format!("/v1.41/images/{}/json", enc(&reference))).unversioned())?;
            expect_status(&resp, 200, "image inspect as API 1.41")?;
            json_body(&resp, "image inspect")
        };
        let changes = format!(
            "&changes={}&changes={}",
            enc("EXPOSE 8000"),
            enc("CMD [\"bash\"]")
        );
        let v = commit_with(&changes, None)?;
        let check = |what: &str, got: &Value, want: &Value| -> Outcome {
            if got != want {
                return Err(fail(format!("{what} is {got}; dockerd: {want}")));
            }
            Ok(())
        };
        check("Container", &v["Container"], &json!(c))?;
        check("Parent", &v["Parent"], &json!(image.id))?;
        let cc = &v["ContainerConfig"];
        check("ContainerConfig.Image", &cc["Image"], &json!(image.tag))?;
        check("ContainerConfig.Cmd", &cc["Cmd"], &cmd)?;
        check(
            "ContainerConfig.ExposedPorts",
            &cc["ExposedPorts"],
            &Value::Null,
        )?;
        check("ContainerConfig.Hostname", &cc["Hostname"], &hostname)?;
        let conf = &v["Config"];
        check("Config.Image (no body)", &conf["Image"], &json!(image.tag))?;
        check("Config.Cmd", &conf["Cmd"], &json!(["bash"]))?;
        check(
            "Config.ExposedPorts",
            &conf["ExposedPorts"],
            &json!({"8000/tcp": {}}),
        )?;
        check("Config.Hostname (no body)", &conf["Hostname"], &hostname)?;
        let v = commit_with("", Some(json!({})))?;
        check(
            "Config.Image (body {})",
            &v["Config"]["Image"],
            &json!(image.tag),
        )?;
        check(
            "Config.Hostname (body {})",
            &v["Config"]["Hostname"],
            &hostname,
        )?;
        let v = commit_with("", Some(json!({"Env": ["B=2"]})))?;
        let conf = &v["Config"];
        check("Config.Image (a body with Env)", &conf["Image"], &json!(""))?;
        check(
            "Config.Hostname (a body with Env)",
            &conf["Hostname"],
            &json!(""),
        )?;
        check("Config.Cmd (a body with Env)", &conf["Cmd"], &cmd)?;
        if conf["Env"].get(0) != Some(&json!("B=2")) {
            return Err(fail(format!(
                "Config.Env (a body with Env) is {}; dockerd: B=2 first, then the container's",
                conf["Env"]
            )));
        }
        check(
            "ContainerConfig.Image (a body with Env)",
            &v["ContainerConfig"]["Image"],
            &json!(image.tag),
        )
    })();
    drop(made);
    for r in &made_images {
        let _ = ctx.send(Req::delete(format!("/images/{}", enc(r))));
        ctx.forget_created_image(r);
    }
    res
}

fn unreachable(ctx: &Ctx) -> Outcome {
    let term = enc("127.0.0.1:1/shipshape");
    let refused = |scheme: &str| {
        format!("Get \"{scheme}://127.0.0.1:1/v1/_ping\": dial tcp 127.0.0.1:1: connect: connection refused")
    };
    let message = format!(
        "invalid registry endpoint \"http://127.0.0.1:1/v1/\". HTTPS attempt: {}. HTTP attempt: {}",
        refused("https"),
        refused("http")
    );
    let official = enc(&json!({"is-official": ["false"]}).to_string());
    let resp = ctx.send(Req::get(format!(
        "/images/search?term={term}&limit=5&filters={official}"
    )))?;
    expect_error(&resp, 500, &message, "search of a registry nothing serves")?;
    // The range of `limit` is checked after the registry's ping, so an
    // unreachable registry is the answer even for limit=0.
    let resp = ctx.send(Req::get(format!("/images/search?term={term}&limit=0")))?;
    expect_error(
        &resp,
        500,
        &message,
        "search with limit=0 of a registry nothing serves",
    )?;
    let resp = ctx.send(Req::get(format!("/images/search?term={term}&limit=x")))?;
    expect_error(
        &resp,
        500,
        "strconv.Atoi: parsing \"x\": invalid syntax",
        "search with limit=x",
    )?;
    for (f, m) in [
        (json!({"bogus": ["x"]}), "Invalid filter 'bogus'"),
        (json!({"stars": ["x"]}), "Invalid filter 'stars=x'"),
    ] {
        let resp = ctx.send(Req::get(format!(
            "/images/search?term={term}&filters={}",
            enc(&f.to_string())
        )))?;
        expect_error(&resp, 400, m, &format!("search with filters {f}"))?;
    }
    let resp = ctx.send(Req::get("/distribution/127.0.0.1:1/shipshape:1/json"))?;
    expect_error(
        &resp,
        500,
        "Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
        "distribution inspect of a registry nothing serves",
    )
}
