//! Volumes (the `local` driver only): the store and what uses it. A
//! container's mounts (binds, `--mount`, tmpfs) are parsed and resolved in
//! [`mounts`].
//!
//! A volume is `<data-root>/volumes/<name>/_data`, described by
//! `<name>/volume.json` (written atomically, and last: a directory without it
//! is a create that never finished and is dropped at startup). Volumes
//! outlive containers; anonymous ones (image `VOLUME`s, `--mount
//! type=volume` without a source) go with their container on `rm -v`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::daemon::containers::record::Record;
use crate::daemon::{containers::names, Daemon};
use crate::errdefs::EngineError;

pub mod local;
pub mod mounts;

const META_FILE: &str = "volume.json";
/// Present (next to `_data`) while image content is being copied into the
/// volume: a crash mid-copy would otherwise leave it half-filled for good,
/// since the copy is only made into an empty volume.
pub(super) const POPULATING: &str = "populating";

/// What is persisted about a volume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub created_at: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub anonymous: bool,
}

pub struct VolumeStore {
    dir: PathBuf,
    vols: Mutex<BTreeMap<String, Volume>>,
    /// Volumes whose options mount a filesystem, and who holds each mount.
    mounted: local::Users,
}

/// Docker's rule for local volume names.
pub fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

