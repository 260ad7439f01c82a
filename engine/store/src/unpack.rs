//! Extracting a tar the way dockerd does, hostile input included.
//!
//! dockerd extracts every tar (layers, `docker load`'s outer archive, a build
//! context, `docker cp` into a container) chrooted into a root, with Go's
//! lexical checks against the extraction directory `dest` on top. So:
//!
//! - `../x` and `/x` are cleaned and joined onto `dest`: when `dest` is the
//!   chroot's `/` (layers, load, build) they are confined to it and succeed;
//!   under a `cp` target they are refused (`"../x" is outside of "/tmp"`);
//! - symlinks inside the root are followed (by the kernel, inside the
//!   chroot): `evil -> /etc` then `evil/f` writes the root's own `/etc/f`,
//!   never the host's; a symlink whose target lexically leaves `dest` is
//!   refused, one with an absolute target is just a string;
//! - a hard link's target is looked up inside the root (`link /etc/passwd
//!   /passwd: no such file or directory` when the layer has no /etc/passwd);
//! - PAX and GNU long-name headers over 1 MiB are refused (`archive/tar:
//!   header field too long`), so a huge header cannot exhaust memory.
//!
//! [`unpack`] gets the chroot from a dedicated thread (`unshare(CLONE_FS)`
//! then `chroot`, like `docker cp` in this engine); [`unpack_at`] is for a
//! caller that is already confined. One difference from dockerd, on
//! purpose: block and character devices are skipped (dockerd creates them;
//! a layer or a `cp` has no business shipping them, the runtime provides
//! /dev), except the overlay whiteout marker (char 0:0).
//!
//! Every failure is `StoreError::Other("Error processing tar file(exit
//! status 1): ...")`, dockerd's wording and status (500) for all of them.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::rc::Rc;

use crate::archive::{cpath, lchown, lsetxattr, mknod, set_mtime};
use crate::gopath::{self, path_error};
use crate::split::{Recorder, SplitSummary, SplitWriter};
use crate::StoreError;

const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

/// Go's `archive/tar` limit on PAX and GNU long-name/long-link headers.
const MAX_SPECIAL_HEADER: u64 = 1 << 20;

/// How every extraction failure is worded (dockerd's chrootarchive).
pub const TAR_ERROR_PREFIX: &str = "Error processing tar file(exit status 1): ";

#[derive(Debug, Clone, Copy)]
pub struct UnpackOptions {
    /// Turn AUFS-style `.wh.` entries into overlayfs whiteouts (layers);
    /// off for the outer image archive, whose files are plain files.
    pub overlay_whiteouts: bool,
    /// Apply uid/gid and xattrs from the tar (layers); off for the outer archive.
    pub preserve_owner: bool,
    /// dockerd's `noOverwriteDirNonDir` (`docker cp` sets it): an entry may
    /// not replace a directory with a non-directory or the reverse. Checked
    /// entry by entry as dockerd does, so the archive is never buffered.
    pub no_overwrite_dir_non_dir: bool,
}

/// Unpacks the tar stream `r` into `root` (an existing directory), chrooted
/// into `root` as dockerd is. Returns the content size the way dockerd counts
/// it: the sizes of all non-directory entries, hardlinked files counted once.
pub fn unpack<R: Read + Send>(r: R, root: &Path, opts: UnpackOptions) -> Result<u64, StoreError> {
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("untar".into())
            .spawn_scoped(s, move || {
                enter_chroot(root)?;
                unpack_at(r, Path::new("/"), opts)
            })
            .map_err(|e| StoreError::io("starting the extraction thread", e))?;
        worker
            .join()
            .unwrap_or_else(|_| Err(StoreError::Other("tar extraction panicked".into())))
    })
}

