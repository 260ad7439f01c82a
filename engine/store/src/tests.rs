//! Store unit tests on hand-built archives. Comparisons with real dockerd
//! live in tests/dockerd.rs.

use std::io::{Cursor, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use std::fs;
use std::path::{Path, PathBuf};

use crate::gotime::GO_ZERO_TIME;
use crate::layer::chain_ids;
use crate::*;

/// Builds tar streams with raw entry names (the `tar` crate refuses `..`
/// and absolute names, which is exactly what we need to test).
pub(crate) struct TarBuf {
    b: tar::Builder<Vec<u8>>,
}

pub(crate) enum E<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str, u32, u32),
}

impl TarBuf {
    pub fn new() -> Self {
        TarBuf {
            b: tar::Builder::new(Vec::new()),
        }
    }

    pub fn add(&mut self, e: E) -> &mut Self {
        let mut h = tar::Header::new_gnu();
        let (name, kind, data, link, mode): (&str, tar::EntryType, &[u8], Option<&str>, u32) =
            match e {
                E::File(n, d, m) => (n, tar::EntryType::Regular, d, None, m),
                E::Dir(n) => (n, tar::EntryType::Directory, b"", None, 0o755),
                E::Symlink(n, t) => (n, tar::EntryType::Symlink, b"", Some(t), 0o777),
                E::Hardlink(n, t) => (n, tar::EntryType::Link, b"", Some(t), 0o644),
                E::Char(n, ma, mi) => {
                    h.set_device_major(ma).unwrap();
                    h.set_device_minor(mi).unwrap();
                    (n, tar::EntryType::Char, b"", None, 0o644)
                }
            };
        let raw = &mut h.as_old_mut().name;
        raw.fill(0);
        raw[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            let ln = &mut h.as_old_mut().linkname;
            ln.fill(0);
            ln[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_600_000_000);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

pub(crate) fn sha(b: &[u8]) -> String {
    archive::sha256_digest(b)
}

pub(crate) fn config_for(layers: &[&[u8]], label: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-02T03:04:05.123400000Z",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/x"], "Labels": {"t": label}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [],
    }))
    .unwrap()
}

/// A docker-archive: (config, tags, layer tars) per image.
/// (config bytes, tags, layer tars)
pub(crate) type ArchiveImage<'a> = (&'a [u8], Vec<&'a str>, Vec<&'a [u8]>);

pub(crate) fn docker_archive(images: &[ArchiveImage]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut manifest = Vec::new();
    for (config, tags, layers) in images {
        let mut paths = Vec::new();
        for l in layers {
            let p = format!("{}/layer.tar", &sha(l)[7..]);
            let mut h = tar::Header::new_ustar();
            h.set_size(l.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, &p, *l).unwrap();
            paths.push(p);
        }
        let cname = format!("{}.json", &sha(config)[7..]);
        let mut h = tar::Header::new_ustar();
        h.set_size(config.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, &cname, *config).unwrap();
        manifest.push(serde_json::json!({"Config": cname, "RepoTags": if tags.is_empty() { serde_json::Value::Null } else { serde_json::json!(tags) }, "Layers": paths}));
    }
    let m = serde_json::to_vec(&manifest).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(m.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "manifest.json", &m[..]).unwrap();
    b.into_inner().unwrap()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn layer_a() -> Vec<u8> {
    let mut t = TarBuf::new();
    t.add(E::Dir("etc/"))
        .add(E::File("etc/hello", b"hello\n", 0o640))
        .add(E::Symlink("etc/link", "hello"))
        .add(E::Hardlink("etc/hard", "etc/hello"))
        .add(E::File("bin/tool", b"#!x", 0o4755));
    t.finish()
}

fn layer_b() -> Vec<u8> {
    let mut t = TarBuf::new();
    t.add(E::Dir("etc/"))
        .add(E::File("etc/.wh.hello", b"", 0o644))
        .add(E::Dir("opt/"))
        .add(E::File("opt/.wh..wh..opq", b"", 0o644))
        .add(E::File("opt/new", b"n", 0o644));
    t.finish()
}

fn no_users(_: &str) -> Vec<ImageUserView> {
    Vec::new()
}

fn load_all(store: &ImageStore, bytes: &[u8]) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let mut lines = Vec::new();
    let ids = store.load(Cursor::new(bytes), &mut |l| lines.push(l.to_string()))?;
    Ok((ids, lines))
}

