//! What the daemon asks the runtime to run. Plain data, serialized (serde_json)
//! to the re-exec'd init over its socket.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A host path bind-mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// Host path (file or directory).
    pub source: PathBuf,
    /// Absolute path inside the container; resolved inside the rootfs (symlinks
    /// in the image cannot lead it outside) and created when missing.
    pub destination: String,
    pub readonly: bool,
    /// Mount propagation (`-v src:dst:rshared`, `BindOptions.Propagation`).
    #[serde(default)]
    pub propagation: Propagation,
}

/// Docker's bind propagation modes (see `init::propagation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    #[default]
    Rprivate,
    Private,
    Rshared,
    Shared,
    Rslave,
    Slave,
}

impl Propagation {
    /// Docker's name for a mode (`rshared`...); None for an unknown one.
    pub fn parse(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }
}

/// A tmpfs mounted into the container (`--tmpfs`, `--mount type=tmpfs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmpfsMount {
    /// Absolute path inside the container; resolved inside the rootfs and
    /// created when missing, like a bind destination.
    pub destination: String,
    /// mount(8)-style options: flags (`ro`, `noexec`, `nosuid`, `nodev`,
    /// `exec`, `suid`, `dev`, `rw`) and tmpfs data (`size=`, `mode=`...).
    pub options: String,
    pub readonly: bool,
}

/// Network namespace choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Network {
    /// Share the daemon's network namespace.
    Host,
    /// A new, empty network namespace with only `lo` (brought up).
    #[default]
    None,
    /// The network namespace this host pid is in (`--network
    /// container:X`): its interfaces, addresses and routes, shared.
    Join(i32),
}

/// One network interface of a container on a bridge: a veth pair whose host
/// end (`host_name`) joins `bridge` and whose other end is `eth<N>` inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Veth {
    pub host_name: String,
    pub bridge: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    pub address: std::net::Ipv4Addr,
    pub prefix: u8,
    /// Default route via this gateway (the first interface that has one).
    pub gateway: Option<std::net::Ipv4Addr>,
    /// Its IPv6 address, on a network with IPv6 enabled.
    #[serde(default)]
    pub ipv6: Option<Veth6>,
}

/// A veth's IPv6 side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Veth6 {
    pub address: std::net::Ipv6Addr,
    pub prefix: u8,
    pub gateway: Option<std::net::Ipv6Addr>,
}

/// What the container's processes may do: capabilities, no_new_privs and
/// the seccomp filter. The same for its main process and every exec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Security {
    /// Capabilities kept in the bounding set (numbers from
    /// linux/capability.h); `None`: Docker's default set.
    pub capabilities: Option<Vec<u32>>,
    /// `prctl(PR_SET_NO_NEW_PRIVS)` before execve.
    pub no_new_privileges: bool,
    /// Compiled seccomp programs (see [`crate::seccomp`]), installed in this
    /// order; empty: no filter.
    pub seccomp: Vec<crate::seccomp::Program>,
    /// `Ulimits`, set before the user switch (see `init::rlimits`).
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
}

/// One `--ulimit`: Docker's name (`nofile`, `nproc`...) and its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// Whose namespace of one kind (pid, ipc, uts) the container gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Namespace {
    /// A new one of its own.
    #[default]
    Private,
    /// The daemon's (`--pid host`, `--ipc host`, `--uts host`).
    Host,
    /// The one this host pid is in (`--pid container:X`, `--ipc container:X`).
    Join(i32),
}

/// The container's pid, ipc and uts namespaces, its cgroup namespace and
/// its /dev/shm (see `init::namespaces`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    pub pid: Namespace,
    pub ipc: Namespace,
    pub uts: Namespace,
    /// `CgroupnsMode: private`: a cgroup namespace rooted at its own group.
    pub cgroup_private: bool,
    pub shm: Shm,
}

