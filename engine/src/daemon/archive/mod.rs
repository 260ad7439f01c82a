//! A container's files from the outside: stat, tar out (`docker cp` from the
//! container, `docker export`) and tar in (`docker cp` into it).
//!
//! Every operation runs on a dedicated thread that first gets its own
//! filesystem context and mount namespace (`unshare(CLONE_FS|CLONE_NEWNS)`,
//! allowed per thread), bind-mounts the container's volumes and binds over
//! its root there (as dockerd does for cp), and then `chroot`s into that
//! root. From then on the kernel resolves every path, so no symlink the
//! container planted (`/x -> /etc/shadow`, `../../..`) can lead outside the
//! container's root, even if it changes while we walk. The mounts vanish
//! with the thread; nothing propagates back (the namespace is made private).
//!
//! A stopped container's root is not mounted: it is mounted for the
//! operation and unmounted after (under the container's op lock, so a start
//! cannot interleave).

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use serde::Serialize;
use shipshape_runtime::BindMount;
use shipshape_store::archive::UnpackOptions;
use tokio::sync::mpsc;

use crate::daemon::{Container, Daemon};

mod mounts;
mod tar_out;
use crate::errdefs::EngineError;

/// `X-Docker-Container-Path-Stat`, dockerd's `ContainerPathStat`.
#[derive(Debug, Clone, Serialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode` bits (the CLI decodes them as such).
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    /// The header value: base64 of the JSON, as dockerd sends it.
    pub fn header_value(&self) -> String {
        base64(&serde_json::to_vec(self).unwrap_or_default())
    }
}

/// Runs `f` chrooted into the container's root (see the module docs),
/// mounting a stopped container's root for it (and unmounting it after)
/// under the container's op lock, so a start cannot interleave. A running
/// container's lock is released at once: a long copy must not hold up stop.
/// `with_mounts` is false for export, which is the root filesystem only.
pub async fn with_root<T, F>(
    d: Arc<Daemon>,
    c: Arc<Container>,
    with_mounts: bool,
    f: F,
) -> Result<T, EngineError>
where
    T: Send + 'static,
    F: FnOnce(&[BindMount]) -> Result<T, EngineError> + Send + 'static,
{
    let op = c.op_lock.lock().await;
    let rec = c.snapshot();
    let mounts = if with_mounts {
        crate::daemon::volumes::mounts::host_mounts(&d, &rec)?
    } else {
        Vec::new()
    };
    let fs_dir = c.fs_dir();
    let root = fs_dir.join("merged");
    let op = if rec.state.running() {
        drop(op);
        None
    } else {
        c.root_released().await;
        let layers = crate::daemon::containers::init_layer::root_layers(&d, &rec.image_id)?;
        let dir = fs_dir.clone();
        tokio::task::spawn_blocking(move || shipshape_runtime::rootfs::mount_rootfs(&layers, &dir))
            .await
            .map_err(EngineError::system)??;
        // A volume with a filesystem of its own (local driver options: a
        // tmpfs, a bind of a device) is mounted for the copy as dockerd
        // does, so the copy reads and writes that filesystem, not the
        // volume's empty directory beneath it; held in the container's
        // name until the copy ends.
        if with_mounts {
            let (d2, id, points) = (d.clone(), c.id.clone(), rec.mount_points.clone());
            let mounted = tokio::task::spawn_blocking(move || {
                let res = points
                    .iter()
                    .filter(|m| m.kind == "volume")
                    .try_for_each(|m| d2.volumes.mount_for(&m.name, &id));
                if res.is_err() {
                    d2.volumes.release_for(&id);
                }
                res
            })
            .await
            .unwrap_or_else(|e| Err(EngineError::system(e)));
            if let Err(e) = mounted {
                let dir = fs_dir.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    shipshape_runtime::rootfs::unmount_rootfs(&dir)
                })
                .await;
                return Err(e);
            }
        }
        Some(op)
    };
    let res = tokio::task::spawn_blocking(move || in_root(root, mounts, f))
        .await
        .unwrap_or_else(|e| Err(EngineError::system(e)));
    if op.is_some() {
        if with_mounts {
            let (d2, id) = (d.clone(), c.id.clone());
            let _ = tokio::task::spawn_blocking(move || d2.volumes.release_for(&id)).await;
        }
        let dir = fs_dir.clone();
        let unmounted =
            tokio::task::spawn_blocking(move || shipshape_runtime::rootfs::unmount_rootfs(&dir))
                .await;
        if !matches!(unmounted, Ok(Ok(()))) {
            tracing::warn!(id = %c.id, "unmounting a stopped container's root after a copy failed");
        }
    }
    drop(op);
    res
}

