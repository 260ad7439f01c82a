//! What legacy links (`HostConfig.Links` on the default bridge) give the
//! linking container at start: environment variables and /etc/hosts lines
//! (harness `network/legacy-links`). Their bookkeeping (names, removal) is
//! `containers::links`.
//!
//! As dockerd 20.10.24 does it: only a container on the default bridge
//! gets them; each target must be running ("Cannot link to a non running
//! container: /<target> AS /<container>/<alias>", 500) and on the default
//! bridge. For alias A (upper case, `-` as `_`): `A_NAME`, per exposed
//! port `A_PORT_<p>_<PROTO>` and its `_ADDR`, `_PORT`, `_PROTO`, `A_PORT`
//! for the first port, `_START`/`_END`/`_PORT_START`/`_PORT_END` on the
//! first port of a run of consecutive ones, and `A_ENV_<k>` for the
//! target's `Config.Env` but HOME and PATH. The hosts line is
//! `<ip>\t<alias> <target hostname>[ <target name>]`.
//!
//! Later, as dockerd 20.10.24 keeps them:
//! - an exec in the linking container gets the variables as they are when
//!   the exec is created (the target's address now), and creating one
//!   while a target is not running fails with the start's 500;
//! - when a target starts again (with a new address), each running
//!   container linking it has the address of its hosts lines for the
//!   link's alias rewritten ([`update_parents`]); its main process keeps
//!   the variables it started with.

use std::net::Ipv4Addr;

use serde_json::Value;

use crate::daemon::containers::record::Record;
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// One resolved link of a container being started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// "/<container>/<alias>", as dockerd names the link.
    pub name: String,
    pub ip: Ipv4Addr,
    /// The target's `Config.Env`.
    pub env: Vec<String>,
    /// The target's exposed ports, as `Config.ExposedPorts` keys.
    pub ports: Vec<String>,
    pub hostname: String,
    /// The target's name, without its leading '/'.
    pub target: String,
}

impl Link {
    fn alias(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }
}

fn on_default_bridge(rec: &Record) -> bool {
    matches!(
        rec.host_config.network_mode.as_str(),
        "" | "default" | "bridge"
    )
}