fn fixture() -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let (a, b) = (layer_a(), layer_b());
    let config = config_for(&[&a, &b], "one");
    let arch = docker_archive(&[(&config, vec!["storetest/one:1"], vec![&a, &b])]);
    (arch, config, a, b)
}

#[test]
fn loads_docker_archive_and_unpacks_layers() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let (arch, config, a, b) = fixture();
    let (ids, lines) = load_all(&store, &arch).unwrap();
    assert_eq!(ids, vec![sha(&config)]);
    assert_eq!(lines, vec!["Loaded image: storetest/one:1"]);
    let img = store.get("storetest/one:1").unwrap();
    assert_eq!(img.id, sha(&config));
    assert_eq!(img.repo_tags, vec!["storetest/one:1"]);
    assert_eq!(img.layers, vec![sha(&a), sha(&b)]);
    assert_eq!(img.created, "2024-01-02T03:04:05.1234Z");
    assert_eq!(img.created_unix(), 1704164645);
    // hello(6) + link(5) + tool(3); the hardlink counts once. Layer b: new(1).
    assert_eq!(img.size, 6 + 5 + 3 + 1);
    assert_eq!(store.config_bytes(&img.id).unwrap(), config);

    let dirs = store.layer_dirs(&img.id).unwrap();
    assert_eq!(dirs.len(), 2);
    let l0 = &dirs[0];
    let hello = fs::metadata(l0.join("etc/hello")).unwrap();
    assert_eq!(hello.mode() & 0o7777, 0o640);
    assert_eq!((hello.uid(), hello.gid()), (1000, 1000));
    assert_eq!(hello.mtime(), 1_600_000_000);
    assert_eq!(hello.nlink(), 2, "hardlink preserved");
    assert_eq!(
        fs::read_link(l0.join("etc/link")).unwrap(),
        Path::new("hello")
    );
    assert_eq!(
        fs::metadata(l0.join("bin/tool")).unwrap().mode() & 0o7777,
        0o4755
    );

    // Whiteouts became overlayfs whiteouts.
    let l1 = &dirs[1];
    let wh = fs::symlink_metadata(l1.join("etc/hello")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!l1.join("etc/.wh.hello").exists());
    assert_eq!(
        archive::lgetxattr(&l1.join("opt"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(!l1.join("opt/.wh..wh..opq").exists());
    assert_eq!(fs::read(l1.join("opt/new")).unwrap(), b"n");

    // Same ID by full ID, bare hex, and prefixes.
    let hex = &img.id[7..];
    for r in [
        img.id.as_str(),
        hex,
        &hex[..6],
        &format!("sha256:{}", &hex[..6]),
    ] {
        assert_eq!(store.get(r).unwrap().id, img.id, "{r}");
    }
    assert_eq!(
        store.get("nope").unwrap_err().to_string(),
        "No such image: nope:latest"
    );
    assert_eq!(
        store.get("nope:2").unwrap_err().to_string(),
        "No such image: nope:2"
    );
    let bad = store.get("Bad").unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        bad.to_string(),
        "invalid reference format: repository name must be lowercase"
    );
}

#[test]
fn loads_gzipped_archive_and_reuses_layers() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let (arch, config, ..) = fixture();
    let (ids, _) = load_all(&store, &gzip(&arch)).unwrap();
    assert_eq!(ids, vec![sha(&config)]);
    // Loading again is a no-op that still reports the tag.
    let (_, lines) = load_all(&store, &arch).unwrap();
    assert_eq!(lines, vec!["Loaded image: storetest/one:1"]);
    assert_eq!(store.list().len(), 1);
}

#[test]
fn untagged_image_reports_id_and_tag_moves_are_announced() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let a = layer_a();
    let c1 = config_for(&[&a], "1");
    let c2 = config_for(&[&a], "2");
    let (_, lines) = load_all(&store, &docker_archive(&[(&c1, vec![], vec![&a])])).unwrap();
    assert_eq!(lines, vec![format!("Loaded image ID: {}", sha(&c1))]);
    store.tag(&sha(&c1), "x", Some("1")).unwrap();
    let (_, lines) = load_all(&store, &docker_archive(&[(&c2, vec!["x:1"], vec![&a])])).unwrap();
    assert_eq!(
        lines,
        vec![
            format!(
                "The image x:1 already exists, renaming the old one with ID {} to empty string",
                sha(&c1)
            ),
            "Loaded image: x:1".to_string()
        ]
    );
    assert!(store.get(&sha(&c1)).unwrap().repo_tags.is_empty());
}

