//! Volumes (the `local` driver only) and a container's mounts.
//!
//! A volume is `<data-root>/volumes/<name>/_data`, described by
//! `<name>/volume.json` (written atomically, and last: a directory without it
//! is a create that never finished and is dropped at startup). Volumes
//! outlive containers; anonymous ones (image `VOLUME`s, `--mount
//! type=volume` without a source) go with their container on `rm -v`.
//!
//! A container's mounts are resolved once, at create, from `Binds`,
//! `Mounts`, `Tmpfs` and the image's `Volumes`, into `MountPoint`s kept in its
//! record (named volumes are created then, as dockerd does).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shipshape_runtime::{BindMount, TmpfsMount};

use crate::daemon::containers::record::Record;
use crate::daemon::{containers::names, Daemon};
use crate::errdefs::EngineError;

const META_FILE: &str = "volume.json";
/// Present (next to `_data`) while image content is being copied into the
/// volume: a crash mid-copy would otherwise leave it half-filled for good,
/// since the copy is only made into an empty volume.
const POPULATING: &str = "populating";

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
}

/// Docker's rule for local volume names.
pub fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn invalid_name(n: &str) -> EngineError {
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
        })
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Volume>> {
        self.vols.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn mountpoint(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    /// Creates the volume, or returns the existing one of that name (as dockerd).
    pub fn create(
        &self,
        name: Option<&str>,
        labels: Option<BTreeMap<String, String>>,
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
        let v = Volume {
            name: name.clone(),
            created_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            labels,
            options: None,
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
            .ok_or_else(|| EngineError::NotFound(format!("get {name}: no such volume")))
    }

    pub fn list(&self) -> Vec<Volume> {
        self.map().values().cloned().collect()
    }

    /// Deletes the volume and its data. The caller checked it is unused.
    fn delete(&self, name: &str) -> Result<u64, EngineError> {
        let mut vols = self.map();
        if vols.remove(name).is_none() {
            return Err(EngineError::NotFound(format!("get {name}: no such volume")));
        }
        let dir = self.dir.join(name);
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

/// One of a container's mounts, as resolved at create (field names are
/// dockerd's `MountPoint` where they overlap).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountPoint {
    /// "bind", "volume" or "tmpfs".
    pub kind: String,
    /// Host path of a bind.
    pub source: String,
    /// Volume name.
    pub name: String,
    pub destination: String,
    /// As the client wrote it (`ro`, `z`...), shown by inspect.
    pub mode: String,
    pub rw: bool,
    pub anonymous: bool,
    /// Copy the image's content at the destination into the (empty) volume
    /// at the next start; cleared once done.
    pub copy_data: bool,
    /// tmpfs mount options (`size=64m,mode=1777,noexec`...).
    pub options: String,
    /// Listed in inspect's `Mounts` (dockerd leaves `--tmpfs` out).
    pub listed: bool,
}

impl MountPoint {
    /// inspect's `Mounts` entry.
    pub fn render(&self, d: &Daemon) -> Value {
        match self.kind.as_str() {
            "volume" => json!({
                "Type": "volume", "Name": self.name,
                "Source": d.volumes.mountpoint(&self.name),
                "Destination": self.destination, "Driver": "local",
                "Mode": self.mode, "RW": self.rw, "Propagation": "",
            }),
            "tmpfs" => json!({
                "Type": "tmpfs", "Source": "", "Destination": self.destination,
                "Mode": "", "RW": self.rw, "Propagation": "",
            }),
            _ => json!({
                "Type": "bind", "Source": self.source, "Destination": self.destination,
                "Mode": self.mode, "RW": self.rw, "Propagation": "rprivate",
            }),
        }
    }
}

fn bad_spec(spec: &str, why: &str) -> EngineError {
    EngineError::InvalidParameter(format!("invalid volume specification: '{spec}'{why}"))
}

/// `-v` / `Binds`: `src:dst[:mode]`, where `src` is an absolute host path
/// (bind) or a volume name.
pub fn parse_bind(spec: &str) -> Result<MountPoint, EngineError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => return Err(bad_spec(spec, "")),
    };
    if src.is_empty() || dst.is_empty() {
        return Err(bad_spec(spec, ""));
    }
    let kind = if src.starts_with('/') {
        "bind"
    } else {
        "volume"
    };
    if !dst.starts_with('/') {
        return Err(bad_spec(
            spec,
            &format!(": invalid mount config for type \"{kind}\": invalid mount path: '{dst}' mount path must be absolute"),
        ));
    }
    if mode.split(',').any(|m| {
        !matches!(
            m,
            "" | "ro"
                | "rw"
                | "z"
                | "Z"
                | "nocopy"
                | "private"
                | "rprivate"
                | "shared"
                | "rshared"
                | "slave"
                | "rslave"
                | "consistent"
                | "cached"
                | "delegated"
        )
    }) {
        return Err(EngineError::InvalidParameter(format!(
            "invalid mode: {mode}"
        )));
    }
    if kind == "volume" && !valid_name(src) {
        return Err(invalid_name(src));
    }
    let ro = mode.split(',').any(|m| m == "ro");
    let nocopy = mode.split(',').any(|m| m == "nocopy");
    Ok(MountPoint {
        kind: kind.into(),
        source: if kind == "bind" {
            src.into()
        } else {
            String::new()
        },
        name: if kind == "volume" {
            src.into()
        } else {
            String::new()
        },
        destination: clean_dest(dst),
        mode: if kind == "volume" && mode.is_empty() {
            "z".into()
        } else {
            mode.into()
        },
        rw: !ro,
        anonymous: false,
        copy_data: kind == "volume" && !nocopy,
        options: String::new(),
        listed: true,
    })
}

fn clean_dest(d: &str) -> String {
    let t = d.trim_end_matches('/');
    if t.is_empty() {
        "/".into()
    } else {
        t.to_string()
    }
}

/// `HostConfig.Mounts` entries (`--mount`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct MountRequest {
    #[serde(rename = "Type")]
    kind: String,
    source: String,
    target: String,
    read_only: bool,
    volume_options: Option<VolumeOptions>,
    tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct VolumeOptions {
    no_copy: bool,
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct TmpfsOptions {
    size_bytes: i64,
    mode: u32,
}

fn parse_mount(v: &Value) -> Result<(MountPoint, Option<BTreeMap<String, String>>), EngineError> {
    let m: MountRequest = serde_json::from_value(v.clone())
        .map_err(|e| EngineError::InvalidParameter(format!("invalid mount config: {e}")))?;
    let kind = m.kind.as_str();
    let bad = |why: String| {
        EngineError::InvalidParameter(format!("invalid mount config for type \"{kind}\": {why}"))
    };
    if m.target.is_empty() {
        return Err(bad("field Target must not be empty".into()));
    }
    if !m.target.starts_with('/') {
        return Err(bad(format!(
            "invalid mount path: '{}' mount path must be absolute",
            m.target
        )));
    }
    let mut mp = MountPoint {
        kind: kind.to_string(),
        destination: clean_dest(&m.target),
        rw: !m.read_only,
        listed: true,
        ..Default::default()
    };
    let mut labels = None;
    match kind {
        "bind" => {
            if m.source.is_empty() {
                return Err(bad("field Source must not be empty".into()));
            }
            if !Path::new(&m.source).exists() {
                return Err(bad(format!(
                    "bind source path does not exist: {}",
                    m.source
                )));
            }
            mp.source = m.source;
        }
        "volume" => {
            if m.source.is_empty() {
                mp.name = names::new_id();
                mp.anonymous = true;
            } else if !valid_name(&m.source) {
                return Err(invalid_name(&m.source));
            } else {
                mp.name = m.source;
            }
            let vo = m.volume_options.unwrap_or_default();
            mp.copy_data = !vo.no_copy;
            labels = vo.labels;
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(bad("field Source must not be specified".into()));
            }
            let mut opts = Vec::new();
            if let Some(t) = m.tmpfs_options {
                if t.size_bytes > 0 {
                    opts.push(format!("size={}", t.size_bytes));
                }
                if t.mode > 0 {
                    opts.push(format!("mode={:o}", t.mode));
                }
            }
            mp.options = opts.join(",");
        }
        "" => {
            return Err(EngineError::InvalidParameter(
                "invalid mount config: mount type unknown".into(),
            ))
        }
        other => {
            return Err(EngineError::InvalidParameter(format!(
                "invalid mount config for type \"{other}\": mount type unknown"
            )))
        }
    }
    Ok((mp, labels))
}

/// `HostConfig.Tmpfs`: `{"/run": "rw,noexec,size=64m"}`; Docker's default
/// options for `--tmpfs` add noexec, nosuid and nodev.
fn parse_tmpfs(dest: &str, opts: &str) -> Result<MountPoint, EngineError> {
    if !dest.starts_with('/') {
        return Err(EngineError::InvalidParameter(format!(
            "invalid mount path: '{dest}' mount path must be absolute"
        )));
    }
    let mut list: Vec<&str> = vec!["noexec", "nosuid", "nodev"];
    list.extend(opts.split(',').filter(|o| !o.is_empty()));
    let ro = list.contains(&"ro");
    Ok(MountPoint {
        kind: "tmpfs".into(),
        destination: clean_dest(dest),
        rw: !ro,
        options: list.join(","),
        listed: false,
        ..Default::default()
    })
}

/// Resolves a create request's mounts (named volumes are created now) into
/// the record's mount points. `image_volumes` are the image's `VOLUME`s:
/// each not covered by another mount gets an anonymous volume.
pub fn resolve_mounts(
    d: &Daemon,
    binds: &[String],
    mounts: &[Value],
    tmpfs: &BTreeMap<String, String>,
    image_volumes: &[String],
) -> Result<Vec<MountPoint>, EngineError> {
    let mut out: Vec<MountPoint> = Vec::new();
    let mut labels: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for b in binds {
        out.push(parse_bind(b)?);
    }
    for m in mounts {
        let (mp, l) = parse_mount(m)?;
        if let Some(l) = l {
            labels.insert(mp.name.clone(), l);
        }
        out.push(mp);
    }
    for (dest, opts) in tmpfs {
        out.push(parse_tmpfs(dest, opts)?);
    }
    let mut seen = std::collections::HashSet::new();
    for m in &out {
        if !seen.insert(m.destination.clone()) {
            return Err(EngineError::InvalidParameter(format!(
                "Duplicate mount point: {}",
                m.destination
            )));
        }
    }
    for v in image_volumes {
        let dest = clean_dest(v);
        if seen.insert(dest.clone()) {
            out.push(MountPoint {
                kind: "volume".into(),
                name: names::new_id(),
                destination: dest,
                mode: String::new(),
                rw: true,
                anonymous: true,
                copy_data: true,
                listed: true,
                ..Default::default()
            });
        }
    }
    for m in out.iter().filter(|m| m.kind == "volume") {
        d.volumes
            .create(Some(&m.name), labels.remove(&m.name), m.anonymous)?;
    }
    Ok(out)
}

/// Host-side binds for a container's bind and volume mounts (tmpfs apart).
pub fn host_mounts(d: &Daemon, rec: &Record) -> Result<Vec<BindMount>, EngineError> {
    // A record written before mount points existed has only its Binds.
    let legacy: Vec<MountPoint>;
    let points = if rec.mount_points.is_empty() {
        legacy = rec
            .host_config
            .binds
            .iter()
            .flatten()
            .filter_map(|b| parse_bind(b).ok())
            .filter(|m| m.kind == "bind")
            .collect();
        &legacy
    } else {
        &rec.mount_points
    };
    Ok(points
        .iter()
        .filter(|m| m.kind != "tmpfs")
        .map(|m| BindMount {
            source: if m.kind == "volume" {
                d.volumes.mountpoint(&m.name)
            } else {
                PathBuf::from(&m.source)
            },
            destination: m.destination.clone(),
            readonly: !m.rw,
        })
        .collect())
}

pub fn tmpfs_mounts(rec: &Record) -> Vec<TmpfsMount> {
    rec.mount_points
        .iter()
        .filter(|m| m.kind == "tmpfs")
        .map(|m| TmpfsMount {
            destination: m.destination.clone(),
            options: m.options.clone(),
            readonly: !m.rw,
        })
        .collect()
}

/// Before a start: copy the image's content at each volume's destination
/// into the volume when the volume is still empty (once per container, as
/// dockerd). `root` is the container's mounted root. Returns whether a
/// mount point changed (the record must be saved). Blocking.
pub fn populate(d: &Daemon, root: &Path, points: &mut [MountPoint]) -> bool {
    let mut changed = false;
    for m in points
        .iter_mut()
        .filter(|m| m.kind == "volume" && m.copy_data)
    {
        m.copy_data = false;
        changed = true;
        let data = d.volumes.mountpoint(&m.name);
        let empty = fs::read_dir(&data)
            .map(|mut r| r.next().is_none())
            .unwrap_or(false);
        if !empty {
            continue;
        }
        // Resolved inside the root: an image symlink cannot point us at the host.
        let Ok(src) = shipshape_store::archive::resolve_in_scope(root, &m.destination) else {
            continue;
        };
        let Ok(meta) = fs::symlink_metadata(&src) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        let marker = d.volumes.dir.join(&m.name).join(POPULATING);
        if let Err(e) = fs::write(&marker, b"") {
            tracing::warn!(volume = %m.name, error = %e, "marking a volume being filled");
            continue;
        }
        if let Err(e) = copy_tree(&src, &data) {
            tracing::warn!(volume = %m.name, error = %e, "copying image content into a volume");
        }
        let _ = fs::remove_file(&marker);
        // The volume takes the mode and owner of the directory it covers.
        let _ = fs::set_permissions(&data, fs::Permissions::from_mode(meta.mode() & 0o7777));
        let _ = std::os::unix::fs::lchown(&data, Some(meta.uid()), Some(meta.gid()));
    }
    changed
}

/// Copies the content of `src` into `dst` without following symlinks.
fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if ft.is_dir() {
            fs::create_dir(&to)?;
            copy_tree(&from, &to)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else if ft.is_file() {
            fs::copy(&from, &to)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else {
            continue;
        }
        let _ = std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_parse_like_docker() {
        let b = parse_bind("/host:/in:ro").unwrap();
        assert_eq!(
            (b.kind.as_str(), b.rw, b.destination.as_str()),
            ("bind", false, "/in")
        );
        let v = parse_bind("data:/in").unwrap();
        assert_eq!(
            (v.kind.as_str(), v.name.as_str(), v.mode.as_str()),
            ("volume", "data", "z")
        );
        assert!(v.copy_data);
        assert!(!parse_bind("data:/in:nocopy").unwrap().copy_data);
        assert!(parse_bind("/host:rel").is_err());
        assert!(parse_bind("bad/name:/in").is_err());
        assert!(parse_bind("/a:/b:bogus").is_err());
        assert!(parse_bind("nope").is_err());
    }

    #[test]
    fn a_copy_cut_by_a_crash_is_undone_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let store = VolumeStore::open(tmp.path().to_path_buf()).unwrap();
        store.create(Some("half"), None, false).unwrap();
        store.create(Some("whole"), None, false).unwrap();
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

    #[test]
    fn tmpfs_defaults() {
        let t = parse_tmpfs("/run", "size=1m").unwrap();
        assert_eq!(t.options, "noexec,nosuid,nodev,size=1m");
        assert!(!t.listed);
    }
}
