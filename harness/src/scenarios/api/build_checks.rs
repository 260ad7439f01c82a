//! Dockerfile and platform checks of the classic builder, and the image IDs
//! its stream reports, as dockerd 20.10.24 answers (read with curl on this
//! host, 2026-12-03; found by moby's own integration tests
//! `TestBuildWithEmptyDockerfile`, `TestBuildPlatformInvalid`,
//! `TestImagePullPlatformInvalid` and `TestBuildMultiStageOnBuild`):
//! - a Dockerfile of no bytes: 400 "the Dockerfile (<name>) cannot be
//!   empty"; one of blank lines or only comments: 400 "failed to parse
//!   Dockerfile: file with no instructions";
//! - `platform=foobar` on build, and on a pull (before any registry is
//!   contacted): 400 "\"foobar\": unknown operating system or architecture:
//!   invalid argument";
//! - every stage's final image is an `{"aux":{"ID":...}}` line: three for
//!   three stages, the last one the built image;
//! - a RUN that leaves a sparse file (64 MiB, one hole) commits, and the
//!   next step sees the file whole (moby's `TestBuildWithHugeFile`, whose
//!   8 GiB sparse file dockerd builds: "Successfully built").

use serde_json::Value;

use super::build_classic::{build, clean, ok_build, tar_of};
use crate::client::{enc, Req};
use crate::ground::{fail, fail_at, Ctx, Outcome};
use crate::scenarios::containers_api::expect_error;

const BAD_PLATFORM: &str = "\"foobar\": unknown operating system or architecture: invalid argument";

pub fn dockerfile_and_platform(ctx: &Ctx) -> Outcome {
    let cases: [(&str, &str, &str); 4] = [
        ("", "", "the Dockerfile (Dockerfile) cannot be empty"),
        (
            "\n\n   \n\t\n",
            "",
            "failed to parse Dockerfile: file with no instructions",
        ),
        (
            "# only a comment",
            "",
            "failed to parse Dockerfile: file with no instructions",
        ),
        ("FROM scratch\n", "&platform=foobar", BAD_PLATFORM),
    ];
    for (dockerfile, query, message) in cases {
        let resp = ctx.send(
            Req::post(format!("/build?rm=1&forcerm=1{query}"))
                .raw(tar_of(&[("Dockerfile", dockerfile)])?, "application/x-tar"),
        )?;
        expect_error(
            &resp,
            400,
            message,
            &format!("building {dockerfile:?}{query}"),
        )?;
    }
    let img = ctx.image()?;
    let resp = ctx.send(Req::post(format!(
        "/images/create?fromImage={}&platform=foobar",
        enc(&img.tag)
    )))?;
    expect_error(&resp, 400, BAD_PLATFORM, "pulling with platform=foobar")
}

pub fn stage_ids(ctx: &Ctx) -> Outcome {
    let img = ctx.image()?;
    let dockerfile = format!(
        "FROM {base} AS one\nENV a=1\n\nFROM one\nENV b=2\n\nFROM one\nENV c=3\n",
        base = img.tag
    );
    let b = build(ctx, &[("Dockerfile", &dockerfile)], "")?;
    let result = (|| {
        ok_build(&b)?;
        let aux: Vec<String> = b
            .resp
            .text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["aux"]["ID"].as_str().map(str::to_string))
            .collect();
        if aux.len() != 3 {
            return Err(fail_at(
                &b.resp,
                format!("dockerd sends one aux ID per stage (3 here), got {aux:?}"),
            ));
        }
        let built = ctx.inspect_image(&b.tag)?["Id"].clone();
        if aux.last().map(String::as_str) != built.as_str() {
            return Err(fail(format!(
                "the last aux ID {:?} is not the built image {built}",
                aux.last()
            )));
        }
        Ok(())
    })();
    clean(ctx, &b);
    result
}

/// A sparse file in a RUN step's changes: committed, and whole in the next.
pub fn sparse_file(ctx: &Ctx) -> Outcome {
    let img = ctx.image()?;
    let size = 64 * 1024 * 1024;
    let dockerfile = format!(
        "FROM {}\nRUN [\"/probe\", \"sparse\", \"/big\", \"{size}\"]\nRUN [\"/probe\", \"stat\", \"/big\"]\n",
        img.tag
    );
    let b = build(ctx, &[("Dockerfile", &dockerfile)], "")?;
    let r = (|| {
        ok_build(&b)?;
        super::build_classic::want_line(
            &b,
            &format!("file mode=0644 size={size}"),
            "the step after the one that made a sparse file stats it",
        )?;
        super::build_classic::want(&b, "Successfully built", "dockerd finishes the build")
    })();
    clean(ctx, &b);
    r
}

/// Two RUN steps that change nothing, then one that runs on top of them
/// (docker-py's test_build_with_extra_hosts: two `ping`s, then a `cp`):
/// each adds the same empty layer, and dockerd 20.10.24 runs the third
/// step and finishes ("Successfully built"; read with curl, 2026-12-04).
pub fn run_unchanged_twice(ctx: &Ctx) -> Outcome {
    let img = ctx.image()?;
    let dockerfile = format!(
        "FROM {}\nRUN [\"/probe\", \"exit\", \"0\"]\nRUN [\"/probe\", \"echo\", \"second\"]\n\
         RUN [\"/probe\", \"echo\", \"third step ran\"]\n",
        img.tag
    );
    let b = build(ctx, &[("Dockerfile", &dockerfile)], "")?;
    let r = (|| {
        ok_build(&b)?;
        super::build_classic::want_line(
            &b,
            "third step ran",
            "the step above two unchanged ones runs",
        )?;
        super::build_classic::want(&b, "Successfully built", "dockerd finishes the build")
    })();
    clean(ctx, &b);
    r
}
