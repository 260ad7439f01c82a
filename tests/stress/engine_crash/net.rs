//! The host's side of the crash test's networks: after each restart, what
//! the engine's records own (a bridge per bridge network, with its
//! gateway's address, and the firewall rules naming them) is there, and
//! nothing else of the engine's is: no bridge no network owns, no veth
//! (no container runs after a restart), no rule naming a bridge that is
//! gone, no TCP or UDP socket of the engine's process (the published-port
//! proxies live in it, and the embedded DNS resolvers in the containers'
//! namespaces).
//!
//! Read with the host's tools (`ip`, `iptables`, `/proc/<pid>/net` and
//! `/proc/<pid>/fd`), not through the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use shipshape_tests::Engine;

/// This engine's tag: FNV-1a of its data root (as
/// engine/src/daemon/networks/bridge.rs makes it).
pub fn engine_tag(e: &Engine) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in e.data_root.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{:05x}", h & 0xfffff)
}

fn output(cmd: &mut Command) -> String {
    let o = cmd.output().expect("running a host tool");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The host's links (`ip -o link`): name -> (kind, master).
fn links() -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for l in output(Command::new("ip").args(["-d", "-o", "link", "show"])).lines() {
        let Some(name) = l.split(": ").nth(1) else {
            continue;
        };
        let name = name.split('@').next().unwrap_or(name).to_string();
        let words: Vec<&str> = l.split_whitespace().collect();
        let after = |key: &str| {
            words
                .iter()
                .position(|w| *w == key)
                .and_then(|i| words.get(i + 1))
                .map(|s| s.to_string())
                .unwrap_or_default()
        };
        let kind = if l.contains(" bridge ") && !l.contains("bridge_slave") {
            "bridge"
        } else if l.contains(" veth ") {
            "veth"
        } else {
            ""
        };
        out.insert(name, (kind.to_string(), after("master")));
    }
    out
}

/// This engine's firewall rules (its chain `SS-<tag>` in `table`).
fn rules(tag: &str, table: &str) -> Vec<String> {
    let chain = format!("SS-{tag}");
    output(Command::new("iptables").args(["-w", "-t", table, "-S", &chain]))
        .lines()
        .filter(|l| l.starts_with("-A "))
        .map(String::from)
        .collect()
}

/// IPv4 addresses of link `name`, as `a.b.c.d/n`.
fn addresses(name: &str) -> Vec<String> {
    output(Command::new("ip").args(["-o", "-4", "addr", "show", "dev", name]))
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.iter()
                .position(|x| *x == "inet")
                .and_then(|i| w.get(i + 1))
                .map(|s| s.to_string())
        })
        .collect()
}

/// The inodes of the sockets process `pid` holds open.
fn socket_inodes(pid: u32) -> BTreeSet<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|f| std::fs::read_link(f.path()).ok())
        .filter_map(|t| {
            t.to_string_lossy()
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .map(String::from)
        })
        .collect()
}

/// The engine's TCP and UDP sockets (any state), as `proto local-address`.
fn inet_sockets(pid: u32) -> Vec<String> {
    let mine = socket_inodes(pid);
    let mut out = Vec::new();
    for proto in ["tcp", "tcp6", "udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{proto}")).unwrap_or_default();
        for l in text.lines().skip(1) {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.get(9).is_some_and(|inode| mine.contains(*inode)) {
                out.push(format!("{proto} {}", w.get(1).unwrap_or(&"?")));
            }
        }
    }
    out
}

/// A network as the engine lists it: its bridge and gateway.
pub struct Owned {
    pub name: String,
    pub bridge: String,
    pub gateway: String,
}

/// The engine's bridge networks from `GET /networks`, with the bridge each
/// one's record names (`ss<tag>-<7 hex of its ID>`, or the default
/// bridge's `com.docker.network.bridge.name`).
pub fn owned(tag: &str, networks: &serde_json::Value) -> Vec<Owned> {
    networks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["Driver"] == "bridge")
        .map(|n| {
            let id = n["Id"].as_str().unwrap_or_default();
            let bridge = n["Options"]["com.docker.network.bridge.name"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| format!("ss{tag}-{}", id.get(..7).unwrap_or(id)));
            let cfg = &n["IPAM"]["Config"][0];
            let prefix = cfg["Subnet"]
                .as_str()
                .and_then(|s| s.split_once('/'))
                .map(|(_, p)| p.to_string())
                .unwrap_or_default();
            Owned {
                name: n["Name"].as_str().unwrap_or_default().to_string(),
                bridge,
                gateway: format!("{}/{prefix}", cfg["Gateway"].as_str().unwrap_or_default()),
            }
        })
        .collect()
}

/// Everything wrong on the host with this engine's networking after a
/// restart (no container running): see the module's comment.
pub fn problems(tag: &str, engine_pid: u32, owned: &[Owned]) -> Vec<String> {
    let mut out = Vec::new();
    let links = links();
    let prefix = format!("ss{tag}-");
    let ours: BTreeSet<&str> = owned.iter().map(|o| o.bridge.as_str()).collect();
    for o in owned {
        match links.get(&o.bridge) {
            Some((kind, _)) if kind == "bridge" => {
                let have = addresses(&o.bridge);
                if have != [o.gateway.clone()] {
                    out.push(format!(
                        "bridge {} of network {} has addresses {have:?}, its record {}",
                        o.bridge, o.name, o.gateway
                    ));
                }
            }
            other => out.push(format!(
                "network {}: its bridge {} is {other:?}",
                o.name, o.bridge
            )),
        }
    }
    for (name, (kind, master)) in &links {
        if kind == "bridge" && name.starts_with(&prefix) && !ours.contains(name.as_str()) {
            out.push(format!("bridge {name} that no network owns"));
        }
        if kind == "veth" && ours.contains(master.as_str()) {
            out.push(format!("veth {name} on {master} with no container running"));
        }
    }
    for table in ["filter", "nat"] {
        for rule in rules(tag, table) {
            let named: Vec<&str> = rule
                .split_whitespace()
                .filter(|w| w.starts_with(&prefix) && !w.ends_with('+'))
                .collect();
            if named.iter().any(|b| !ours.contains(b)) {
                out.push(format!("{table} rule for a bridge that is gone: {rule}"));
            }
        }
    }
    let filter = rules(tag, "filter");
    for o in owned {
        let want = format!("-i {} -o {} -j", o.bridge, o.bridge);
        if !filter.iter().any(|r| r.contains(&want)) {
            out.push(format!(
                "no rule for network {}'s bridge {} in {filter:?}",
                o.name, o.bridge
            ));
        }
    }
    let sockets = inet_sockets(engine_pid);
    if !sockets.is_empty() {
        out.push(format!(
            "the engine holds sockets with no container running (published-port proxies?): {sockets:?}"
        ));
    }
    out
}
