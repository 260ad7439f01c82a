//! A container's mounts: resolved once, at create, from `Binds` (`-v`),
//! `Mounts` (`--mount`), `Tmpfs` and the image's `Volumes`, into
//! `MountPoint`s kept in its record (named volumes are created then, as
//! dockerd does); then turned into the runtime's binds and tmpfs at start,
//! after a new volume is filled from the image.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shipshape_runtime::{BindMount, Propagation, TmpfsMount};

use super::{invalid_name, valid_name, POPULATING};
use crate::daemon::containers::{names, record::Record};
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

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
    /// A bind's propagation as asked (`rshared`...); "" is rprivate.
    pub propagation: String,
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
                "Mode": self.mode, "RW": self.rw,
                "Propagation": if self.propagation.is_empty() { "rprivate" } else { &self.propagation },
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
    let propagation = mode
        .split(',')
        .rfind(|m| Propagation::parse(m).is_some())
        .unwrap_or("");
    if kind == "volume" && !propagation.is_empty() {
        // dockerd answers this one with a plain error: 500.
        return Err(EngineError::System(format!(
            "invalid volume specification: '{spec}': invalid mount config for type \"volume\": field BindOptions must not be specified"
        )));
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
        propagation: propagation.into(),
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
    bind_options: Option<BindOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct BindOptions {
    propagation: String,
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
    if kind != "bind" && m.bind_options.is_some() {
        return Err(bad("field BindOptions must not be specified".into()));
    }
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
            let p = m.bind_options.unwrap_or_default().propagation;
            if !p.is_empty() && Propagation::parse(&p).is_none() {
                return Err(bad(format!("invalid propagation mode: {p}")));
            }
            mp.propagation = p;
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
    // dockerd 20.10.24 for "/" and "//": nothing may be mounted over the root.
    if clean_dest(dest) == "/" {
        return Err(EngineError::InvalidParameter(
            "invalid specification: destination can't be '/'".into(),
        ));
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

/// `HostConfig.VolumesFrom` (`container[:ro|:rw]`): the other containers'
/// mounts, as dockerd copies them: read-only with `ro`, else as they are
/// there; Mode "" and no copy of image data.
fn volumes_from(d: &Daemon, specs: &[String]) -> Result<Vec<MountPoint>, EngineError> {
    let mut out = Vec::new();
    for spec in specs {
        let (name, mode) = spec.split_once(':').unwrap_or((spec, ""));
        let writable = match mode {
            "" | "rw" => true,
            "ro" => false,
            other => {
                return Err(EngineError::InvalidParameter(format!(
                    "invalid mode: {other}"
                )))
            }
        };
        let other = d
            .container(name)
            .map_err(|_| EngineError::InvalidParameter(format!("No such container: {name}")))?;
        let points = other.record().mount_points.clone();
        for m in points.into_iter().filter(|m| m.kind != "tmpfs") {
            out.push(MountPoint {
                mode: String::new(),
                rw: m.rw && writable,
                copy_data: false,
                ..m
            });
        }
    }
    Ok(out)
}

/// Resolves a create request's mounts (named volumes are created now) into
/// the record's mount points. `volumes_from` are `HostConfig.VolumesFrom`:
/// their mounts come under the request's own. `image_volumes` are the
/// image's `VOLUME`s: each not covered by another mount gets an anonymous
/// volume.
pub fn resolve_mounts(
    d: &Daemon,
    binds: &[String],
    mounts: &[Value],
    tmpfs: &BTreeMap<String, String>,
    volumes_from_specs: &[String],
    image_volumes: &[String],
) -> Result<Vec<MountPoint>, EngineError> {
    let shared = volumes_from(d, volumes_from_specs)?;
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
    // Existing volumes: not created again.
    let shared: Vec<MountPoint> = shared
        .into_iter()
        .filter(|m| seen.insert(m.destination.clone()))
        .collect();
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
            .create(Some(&m.name), labels.remove(&m.name), None, m.anonymous)?;
    }
    out.extend(shared);
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
            propagation: Propagation::parse(&m.propagation).unwrap_or_default(),
        })
        .collect())
}

/// Creates the missing bind sources, as dockerd does at start (MkdirAll),
/// with its words when that fails.
pub fn create_bind_sources(mounts: &[BindMount]) -> Result<(), EngineError> {
    for m in mounts.iter().filter(|m| !m.source.exists()) {
        std::fs::create_dir_all(&m.source).map_err(|e| {
            // Go's MkdirAll names the directory it could not make: the
            // outermost missing one.
            let mut failed = m.source.as_path();
            while let Some(parent) = failed.parent().filter(|p| !p.exists()) {
                failed = parent;
            }
            EngineError::System(format!(
                "error while creating mount source path '{}': {}",
                m.source.display(),
                shipshape_store::path_error("mkdir", &failed.display().to_string(), &e)
            ))
        })?;
    }
    Ok(())
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
    fn tmpfs_defaults() {
        let t = parse_tmpfs("/run", "size=1m").unwrap();
        assert_eq!(t.options, "noexec,nosuid,nodev,size=1m");
        assert!(!t.listed);
    }
}
