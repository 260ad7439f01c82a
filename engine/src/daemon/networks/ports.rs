//! Published ports (`-p`, `-P`): a userland proxy inside the engine. Each
//! host port is a tokio listener that forwards to the container's address;
//! no process per port, and it works for 127.0.0.1 too (DNAT to a bridge
//! from loopback needs route_localnet). Listeners are bound before the
//! container starts, so a port in use fails the start with dockerd's error
//! and nothing half made.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, PoisonError, RwLock};

use serde_json::{json, Value};

use crate::daemon::containers::record::Record;
use crate::errdefs::EngineError;

/// One published port as inspect shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// "80/tcp".
    pub key: String,
    pub container_port: u16,
    pub proto: Proto,
    pub host_ip: IpAddr,
    pub host_port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A container's live forwards: dropping it stops them.
pub struct Published {
    pub mappings: Vec<Mapping>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The container address new connections go to. It moves when the
    /// network it is on is disconnected and another remains, as dockerd
    /// keeps a published port working through the container's other
    /// networks.
    target: Arc<RwLock<Ipv4Addr>>,
}

impl Published {
    fn new(target: Ipv4Addr) -> Self {
        Published {
            mappings: Vec::new(),
            tasks: Vec::new(),
            target: Arc::new(RwLock::new(target)),
        }
    }

    /// Sends new connections to `to` if they went to `from`; whether they
    /// did.
    pub fn retarget(&self, from: Ipv4Addr, to: Ipv4Addr) -> bool {
        let mut t = self.target.write().unwrap_or_else(PoisonError::into_inner);
        let moved = *t == from;
        if moved {
            *t = to;
        }
        moved
    }
}

fn current(target: &RwLock<Ipv4Addr>) -> Ipv4Addr {
    *target.read().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for Published {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn parse_key(key: &str) -> Option<(u16, Proto)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = match proto {
        "tcp" | "" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return None,
    };
    Some((port.parse().ok()?, proto))
}

/// The host ports a binding may take: `HostPort` "" (any port of the
/// ephemeral range), "N", or "A-B" (the first free of those).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostPorts {
    Ephemeral,
    Range(u16, u16),
}

/// A port number as Go's `strconv.ParseUint(s, 10, 16)` reads it: digits
/// only.
fn go_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// "N" or "A-B" with A <= B, as Go's `nat.ParsePortRange` reads it.
fn port_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        Some((a, b)) => go_port(a).zip(go_port(b)).filter(|(a, b)| a <= b),
        None => go_port(s).map(|p| (p, p)),
    }
}

/// Create's check of `PortBindings`, as dockerd's `validateHostConfig`:
/// each key's port is a number, each `HostPort` empty, a number or a
/// range (a `/proto` suffix aside).
pub fn check_bindings(host_raw: &Value) -> Result<(), EngineError> {
    let Some(bindings) = host_raw.get("PortBindings").and_then(Value::as_object) else {
        return Ok(());
    };
    // Go's %q; Rust's Debug quotes the same for what a port may hold.
    let invalid =
        |s: &str| EngineError::InvalidParameter(format!("invalid port specification: {s:?}"));
    for (key, list) in bindings {
        let port = key.split_once('/').map_or(key.as_str(), |(p, _)| p);
        if !port.is_empty() && go_port(port).is_none() {
            return Err(invalid(port));
        }
        for hb in list.as_array().into_iter().flatten() {
            let hp = hb.get("HostPort").and_then(Value::as_str).unwrap_or("");
            let range = hp.split_once('/').map_or(hp, |(p, _)| p);
            if !range.is_empty() && port_range(range).is_none() {
                return Err(invalid(hp));
            }
        }
    }
    Ok(())
}

fn host_ports(s: &str) -> HostPorts {
    match port_range(s) {
        Some((a, b)) if a != 0 && a <= b => HostPorts::Range(a, b),
        // Create refuses the rest with dockerd's "invalid port
        // specification"; a record from before that check gets any port.
        _ => HostPorts::Ephemeral,
    }
}

