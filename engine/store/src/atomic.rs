//! Crash-safe writes: a file is either the old content or the new, never half.
//! Write to a temp file in the same directory, fsync it, rename over the
//! target, then fsync the directory so the rename itself is durable.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Prefix of temp files; `clean_temp_files` removes leftovers after a crash.
pub const TEMP_PREFIX: &str = ".tmp-";

pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write(path, bytes, true)
}

/// Atomic but not durable: readers (and a restarted process) see the old or
/// the new content, never a mix, but a power loss may bring the old back.
/// For data that is derived, or re-derived on restart anyway, where an fsync
/// (about a millisecond here) is pure cost.
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write(path, bytes, false)
}

fn write(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        if durable {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    write_file(path, &bytes)
}

/// [`replace_file`] for JSON.
pub fn replace_json<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    replace_file(path, &bytes)
}

/// Removes `.tmp-*` files left in `dir` (not recursive) by a crash mid-write.
pub fn clean_temp_files(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_file(&p, b"one").unwrap();
        write_file(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn cleans_leftover_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".tmp-x-1"), b"half").unwrap();
        fs::write(dir.path().join("keep"), b"k").unwrap();
        clean_temp_files(dir.path()).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["keep".to_string()]);
    }
}
