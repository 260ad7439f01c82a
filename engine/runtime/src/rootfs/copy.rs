//! The copied-root fallback: when overlayfs is unavailable (nested in another
//! overlay, missing module, no privilege), the layers are replayed into a plain
//! directory, lowest first, honouring whiteouts in both formats:
//! * overlay: a 0:0 character device deletes, `trusted.overlay.opaque=y` on a
//!   directory hides everything below it;
//! * AUFS/OCI: `.wh.<name>` deletes, `.wh..wh..opq` makes the directory opaque.
//!
//! Ownership, mode (including setuid, applied after chown which clears it) and
//! mtimes are preserved so the daemon can later diff the copy against layers.
//! Hard links inside one layer are preserved; xattrs are not copied.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Replay `layers` (lowest first) into `dest`.
pub(crate) fn copy_layers(layers: &[PathBuf], dest: &Path) -> io::Result<()> {
    for layer in layers {
        let mut links = HashMap::new();
        apply_dir(layer, dest, &mut links).map_err(|e| {
            io::Error::new(e.kind(), format!("copying layer {}: {e}", layer.display()))
        })?;
    }
    Ok(())
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn is_overlay_opaque(dir: &Path) -> bool {
    let Ok(path) = cpath(dir) else { return false };
    let mut buf = [0u8; 4];
    // SAFETY: valid C string and buffer; lgetxattr does not follow symlinks.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n == 1 && buf[0] == b'y'
}

fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn clear_dir(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        remove_any(&entry?.path())?;
    }
    Ok(())
}

/// Copy owner, mode and mtime from `meta` onto `dst` (not following symlinks).
fn copy_attributes(dst: &Path, meta: &fs::Metadata) -> io::Result<()> {
    let c = cpath(dst)?;
    // SAFETY: valid C string. chown first: it clears setuid/setgid bits.
    if unsafe { libc::lchown(c.as_ptr(), meta.uid(), meta.gid()) } != 0 {
        let err = io::Error::last_os_error();
        // Unprivileged (tests): keep our own ownership.
        if err.raw_os_error() != Some(libc::EPERM) {
            return Err(err);
        }
    }
    if !meta.file_type().is_symlink() {
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    let times = [
        libc::timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec(),
        },
        libc::timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec(),
        },
    ];
    // SAFETY: valid C string and a two-element timespec array.
    if unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn apply_dir(src: &Path, dst: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> io::Result<()> {
    if is_overlay_opaque(src) || src.join(OPAQUE_MARKER).symlink_metadata().is_ok() {
        clear_dir(dst)?;
    }
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        let from = entry.path();
        if name_str == OPAQUE_MARKER {
            continue;
        }
        if let Some(hidden) = name_str.strip_prefix(WHITEOUT_PREFIX) {
            remove_any(&dst.join(hidden))?;
            continue;
        }
        let to = dst.join(&name);
        let meta = fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            remove_any(&to)?; // overlay-format whiteout
            continue;
        }
        if ft.is_dir() {
            match fs::symlink_metadata(&to) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    fs::remove_file(&to)?;
                    fs::create_dir(&to)?;
                }
                Err(_) => fs::create_dir(&to)?,
            }
            apply_dir(&from, &to, links)?;
            copy_attributes(&to, &meta)?;
            continue;
        }
        remove_any(&to)?;
        if meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                fs::hard_link(first, &to)?;
                continue;
            }
        }
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if ft.is_file() {
            fs::copy(&from, &to)?;
        } else {
            // Device, fifo or socket: recreate the node.
            let c = cpath(&to)?;
            // SAFETY: valid C string; mode and dev come from lstat.
            if unsafe { libc::mknod(c.as_ptr(), meta.mode(), meta.rdev()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        copy_attributes(&to, &meta)?;
        if meta.nlink() > 1 {
            links.insert((meta.dev(), meta.ino()), to);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_layers_with_aufs_whiteouts() {
        let tmp = tempfile::tempdir().unwrap();
        let l1 = tmp.path().join("l1");
        let l2 = tmp.path().join("l2");
        let out = tmp.path().join("out");
        fs::create_dir_all(l1.join("dir/sub")).unwrap();
        fs::create_dir_all(l1.join("opaque")).unwrap();
        fs::write(l1.join("keep"), "1").unwrap();
        fs::write(l1.join("gone"), "1").unwrap();
        fs::write(l1.join("dir/sub/f"), "1").unwrap();
        fs::write(l1.join("opaque/old"), "1").unwrap();
        fs::set_permissions(l1.join("keep"), fs::Permissions::from_mode(0o751)).unwrap();
        std::os::unix::fs::symlink("keep", l1.join("link")).unwrap();
        fs::hard_link(l1.join("keep"), l1.join("hard")).unwrap();

        fs::create_dir_all(l2.join("opaque")).unwrap();
        fs::write(l2.join(".wh.gone"), "").unwrap();
        fs::write(l2.join("opaque/.wh..wh..opq"), "").unwrap();
        fs::write(l2.join("opaque/new"), "2").unwrap();
        fs::write(l2.join("dir"), "now a file").unwrap();
        fs::create_dir_all(&out).unwrap();

        copy_layers(&[l1, l2], &out).unwrap();
        assert_eq!(fs::read_to_string(out.join("keep")).unwrap(), "1");
        assert_eq!(
            fs::metadata(out.join("keep")).unwrap().mode() & 0o7777,
            0o751
        );
        assert_eq!(
            fs::read_link(out.join("link")).unwrap(),
            PathBuf::from("keep")
        );
        assert_eq!(
            fs::metadata(out.join("hard")).unwrap().ino(),
            fs::metadata(out.join("keep")).unwrap().ino()
        );
        assert!(!out.join("gone").exists());
        assert!(!out.join(".wh.gone").exists());
        assert!(!out.join("opaque/old").exists());
        assert!(out.join("opaque/new").exists());
        assert!(!out.join("opaque/.wh..wh..opq").exists());
        assert_eq!(fs::read_to_string(out.join("dir")).unwrap(), "now a file");
    }
}
