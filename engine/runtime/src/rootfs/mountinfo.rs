//! Reading /proc/self/mountinfo to tell whether a directory is a mount point.

use std::io;
use std::path::{Path, PathBuf};

/// Undo the octal escapes (`\040` for space etc.) mountinfo uses in paths.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if (b'0'..=b'3').contains(&oct[0]) && oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                out.push((oct[0] - b'0') * 64 + (oct[1] - b'0') * 8 + (oct[2] - b'0'));
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points listed in a mountinfo text (5th field of each line).
pub(crate) fn mount_points(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|f| PathBuf::from(unescape(f)))
        .collect()
}

/// The mount `path` (absolute, symlinks resolved) lies on, as mountinfo
/// lists it: its mount point and its optional fields (`shared:N`,
/// `master:N`...). The last listed of the longest matching mount points
/// (the one on top).
pub(crate) fn containing_mount(text: &str, path: &Path) -> Option<(PathBuf, Vec<String>)> {
    let mut best: Option<(PathBuf, Vec<String>)> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(point) = fields.get(4).map(|f| PathBuf::from(unescape(f))) else {
            continue;
        };
        if !path.starts_with(&point) {
            continue;
        }
        if best
            .as_ref()
            .is_some_and(|(b, _)| b.components().count() > point.components().count())
        {
            continue;
        }
        let optional = fields
            .iter()
            .skip(6)
            .take_while(|f| **f != "-")
            .map(|f| f.to_string())
            .collect();
        best = Some((point, optional));
    }
    best
}

/// Whether `path` is currently a mount point in this mount namespace.
pub(crate) fn is_mount_point(path: &Path) -> io::Result<bool> {
    match mount_root_attr(path) {
        Ok(Some(is_root)) => Ok(is_root),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        // Kernels before 5.8 do not report it: read the mount table.
        Ok(None) | Err(_) => listed_in_mountinfo(path),
    }
}

/// statx's STATX_ATTR_MOUNT_ROOT for `path` (not following a final
/// symlink): one syscall, where the mount table grows with every running
/// container. `None` when the kernel does not report the attribute.
fn mount_root_attr(path: &Path) -> io::Result<Option<bool>> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: statx fills the zeroed struct; c_path is NUL-terminated.
    let stx = unsafe {
        let mut stx: libc::statx = std::mem::zeroed();
        if libc::statx(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_TYPE,
            &mut stx,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        stx
    };
    let attr = libc::STATX_ATTR_MOUNT_ROOT as u64;
    Ok((stx.stx_attributes_mask & attr != 0).then_some(stx.stx_attributes & attr != 0))
}

fn listed_in_mountinfo(path: &Path) -> io::Result<bool> {
    let canonical = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(mount_points(&text).contains(&canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_roots_are_told_apart() {
        // "/" and /proc are mount points everywhere; a directory made just now is not.
        assert!(is_mount_point(Path::new("/")).unwrap());
        assert!(is_mount_point(Path::new("/proc")).unwrap());
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(!is_mount_point(&sub).unwrap());
        assert!(!is_mount_point(&d.path().join("missing")).unwrap());
        // Both ways agree.
        for p in [Path::new("/proc"), sub.as_path()] {
            assert_eq!(
                mount_root_attr(p)
                    .unwrap()
                    .unwrap_or_else(|| listed_in_mountinfo(p).unwrap()),
                listed_in_mountinfo(p).unwrap()
            );
        }
    }

    #[test]
    fn finds_the_mount_a_path_is_on() {
        let text = "22 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n\
                    30 22 0:5 / /tmp rw master:3 - tmpfs tmpfs rw\n\
                    31 22 0:6 / /tmpx rw - tmpfs tmpfs rw\n";
        let of = |p: &str| containing_mount(text, Path::new(p));
        assert_eq!(
            of("/tmp/a/b"),
            Some((PathBuf::from("/tmp"), vec!["master:3".to_string()]))
        );
        assert_eq!(
            of("/tmpy"),
            Some((PathBuf::from("/"), vec!["shared:1".to_string()]))
        );
        assert_eq!(of("/tmpx").map(|m| m.1), Some(vec![]));
    }

    #[test]
    fn parses_escaped_mount_points() {
        let text = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    90 22 0:50 / /var/lib/with\\040space/merged rw - overlay overlay rw,lowerdir=/a\n";
        assert_eq!(
            mount_points(text),
            vec![
                PathBuf::from("/"),
                PathBuf::from("/var/lib/with space/merged")
            ]
        );
    }
}
