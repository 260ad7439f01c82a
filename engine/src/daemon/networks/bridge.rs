//! The host's side of the engine's bridge networks: one Linux bridge per
//! network (with the gateway address), and the firewall rules that go with
//! them.
//!
//! Several engines may share a host (the e2e tests start many at once, each
//! with its own data root), next to dockerd. So:
//! - every name the engine makes carries a per-engine tag derived from its
//!   data root: bridges are `ss<tag>-<network id>` (never `docker0` or
//!   `br-*`), firewall chains `SS-<tag>`;
//! - choosing a subnet and bringing up its bridge (which routes it, so the
//!   next engine skips it) happen under a host-wide `flock`;
//! - each engine holds a lock file for its tag while it runs: a bridge whose
//!   tag nobody holds belongs to an engine that died, and is removed with
//!   its rules by the next engine that starts.
//!
//! Firewall: iptables (dockerd's own tool on this host; the nf_tables
//! backend where it uses it), one `iptables-restore --noflush` per change.
//! The engine's filter chain hangs off dockerd's `DOCKER-USER` chain when it
//! exists (the hook dockerd sanctions; its FORWARD policy is DROP), else off
//! FORWARD; its nat chain off POSTROUTING. Removing the engine's rules is
//! deleting its two chains and their jumps.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use shipshape_runtime::netlink::Rtnl;

use super::ipam::Subnet;
use super::Network;

/// Where engines keep their host-wide locks.
const RUN_DIR: &str = "/run/shipshape-net";
/// Prefix of every bridge an engine makes; the tag follows.
const BRIDGE_PREFIX: &str = "ss";
const TAG_LEN: usize = 5;

pub struct Host {
    tag: String,
    /// Held (shared) while this engine runs: tells other engines that the
    /// bridges with this tag are alive.
    _alive: Option<File>,
    rtnl: Mutex<Option<Rtnl>>,
}

/// A short tag for this engine from its data root (FNV-1a, 5 hex digits).
pub fn tag_of(data_root: &Path) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in data_root.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{:05x}", h & 0xfffff)
}

fn flock(f: &File, how: libc::c_int) -> std::io::Result<()> {
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(f.as_raw_fd(), how) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn lock_path(name: &str) -> PathBuf {
    Path::new(RUN_DIR).join(name)
}

/// The host-wide lock around choosing a subnet and creating its bridge.
pub struct HostLock(File);

impl Drop for HostLock {
    fn drop(&mut self) {
        let _ = flock(&self.0, libc::LOCK_UN);
    }
}

pub fn host_lock() -> std::io::Result<HostLock> {
    std::fs::create_dir_all(RUN_DIR)?;
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path("lock"))?;
    flock(&f, libc::LOCK_EX)?;
    Ok(HostLock(f))
}

impl Host {
    pub fn new(data_root: &Path) -> Host {
        let tag = tag_of(data_root);
        let alive = std::fs::create_dir_all(RUN_DIR)
            .and_then(|()| {
                File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(lock_path(&format!("{tag}.alive")))
            })
            .and_then(|f| flock(&f, libc::LOCK_SH).map(|()| f));
        let alive = match alive {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(error = %e, "no liveness lock for this engine's networks");
                None
            }
        };
        Host {
            tag,
            _alive: alive,
            rtnl: Mutex::new(None),
        }
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The bridge name for network `id`: `ss<tag>-<7 hex of id>`, 15
    /// characters (IFNAMSIZ - 1).
    pub fn bridge_name(&self, id: &str) -> String {
        let short = id.get(..7).unwrap_or(id);
        format!("{BRIDGE_PREFIX}{}-{short}", self.tag)
    }

    fn chain(&self) -> String {
        chain_of(&self.tag)
    }

