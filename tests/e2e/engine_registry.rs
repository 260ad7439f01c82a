//! Pull, push and login against registries: Debian's `docker-registry`
//! (plain, basic auth, TLS from a throwaway CA) through the docker CLI,
//! against the engine as against dockerd; and a scripted registry for the
//! failures a real one will not produce (wrong digests, truncated and
//! hostile layers, oversized manifests, a stall to kill the engine in),
//! each compared with dockerd's answer and checked to leave nothing stored.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use shipshape_tests::http::Request;
use shipshape_tests::registry::{
    self, sha256_digest, BlobFault, FakeContent, FakeRegistry, Registry, RegistryOptions,
};
use shipshape_tests::{ok, run, stderr, stdout, Engine};

const DOCKERD: &str = "unix:///var/run/docker.sock";

/// A ustar entry (regular file) with any name, `../` included.
fn tar_file(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn tar_end(mut t: Vec<u8>) -> Vec<u8> {
    t.extend_from_slice(&[0u8; 1024]);
    t
}

/// An OCI image of uncompressed layers: (manifest, config, blobs by digest).
fn oci_image(layers: &[Vec<u8>], tag_note: &str) -> (Vec<u8>, Vec<u8>, HashMap<String, Vec<u8>>) {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256_digest(l)).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"note": tag_note}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("config");
    let config_digest = sha256_digest(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": layers.iter().zip(&diff_ids).map(|(l, d)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": l.len()
        })).collect::<Vec<_>>(),
    }))
    .expect("manifest");
    let mut blobs = HashMap::new();
    blobs.insert(config_digest, config.clone());
    for (l, d) in layers.iter().zip(&diff_ids) {
        blobs.insert(d.clone(), l.clone());
    }
    (manifest, config, blobs)
}