/// Like [`unpack`], for a layer kept as one copy: also records in `split`
/// the tar bytes that are not file content (see `crate::split`), so the tar
/// can be rebuilt from the tree. Reads `r` to its end.
pub(crate) fn unpack_split<R: Read + Send>(
    r: R,
    root: &Path,
    opts: UnpackOptions,
    split: fs::File,
) -> Result<(u64, SplitSummary), StoreError> {
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("untar".into())
            .spawn_scoped(s, move || {
                enter_chroot(root)?;
                let dest = gopath::clean("/");
                let writer = Rc::new(RefCell::new(SplitWriter::new(split)));
                let mut u = Unpacker::new(&dest, opts);
                u.split = Some(writer.clone());
                let size = u
                    .run(r)
                    .map_err(|m| StoreError::Other(format!("{TAR_ERROR_PREFIX}{m}")))?;
                let writer = Rc::try_unwrap(writer)
                    .map_err(|_| StoreError::Other("layer split still in use".into()))?
                    .into_inner();
                Ok((size, writer.finish()?))
            })
            .map_err(|e| StoreError::io("starting the extraction thread", e))?;
        worker
            .join()
            .unwrap_or_else(|_| Err(StoreError::Other("tar extraction panicked".into())))
    })
}

/// Gives this thread its own root: `root`. The thread must end afterwards
/// (its filesystem context is changed for good), which `unpack` ensures.
fn enter_chroot(root: &Path) -> Result<(), StoreError> {
    // SAFETY: plain syscalls on this thread's own fs context.
    if unsafe { libc::unshare(libc::CLONE_FS) } != 0 {
        return Err(StoreError::io("unshare", io::Error::last_os_error()));
    }
    let c = cpath(root)?;
    // SAFETY: valid NUL-terminated path.
    if unsafe { libc::chroot(c.as_ptr()) } != 0 {
        return Err(StoreError::io(
            format!("chroot {}", root.display()),
            io::Error::last_os_error(),
        ));
    }
    std::env::set_current_dir("/").map_err(|e| StoreError::io("chdir /", e))
}

/// Unpacks into `dest` (an absolute path) in this thread's current root,
/// which must already be the scope symlinks may resolve in (a chroot).
pub fn unpack_at(r: impl Read, dest: &Path, opts: UnpackOptions) -> Result<u64, StoreError> {
    let dest = gopath::clean(&dest.to_string_lossy());
    Unpacker::new(&dest, opts)
        .run(r)
        .map_err(|m| StoreError::Other(format!("{TAR_ERROR_PREFIX}{m}")))
}

/// Names and attributes that PAX and GNU headers set for the next entry.
#[derive(Default)]
struct Pending {
    name: Option<String>,
    link: Option<String>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<u64>,
    xattrs: Vec<(String, Vec<u8>)>,
}

struct Unpacker<'a> {
    dest: &'a str,
    opts: UnpackOptions,
    size: u64,
    seen_inodes: HashSet<u64>,
    dir_times: Vec<(String, u64)>,
    /// Records what the tree cannot give back (layers kept as one copy).
    split: Option<Rc<RefCell<SplitWriter>>>,
    /// The content copy buffer, allocated at the first file.
    buf: Vec<u8>,
}

/// How much of a file's content is copied per read and write.
const COPY_CHUNK: usize = 256 * 1024;

/// What went wrong reading the stream itself, in Go's words.
fn read_error(e: &io::Error) -> String {
    let text = e.to_string();
    if e.kind() == io::ErrorKind::UnexpectedEof
        || text.contains("failed to read entire block")
        || text.contains("unexpected EOF")
    {
        "unexpected EOF".into()
    } else if e.raw_os_error().is_some() {
        gopath::errno_text(e)
    } else {
        text
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A special header's data, refused past Go's limit.
fn read_special(entry: &mut impl Read, size: u64) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    entry
        .take(MAX_SPECIAL_HEADER + 1)
        .read_to_end(&mut buf)
        .map_err(|e| read_error(&e))?;
    if buf.len() as u64 > MAX_SPECIAL_HEADER {
        return Err("archive/tar: header field too long".into());
    }
    if (buf.len() as u64) < size {
        return Err("unexpected EOF".into());
    }
    Ok(buf)
}

fn parse_pax(data: &[u8], p: &mut Pending) -> Result<(), String> {
    for ext in tar::PaxExtensions::new(data) {
        let ext = ext.map_err(|_| "archive/tar: invalid format".to_string())?;
        let key = text(ext.key_bytes());
        let value = ext.value_bytes();
        let number = || text(value).split('.').next().and_then(|n| n.parse().ok());
        match key.as_str() {
            "path" => p.name = Some(text(value)),
            "linkpath" => p.link = Some(text(value)),
            "uid" => p.uid = number(),
            "gid" => p.gid = number(),
            "mtime" => p.mtime = number(),
            // A PAX size moves where the next header is; the tar reader
            // here goes by the ustar size, so refuse rather than misread.
            "size" => return Err("archive/tar: PAX size records are not supported".into()),
            k => {
                if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
                    p.xattrs.push((name.to_string(), value.to_vec()));
                }
            }
        }
    }
    Ok(())
}

