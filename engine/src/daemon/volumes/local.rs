//! The local driver's options (`docker volume create -o type=tmpfs -o
//! device=tmpfs -o o=size=1m`), as dockerd 20.10.24's `volume/local`
//! takes them: checked at create, kept as the volume's `Options`, and
//! mounted on the volume's `_data` when the first container using it
//! starts, unmounted when the last one stops. Every answer below was read
//! from dockerd with curl on this host.
//!
//! Network filesystems (nfs, cifs...) are refused at mount with 501: this
//! engine never mounts anything that reaches another machine.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::errdefs::EngineError;

const VALID: [&str; 4] = ["type", "o", "device", "size"];

/// Filesystem types whose mount would reach another machine.
const NETWORKED: [&str; 7] = ["nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs"];

/// dockerd's `validateOpts`, in its order: an unknown key (`invalid
/// option: "bogus"`), a `size` (`quota size requested but no quota
/// support`: the engine's data root has no project quotas, as this host's
/// dockerd has none), then the keys that need each other (`missing required
/// option: "device"`). The message goes after `create NAME: `.
pub fn validate(opts: &BTreeMap<String, String>) -> Result<(), String> {
    if let Some(k) = opts.keys().find(|k| !VALID.contains(&k.as_str())) {
        return Err(format!("invalid option: {k:?}"));
    }
    if let Some(size) = opts.get("size") {
        if ram_in_bytes(size).ok_or_else(|| format!("invalid size: '{size}'"))? > 0 {
            return Err("quota size requested but no quota support".into());
        }
    }
    let rules: [(&str, &[&str]); 3] = [
        ("device", &["type"]),
        ("type", &["device"]),
        ("o", &["device", "type"]),
    ];
    for (key, needs) in rules {
        if opts.contains_key(key) {
            if let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n)) {
                return Err(format!("missing required option: {missing:?}"));
            }
        }
    }
    Ok(())
}

/// docker/go-units' `RAMInBytes`: a number, an optional space, then an
/// optional binary unit (k, m, g, t, p, with an optional `i` and `b`).
fn ram_in_bytes(s: &str) -> Option<i64> {
    let digits = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, rest) = s.split_at(digits);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let num: f64 = num.parse().ok()?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest).to_ascii_lowercase();
    let mut chars = rest.chars();
    let shift = match chars.clone().next() {
        Some(u @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            chars.next();
            10 * (1 + "kmgtp".find(u)?)
        }
        _ => 0,
    };
    let tail: String = chars.collect();
    if !matches!(tail.as_str(), "" | "i" | "b" | "ib") {
        return None;
    }
    Some((num * (1u64 << shift) as f64) as i64)
}

/// Whether the options ask for a mount at all (dockerd mounts when any of
/// `type`, `o` or `device` is non-empty).
pub fn wants_mount(opts: &BTreeMap<String, String>) -> bool {
    ["type", "o", "device"]
        .iter()
        .any(|k| opts.get(*k).is_some_and(|v| !v.is_empty()))
}