/// What the container asks for: (key, container port, proto, host IP
/// ("" = all), host ports).
fn requested(rec: &Record) -> Vec<(String, u16, Proto, String, HostPorts)> {
    let mut out = Vec::new();
    // A port with no binding of its own gets an ephemeral one on every address.
    let any = |key: &String, port, proto| {
        (
            key.clone(),
            port,
            proto,
            String::new(),
            HostPorts::Ephemeral,
        )
    };
    let bindings = rec
        .host_config_raw
        .get("PortBindings")
        .and_then(Value::as_object);
    if let Some(b) = bindings {
        for (key, list) in b {
            let Some((port, proto)) = parse_key(key) else {
                continue;
            };
            for hb in list.as_array().into_iter().flatten() {
                let ip = hb.get("HostIp").and_then(Value::as_str).unwrap_or("");
                let hp = host_ports(hb.get("HostPort").and_then(Value::as_str).unwrap_or(""));
                out.push((key.clone(), port, proto, ip.to_string(), hp));
            }
            if list.as_array().is_none_or(Vec::is_empty) {
                out.push(any(key, port, proto));
            }
        }
    }
    let publish_all = rec
        .host_config_raw
        .get("PublishAllPorts")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if publish_all {
        if let Some(exposed) = rec.config.exposed_ports.as_ref().and_then(Value::as_object) {
            for key in exposed.keys() {
                if out.iter().any(|o| &o.0 == key) {
                    continue;
                }
                if let Some((port, proto)) = parse_key(key) {
                    out.push(any(key, port, proto));
                }
            }
        }
    }
    out
}

fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// How often dockerd's bridge driver asks for another ephemeral port when
/// the one it got is taken on the host.
const MAX_ATTEMPTS: usize = 10;

/// One range of host ports for one protocol and host address: what
/// dockerd's port allocator keeps its place in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    proto: Proto,
    ip: IpAddr,
    first: u16,
    last: u16,
}

/// The last port handed out from each slot.
static LAST_GIVEN: std::sync::Mutex<BTreeMap<Slot, u16>> = std::sync::Mutex::new(BTreeMap::new());

impl Slot {
    /// The port after the last one handed out from this slot, wrapping
    /// within it; the first time, its first port.
    fn next(self) -> u16 {
        let mut given = LAST_GIVEN.lock().unwrap_or_else(PoisonError::into_inner);
        let next = match given.get(&self) {
            Some(&p) if p >= self.first && p < self.last => p + 1,
            _ => self.first,
        };
        given.insert(self, next);
        next
    }
}

/// Binds port `p` on each of `ips` (all addresses are 0.0.0.0 and ::; a
/// host without IPv6 is served on IPv4 alone). The address, port and error
/// of the first bind that failed.
fn bind_all(
    proto: Proto,
    ips: &[IpAddr],
    p: u16,
) -> Result<Vec<(IpAddr, Bound)>, (IpAddr, u16, std::io::Error)> {
    let mut got = Vec::new();
    for ip in ips {
        match bind(proto, SocketAddr::new(*ip, p)) {
            Ok(b) => got.push((*ip, b)),
            Err(e)
                if ip.is_ipv6()
                    && !got.is_empty()
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT)
                    ) => {}
            Err(e) => return Err((*ip, p, e)),
        }
    }
    Ok(got)
}

