//! Pull failures, each compared with dockerd's answer where dockerd gives
//! one, and checked to leave nothing stored: a scripted registry for the
//! failures a real one will not produce (wrong digests, truncated and
//! hostile layers, oversized documents, a stall to kill the engine in), and
//! Debian's `docker-registry` for the rest (down, wrong credentials,
//! unknown manifest). The CLI's login/push/pull/logout in each registry
//! mode is `engine_registry_modes`.

use std::collections::HashMap;
use std::time::Duration;

use shipshape_tests::http::Request;
use shipshape_tests::registry::{sha256_digest, BlobFault, FakeContent, FakeRegistry};
use shipshape_tests::{ok, Engine};

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
pub(crate) fn api_pull(socket: &std::path::Path, image: &str, tag: &str) -> (u16, String) {
    let target = format!("/v1.41/images/create?fromImage={image}&tag={tag}");
    api_call(socket, "POST", &target, None, None)
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
    // Oversized config: 5 MiB of JSON (whitespace padding).
    let cfg = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(&good)]},
    }))
    .expect("config");
    let mut big_cfg = cfg[..cfg.len() - 1].to_vec();
    big_cfg.extend(std::iter::repeat_n(b' ', 5 << 20));
    big_cfg.push(b'}');
    let big_cfg_manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(&big_cfg), "size": big_cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256_digest(&good), "size": good.len()}],
    }))
    .expect("manifest");
    content.blobs.insert(sha256_digest(&big_cfg), big_cfg);
    content
        .manifests
        .insert("t/bigconfig/v1".into(), (oci.clone(), big_cfg_manifest));
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
    // Truncated every time, with no ranges served: the engine asks for the
    // rest a few times, then fails cleanly (dockerd retries with backoff
    // for tens of seconds, so it is not asked here; a download cut once is
    // `truncated_download_is_resumed_as_dockerd`). Oversized manifest:
    // refused (dockerd 20.10.24 ends its stream after "Pulling from" with
    // no error and no image, observed 2026-12-03).
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
    // Oversized config (5 MiB): refused, as containers/image refuses
    // configs over 4 MiB. dockerd 20.10.24 has no limit (it pulled a 9 MiB
    // config, observed 2026-12-03): a deliberate divergence, in specs/.
    let (s, m) = api_pull(&engine.socket, &format!("{}/t/bigconfig", fake.host), "v1");
    assert_eq!(s, 200, "{m}");
    assert!(m.contains("config blob") && m.contains("too large"), "{m}");

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

/// Sends `method target` with `X-Registry-Auth` (`{}` when `auth` is None)
/// and an optional JSON body; returns (status, the error: the message of an
/// error status, else the stream's error line).
fn api_call(
    socket: &std::path::Path,
    method: &str,
    target: &str,
    auth: Option<(&str, &str)>,
    body: Option<&[u8]>,
) -> (u16, String) {
    use base64::Engine as _;
    let creds = match auth {
        Some((u, p)) => serde_json::json!({"username": u, "password": p}).to_string(),
        None => "{}".to_string(),
    };
    let header = base64::engine::general_purpose::URL_SAFE.encode(creds);
    let mut req = Request::new(method, target).header("X-Registry-Auth", &header);
    if let Some(b) = body {
        req = req.json(b);
    }
    req.timeout = Duration::from_secs(120);
    let resp = req.send(socket).expect("request");
    let err = resp
        .text()
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

/// Imports a one-file image as `repo:tag` into the daemon on `socket`.
fn import(socket: &std::path::Path, repo: &str, tag: &str) {
    let tar = tar_end(tar_file("pushed.txt", b"to push\n"));
    let target = format!("/v1.41/images/create?fromSrc=-&repo={repo}&tag={tag}");
    let mut req = Request::new("POST", &target);
    req.content_type = Some("application/x-tar");
    req.body = &tar;
    let resp = req.send(socket).expect("import");
    assert_eq!(resp.status, 200, "import: {}", resp.text());
}

/// One request of [`real_registry_failures_answer_as_dockerd`]: what it
/// is, method, target, credentials, body, and dockerd's status and message.
struct Case<'a>(
    &'a str,
    &'a str,
    String,
    Option<(&'a str, &'a str)>,
    Option<&'a [u8]>,
    u16,
    String,
);