    /// The daemon's one netlink socket (opened on first use, reopened after
    /// an error).
    fn with_rtnl<T>(&self, f: impl FnOnce(&mut Rtnl) -> std::io::Result<T>) -> std::io::Result<T> {
        let mut slot: MutexGuard<'_, Option<Rtnl>> =
            self.rtnl.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(Rtnl::open()?);
        }
        let Some(r) = slot.as_mut() else {
            return Err(std::io::Error::other("no netlink socket"));
        };
        let out = f(r);
        if out.is_err() {
            *slot = None;
        }
        out
    }

    /// Subnets routed on the host (dockerd's and other engines' included).
    pub fn routed_subnets(&self) -> std::io::Result<Vec<Subnet>> {
        let routes = self.with_rtnl(|r| r.routes_v4())?;
        Ok(routes
            .into_iter()
            .filter(|(_, p)| *p > 0)
            .map(|(net, prefix)| Subnet { net, prefix })
            .collect())
    }

    /// Makes the bridge `name` with `gateway/prefix` (and an IPv6
    /// gateway/prefix) and brings it up (all idempotent).
    pub fn ensure_bridge(
        &self,
        name: &str,
        gateway: std::net::Ipv4Addr,
        prefix: u8,
        v6: Option<(std::net::Ipv6Addr, u8)>,
        mtu: u32,
    ) -> std::io::Result<()> {
        self.with_rtnl(|r| {
            let link = match r.link(name)? {
                Some(l) => l,
                None => {
                    match r.add_bridge(name, mtu) {
                        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                        other => other?,
                    }
                    r.link(name)?
                        .ok_or_else(|| std::io::Error::other(format!("bridge {name} vanished")))?
                }
            };
            r.add_addr(link.index, gateway, prefix)?;
            if let Some((gw6, prefix6)) = v6 {
                r.add_addr6(link.index, gw6, prefix6)?;
            }
            r.set_up(link.index)
        })
    }

    /// Plugs veth `v` into a running container (see
    /// `shipshape_runtime::netlink::plug_veth`): `inner` is bound to its
    /// namespace `netns`.
    pub fn plug(
        &self,
        inner: &mut Rtnl,
        netns: std::os::fd::RawFd,
        v: &shipshape_runtime::Veth,
        peer: &str,
        route: bool,
        ipv6_on: &dyn Fn(&str) -> std::io::Result<()>,
    ) -> std::io::Result<bool> {
        self.with_rtnl(|host| {
            shipshape_runtime::netlink::plug_veth(host, inner, netns, v, peer, route, ipv6_on)
        })
    }

    /// Takes each of `names` (a stopped container's veths) off its bridge
    /// now, and deletes them on a thread of their own: a deletion waits
    /// 15-40 ms on the kernel, which a container's exit need not wait for
    /// once nothing reaches the veth.
    pub fn retire_links(&self, names: Vec<String>) {
        for name in &names {
            let unplugged = self.with_rtnl(|r| match r.link(name)? {
                Some(l) => r.unplug(l.index),
                None => Ok(()),
            });
            if let Err(e) = unplugged {
                tracing::warn!(veth = %name, error = %e, "taking a veth off its bridge");
            }
        }
        let spawned = std::thread::Builder::new()
            .name("veth-delete".into())
            .spawn(move || {
                // A socket of its own: the daemon's stays free meanwhile.
                let deleted = Rtnl::open().and_then(|mut r| {
                    for name in &names {
                        if let Some(l) = r.link(name)? {
                            r.del_link(l.index)?;
                        }
                    }
                    Ok(())
                });
                if let Err(e) = deleted {
                    tracing::warn!(error = %e, "deleting a stopped container's veths");
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "starting the thread that deletes veths");
        }
    }

    pub fn delete_link(&self, name: &str) -> std::io::Result<()> {
        self.with_rtnl(|r| match r.link(name)? {
            Some(l) => r.del_link(l.index),
            None => Ok(()),
        })
    }

    /// A link's counters (for stats), if it exists.
    pub fn link_stats(&self, name: &str) -> Option<[u64; 8]> {
        self.with_rtnl(|r| r.link(name))
            .ok()
            .flatten()
            .map(|l| l.stats)
    }

    /// Removes the bridges and rules of engines that are gone (their tag's
    /// lock is free), and this engine's own bridges no network owns.
    pub fn reap(&self, owned: &BTreeSet<String>) {
        let links = match self.with_rtnl(|r| r.links()) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "listing links");
                return;
            }
        };
        let mut dead_tags = BTreeSet::new();
        for l in links {
            if l.kind != "bridge" {
                continue;
            }
            let Some(tag) = engine_tag(&l.name) else {
                continue;
            };
            let remove = if tag == self.tag {
                !owned.contains(&l.name)
            } else if dead_tags.contains(tag) || tag_is_dead(tag) {
                dead_tags.insert(tag.to_string());
                true
            } else {
                false
            };
            if remove {
                tracing::info!(bridge = %l.name, "removing a leftover bridge");
                if let Err(e) = self.with_rtnl(|r| r.del_link(l.index)) {
                    tracing::warn!(bridge = %l.name, error = %e, "removing a leftover bridge");
                }
            }
        }
        for tag in dead_tags {
            remove_firewall(&tag);
            let _ = std::fs::remove_file(lock_path(&format!("{tag}.alive")));
        }
    }

    /// Rewrites this engine's firewall chains for `nets` (its bridge
    /// networks), and hooks them in.
    pub fn sync_firewall(&self, nets: &[Network]) -> std::io::Result<()> {
        let chain = self.chain();
        // In this order: traffic within a bridge (icc), replies, then no
        // new connection into a bridge from anywhere else (other networks,
        // the engine's or dockerd's), none from a bridge to another bridge,
        // and the rest out (unless internal).
        let bridges: Vec<&Network> = nets
            .iter()
            .filter(|n| n.driver == "bridge" && !n.bridge.is_empty())
            .collect();
        let mut filter = String::new();
        let mut nat = String::new();
        for n in &bridges {
            let br = &n.bridge;
            let icc = n.option_bool("com.docker.network.bridge.enable_icc", true);
            filter.push_str(&format!(
                "-A {chain} -i {br} -o {br} -j {}\n",
                if icc { "ACCEPT" } else { "DROP" }
            ));
            filter.push_str(&format!(
                "-A {chain} -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
            ));
        }
        // dockerd's bridges are docker0 and br-<id>; where dockerd is not
        // there (no DOCKER-USER chain), a br-* interface is the host's own
        // (OpenWrt's br-lan, say), which containers may reach as on dockerd.
        let dockerd = iptables(&["-t", "filter", "-n", "-L", "DOCKER-USER"]).is_ok();
        let engines = format!("{BRIDGE_PREFIX}+");
        let others: &[&str] = if dockerd {
            &[&engines, "docker0", "br-+"]
        } else {
            &[&engines]
        };
        for n in &bridges {
            let br = &n.bridge;
            filter.push_str(&format!("-A {chain} -o {br} -j DROP\n"));
            for other in others {
                filter.push_str(&format!("-A {chain} -i {br} -o {other} -j DROP\n"));
            }
        }
        for n in &bridges {
            let br = &n.bridge;
            let masq = n.option_bool("com.docker.network.bridge.enable_ip_masquerade", true);
            filter.push_str(&format!(
                "-A {chain} -i {br} -j {}\n",
                if n.internal { "DROP" } else { "ACCEPT" }
            ));
            if masq && !n.internal {
                if let Some(s) = n.subnet() {
                    nat.push_str(&format!("-A {chain} -s {s} ! -o {br} -j MASQUERADE\n"));
                }
            }
        }
        let input = format!(
            "*filter\n:{chain} - [0:0]\n{filter}-A {chain} -j RETURN\nCOMMIT\n*nat\n:{chain} - [0:0]\n{nat}-A {chain} -j RETURN\nCOMMIT\n"
        );
        restore(&input)?;
        let hook = if dockerd { "DOCKER-USER" } else { "FORWARD" };
        for (table, parent) in [("filter", hook), ("nat", "POSTROUTING")] {
            if iptables(&["-t", table, "-C", parent, "-j", &chain]).is_err() {
                iptables(&["-t", table, "-I", parent, "1", "-j", &chain])?;
            }
        }
        // Bridged containers need forwarding (dockerd turns it on too).
        if std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").is_ok_and(|s| s.trim() != "1") {
            let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1\n");
        }
        Ok(())
    }

    /// Deletes every bridge of `nets` and this engine's rules (engine stop).
    pub fn teardown(&self, nets: &[Network]) {
        for n in nets.iter().filter(|n| !n.bridge.is_empty()) {
            if let Err(e) = self.delete_link(&n.bridge) {
                tracing::warn!(bridge = %n.bridge, error = %e, "removing bridge");
            }
        }
        remove_firewall(&self.tag);
    }
}