impl<'a> Unpacker<'a> {
    fn new(dest: &'a str, opts: UnpackOptions) -> Self {
        Unpacker {
            dest,
            opts,
            size: 0,
            seen_inodes: HashSet::new(),
            dir_times: Vec::new(),
            split: None,
            buf: Vec::new(),
        }
    }

    fn run(mut self, r: impl Read) -> Result<u64, String> {
        let mut archive = tar::Archive::new(Recorder {
            inner: r,
            split: self.split.clone(),
        });
        // Raw: the tar crate would read long names and PAX headers into
        // memory whatever their size; here they are read with Go's limit.
        let entries = archive.entries().map_err(|e| read_error(&e))?.raw(true);
        let mut pending = Pending::default();
        for entry in entries {
            let mut entry = entry.map_err(|e| read_error(&e))?;
            let kind = entry.header().entry_type();
            let size = entry.header().size().map_err(|e| read_error(&e))?;
            match kind {
                tar::EntryType::GNULongName => {
                    let b = read_special(&mut entry, size)?;
                    pending.name = Some(text(b.split(|&c| c == 0).next().unwrap_or(&[])));
                }
                tar::EntryType::GNULongLink => {
                    let b = read_special(&mut entry, size)?;
                    pending.link = Some(text(b.split(|&c| c == 0).next().unwrap_or(&[])));
                }
                tar::EntryType::XHeader => {
                    let b = read_special(&mut entry, size)?;
                    parse_pax(&b, &mut pending)?;
                }
                tar::EntryType::XGlobalHeader => {
                    read_special(&mut entry, size)?;
                }
                _ => {
                    let meta = std::mem::take(&mut pending);
                    self.entry(&mut entry, meta)?;
                }
            }
        }
        if self.split.is_some() {
            // What follows the end blocks is part of the tar's digest too.
            io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| read_error(&e))?;
        }
        // Directory mtimes last: creating children changes them.
        for (dir, t) in self.dir_times.iter().rev() {
            set_mtime(Path::new(dir), *t).map_err(|e| path_error("chtimes", dir, &e))?;
        }
        Ok(self.size)
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>, p: Pending) -> Result<(), String> {
        let header = entry.header().clone();
        let kind = header.entry_type();
        let raw = p.name.unwrap_or_else(|| text(&header.path_bytes()));
        let link = p
            .link
            .or_else(|| header.link_name_bytes().map(|l| text(&l)));
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = p.uid.unwrap_or_else(|| header.uid().unwrap_or(0));
        let gid = p.gid.unwrap_or_else(|| header.gid().unwrap_or(0));
        let mtime = p.mtime.unwrap_or_else(|| header.mtime().unwrap_or(0));

        let name = gopath::clean(&raw);
        let path = gopath::join(self.dest, &name);
        if !gopath::within(self.dest, &path) {
            return Err(format!("{name:?} is outside of {:?}", self.dest));
        }
        if path == self.dest {
            // The root itself ("./"): take its metadata, nothing to create.
            if kind.is_dir() {
                self.chmod(&path, mode)?;
                self.chown(&path, uid, gid)?;
                self.dir_times.push((path, mtime));
            }
            return Ok(());
        }
        let parent = gopath::dir(&path);
        if let Err(e) = fs::symlink_metadata(&parent) {
            if e.kind() == io::ErrorKind::NotFound {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(&parent)
                    .map_err(|e| path_error("mkdir", &parent, &e))?;
            }
        }
        let base = path.rsplit('/').next().unwrap_or_default();
        if self.opts.overlay_whiteouts && base.starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(&parent, base, uid, gid);
        }
        let is_device = matches!(kind, tar::EntryType::Char | tar::EntryType::Block);
        let overlay_marker = kind == tar::EntryType::Char
            && self.opts.overlay_whiteouts
            && header.device_major().ok().flatten() == Some(0)
            && header.device_minor().ok().flatten() == Some(0);
        if is_device && !overlay_marker {
            tracing::warn!(entry = %raw, "skipping device node in tar");
            return Ok(());
        }
        let known = matches!(
            kind,
            tar::EntryType::Directory
                | tar::EntryType::Regular
                | tar::EntryType::Continuous
                | tar::EntryType::Symlink
                | tar::EntryType::Link
                | tar::EntryType::Fifo
                | tar::EntryType::Char
        );
        if !known {
            tracing::warn!(entry = %raw, kind = ?kind, "skipping unsupported tar entry type");
            return Ok(());
        }
        let link_target = match (kind, &link) {
            (tar::EntryType::Link, Some(l)) => Some(self.hardlink_target(l)?),
            (tar::EntryType::Link, None) => return Err(format!("hardlink {raw:?} has no target")),
            _ => None,
        };
        if link_target.as_deref() == Some(path.as_str()) {
            // A link to itself: the file is already there.
            return Ok(());
        }
        if let Ok(m) = fs::symlink_metadata(&path) {
            if self.opts.no_overwrite_dir_non_dir && m.is_dir() != kind.is_dir() {
                return Err(if m.is_dir() {
                    format!(
                        "cannot overwrite directory {path:?} with non-directory {:?}",
                        self.dest
                    )
                } else {
                    format!(
                        "cannot overwrite non-directory {path:?} with directory {:?}",
                        self.dest
                    )
                });
            }
            if !(m.is_dir() && kind.is_dir()) {
                self.taint();
                let removed = if m.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                removed.map_err(|e| path_error("unlinkat", &path, &e))?;
            }
        }

        match kind {
            tar::EntryType::Directory => {
                if fs::symlink_metadata(&path).is_err() {
                    DirBuilder::new()
                        .mode(0o755)
                        .create(&path)
                        .map_err(|e| path_error("mkdir", &path, &e))?;
                }
                self.chmod(&path, mode)?;
                self.dir_times.push((path.clone(), mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| path_error("open", &path, &e))?;
                if let Some(split) = &self.split {
                    let size = header.size().map_err(|e| read_error(&e))?;
                    split
                        .borrow_mut()
                        .begin_file(&path, size)
                        .map_err(|e| read_error(&e))?;
                }
                // A file's zero blocks stay holes (a sparse file committed
                // from a container arrives with all its zeros).
                let mut w = crate::sparse::HoleWriter::new(&f)
                    .map_err(|e| path_error("write", &path, &e))?;
                let n = self.copy_content(entry, &mut w, &path)?;
                w.finish().map_err(|e| path_error("write", &path, &e))?;
                drop(f);
                self.size += n;
                // chmod after chown: chown clears setuid bits.
                self.chown(&path, uid, gid)?;
                self.chmod(&path, mode)?;
                if let Ok(m) = fs::symlink_metadata(&path) {
                    self.seen_inodes.insert(m.ino());
                }
            }
            tar::EntryType::Symlink => {
                let target = link.ok_or_else(|| format!("symlink {raw:?} has no target"))?;
                // Lexically inside dest, as dockerd checks; an absolute
                // target is joined too, so it is only a string in the root.
                if !gopath::within(self.dest, &gopath::join(&parent, &target)) {
                    return Err(format!("invalid symlink {path:?} -> {target:?}"));
                }
                std::os::unix::fs::symlink(&target, &path)
                    .map_err(|e| format!("symlink {target} {path}: {}", gopath::errno_text(&e)))?;
                self.chown(&path, uid, gid)?;
                self.size += target.len() as u64;
            }
            tar::EntryType::Link => {
                let target = link_target.unwrap_or_default();
                fs::hard_link(&target, &path)
                    .map_err(|e| format!("link {target} {path}: {}", gopath::errno_text(&e)))?;
                if let Ok(m) = fs::symlink_metadata(&path) {
                    if self.seen_inodes.insert(m.ino()) {
                        self.size += m.len();
                    }
                }
                // A hard link shares the target's metadata: nothing else to set.
                return Ok(());
            }
            tar::EntryType::Fifo => {
                mknod(Path::new(&path), libc::S_IFIFO | mode as libc::mode_t, 0, 0)
                    .map_err(|e| path_error("mknod", &path, &e))?;
                self.chown(&path, uid, gid)?;
            }
            _ => {
                // The overlay whiteout marker, already in overlay form.
                mknod(Path::new(&path), libc::S_IFCHR, 0, 0)
                    .map_err(|e| path_error("mknod", &path, &e))?;
                self.chown(&path, uid, gid)?;
            }
        }
        if kind.is_dir() {
            self.chown(&path, uid, gid)?;
        }
        if self.opts.preserve_owner {
            for (name, value) in &p.xattrs {
                if let Err(e) = lsetxattr(Path::new(&path), name, value) {
                    if !ignorable_xattr_error(&e) {
                        return Err(path_error("lsetxattr", &path, &e));
                    }
                }
            }
        }
        if !kind.is_dir() {
            set_mtime(Path::new(&path), mtime).map_err(|e| path_error("chtimes", &path, &e))?;
        }
        Ok(())
    }

    /// dockerd's hard link rule: the target, joined onto dest, must stay
    /// under it; the kernel then finds it inside the root (or not).
    fn hardlink_target(&self, link: &str) -> Result<String, String> {
        let target = gopath::join(self.dest, link);
        if !gopath::within(self.dest, &target) {
            return Err(format!("invalid hardlink {target:?} -> {link:?}"));
        }
        Ok(target)
    }

    /// AUFS-style whiteouts in a layer become overlayfs ones.
    fn whiteout(&mut self, dir: &str, base: &str, uid: u64, gid: u64) -> Result<(), String> {
        if base == WHITEOUT_OPAQUE {
            // Opaque directory: hide everything below it in lower layers.
            return lsetxattr(Path::new(dir), "trusted.overlay.opaque", b"y")
                .map_err(|e| path_error("setxattr", dir, &e));
        }
        if base.starts_with(WHITEOUT_META_PREFIX) {
            // Other AUFS metadata (hardlink dirs): meaningless for overlay.
            return Ok(());
        }
        let victim = gopath::join(dir, &base[WHITEOUT_PREFIX.len()..]);
        if let Ok(m) = fs::symlink_metadata(&victim) {
            self.taint();
            let removed = if m.is_dir() {
                fs::remove_dir_all(&victim)
            } else {
                fs::remove_file(&victim)
            };
            removed.map_err(|e| path_error("unlinkat", &victim, &e))?;
        }
        mknod(Path::new(&victim), libc::S_IFCHR, 0, 0)
            .map_err(|e| path_error("mknod", &victim, &e))?;
        self.chown(&victim, uid, gid)
    }

    /// Copies a file's content from the tar, in chunks of [`COPY_CHUNK`]
    /// (`io::copy` goes 8 KiB at a time: a write per 8 KiB of a layer).
    fn copy_content(
        &mut self,
        entry: &mut impl Read,
        f: &mut impl io::Write,
        path: &str,
    ) -> Result<u64, String> {
        if self.buf.is_empty() {
            self.buf = vec![0; COPY_CHUNK];
        }
        let mut n = 0u64;
        loop {
            // Fill the buffer first: a request body arrives in pieces of a
            // few KiB, and each write to the file has its own cost.
            let mut got = 0;
            while got < self.buf.len() {
                match entry.read(&mut self.buf[got..]) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(read_error(&e)),
                }
            }
            if got == 0 {
                return Ok(n);
            }
            f.write_all(&self.buf[..got])
                .map_err(|e| path_error("write", path, &e))?;
            n += got as u64;
        }
    }

    /// This entry changes what an earlier one wrote: the tree alone cannot
    /// rebuild the tar.
    fn taint(&self) {
        if let Some(s) = &self.split {
            s.borrow_mut().taint();
        }
    }

    fn chown(&self, path: &str, uid: u64, gid: u64) -> Result<(), String> {
        if !self.opts.preserve_owner {
            return Ok(());
        }
        lchown(Path::new(path), uid, gid).map_err(|e| path_error("lchown", path, &e))
    }

    fn chmod(&self, path: &str, mode: u32) -> Result<(), String> {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| path_error("chmod", path, &e))
    }
}

/// Xattr errors that only mean "this filesystem/namespace cannot hold it";
/// dockerd ignores the same ones.
fn ignorable_xattr_error(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EPERM))
}