/// A record's legacy links as stored, "/<target>:/<container>/<alias>",
/// split at the colon.
pub fn stored(rec: &Record) -> impl Iterator<Item = (&str, &str)> {
    rec.host_config_raw
        .get("Links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|l| l.split_once(':'))
}

/// The links of `rec` (stored as "/<target>:/<container>/<alias>"), with
/// their running targets; dockerd's error for a target that is not
/// running. None apply off the default bridge.
pub fn resolve(d: &Daemon, rec: &Record) -> Result<Vec<Link>, EngineError> {
    if !on_default_bridge(rec) {
        return Ok(Vec::new());
    }
    let entries: Vec<(String, String)> = stored(rec)
        .map(|(t, n)| (t.to_string(), n.to_string()))
        .collect();
    let mut out = Vec::new();
    for (target, name) in entries {
        let not_running = || {
            EngineError::System(format!(
                "Cannot link to a non running container: {target} AS {name}"
            ))
        };
        let t = d.container(&target).map_err(|_| not_running())?;
        if !t.is_running() {
            return Err(not_running());
        }
        let ip = super::endpoint::endpoints_of(d, &t.id)
            .into_iter()
            .find(|(net, _, _)| net == "bridge")
            .map(|(_, _, e)| e.ip)
            .ok_or_else(|| {
                EngineError::System(format!(
                    "container {} not attached to default bridge network",
                    t.id
                ))
            })?;
        let snap = t.snapshot();
        out.push(Link {
            name,
            ip,
            env: snap.config.env.clone().unwrap_or_default(),
            ports: snap
                .config
                .exposed_ports
                .as_ref()
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default(),
            hostname: snap.config.hostname.clone(),
            target: snap.name.trim_start_matches('/').to_string(),
        });
    }
    Ok(out)
}

/// (number, protocol) of an `ExposedPorts` key ("80/tcp", "53/udp", "80").
fn port(key: &str) -> Option<(u16, String)> {
    let (p, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    Some((p.parse().ok()?, proto.to_ascii_lowercase()))
}

/// One end of a run of consecutive ports: number and protocol.
type PortEnd<'a> = (u16, &'a str);

/// The variables one link gives, in dockerd's order.
pub fn env(link: &Link) -> Vec<String> {
    let alias = link.alias().to_uppercase().replace('-', "_");
    let ip = link.ip;
    let mut ports: Vec<(u16, String)> = link.ports.iter().filter_map(|k| port(k)).collect();
    // By number; at the same number tcp first.
    ports.sort_by(|a, b| a.0.cmp(&b.0).then((b.1 == "tcp").cmp(&(a.1 == "tcp"))));
    let mut out = Vec::new();
    let mut range: Option<(PortEnd, PortEnd)> = None;
    for (i, (p, proto)) in ports.iter().enumerate() {
        let (p, proto) = (*p, proto.as_str());
        if i == 0 {
            out.push(format!("{alias}_PORT={proto}://{ip}:{p}"));
        }
        let (start, end) = *range.get_or_insert(((p, proto), (p, proto)));
        let prefix = format!("{alias}_PORT_{p}_{}", proto.to_uppercase());
        out.push(format!("{prefix}={proto}://{ip}:{p}"));
        out.push(format!("{prefix}_ADDR={ip}"));
        out.push(format!("{prefix}_PORT={p}"));
        out.push(format!("{prefix}_PROTO={proto}"));
        let mut end = end;
        if u32::from(p) == u32::from(end.0) + 1 && proto.eq_ignore_ascii_case(start.1) {
            end = (p, proto);
            range = Some((start, end));
            if i < ports.len() - 1 {
                continue;
            }
        }
        if end != start {
            let prefix = format!("{alias}_PORT_{}_{}", start.0, start.1.to_uppercase());
            out.push(format!("{prefix}_START={}://{ip}:{}", start.1, start.0));
            out.push(format!("{prefix}_END={}://{ip}:{}", end.1, end.0));
            out.push(format!("{prefix}_PORT_START={}", start.0));
            out.push(format!("{prefix}_PORT_END={}", end.0));
        }
        range = Some(((p, proto), (p, proto)));
    }
    out.push(format!("{alias}_NAME={}", link.name));
    for e in &link.env {
        let Some((k, v)) = e.split_once('=') else {
            continue;
        };
        // dockerd leaves out what every image build sets.
        if k != "HOME" && k != "PATH" {
            out.push(format!("{alias}_ENV_{k}={v}"));
        }
    }
    out
}

/// After target `c` started on the default bridge: every running
/// container that links it gets its new address in the /etc/hosts lines of
/// the link's alias (dockerd's parent update).
pub fn update_parents(d: &Daemon, c: &crate::daemon::Container) {
    let Some(ip) = super::endpoint::endpoints_of(d, &c.id)
        .into_iter()
        .find(|(net, _, _)| net == "bridge")
        .map(|(_, _, e)| e.ip)
    else {
        return;
    };
    let target = c.name();
    for parent in d.all_containers() {
        if parent.id == c.id || !parent.is_running() {
            continue;
        }
        let aliases: Vec<String> = stored(&parent.record())
            .filter(|(t, _)| *t == target)
            .map(|(_, n)| n.rsplit('/').next().unwrap_or(n).to_string())
            .collect();
        if aliases.is_empty() {
            continue;
        }
        let edited = crate::daemon::containers::init_layer::edit_hosts(parent.dir(), |lines| {
            for alias in &aliases {
                for line in lines.iter_mut() {
                    if let Some(new) = readdress(line, alias, ip) {
                        *line = new;
                    }
                }
            }
        });
        if let Err(e) = edited {
            tracing::warn!(id = %parent.id, error = %e, "updating a linking container's /etc/hosts");
        }
    }
}

/// `line` with its address replaced by `ip` when its names start with
/// `name` (followed by blank, '.' or the line's end), as dockerd's
/// etchosts.Update matches `(\S*)(\t<name>)(\s|\.)`; None otherwise.
fn readdress(line: &str, name: &str, ip: Ipv4Addr) -> Option<String> {
    let (addr, names) = line.split_once('\t')?;
    let after = names.strip_prefix(name)?;
    if !(after.is_empty() || after.starts_with(|ch: char| ch.is_whitespace() || ch == '.')) {
        return None;
    }
    // `\S*` takes only the non-blank run just before the tab.
    let keep = addr.len() - addr.trim_end_matches(|ch: char| !ch.is_whitespace()).len();
    let lead = &addr[..addr.len() - keep];
    Some(format!("{lead}{ip}\t{names}"))
}

/// The /etc/hosts lines of `links`.
pub fn hosts_lines(links: &[Link]) -> String {
    links
        .iter()
        .map(|l| {
            let alias = l.alias();
            let mut names = format!("{alias} {}", l.hostname);
            if alias != l.target {
                names.push(' ');
                names.push_str(&l.target);
            }
            format!("{}\t{names}\n", l.ip)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(ports: &[&str]) -> Link {
        Link {
            name: "/app/my-db".into(),
            ip: Ipv4Addr::new(172, 17, 0, 3),
            env: vec!["FOO=bar".into(), "PATH=/bin".into(), "X=a=b".into()],
            ports: ports.iter().map(|s| s.to_string()).collect(),
            hostname: "b2f12cb3ba00".into(),
            target: "db".into(),
        }
    }

    // dockerd 20.10.24 with `--expose 7000-7002 --expose 53 --expose
    // 53/udp`, linked as d2 (recorded in the harness's network_identity).
    #[test]
    fn ports_sort_tcp_first_and_runs_get_their_range() {
        let env = env(&link(&[
            "53/udp", "7001/tcp", "53/tcp", "7000/tcp", "7002/tcp",
        ]));
        let has = |s: &str| env.iter().any(|e| e == s);
        assert_eq!(env[0], "MY_DB_PORT=tcp://172.17.0.3:53");
        assert!(has("MY_DB_PORT_53_UDP_PROTO=udp"));
        assert!(has("MY_DB_PORT_7000_TCP_START=tcp://172.17.0.3:7000"));
        assert!(has("MY_DB_PORT_7000_TCP_END=tcp://172.17.0.3:7002"));
        assert!(has("MY_DB_PORT_7000_TCP_PORT_END=7002"));
        assert!(!env.iter().any(|e| e.starts_with("MY_DB_PORT_53_TCP_START")));
        assert!(has("MY_DB_NAME=/app/my-db"));
        assert!(has("MY_DB_ENV_X=a=b"));
        assert!(!env.iter().any(|e| e.starts_with("MY_DB_ENV_PATH")));
    }

    #[test]
    fn a_restarted_target_readdresses_the_alias_lines() {
        let ip = Ipv4Addr::new(172, 17, 0, 4);
        // dockerd 20.10.24: "172.17.0.2\tdb a5c77bdfa066 net15t" became
        // "172.17.0.4\tdb a5c77bdfa066 net15t" when net15t came back.
        assert_eq!(
            readdress("172.17.0.2\tdb a5c77bdfa066 net15t", "db", ip).as_deref(),
            Some("172.17.0.4\tdb a5c77bdfa066 net15t")
        );
        assert_eq!(
            readdress("172.17.0.2\tdb", "db", ip).as_deref(),
            Some("172.17.0.4\tdb")
        );
        assert_eq!(
            readdress("172.17.0.2\tdb.lan", "db", ip).as_deref(),
            Some("172.17.0.4\tdb.lan")
        );
        for other in [
            "172.17.0.2\tdbx host",
            "172.17.0.2\tx db",
            "127.0.0.1\tlocalhost",
        ] {
            assert_eq!(readdress(other, "db", ip), None, "{other}");
        }
    }

    #[test]
    fn hosts_name_the_alias_hostname_and_target() {
        assert_eq!(
            hosts_lines(&[link(&[])]),
            "172.17.0.3\tmy-db b2f12cb3ba00 db\n"
        );
        let mut same = link(&[]);
        same.name = "/app/db".into();
        assert_eq!(hosts_lines(&[same]), "172.17.0.3\tdb b2f12cb3ba00\n");
    }
}
