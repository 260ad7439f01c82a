//! Bounded fuzzing of tar import (issue 8): `ImageStore::load` and
//! `register_layer` with hostile, mutated and random archives. Properties:
//! they never panic, they never create anything outside the store's temp
//! root (paths with `..`, absolute paths, symlink and hardlink tricks), and
//! they leave no scratch directory behind, whether the load worked or not.
//!
//! The seeds in `fuzz/corpus/tar-load/` are replayed first; then generated
//! archives (`SHIPSHAPE_FUZZ_CASES` per property, small by default).
//! Failures are kept in `proptest-regressions/fuzz-store-load.txt`.

use std::io::Write;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use shipshape_store::ImageStore;

/// Every name a generated entry could escape to ends in this, so one scan
/// of the places an escape would land finds it.
const MARKER: &str = "shipshape-fuzz-escape";

fn cases(default: u32) -> u32 {
    std::env::var("SHIPSHAPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fresh store in `outer/root`: `outer` is where a one-level escape lands,
/// its ancestors (up to `/`) where deeper ones do.
struct Sandbox {
    outer: tempfile::TempDir,
    store: ImageStore,
}

impl Sandbox {
    fn new() -> Sandbox {
        let outer = tempfile::Builder::new()
            .prefix("shipshape-fuzz-load-")
            .tempdir()
            .expect("tempdir");
        let store = ImageStore::open(&outer.path().join("root")).expect("open store");
        Sandbox { outer, store }
    }

    fn root(&self) -> PathBuf {
        self.outer.path().join("root")
    }

    /// Feeds `bytes` to both import paths, then checks the invariants.
    fn import(&self, what: &str, bytes: &[u8]) {
        // Errors are expected (most inputs are garbage); panics are not, and
        // the test harness reports those with `what`.
        let _ = self.store.load(bytes, &mut |_| {});
        let _ = self.store.register_layer(bytes);
        self.check(what);
    }

    fn check(&self, what: &str) {
        let outer: Vec<String> = std::fs::read_dir(self.outer.path())
            .expect("reading the sandbox")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            outer,
            vec!["root".to_string()],
            "{what}: wrote next to the store root"
        );
        for dir in self.outer.path().ancestors().skip(1) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(
                    !name.starts_with(MARKER),
                    "{what}: created {} outside the store root",
                    e.path().display()
                );
            }
        }
        let tmp = self.root().join("tmp");
        let left: Vec<PathBuf> = std::fs::read_dir(&tmp)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "{what}: scratch left behind: {left:?}");
    }
}

// ---- building archives with names the tar crate's safe API refuses ----

#[derive(Debug, Clone)]
enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Hardlink(String),
    Fifo,
    /// Only the whiteout device (0:0) and /dev/null's numbers: anything
    /// else is not something a test should create even in a temp dir.
    CharDev(u32, u32),
}

#[derive(Debug, Clone)]
struct Entry {
    path: String,
    kind: Kind,
}

/// Writes raw header fields so `..`, absolute paths and odd link targets
/// reach the unpacker as an attacker would send them.
fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (ty, data, link): (tar::EntryType, &[u8], Option<&str>) = match &e.kind {
            Kind::File(d) => (tar::EntryType::Regular, d, None),
            Kind::Dir => (tar::EntryType::Directory, &[], None),
            Kind::Symlink(t) => (tar::EntryType::Symlink, &[], Some(t)),
            Kind::Hardlink(t) => (tar::EntryType::Link, &[], Some(t)),
            Kind::Fifo => (tar::EntryType::Fifo, &[], None),
            Kind::CharDev(..) => (tar::EntryType::Char, &[], None),
        };
        h.set_entry_type(ty);
        h.set_mode(0o755);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        if let Kind::CharDev(maj, min) = e.kind {
            let _ = h.set_device_major(maj);
            let _ = h.set_device_minor(min);
        }
        let name = e.path.as_bytes();
        let old = h.as_old_mut();
        let n = name.len().min(old.name.len());
        old.name[..n].copy_from_slice(&name[..n]);
        if let Some(l) = link {
            let l = l.as_bytes();
            let n = l.len().min(old.linkname.len());
            old.linkname[..n].copy_from_slice(&l[..n]);
        }
        h.set_cksum();
        b.append(&h, data).expect("appending to an in-memory tar");
    }
    b.into_inner().expect("finishing an in-memory tar")
}

fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