enum Bound {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

fn bind(proto: Proto, addr: SocketAddr) -> std::io::Result<Bound> {
    use socket2::{Domain, Socket, Type};
    let (domain, ty) = (
        Domain::for_address(addr),
        match proto {
            Proto::Tcp => Type::STREAM,
            Proto::Udp => Type::DGRAM,
        },
    );
    let s = Socket::new(domain, ty, None)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    if proto == Proto::Tcp {
        s.set_reuse_address(true)?;
    }
    s.bind(&addr.into())?;
    Ok(match proto {
        Proto::Tcp => {
            s.listen(1024)?;
            Bound::Tcp(s.into())
        }
        Proto::Udp => Bound::Udp(s.into()),
    })
}

/// Binds every published port of `rec` and forwards it to `target`. Fails
/// as dockerd does when a port is taken (`endpoint` names the endpoint in
/// the message); nothing stays bound then.
pub fn publish(rec: &Record, target: Ipv4Addr, endpoint: &str) -> Result<Published, EngineError> {
    let mut bound: Vec<(Mapping, Bound)> = Vec::new();
    let (lo, hi) = ephemeral_range();
    let name = rec.name.trim_start_matches('/');
    for (key, port, proto, ip, host_ports) in requested(rec) {
        let ips: Vec<IpAddr> = if ip.is_empty() {
            vec![Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()]
        } else {
            match ip.parse() {
                Ok(ip) => vec![ip],
                Err(_) => {
                    return Err(EngineError::InvalidParameter(format!(
                        "invalid IP address: {ip}"
                    )))
                }
            }
        };
        let (first, last) = match host_ports {
            HostPorts::Ephemeral => (lo, hi),
            HostPorts::Range(a, b) => (a, b),
        };
        // dockerd's allocator hands out the port after the last one it
        // gave for this address, protocol and range (a released port is
        // not reused until the range wraps around). When the port is taken
        // on the host, its bridge driver tries again with the next one, up
        // to ten times, for the ephemeral range only: a port or range the
        // client named fails at once.
        let slot = Slot {
            proto,
            ip: ips[0],
            first,
            last,
        };
        let attempts = if host_ports == HostPorts::Ephemeral {
            MAX_ATTEMPTS
        } else {
            1
        };
        let mut failure = None;
        for _ in 0..attempts {
            let p = slot.next();
            match bind_all(proto, &ips, p) {
                Ok(got) => {
                    for (ip, b) in got {
                        bound.push((mapping(&key, port, proto, ip, p), b));
                    }
                    failure = None;
                    break;
                }
                Err(e) => failure = Some(e),
            }
        }
        if let Some((ip, p, e)) = failure {
            let fam = if ip.is_ipv6() { "6" } else { "4" };
            let shown = if ip.is_ipv6() {
                format!("[{ip}]:{p}")
            } else {
                format!("{ip}:{p}")
            };
            let why = if e.raw_os_error() == Some(libc::EADDRINUSE) {
                "address already in use".to_string()
            } else {
                e.to_string()
            };
            return Err(EngineError::System(format!(
                "driver failed programming external connectivity on endpoint {name} ({endpoint}): Error starting userland proxy: listen {}{fam} {shown}: bind: {why}",
                proto.as_str()
            )));
        }
    }
    let mut out = Published::new(target);
    for (m, b) in bound {
        let to = (out.target.clone(), m.container_port);
        let task = match b {
            Bound::Tcp(l) => {
                l.set_nonblocking(true)?;
                let l = tokio::net::TcpListener::from_std(l)?;
                tokio::spawn(forward_tcp(l, to))
            }
            Bound::Udp(s) => {
                s.set_nonblocking(true)?;
                let s = tokio::net::UdpSocket::from_std(s)?;
                tokio::spawn(forward_udp(s, to))
            }
        };
        out.tasks.push(task);
        out.mappings.push(m);
    }
    Ok(out)
}

fn mapping(key: &str, port: u16, proto: Proto, ip: IpAddr, hp: u16) -> Mapping {
    Mapping {
        key: key.to_string(),
        container_port: port,
        proto,
        host_ip: ip,
        host_port: hp,
    }
}

/// Bytes buffered per direction of a proxied TCP connection.
const PROXY_BUFFER: usize = 64 << 10;

/// Where a forward sends: the container's current address, and its port.
type Target = (Arc<RwLock<Ipv4Addr>>, u16);

async fn forward_tcp(l: tokio::net::TcpListener, (target, port): Target) {
    loop {
        let Ok((mut inbound, _)) = l.accept().await else {
            continue;
        };
        let to = SocketAddr::new(current(&target).into(), port);
        tokio::spawn(async move {
            let _ = inbound.set_nodelay(true);
            let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await else {
                return;
            };
            let _ = outbound.set_nodelay(true);
            // 64 KiB each way (tokio's default is 8 KiB): a quarter of the
            // wakeups and syscalls per byte on bulk transfers.
            let _ = tokio::io::copy_bidirectional_with_sizes(
                &mut inbound,
                &mut outbound,
                PROXY_BUFFER,
                PROXY_BUFFER,
            )
            .await;
        });
    }
}

/// One upstream socket per client address; replies go back to the client.
async fn forward_udp(s: tokio::net::UdpSocket, (target, port): Target) {
    let s = Arc::new(s);
    let mut peers: BTreeMap<SocketAddr, Arc<tokio::net::UdpSocket>> = BTreeMap::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, from)) = s.recv_from(&mut buf).await else {
            continue;
        };
        let up = match peers.get(&from) {
            Some(u) => u.clone(),
            None => {
                let Ok(u) = tokio::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await else {
                    continue;
                };
                let to = SocketAddr::new(current(&target).into(), port);
                if u.connect(to).await.is_err() {
                    continue;
                }
                let u = Arc::new(u);
                peers.insert(from, u.clone());
                let (back, u2) = (s.clone(), u.clone());
                tokio::spawn(async move {
                    let mut b = vec![0u8; 65536];
                    while let Ok(n) = u2.recv(&mut b).await {
                        if back.send_to(&b[..n], from).await.is_err() {
                            break;
                        }
                    }
                });
                u
            }
        };
        let _ = up.send(&buf[..n]).await;
    }
}