#[test]
fn loads_oci_layout_with_gzip_layers() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let (a, b) = (layer_a(), layer_b());
    let config = config_for(&[&a, &b], "oci");
    let (ga, gb) = (gzip(&a), gzip(&b));
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(&ga), "size": ga.len()},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(&b), "size": b.len()},
        ]
    }))
    .unwrap();
    let _ = gb;
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sha(&manifest), "size": manifest.len(),
            "annotations": {"io.containerd.image.name": "docker.io/library/ocitest:2", "org.opencontainers.image.ref.name": "2"}
        }]
    }))
    .unwrap();
    let mut t = tar::Builder::new(Vec::new());
    let mut add = |name: String, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        t.append_data(&mut h, name, data).unwrap();
    };
    add("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json".into(), &index);
    for blob in [&manifest, &config, &ga, &b] {
        add(format!("blobs/sha256/{}", &sha(blob)[7..]), blob);
    }
    let (ids, lines) = load_all(&store, &t.into_inner().unwrap()).unwrap();
    assert_eq!(ids, vec![sha(&config)]);
    assert_eq!(lines, vec!["Loaded image: ocitest:2"]);
    assert_eq!(
        store.get("ocitest:2").unwrap().layers,
        vec![sha(&a), sha(&b)]
    );
}

#[test]
fn diff_id_mismatch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let a = layer_a();
    let b = layer_b();
    let config = config_for(&[&b], "x");
    let arch = docker_archive(&[(&config, vec!["x:1"], vec![&a])]);
    // The archive names the layer by a's hash but the config claims b's.
    let e = load_all(&store, &arch).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.to_string()
            .starts_with("invalid diffID for layer 0: expected"),
        "{e}"
    );
    assert!(store.list().is_empty());
    // Nothing left behind.
    let left: Vec<_> = fs::read_dir(dir.path().join("layers")).unwrap().collect();
    assert!(left.is_empty());
}

