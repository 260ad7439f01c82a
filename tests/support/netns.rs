//! A network namespace of the test's own, joined to the host by a veth
//! pair with a /30 from 198.18.0.0/15 (the benchmarking range, routed
//! nowhere): a server started in it is reached at an address that is not
//! loopback, so dockerd and the engine treat it as a remote host (TLS
//! verified, no plain-HTTP fallback), while the traffic never leaves the
//! machine. Removed (veth included) on drop. Needs root and `ip`.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct TestNetns {
    /// The namespace's name (`ss-test-PID-N`).
    pub name: String,
    /// The host end's address.
    pub host_ip: String,
    /// The namespace end's address: where a server in it listens.
    pub ns_ip: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl TestNetns {
    /// A fresh namespace, or why none could be made (no root, no `ip`).
    pub fn new() -> Result<TestNetns, String> {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let name = format!("ss-test-{pid}-{n}");
        // One /30 per namespace: 198.18.X.Y/30 from the pid and a counter.
        let slot = (pid.wrapping_mul(7).wrapping_add(n) % (2 * 256 * 64)) as usize;
        let (third, fourth) = (slot / 64, (slot % 64) * 4);
        let (second, third) = (18 + third / 256, third % 256);
        let host_ip = format!("198.{second}.{third}.{}", fourth + 1);
        let ns_ip = format!("198.{second}.{third}.{}", fourth + 2);
        let (host_if, ns_if) = (format!("sst{pid}x{n}h"), format!("sst{pid}x{n}n"));
        let (host_if, ns_if) = (last15(&host_if), last15(&ns_if));
        ip(&["netns", "add", &name])?;
        let ns = TestNetns {
            name,
            host_ip,
            ns_ip,
        };
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if, "netns", &ns.name,
        ])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/30", ns.host_ip),
            "dev",
            &host_if,
        ])?;
        ip(&["link", "set", &host_if, "up"])?;
        ip(&[
            "-n",
            &ns.name,
            "addr",
            "add",
            &format!("{}/30", ns.ns_ip),
            "dev",
            &ns_if,
        ])?;
        ip(&["-n", &ns.name, "link", "set", &ns_if, "up"])?;
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// `cmd` as run inside the namespace (`ip netns exec NAME cmd...`).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

/// Interface names are at most 15 bytes: keep the distinctive end.
fn last15(s: &str) -> String {
    s[s.len().saturating_sub(15)..].to_string()
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        // Deleting the namespace destroys its veth end, and so the pair.
        let _ = ip(&["netns", "del", &self.name]);
    }
}
