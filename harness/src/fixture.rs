//! The fixture image, built from scratch because there is no registry.
//!
//! The image has one layer holding the static `probe` binary (see
//! probe/src/main.rs) plus the few files and directories scenarios rely on. It
//! is packed in the `docker save` / docker-archive layout that
//! `POST /images/load` and `docker load` accept:
//!
//! ```text
//! <diff_id hex>/layer.tar     the uncompressed layer
//! <config sha256 hex>.json    the image config
//! manifest.json               [{"Config":..,"RepoTags":[..],"Layers":[..]}]
//! ```
//!
//! Everything is deterministic (fixed mtimes, uid/gid 0, sorted entries,
//! insertion-ordered JSON), so the image ID — `sha256:` + sha256 of the config
//! bytes — is the same on every run and every machine with the same probe.

use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The probe binary, compiled static by build.rs.
pub const PROBE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/probe"));

/// Path of the probe inside the image.
pub const PROBE_PATH: &str = "/probe";

/// Directory holding the seed files; scenarios write below it.
pub const DATA_DIR: &str = "/data";

/// Files under [`DATA_DIR`] in the image: (name, mode, content). The seed
/// properties delete, chmod and rewrite these, so they cover several modes.
pub const SEED_FILES: &[(&str, u32, &str)] = &[
    ("alpha", 0o644, "alpha\n"),
    ("beta", 0o600, "beta: the second seed file\n"),
    ("empty", 0o644, ""),
    ("tool", 0o755, "#!/probe\n"),
];

/// Users in /etc/passwd so `User: "probe"` resolves by name.
pub const PASSWD: &str = "root:x:0:0:root:/root:/probe\n\
probe:x:1000:1000:probe:/data:/probe\n\
nobody:x:65534:65534:nobody:/nonexistent:/probe\n";

pub const GROUP: &str = "root:x:0:\nprobe:x:1000:\nnogroup:x:65534:\n";

/// The PATH every Docker image conventionally sets.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Default command: a long sleep. Scenarios always pass their own Cmd.
pub const DEFAULT_CMD: &[&str] = &["/probe", "sleep", "3600"];

/// Fixed timestamp for tar mtimes and config dates (2024-01-01T00:00:00Z).
const EPOCH: u64 = 1_704_067_200;
const CREATED: &str = "2024-01-01T00:00:00Z";

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("building the fixture tar: {0}")]
    Tar(#[from] std::io::Error),
    #[error("serialising the fixture JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A built fixture: the archive plus the identifiers Docker will derive.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// docker-archive tarball for `POST /images/load`.
    pub tarball: Vec<u8>,
    /// `sha256:<hex>` of the config bytes: the image ID after loading.
    pub image_id: String,
    /// `sha256:<hex>` of the uncompressed layer tar.
    pub diff_id: String,
    /// The exact config JSON bytes.
    pub config: Vec<u8>,
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Docker's name for the CPU architecture this probe was compiled for.
pub fn docker_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

enum Node<'a> {
    Dir(u32),
    File(u32, &'a [u8]),
}

fn header(path: &str, mode: u32, size: u64, kind: tar::EntryType) -> std::io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_mode(mode);
    h.set_size(size);
    h.set_entry_type(kind);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(EPOCH);
    h.set_cksum();
    Ok(h)
}

/// The single layer: a deterministic tar of the image's filesystem.
pub fn layer_tar() -> Result<Vec<u8>, FixtureError> {
    let seed_paths: Vec<(String, u32, &str)> = SEED_FILES
        .iter()
        .map(|(n, m, c)| (format!("data/{n}"), *m, *c))
        .collect();
    // BTreeMap keeps entries sorted by path, and parents sort before children.
    let mut nodes: BTreeMap<&str, Node> = BTreeMap::new();
    nodes.insert("data/", Node::Dir(0o755));
    for (p, m, c) in &seed_paths {
        nodes.insert(p.as_str(), Node::File(*m, c.as_bytes()));
    }
    nodes.insert("etc/", Node::Dir(0o755));
    nodes.insert("etc/passwd", Node::File(0o644, PASSWD.as_bytes()));
    nodes.insert("etc/group", Node::File(0o644, GROUP.as_bytes()));
    nodes.insert("probe", Node::File(0o755, PROBE));
    nodes.insert("root/", Node::Dir(0o700));
    // Sticky and world-writable, as on any Linux system.
    nodes.insert("tmp/", Node::Dir(0o1777));

    let mut b = tar::Builder::new(Vec::new());
    for (path, node) in &nodes {
        match node {
            Node::Dir(mode) => {
                let h = header(path, *mode, 0, tar::EntryType::Directory)?;
                b.append(&h, std::io::empty())?;
            }
            Node::File(mode, data) => {
                let h = header(path, *mode, data.len() as u64, tar::EntryType::Regular)?;
                b.append(&h, *data)?;
            }
        }
    }
    Ok(b.into_inner()?)
}

/// The image config for a layer with the given diff_id.
pub fn config_json(diff_id: &str) -> Result<Vec<u8>, FixtureError> {
    let config = json!({
        "architecture": docker_arch(),
        "os": "linux",
        "created": CREATED,
        "config": {
            "Env": [DEFAULT_PATH],
            "Cmd": DEFAULT_CMD,
            "WorkingDir": "/",
            "Labels": {"io.shipshape.fixture": "probe"}
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{
            "created": CREATED,
            "created_by": "shipshape fixture: static probe binary and seed files"
        }]
    });
    Ok(serde_json::to_vec(&config)?)
}

