//! A container's network sandbox as inspect shows it
//! (`NetworkSettings.SandboxID` / `SandboxKey`).
//!
//! dockerd makes a sandbox per start for every container that has a network
//! namespace of its own (bridge, user networks, `none`) or the host's
//! (`host`), and none for `container:<X>` (it shares X's). Its key is a
//! bind-mounted netns file under `/var/run/docker/netns/`; after a stop both
//! values stay as they were, and a new start makes a new sandbox.
//!
//! The engine keeps no netns file of its own: the namespace lives as long as
//! the container's pid 1, so the honest key is `/proc/<pid>/ns/net` (what
//! `nsenter --net=` takes). The id is derived from the container id and the
//! run's start time, so it is stable for one run, new for the next, and
//! survives a stop and a daemon restart without being stored.

use sha2::{Digest, Sha256};

use crate::daemon::containers::record::{Record, ZERO_TIME};

/// `(SandboxID, SandboxKey)`; empty strings where dockerd shows them empty.
pub fn sandbox(r: &Record) -> (String, String) {
    let never_started = r.state.started_at.is_empty() || r.state.started_at == ZERO_TIME;
    if never_started || r.host_config.network_mode.starts_with("container:") {
        return (String::new(), String::new());
    }
    let id = hex::encode(Sha256::digest(
        format!("sandbox:{}:{}", r.id, r.state.started_at).as_bytes(),
    ));
    // A stopped container's namespace is gone with its pid 1, so there is
    // no path to show that still names it.
    let key = if r.state.pid > 0 {
        format!("/proc/{}/ns/net", r.state.pid)
    } else {
        String::new()
    };
    (id, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(mode: &str, started: &str, pid: i32) -> Record {
        let mut r = Record::minimal();
        r.host_config.network_mode = mode.into();
        r.state.started_at = started.into();
        r.state.pid = pid;
        r
    }

    #[test]
    fn shapes_follow_dockerd() {
        assert_eq!(
            sandbox(&record("bridge", ZERO_TIME, 0)),
            (String::new(), String::new())
        );
        let t = "2026-01-01T00:00:00.1Z";
        assert_eq!(
            sandbox(&record("container:x", t, 7)),
            (String::new(), String::new())
        );
        let (id, key) = sandbox(&record("none", t, 7));
        assert_eq!(id.len(), 64);
        assert_eq!(key, "/proc/7/ns/net");
        // Stopped: the id stays, the key names nothing any more.
        assert_eq!(sandbox(&record("none", t, 0)), (id.clone(), String::new()));
        // A new start is a new sandbox.
        let (next, _) = sandbox(&record("none", "2026-01-01T00:00:01.1Z", 8));
        assert_ne!(next, id);
    }
}
