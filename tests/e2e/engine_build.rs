//! `DOCKER_BUILDKIT=0 docker build` (the classic builder) against
//! `shipshape-engine`, driven by the real docker CLI. Needs root.

use shipshape_tests::{ok, run, stderr, stdout, Engine};

fn build(e: &Engine, ctx: &std::path::Path, tag: &str) -> std::process::Output {
    run(e
        .docker()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-t", tag])
        .arg(ctx))
}

#[test]
fn classic_build_copy_run_env_cmd_then_run() {
    let e = Engine::start();
    e.load_fixture();
    let ctx = e.dir.path().join("ctx");
    std::fs::create_dir_all(ctx.join("sub")).unwrap();
    std::fs::write(ctx.join("hello.txt"), "hello from the context\n").unwrap();
    std::fs::write(ctx.join("sub/inner"), "inner\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM probe:e2e\n\
         # a comment\n\
         COPY hello.txt /data/hello.txt\n\
         COPY sub /data/sub/\n\
         RUN [\"/probe\", \"write\", \"/made-by-run\", \"run-output\"]\n\
         ENV GREETING=hi \\\n    OTHER=\"two words\"\n\
         LABEL stage=e2e\n\
         CMD [\"/probe\", \"read\", \"/data/hello.txt\"]\n",
    )
    .unwrap();
    let o = build(&e, &ctx, "built:e2e");
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "build failed\nstdout: {out}\nstderr: {}",
        stderr(&o)
    );
    assert!(out.contains("Step 1/7 : FROM probe:e2e"), "{out}");
    assert!(out.contains(" ---> Running in "), "{out}");
    assert!(out.contains("Successfully built "), "{out}");
    assert!(out.contains("Successfully tagged built:e2e"), "{out}");

    // CMD from the Dockerfile, file from COPY.
    let ran = ok(e.docker().args(["run", "--rm", "built:e2e"]));
    assert_eq!(ran, "hello from the context");
    // RUN's change is in the image, and so are ENV and the copied directory.
    let made = ok(e
        .docker()
        .args(["run", "--rm", "built:e2e", "/probe", "read", "/made-by-run"]));
    assert_eq!(made, "run-output");
    let inner = ok(e.docker().args([
        "run",
        "--rm",
        "built:e2e",
        "/probe",
        "read",
        "/data/sub/inner",
    ]));
    assert_eq!(inner, "inner");
    let env = ok(e
        .docker()
        .args(["run", "--rm", "built:e2e", "/probe", "env"]));
    assert!(env.contains("GREETING=hi"), "env: {env}");
    assert!(env.contains("OTHER=two words"), "env: {env}");
    let label = ok(e.docker().args([
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"stage\"}}",
        "built:e2e",
    ]));
    assert_eq!(label, "e2e");
    // No intermediate containers are left behind.
    assert_eq!(ok(e.docker().args(["ps", "-aq"])), "");

    // History: config-only steps are empty layers, RUN made a layer.
    let hist = ok(e.docker().args([
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Size}}",
        "built:e2e",
    ]));
    let lines: Vec<&str> = hist.lines().collect();
    assert_eq!(lines.len(), 7, "history: {hist}");
    assert!(
        lines[0].contains("#(nop)  CMD [\"/probe\" \"read\" \"/data/hello.txt\"]"),
        "{hist}"
    );
    assert!(
        lines[3].contains("/probe write /made-by-run run-output"),
        "{hist}"
    );

    // A second build is served from the cache.
    let o = build(&e, &ctx, "built:again");
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains("Using cache"), "{out}");
    let id1 = ok(e
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", "built:e2e"]));
    let id2 = ok(e
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", "built:again"]));
    assert_eq!(id1, id2);
}

#[test]
fn classic_build_errors_are_reported() {
    let e = Engine::start();
    e.load_fixture();
    let ctx = e.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();

    // A failing RUN: docker build fails with dockerd's message and code.
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM probe:e2e\nRUN [\"/probe\", \"exit\", \"3\"]\n",
    )
    .unwrap();
    let o = build(&e, &ctx, "fails:e2e");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("The command '/probe exit 3' returned a non-zero code: 3"),
        "stderr: {}",
        stderr(&o)
    );
    // Without --force-rm the failed step's container stays, as with dockerd.
    let left = ok(e.docker().args(["ps", "-aq"]));
    assert_eq!(left.lines().count(), 1, "ps: {left}");
    ok(e.docker().args(["rm", left.trim()]));

    // An unknown instruction is refused before the build starts.
    std::fs::write(ctx.join("Dockerfile"), "FROM probe:e2e\nBOGUS x\n").unwrap();
    let o = build(&e, &ctx, "fails:e2e");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unknown instruction: BOGUS"),
        "stderr: {}",
        stderr(&o)
    );

    // COPY of something outside the context is not found.
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM probe:e2e\nCOPY ../../etc/passwd /x\n",
    )
    .unwrap();
    let o = build(&e, &ctx, "fails:e2e");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("file not found in build context"),
        "stderr: {}",
        stderr(&o)
    );
}