/// Builds the whole docker-archive. `repo_tags` goes into manifest.json;
/// it does not affect the image ID. Pass none to load an untagged image.
pub fn build(repo_tags: &[String]) -> Result<Fixture, FixtureError> {
    let layer = layer_tar()?;
    let layer_hex = sha256_hex(&layer);
    let diff_id = format!("sha256:{layer_hex}");
    let config = config_json(&diff_id)?;
    let config_hex = sha256_hex(&config);
    let config_name = format!("{config_hex}.json");
    let layer_name = format!("{layer_hex}/layer.tar");
    let manifest = serde_json::to_vec(&json!([{
        "Config": config_name,
        "RepoTags": repo_tags,
        "Layers": [layer_name],
    }]))?;

    let mut b = tar::Builder::new(Vec::new());
    let dir = header(
        &format!("{layer_hex}/"),
        0o755,
        0,
        tar::EntryType::Directory,
    )?;
    b.append(&dir, std::io::empty())?;
    for (name, data) in [
        (layer_name.as_str(), layer.as_slice()),
        (config_name.as_str(), config.as_slice()),
        ("manifest.json", manifest.as_slice()),
    ] {
        let h = header(name, 0o644, data.len() as u64, tar::EntryType::Regular)?;
        b.append(&h, data)?;
    }
    Ok(Fixture {
        tarball: b.into_inner()?,
        image_id: format!("sha256:{config_hex}"),
        diff_id,
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_is_deterministic() {
        let a = build(&[]).expect("build");
        let b = build(&["x:y".to_string()]).expect("build");
        assert_eq!(a.image_id, b.image_id, "tags must not change the ID");
        assert_eq!(a.tarball, build(&[]).expect("build").tarball);
    }

    #[test]
    fn ids_are_digests() {
        let f = build(&[]).expect("build");
        let layer = layer_tar().expect("layer");
        assert_eq!(f.diff_id, format!("sha256:{}", sha256_hex(&layer)));
        assert_eq!(f.image_id, format!("sha256:{}", sha256_hex(&f.config)));
        let cfg: serde_json::Value = serde_json::from_slice(&f.config).expect("json");
        assert_eq!(cfg["rootfs"]["diff_ids"][0], f.diff_id.as_str());
    }

    #[test]
    fn layer_contains_probe_and_dirs() {
        let layer = layer_tar().expect("layer");
        let mut ar = tar::Archive::new(layer.as_slice());
        let mut seen = BTreeMap::new();
        for e in ar.entries().expect("entries") {
            let e = e.expect("entry");
            let path = e.path().expect("path").to_string_lossy().into_owned();
            seen.insert(path, e.header().mode().expect("mode"));
        }
        assert_eq!(seen.get("probe"), Some(&0o755));
        assert_eq!(seen.get("tmp/"), Some(&0o1777));
        assert!(seen.contains_key("etc/passwd"));
        for (n, m, _) in SEED_FILES {
            assert_eq!(seen.get(&format!("data/{n}")), Some(m));
        }
    }

    /// The ID we compute is the ID dockerd reports after loading. Talks to
    /// the real daemon: CI always has one, so a missing socket fails loudly.
    #[test]
    fn image_id_matches_docker_load() {
        use crate::client::{enc, Client, Req};
        let sock = std::path::Path::new("/var/run/docker.sock");
        assert!(
            sock.exists(),
            "this test needs dockerd at unix:///var/run/docker.sock (CI starts it)"
        );
        let mut client = Client::from_url("unix:///var/run/docker.sock").expect("client");
        client.negotiate(None).expect("negotiate with dockerd");
        let fx = build(&[]).expect("build");
        let tag = format!("unit-{:08x}", rand::random::<u32>());
        let reference = format!("shipshape-probe:{tag}");

        let load = client
            .send(Req::post("/images/load?quiet=1").raw(fx.tarball.clone(), "application/x-tar"))
            .expect("load");
        assert_eq!(load.status, 200, "load: {}", load.text());
        // Tag at once, so the image is held by our own reference and removing
        // that reference later leaves other runs' tags (if any) alone.
        let tagged = client
            .send(Req::post(format!(
                "/images/{}/tag?repo=shipshape-probe&tag={tag}",
                enc(&fx.image_id)
            )))
            .expect("tag");
        let inspect = client
            .send(Req::get(format!("/images/{}/json", enc(&reference))))
            .expect("inspect");
        let _ = client.send(Req::delete(format!("/images/{}", enc(&reference))));

        assert!(
            load.text()
                .contains(&format!("Loaded image ID: {}", fx.image_id)),
            "dockerd reported {:?}, we computed {}",
            load.text(),
            fx.image_id
        );
        assert_eq!(tagged.status, 201, "tag: {}", tagged.text());
        assert_eq!(inspect.status, 200, "inspect: {}", inspect.text());
        let v = inspect.json().expect("inspect JSON");
        assert_eq!(v["Id"], fx.image_id.as_str());
        assert_eq!(v["RootFS"]["Layers"], serde_json::json!([fx.diff_id]));
        assert_eq!(v["Config"]["Cmd"], serde_json::json!(DEFAULT_CMD));
    }
}