fn load_layer_err(layer: Vec<u8>) -> StoreError {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let config = config_for(&[&layer], "evil");
    let err = load_all(
        &store,
        &docker_archive(&[(&config, vec!["evil:1"], vec![&layer])]),
    )
    .unwrap_err();
    // Never written outside the store root, and the temp dir is gone.
    assert!(!dir.path().join("../escaped").exists());
    let left: Vec<_> = fs::read_dir(dir.path().join("layers")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    err
}

/// Loads a one-layer image tagged `tag` and returns its layer directory.
fn load_layer_ok(store: &ImageStore, layer: Vec<u8>, tag: &str) -> PathBuf {
    let config = config_for(&[&layer], tag);
    let name = format!("{tag}:1");
    load_all(
        store,
        &docker_archive(&[(&config, vec![name.as_str()], vec![&layer])]),
    )
    .unwrap();
    store.layer_dirs(&name).unwrap().remove(0)
}

#[test]
fn escaping_names_are_confined_to_the_layer_like_dockerd() {
    // dockerd extracts a layer chrooted into it: `..` and `/` cannot climb
    // out, so these load, and land inside the layer.
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let mut t = TarBuf::new();
    t.add(E::File("../escaped", b"x", 0o644))
        .add(E::File("a/../../../deep", b"x", 0o644))
        .add(E::File("/etc/abs", b"x", 0o644))
        .add(E::Symlink("up", "/"))
        .add(E::File("up/through", b"x", 0o644))
        .add(E::Symlink("rel", "../../.."));
    let d = load_layer_ok(&store, t.finish(), "confined");
    for inside in ["escaped", "deep", "etc/abs", "through"] {
        assert!(d.join(inside).is_file(), "{inside} not in the layer");
    }
    assert_eq!(fs::read_link(d.join("rel")).unwrap(), Path::new("../../.."));
    for outside in ["escaped", "deep", "through", "store/escaped"] {
        assert!(!dir.path().join(outside).exists(), "{outside} escaped");
    }
    assert!(!Path::new("/etc/abs").exists());
}

#[test]
fn hard_links_resolve_inside_the_layer_like_dockerd() {
    for (entries, want) in [
        (
            vec![E::Hardlink("h", "../../etc/passwd")],
            "Error processing tar file(exit status 1): link /etc/passwd /h: no such file or directory",
        ),
        (
            vec![E::Hardlink("h", "/etc/passwd")],
            "Error processing tar file(exit status 1): link /etc/passwd /h: no such file or directory",
        ),
        (
            vec![E::Symlink("s", "/etc"), E::Hardlink("h", "s/passwd")],
            "Error processing tar file(exit status 1): link /s/passwd /h: no such file or directory",
        ),
        (
            vec![E::Symlink("evil", "/etc"), E::File("evil/x", b"x", 0o644)],
            "Error processing tar file(exit status 1): open /evil/x: no such file or directory",
        ),
    ] {
        let mut t = TarBuf::new();
        for e in entries {
            t.add(e);
        }
        let e = load_layer_err(t.finish());
        assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
        assert_eq!(e.to_string(), want);
    }
}

#[test]
fn skips_device_nodes_but_keeps_overlay_whiteouts() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let mut t = TarBuf::new();
    t.add(E::Char("dev-null", 1, 3))
        .add(E::Char("gone", 0, 0))
        .add(E::File("f", b"1", 0o644));
    let layer = t.finish();
    let config = config_for(&[&layer], "dev");
    load_all(
        &store,
        &docker_archive(&[(&config, vec!["dev:1"], vec![&layer])]),
    )
    .unwrap();
    let d = &store.layer_dirs("dev:1").unwrap()[0];
    assert!(!d.join("dev-null").exists());
    assert!(fs::symlink_metadata(d.join("gone"))
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn outer_archive_symlinks_stay_inside() {
    // A docker-archive whose layer.tar is a symlink pointing outside: it is
    // resolved inside the archive (like a chroot), so it reads nothing outside.
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let a = layer_a();
    let config = config_for(&[&a], "x");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "l/layer.tar", "/etc/passwd").unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(config.len() as u64);
    b.append_data(&mut h, "c.json", &config[..]).unwrap();
    let m = br#"[{"Config":"c.json","RepoTags":["x:1"],"Layers":["l/layer.tar"]}]"#;
    let mut h = tar::Header::new_ustar();
    h.set_size(m.len() as u64);
    b.append_data(&mut h, "manifest.json", &m[..]).unwrap();
    let e = load_all(&store, &b.into_inner().unwrap()).unwrap_err();
    assert!(e.to_string().contains("no such file or directory"), "{e}");
}

#[test]
fn garbage_and_missing_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let e = load_all(&store, b"garbage\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error processing tar file(exit status 1): unexpected EOF"
    );
    let mut t = TarBuf::new();
    t.add(E::File("hello", b"x", 0o644));
    let e = load_all(&store, &t.finish()).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("/repositories: no such file or directory"),
        "{e}"
    );
    // Scratch space is cleaned after failures.
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
}

#[test]
fn tag_semantics_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let (arch, config, ..) = fixture();
    load_all(&store, &arch).unwrap();
    let id = sha(&config);
    store
        .tag("storetest/one:1", "storetest/b", Some("2"))
        .unwrap();
    store.tag("storetest/one:1", "storetest/c", None).unwrap();
    store.tag("storetest/one:1", "storetest/d:5", None).unwrap();
    store
        .tag("storetest/one:1", "storetest/d:5", Some("6"))
        .unwrap();
    store
        .tag(&id[7..11], "docker.io/library/plain", Some(""))
        .unwrap();
    let img = store.get(&id).unwrap();
    assert_eq!(
        img.repo_tags,
        vec![
            "plain:latest",
            "storetest/b:2",
            "storetest/c:latest",
            "storetest/d:5",
            "storetest/d:6",
            "storetest/one:1"
        ]
    );
    assert_ne!(img.last_tag_time, GO_ZERO_TIME);
    let msg = |r: Result<(), StoreError>| {
        let e = r.unwrap_err();
        (e.kind(), e.to_string())
    };
    assert_eq!(
        msg(store.tag("nope", "x", Some("y"))),
        (ErrorKind::NotFound, "No such image: nope:latest".into())
    );
    assert_eq!(
        msg(store.tag(&id, "Bad", Some("y"))),
        (
            ErrorKind::Internal,
            "invalid reference format: repository name must be lowercase".into()
        )
    );
    assert_eq!(
        msg(store.tag(&id, "x", Some("b@d"))),
        (ErrorKind::Internal, "invalid tag format".into())
    );
    assert_eq!(
        msg(store.tag(&id, "", None)),
        (ErrorKind::Internal, "invalid reference format".into())
    );
    // The source is looked up first: a bad source name is the client's 400.
    assert_eq!(msg(store.tag("Bad", "x", None)).0, ErrorKind::InvalidInput);
    assert_eq!(
        msg(store.tag(&id, &format!("x@{id}"), None)),
        (
            ErrorKind::InvalidInput,
            "refusing to create a tag with a digest reference".into()
        )
    );
    assert_eq!(
        msg(store.tag(&id, &id, None)).1,
        "refusing to create an ambiguous tag using digest algorithm as name"
    );
    let (k, m) = msg(store.tag(&id, &id[7..], None));
    assert_eq!(k, ErrorKind::Internal);
    assert!(m.contains("cannot specify 64-byte hexadecimal strings"));
}

