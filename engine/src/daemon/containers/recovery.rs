//! Startup recovery: what a SIGKILL of the engine at any instant can leave
//! behind, put right before the stores load and the API serves.
//!
//! The engine never runs two instances on one data root, so at startup
//! nothing under it is in use: every mount under it, every process in one of
//! its containers' cgroups and every temp file is a leftover.
//!
//! In order:
//! 1. processes of the previous run's containers (they outlive the engine):
//!    killed through each container's cgroup, which also catches a start that
//!    was cut before its pid was recorded; the cgroups are removed;
//! 2. the engine's mounts under the data root (container roots, also those
//!    a `docker cp` made, scratch): unmounted, deepest first, before
//!    anything below them is deleted;
//! 3. scratch space (`tmp/`) and `.tmp-*` files of atomic writes at the root;
//!
//! then the stores clean their own parts (`ImageStore::open`: half-unpacked
//! or half-deleted layers, temp files, layers no image needs, metadata
//! without a config; `VolumeStore::open`: volumes without metadata, their
//! temp files, a copy of image content into a volume that was cut), and per
//! container ([`load_container`], [`settle`]):
//! 4. a directory without a readable record (a create that was never
//!    acknowledged) is removed;
//! 5. temp files in the container's directory, a torn record at the end of
//!    its log;
//! 6. a container recorded as running (or restarting, paused, removing) is
//!    recorded as exited with 255, as dockerd reports containers lost in a
//!    daemon crash;
//!
//! and last the network store forgets connections of containers that are
//! gone (`NetworkStore::forget_missing_containers`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::container::{Container, RECORD_FILE};
use super::record::{Record, Status};
use crate::errdefs::EngineError;

/// How long to wait for a leftover container's processes to die.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// The runtime's marker of how a root was built, written through this name.
const ROOTFS_KIND_TEMP: &str = "rootfs-kind.tmp";

/// Steps 1 to 3: everything that must happen before the stores open.
pub fn before_open(root: &Path) -> Result<(), EngineError> {
    for dir in ["containers", "image", "tmp"] {
        fs::create_dir_all(root.join(dir))?;
    }
    let containers = root.join("containers");
    for entry in fs::read_dir(&containers)? {
        let id = entry?.file_name().to_string_lossy().into_owned();
        // Container IDs only: the name becomes a path under /sys/fs/cgroup.
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            kill_leftover_processes(&id);
        }
    }
    unmount_stale(root)?;
    // Uploads and build contexts interrupted by a crash were never
    // acknowledged. Failing to drop them costs space, not correctness.
    if let Err(e) = fs::remove_dir_all(root.join("tmp")) {
        tracing::warn!(error = %e, "emptying the scratch directory");
    }
    fs::create_dir_all(root.join("tmp"))?;
    shipshape_store::atomic::clean_temp_files(root)?;
    Ok(())
}