/// Runs `f` on a fresh thread (its fs context is changed for good, so never
/// a pooled one) chrooted into `root` with `mounts` overlaid. Blocking.
fn in_root<T, F>(root: PathBuf, mounts: Vec<BindMount>, f: F) -> Result<T, EngineError>
where
    T: Send + 'static,
    F: FnOnce(&[BindMount]) -> Result<T, EngineError> + Send + 'static,
{
    let handle = std::thread::Builder::new()
        .name("container-fs".into())
        .spawn(move || {
            enter_root(&root, &mounts)?;
            f(&mounts)
        })
        .map_err(EngineError::system)?;
    handle.join().unwrap_or_else(|_| {
        Err(EngineError::System(
            "container filesystem operation panicked".into(),
        ))
    })
}

fn enter_root(root: &Path, mounts: &[BindMount]) -> Result<(), EngineError> {
    let sys = |what: &str, e: nix::Error| EngineError::System(format!("{what}: {e}"));
    unshare(CloneFlags::CLONE_FS | CloneFlags::CLONE_NEWNS).map_err(|e| sys("unshare", e))?;
    // Nothing mounted here may reach the daemon's namespace.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| sys("make mounts private", e))?;
    let mut sorted: Vec<&BindMount> = mounts.iter().collect();
    sorted.sort_by_key(|m| Path::new(&m.destination).components().count());
    let root_dir = fs::File::open(root)?;
    for m in sorted {
        // The destination is resolved inside the root by the kernel and
        // pinned by a file descriptor, which the mount then goes through:
        // a container swapping it for a symlink meanwhile cannot redirect
        // the mount. A missing one is made first, as dockerd does (a
        // directory, or an empty file for a file's bind): a container that
        // was created but never started has none of its mount points yet.
        let Ok(src_meta) = fs::metadata(&m.source) else {
            continue;
        };
        let target = match mounts::create_in_root(&root_dir, &m.destination, src_meta.is_dir()) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(dest = %m.destination, error = %e, "making a volume's mount point for a copy");
                continue;
            }
        };
        let Ok(dst_meta) = target.metadata() else {
            continue;
        };
        if src_meta.is_dir() != dst_meta.is_dir() {
            continue;
        }
        if let Err(e) = mounts::attach(&m.source, &target, m.readonly) {
            tracing::warn!(source = %m.source.display(), dest = %m.destination, error = %e, "mounting a volume for a copy");
        }
    }
    nix::unistd::chroot(root).map_err(|e| sys("chroot", e))?;
    nix::unistd::chdir("/").map_err(|e| sys("chdir", e))?;
    Ok(())
}

/// Path as the client gave it, made absolute; a trailing "/" or "/." is
/// kept (it means "follow the link / the directory's content").
fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// dockerd's `filepath.Base` of the requested path.
fn base_name(abs: &str) -> String {
    let trimmed = abs.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or("/").to_string()
}

fn not_found(path: &str, key: &str) -> EngineError {
    EngineError::NotFound(format!("Could not find the file {path} in container {key}"))
}

