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

fn parent(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parens.
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The daemon and its helper processes: for dockerd, containerd and every
/// containerd shim; for anything else, the listener and its children that
/// run the listener's own program (the reference engine's warm init, or an
/// init in the middle of starting a container; a container's processes run
/// the container's programs and are not counted, as dockerd's are not).
pub fn daemon_pids(listener: i32) -> Vec<i32> {
    let mut pids = vec![listener];
    if comm(listener) != "dockerd" {
        let exe = |pid: i32| fs::read_link(format!("/proc/{pid}/exe")).ok();
        let Some(own) = exe(listener) else {
            return pids;
        };
        for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid != listener && parent(pid) == Some(listener) && exe(pid).as_ref() == Some(&own) {
                pids.push(pid);
            }
        }
    } else {
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
    fn counts_children_running_the_daemons_program() {
        let me = std::process::id() as i32;
        // A forked child runs this very program: a helper. `sleep` is not.
        // SAFETY: the child only calls async-signal-safe functions and is
        // killed below.
        let helper = unsafe { libc::fork() };
        if helper == 0 {
            loop {
                // SAFETY: pause is async-signal-safe.
                unsafe { libc::pause() };
            }
        }
        assert!(helper > 0);
        let mut other = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let pids = daemon_pids(me);
        // SAFETY: kill and waitpid on our own child.
        unsafe {
            libc::kill(helper, libc::SIGKILL);
            libc::waitpid(helper, std::ptr::null_mut(), 0);
        }
        let _ = other.kill();
        let _ = other.wait();
        assert!(pids.contains(&me) && pids.contains(&helper), "{pids:?}");
        assert!(!pids.contains(&(other.id() as i32)), "{pids:?}");
    }

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
