//! One copy of each layer: the unpacked tree plus the tar's own bytes that
//! are not file content (headers, PAX/GNU records, padding, the end blocks
//! and anything after them), as tar-split does for dockerd. `docker save`
//! and push rebuild the layer tar byte for byte from the two, so its digest
//! (the diff ID) holds without keeping a second 100% copy on disk.
//!
//! `layers/<hex>/layer.split` is a gzip stream of records:
//! - `I` u32 n, n bytes: tar bytes kept verbatim;
//! - `F` u64 size, u32 n, n bytes of path: `size` bytes of the file at that
//!   path in the layer tree (resolved as inside the unpack's chroot);
//! - `E` u64 total: the end, and the tar's length.
//!
//! A layer whose tar rewrites its own entries (a path written twice, or
//! removed by a later entry or whiteout of the same tar) cannot be rebuilt
//! from the tree: the unpacker marks it *tainted* and the store keeps its
//! tar verbatim instead (`layer.tar`), as before.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

/// The name of the split file in a layer directory.
pub(crate) const SPLIT_FILE: &str = "layer.split";

/// Inline bytes are written in records of at most this size.
const INLINE_CHUNK: usize = 64 * 1024;

/// Records the tar bytes that are not file content while the unpacker reads.
pub(crate) struct SplitWriter {
    out: GzEncoder<BufWriter<File>>,
    inline: Vec<u8>,
    /// Bytes of the current file's content still to pass (not recorded).
    remaining: u64,
    tar_size: u64,
    tainted: bool,
}

/// What a finished split says about its tar.
pub(crate) struct SplitSummary {
    pub(crate) tar_size: u64,
    /// The tree cannot rebuild the tar: keep the tar itself.
    pub(crate) tainted: bool,
}

impl SplitWriter {
    pub(crate) fn new(out: File) -> Self {
        SplitWriter {
            out: GzEncoder::new(
                BufWriter::with_capacity(64 * 1024, out),
                flate2::Compression::fast(),
            ),
            inline: Vec::with_capacity(INLINE_CHUNK),
            remaining: 0,
            tar_size: 0,
            tainted: false,
        }
    }

    fn saw(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        self.tar_size += bytes.len() as u64;
        if self.remaining > 0 {
            let k = self.remaining.min(bytes.len() as u64) as usize;
            self.remaining -= k as u64;
            bytes = &bytes[k..];
        }
        self.inline.extend_from_slice(bytes);
        if self.inline.len() >= INLINE_CHUNK {
            self.flush_inline()?;
        }
        Ok(())
    }

    fn flush_inline(&mut self) -> io::Result<()> {
        for chunk in self.inline.chunks(INLINE_CHUNK) {
            self.out.write_all(b"I")?;
            self.out.write_all(&(chunk.len() as u32).to_le_bytes())?;
            self.out.write_all(chunk)?;
        }
        self.inline.clear();
        Ok(())
    }

    /// The next `size` bytes read are the content of the file at `path`.
    pub(crate) fn begin_file(&mut self, path: &str, size: u64) -> io::Result<()> {
        if size == 0 {
            return Ok(());
        }
        self.flush_inline()?;
        self.out.write_all(b"F")?;
        self.out.write_all(&size.to_le_bytes())?;
        self.out.write_all(&(path.len() as u32).to_le_bytes())?;
        self.out.write_all(path.as_bytes())?;
        self.remaining = size;
        Ok(())
    }

    /// An entry changed what an earlier entry of the same tar wrote.
    pub(crate) fn taint(&mut self) {
        self.tainted = true;
    }

    pub(crate) fn finish(mut self) -> io::Result<SplitSummary> {
        self.flush_inline()?;
        self.out.write_all(b"E")?;
        self.out.write_all(&self.tar_size.to_le_bytes())?;
        self.out.finish()?.flush()?;
        Ok(SplitSummary {
            tar_size: self.tar_size,
            tainted: self.tainted,
        })
    }
}

/// A reader that shows everything read through it to a [`SplitWriter`].
pub(crate) struct Recorder<R> {
    pub(crate) inner: R,
    pub(crate) split: Option<Rc<RefCell<SplitWriter>>>,
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(s) = &self.split {
            s.borrow_mut().saw(&buf[..n])?;
        }
        Ok(n)
    }
}

/// Rebuilds a layer's tar from its split file and its tree.
pub(crate) struct SplitReader {
    records: BufReader<GzDecoder<BufReader<File>>>,
    root: OwnedFd,
    cur: Cur,
}

enum Cur {
    Next,
    Inline(u64),
    File(File, u64),
    Done,
}

fn damaged(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("layer split data damaged: {what}"),
    )
}

impl SplitReader {
    /// Opens the split of the layer directory `dir` (holding `diff/`).
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        let split = File::open(dir.join(SPLIT_FILE))?;
        let root = open_dir(&dir.join("diff"))?;
        Ok(SplitReader {
            records: BufReader::with_capacity(
                64 * 1024,
                GzDecoder::new(BufReader::with_capacity(64 * 1024, split)),
            ),
            root,
            cur: Cur::Next,
        })
    }

    fn next_record(&mut self) -> io::Result<()> {
        let mut tag = [0u8; 1];
        self.records
            .read_exact(&mut tag)
            .map_err(|_| damaged("truncated"))?;
        self.cur = match tag[0] {
            b'I' => {
                let mut n = [0u8; 4];
                self.records.read_exact(&mut n)?;
                Cur::Inline(u32::from_le_bytes(n) as u64)
            }
            b'F' => {
                let mut size = [0u8; 8];
                self.records.read_exact(&mut size)?;
                let size = u64::from_le_bytes(size);
                let mut n = [0u8; 4];
                self.records.read_exact(&mut n)?;
                let mut path = vec![0u8; u32::from_le_bytes(n) as usize];
                self.records.read_exact(&mut path)?;
                let f = open_in_root(&self.root, &path)?;
                if f.metadata()?.len() != size {
                    return Err(damaged("a file of the layer changed size"));
                }
                Cur::File(f, size)
            }
            b'E' => Cur::Done,
            _ => return Err(damaged("unknown record")),
        };
        Ok(())
    }
}

impl Read for SplitReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.cur {
                Cur::Done => return Ok(0),
                Cur::Next | Cur::Inline(0) | Cur::File(_, 0) => self.next_record()?,
                Cur::Inline(n) => {
                    let want = (*n).min(buf.len() as u64) as usize;
                    let got = self.records.read(&mut buf[..want])?;
                    if got == 0 {
                        return Err(damaged("truncated"));
                    }
                    *n -= got as u64;
                    return Ok(got);
                }
                Cur::File(f, n) => {
                    let want = (*n).min(buf.len() as u64) as usize;
                    let got = f.read(&mut buf[..want])?;
                    if got == 0 {
                        return Err(damaged("a file of the layer is shorter"));
                    }
                    *n -= got as u64;
                    return Ok(got);
                }
            }
        }
    }
}

fn open_dir(p: &Path) -> io::Result<OwnedFd> {
    let c = crate::archive::cpath(p)?;
    // SAFETY: valid NUL-terminated path; the result is checked.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens `path` (as recorded by the unpacker, absolute inside the layer)
/// resolved as in a chroot at `root`, as the unpack resolved it.
fn open_in_root(root: &OwnedFd, path: &[u8]) -> io::Result<File> {
    let c = std::ffi::CString::new(path).map_err(|_| damaged("NUL in a path"))?;
    // SAFETY: open_how is plain integers; all-zero is its neutral value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: valid dirfd, NUL-terminated path and an open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd as i32) })
}
