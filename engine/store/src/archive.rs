//! Tar handling: decompression detection, hashing readers, and a safe
//! unpacker that turns a layer tar into an overlayfs lower directory.
//!
//! Safety rules (we do not chroot, so every path is checked):
//! - entry names are cleaned lexically; absolute names and names that climb
//!   out with `..` are refused;
//! - no parent component of an entry may be a symlink (it could point
//!   anywhere); we never follow a symlink while creating anything;
//! - hardlink targets must be inside the layer and already unpacked;
//! - a symlink whose relative target climbs out of the root is refused
//!   (dockerd refuses these too; absolute targets are fine, they resolve
//!   inside the container's root at run time);
//! - block and character devices are skipped (a layer has no business
//!   shipping them; the runtime provides /dev), except the overlay whiteout
//!   marker (char 0:0).

use std::collections::HashSet;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::StoreError;

const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

/// A reader that hashes (sha256) and counts everything read through it.
pub struct HashReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashReader<R> {
    pub fn new(inner: R) -> Self {
        HashReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads to the end (so trailing padding is hashed too) and returns
    /// `("sha256:<hex>", bytes read)`.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.count,
        ))
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that forwards to `inner` and hashes what passes.
pub struct HashWriter<W> {
    pub inner: W,
    hasher: Sha256,
}

impl<W: Write> HashWriter<W> {
    pub fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
        }
    }
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex::encode(self.hasher.clone().finalize()))
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Wraps `r` in a gzip decoder if it starts with the gzip magic; refuses the
/// other compressions dockerd knows (we ship no decoder for them) with a clear message.
pub fn decompress<'a, R: Read + 'a>(r: R) -> Result<Box<dyn Read + 'a>, StoreError> {
    let mut br = BufReader::with_capacity(64 * 1024, r);
    let head = br.fill_buf()?.to_vec();
    if head.starts_with(&[0x1f, 0x8b]) {
        // MultiGzDecoder: some tools write concatenated gzip members.
        return Ok(Box::new(flate2::read::MultiGzDecoder::new(br)));
    }
    let unsupported = |name: &str| {
        Err(StoreError::InvalidInput(format!(
            "unsupported compression format {name}: only gzip and uncompressed archives can be loaded"
        )))
    };
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return unsupported("zstd");
    }
    if head.starts_with(b"BZh") {
        return unsupported("bzip2");
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return unsupported("xz");
    }
    Ok(Box::new(br))
}

#[derive(Debug, Clone, Copy)]
pub struct UnpackOptions {
    /// Turn AUFS-style `.wh.` entries into overlayfs whiteouts (layers);
    /// off for the outer image archive, whose files are plain files.
    pub overlay_whiteouts: bool,
    /// Apply uid/gid and xattrs from the tar (layers); off for the outer archive.
    pub preserve_owner: bool,
}

pub fn breakout(msg: String) -> StoreError {
    StoreError::InvalidInput(msg)
}

/// Cleans an entry name to a relative path inside the root. `None` for the root itself.
fn clean_entry_path(raw: &Path) -> Result<Option<PathBuf>, StoreError> {
    let shown = raw.display().to_string();
    if raw.is_absolute() {
        return Err(breakout(format!(
            "refusing tar entry {shown:?}: absolute paths are not allowed in a layer"
        )));
    }
    let mut out: Vec<&std::ffi::OsStr> = Vec::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if out.pop().is_none() {
                    return Err(breakout(format!("{shown:?} is outside of the layer root")));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(breakout(format!(
                    "refusing tar entry {shown:?}: absolute paths are not allowed in a layer"
                )))
            }
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(out.iter().collect()))
}

