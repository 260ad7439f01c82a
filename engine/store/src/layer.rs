//! Layer registration: a layer tar is unpacked once into its
//! content-addressed directory (`layers/<diffhex>/`), next to what the tree
//! cannot give back to rebuild the tar (`split`), and appears under its final name only by an atomic rename once
//! complete and synced. Also chain IDs, which name layer stacks.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::archive::{HashReader, HashWriter, UnpackOptions};
use crate::atomic::random_suffix;
use crate::resolve::digest_hex;
use crate::split::{SplitReader, SplitSummary, SPLIT_FILE};
use crate::store::lock_poisoned;
use crate::unpack::unpack_split;
use crate::{archive, atomic, ImageStore, StoreError};

/// Where a new image's layer comes from (`create_image`).
pub enum LayerSource {
    /// A layer already in the store, by diff ID (`sha256:<hex>`).
    Existing(String),
    /// An uncompressed or gzip'd layer tar, registered on the way.
    Tar(Box<dyn Read + Send>),
    /// The same in a scratch file on the store's filesystem, which the
    /// store takes over (its path is removed): when the tree cannot rebuild
    /// the tar, the file is linked in rather than copied while unpacking.
    TarFile(std::path::PathBuf),
    /// A tar the caller writes on demand (a container's changes, packed from
    /// its upper directory): unpacked while it is written, through a pipe,
    /// so it never lands on disk as a tar. Written a second time (and kept
    /// verbatim) only when the tree cannot rebuild it.
    Packed(Box<PackFn>),
}

/// Writes a layer tar into the writer it is given (see [`LayerSource::Packed`]).
pub type PackFn = dyn Fn(&mut dyn io::Write) -> io::Result<()> + Send + Sync;

/// A registered layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerInfo {
    pub diff_id: String,
    pub size: u64,
}

