//! What the engine adds under every container's root, kept out of the
//! container's own layer as dockerd keeps it (its "-init" layer):
//! - the init layer: a read-only directory (one, shared by all containers)
//!   stacked between the image's layers and the container's writable layer,
//!   holding the mount points the runtime needs (/proc, /sys, /dev,
//!   /etc/hostname, ...). Without it, creating those mount points would copy
//!   /etc up into the container's layer and `docker diff` would show it;
//! - /etc/hostname, /etc/hosts and /etc/resolv.conf: files in the container's
//!   directory, bind-mounted over those mount points at start.

use std::path::{Path, PathBuf};

use shipshape_runtime::BindMount;

pub const HOSTNAME: &str = "hostname";
/// The init layer's directory, in the data root: its content never depends
/// on the container, so all containers stack the same one (read-only, as
/// every lower directory of an overlay).
const INIT_LAYER: &str = "init-layer";
const MOUNT_POINT_DIRS: &[&str] = &["proc", "sys", "dev", "etc"];
/// `.dockerenv` is dockerd's marker of a container (an empty file at the
/// root, which `docker export` shows and programs test for).
const MOUNT_POINT_FILES: &[&str] = &[".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf"];

/// The lower directories of a container's root, lowest first: the image's
/// layers, then the init layer. Every mount of the root uses exactly these,
/// so the writable layer always sits on the same stack.
pub fn root_layers(
    d: &crate::daemon::Daemon,
    image_id: &str,
) -> Result<Vec<PathBuf>, crate::errdefs::EngineError> {
    let mut layers = d.images.layer_dirs(image_id)?;
    layers.push(d.config.data_root.join(INIT_LAYER));
    Ok(mountable(layers))
}

/// Layer directories (bottom first) as overlayfs takes them: each once.
/// Layers are stored by content, so an image can list one twice (two RUN
/// steps that changed nothing both add the empty layer; docker-py's
/// test_build_with_extra_hosts), and overlayfs refuses a lower directory
/// given twice ("conflicting lowerdir path": ELOOP, `Too many levels of
/// symbolic links`). Only the topmost occurrence is kept: whatever the
/// lower one sets, hides or removes, the upper one does again above it.
pub fn mountable(layers: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<PathBuf> = layers
        .into_iter()
        .rev()
        .filter(|p| seen.insert(p.clone()))
        .collect();
    out.reverse();
    out
}

/// Creates the init layer in `data_root` if it is missing or incomplete (at
/// daemon start: idempotent, so an interrupted creation is completed).
pub fn ensure(data_root: &Path) -> std::io::Result<PathBuf> {
    let layer = data_root.join(INIT_LAYER);
    for d in MOUNT_POINT_DIRS {
        std::fs::create_dir_all(layer.join(d))?;
    }
    for f in MOUNT_POINT_FILES {
        let p = layer.join(f);
        if !p.exists() {
            std::fs::File::create(p)?;
        }
    }
    Ok(layer)
}

pub const HOSTS: &str = "hosts";
pub const RESOLV_CONF: &str = "resolv.conf";

/// What `daemon::networks::dns` decided for a container's files.
#[derive(Debug, Default)]
pub struct DnsFiles {
    /// The whole resolv.conf; None: the host's, filtered.
    pub resolv: Option<String>,
    /// `--add-host` lines, after the standard entries.
    pub extra_hosts: String,
}

/// The addresses a container's own /etc/hosts lines give its names: one
/// entry per bridge endpoint (the default bridge's first, as dockerd joins
/// it first), with its IPv6 address on a network with IPv6 enabled.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OwnAddresses {
    pub each: Vec<(std::net::Ipv4Addr, Option<std::net::Ipv6Addr>)>,
}

/// Docker's standard entries, `--add-host` lines, then the container's own
/// name so it resolves: a line per address of each endpoint (IPv4, then
/// IPv6), else 127.0.1.1 as for `none`.
fn hosts_file(hostname: &str, domainname: &str, own: &OwnAddresses, extra: &str) -> String {
    let fqdn = own_names(hostname, domainname);
    let mut out = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n{extra}"
    );
    if own.each.is_empty() {
        out.push_str(&format!("127.0.1.1\t{fqdn}\n"));
    }
    for (v4, v6) in &own.each {
        out.push_str(&format!("{v4}\t{fqdn}\n"));
        if let Some(v6) = v6 {
            out.push_str(&format!("{v6}\t{fqdn}\n"));
        }
    }
    out
}