/// moby/sys/mount's `parseOptions`: the flags it knows, the rest (and any
/// flag it maps to nothing, such as `defaults`) is filesystem data.
fn parse_options(options: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for o in options.split(',') {
        let (clear, f) = match o {
            "ro" => (false, MsFlags::MS_RDONLY),
            "rw" => (true, MsFlags::MS_RDONLY),
            "suid" => (true, MsFlags::MS_NOSUID),
            "nosuid" => (false, MsFlags::MS_NOSUID),
            "dev" => (true, MsFlags::MS_NODEV),
            "nodev" => (false, MsFlags::MS_NODEV),
            "exec" => (true, MsFlags::MS_NOEXEC),
            "noexec" => (false, MsFlags::MS_NOEXEC),
            "sync" => (false, MsFlags::MS_SYNCHRONOUS),
            "async" => (true, MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (false, MsFlags::MS_DIRSYNC),
            "remount" => (false, MsFlags::MS_REMOUNT),
            "mand" => (false, MsFlags::MS_MANDLOCK),
            "nomand" => (true, MsFlags::MS_MANDLOCK),
            "atime" => (true, MsFlags::MS_NOATIME),
            "noatime" => (false, MsFlags::MS_NOATIME),
            "diratime" => (true, MsFlags::MS_NODIRATIME),
            "nodiratime" => (false, MsFlags::MS_NODIRATIME),
            "bind" => (false, MsFlags::MS_BIND),
            "rbind" => (false, MsFlags::MS_BIND | MsFlags::MS_REC),
            "unbindable" => (false, MsFlags::MS_UNBINDABLE),
            "runbindable" => (false, MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
            "private" => (false, MsFlags::MS_PRIVATE),
            "rprivate" => (false, MsFlags::MS_PRIVATE | MsFlags::MS_REC),
            "shared" => (false, MsFlags::MS_SHARED),
            "rshared" => (false, MsFlags::MS_SHARED | MsFlags::MS_REC),
            "slave" => (false, MsFlags::MS_SLAVE),
            "rslave" => (false, MsFlags::MS_SLAVE | MsFlags::MS_REC),
            "relatime" => (false, MsFlags::MS_RELATIME),
            "norelatime" => (true, MsFlags::MS_RELATIME),
            "strictatime" => (false, MsFlags::MS_STRICTATIME),
            "nostrictatime" => (true, MsFlags::MS_STRICTATIME),
            other => {
                data.push(other);
                continue;
            }
        };
        if clear {
            flags.remove(f);
        } else {
            flags.insert(f);
        }
    }
    (flags, data.join(","))
}

/// Mounts the volume's filesystem on `target` as moby/sys/mount's `Mount`
/// does: the mount with every flag but the propagation ones, then the
/// propagation, then a read-only remount of a read-only bind. The error is
/// dockerd's text after `error while mounting volume 'PATH': `.
fn mount_volume(opts: &BTreeMap<String, String>, target: &Path) -> Result<(), EngineError> {
    let get = |k: &str| opts.get(k).map(String::as_str).unwrap_or("");
    let (device, kind) = (get("device"), get("type"));
    if device.is_empty() {
        return Err(EngineError::System(
            "missing device in volume options".into(),
        ));
    }
    if NETWORKED.contains(&kind) {
        return Err(EngineError::NotImplemented(format!(
            "failed to mount local volume: {kind} volumes reach other machines and are not \
             mounted by this engine"
        )));
    }
    let (flags, data) = parse_options(get("o"));
    let propagation =
        MsFlags::MS_SHARED | MsFlags::MS_PRIVATE | MsFlags::MS_SLAVE | MsFlags::MS_UNBINDABLE;
    let oflags = flags - propagation;
    let failed = |e: nix::errno::Errno| {
        let mut out = format!(
            "failed to mount local volume: mount {device}:{}",
            target.display()
        );
        if !oflags.is_empty() {
            out.push_str(&format!(", flags: {:#x}", oflags.bits()));
        }
        if !data.is_empty() {
            out.push_str(&format!(", data: {data}"));
        }
        let io = std::io::Error::from_raw_os_error(e as i32);
        out.push_str(&format!(": {}", shipshape_store::errno_text(&io)));
        EngineError::System(out)
    };
    let data_arg = Some(data.as_str()).filter(|d| !d.is_empty());
    mount(Some(device), target, Some(kind), oflags, data_arg).map_err(failed)?;
    let rest = (|| -> nix::Result<()> {
        if flags.intersects(propagation) {
            mount(
                None::<&str>,
                target,
                None::<&str>,
                flags & (propagation | MsFlags::MS_REC),
                None::<&str>,
            )?;
        }
        let ro_bind = MsFlags::MS_BIND | MsFlags::MS_RDONLY;
        if oflags.contains(ro_bind) {
            mount(
                None::<&str>,
                target,
                None::<&str>,
                oflags | MsFlags::MS_REMOUNT,
                None::<&str>,
            )?;
        }
        Ok(())
    })();
    if let Err(e) = rest {
        let _ = umount2(target, MntFlags::MNT_DETACH);
        return Err(failed(e));
    }
    Ok(())
}

/// Unmounts a volume's filesystem (lazily, as dockerd's `Unmount` does).
/// Not mounted is fine.
pub fn unmount(target: &Path) {
    match umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => tracing::warn!(path = %target.display(), error = %e, "unmounting a volume"),
    }
}

/// Which containers hold each mounted volume: mounted with the first,
/// unmounted after the last.
#[derive(Default)]
pub struct Users {
    by_volume: Mutex<HashMap<String, BTreeSet<String>>>,
}

impl Users {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeSet<String>>> {
        self.by_volume.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Container `cid` uses volume `name` (options `opts`, mounted on
    /// `target`): mounts it if no one else holds it.
    pub fn acquire(
        &self,
        name: &str,
        cid: &str,
        opts: &BTreeMap<String, String>,
        target: &Path,
    ) -> Result<(), EngineError> {
        let mut map = self.map();
        let holders = map.entry(name.to_string()).or_default();
        if holders.is_empty() {
            if let Err(e) = mount_volume(opts, target) {
                map.remove(name);
                let what = format!("error while mounting volume '{}': {e}", target.display());
                return Err(match e {
                    EngineError::NotImplemented(_) => EngineError::NotImplemented(what),
                    _ => EngineError::System(what),
                });
            }
        }
        holders.insert(cid.to_string());
        Ok(())
    }

    /// Container `cid` stopped: every volume no one else holds is
    /// unmounted (`target` gives each one's mount point).
    pub fn release_all(&self, cid: &str, target: impl Fn(&str) -> std::path::PathBuf) {
        let mut map = self.map();
        let mut free = Vec::new();
        for (name, holders) in map.iter_mut() {
            if holders.remove(cid) && holders.is_empty() {
                free.push(name.clone());
            }
        }
        for name in free {
            map.remove(&name);
            unmount(&target(&name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// dockerd 20.10.24's answers to `POST /volumes/create` (after
    /// `create NAME: `).
    #[test]
    fn options_are_checked_as_dockerd() {
        let err = |p: &[(&str, &str)]| validate(&opts(p)).unwrap_err();
        assert_eq!(err(&[("bogus", "1")]), "invalid option: \"bogus\"");
        assert_eq!(
            err(&[("size", "1m"), ("bogus", "x")]),
            "invalid option: \"bogus\""
        );
        assert_eq!(
            err(&[("type", "tmpfs")]),
            "missing required option: \"device\""
        );
        assert_eq!(
            err(&[("o", "size=1m")]),
            "missing required option: \"device\""
        );
        assert_eq!(
            err(&[("device", "tmpfs")]),
            "missing required option: \"type\""
        );
        assert_eq!(
            err(&[("size", "1m")]),
            "quota size requested but no quota support"
        );
        assert!(validate(&opts(&[
            ("type", "tmpfs"),
            ("device", "tmpfs"),
            ("o", "size=1m")
        ]))
        .is_ok());
        assert!(validate(&opts(&[("type", ""), ("device", ""), ("o", "")])).is_ok());
        assert!(!wants_mount(&opts(&[
            ("type", ""),
            ("device", ""),
            ("o", "")
        ])));
    }

    #[test]
    fn options_split_into_flags_and_data() {
        let (f, d) = parse_options("bind,ro");
        assert_eq!(f, MsFlags::MS_BIND | MsFlags::MS_RDONLY);
        assert_eq!(d, "");
        let (f, d) = parse_options("size=1m,defaults,noexec");
        assert_eq!(f, MsFlags::MS_NOEXEC);
        assert_eq!(d, "size=1m,defaults");
        assert_eq!(ram_in_bytes("1m"), Some(1 << 20));
        assert_eq!(ram_in_bytes("0"), Some(0));
        assert_eq!(ram_in_bytes("x"), None);
    }
}