/// Pulls `image:tag` through the API on `socket`; returns (status, the
/// error: the message of an error status, or of the stream's error line).
fn api_pull(socket: &std::path::Path, image: &str, tag: &str) -> (u16, String) {
    let target = format!("/v1.41/images/create?fromImage={image}&tag={tag}");
    let mut req = Request::new("POST", &target);
    req.timeout = Duration::from_secs(120);
    let resp = req.send(socket).expect("pull request");
    let text = resp.text();
    let err = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| {
            v.get("error")
                .or_else(|| v.get("message"))
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    (resp.status, err)
}

fn layer_dirs(engine: &Engine) -> Vec<String> {
    std::fs::read_dir(engine.data_root.join("image/layers"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn image_count(engine: &Engine) -> usize {
    let out = ok(engine.docker().args(["images", "-aq"]));
    out.lines().filter(|l| !l.trim().is_empty()).count()
}

#[test]
fn scripted_failures_answer_as_dockerd_and_store_nothing() {
    let good = tar_end(tar_file("ok.txt", b"fine\n"));
    let hostile = tar_end(tar_file("../../escaped.txt", b"out\n"));
    let (m_ok, _, mut blobs) = oci_image(std::slice::from_ref(&good), "mismatch");
    let (m_host, _, b_host) = oci_image(std::slice::from_ref(&hostile), "hostile");
    let other = tar_end(tar_file("other.txt", b"other layer\n"));
    let (m_trunc, _, b_trunc) = oci_image(std::slice::from_ref(&other), "truncated");
    blobs.extend(b_host);
    blobs.extend(b_trunc);
    let mut content = FakeContent::default();
    let oci = "application/vnd.oci.image.manifest.v1+json".to_string();
    // Mismatch: the layer's bytes are not what its digest says.
    let good_digest = sha256_digest(&good);
    let mut content_blobs = blobs.clone();
    content_blobs.insert(
        good_digest.clone(),
        tar_end(tar_file("ok.txt", b"tampered\n")),
    );
    content.blobs = content_blobs;
    content
        .manifests
        .insert("t/mismatch/v1".into(), (oci.clone(), m_ok));
    content
        .manifests
        .insert("t/hostile/v1".into(), (oci.clone(), m_host));
    content
        .manifests
        .insert("t/truncated/v1".into(), (oci.clone(), m_trunc));
    content
        .faults
        .insert(sha256_digest(&other), BlobFault::Truncate);
    // Oversized: a manifest of 5 MiB (padding is valid JSON whitespace).
    let mut big = b"{\"schemaVersion\": 2".to_vec();
    big.extend(std::iter::repeat_n(b' ', 5 << 20));
    big.push(b'}');
    content
        .manifests
        .insert("t/oversized/v1".into(), (oci.clone(), big));
    let fake = FakeRegistry::start(content);

    let engine = Engine::start();
    let dockerd_sock = std::path::Path::new("/var/run/docker.sock");
    // (An unknown manifest is checked against the real registry: the harness.)
    {
        let (name, want_status) = ("mismatch", 200);
        let image = format!("{}/t/{name}", fake.host);
        let (es, em) = api_pull(&engine.socket, &image, "v1");
        let (ds, dm) = api_pull(dockerd_sock, &image, "v1");
        assert_eq!(
            (es, ds),
            (want_status, want_status),
            "{name}: engine {em:?}, dockerd {dm:?}"
        );
        assert!(!em.is_empty(), "{name}: the engine reported no error");
        assert_eq!(
            em, dm,
            "{name}: the engine's message differs from dockerd's"
        );
    }
    // A layer with `../../escaped.txt`: dockerd confines it to the layer
    // (the store's hostile-tar rules do the same), and the pull succeeds.
    let image = format!("{}/t/hostile", fake.host);
    let (es, em) = api_pull(&engine.socket, &image, "v1");
    let (ds, dm) = api_pull(dockerd_sock, &image, "v1");
    let _ = Request::new("DELETE", &format!("/v1.41/images/{image}:v1")).send(dockerd_sock);
    assert_eq!(
        (es, em.as_str()),
        (ds, dm.as_str()),
        "hostile layer: engine vs dockerd"
    );
    let hostile_hex = sha256_digest(&hostile)
        .trim_start_matches("sha256:")
        .to_string();
    assert!(engine
        .data_root
        .join("image/layers")
        .join(&hostile_hex)
        .join("diff/escaped.txt")
        .exists());
    let del = Request::new("DELETE", &format!("/v1.41/images/{image}:v1"))
        .send(&engine.socket)
        .expect("delete");
    assert_eq!(del.status, 200, "{}", del.text());
    // Truncated and oversized: the engine fails cleanly (dockerd retries a
    // truncated download for tens of seconds, so it is not asked here).
    let (s, m) = api_pull(&engine.socket, &format!("{}/t/truncated", fake.host), "v1");
    assert_eq!(s, 200, "{m}");
    assert!(
        m.contains("unexpected EOF") || m.contains("verification failed"),
        "{m}"
    );
    let (s, m) = api_pull(&engine.socket, &format!("{}/t/oversized", fake.host), "v1");
    assert!(
        s >= 400 || !m.is_empty(),
        "an oversized manifest must be refused: {s} {m}"
    );
    assert!(m.contains("too large"), "{m}");

    assert_eq!(image_count(&engine), 0, "a failed pull left an image");
    assert_eq!(
        layer_dirs(&engine),
        Vec::<String>::new(),
        "a failed pull left layers"
    );
    assert!(
        !engine.data_root.join("escaped.txt").exists()
            && !engine.data_root.join("image/escaped.txt").exists(),
        "the hostile layer escaped"
    );
}

#[test]
fn killed_mid_pull_leaves_no_image_and_no_partial_layer() {
    let small = tar_end(tar_file("a.txt", b"first\n"));
    let mut bigdata = Vec::new();
    for i in 0..(4u32 << 20) / 4 {
        bigdata.extend_from_slice(&i.to_le_bytes());
    }
    let big = tar_end(tar_file("big.bin", &bigdata));
    let (m, _, blobs) = oci_image(&[small.clone(), big.clone()], "killed");
    let mut content = FakeContent {
        blobs,
        ..FakeContent::default()
    };
    content.manifests.insert(
        "t/killed/v1".into(),
        ("application/vnd.oci.image.manifest.v1+json".into(), m),
    );
    content.faults.insert(sha256_digest(&big), BlobFault::Stall);
    let fake = FakeRegistry::start(content);
    let mut engine = Engine::start();
    let socket = engine.socket.clone();
    let image = format!("{}/t/killed", fake.host);
    let puller = std::thread::spawn(move || api_pull(&socket, &image, "v1"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !fake.stalled.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "the pull never reached the stalled layer"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    engine.crash();
    let _ = puller.join();
    engine.spawn();
    assert_eq!(image_count(&engine), 0, "a killed pull left an image");
    let small_hex = sha256_digest(&small)
        .trim_start_matches("sha256:")
        .to_string();
    for d in layer_dirs(&engine) {
        // Only complete layers may remain (the small one may have finished).
        assert_eq!(d, small_hex, "a partial layer survived the crash: {d}");
        assert!(engine
            .data_root
            .join("image/layers")
            .join(&d)
            .join("meta.json")
            .exists());
    }
}

/// `docker login/push/pull/logout` against `host` through the CLI, with
/// its own client config; returns the pushed digest line and the pulled ID.
fn cli_round_trip(
    docker_host: &str,
    config: &std::path::Path,
    reg: &str,
    user: &str,
    pass: &str,
    image: &str,
    repo: &str,
) -> String {
    let docker = || {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", docker_host)
            .env("DOCKER_CONFIG", config);
        c
    };
    // Wrong password first: refused with the registry's 401.
    let bad = run(docker().args(["login", reg, "-u", user, "-p", "wrong"]));
    assert!(
        !bad.status.success(),
        "login with a wrong password succeeded"
    );
    assert!(
        stderr(&bad).contains("401 Unauthorized"),
        "{}",
        stderr(&bad)
    );
    let out = ok(docker().args(["login", reg, "-u", user, "-p", pass]));
    assert!(out.contains("Login Succeeded"), "{out}");
    ok(docker().args(["tag", image, &format!("{repo}:v1")]));
    let pushed = ok(docker().args(["push", &format!("{repo}:v1")]));
    let line = pushed
        .lines()
        .find(|l| l.starts_with("v1: digest: sha256:"))
        .unwrap_or_else(|| panic!("no digest line in {pushed}"))
        .to_string();
    ok(docker().args(["rmi", &format!("{repo}:v1")]));
    ok(docker().args(["pull", &format!("{repo}:v1")]));
    let id = ok(docker().args([
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &format!("{repo}:v1"),
    ]));
    ok(docker().args(["rmi", &format!("{repo}:v1")]));
    ok(docker().args(["logout", reg]));
    let after = run(docker().args(["pull", &format!("{repo}:v1")]));
    assert!(
        !after.status.success(),
        "pulled without credentials after logout"
    );
    assert!(
        stderr(&after).contains("no basic auth credentials"),
        "{}",
        stderr(&after)
    );
    format!("{line} {}", id.trim())
}

#[test]
fn cli_login_push_pull_logout_with_basic_auth_and_tls_as_dockerd() {
    if !registry::available() {
        eprintln!("skipped: docker-registry is not installed (apt-get install docker-registry)");
        return;
    }
    let reg = Registry::start(&RegistryOptions {
        basic_auth: Some(("alice".into(), "s3cret".into())),
        tls: true,
    });
    let engine = Engine::start();
    let probe = engine.load_fixture();
    let probe_id = ok(engine
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", &probe]));
    let cfg = tempfile::tempdir().expect("cli config");
    let e = cli_round_trip(
        &engine.host(),
        cfg.path(),
        &reg.host,
        "alice",
        "s3cret",
        &probe,
        &format!("{}/e2e/probe", reg.host),
    );
    assert!(
        e.ends_with(probe_id.trim()),
        "the engine's pulled image lost its ID: {e}"
    );

    // dockerd pulls what the engine pushed: same ID; and pushes it back
    // under another name, which the engine pulls with the same ID again.
    let dcfg = tempfile::tempdir().expect("cli config");
    let docker = |args: &[&str]| {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", DOCKERD)
            .env("DOCKER_CONFIG", dcfg.path())
            .args(args);
        c
    };
    ok(&mut docker(&[
        "login", &reg.host, "-u", "alice", "-p", "s3cret",
    ]));
    let repo = format!("{}/e2e/probe:v1", reg.host);
    let repo2 = format!("{}/e2e/from-dockerd:v1", reg.host);
    let pulled = run(&mut docker(&["pull", &repo]));
    let d_id = ok(&mut docker(&[
        "image", "inspect", "--format", "{{.Id}}", &repo,
    ]));
    let pushed = run(&mut docker(&["tag", &repo, &repo2]));
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let pushed = run(&mut docker(&["push", &repo2]));
    let _ = run(&mut docker(&["rmi", &repo, &repo2]));
    let _ = run(&mut docker(&["logout", &reg.host]));
    assert!(
        pulled.status.success(),
        "dockerd could not pull the engine's push: {}",
        stderr(&pulled)
    );
    assert!(
        pushed.status.success(),
        "dockerd could not push: {}",
        stderr(&pushed)
    );
    assert_eq!(
        d_id.trim(),
        probe_id.trim(),
        "dockerd's pull of the engine's push changed the ID"
    );
    ok(engine
        .docker()
        .args(["login", &reg.host, "-u", "alice", "-p", "s3cret"]));
    ok(engine.docker().args(["pull", &repo2]));
    let e_id = ok(engine
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", &repo2]));
    assert_eq!(
        e_id.trim(),
        probe_id.trim(),
        "the engine's pull of dockerd's push changed the ID"
    );
    let _ = stdout;
}