/// Makes sure every parent directory of `rel` exists under `root` as a real
/// directory (creating missing ones), refusing symlinks on the way.
fn ensure_parents(root: &Path, rel: &Path) -> Result<(), StoreError> {
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    let mut cur = root.to_path_buf();
    for c in parent.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(breakout(format!(
                    "refusing tar entry {:?}: parent {:?} is a symlink",
                    rel.display().to_string(),
                    cur.strip_prefix(root).unwrap_or(&cur).display().to_string()
                )));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(breakout(format!(
                    "refusing tar entry {:?}: parent {:?} is not a directory",
                    rel.display().to_string(),
                    cur.strip_prefix(root).unwrap_or(&cur).display().to_string()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&cur).map_err(|e| StoreError::io(cur.display(), e))?;
                fs::set_permissions(&cur, fs::Permissions::from_mode(0o755))?;
            }
            Err(e) => return Err(StoreError::io(cur.display(), e)),
        }
    }
    Ok(())
}

/// Removes whatever sits at `path` unless it is a directory and we want one.
fn clear_target(path: &Path, want_dir: bool) -> Result<(), StoreError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() && want_dir => Ok(()),
        Ok(m) if m.is_dir() => {
            fs::remove_dir_all(path).map_err(|e| StoreError::io(path.display(), e))
        }
        Ok(_) => fs::remove_file(path).map_err(|e| StoreError::io(path.display(), e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(path.display(), e)),
    }
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

