//! Ground truth: the same tarballs loaded into our store and into the real
//! dockerd (at /var/run/docker.sock) must give the same image IDs, dockerd's
//! own `docker save` output must load here, and our `save` output must load
//! into dockerd. dockerd is always present where these tests run; without it
//! they fail loudly rather than pass silently.

use std::io::{Cursor, Write};
use std::path::Path;
use std::process::Command;

use shipshape_store::ImageStore;

const SOCKET: &str = "/var/run/docker.sock";

fn require_dockerd() {
    assert!(
        Path::new(SOCKET).exists(),
        "these tests compare against a real dockerd, but {SOCKET} does not exist"
    );
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("running the docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes the tags this test created in dockerd, however it ends.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for t in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", t]).output();
        }
    }
}

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn tar_of(entries: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data, kind) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn archive(tag: &str, layers: &[&[u8]], label: &str) -> (Vec<u8>, String) {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    // Key order and spacing as another tool might write them: the ID is the
    // hash of these exact bytes, never of a re-serialisation.
    let config = format!(
        "{{\"os\":\"linux\", \"architecture\":\"amd64\",\"created\":\"2024-05-06T07:08:09.5Z\",\"config\":{{\"Cmd\":[\"/x\"],\"Labels\":{{\"t\":\"{label}\"}}}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":{}}}}}",
        serde_json::to_string(&diff_ids).unwrap()
    );
    let mut b = tar::Builder::new(Vec::new());
    let mut paths = Vec::new();
    for l in layers {
        let p = format!("{}/layer.tar", &sha(l)[7..]);
        let mut h = tar::Header::new_ustar();
        h.set_size(l.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, &p, *l).unwrap();
        paths.push(p);
    }
    let cname = format!("{}.json", &sha(config.as_bytes())[7..]);
    let mut h = tar::Header::new_ustar();
    h.set_size(config.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, &cname, config.as_bytes()).unwrap();
    let m = serde_json::to_vec(
        &serde_json::json!([{"Config": cname, "RepoTags": [tag], "Layers": paths}]),
    )
    .unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(m.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "manifest.json", &m[..]).unwrap();
    (b.into_inner().unwrap(), sha(config.as_bytes()))
}

#[test]
fn ids_and_archives_agree_with_dockerd() {
    require_dockerd();
    let pid = std::process::id();
    let tag = format!("storetest-int-{pid}:1");
    let ours_tag = format!("storetest-int-{pid}:ours");
    let gz_tag = format!("storetest-int-{pid}:gz");
    let _cleanup = Cleanup(vec![tag.clone(), ours_tag.clone(), gz_tag.clone()]);
    let work = tempfile::tempdir().unwrap();

    let l1 = tar_of(&[
        ("etc/", b"", tar::EntryType::Directory),
        ("etc/hello", b"hello\n", tar::EntryType::Regular),
    ]);
    let l2 = tar_of(&[
        ("etc/", b"", tar::EntryType::Directory),
        ("etc/.wh.hello", b"", tar::EntryType::Regular),
        ("opt/", b"", tar::EntryType::Directory),
        ("opt/.wh..wh..opq", b"", tar::EntryType::Regular),
        ("opt/f", b"data", tar::EntryType::Regular),
    ]);
    let (arch, expected_id) = archive(&tag, &[&l1, &l2], &pid.to_string());
    let arch_path = work.path().join("in.tar");
    std::fs::write(&arch_path, &arch).unwrap();

    // 1. Same ID in dockerd and here.
    let out = docker(&["load", "-i", arch_path.to_str().unwrap()]);
    assert_eq!(out, format!("Loaded image: {tag}"));
    let docker_id = docker(&["image", "inspect", "--format", "{{.Id}}", &tag]);
    assert_eq!(docker_id, expected_id);
    let store_dir = work.path().join("store");
    let store = ImageStore::open(&store_dir).unwrap();
    let mut lines = Vec::new();
    let ids = store
        .load(Cursor::new(&arch), &mut |l| lines.push(l.to_string()))
        .unwrap();
    assert_eq!(ids, vec![docker_id.clone()]);
    assert_eq!(lines, vec![format!("Loaded image: {tag}")]);
    // Size as dockerd counts it.
    let docker_size = docker(&["image", "inspect", "--format", "{{.Size}}", &tag]);
    assert_eq!(store.get(&tag).unwrap().size.to_string(), docker_size);
    let docker_created = docker(&["image", "inspect", "--format", "{{json .Created}}", &tag]);
    assert_eq!(
        format!("\"{}\"", store.get(&tag).unwrap().created),
        docker_created
    );

    // 2. dockerd's own `docker save` output loads here with the same ID and layers.
    let saved_path = work.path().join("docker-saved.tar");
    docker(&["save", &tag, "-o", saved_path.to_str().unwrap()]);
    let store2 = ImageStore::open(&work.path().join("store2")).unwrap();
    let saved = std::fs::read(&saved_path).unwrap();
    assert_eq!(
        store2.load(Cursor::new(&saved), &mut |_| {}).unwrap(),
        vec![docker_id.clone()]
    );
    let img = store2.get(&tag).unwrap();
    assert_eq!(img.layers, vec![sha(&l1), sha(&l2)]);
    // gzip'd, too.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&saved).unwrap();
    let gz = gz.finish().unwrap();
    let store3 = ImageStore::open(&work.path().join("store3")).unwrap();
    assert_eq!(
        store3.load(Cursor::new(&gz), &mut |_| {}).unwrap(),
        vec![docker_id.clone()]
    );

    // 3. Our `save` loads into dockerd, under a tag only we created.
    store.tag(&tag, &ours_tag, None).unwrap();
    let mut ours = Vec::new();
    store
        .save(std::slice::from_ref(&ours_tag), &mut ours)
        .unwrap();
    let ours_path = work.path().join("ours.tar");
    std::fs::write(&ours_path, &ours).unwrap();
    let out = docker(&["load", "-i", ours_path.to_str().unwrap()]);
    assert_eq!(out, format!("Loaded image: {ours_tag}"));
    assert_eq!(
        docker(&["image", "inspect", "--format", "{{.Id}}", &ours_tag]),
        docker_id
    );

    // 4. A gzip'd archive: dockerd and we agree on it too.
    let (arch2, id2) = archive(&gz_tag, &[&l1], "gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&arch2).unwrap();
    let gz2 = gz.finish().unwrap();
    let gz_path = work.path().join("in.tar.gz");
    std::fs::write(&gz_path, &gz2).unwrap();
    docker(&["load", "-i", gz_path.to_str().unwrap()]);
    assert_eq!(
        docker(&["image", "inspect", "--format", "{{.Id}}", &gz_tag]),
        id2
    );
    assert_eq!(
        store.load(Cursor::new(&gz2), &mut |_| {}).unwrap(),
        vec![id2]
    );
}

/// Manual check: `STORE_ARCHIVE=/path/to/saved.tar cargo test -p shipshape-store
/// --test dockerd -- --ignored` loads any archive and prints what we see.
#[test]
#[ignore]
fn load_archive_from_env() {
    let path = std::env::var("STORE_ARCHIVE").expect("set STORE_ARCHIVE");
    let work = tempfile::tempdir().unwrap();
    let store = ImageStore::open(work.path()).unwrap();
    let f = std::fs::File::open(path).unwrap();
    let ids = store.load(f, &mut |l| println!("{l}")).unwrap();
    for id in ids {
        let img = store.get(&id).unwrap();
        println!(
            "{} size={} created={} tags={:?}",
            img.id, img.size, img.created, img.repo_tags
        );
    }
}
