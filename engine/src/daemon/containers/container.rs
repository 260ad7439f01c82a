//! One container in memory: its persisted record, its output hub, and the
//! handles of its current run (stdin, tty). Lifecycle logic is in `lifecycle.rs`.

use std::fs::File;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use super::io::{FdStream, Hub};
use super::record::Record;
use crate::daemon::Daemon;

/// What `wait` watches: how many runs have ended, and whether the container is gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub starts: u64,
    pub exits: u64,
    pub removed: bool,
}

/// Handles of the current run, dropped when it ends.
#[derive(Default)]
pub struct RunHandles {
    /// Write end of the container's stdin (pipe, or the pty master with a tty).
    pub stdin: Option<Arc<tokio::sync::Mutex<Option<FdStream>>>>,
    /// The pty master, kept for resize.
    pub tty: Option<File>,
}

pub struct Container {
    pub id: String,
    dir: PathBuf,
    record: Mutex<Slot>,
    pub hub: Arc<Hub>,
    pub run: Mutex<RunHandles>,
    pub progress: watch::Sender<Progress>,
    /// Serialises start/stop/kill/remove of this container.
    pub op_lock: tokio::sync::Mutex<()>,
    /// Held from snapshot to rename, so record writes land in the order
    /// their snapshots were taken: an older snapshot (a rename's) never
    /// overwrites a newer one (the exit recorded meanwhile).
    save_lock: Mutex<()>,
    /// The end of the last run's unmount, in the background (see
    /// `shipshape_runtime::DetachedRoot`); the root is not mounted again
    /// before it is done.
    root_release: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The record and what was derived from it, under one lock.
struct Slot {
    record: Record,
    derived: Option<Derived>,
}

/// Bytes the API layer renders from a record and reuses until the record
/// changes: the fixed parts of its `GET /containers/json` entry (listing is
/// the hottest read path; escaping the same strings on every request was
/// most of its cost).
#[derive(Debug, Default)]
pub struct Derived {
    pub list_head: Vec<u8>,
    pub list_tail: Vec<u8>,
}

/// The locked record. Reading goes through `Deref`; any mutable access
/// (`DerefMut`) drops the derived bytes, so they can never be stale.
pub struct RecordGuard<'a>(MutexGuard<'a, Slot>);

impl Deref for RecordGuard<'_> {
    type Target = Record;
    fn deref(&self) -> &Record {
        &self.0.record
    }
}

impl DerefMut for RecordGuard<'_> {
    fn deref_mut(&mut self) -> &mut Record {
        self.0.derived = None;
        &mut self.0.record
    }
}

impl RecordGuard<'_> {
    /// The derived bytes, built from the record by `build` when missing.
    pub fn derived(&mut self, build: impl FnOnce(&Record) -> Derived) -> &Derived {
        let slot = &mut *self.0;
        slot.derived.get_or_insert_with(|| build(&slot.record))
    }
}

pub const RECORD_FILE: &str = "config.v2.json";

impl Container {
    pub fn new(dir: PathBuf, record: Record) -> Arc<Self> {
        Arc::new(Container {
            id: record.id.clone(),
            dir,
            record: Mutex::new(Slot {
                record,
                derived: None,
            }),
            hub: Hub::new(),
            run: Mutex::new(RunHandles::default()),
            progress: watch::channel(Progress::default()).0,
            op_lock: tokio::sync::Mutex::new(()),
            save_lock: Mutex::new(()),
            root_release: Mutex::new(None),
        })
    }

    /// Finishes the unmount of a detached root on a blocking thread, after
    /// the caller has moved on.
    pub fn release_root_later(&self, root: shipshape_runtime::DetachedRoot) {
        let job = tokio::task::spawn_blocking(move || drop(root));
        let mut slot = self.root_release.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(job);
    }

    /// Waits until the last run's root is completely unmounted.
    pub async fn root_released(&self) {
        let job = self
            .root_release
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(job) = job {
            let _ = job.await;
        }
    }

    /// The record, for reading or changing. A poisoned lock (a panic while
    /// holding it) still yields the data: the record is plain data.
    ///
    /// Lock order: the image store, then the container table, then a
    /// record (an image removal holds the store while it asks which
    /// containers use the image), so no other lock is taken while a record
    /// is held: a `sizes` that held one across an image lookup deadlocked
    /// against a concurrent `DELETE /images` and a container prune.
    pub fn record(&self) -> RecordGuard<'_> {
        RecordGuard(self.record.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn snapshot(&self) -> Record {
        self.record().clone()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// overlay upper/work/merged live here.
    pub fn fs_dir(&self) -> PathBuf {
        self.dir.join("fs")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("container.log")
    }

    /// Writes the record atomically and durably (temp file, fsync, rename,
    /// fsync of the directory): for creation and configuration changes.
    pub fn save(&self) -> std::io::Result<()> {
        let _order = self.save_lock.lock().unwrap_or_else(|p| p.into_inner());
        let rec = self.snapshot();
        shipshape_store::atomic::write_json(&self.dir.join(RECORD_FILE), &rec)
    }

    /// Writes the record atomically, without fsync: for run-state changes
    /// (started, exited). After a crash these are re-derived anyway (a
    /// container recorded as running is marked exited on restart), so a
    /// power loss that brings back the previous state loses nothing.
    pub fn save_state(&self) -> std::io::Result<()> {
        let _order = self.save_lock.lock().unwrap_or_else(|p| p.into_inner());
        let rec = self.snapshot();
        shipshape_store::atomic::replace_json(&self.dir.join(RECORD_FILE), &rec)
    }

    pub fn is_running(&self) -> bool {
        self.record().state.running()
    }

    pub fn name(&self) -> String {
        self.record().name.clone()
    }

    pub fn run_handles(&self) -> MutexGuard<'_, RunHandles> {
        self.run.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// (SizeRw, SizeRootFs): the container's writable layer, and that plus its image.
pub async fn sizes(d: &Daemon, c: &Arc<Container>) -> (u64, u64) {
    // The record's lock is let go before the image store's is taken (see
    // `Container::record`).
    let image_id = c.record().image_id.clone();
    let image = d.images.get(&image_id).map(|i| i.size).unwrap_or(0);
    let fs_dir = c.fs_dir();
    let rw = tokio::task::spawn_blocking(move || {
        if shipshape_runtime::rootfs_kind(&fs_dir) == shipshape_runtime::RootfsKind::Copy {
            // A copied root holds the image too.
            crate::daemon::volumes::dir_size(&fs_dir.join("merged")).saturating_sub(image)
        } else {
            crate::daemon::volumes::dir_size(&fs_dir.join("upper"))
        }
    })
    .await
    .unwrap_or(0);
    (rw, rw + image)
}