/// Kills whatever still runs in container `id`'s cgroup and removes the
/// cgroup. Every process of a container (its init, `exec`s) is in it.
///
/// The group is removed directory by directory, killing what is in one until
/// it can go: once a directory is gone nothing can join it any more. That
/// matters because the previous run's container init (a separate process)
/// may still be on its way in: it joins the groups after this check could
/// have found them empty, and would then run on unseen. Now its join fails
/// and it gives up before starting anything.
fn kill_leftover_processes(id: &str) {
    let cg = super::cgroups::cgroup(id);
    if !cg.exists() {
        return;
    }
    // A frozen (paused) process only dies of SIGKILL once thawed.
    let _ = cg.thaw();
    let deadline = Instant::now() + KILL_WAIT;
    for dir in cg.dirs() {
        loop {
            let busy = match fs::remove_dir(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => e,
            };
            if busy.raw_os_error() != Some(libc::EBUSY) || Instant::now() > deadline {
                tracing::warn!(id, dir = %dir.display(), error = %busy, "removing a leftover cgroup");
                break;
            }
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                tracing::info!(id, pid, "killing a process left by the previous run");
                let _ = shipshape_runtime::kill(pid, super::lifecycle::SIGKILL);
            }
            // The kernel takes a moment to move dead tasks out.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The engine's own mount points under `root` in a mountinfo text (container
/// roots and what is below them, scratch space), deepest first: the order
/// they can be unmounted in. Anything else mounted under the data root (a
/// disk an administrator put at `volumes/`) is not the engine's to touch.
pub fn mounts_below(mountinfo: &str, root: &Path) -> Vec<PathBuf> {
    let ours = |p: &Path| {
        let Ok(rel) = p.strip_prefix(root) else {
            return false;
        };
        let parts: Vec<_> = rel.iter().filter_map(|c| c.to_str()).collect();
        matches!(
            parts.as_slice(),
            ["containers" | "trash", _, "fs", "merged", ..]
                | ["tmp", _, ..]
                | ["image", "tmp", _, ..]
        )
    };
    let mut out: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| ours(p))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b.get(i + 1..i + 4);
        if b[i] == b'\\' {
            if let Some(o) = oct.filter(|o| o.iter().all(|c| (b'0'..=b'7').contains(c))) {
                let v = u32::from(o[0] - b'0') * 64
                    + u32::from(o[1] - b'0') * 8
                    + u32::from(o[2] - b'0');
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts every mount below the data root (lazily: a leftover process may
/// still hold one until the kernel reaps it).
fn unmount_stale(root: &Path) -> io::Result<()> {
    let root = root.canonicalize()?;
    let text = fs::read_to_string("/proc/self/mountinfo")?;
    for m in mounts_below(&text, &root) {
        tracing::info!(path = %m.display(), "unmounting a mount left by the previous run");
        if let Err(e) = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH) {
            // Already gone with its parent: fine. Anything else would make a
            // later removal under it reach into the mounted content.
            if !matches!(e, nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) {
                return Err(io::Error::other(format!("unmount {}: {e}", m.display())));
            }
        }
    }
    Ok(())
}

/// Step 4: the container's record, or `None` (and the directory removed)
/// when the create never finished.
pub fn load_container(dir: &Path) -> Option<Record> {
    let read = fs::read(dir.join(RECORD_FILE))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<Record>(&b).map_err(|e| e.to_string()));
    match read {
        Ok(rec) => Some(rec),
        Err(e) => {
            // The record is written last, atomically: without one the create
            // was never acknowledged.
            tracing::warn!(path = %dir.display(), error = %e, "dropping an incomplete container");
            if let Err(e) = fs::remove_dir_all(dir) {
                tracing::warn!(path = %dir.display(), error = %e, "removing an incomplete container");
            }
            None
        }
    }
}

/// Steps 5 and 6 for a loaded container.
pub fn settle(c: &Container) {
    let _ = shipshape_store::atomic::clean_temp_files(c.dir());
    let _ = fs::remove_file(c.fs_dir().join(ROOTFS_KIND_TEMP));
    match super::logs::truncate_torn_tail(&c.log_path()) {
        Ok(true) => tracing::info!(id = %c.id, "cut a torn record off the log"),
        Ok(false) => {}
        Err(e) => tracing::warn!(id = %c.id, error = %e, "checking the log"),
    }
    let mut r = c.record();
    let lost = r.state.running() || r.state.status == Status::Removing;
    if !lost {
        return;
    }
    // Without a cgroup (no cgroup support) only the recorded pid can be
    // found; its start time tells it from a reused pid.
    let pid = r.state.pid;
    if pid > 0
        && r.state.pid_start_time != 0
        && super::lifecycle::process_start_time(pid) == Some(r.state.pid_start_time)
    {
        let _ = shipshape_runtime::kill(pid, super::lifecycle::SIGKILL);
    }
    r.state.status = Status::Exited;
    r.state.pid = 0;
    r.state.exit_code = 255;
    r.state.finished_at = super::lifecycle::now_rfc3339();
    r.state.pid_start_time = 0;
    drop(r);
    if let Err(e) = c.save() {
        tracing::warn!(id = %c.id, error = %e, "recording a container lost in the crash");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_below_the_root_deepest_first() {
        let text = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
            90 22 0:50 / /data/containers/a/fs/merged rw - overlay overlay rw\n\
            91 22 0:51 / /data rw - tmpfs tmpfs rw\n\
            92 90 0:52 / /data/containers/a/fs/merged/proc rw - proc proc rw\n\
            93 22 0:53 / /data2/containers/b/fs/merged rw - tmpfs tmpfs rw\n\
            94 22 0:54 / /data/containers/with\\040space/fs/merged rw - overlay overlay rw\n\
            95 22 0:55 / /data/volumes rw - ext4 /dev/sdb1 rw\n\
            96 22 0:56 / /data/tmp/build-1/root rw - overlay overlay rw\n";
        assert_eq!(
            mounts_below(text, Path::new("/data")),
            vec![
                PathBuf::from("/data/containers/a/fs/merged/proc"),
                PathBuf::from("/data/containers/a/fs/merged"),
                PathBuf::from("/data/containers/with space/fs/merged"),
                PathBuf::from("/data/tmp/build-1/root"),
            ]
        );
    }

    #[test]
    fn incomplete_containers_are_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let half = tmp.path().join("half");
        fs::create_dir_all(half.join("fs")).unwrap();
        assert!(load_container(&half).is_none());
        assert!(!half.exists());

        let torn = tmp.path().join("torn");
        fs::create_dir_all(&torn).unwrap();
        fs::write(torn.join(RECORD_FILE), b"{\"id\":").unwrap();
        assert!(load_container(&torn).is_none());
        assert!(!torn.exists());
    }

    fn record(status: Status) -> Record {
        let mut r = Record::minimal();
        r.state.status = status;
        r
    }

    #[test]
    fn lost_runs_are_recorded_exited_and_leftovers_cleaned() {
        let tmp = tempfile::tempdir().unwrap();
        for (status, want, code) in [
            (Status::Running, Status::Exited, 255),
            (Status::Removing, Status::Exited, 255),
            (Status::Created, Status::Created, 0),
        ] {
            let dir = tmp.path().join(status.as_str());
            fs::create_dir_all(dir.join("fs")).unwrap();
            fs::write(dir.join(".tmp-config.v2.json-1"), b"half").unwrap();
            fs::write(dir.join("fs").join(ROOTFS_KIND_TEMP), b"over").unwrap();
            let c = Container::new(dir.clone(), record(status));
            settle(&c);
            assert_eq!(c.record().state.status, want);
            assert_eq!(c.record().state.exit_code, code);
            assert!(!dir.join(".tmp-config.v2.json-1").exists());
            assert!(!dir.join("fs").join(ROOTFS_KIND_TEMP).exists());
            if want != status {
                // Persisted, so the next start sees it too.
                let on_disk = load_container(&dir).unwrap();
                assert_eq!(on_disk.state.status, Status::Exited);
            }
        }
    }
}
