//! The crash test's checks of what a restarted engine serves and keeps:
//! log streams, `docker save` streams, and its data root (mounts, temp
//! files, records without their metadata).

use std::path::Path;

use super::Ctr;

/// Logs are a well-formed multiplexed stream, and hold the echoed line once
/// a run was acknowledged.
pub fn check_logs(id: &str, c: &Ctr, body: &[u8]) {
    let mut rest = body;
    let mut text = Vec::new();
    while !rest.is_empty() {
        assert!(rest.len() >= 8, "logs of {id}: torn frame header");
        assert!(
            matches!(rest[0], 1 | 2) && rest[1..4] == [0, 0, 0],
            "logs of {id}: bad frame header {:?}",
            &rest[..8]
        );
        let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        assert!(
            rest.len() >= 8 + len,
            "logs of {id}: frame longer than the stream"
        );
        text.extend_from_slice(&rest[8..8 + len]);
        rest = &rest[8 + len..];
    }
    let text = String::from_utf8_lossy(&text);
    if let (Some(n), true) = (c.echo, c.logged) {
        assert!(
            text.contains(&format!("hello-{n}\n")),
            "logs of {id} lost an acknowledged run's output: {text:?}"
        );
    }
    for line in text.lines() {
        assert!(
            line.starts_with("hello-"),
            "logs of {id}: unexpected line {line:?}"
        );
    }
}

/// A `docker save` stream is a whole tar with a manifest and every layer.
pub fn check_save(id: &str, tar: &[u8]) {
    let mut pos = 0;
    let mut names = Vec::new();
    loop {
        assert!(pos + 512 <= tar.len(), "save of {id}: tar cut at {pos}");
        let h = &tar[pos..pos + 512];
        if h.iter().all(|b| *b == 0) {
            break;
        }
        let name = String::from_utf8_lossy(&h[..100])
            .trim_end_matches('\0')
            .to_string();
        let size_text = String::from_utf8_lossy(&h[124..136]);
        let size = u64::from_str_radix(size_text.trim_matches(|c: char| c == '\0' || c == ' '), 8)
            .unwrap_or_else(|_| panic!("save of {id}: bad size {size_text:?} for {name}"));
        pos += 512 + (size as usize).div_ceil(512) * 512;
        names.push(name);
    }
    assert!(
        names.iter().any(|n| n == "manifest.json"),
        "save of {id}: no manifest.json in {names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.ends_with(".tar") || n.contains("blobs/")),
        "save of {id}: no layer in {names:?}"
    );
}

/// Mount points under `root` in this (the engine's) mount namespace.
pub fn mounts_under(root: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let root = root.to_string_lossy().to_string();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| p.starts_with(&format!("{root}/")))
        .collect()
}

/// Leftovers in the data root: temp files, unfinished layers, records
/// without their metadata.
pub fn leftovers(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, 0, &mut out);
    for scratch in ["tmp", "image/tmp"] {
        let d = root.join(scratch);
        if std::fs::read_dir(&d).is_ok_and(|mut r| r.next().is_some()) {
            out.push(format!("{} is not empty", d.display()));
        }
    }
    let must_hold = [
        ("containers", "config.v2.json"),
        ("volumes", "volume.json"),
        ("image/layers", "meta.json"),
    ];
    for (dir, file) in must_hold {
        for entry in std::fs::read_dir(root.join(dir)).into_iter().flatten() {
            let p = entry.map(|e| e.path()).unwrap_or_default();
            if !p.join(file).is_file() {
                out.push(format!("{} has no {file}", p.display()));
            }
        }
    }
    out
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<String>) {
    // Content (layers, container roots, volume data) is not the engine's bookkeeping.
    const CONTENT: [&str; 6] = ["diff", "merged", "upper", "work", "_data", "init"];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        // `populating` marks a volume being filled from the image.
        if name.starts_with(".tmp") || name.ends_with(".tmp") || name == "populating" {
            out.push(path.display().to_string());
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && depth < 5 && !CONTENT.contains(&name.as_str()) {
            walk(&path, depth + 1, out);
        }
    }
}