pub(crate) fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => archive::sha256_digest(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// Flushes everything written to the filesystem holding `path` (one syscall
/// instead of an fsync per unpacked file).
fn sync_fs(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    use std::os::fd::AsRawFd;
    // SAFETY: f is an open descriptor for the duration of the call.
    let rc = unsafe { libc::syncfs(f.as_raw_fd()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl ImageStore {
    /// report it; `None` if the layer is not in the store.
    pub fn layer_size(&self, diff_id: &str) -> Option<u64> {
        let hex = digest_hex(diff_id).ok()?;
        self.state.read().ok()?.layer_sizes.get(hex).copied()
    }

    /// Chain IDs of a layer stack (lowest first), as `remove` reports deleted layers.
    pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
        chain_ids(diff_ids)
    }

    /// Registers a layer from a tar stream (gzip or plain): unpacks it once
    /// into its content-addressed directory. Idempotent.
    pub fn register_layer(&self, tar: impl Read + Send) -> Result<LayerInfo, StoreError> {
        self.register_layer_checked(tar, None, None)
    }

    /// Registers a layer, checking its diff ID (uncompressed sha256) and
    /// optionally the digest of the raw (possibly compressed) bytes.
    pub(crate) fn register_layer_checked(
        &self,
        raw: impl Read + Send,
        expected_diff: Option<(&str, usize)>,
        expected_blob: Option<&str>,
    ) -> Result<LayerInfo, StoreError> {
        self.register_with(expected_diff, expected_blob, |tmp, diff_dir| {
            let mut blob = HashReader::new(raw);
            let (diff_id, size, summary) = {
                let decompressed = archive::decompress(&mut blob)?;
                // The tar is copied on the way only in case the tree cannot
                // rebuild it (see `split`); the copy is dropped unsynced.
                let tar_copy = File::create(tmp.join(TAR_FILE))?;
                let tee = TeeReader {
                    inner: decompressed,
                    out: io::BufWriter::with_capacity(256 * 1024, tar_copy),
                };
                let mut hashed = HashReader::new(tee);
                let split = File::create(tmp.join(SPLIT_FILE))?;
                let (size, summary) = unpack_split(&mut hashed, diff_dir, LAYER_UNPACK, split)?;
                let (diff_id, _) = hashed.finish()?;
                (diff_id, size, summary)
            };
            let (blob_digest, _) = blob.finish()?;
            keep_one_copy(tmp, &summary, None)?;
            Ok((diff_id, blob_digest, size, summary.tar_size))
        })
    }

    /// Like [`Self::register_layer_checked`], for a layer that is a file on
    /// the store's filesystem (a loaded archive's, unpacked in the store's
    /// scratch): an uncompressed one is hashed once (its blob digest is its
    /// diff ID), and linked in as the stored tar only when the tree cannot
    /// rebuild it. `scratch` is the file's path: it is removed before the
    /// layer is synced, so its bytes are never flushed to disk.
    pub(crate) fn register_layer_file(
        &self,
        file: File,
        scratch: &Path,
        expected_diff: Option<(&str, usize)>,
        expected_blob: Option<&str>,
    ) -> Result<LayerInfo, StoreError> {
        let mut head = [0u8; 6];
        let n = std::os::unix::fs::FileExt::read_at(&file, &mut head, 0)?;
        if archive::is_compressed(&head[..n]) {
            let info = self.register_layer_checked(file, expected_diff, expected_blob);
            let _ = fs::remove_file(scratch);
            return info;
        }
        self.register_with(expected_diff, expected_blob, |tmp, diff_dir| {
            let mut hashed = HashReader::new(io::BufReader::with_capacity(256 * 1024, &file));
            let split = File::create(tmp.join(SPLIT_FILE))?;
            let (size, summary) = unpack_split(&mut hashed, diff_dir, LAYER_UNPACK, split)?;
            let (digest, _) = hashed.finish()?;
            keep_one_copy(tmp, &summary, Some(&file))?;
            let _ = fs::remove_file(scratch);
            Ok((digest.clone(), digest, size, summary.tar_size))
        })
    }

    /// Registers the tar `pack` writes (see [`LayerSource::Packed`]). `pack`
    /// runs on its own thread and hashes as it writes, while this one
    /// unpacks: on two cores, packing and unpacking overlap.
    pub(crate) fn register_packed(&self, pack: &PackFn) -> Result<LayerInfo, StoreError> {
        self.register_with(None, None, |tmp, diff_dir| {
            let (reader, writer) = io::pipe()?;
            grow_pipe(&writer);
            let split = File::create(tmp.join(SPLIT_FILE))?;
            let (packed, unpacked) = std::thread::scope(|s| {
                let producer = std::thread::Builder::new()
                    .name("pack".into())
                    .spawn_scoped(s, move || -> io::Result<String> {
                        let mut w =
                            io::BufWriter::with_capacity(PIPE_CHUNK, HashWriter::new(writer));
                        pack(&mut w)?;
                        Ok(w.into_inner().map_err(|e| e.into_error())?.digest())
                    });
                // The reader is dropped when the unpack ends, however it
                // ends: a producer still writing then fails (EPIPE) instead
                // of blocking on a full pipe.
                let unpacked = unpack_split(
                    io::BufReader::with_capacity(PIPE_CHUNK, reader),
                    diff_dir,
                    LAYER_UNPACK,
                    split,
                );
                let packed = match producer {
                    Ok(h) => h
                        .join()
                        .unwrap_or_else(|_| Err(io::Error::other("packing the layer panicked"))),
                    Err(e) => Err(e),
                };
                (packed, unpacked)
            });
            // The producer's error first: the unpacker's would only say that
            // the stream ended early.
            let diff_id = packed?;
            let (size, summary) = unpacked?;
            if summary.tainted {
                let mut w = io::BufWriter::with_capacity(
                    PIPE_CHUNK,
                    HashWriter::new(File::create(tmp.join(TAR_FILE))?),
                );
                pack(&mut w)?;
                let again = w.into_inner().map_err(|e| e.into_error())?.digest();
                if again != diff_id {
                    return Err(StoreError::Other(
                        "the layer changed while it was being packed".into(),
                    ));
                }
            }
            keep_one_copy(tmp, &summary, None)?;
            Ok((diff_id.clone(), diff_id, size, summary.tar_size))
        })
    }

    /// The uncompressed tar of a stored layer, rebuilt byte for byte (its
    /// sha256 is the diff ID), with its length: what `docker save` and a
    /// push send.
    pub fn layer_tar(&self, diff_id: &str) -> Result<(u64, Box<dyn Read + Send>), StoreError> {
        let hex = digest_hex(diff_id)?;
        let dir = self.layer_path(hex);
        let verbatim = dir.join(TAR_FILE);
        match File::open(&verbatim) {
            Ok(f) => {
                let len = f.metadata()?.len();
                return Ok((len, Box::new(f)));
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(StoreError::io(verbatim.display(), e))
            }
            Err(_) => {}
        }
        let meta: LayerMeta = serde_json::from_slice(
            &fs::read(dir.join("meta.json")).map_err(|e| StoreError::io(dir.display(), e))?,
        )
        .map_err(|e| StoreError::Other(format!("layer {diff_id}: damaged meta.json: {e}")))?;
        let len = meta.tar_size.ok_or_else(|| {
            StoreError::Other(format!(
                "layer {diff_id}: neither its tar nor its split is stored"
            ))
        })?;
        let r = SplitReader::open(&dir).map_err(|e| StoreError::io(dir.display(), e))?;
        Ok((len, Box::new(r)))
    }

    /// The steps every layer registration shares: `fill` writes
    /// `<tmp>/layer.tar` and unpacks into `<tmp>/diff`, returning (diff ID,
    /// blob digest, size); the digests are checked, and the directory is
    /// synced and renamed into place.
    fn register_with(
        &self,
        expected_diff: Option<(&str, usize)>,
        expected_blob: Option<&str>,
        fill: impl FnOnce(&Path, &Path) -> Result<(String, String, u64, u64), StoreError>,
    ) -> Result<LayerInfo, StoreError> {
        let layers_dir = self.root.join("layers");
        let tmp = layers_dir.join(format!("{}{}", atomic::TEMP_PREFIX, random_suffix()));
        let result = (|| {
            fs::create_dir(&tmp)?;
            let diff_dir = tmp.join("diff");
            fs::create_dir(&diff_dir)?;
            let (diff_id, blob_digest, size, tar_size) = fill(&tmp, &diff_dir)?;
            if let Some(want) = expected_blob {
                if want != blob_digest {
                    return Err(StoreError::InvalidInput(format!(
                        "invalid layer blob: expected digest {want:?}, got {blob_digest:?}"
                    )));
                }
            }
            if let Some((want, i)) = expected_diff {
                if want != diff_id {
                    return Err(StoreError::InvalidInput(format!(
                        "invalid diffID for layer {i}: expected {want:?}, got {diff_id:?}"
                    )));
                }
            }
            let meta = LayerMeta {
                diff_id,
                size,
                tar_size: Some(tar_size),
            };
            atomic::write_json(&tmp.join("meta.json"), &meta)?;
            Ok(LayerInfo {
                diff_id: meta.diff_id,
                size,
            })
        })();
        let info = match result {
            Ok(i) => i,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        let hex = digest_hex(&info.diff_id)?.to_string();
        let final_path = self.layer_path(&hex);
        if self.layer_exists(&hex) {
            let _ = fs::remove_dir_all(&tmp);
            return Ok(info);
        }
        sync_fs(&tmp)?;
        match fs::rename(&tmp, &final_path) {
            Ok(()) => {
                File::open(&layers_dir)?.sync_all()?;
            }
            // Another load finished the same layer first: keep theirs.
            Err(_) if final_path.join("meta.json").exists() => {
                let _ = fs::remove_dir_all(&tmp);
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(StoreError::io(final_path.display(), e));
            }
        }
        self.state
            .write()
            .map_err(|_| lock_poisoned())?
            .layer_sizes
            .insert(hex, info.size);
        Ok(info)
    }
}

/// `layers/<hex>/meta.json`: a [`LayerInfo`] and the length of the layer's
/// tar (absent in layers stored before the split, which keep their tar).
#[derive(Serialize, Deserialize)]
struct LayerMeta {
    diff_id: String,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tar_size: Option<u64>,
}

/// The verbatim tar of a layer the tree cannot rebuild (or stored before the split).
const TAR_FILE: &str = "layer.tar";

/// Keeps one copy of a just-unpacked layer in `tmp`: the split when the tree
/// can rebuild the tar, else the tar itself (already at `tmp/layer.tar`, or
/// `source` linked there).
fn keep_one_copy(
    tmp: &Path,
    summary: &SplitSummary,
    source: Option<&File>,
) -> Result<(), StoreError> {
    let tar = tmp.join(TAR_FILE);
    if !summary.tainted {
        let _ = fs::remove_file(&tar);
        return Ok(());
    }
    fs::remove_file(tmp.join(SPLIT_FILE))?;
    if let Some(file) = source {
        if link_open_file(file, &tar).is_ok() {
            // The archive's mode for it is no concern of the store.
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&tar, fs::Permissions::from_mode(0o644))?;
        } else {
            // Another filesystem, or no /proc: copy it.
            io::copy(&mut &*file, &mut File::create(&tar)?)?;
        }
    }
    Ok(())
}

/// How layers are unpacked into the store.
const LAYER_UNPACK: UnpackOptions = UnpackOptions {
    overlay_whiteouts: true,
    preserve_owner: true,
    no_overwrite_dir_non_dir: false,
};

/// Gives the open `file` a second name, `to` (same filesystem), through
/// /proc/self/fd: the file is linked as it was opened, whatever happened to
/// its path since.
fn link_open_file(file: &File, to: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let from = archive::cpath(Path::new(&format!("/proc/self/fd/{}", file.as_raw_fd())))?;
    let to = archive::cpath(to)?;
    // SAFETY: both are NUL-terminated paths; AT_SYMLINK_FOLLOW resolves the
    // magic link to the open file.
    let rc = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The pipe between a packing thread and the unpacker: large chunks, so
/// that the two threads trade places once per chunk rather than per 64 KiB.
const PIPE_CHUNK: usize = 1 << 20;

/// Raises the pipe's capacity to [`PIPE_CHUNK`] (best effort: the default
/// 64 KiB only means more switches between the threads).
fn grow_pipe(w: &io::PipeWriter) {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on an open pipe descriptor; the result is only a hint.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_CHUNK as libc::c_int) };
}

struct TeeReader<R, W: io::Write> {
    inner: R,
    out: W,
}

impl<R: Read, W: io::Write> Read for TeeReader<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        if n == 0 {
            self.out.flush()?;
        }
        Ok(n)
    }
}