fn lchown(p: &Path, uid: u64, gid: u64) -> io::Result<()> {
    let c = cpath(p)?;
    // SAFETY: c is a valid NUL-terminated path.
    let rc = unsafe { libc::lchown(c.as_ptr(), uid as libc::uid_t, gid as libc::gid_t) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn lsetxattr(p: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c = cpath(p)?;
    let n = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in xattr"))?;
    // SAFETY: valid C strings and a valid buffer of the given length.
    let rc = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn lgetxattr(p: &Path, name: &str) -> io::Result<Vec<u8>> {
    let c = cpath(p)?;
    let n = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in xattr"))?;
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and buffer.
    let rc = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(rc as usize);
    Ok(buf)
}

fn mknod(p: &Path, mode: libc::mode_t, major: u32, minor: u32) -> io::Result<()> {
    let c = cpath(p)?;
    // SAFETY: valid path; makedev is a pure computation.
    let rc = unsafe { libc::mknod(c.as_ptr(), mode, libc::makedev(major, minor)) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_mtime(p: &Path, secs: u64) -> io::Result<()> {
    let c = cpath(p)?;
    let t = libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: 0,
    };
    let times = [t, t];
    // SAFETY: valid path and a two-element timespec array, as utimensat wants.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Xattr errors that only mean "this filesystem/namespace cannot hold it";
/// dockerd ignores the same ones.
fn ignorable_xattr_error(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EPERM))
}

/// Unpacks the tar stream `r` into `root` (an existing, empty directory).
/// Returns the content size the way dockerd counts it: the sizes of all
/// non-directory entries, hardlinked files counted once.
pub fn unpack(r: impl Read, root: &Path, opts: UnpackOptions) -> Result<u64, StoreError> {
    let mut archive = tar::Archive::new(r);
    let mut dir_times: Vec<(PathBuf, u64)> = Vec::new();
    let mut size: u64 = 0;
    let mut seen_inodes: HashSet<u64> = HashSet::new();
    let entries = archive
        .entries()
        .map_err(|e| StoreError::InvalidInput(format!("invalid tar archive: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| StoreError::InvalidInput(format!("invalid tar archive: {e}")))?;
        let raw = entry
            .path()
            .map_err(|e| StoreError::InvalidInput(format!("invalid tar entry name: {e}")))?
            .into_owned();
        let header = entry.header().clone();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let mtime = header.mtime().unwrap_or(0);

        let Some(rel) = clean_entry_path(&raw)? else {
            // The root itself ("./"): take its metadata, nothing to create.
            if kind.is_dir() {
                fs::set_permissions(root, fs::Permissions::from_mode(mode))?;
                if opts.preserve_owner {
                    lchown(root, uid, gid)?;
                }
                dir_times.push((root.to_path_buf(), mtime));
            }
            continue;
        };
        ensure_parents(root, &rel)?;
        let path = root.join(&rel);
        let base = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();

        if opts.overlay_whiteouts && base.starts_with(WHITEOUT_PREFIX) {
            let dir = path.parent().unwrap_or(root);
            if base == WHITEOUT_OPAQUE {
                // Opaque directory: hide everything below it in lower layers.
                lsetxattr(dir, "trusted.overlay.opaque", b"y")
                    .map_err(|e| StoreError::io(format!("marking {} opaque", dir.display()), e))?;
            } else if base.starts_with(WHITEOUT_META_PREFIX) {
                // Other AUFS metadata (hardlink dirs): meaningless for overlay.
                tracing::debug!(entry = %raw.display(), "skipping aufs metadata entry");
            } else {
                let victim = dir.join(&base[WHITEOUT_PREFIX.len()..]);
                clear_target(&victim, false)?;
                mknod(&victim, libc::S_IFCHR, 0, 0).map_err(|e| {
                    StoreError::io(format!("creating whiteout {}", victim.display()), e)
                })?;
                if opts.preserve_owner {
                    lchown(&victim, uid, gid)?;
                }
            }
            continue;
        }

        match kind {
            tar::EntryType::Directory => {
                clear_target(&path, true)?;
                if fs::symlink_metadata(&path).is_err() {
                    fs::create_dir(&path).map_err(|e| StoreError::io(path.display(), e))?;
                }
                fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
                dir_times.push((path.clone(), mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                clear_target(&path, false)?;
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| StoreError::io(path.display(), e))?;
                let n = io::copy(&mut entry, &mut f)
                    .map_err(|e| StoreError::InvalidInput(format!("invalid tar archive: {e}")))?;
                drop(f);
                size += n;
                // chmod after chown: chown clears setuid bits.
                if opts.preserve_owner {
                    lchown(&path, uid, gid)?;
                }
                fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
                seen_inodes.insert(fs::symlink_metadata(&path)?.ino());
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| StoreError::InvalidInput(format!("invalid tar entry: {e}")))?
                    .ok_or_else(|| {
                        StoreError::InvalidInput(format!("symlink {:?} has no target", raw))
                    })?
                    .into_owned();
                if !target.is_absolute() {
                    let joined = rel.parent().unwrap_or(Path::new("")).join(&target);
                    if clean_entry_path(&joined).is_err() {
                        return Err(breakout(format!(
                            "invalid symlink {:?} -> {:?}",
                            rel.display().to_string(),
                            target.display().to_string()
                        )));
                    }
                }
                clear_target(&path, false)?;
                std::os::unix::fs::symlink(&target, &path)
                    .map_err(|e| StoreError::io(path.display(), e))?;
                if opts.preserve_owner {
                    lchown(&path, uid, gid)?;
                }
                size += target.as_os_str().len() as u64;
            }
            tar::EntryType::Link => {
                let target_raw = entry
                    .link_name()
                    .map_err(|e| StoreError::InvalidInput(format!("invalid tar entry: {e}")))?
                    .ok_or_else(|| {
                        StoreError::InvalidInput(format!("hardlink {:?} has no target", raw))
                    })?
                    .into_owned();
                let target_rel = match clean_entry_path(&target_raw) {
                    Ok(Some(t)) => t,
                    _ => {
                        return Err(breakout(format!(
                            "invalid hardlink {:?} -> {:?}",
                            rel.display().to_string(),
                            target_raw.display().to_string()
                        )))
                    }
                };
                // The target's parents must be real directories inside the root.
                check_no_symlink_parents(root, &target_rel)?;
                let target = root.join(&target_rel);
                let tm = fs::symlink_metadata(&target).map_err(|_| {
                    breakout(format!(
                        "invalid hardlink {:?} -> {:?}: target is not in this layer",
                        rel.display().to_string(),
                        target_raw.display().to_string()
                    ))
                })?;
                if tm.is_dir() {
                    return Err(breakout(format!(
                        "invalid hardlink {:?} -> {:?}: target is a directory",
                        rel.display().to_string(),
                        target_raw.display().to_string()
                    )));
                }
                if target == path {
                    continue;
                }
                clear_target(&path, false)?;
                fs::hard_link(&target, &path).map_err(|e| StoreError::io(path.display(), e))?;
                if seen_inodes.insert(tm.ino()) {
                    size += tm.len();
                }
            }
            tar::EntryType::Fifo => {
                clear_target(&path, false)?;
                mknod(&path, libc::S_IFIFO | mode as libc::mode_t, 0, 0)
                    .map_err(|e| StoreError::io(path.display(), e))?;
                if opts.preserve_owner {
                    lchown(&path, uid, gid)?;
                }
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                let major = header.device_major().ok().flatten().unwrap_or(1);
                let minor = header.device_minor().ok().flatten().unwrap_or(1);
                if kind == tar::EntryType::Char
                    && major == 0
                    && minor == 0
                    && opts.overlay_whiteouts
                {
                    // Already in overlay whiteout form.
                    clear_target(&path, false)?;
                    mknod(&path, libc::S_IFCHR, 0, 0)
                        .map_err(|e| StoreError::io(path.display(), e))?;
                } else {
                    tracing::warn!(entry = %raw.display(), "skipping device node in layer");
                }
                continue;
            }
            tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => continue,
            other => {
                tracing::warn!(entry = %raw.display(), kind = ?other, "skipping unsupported tar entry type");
                continue;
            }
        }

        if opts.preserve_owner {
            if kind.is_dir() {
                lchown(&path, uid, gid)?;
            }
            if let Ok(Some(exts)) = entry.pax_extensions() {
                for ext in exts.flatten() {
                    let Ok(key) = ext.key() else { continue };
                    if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                        if let Err(e) = lsetxattr(&path, name, ext.value_bytes()) {
                            if !ignorable_xattr_error(&e) {
                                return Err(StoreError::io(
                                    format!("setting xattr {name} on {}", path.display()),
                                    e,
                                ));
                            }
                        }
                    }
                }
            }
        }
        if !kind.is_dir() && kind != tar::EntryType::Link {
            set_mtime(&path, mtime)?;
        }
    }
    // Directory mtimes last: creating children changes them.
    for (dir, t) in dir_times.iter().rev() {
        set_mtime(dir, *t)?;
    }
    Ok(size)
}

fn check_no_symlink_parents(root: &Path, rel: &Path) -> Result<(), StoreError> {
    let mut cur = root.to_path_buf();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            cur.push(c);
            if let Ok(m) = fs::symlink_metadata(&cur) {
                if !m.is_dir() {
                    return Err(breakout(format!(
                        "invalid hardlink target {:?}: parent is not a directory",
                        rel.display().to_string()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Resolves `rel` inside `root` following symlinks the way a chroot would
/// (an absolute target or `..` never leaves `root`), like dockerd's
/// `FollowSymlinkInScope`. Used to read files of an extracted image archive.
pub fn resolve_in_scope(root: &Path, rel: &str) -> Result<PathBuf, StoreError> {
    let mut todo: Vec<String> = rel.split('/').rev().map(str::to_string).collect();
    let mut parts: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                parts.pop();
                continue;
            }
            _ => {}
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(parts.iter());
        candidate.push(&c);
        match fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                if hops > 255 {
                    return Err(StoreError::InvalidInput(format!(
                        "too many symlinks resolving {rel:?}"
                    )));
                }
                let target = fs::read_link(&candidate)?;
                let t = target.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    parts.clear();
                }
                for p in t.split('/').rev() {
                    todo.push(p.to_string());
                }
            }
            _ => parts.push(c),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(parts.iter());
    Ok(out)
}

/// Opens a file inside an extracted archive (see `resolve_in_scope`).
pub fn open_in_scope(root: &Path, rel: &str) -> Result<File, StoreError> {
    let p = resolve_in_scope(root, rel)?;
    File::open(&p).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            StoreError::InvalidInput(format!("open {}: no such file or directory", p.display()))
        } else {
            StoreError::io(p.display(), e)
        }
    })
}