/// The host's resolv.conf. With its own (empty) network namespace a
/// container cannot reach the host's loopback resolvers, so those go, as
/// Docker drops them for non-host networks.
fn resolv_conf(host: &str, own_network: bool) -> String {
    host.lines()
        .filter(|l| {
            let ns = l.trim_start().strip_prefix("nameserver").map(str::trim);
            !(own_network && ns.is_some_and(|a| a.starts_with("127.") || a == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Writes the files into `dir` (atomically) and returns their bind mounts,
/// leaving out any path the user already binds. With a read-only root
/// (`readonly`) they are read-only too, as dockerd makes every mount it
/// adds itself but /proc and /dev's.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    dir: &Path,
    hostname: &str,
    domainname: &str,
    network_mode: &str,
    own: OwnAddresses,
    dns: &DnsFiles,
    user_destinations: &[String],
    readonly: bool,
) -> std::io::Result<Vec<BindMount>> {
    let own_network = network_mode != "host";
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    // dockerd gives a host-network container a copy of the host's hosts file.
    let hosts = if network_mode == "host" {
        std::fs::read_to_string("/etc/hosts")?
    } else {
        hosts_file(hostname, domainname, &own, &dns.extra_hosts)
    };
    let resolv = match &dns.resolv {
        Some(r) => r.clone(),
        None => resolv_conf(&host_resolv, own_network),
    };
    let files = [
        (HOSTNAME, "/etc/hostname", format!("{hostname}\n")),
        (HOSTS, "/etc/hosts", hosts),
        (RESOLV_CONF, "/etc/resolv.conf", resolv),
    ];
    let mut mounts = Vec::new();
    for (name, dest, content) in files {
        if user_destinations
            .iter()
            .any(|d| d.trim_end_matches('/') == dest)
        {
            continue;
        }
        let path = dir.join(name);
        // Rewritten at every start: atomic is enough, no fsync.
        shipshape_store::atomic::replace_file(&path, content.as_bytes())?;
        mounts.push(BindMount {
            source: path,
            destination: dest.to_string(),
            readonly,
            propagation: Default::default(),
        });
    }
    Ok(mounts)
}

/// Bind mounts of another container's files (`NetworkMode container:X`
/// shares its target's, as dockerd does), leaving out any path the user
/// already binds and any file the target does not have; read-only with a
/// read-only root, as `prepare`'s.
pub fn shared(dir: &Path, user_destinations: &[String], readonly: bool) -> Vec<BindMount> {
    [
        (HOSTNAME, "/etc/hostname"),
        (HOSTS, "/etc/hosts"),
        (RESOLV_CONF, "/etc/resolv.conf"),
    ]
    .into_iter()
    .filter(|(_, dest)| {
        !user_destinations
            .iter()
            .any(|d| d.trim_end_matches('/') == *dest)
    })
    .map(|(name, dest)| (dir.join(name), dest))
    .filter(|(source, _)| source.is_file())
    .map(|(source, dest)| BindMount {
        source,
        destination: dest.to_string(),
        readonly,
        propagation: Default::default(),
    })
    .collect()
}

/// The names a container's own /etc/hosts lines give its address.
pub fn own_names(hostname: &str, domainname: &str) -> String {
    if domainname.is_empty() {
        hostname.to_string()
    } else {
        format!("{hostname}.{domainname} {hostname}")
    }
}

/// Rewrites the hosts file in `dir` in place (it is bind-mounted into the
/// running container: a new file would not be seen) with `edit` applied to
/// its lines. A container that has no hosts file yet is left alone.
pub fn edit_hosts(dir: &Path, edit: impl FnOnce(&mut Vec<String>)) -> std::io::Result<()> {
    use std::io::Write;
    let path = dir.join(HOSTS);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    edit(&mut lines);
    let mut out = lines.join("\n");
    out.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)?;
    f.write_all(out.as_bytes())
}

/// A file's path for inspect once it exists (after the first start), else "".
pub fn shown_path(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    if p.exists() {
        p
    } else {
        PathBuf::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_listed_twice_is_mounted_once_at_its_top_place() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            mountable(vec![p("/a"), p("/e"), p("/b"), p("/e"), p("/init")]),
            vec![p("/a"), p("/b"), p("/e"), p("/init")]
        );
    }

    #[test]
    fn resolv_conf_drops_loopback_only_with_own_network() {
        let host = "search example\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n";
        assert_eq!(resolv_conf(host, false), host);
        assert_eq!(
            resolv_conf(host, true),
            "search example\nnameserver 10.0.0.1\n"
        );
    }

    #[test]
    fn init_layer_holds_the_mount_points() {
        let d = tempfile::tempdir().unwrap();
        let l = ensure(d.path()).unwrap();
        assert!(l.join("proc").is_dir() && l.join("etc/hosts").is_file());
        // Idempotent, and completes a layer a crash left half made.
        std::fs::remove_file(l.join("etc/hosts")).unwrap();
        assert_eq!(ensure(d.path()).unwrap(), l);
        assert!(l.join("etc/hosts").is_file());
    }

    #[test]
    fn files_are_written_and_user_binds_win() {
        let d = tempfile::tempdir().unwrap();
        let m = prepare(
            d.path(),
            "box",
            "",
            "default",
            OwnAddresses::default(),
            &DnsFiles::default(),
            &["/etc/hosts".into()],
            true,
        )
        .unwrap();
        let dests: Vec<_> = m.iter().map(|b| b.destination.as_str()).collect();
        assert_eq!(dests, vec!["/etc/hostname", "/etc/resolv.conf"]);
        // A read-only root makes them read-only too.
        assert!(m.iter().all(|b| b.readonly));
        assert_eq!(
            std::fs::read_to_string(d.path().join(HOSTNAME)).unwrap(),
            "box\n"
        );
        assert!(hosts_file("box", "lan", &OwnAddresses::default(), "")
            .contains("127.0.1.1\tbox.lan box"));
        let v4 = std::net::Ipv4Addr::new(172, 18, 0, 2);
        let own = |each| OwnAddresses { each };
        assert!(hosts_file("box", "", &own(vec![(v4, None)]), "")
            .ends_with("ip6-allrouters\n172.18.0.2\tbox\n"));
        // dockerd 20.10.24 on a network created with --ipv6 --subnet
        // fd00:55::/64: the IPv4 line, then the IPv6 one.
        let v6 = Some("fd00:55::2".parse().unwrap());
        assert!(hosts_file("box", "", &own(vec![(v4, v6)]), "")
            .ends_with("172.18.0.2\tbox\nfd00:55::2\tbox\n"));
        // Created on a user network and connected to the default bridge
        // before the start: a line each, the default bridge's first.
        let bridge = std::net::Ipv4Addr::new(172, 17, 0, 3);
        assert!(
            hosts_file("box", "", &own(vec![(bridge, None), (v4, None)]), "")
                .ends_with("allrouters\n172.17.0.3\tbox\n172.18.0.2\tbox\n")
        );
    }
}
