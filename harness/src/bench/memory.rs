//! Which processes serve an endpoint, and how much memory they hold. A unix
//! socket's listener is found through /proc/net/unix (socket inode) and the
//! /proc/PID/fd links; for dockerd, containerd and the per-container shims
//! count too, since they are the daemon's cost of running containers.

use std::fs;
use std::path::Path;

/// The pid listening on the unix socket `path`, if it is on this machine.
pub fn listener_pid(path: &Path) -> Option<i32> {
    let want = path.to_str()?;
    let table = fs::read_to_string("/proc/net/unix").ok()?;
    // Listening sockets have the socket path in the last column and state 01.
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() >= 8 && cols[7] == want).then(|| cols[6].to_string())
        })
        .collect();
    if inodes.is_empty() {
        return None;
    }
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = fs::read_link(fd.path()) {
                let l = link.to_string_lossy();
                if inodes.iter().any(|i| l == format!("socket:[{i}]")) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

fn comm(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Resident memory of one process, in bytes.
pub fn rss(pid: i32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix("VmRSS:")
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    })
}

/// The daemon and its helper processes: for dockerd, containerd and every
/// containerd shim; for anything else, the listener alone.
pub fn daemon_pids(listener: i32) -> Vec<i32> {
    let mut pids = vec![listener];
    if comm(listener) == "dockerd" {
        if let Ok(dir) = fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let c = comm(pid);
                if pid != listener && (c == "containerd" || c.starts_with("containerd-shim")) {
                    pids.push(pid);
                }
            }
        }
    }
    pids
}

/// Sum of RSS over the daemon's processes, in bytes.
pub fn daemon_rss(listener: i32) -> u64 {
    daemon_pids(listener).into_iter().filter_map(rss).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_our_own_listener_and_rss() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s.sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert_eq!(listener_pid(&sock), Some(std::process::id() as i32));
        assert!(rss(std::process::id() as i32).unwrap() > 0);
        assert_eq!(listener_pid(&dir.path().join("none.sock")), None);
    }
}
