//! A container's root at start: its overlay, its volumes and binds, and
//! the network files (/etc/hostname, hosts, resolv.conf) mounted into it.

use std::path::PathBuf;
use std::sync::Arc;

use shipshape_runtime::BindMount;

use super::container::Container;
use super::record::Record;
use crate::daemon::networks::dns;
use crate::daemon::volumes;
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// Where a container's /etc/hosts and co. come from besides its own
/// settings.
pub(super) struct NetworkFiles {
    /// The directory of the container whose network it joins: its files
    /// are the joiner's.
    pub shared: Option<PathBuf>,
    /// Lines its legacy links add to /etc/hosts.
    pub link_hosts: String,
}

/// The container's root and what is mounted into it: the image's layers
/// under a writable one, fresh volumes filled from the image, bind sources
/// (Docker creates a missing one), and its /etc/hostname, hosts and
/// resolv.conf. Blocking.
pub(super) fn prepare_root(
    d: &Arc<Daemon>,
    c: &Container,
    rec: &Record,
    own: super::init_layer::OwnAddresses,
    user_defined: bool,
    files: NetworkFiles,
) -> Result<(PathBuf, Vec<BindMount>), EngineError> {
    let layers = super::init_layer::root_layers(d, &rec.image_id)?;
    let fs_dir = c.fs_dir();
    // A container removed when it exits has a throwaway writable layer.
    let rootfs = if rec.host_config.auto_remove {
        shipshape_runtime::rootfs::mount_rootfs_volatile(&layers, &fs_dir)?
    } else {
        shipshape_runtime::rootfs::mount_rootfs(&layers, &fs_dir)?
    };
    // Volumes with a filesystem of their own (local driver options) are
    // mounted first: the image's content is copied onto that filesystem.
    for m in rec.mount_points.iter().filter(|m| m.kind == "volume") {
        d.volumes.mount_for(&m.name, &c.id)?;
    }
    // Image content goes into fresh volumes before the container sees them.
    let mut points = rec.mount_points.clone();
    if volumes::mounts::populate(d, &rootfs, &mut points) {
        c.record().mount_points = points;
        if let Err(e) = c.save() {
            tracing::warn!(id = %c.id, error = %e, "persisting volume copy state");
        }
    }
    let mut mounts = volumes::mounts::host_mounts(d, rec)?;
    volumes::mounts::create_bind_sources(&mounts)?;
    let user_destinations: Vec<String> = mounts.iter().map(|m| m.destination.clone()).collect();
    if let Some(dir) = &files.shared {
        mounts.extend(super::init_layer::shared(
            dir,
            &user_destinations,
            rec.host_config.readonly_rootfs,
        ));
        return Ok((rootfs, mounts));
    }
    let cfg = &rec.config;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let dns = super::init_layer::DnsFiles {
        resolv: dns::resolv_conf(&host_resolv, &rec.host_config, user_defined),
        extra_hosts: dns::extra_hosts(&rec.host_config, dns::host_gateway(d)) + &files.link_hosts,
    };
    mounts.extend(super::init_layer::prepare(
        c.dir(),
        &cfg.hostname,
        &cfg.domainname,
        &rec.host_config.network_mode,
        own,
        &dns,
        &user_destinations,
        rec.host_config.readonly_rootfs,
    )?);
    Ok((rootfs, mounts))
}