/// The failures a real registry produces, engine and dockerd side by side,
/// each with dockerd 20.10.24's answer pinned (observed 2026-12-03 against
/// Debian's docker-registry 2.8.2 with htpasswd auth).
#[test]
fn real_registry_failures_answer_as_dockerd() {
    if !shipshape_tests::registry::available() {
        eprintln!("skipped: docker-registry is not installed (apt-get install docker-registry)");
        return;
    }
    use shipshape_tests::registry::{Registry, RegistryOptions};
    let reg = Registry::start(&RegistryOptions {
        basic_auth: Some(("alice".into(), "s3cret".into())),
        ..RegistryOptions::default()
    });
    let mut down = Registry::start(&RegistryOptions::default());
    down.stop();
    let engine = Engine::start();
    let dockerd = std::path::Path::new("/var/run/docker.sock");
    let h = &reg.host;
    let good = Some(("alice", "s3cret"));
    let wrong = Some(("alice", "wrong"));
    let pull = |image: &str| format!("/v1.41/images/create?fromImage={image}&tag=v1");
    let login = serde_json::json!({"serveraddress": h, "username": "alice", "password": "wrong"})
        .to_string();
    let pushed = format!("{h}/e2e/wrong-push");
    import(&engine.socket, &pushed, "v1");
    import(dockerd, &pushed, "v1");
    let cases: Vec<Case<'_>> = vec![
        Case(
            "registry down",
            "POST",
            pull(&format!("{}/e2e/x", down.host)),
            None,
            None,
            500,
            format!(
                "Get \"http://{0}/v2/\": dial tcp {0}: connect: connection refused",
                down.host
            ),
        ),
        Case(
            "wrong credentials (pull)",
            "POST",
            pull(&format!("{h}/e2e/x")),
            wrong,
            None,
            500,
            "unauthorized: authentication required".into(),
        ),
        Case(
            "no credentials (pull)",
            "POST",
            pull(&format!("{h}/e2e/x")),
            None,
            None,
            500,
            format!("Head \"http://{h}/v2/e2e/x/manifests/v1\": no basic auth credentials"),
        ),
        Case(
            "wrong credentials (push, in the stream)",
            "POST",
            format!("/v1.41/images/{pushed}/push?tag=v1"),
            wrong,
            None,
            200,
            "unauthorized: authentication required".into(),
        ),
        Case(
            "wrong credentials (login)",
            "POST",
            "/v1.41/auth".into(),
            None,
            Some(login.as_bytes()),
            500,
            format!("login attempt to http://{h}/v2/ failed with status: 401 Unauthorized"),
        ),
        Case(
            "unknown manifest",
            "POST",
            pull(&format!("{h}/e2e/none")),
            good,
            None,
            404,
            format!("manifest for {h}/e2e/none:v1 not found: manifest unknown: manifest unknown"),
        ),
    ];
    let mut diffs = Vec::new();
    for Case(name, method, target, auth, body, status, message) in &cases {
        let e = api_call(&engine.socket, method, target, *auth, *body);
        let d = api_call(dockerd, method, target, *auth, *body);
        if d != (*status, message.clone()) {
            diffs.push(format!("{name}: dockerd now answers {d:?}"));
        }
        if e != d {
            diffs.push(format!("{name}: engine {e:?}, dockerd {d:?}"));
        }
    }
    let _ = Request::new("DELETE", &format!("/v1.41/images/{pushed}:v1")).send(dockerd);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert_eq!(image_count(&engine), 1, "a failed pull left an image");
}

/// `tar` as one zstd frame of raw (stored) blocks: a valid stream any
/// decoder reads, made without a compressor.
fn zstd_raw(tar: &[u8]) -> Vec<u8> {
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd];
    // Frame header: no content size, no checksum, no dictionary; a window
    // of 2^21 bytes (Window_Descriptor exponent 11).
    out.extend_from_slice(&[0x00, 11 << 3]);
    let chunks: Vec<&[u8]> = tar.chunks(128 * 1024).collect();
    for (i, c) in chunks.iter().enumerate() {
        let last = u32::from(i + 1 == chunks.len());
        let header = ((c.len() as u32) << 3) | last; // block type 0: raw
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(c);
    }
    out
}

