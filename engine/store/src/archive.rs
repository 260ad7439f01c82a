//! Tar handling: decompression detection, hashing readers, the syscalls the
//! unpacker needs, and resolving paths inside an extracted archive. The
//! unpacker itself (dockerd's rules for hostile entries) is `crate::unpack`,
//! re-exported here.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::StoreError;

pub use crate::unpack::{unpack, unpack_at, UnpackOptions, TAR_ERROR_PREFIX};

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

/// The compressions dockerd knows, by their first bytes.
const COMPRESSIONS: [(&[u8], &str); 4] = [
    (&[0x1f, 0x8b], "gzip"),
    (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
    (b"BZh", "bzip2"),
    (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz"),
];

/// The compression `head` (the first bytes of a stream) starts with, if any.
fn compression(head: &[u8]) -> Option<&'static str> {
    COMPRESSIONS
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|&(_, name)| name)
}

/// Whether `head` (the first bytes of a file) starts like a compressed
/// stream: gzip, or one of the formats `decompress` refuses.
pub fn is_compressed(head: &[u8]) -> bool {
    compression(head).is_some()
}

/// Wraps `r` in a gzip decoder if it starts with the gzip magic; refuses the
/// other compressions dockerd knows (we ship no decoder for them) with a clear message.
pub fn decompress<'a, R: Read + Send + 'a>(r: R) -> Result<Box<dyn Read + Send + 'a>, StoreError> {
    let mut br = BufReader::with_capacity(64 * 1024, r);
    let head = br.fill_buf()?.to_vec();
    match compression(&head) {
        None => Ok(Box::new(br)),
        // MultiGzDecoder: some tools write concatenated gzip members.
        Some("gzip") => Ok(Box::new(flate2::read::MultiGzDecoder::new(br))),
        Some(name) => Err(StoreError::InvalidInput(format!(
            "unsupported compression format {name}: only gzip and uncompressed archives can be loaded"
        ))),
    }
}

pub(crate) fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

pub(crate) fn lchown(p: &Path, uid: u64, gid: u64) -> io::Result<()> {
    let c = cpath(p)?;
    // SAFETY: c is a valid NUL-terminated path.
    let rc = unsafe { libc::lchown(c.as_ptr(), uid as libc::uid_t, gid as libc::gid_t) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(crate) fn lsetxattr(p: &Path, name: &str, value: &[u8]) -> io::Result<()> {
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

pub(crate) fn mknod(p: &Path, mode: libc::mode_t, major: u32, minor: u32) -> io::Result<()> {
    let c = cpath(p)?;
    // SAFETY: valid path; makedev is a pure computation.
    let rc = unsafe { libc::mknod(c.as_ptr(), mode, libc::makedev(major, minor)) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(crate) fn set_mtime(p: &Path, secs: u64) -> io::Result<()> {
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
/// A name that lexically climbs out of `root` is refused first, with
/// dockerd's wording (its `safePath`), rather than clamped.
pub fn open_in_scope(root: &Path, rel: &str) -> Result<File, StoreError> {
    let root_text = root.to_string_lossy();
    let joined = crate::gopath::join(&root_text, rel);
    if !crate::gopath::within(&crate::gopath::clean(&root_text), &joined) {
        return Err(StoreError::InvalidInput(format!(
            "evalSymlinksInScope: {joined} is not in {root_text}"
        )));
    }
    let p = resolve_in_scope(root, rel)?;
    File::open(&p).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            StoreError::InvalidInput(format!("open {}: no such file or directory", p.display()))
        } else {
            StoreError::io(p.display(), e)
        }
    })
}