/// Go's `os.FileMode` for a Unix mode.
fn go_mode(meta: &fs::Metadata) -> u32 {
    let m = meta.mode();
    let ft = meta.file_type();
    let mut out = m & 0o777;
    if ft.is_dir() {
        out |= 1 << 31;
    } else if ft.is_symlink() {
        out |= 1 << 27;
    } else if ft.is_fifo() {
        out |= 1 << 25;
    } else if ft.is_socket() {
        out |= 1 << 24;
    } else if ft.is_char_device() {
        out |= (1 << 26) | (1 << 21);
    } else if ft.is_block_device() {
        out |= 1 << 26;
    }
    if m & 0o4000 != 0 {
        out |= 1 << 23;
    }
    if m & 0o2000 != 0 {
        out |= 1 << 22;
    }
    if m & 0o1000 != 0 {
        out |= 1 << 20;
    }
    out
}

/// Go's RFC3339Nano in UTC: fraction without trailing zeros, none when zero.
fn go_time(secs: i64, nanos: i64) -> String {
    let t = chrono::DateTime::from_timestamp(secs, nanos.clamp(0, 999_999_999) as u32)
        .unwrap_or_default();
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

fn lstat_err(path: &str, e: io::Error, key: &str) -> EngineError {
    match e.raw_os_error() {
        Some(libc::ENOENT) => not_found(path, key),
        Some(libc::ENOTDIR) => EngineError::System(format!("lstat {path}: not a directory")),
        _ => EngineError::System(format!("lstat {path}: {e}")),
    }
}

/// Stats `path` inside the (chrooted) container root, dockerd's way: the
/// last component is not followed unless the path ends in "/" or "/.".
/// Runs inside `in_root`.
fn stat_inside(path: &str, key: &str) -> Result<(PathStat, fs::Metadata), EngineError> {
    let abs = absolute(path);
    let meta = fs::symlink_metadata(&abs).map_err(|e| lstat_err(path, e, key))?;
    let link_target = if meta.file_type().is_symlink() {
        // In the chroot "/" is the container's root: resolve in that scope.
        let resolved = shipshape_store::archive::resolve_in_scope(Path::new("/"), &abs)
            .map_err(EngineError::from)?;
        resolved.display().to_string()
    } else {
        String::new()
    };
    let stat = PathStat {
        name: base_name(&abs),
        size: meta.len() as i64,
        mode: go_mode(&meta),
        mtime: go_time(meta.mtime(), meta.mtime_nsec()),
        link_target,
    };
    Ok((stat, meta))
}

/// `HEAD /containers/{id}/archive`.
pub async fn stat(
    d: &Arc<Daemon>,
    c: &Arc<Container>,
    path: &str,
    key: &str,
) -> Result<PathStat, EngineError> {
    let (path, key) = (path.to_string(), key.to_string());
    with_root(d.clone(), c.clone(), true, move |_| {
        stat_inside(&path, &key).map(|(s, _)| s)
    })
    .await
}

/// Tar chunks go to the HTTP body through this writer.
struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    const CHUNK: usize = 64 * 1024;
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }
}

