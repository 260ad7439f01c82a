//! The embedded DNS resolver through the real docker CLI: a container on a
//! user-defined network resolves another by name, and names the resolver
//! does not know go to the engine's `--dns-upstream` (a fake upstream on
//! 127.0.0.1, reached from the engine's namespace: nothing leaves the
//! machine). The resolver goes away with the container.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use shipshape_tests::{fd_targets, ok, run, stderr, stdout, Engine};

/// Answers `up.test` A with 192.0.2.7 (TTL 60), every other name NXDOMAIN.
fn fake_upstream() -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind fake upstream");
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let q = &buf[..n];
            if n < 12 {
                continue;
            }
            let mut r = q.to_vec();
            r[2] |= 0x80;
            r[3] = 0x80;
            if q.windows(8).any(|w| w == b"\x02up\x04test") {
                r[7] = 1;
                r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
            } else {
                r[3] |= 3;
            }
            let _ = sock.send_to(&r, peer);
        }
    });
    port
}

/// The engine's sockets (resolver sockets among them).
fn sockets(e: &Engine) -> usize {
    let pid = e.pid().expect("engine running");
    fd_targets(pid)
        .iter()
        .filter(|t| t.contains("socket:"))
        .count()
}

#[test]
fn names_on_a_user_network_and_forwarding_upstream() {
    let port = fake_upstream();
    let upstream = format!("127.0.0.1:{port}");
    let e = Engine::start_with(&["--dns-upstream", &upstream]);
    let img = e.load_fixture();
    ok(e.docker().args(["network", "create", "dnsnet"]));
    ok(e.docker().args([
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "dnsnet",
        "--network-alias",
        "database",
        &img,
        "/probe",
        "sleep",
        "60",
    ]));
    let ip = ok(e.docker().args([
        "inspect",
        "--format",
        "{{.NetworkSettings.Networks.dnsnet.IPAddress}}",
        "db",
    ]));
    let before = sockets(&e);
    let out = ok(e.docker().args([
        "run",
        "--rm",
        "--network",
        "dnsnet",
        &img,
        "/probe",
        "dns-query",
        "db",
        "--",
        "dns-query",
        "database",
        "--",
        "dns-query",
        "db.dnsnet",
        "--",
        "dns-query",
        &ip,
        "--",
        "dns-query",
        "up.test",
    ]));
    assert_eq!(out, format!("{ip}\n{ip}\n{ip}\ndb.dnsnet\n192.0.2.7"));

    // NXDOMAIN from the upstream reaches the container as such.
    let o = run(e.docker().args([
        "run",
        "--rm",
        "--network",
        "dnsnet",
        &img,
        "/probe",
        "dns-query",
        "nothing.test",
    ]));
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(stderr(&o).contains("NXDOMAIN"), "{}", stderr(&o));

    // The default bridge has no embedded resolver: the host's resolv.conf.
    let conf = ok(e
        .docker()
        .args(["run", "--rm", &img, "/probe", "read", "/etc/resolv.conf"]));
    assert!(!conf.contains("127.0.0.11"), "{conf}");

    // Each finished container's resolver is gone with it: the engine holds
    // no more sockets than before them (polled: the exit is handled
    // asynchronously after `docker run --rm` returns).
    let deadline = Instant::now() + Duration::from_secs(10);
    while sockets(&e) > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        sockets(&e) <= before,
        "sockets before {before}: {:?}",
        fd_targets(e.pid().unwrap())
    );
    ok(e.docker().args(["rm", "-f", "db"]));
    ok(e.docker().args(["network", "rm", "dnsnet"]));
}