/// inspect's `NetworkSettings.Ports`: every exposed or published port, with
/// its host bindings (null when not published).
pub fn render_ports(rec: &Record, mappings: &[Mapping]) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(exposed) = rec.config.exposed_ports.as_ref().and_then(Value::as_object) {
        for k in exposed.keys() {
            out.insert(k.clone(), Value::Null);
        }
    }
    for m in mappings {
        let entry = out.entry(m.key.clone()).or_insert(Value::Null);
        if !entry.is_array() {
            *entry = json!([]);
        }
        if let Some(a) = entry.as_array_mut() {
            a.push(json!({"HostIp": m.host_ip.to_string(), "HostPort": m.host_port.to_string()}));
        }
    }
    Value::Object(out)
}

/// The list's `Ports`.
pub fn render_list(mappings: &[Mapping]) -> Value {
    let mut v: Vec<Value> = mappings
        .iter()
        .map(|m| {
            json!({"IP": m.host_ip.to_string(), "PrivatePort": m.container_port, "PublicPort": m.host_port, "Type": m.proto.as_str()})
        })
        .collect();
    v.sort_by_key(|x| {
        (
            x["PrivatePort"].as_u64(),
            x["Type"].as_str().map(String::from),
            x["IP"].as_str().map(|s| s.contains(':')),
        )
    });
    Value::Array(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each body's answer as dockerd 20.10.24 gave it to a create with
    /// that `PortBindings` (ok: it went on to the image's missing CMD).
    #[test]
    fn bindings_checked_as_dockerd() {
        let cases = [
            (json!({"abc/tcp": [{"HostPort": "1"}]}), Some("\"abc\"")),
            (json!({"80-81/tcp": [{"HostPort": "1"}]}), Some("\"80-81\"")),
            (
                json!({"80/tcp": [{"HostPort": "70000"}]}),
                Some("\"70000\""),
            ),
            (json!({"80/tcp": [{"HostPort": " 5"}]}), Some("\" 5\"")),
            (json!({"80/tcp": [{"HostPort": "5-"}]}), Some("\"5-\"")),
            (json!({"80/tcp": [{"HostPort": "5-3"}]}), Some("\"5-3\"")),
            (json!({"80/xyz": [{"HostPort": "1"}]}), None),
            (json!({"80/tcp": [{"HostPort": "0"}]}), None),
            (json!({"80/tcp": [{"HostPort": "0-5"}]}), None),
            (json!({"80/tcp": [{"HostIp": "x", "HostPort": "5"}]}), None),
            (json!({"80/tcp": null}), None),
            (json!({"80/tcp": [{"HostPort": "40110-40112"}]}), None),
        ];
        for (bindings, refused) in cases {
            let got = check_bindings(&json!({ "PortBindings": bindings }));
            match (refused, got) {
                (None, Ok(())) => {}
                (Some(q), Err(EngineError::InvalidParameter(m))) => {
                    assert_eq!(m, format!("invalid port specification: {q}"), "{bindings}");
                }
                (want, got) => panic!("{bindings}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn a_slot_goes_on_from_its_last_port_and_wraps() {
        let slot = Slot {
            proto: Proto::Udp,
            ip: Ipv4Addr::new(127, 0, 0, 9).into(),
            first: 40110,
            last: 40112,
        };
        let got: Vec<u16> = (0..5).map(|_| slot.next()).collect();
        assert_eq!(got, [40110, 40111, 40112, 40110, 40111]);
        assert_eq!(host_ports("40110-40112"), HostPorts::Range(40110, 40112));
        assert_eq!(host_ports(""), HostPorts::Ephemeral);
        assert_eq!(host_ports("8080"), HostPorts::Range(8080, 8080));
    }
}