/// What the container's /dev/shm is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shm {
    /// A tmpfs of this many bytes (`--shm-size`; dockerd's default 64 MiB).
    Size(u64),
    /// This host directory, bound (`--ipc host`: /dev/shm; `--ipc
    /// container:X`: X's, through /proc/<pid>/root).
    Bind(PathBuf),
    /// None (`--ipc none`).
    Absent,
}

impl Default for Shm {
    fn default() -> Self {
        Shm::Size(64 << 20)
    }
}

/// A host device node made in the container (`--device`): the node only;
/// its device cgroup rule is the daemon's to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Absolute path inside the container.
    pub path: String,
    /// 'c' or 'b'.
    pub kind: char,
    pub major: u32,
    pub minor: u32,
    /// Permission bits of the host's node.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A container's main process (its pid 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// The merged root directory (see [`crate::rootfs::mount_rootfs`]).
    pub rootfs: PathBuf,
    /// argv; `args[0]` is looked up on the container's `PATH` when it has no '/'.
    pub args: Vec<String>,
    /// "K=V" entries, passed verbatim (HOME is added from /etc/passwd if absent).
    pub env: Vec<String>,
    /// Absolute working directory inside the container; created if missing.
    pub cwd: String,
    /// "", "uid", "uid:gid", "name", "name:group" (resolved in the container).
    pub user: String,
    /// `GroupAdd`: extra supplementary groups, by number or by name (looked
    /// up in the container's /etc/group).
    #[serde(default)]
    pub group_add: Vec<String>,
    pub hostname: String,
    /// The NIS domain name (`Domainname`); empty: left unset.
    #[serde(default)]
    pub domainname: String,
    /// Written under /proc/sys inside the container (see `init::sysctl`).
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    /// `HostConfig.Init`: pid 1 is a reaper that forwards signals to the
    /// command (see `init::reaper`).
    #[serde(default)]
    pub init: bool,
    pub readonly_rootfs: bool,
    pub mounts: Vec<BindMount>,
    /// Mounted after the binds.
    #[serde(default)]
    pub tmpfs: Vec<TmpfsMount>,
    pub network: Network,
    /// With [`Network::None`]: interfaces made in the new namespace before
    /// the command starts (`eth0`, `eth1`, ... in this order).
    #[serde(default)]
    pub veths: Vec<Veth>,
    /// With [`Network::None`]: UDP and TCP sockets bound at this address in
    /// the new namespace before the command starts (the embedded DNS
    /// resolver's 127.0.0.11:53, so the container's first lookup finds
    /// it); they come back in [`crate::Spawned::dns_sockets`].
    #[serde(default)]
    pub dns_bind: Option<std::net::SocketAddrV4>,
    /// cgroup directories the container joins before its first process
    /// starts (see [`crate::cgroups::Cgroup::dirs`]); empty: stay in the
    /// daemon's.
    #[serde(default)]
    pub cgroups: Vec<PathBuf>,
    #[serde(default)]
    pub security: Security,
    /// Made after /dev is mounted.
    #[serde(default)]
    pub devices: Vec<Device>,
    #[serde(default)]
    pub namespaces: Namespaces,
}

/// An extra process started inside a running container (`docker exec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// Absolute working directory inside the container; "" means "/".
    /// Unlike [`ProcessSpec::cwd`] it is NOT created (Docker fails the exec).
    pub cwd: String,
    pub user: String,
    /// The container's `GroupAdd` (see [`ProcessSpec::group_add`]).
    #[serde(default)]
    pub group_add: Vec<String>,
    pub tty: bool,
    pub open_stdin: bool,
    /// cgroup directories to join (the container's, so exec'd processes are
    /// limited and accounted with it).
    #[serde(default)]
    pub cgroups: Vec<PathBuf>,
    /// The container's (dockerd gives an exec the container's privileges).
    #[serde(default)]
    pub security: Security,
}

/// What the daemon sends to the re-exec'd init.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum InitRequest {
    /// Create namespaces and run the container's pid 1.
    Run(Box<ProcessSpec>),
    /// Join the namespaces of `pid` and run an extra process there.
    Exec { pid: i32, spec: Box<ExecSpec> },
}
