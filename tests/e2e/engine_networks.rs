//! The real docker CLI against `shipshape-engine`: `docker network ls`,
//! `create`, `inspect`, `connect`, `rm`, `prune`, and real bridges: addresses,
//! isolation, published ports, nothing left behind.

use std::io::Read;

use shipshape_tests::{ok, run, stderr, Engine};

/// This engine's tag: FNV-1a of its data root (see
/// engine/src/daemon/networks/bridge.rs).
pub(crate) fn engine_tag(e: &Engine) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in e.data_root.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{:05x}", h & 0xfffff)
}

/// This engine's firewall rules (`iptables -S` of its chain `SS-<tag>` in
/// `table`), its own header and final RETURN left out.
pub(crate) fn engine_rules(e: &Engine, table: &str) -> Vec<String> {
    let chain = format!("SS-{}", engine_tag(e));
    let o = std::process::Command::new("iptables")
        .args(["-w", "-t", table, "-S", &chain])
        .output()
        .expect("iptables");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.starts_with("-A ") && *l != format!("-A {chain} -j RETURN"))
        .map(String::from)
        .collect()
}

/// This engine's bridges on the host: `ss<tag>-...` links.
pub(crate) fn engine_bridges(e: &Engine) -> Vec<String> {
    let prefix = format!("ss{}-", engine_tag(e));
    let o = std::process::Command::new("ip")
        .args(["-o", "link", "show", "type", "bridge"])
        .output()
        .expect("ip link");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// Runs the probe's tcp-connect on `net` to `ip:7777`: its stdout.
fn connect(e: &Engine, img: &str, net: &str, ip: &str) -> String {
    let o = run(e.docker().args([
        "run",
        "--rm",
        "--network",
        net,
        img,
        "/probe",
        "tcp-connect",
        ip,
        "7777",
        "1500",
    ]));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn bridges_isolate_networks_and_publish_ports() {
    let mut e = Engine::start();
    let img = e.load_fixture();
    ok(e.docker().args(["network", "create", "n1"]));
    ok(e.docker().args(["network", "create", "n2"]));
    let before = engine_bridges(&e);
    assert!(before.len() >= 3, "default bridge, n1 and n2: {before:?}");
    ok(e.docker().args([
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "n1",
        "-p",
        "127.0.0.1::7777",
        &img,
        "/probe",
        "tcp-serve",
        "7777",
        "srv",
    ]));
    let ip = ok(e.docker().args([
        "inspect",
        "--format",
        "{{(index .NetworkSettings.Networks \"n1\").IPAddress}}",
        "srv",
    ]));
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip:?}");
    let mac = ok(e.docker().args([
        "inspect",
        "--format",
        "{{(index .NetworkSettings.Networks \"n1\").MacAddress}}",
        "srv",
    ]));
    let o: Vec<u8> = ip.split('.').map(|x| x.parse().unwrap()).collect();
    assert_eq!(
        mac,
        format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
    );
    // Wait until it listens (same network): reachable.
    let mut got = String::new();
    for _ in 0..50 {
        got = connect(&e, &img, "n1", &ip);
        if got == "got srv" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(got, "got srv");
    assert_eq!(connect(&e, &img, "n2", &ip), "unreachable");
    assert_eq!(connect(&e, &img, "bridge", &ip), "unreachable");
    // The published port, from the host.
    let port = ok(e.docker().args(["port", "srv", "7777/tcp"]));
    let port: u16 = port.rsplit(':').next().unwrap().parse().expect("port");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("published port");
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert_eq!(body, "srv");
    // A taken port fails the start with dockerd's words.
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let tp = taken.local_addr().unwrap().port().to_string();
    let o = run(e.docker().args([
        "run",
        "-d",
        "--name",
        "clash",
        "-p",
        &format!("{tp}:80"),
        &img,
        "/probe",
        "sleep",
        "5",
    ]));
    assert!(
        stderr(&o).contains(&format!(
            "listen tcp4 0.0.0.0:{tp}: bind: address already in use"
        )),
        "{}",
        stderr(&o)
    );
    // Engine stop: no bridge left; they come back at start.
    e.stop();
    let after = engine_bridges(&e);
    for b in &before {
        assert!(!after.contains(b), "{b} left after stop: {after:?}");
    }
    e.spawn();
    let again = engine_bridges(&e);
    for b in &before {
        assert!(again.contains(b), "{b} not back after restart: {again:?}");
    }
    e.stop();
}

#[test]
fn network_create_inspect_connect_rm() {
    let e = Engine::start();
    let ls = ok(e.docker().args([
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ]));
    for want in ["bridge bridge local", "host host local", "none null local"] {
        assert!(ls.lines().any(|l| l == want), "{ls}");
    }
    let id = ok(e
        .docker()
        .args(["network", "create", "--label", "team=a", "appnet"]));
    assert_eq!(id.len(), 64, "{id}");
    let got = ok(e.docker().args([
        "network",
        "inspect",
        "--format",
        "{{.Name}} {{.Driver}} {{.Labels.team}} {{.Id}}",
        "appnet",
    ]));
    assert_eq!(got, format!("appnet bridge a {id}"));
    let o = run(e.docker().args(["network", "create", "appnet"]));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("network with name appnet already exists"),
        "{}",
        stderr(&o)
    );
    let o = run(e.docker().args(["network", "rm", "bridge"]));
    assert!(
        stderr(&o).contains("bridge is a pre-defined network and cannot be removed"),
        "{}",
        stderr(&o)
    );

    // A running container connected to the network is listed in it, and
    // keeps it from being removed.
    let img = e.load_fixture();
    ok(e.docker()
        .args(["run", "-d", "--name", "netc", &img, "/probe", "sleep", "60"]));
    ok(e.docker().args(["network", "connect", "appnet", "netc"]));
    let members = ok(e.docker().args([
        "network",
        "inspect",
        "--format",
        "{{range .Containers}}{{.Name}}{{end}}",
        "appnet",
    ]));
    assert_eq!(members, "netc");
    let o = run(e.docker().args(["network", "rm", "appnet"]));
    assert!(
        stderr(&o).contains("has active endpoints"),
        "{}",
        stderr(&o)
    );
    ok(e.docker().args(["network", "disconnect", "appnet", "netc"]));
    ok(e.docker().args(["rm", "-f", "netc"]));
    assert_eq!(ok(e.docker().args(["network", "rm", "appnet"])), "appnet");
    let o = run(e.docker().args(["network", "inspect", "appnet"]));
    assert!(!o.status.success());

    ok(e.docker().args(["network", "create", "spare"]));
    let pruned = ok(e.docker().args(["network", "prune", "-f"]));
    assert!(pruned.contains("spare"), "{pruned}");
    let ls = ok(e.docker().args(["network", "ls", "-q"]));
    assert_eq!(ls.lines().count(), 3, "{ls}");
}

/// `docker run --mac-address` from a current CLI (API 1.44 and later sends
/// the MAC only in the endpoint's settings) gives the container that MAC,
/// on the default bridge and on a user-defined network.
#[test]
fn run_mac_address_from_a_current_cli() {
    let e = Engine::start();
    let img = e.load_fixture();
    ok(e.docker().args(["network", "create", "macnet"]));
    for (net, mac) in [
        ("default", "02:42:ac:11:00:99"),
        ("macnet", "02:42:0a:0b:0c:0d"),
    ] {
        let out = ok(e.docker().args([
            "run",
            "--rm",
            "--network",
            net,
            "--mac-address",
            mac,
            &img,
            "/probe",
            "read",
            "/sys/class/net/eth0/address",
        ]));
        assert_eq!(out, mac, "eth0 on {net}");
    }
}