#[test]
fn remove_semantics_match_dockerd() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let (arch, config, a, b) = fixture();
    load_all(&store, &arch).unwrap();
    let id = sha(&config);
    let short = &id[7..19];
    store.tag(&id, "storetest/b", Some("2")).unwrap();
    store.tag(&id, "storetest/c", None).unwrap();

    // By name with other tags left: untag only.
    assert_eq!(
        store
            .remove("storetest/b:2", false, false, &no_users)
            .unwrap(),
        vec![DeleteItem::Untagged("storetest/b:2".into())]
    );
    // By ID with several tags: conflict unless forced.
    let e = store
        .remove(&id[7..11], false, false, &no_users)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories")
    );
    // Stopped container: by its last tag -> must force.
    store
        .remove("storetest/c", false, false, &no_users)
        .unwrap();
    let stopped = |_: &str| {
        vec![ImageUserView {
            container_id: "d3aecdbe75683e8a950ad9fc92a568f66f6311dae5d2cdad3b63de54de2ec9c7".into(),
            running: false,
        }]
    };
    let running = |_: &str| {
        vec![ImageUserView {
            container_id: "b5bb629934ab0000".into(),
            running: true,
        }]
    };
    assert_eq!(
        store.remove("storetest/one:1", false, false, &stopped).unwrap_err().to_string(),
        format!("conflict: unable to remove repository reference \"storetest/one:1\" (must force) - container d3aecdbe7568 is using its referenced image {short}")
    );
    assert_eq!(
        store.remove(short, false, false, &stopped).unwrap_err().to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is being used by stopped container d3aecdbe7568")
    );
    assert_eq!(
        store.remove(short, true, false, &running).unwrap_err().to_string(),
        format!("conflict: unable to delete {short} (cannot be forced) - image is being used by running container b5bb629934ab")
    );
    // Forced untag with a running container: the tag goes, the image stays.
    assert_eq!(
        store
            .remove("storetest/one:1", true, false, &running)
            .unwrap(),
        vec![DeleteItem::Untagged("storetest/one:1".into())]
    );
    assert!(store.get(&id).is_ok());
    // Dangling, by ID, unused: deleted with its layers (chain IDs, top first).
    let chains = chain_ids(&[sha(&a), sha(&b)]);
    assert_eq!(
        store.remove(&id, false, false, &no_users).unwrap(),
        vec![
            DeleteItem::Deleted(id.clone()),
            DeleteItem::Deleted(chains[1].clone()),
            DeleteItem::Deleted(chains[0].clone())
        ]
    );
    assert!(store.list().is_empty());
    let left: Vec<_> = fs::read_dir(dir.path().join("layers")).unwrap().collect();
    assert!(left.is_empty());
    assert_eq!(
        store
            .remove(&id, false, false, &no_users)
            .unwrap_err()
            .to_string(),
        format!("No such image: {id}")
    );
    assert_eq!(
        serde_json::to_string(&[
            DeleteItem::Untagged("x:1".into()),
            DeleteItem::Deleted("sha256:1".into())
        ])
        .unwrap(),
        r#"[{"Untagged":"x:1"},{"Deleted":"sha256:1"}]"#
    );
}