/// A docker-archive whose one layer is `layer`, so hostile layer entries
/// get past the manifest and reach the layer unpacker.
fn docker_archive(layer: &[u8], extra: &[Entry]) -> Vec<u8> {
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {}, "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
    })
    .to_string();
    let manifest = serde_json::json!([{
        "Config": "config.json", "RepoTags": ["fuzz:latest"], "Layers": ["layer/layer.tar"],
    }])
    .to_string();
    let mut entries = vec![
        Entry {
            path: "layer".into(),
            kind: Kind::Dir,
        },
        Entry {
            path: "layer/layer.tar".into(),
            kind: Kind::File(layer.to_vec()),
        },
        Entry {
            path: "config.json".into(),
            kind: Kind::File(config.into_bytes()),
        },
    ];
    entries.extend_from_slice(extra);
    entries.push(Entry {
        path: "manifest.json".into(),
        kind: Kind::File(manifest.into_bytes()),
    });
    tar_of(&entries)
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).expect("gzip in memory");
    e.finish().expect("gzip in memory")
}

// ---- strategies ----

fn path_strategy() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        1 => Just("..".to_string()),
        3 => Just(".".to_string()),
        3 => Just("a".to_string()),
        3 => Just("b".to_string()),
        3 => Just("link".to_string()),
        3 => Just(MARKER.to_string()),
        3 => Just(format!("{MARKER}-x")),
        3 => Just(".wh.a".to_string()),
        3 => Just(".wh..wh..opq".to_string()),
        3 => Just(String::new()),
        3 => "[a-z.]{1,4}",
    ];
    // Mostly relative paths: an absolute or climbing entry is refused at
    // once, so the interesting cases (symlinks and links between entries
    // that were accepted) need most entries to get through.
    (prop::bool::weighted(0.15), prop::collection::vec(seg, 1..5)).prop_map(|(abs, s)| {
        let p = s.join("/");
        if abs {
            format!("/{p}")
        } else {
            p
        }
    })
}

fn kind_strategy() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..32).prop_map(Kind::File),
        2 => Just(Kind::Dir),
        3 => path_strategy().prop_map(Kind::Symlink),
        2 => path_strategy().prop_map(Kind::Hardlink),
        1 => Just(Kind::Fifo),
        1 => prop_oneof![Just((0, 0)), Just((1, 3))].prop_map(|(a, b)| Kind::CharDev(a, b)),
    ]
}

fn entries_strategy() -> impl Strategy<Value = Vec<Entry>> {
    prop::collection::vec(
        (path_strategy(), kind_strategy()).prop_map(|(path, kind)| Entry { path, kind }),
        0..10,
    )
}

/// Flip, cut or splice bytes of a valid archive: the decoder must cope with
/// every broken header, checksum, size and padding that produces.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    Zero(prop::sample::Index, usize),
}

fn mutate(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        if b.is_empty() {
            break;
        }
        match m {
            Mutation::Flip(i, x) => {
                let i = i.index(b.len());
                b[i] ^= x;
            }
            Mutation::Truncate(i) => {
                let i = i.index(b.len());
                b.truncate(i);
            }
            Mutation::Zero(i, n) => {
                let i = i.index(b.len());
                let end = (i + n).min(b.len());
                b[i..end].fill(0);
            }
        }
    }
    b
}

fn mutation_strategy() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(
        prop_oneof![
            6 => (any::<prop::sample::Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
            1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
            1 => (any::<prop::sample::Index>(), 1..600usize).prop_map(|(i, n)| Mutation::Zero(i, n)),
        ],
        1..6,
    )
}

fn config(regressions: &'static str) -> ProptestConfig {
    ProptestConfig {
        cases: cases(64),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..ProptestConfig::default()
    }
}

#[test]
fn corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/tar-load");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    for f in files {
        let bytes = std::fs::read(&f).expect("reading a corpus file");
        let sb = Sandbox::new();
        sb.import(&f.display().to_string(), &bytes);
    }
}

/// The corpus must keep meaning something: a valid archive built the same
/// way loads, so hostile variants fail for their hostility, not for a
/// builder bug.
#[test]
fn the_generator_builds_loadable_archives() {
    let layer = tar_of(&[
        Entry {
            path: "etc".into(),
            kind: Kind::Dir,
        },
        Entry {
            path: "etc/hello".into(),
            kind: Kind::File(b"hi".to_vec()),
        },
        Entry {
            path: "lnk".into(),
            kind: Kind::Symlink("etc/hello".into()),
        },
    ]);
    let sb = Sandbox::new();
    let ids = sb
        .store
        .load(&docker_archive(&layer, &[])[..], &mut |_| {})
        .expect("a well-formed archive loads");
    assert_eq!(ids.len(), 1);
    sb.check("valid archive");
    let sb = Sandbox::new();
    sb.store
        .load(&gzip(&docker_archive(&layer, &[]))[..], &mut |_| {})
        .expect("a gzip'd archive loads");
}