/// The request body, read from the blocking extraction thread.
pub struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    cur: Bytes,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        ChannelReader {
            rx,
            cur: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.cur = b,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// `GET /containers/{id}/archive`: the stat (for the header) once the path
/// is found, then the tar streams into `tx`. Errors before the stat are the
/// response; errors after it end the stream early. The stream ends (a clone
/// of `tx` is held) only once a stopped container's root is unmounted
/// again, as dockerd's does: a client that saw the end sees no mount left.
pub async fn get(
    d: &Arc<Daemon>,
    c: &Arc<Container>,
    path: &str,
    key: &str,
    tx: mpsc::Sender<Bytes>,
) -> Result<PathStat, EngineError> {
    let (path, key) = (path.to_string(), key.to_string());
    let (stat_tx, stat_rx) = tokio::sync::oneshot::channel();
    let end = tx.clone();
    let op = with_root(d.clone(), c.clone(), true, move |_| {
        let (stat, meta) = match stat_inside(&path, &key) {
            Ok(s) => s,
            Err(e) => {
                let _ = stat_tx.send(Err(e));
                return Ok(());
            }
        };
        let name = stat.name.clone();
        let _ = stat_tx.send(Ok(stat));
        let abs = absolute(&path);
        let follow = abs.ends_with('/') || abs.ends_with("/.");
        let mut w = ChannelWriter {
            tx,
            buf: Vec::new(),
        };
        tar_out::write_tar(
            Path::new(&abs),
            &name,
            meta.file_type().is_symlink() && !follow,
            &mut w,
        )?;
        w.flush().map_err(EngineError::from)
    });
    let task = tokio::spawn(op);
    match stat_rx.await {
        Ok(stat) => {
            tokio::spawn(async move {
                if let Ok(Err(e)) = task.await {
                    tracing::debug!(error = %e, "archive stream ended early");
                }
                drop(end);
            });
            stat
        }
        // The operation failed before it could stat (e.g. mounting the root).
        Err(_) => match task.await {
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => Err(EngineError::System("archive operation failed".into())),
            Err(e) => Err(EngineError::system(e)),
        },
    }
}

/// `GET /containers/{id}/export`: the whole root (no volumes) as a tar,
/// streamed into `tx`.
pub fn export(d: &Arc<Daemon>, c: &Arc<Container>, tx: mpsc::Sender<Bytes>) {
    let end = tx.clone();
    let op = with_root(d.clone(), c.clone(), false, move |_| {
        let mut w = ChannelWriter {
            tx,
            buf: Vec::new(),
        };
        tar_out::write_root(&mut w)?;
        w.flush().map_err(EngineError::from)
    });
    tokio::spawn(async move {
        if let Err(e) = op.await {
            tracing::debug!(error = %e, "export stream ended early");
        }
        drop(end);
    });
}

/// What `PUT /containers/{id}/archive` asks for.
pub struct PutOptions {
    pub path: String,
    pub key: String,
    pub no_overwrite_dir_non_dir: bool,
    pub copy_uid_gid: bool,
}

/// `PUT /containers/{id}/archive`: extracts the tar read from `body` into
/// the directory `path` of the container. Blocking parts run on the
/// chrooted thread.
pub async fn put(
    d: &Arc<Daemon>,
    c: &Arc<Container>,
    opts: PutOptions,
    body: ChannelReader,
) -> Result<(), EngineError> {
    let readonly_root = c.record().host_config.readonly_rootfs;
    with_root(d.clone(), c.clone(), true, move |mounts| {
        let abs = absolute(&opts.path);
        let meta = match fs::metadata(&abs) {
            Ok(m) => Some(m),
            // A file's path with a trailing "/" (`/etc/passwd/`): dockerd
            // resolves the path without it and finds a file.
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => None,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                return Err(not_found(&opts.path, &opts.key))
            }
            Err(e) => return Err(EngineError::System(format!("stat {}: {e}", opts.path))),
        };
        if !meta.is_some_and(|m| m.is_dir()) {
            return Err(EngineError::System(
                "extraction point is not a directory".into(),
            ));
        }
        // Where it really is, inside the container (symlinks followed).
        let dest = fs::canonicalize(&abs)?;
        let on_rw_mount = mounts
            .iter()
            .any(|m| !m.readonly && dest.starts_with(&m.destination));
        if readonly_root && !on_rw_mount {
            return Err(EngineError::System(
                "container rootfs is marked read-only".into(),
            ));
        }
        let tar = shipshape_store::archive::decompress(body)?;
        let unpack = UnpackOptions {
            overlay_whiteouts: false,
            preserve_owner: opts.copy_uid_gid,
            no_overwrite_dir_non_dir: opts.no_overwrite_dir_non_dir,
        };
        // Already chrooted into the container's root: symlinks resolve inside it.
        shipshape_store::archive::unpack_at(tar, &dest, unpack)
            .map(|_| ())
            .map_err(EngineError::from)
    })
    .await
}

/// Standard base64 with padding (the stat header), without a dependency.
pub(crate) fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_names_and_times() {
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hi"), "aGk=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base_name("/"), "/");
        assert_eq!(base_name("/tmp/"), "tmp");
        assert_eq!(base_name("/rel/."), ".");
        assert_eq!(go_time(1_704_067_200, 0), "2024-01-01T00:00:00Z");
        assert_eq!(
            go_time(1_704_067_200, 269_002_850),
            "2024-01-01T00:00:00.26900285Z"
        );
    }
}
