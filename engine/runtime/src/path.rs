//! Resolving container paths on the host side, without letting symlinks in the
//! image escape the root (in the spirit of filepath-securejoin).
//!
//! Used for mount destinations: an image may ship `/data -> /etc` or
//! `/x -> ../../../../host`; a bind mount to `/data` must land on
//! `<root>/etc`, never on the host's `/etc`.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 255;

/// Resolve `path` (interpreted inside the container, relative to `/`) to a host
/// path under `root`. Symlinks are followed as if `root` were `/`; `..` cannot
/// climb above `root`. Missing trailing components are kept as-is.
pub(crate) fn resolve_in_root(root: &Path, path: &str) -> io::Result<PathBuf> {
    let mut pending: Vec<OsString> = components(Path::new(path));
    pending.reverse(); // pop() from the end = next component
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0;

    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&resolved);
        candidate.push(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
            Ok(_) => resolved.push(part),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                resolved.push(part)
            }
            Err(e) => return Err(e),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&resolved);
    Ok(out)
}

/// Normal and `..` components of a path (root and `.` dropped).
fn components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// True when `p` is absolute and contains no NUL.
pub(crate) fn is_clean_absolute(p: &str) -> bool {
    p.starts_with('/') && !Path::new(p).as_os_str().as_bytes().contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../../../etc", r.join("rel")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();

        assert_eq!(
            resolve_in_root(r, "/abs/passwd").unwrap(),
            r.join("etc/passwd")
        );
        assert_eq!(resolve_in_root(r, "/rel/x").unwrap(), r.join("etc/x"));
        assert_eq!(resolve_in_root(r, "/../../etc").unwrap(), r.join("etc"));
        assert_eq!(resolve_in_root(r, "/a/b/../c").unwrap(), r.join("a/c"));
        assert_eq!(resolve_in_root(r, "/").unwrap(), r.to_path_buf());
        assert_eq!(
            resolve_in_root(r, "/loop1").unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
    }
}