#[test]
fn shared_layers_survive_and_forced_delete_keeps_container_layers() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let (a, b) = (layer_a(), layer_b());
    let c1 = config_for(&[&a], "1");
    let c2 = config_for(&[&a, &b], "2");
    load_all(
        &store,
        &docker_archive(&[
            (&c1, vec!["one:1"], vec![&a]),
            (&c2, vec!["two:1"], vec![&a, &b]),
        ]),
    )
    .unwrap();
    let chains = chain_ids(&[sha(&a), sha(&b)]);
    // Deleting two releases only its top layer.
    assert_eq!(
        store.remove("two:1", false, false, &no_users).unwrap(),
        vec![
            DeleteItem::Untagged("two:1".into()),
            DeleteItem::Deleted(sha(&c2)),
            DeleteItem::Deleted(chains[1].clone())
        ]
    );
    assert!(store.layer_dirs("one:1").unwrap()[0]
        .join("etc/hello")
        .exists());
    // Forced delete with a stopped container: image goes, layers stay.
    let stopped = |_: &str| {
        vec![ImageUserView {
            container_id: "c0ffee".into(),
            running: false,
        }]
    };
    let dirs = store.layer_dirs("one:1").unwrap();
    assert_eq!(
        store.remove("one:1", true, false, &stopped).unwrap(),
        vec![
            DeleteItem::Untagged("one:1".into()),
            DeleteItem::Deleted(sha(&c1))
        ]
    );
    assert!(dirs[0].join("etc/hello").exists());
    // Retention survives a restart, and is released on request.
    drop(store);
    let store = ImageStore::open(dir.path()).unwrap();
    assert!(dirs[0].exists());
    store.release_retained(&sha(&c1)).unwrap();
    assert!(!dirs[0].exists());
}

#[test]
fn parent_chain_prunes_and_children_block() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let a = layer_a();
    let base = store
        .create_image(
            serde_json::json!({"os": "linux", "created": "2024-01-01T00:00:00Z", "config": {}}),
            vec![LayerSource::Tar(Box::new(Cursor::new(a.clone())))],
            None,
            &["base:1".to_string()],
        )
        .unwrap();
    assert_eq!(base.layers, vec![sha(&a)]);
    let child = store
        .create_image(
            serde_json::json!({"os": "linux", "created": "2024-01-02T00:00:00Z", "config": {"Cmd": ["/x"]}}),
            vec![
                LayerSource::Existing(sha(&a)),
                LayerSource::Tar(Box::new(Cursor::new(layer_b()))),
            ],
            Some(&base.id),
            &["child:1".to_string()],
        )
        .unwrap();
    assert_eq!(child.parent, base.id);
    assert_eq!(store.children(&base.id), vec![child.id.clone()]);
    assert_eq!(
        store
            .remove(&base.id, true, false, &no_users)
            .unwrap_err()
            .to_string(),
        format!(
            "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
            &base.id[7..19]
        )
    );
    // Untagging the base leaves it (it has a child).
    assert_eq!(
        store.remove("base:1", false, false, &no_users).unwrap(),
        vec![DeleteItem::Untagged("base:1".into())]
    );
    // Deleting the child prunes the untagged parent.
    let out = store.remove("child:1", false, false, &no_users).unwrap();
    assert_eq!(out[0], DeleteItem::Untagged("child:1".into()));
    assert_eq!(out[1], DeleteItem::Deleted(child.id.clone()));
    assert!(out.contains(&DeleteItem::Deleted(base.id.clone())));
    assert!(store.list().is_empty());
}

#[test]
fn state_survives_reopen_and_leftovers_are_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let (arch, config, ..) = fixture();
    {
        let store = ImageStore::open(dir.path()).unwrap();
        load_all(&store, &arch).unwrap();
        store.tag("storetest/one:1", "again", Some("2")).unwrap();
    }
    // Simulate crash leftovers.
    fs::create_dir_all(dir.path().join("layers/.tmp-half/diff/x")).unwrap();
    fs::write(dir.path().join(".tmp-repositories.json-1"), b"{").unwrap();
    fs::create_dir_all(dir.path().join("tmp/docker-import-1")).unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let img = store.get("again:2").unwrap();
    assert_eq!(img.id, sha(&config));
    assert_eq!(img.repo_tags, vec!["again:2", "storetest/one:1"]);
    assert!(!dir.path().join("layers/.tmp-half").exists());
    assert!(!dir.path().join(".tmp-repositories.json-1").exists());
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(store.layer_dirs("again:2").unwrap().len(), 2);
}