/// An OCI layer of media type `...tar+zstd`: the engine decodes it.
/// dockerd 20.10.24 does not know zstd layers: it reads the blob as a tar
/// and fails the pull in the stream, status 200 (observed 2026-12-03:
/// `failed to register layer: Error processing tar file(exit status 1):
/// archive/tar: invalid tar header` for this frame, `...: unexpected EOF`
/// for one from the `zstd` tool); newer dockerd (23+) pulls them.
#[test]
fn zstd_layer_is_pulled_where_dockerd_20_10_refuses_it() {
    let tar = tar_end(tar_file("z.txt", b"from a zstd layer\n"));
    let blob = zstd_raw(&tar);
    let diff_id = sha256_digest(&tar);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .expect("config");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": sha256_digest(&blob), "size": blob.len()}],
    }))
    .expect("manifest");
    let mut content = FakeContent::default();
    content.blobs.insert(sha256_digest(&config), config.clone());
    content.blobs.insert(sha256_digest(&blob), blob);
    content.manifests.insert(
        "t/zstd/v1".into(),
        (
            "application/vnd.oci.image.manifest.v1+json".into(),
            manifest,
        ),
    );
    let fake = FakeRegistry::start(content);
    let engine = Engine::start();
    let image = format!("{}/t/zstd", fake.host);
    let (s, m) = api_pull(&engine.socket, &image, "v1");
    assert_eq!(
        (s, m.as_str()),
        (200, ""),
        "the engine refused a zstd layer"
    );
    let id = ok(engine.docker().args([
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &format!("{image}:v1"),
    ]));
    assert_eq!(id, sha256_digest(&config));
    let hex = diff_id.trim_start_matches("sha256:");
    let file = engine
        .data_root
        .join("image/layers")
        .join(hex)
        .join("diff/z.txt");
    assert_eq!(
        std::fs::read(&file).expect("the layer's file"),
        b"from a zstd layer\n"
    );
    // dockerd 20.10 refuses it in the stream, and keeps no image.
    let dockerd = std::path::Path::new("/var/run/docker.sock");
    let (ds, dm) = api_pull(dockerd, &image, "v1");
    let _ = Request::new("DELETE", &format!("/v1.41/images/{image}:v1")).send(dockerd);
    assert_eq!(ds, 200, "{dm}");
    assert!(
        dm.starts_with("failed to register layer: "),
        "dockerd: {dm}"
    );
}

/// A layer download cut short once, from a registry that serves ranges:
/// dockerd 20.10.24 asks for the rest (`Range: bytes=N-`, observed
/// 2026-12-03) and the pull succeeds; so does the engine's.
#[test]
fn truncated_download_is_resumed_as_dockerd() {
    let mut data = Vec::new();
    for i in 0..(256u32 << 10) / 4 {
        data.extend_from_slice(&i.wrapping_mul(2654435761).to_le_bytes());
    }
    let layer = tar_end(tar_file("resumed.bin", &data));
    let (m, config, blobs) = oci_image(std::slice::from_ref(&layer), "resumed");
    let content = || {
        let mut c = FakeContent {
            blobs: blobs.clone(),
            ..FakeContent::default()
        };
        c.manifests.insert(
            "t/resumed/v1".into(),
            (
                "application/vnd.oci.image.manifest.v1+json".into(),
                m.clone(),
            ),
        );
        c.faults
            .insert(sha256_digest(&layer), BlobFault::TruncateOnce);
        c
    };
    // One registry per daemon: each sees its own first GET cut.
    let (fake_e, fake_d) = (
        FakeRegistry::start(content()),
        FakeRegistry::start(content()),
    );
    let engine = Engine::start();
    let (es, em) = api_pull(&engine.socket, &format!("{}/t/resumed", fake_e.host), "v1");
    let dockerd = std::path::Path::new("/var/run/docker.sock");
    let d_image = format!("{}/t/resumed", fake_d.host);
    let (ds, dm) = api_pull(dockerd, &d_image, "v1");
    let _ = Request::new("DELETE", &format!("/v1.41/images/{d_image}:v1")).send(dockerd);
    assert_eq!((ds, dm.as_str()), (200, ""), "dockerd did not resume");
    assert_eq!((es, em.as_str()), (200, ""), "the engine did not resume");
    let id = ok(engine.docker().args([
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &format!("{}/t/resumed:v1", fake_e.host),
    ]));
    assert_eq!(id, sha256_digest(&config));
}
