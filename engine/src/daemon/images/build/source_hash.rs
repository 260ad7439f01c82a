//! The cache key of a COPY/ADD source as dockerd's classic builder makes
//! it (the `file:<hex>` / `dir:<hex>` / `multi:<hex>` in the step's history
//! and container config, which the cache compares):
//!
//! * a file (or symlink): sha256 of its tarsum v1 header, then its bytes.
//!   The header is the tar fields `name`, `mode`, `uid`, `gid`, `size`,
//!   `typeflag`, `linkname`, `uname`, `gname`, `devmajor`, `devminor`, each
//!   written as the field's name followed by its value (decimal numbers);
//!   no mtime, so a file touched but unchanged still hits the cache;
//! * a directory: `dir:` + sha256 of the sorted hashes of every entry under
//!   it, itself included, joined by ",";
//! * several sources: `multi:` + sha256 of their keys, in order, joined by
//!   ",".
//!
//! For the build context, names are paths in the context (directories with
//! a trailing "/") and the owner is root with no user or group name, as the
//! docker CLI sends them: the keys are byte for byte dockerd's (checked
//! against dockerd 20.10.24's history, see the tests). For `COPY --from`,
//! dockerd hashes the image's files without names and with their owners.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use sha2::{Digest, Sha256};

/// The key of one source: `file:<hex>` or `dir:<hex>`. `named`: hash the
/// entry names (context sources) or not (`--from` sources).
pub fn of_path(root: &Path, path: &Path, named: bool) -> io::Result<String> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(format!("file:{}", entry(root, path, &meta, named)?));
    }
    let mut all = Vec::new();
    collect(root, path, &meta, named, &mut all)?;
    all.sort();
    Ok(joined("dir", &all))
}

/// One key for all sources, as dockerd: a single source keeps its own.
pub fn combine(mut keys: Vec<String>) -> String {
    if keys.len() == 1 {
        return keys.remove(0);
    }
    joined("multi", &keys)
}

fn joined(prefix: &str, parts: &[String]) -> String {
    format!(
        "{prefix}:{}",
        hex::encode(Sha256::digest(parts.join(",").as_bytes()))
    )
}

fn collect(
    root: &Path,
    path: &Path,
    meta: &fs::Metadata,
    named: bool,
    out: &mut Vec<String>,
) -> io::Result<()> {
    out.push(entry(root, path, meta, named)?);
    if meta.is_dir() {
        for e in fs::read_dir(path)? {
            let e = e?;
            let m = fs::symlink_metadata(e.path())?;
            collect(root, &e.path(), &m, named, out)?;
        }
    }
    Ok(())
}

/// The hex sha256 of one entry's tarsum v1 header and content.
fn entry(root: &Path, path: &Path, meta: &fs::Metadata, named: bool) -> io::Result<String> {
    let ft = meta.file_type();
    let (typeflag, size, link) = if ft.is_dir() {
        ('5', 0, String::new())
    } else if ft.is_symlink() {
        let target = fs::read_link(path)?;
        ('2', 0, target.to_string_lossy().into_owned())
    } else {
        ('0', meta.len(), String::new())
    };
    let mut name = String::new();
    if named {
        name = path
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if ft.is_dir() {
            name.push('/');
        }
    }
    let (uid, gid) = if named {
        (0, 0)
    } else {
        (meta.uid(), meta.gid())
    };
    let mode = meta.permissions().mode() & 0o7777;
    let mut h = Sha256::new();
    for (k, v) in [
        ("name", name),
        ("mode", mode.to_string()),
        ("uid", uid.to_string()),
        ("gid", gid.to_string()),
        ("size", size.to_string()),
        ("typeflag", typeflag.to_string()),
        ("linkname", link),
        ("uname", String::new()),
        ("gname", String::new()),
        ("devmajor", "0".into()),
        ("devminor", "0".into()),
    ] {
        h.update(k.as_bytes());
        h.update(v.as_bytes());
    }
    if ft.is_file() {
        io::copy(&mut File::open(path)?, &mut h)?;
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(dir: &Path, name: &str, data: &[u8], mode: u32) {
        let p = dir.join(name);
        fs::write(&p, data).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Keys read from dockerd 20.10.24's history (`docker history
    /// --no-trunc`) after `docker build` (DOCKER_BUILDKIT=0) of the same
    /// context: `COPY f /f`, `COPY dir /d`, `COPY f dir/g /m/`.
    #[test]
    fn keys_are_dockerds() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        file(root, "f", b"bbbb\n", 0o600);
        assert_eq!(
            of_path(root, &root.join("f"), true).unwrap(),
            "file:a9a74337fc620d36b20a5f217b555e6279989b9c38b2c6e251d22f3ee9156f0b"
        );
        file(root, "f", b"bbbb\n", 0o644);
        assert_eq!(
            of_path(root, &root.join("f"), true).unwrap(),
            "file:50bdaff7a10b7310ab99fa0ec2561d957c949c99082d77eeaa3a51b69280d5f6"
        );
        file(root, "f", b"x\n", 0o644);
        fs::create_dir(root.join("dir")).unwrap();
        fs::set_permissions(root.join("dir"), fs::Permissions::from_mode(0o755)).unwrap();
        file(root, "dir/g", b"y\n", 0o644);
        assert_eq!(
            of_path(root, &root.join("dir"), true).unwrap(),
            "dir:80ae5447f401cf891a40ff4032e52871e30e7bf6f68fe438dbcbe248906a79e0"
        );
        let keys = vec![
            of_path(root, &root.join("f"), true).unwrap(),
            of_path(root, &root.join("dir/g"), true).unwrap(),
        ];
        assert_eq!(
            combine(keys),
            "multi:1c025a0494b6fc7644bd46079f9bb2b55b3ec3bc1b30e4337b0015bab3317fb0"
        );
    }

    #[test]
    fn mtime_is_not_in_the_key_but_content_is() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        file(root, "f", b"aaaa\n", 0o644);
        let a = of_path(root, &root.join("f"), true).unwrap();
        let f = File::options().write(true).open(root.join("f")).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(of_path(root, &root.join("f"), true).unwrap(), a);
        file(root, "f", b"bbbb\n", 0o644);
        assert_ne!(of_path(root, &root.join("f"), true).unwrap(), a);
    }
}