#[test]
fn layers_and_metadata_no_image_needs_are_dropped_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (arch, ..) = fixture();
    let orphan = {
        let store = ImageStore::open(dir.path()).unwrap();
        load_all(&store, &arch).unwrap();
        // A commit cut after its layer was registered, before its image was stored.
        let mut t = TarBuf::new();
        t.add(E::File("only/here", b"x", 0o644));
        let info = store.register_layer(Cursor::new(t.finish())).unwrap();
        info.diff_id.trim_start_matches("sha256:").to_string()
    };
    let stale_meta = format!("imagedb/metadata/sha256/{}.json", "a".repeat(64));
    fs::write(dir.path().join(&stale_meta), b"{}").unwrap();
    assert!(dir.path().join("layers").join(&orphan).exists());
    let store = ImageStore::open(dir.path()).unwrap();
    assert!(!dir.path().join("layers").join(&orphan).exists());
    assert!(!dir.path().join(&stale_meta).exists());
    // The image's own layers stay.
    assert_eq!(store.layer_dirs("storetest/one:1").unwrap().len(), 2);
    assert!(store
        .layer_dirs("storetest/one:1")
        .unwrap()
        .iter()
        .all(|d| d.is_dir()));
    let names: Vec<_> = fs::read_dir(dir.path().join("layers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn save_round_trips_with_same_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let (a, b) = (layer_a(), layer_b());
    let c1 = config_for(&[&a], "1");
    // The same layer twice in one image: saved once, then a symlink.
    let c2 = config_for(&[&a, &b, &a], "2");
    load_all(
        &store,
        &docker_archive(&[
            (&c1, vec!["one:1", "one:2"], vec![&a]),
            (&c2, vec![], vec![&a, &b, &a]),
        ]),
    )
    .unwrap();
    let mut out = Vec::new();
    store
        .save(&["one".to_string(), sha(&c2)[7..15].to_string()], &mut out)
        .unwrap();

    // Check the archive's shape.
    let mut names = Vec::new();
    let mut manifest = serde_json::Value::Null;
    let mut repos = serde_json::Value::Null;
    let mut ar = tar::Archive::new(Cursor::new(&out));
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut s = String::new();
        if p == "manifest.json" {
            e.read_to_string(&mut s).unwrap();
            manifest = serde_json::from_str(&s).unwrap();
        } else if p == "repositories" {
            e.read_to_string(&mut s).unwrap();
            repos = serde_json::from_str(&s).unwrap();
        }
        names.push(p);
    }
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["one:1", "one:2"])
    );
    assert_eq!(manifest[1]["RepoTags"], serde_json::Value::Null);
    assert_eq!(manifest[1]["Layers"].as_array().unwrap().len(), 3);
    assert!(repos["one"]["1"].is_string());
    assert!(names.contains(&format!("{}.json", &sha(&c1)[7..])));

    let dir2 = tempfile::tempdir().unwrap();
    let store2 = ImageStore::open(dir2.path()).unwrap();
    let (ids, lines) = load_all(&store2, &out).unwrap();
    assert_eq!(ids, vec![sha(&c1), sha(&c2)]);
    assert_eq!(
        lines,
        vec![
            "Loaded image: one:1",
            "Loaded image: one:2",
            &format!("Loaded image ID: {}", sha(&c1)),
            &format!("Loaded image ID: {}", sha(&c2))
        ]
    );

    let e = store.plan_save(&["nope".to_string()]).unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (ErrorKind::NotFound, "No such image: nope".into())
    );
    let e = store.plan_save(&["zzz:1".to_string()]).unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (ErrorKind::NotFound, "reference does not exist".into())
    );
    assert_eq!(
        store.plan_save(&["Bad".to_string()]).unwrap_err().kind(),
        ErrorKind::Internal
    );
}

#[test]
fn concurrent_loads_of_the_same_layers() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(ImageStore::open(dir.path()).unwrap());
    let (arch, config, ..) = fixture();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (s, a) = (store.clone(), arch.clone());
            std::thread::spawn(move || s.load(Cursor::new(a), &mut |_| {}).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), vec![sha(&config)]);
    }
    assert_eq!(fs::read_dir(dir.path().join("layers")).unwrap().count(), 2);
    let _ = fs::Permissions::from_mode(0o755);
}