proptest! {
    #![proptest_config(config(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../proptest-regressions/fuzz-store-load.txt"
    )))]

    /// Hostile entries inside a layer of an otherwise valid archive.
    #[test]
    fn hostile_layers_stay_inside(
        layer in entries_strategy(),
        // Usually no extra top-level entries: a refused one stops the load
        // before any layer is unpacked.
        top in prop_oneof![3 => Just(Vec::new()), 1 => entries_strategy()],
        gz in any::<bool>(),
    ) {
        let archive = docker_archive(&tar_of(&layer), &top);
        let archive = if gz { gzip(&archive) } else { archive };
        Sandbox::new().import("hostile layer", &archive);
    }

    /// Byte-level damage to a valid (possibly gzip'd) archive.
    #[test]
    fn mutated_archives_never_panic(layer in entries_strategy(), ms in mutation_strategy(), gz in any::<bool>()) {
        let archive = docker_archive(&tar_of(&layer), &[]);
        let archive = if gz { gzip(&archive) } else { archive };
        Sandbox::new().import("mutated archive", &mutate(archive, &ms));
    }

    /// Plain noise, including gzip magic followed by noise.
    #[test]
    fn random_bytes_never_panic(mut b in prop::collection::vec(any::<u8>(), 0..2048), gz_magic in any::<bool>()) {
        if gz_magic {
            b.splice(0..0, [0x1f, 0x8b, 0x08, 0x00]);
        }
        Sandbox::new().import("random bytes", &b);
    }
}

/// Writes the seed corpus (run by hand with `--ignored` after changing the
/// builders; the files are committed).
#[test]
#[ignore]
fn write_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/tar-load");
    std::fs::create_dir_all(&dir).expect("mkdir corpus");
    let e = |path: &str, kind: Kind| Entry {
        path: path.into(),
        kind,
    };
    let file = |d: &str| Kind::File(d.as_bytes().to_vec());
    let esc = format!("../../../../../../../../../tmp/{MARKER}");
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "valid.tar",
            docker_archive(&tar_of(&[e("a", file("x"))]), &[]),
        ),
        (
            "valid.tar.gz",
            gzip(&docker_archive(&tar_of(&[e("a", file("x"))]), &[])),
        ),
        (
            "layer-dotdot.tar",
            docker_archive(&tar_of(&[e(&esc, file("pwned"))]), &[]),
        ),
        (
            "layer-absolute.tar",
            docker_archive(&tar_of(&[e(&format!("/tmp/{MARKER}"), file("x"))]), &[]),
        ),
        (
            "layer-symlink-parent.tar",
            docker_archive(
                &tar_of(&[
                    e("link", Kind::Symlink(format!("/tmp/{MARKER}-dir"))),
                    e("link/x", file("x")),
                ]),
                &[],
            ),
        ),
        (
            "layer-symlink-relative-escape.tar",
            docker_archive(
                &tar_of(&[
                    e("link", Kind::Symlink("../../../../../../../../tmp".into())),
                    e(&format!("link/{MARKER}"), file("x")),
                ]),
                &[],
            ),
        ),
        (
            "layer-hardlink-outside.tar",
            docker_archive(
                &tar_of(&[e("h", Kind::Hardlink("/etc/passwd".into()))]),
                &[],
            ),
        ),
        (
            "layer-hardlink-dotdot.tar",
            docker_archive(&tar_of(&[e("h", Kind::Hardlink(esc.clone()))]), &[]),
        ),
        (
            "layer-whiteouts.tar",
            docker_archive(
                &tar_of(&[
                    e(".wh..wh..opq", file("")),
                    e(&format!(".wh.{esc}"), file("")),
                    e("a/.wh..wh.plnk", Kind::Dir),
                    e("c", Kind::CharDev(0, 0)),
                ]),
                &[],
            ),
        ),
        (
            "top-dotdot.tar",
            docker_archive(&tar_of(&[]), &[e(&esc, file("x"))]),
        ),
        (
            "manifest-paths-escape.tar",
            tar_of(&[e(
                "manifest.json",
                file(r#"[{"Config":"../../../../etc/passwd","Layers":["/etc/shadow"]}]"#),
            )]),
        ),
        (
            "manifest-not-json.tar",
            tar_of(&[e("manifest.json", file("[{"))]),
        ),
        (
            "oci-index-escape.tar",
            tar_of(&[
                e("oci-layout", file(r#"{"imageLayoutVersion":"1.0.0"}"#)),
                e(
                    "index.json",
                    file(
                        r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../../../etc/passwd","size":1}]}"#,
                    ),
                ),
            ]),
        ),
        ("truncated.tar", {
            let mut v = docker_archive(&tar_of(&[e("a", file("x"))]), &[]);
            v.truncate(700);
            v
        }),
        ("gzip-garbage.gz", vec![0x1f, 0x8b, 0x08, 0, 1, 2, 3, 4, 5]),
        ("empty", Vec::new()),
        ("zeros.tar", vec![0; 1024]),
    ];
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).expect("writing a corpus file");
    }
}
