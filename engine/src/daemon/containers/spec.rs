//! What the runtime is asked to run for a container: its record turned into
//! a [`ProcessSpec`], with the defaults dockerd adds (PATH, HOSTNAME, TERM,
//! sysctls).

use std::collections::BTreeMap;
use std::path::PathBuf;

use shipshape_runtime::{BindMount, Device, Network, ProcessSpec, Security};

use super::lifecycle::DEFAULT_PATH;
use super::record::Record;
use crate::daemon::volumes;

/// Sysctls dockerd 20.10 sets for a container with its own network
/// namespace, unless the container sets them itself: unprivileged ports
/// and ping for everyone (moby daemon/oci_linux.go).
const NETNS_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv4.ip_unprivileged_port_start", "0"),
    ("net.ipv4.ping_group_range", "0 2147483647"),
];

pub fn process_spec(
    rec: &Record,
    rootfs: PathBuf,
    mounts: Vec<BindMount>,
    cgroups: Vec<PathBuf>,
    security: Security,
    devices: Vec<Device>,
) -> ProcessSpec {
    let cfg = &rec.config;
    let hc = &rec.host_config;
    let mut env = cfg.env.clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    env.insert(0, format!("HOSTNAME={}", cfg.hostname));
    if cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    // Bridged containers get their own namespace too; the caller adds the
    // veths (see `networks::endpoint`).
    let network = if hc.network_mode == "none"
        || crate::daemon::networks::endpoint::bridged(&hc.network_mode)
    {
        Network::None
    } else {
        Network::Host
    };
    let mut sysctls: BTreeMap<String, String> = BTreeMap::new();
    if network == Network::None {
        for (k, v) in NETNS_SYSCTLS {
            sysctls.insert((*k).to_string(), (*v).to_string());
        }
    }
    sysctls.extend(hc.sysctls.clone().unwrap_or_default());
    ProcessSpec {
        cgroups,
        rootfs,
        args: std::iter::once(rec.path.clone())
            .chain(rec.args.iter().cloned())
            .collect(),
        env,
        cwd: if cfg.working_dir.is_empty() {
            "/".into()
        } else {
            cfg.working_dir.clone()
        },
        user: cfg.user.clone(),
        group_add: hc.group_add.clone().unwrap_or_default(),
        hostname: cfg.hostname.clone(),
        domainname: cfg.domainname.clone(),
        sysctls,
        tty: cfg.tty,
        open_stdin: cfg.open_stdin,
        init: hc.init.unwrap_or(false),
        readonly_rootfs: hc.readonly_rootfs,
        mounts,
        tmpfs: volumes::mounts::tmpfs_mounts(rec),
        network,
        veths: Vec::new(),
        dns_bind: None,
        security,
        devices,
        // Set at start (see `namespaces::runtime`): it needs the donors.
        namespaces: Default::default(),
    }
}