pub(super) fn invalid_name(n: &str) -> EngineError {
    EngineError::InvalidParameter(format!(
        "create {n}: \"{n}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    ))
}

impl VolumeStore {
    /// Loads `dir` (created if missing), dropping unfinished creates.
    pub fn open(dir: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        let mut vols = BTreeMap::new();
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let meta: Option<Volume> = fs::read(path.join(META_FILE))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            match meta {
                Some(v) => {
                    // No container runs at startup: a mount left by a
                    // crash goes (a later start mounts it again).
                    if v.options.as_ref().is_some_and(local::wants_mount) {
                        local::unmount(&path.join("_data"));
                    }
                    let _ = shipshape_store::atomic::clean_temp_files(&path);
                    if path.join(POPULATING).exists() {
                        // Emptied, so the next start of its container copies again.
                        tracing::warn!(volume = %v.name, "emptying a volume whose copy was cut");
                        let undone = empty_dir(&path.join("_data"))
                            .and_then(|_| fs::remove_file(path.join(POPULATING)));
                        if let Err(e) = undone {
                            tracing::warn!(volume = %v.name, error = %e, "emptying the volume");
                        }
                    }
                    vols.insert(v.name.clone(), v);
                }
                None => {
                    tracing::warn!(path = %path.display(), "dropping incomplete volume");
                    let _ = fs::remove_dir_all(&path);
                }
            }
        }
        Ok(VolumeStore {
            dir,
            vols: Mutex::new(vols),
            mounted: local::Users::default(),
        })
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Volume>> {
        self.vols.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn mountpoint(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    /// Creates the volume, or returns the existing one of that name (as
    /// dockerd, whose options then are not even checked). `options` are
    /// the local driver's (see [`local`]).
    pub fn create(
        &self,
        name: Option<&str>,
        labels: Option<BTreeMap<String, String>>,
        options: Option<BTreeMap<String, String>>,
        anonymous: bool,
    ) -> Result<Volume, EngineError> {
        let name = match name {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => names::new_id(),
        };
        if !valid_name(&name) {
            return Err(invalid_name(&name));
        }
        let mut vols = self.map();
        if let Some(v) = vols.get(&name) {
            // dockerd reports a create even when the volume already exists.
            crate::daemon::events::volume(&name, "create", Default::default());
            return Ok(v.clone());
        }
        let options = options.filter(|o| !o.is_empty());
        if let Some(o) = &options {
            local::validate(o)
                .map_err(|m| EngineError::InvalidParameter(format!("create {name}: {m}")))?;
        }
        let v = Volume {
            name: name.clone(),
            created_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            labels,
            options,
            anonymous,
        };
        let dir = self.dir.join(&name);
        let data = dir.join("_data");
        let made = fs::create_dir_all(&data)
            .and_then(|_| fs::set_permissions(&data, fs::Permissions::from_mode(0o755)))
            .and_then(|_| shipshape_store::atomic::write_json(&dir.join(META_FILE), &v));
        if let Err(e) = made {
            let _ = fs::remove_dir_all(&dir);
            return Err(EngineError::System(format!("create {name}: {e}")));
        }
        vols.insert(name.clone(), v.clone());
        crate::daemon::events::volume(&name, "create", Default::default());
        Ok(v)
    }

    pub fn get(&self, name: &str) -> Result<Volume, EngineError> {
        self.map()
            .get(name)
            .cloned()
            .ok_or_else(|| no_such_volume(name))
    }

    pub fn list(&self) -> Vec<Volume> {
        self.map().values().cloned().collect()
    }

    /// Mounts volume `name`'s filesystem for container `cid`, when its
    /// options ask for one and no other container holds it mounted.
    pub fn mount_for(&self, name: &str, cid: &str) -> Result<(), EngineError> {
        let options = self.map().get(name).and_then(|v| v.options.clone());
        match options.filter(local::wants_mount) {
            Some(o) => self.mounted.acquire(name, cid, &o, &self.mountpoint(name)),
            None => Ok(()),
        }
    }

    /// Container `cid` stopped (or failed to start): unmounts the volumes
    /// it was the last to hold.
    pub fn release_for(&self, cid: &str) {
        self.mounted.release_all(cid, |n| self.mountpoint(n));
    }

    /// Deletes the volume and its data. The caller checked it is unused.
    fn delete(&self, name: &str) -> Result<u64, EngineError> {
        let mut vols = self.map();
        let Some(v) = vols.remove(name) else {
            return Err(no_such_volume(name));
        };
        let dir = self.dir.join(name);
        if v.options.as_ref().is_some_and(local::wants_mount) {
            // Never delete through a mount (a bind volume's device is the
            // user's own directory): unmounted first, and kept if it stays.
            local::unmount(&dir.join("_data"));
            if is_mount_point(&dir.join("_data")) {
                vols.insert(name.to_string(), v);
                return Err(EngineError::System(format!(
                    "remove {name}: its filesystem is still mounted"
                )));
            }
        }
        let size = dir_size(&dir.join("_data"));
        // The metadata goes first: once it is gone the volume is gone, even
        // if a crash interrupts the rest.
        let _ = fs::remove_file(dir.join(META_FILE));
        fs::remove_dir_all(&dir).map_err(|e| EngineError::System(format!("remove {name}: {e}")))?;
        crate::daemon::events::volume(name, "destroy", Default::default());
        Ok(size)
    }

    /// Docker's JSON for a volume.
    pub fn render(&self, v: &Volume) -> Value {
        json!({
            "CreatedAt": v.created_at,
            "Driver": "local",
            "Labels": v.labels,
            "Mountpoint": self.mountpoint(&v.name),
            "Name": v.name,
            "Options": v.options,
            "Scope": "local",
        })
    }
}

/// Whether `p` is a mount point: on another device than its parent, or
/// the same directory mounted on itself (a bind of a directory of the
/// same filesystem), as /proc/self/mountinfo lists it.
fn is_mount_point(p: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = p.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| m == want)
}

/// Removes everything inside `dir`, keeping `dir` (its mode and owner).
fn empty_dir(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let p = entry?.path();
        if fs::symlink_metadata(&p)?.is_dir() {
            fs::remove_dir_all(&p)?;
        } else {
            fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// Bytes used below `p` (files and symlinks, not following links).
pub fn dir_size(p: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(p)
        .map(|rd| rd.filter_map(Result::ok).map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Containers (IDs) whose mounts use volume `name`.
pub fn users(d: &Daemon, name: &str) -> Vec<String> {
    let mut out: Vec<String> = d
        .all_containers()
        .iter()
        .filter(|c| {
            c.record()
                .mount_points
                .iter()
                .any(|m| m.kind == "volume" && m.name == name)
        })
        .map(|c| c.id.clone())
        .collect();
    out.sort();
    out
}

/// `DELETE /volumes/{name}`. `force` only forgives a missing volume.
pub fn remove(d: &Daemon, name: &str, force: bool) -> Result<(), EngineError> {
    if let Err(e) = d.volumes.get(name) {
        return if force { Ok(()) } else { Err(e) };
    }
    let users = users(d, name);
    if !users.is_empty() {
        return Err(EngineError::Conflict(format!(
            "remove {name}: volume is in use - [{}]",
            users.join(", ")
        )));
    }
    d.volumes.delete(name).map(|_| ())
}

/// Anonymous volumes of a removed container (`rm -v`) that nobody else uses.
pub fn remove_anonymous(d: &Daemon, rec: &Record) {
    for m in rec
        .mount_points
        .iter()
        .filter(|m| m.kind == "volume" && m.anonymous)
    {
        if users(d, &m.name).is_empty() {
            if let Err(e) = d.volumes.delete(&m.name) {
                tracing::warn!(volume = %m.name, error = %e, "removing an anonymous volume");
            }
        }
    }
}

/// `POST /volumes/prune`: unused volumes matching `keep`; answers the names
/// and the bytes freed.
pub fn prune(d: &Daemon, keep: impl Fn(&Volume) -> bool) -> (Vec<String>, u64) {
    let mut names = Vec::new();
    let mut space = 0;
    for v in d.volumes.list() {
        if !keep(&v) || !users(d, &v.name).is_empty() {
            continue;
        }
        if let Ok(n) = d.volumes.delete(&v.name) {
            space += n;
            names.push(v.name);
        }
    }
    (names, space)
}

/// moby's `OpErr` for a missing volume: "get NAME: no such volume", and
/// "get: no such volume" without a name (`GET /volumes/`).
fn no_such_volume(name: &str) -> EngineError {
    let op = if name.is_empty() {
        "get".to_string()
    } else {
        format!("get {name}")
    };
    EngineError::NotFound(format!("{op}: no such volume"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_cut_by_a_crash_is_undone_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let store = VolumeStore::open(tmp.path().to_path_buf()).unwrap();
        store.create(Some("half"), None, None, false).unwrap();
        store.create(Some("whole"), None, None, false).unwrap();
        for name in ["half", "whole"] {
            fs::create_dir_all(store.mountpoint(name).join("etc")).unwrap();
            fs::write(store.mountpoint(name).join("etc/a"), b"a").unwrap();
        }
        fs::write(tmp.path().join("half").join(POPULATING), b"").unwrap();
        let store = VolumeStore::open(tmp.path().to_path_buf()).unwrap();
        assert_eq!(fs::read_dir(store.mountpoint("half")).unwrap().count(), 0);
        assert!(!tmp.path().join("half").join(POPULATING).exists());
        assert!(store.mountpoint("whole").join("etc/a").exists());
        assert_eq!(store.list().len(), 2);
    }
}