fn chain_of(tag: &str) -> String {
    format!("SS-{tag}")
}

/// The tag of an engine bridge name (`ss<tag>-...`).
fn engine_tag(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(BRIDGE_PREFIX)?;
    let tag = rest.get(..TAG_LEN)?;
    (rest.as_bytes().get(TAG_LEN) == Some(&b'-') && tag.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(tag)
}

/// True when no engine holds `tag`'s liveness lock.
fn tag_is_dead(tag: &str) -> bool {
    let Ok(f) = File::options()
        .write(true)
        .open(lock_path(&format!("{tag}.alive")))
    else {
        // No lock file at all: made before liveness locks, or its engine is
        // gone and the file was removed.
        return true;
    };
    // SAFETY: flock on an fd we own.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

fn remove_firewall(tag: &str) {
    let chain = chain_of(tag);
    for (table, parents) in [
        ("filter", &["DOCKER-USER", "FORWARD"][..]),
        ("nat", &["POSTROUTING"][..]),
    ] {
        for parent in parents {
            while iptables(&["-t", table, "-D", parent, "-j", &chain]).is_ok() {}
        }
        let _ = iptables(&["-t", table, "-F", &chain]);
        let _ = iptables(&["-t", table, "-X", &chain]);
    }
}

fn iptables(args: &[&str]) -> std::io::Result<()> {
    let mut cmd = Command::new("iptables");
    cmd.arg("-w").args(args);
    run(&mut cmd, None)
}

fn restore(input: &str) -> std::io::Result<()> {
    let mut cmd = Command::new("iptables-restore");
    cmd.args(["-w", "--noflush"]);
    run(&mut cmd, Some(input))
}

/// Runs a firewall tool through the supervisor (which reaps every child of
/// the engine), feeding it `input`; its stderr becomes the error.
fn run(cmd: &mut Command, input: Option<&str>) -> std::io::Result<()> {
    use std::io::Read;
    let sup = shipshape_runtime::Supervisor::start()?;
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut child = sup.spawn_command(cmd)?;
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        let _ = stdin.write_all(input.as_bytes());
    }
    let mut err = String::new();
    if let Some(mut p) = child.stderr.take() {
        let _ = p.read_to_string(&mut err);
    }
    let status = sup.wait(child.id() as i32);
    if status == shipshape_runtime::ExitStatus::Exited(0) {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{:?}: {}",
            cmd.get_program(),
            err.trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_ifnamsiz_and_carry_the_tag() {
        let tag = tag_of(Path::new("/tmp/x"));
        assert_eq!(tag.len(), TAG_LEN);
        let name = format!("{BRIDGE_PREFIX}{tag}-abcdef1");
        assert_eq!(name.len(), 15);
        assert_eq!(engine_tag(&name), Some(tag.as_str()));
        assert_eq!(engine_tag("docker0"), None);
        assert_eq!(engine_tag("br-0123456789ab"), None);
        assert_ne!(tag_of(Path::new("/tmp/y")), tag);
    }
}