/// The tar `layer_tar` gives back for a layer registered from `tar`, both
/// from a stream and from a loaded archive, and whether one copy was kept.
fn rebuilt(tar: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let info = store.register_layer(Cursor::new(tar.to_vec())).unwrap();
    assert_eq!(info.diff_id, sha(tar));
    let mut out = Vec::new();
    let mut read_back = |store: &ImageStore| {
        let (len, mut r) = store.layer_tar(&info.diff_id).unwrap();
        let mut b = Vec::new();
        r.read_to_end(&mut b).unwrap();
        assert_eq!(len, b.len() as u64);
        let hex = &info.diff_id[7..];
        let one_copy = !store.layer_path(hex).join("layer.tar").exists();
        let split = store.layer_path(hex).join("layer.split").exists();
        assert!(
            one_copy == split,
            "exactly one of the tar and its split is kept"
        );
        out.push((b, one_copy));
    };
    read_back(&store);
    let dir2 = tempfile::tempdir().unwrap();
    let store2 = ImageStore::open(&dir2.path().join("store")).unwrap();
    load_layer_ok(&store2, tar.to_vec(), "split");
    read_back(&store2);
    // The scratch of the load is gone, and the layer survives a reopen.
    drop(store2);
    let store2 = ImageStore::open(&dir2.path().join("store")).unwrap();
    read_back(&store2);
    // The same tar written on demand by a packer (commit's path, no copy on disk).
    let dir3 = tempfile::tempdir().unwrap();
    let store3 = ImageStore::open(&dir3.path().join("store")).unwrap();
    let bytes = tar.to_vec();
    let packed = store3
        .register_packed(&move |w: &mut dyn Write| w.write_all(&bytes))
        .unwrap();
    assert_eq!(packed.diff_id, info.diff_id);
    read_back(&store3);
    out
}

#[test]
fn a_failing_packer_gives_its_own_error_and_leaves_no_layer() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let err = store
        .register_packed(&|w: &mut dyn Write| {
            w.write_all(&[0u8; 512])?;
            Err(std::io::Error::other("upper dir went away"))
        })
        .unwrap_err();
    assert!(err.to_string().contains("upper dir went away"), "{err}");
    let left: Vec<_> = fs::read_dir(dir.path().join("store/layers"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn layers_keep_one_copy_and_give_back_their_tar_byte_for_byte() {
    let long = format!("{}/file", "d".repeat(150));
    let mut t = TarBuf::new();
    t.add(E::Dir("etc/"))
        .add(E::File("etc/a", b"hello", 0o644))
        .add(E::File("empty", b"", 0o600))
        .add(E::File("big", &vec![7u8; 100_000], 0o755))
        .add(E::Hardlink("etc/b", "etc/a"))
        .add(E::Symlink("evil", "/etc"))
        .add(E::File("evil/through", b"via a symlink", 0o644))
        .add(E::File(".wh.gone", b"", 0o644))
        .add(E::Dir("opq/"))
        .add(E::File("opq/.wh..wh..opq", b"", 0o644))
        .add(E::Char("dev", 1, 3));
    let mut tar = t.finish();
    // A GNU long name and a PAX record, as the tar crate writes them.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
    b.append_pax_extensions([("SCHILY.xattr.user.k", &b"v"[..])])
        .unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(2);
    h.set_mode(0o644);
    b.append_data(&mut h, "pax", &b"xy"[..]).unwrap();
    let more = b.into_inner().unwrap();
    // Splice before the end blocks, then trailing garbage after them.
    tar.truncate(tar.len() - 1024);
    tar.extend_from_slice(&more);
    tar.extend_from_slice(b"trailing bytes after the end blocks");
    for (got, one_copy) in rebuilt(&tar) {
        assert!(one_copy, "a tar the tree can rebuild keeps one copy");
        assert_eq!(sha(&got), sha(&tar));
    }
}

#[test]
fn a_tar_that_rewrites_its_own_entries_is_kept_verbatim() {
    for tar in [
        {
            let mut t = TarBuf::new();
            t.add(E::File("f", b"first", 0o644))
                .add(E::File("f", b"second", 0o644));
            t.finish()
        },
        {
            let mut t = TarBuf::new();
            t.add(E::File("d/f", b"first", 0o644))
                .add(E::File("d/.wh.f", b"", 0o644));
            t.finish()
        },
        {
            let mut t = TarBuf::new();
            t.add(E::File("d/f", b"first", 0o644))
                .add(E::Symlink("d", "/"));
            t.finish()
        },
    ] {
        for (got, one_copy) in rebuilt(&tar) {
            assert!(!one_copy);
            assert_eq!(got, tar);
        }
    }
}
