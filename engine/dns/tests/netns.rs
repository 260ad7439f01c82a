//! The resolver end to end, as the engine uses it: bound at 127.0.0.11:53
//! in a network namespace this test makes (root only; skipped otherwise),
//! queried from inside that namespace over UDP and TCP, forwarding to a
//! fake upstream on the engine side's 127.0.0.1. No packet leaves the
//! machine.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use shipshape_dns::{bind_in_netns, serve, Names, EMBEDDED_RESOLVER};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A new network namespace with its loopback up, held open by the file.
fn new_netns() -> File {
    std::thread::spawn(|| {
        // SAFETY: unshare on this thread only; the thread ends right after.
        assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare");
        loopback_up();
        File::open("/proc/thread-self/ns/net").expect("open ns")
    })
    .join()
    .expect("netns thread")
}

fn loopback_up() {
    // SAFETY: a plain socket for the ioctl, closed at the end; ifreq is
    // zeroed then filled with the name "lo".
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0);
        let mut req: libc::ifreq = std::mem::zeroed();
        for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as libc::c_char;
        }
        assert_eq!(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req), 0);
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        assert_eq!(libc::ioctl(fd, libc::SIOCSIFFLAGS, &req), 0);
        libc::close(fd);
    }
}

/// Runs `f` on a thread inside `ns`.
fn inside<T: Send + 'static>(ns: &File, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.try_clone().unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("client thread")
}

struct Net;

impl Names for Net {
    fn ipv4(&self, name: &str) -> Vec<Ipv4Addr> {
        match name {
            "db" | "db.backend" | "database" => vec![Ipv4Addr::new(172, 31, 0, 2)],
            _ => vec![],
        }
    }
    fn ipv6(&self, _: &str) -> Vec<Ipv6Addr> {
        vec![]
    }
    fn ptr(&self, ip: IpAddr) -> Option<String> {
        (ip == IpAddr::V4(Ipv4Addr::new(172, 31, 0, 2))).then(|| "db.backend".into())
    }
}

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

fn udp_ask(server: SocketAddr, q: Vec<u8>) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.send_to(&q, server).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

fn tcp_ask(server: SocketAddr, q: Vec<u8>) -> Vec<u8> {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
    s.write_all(&q).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut r).unwrap();
    r
}

fn rcode(r: &[u8]) -> u8 {
    r[3] & 0x0f
}

fn answer_count(r: &[u8]) -> u16 {
    u16::from_be_bytes([r[6], r[7]])
}

/// A fake upstream on the host's loopback, UDP and TCP on the same port:
/// `up.test` gets 192.0.2.7 (TTL 60), every other name NXDOMAIN. Counts
/// the queries it saw.
fn fake_upstream() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let seen = Arc::new(AtomicUsize::new(0));
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = tcp.local_addr().unwrap();
    let udp = UdpSocket::bind(addr).unwrap();
    fn respond(q: &[u8]) -> Vec<u8> {
        let mut r = q.to_vec();
        r[2] |= 0x80;
        r[3] |= 0x80;
        if q.windows(8).any(|w| w == b"\x02up\x04test") {
            r[7] = 1;
            r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
        } else {
            r[3] |= 3;
        }
        r
    }
    let s = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = udp.recv_from(&mut buf) {
            s.fetch_add(1, Ordering::SeqCst);
            let _ = udp.send_to(&respond(&buf[..n]), peer);
        }
    });
    let s = seen.clone();
    std::thread::spawn(move || {
        for mut c in tcp.incoming().flatten() {
            s.fetch_add(1, Ordering::SeqCst);
            let mut len = [0u8; 2];
            if c.read_exact(&mut len).is_err() {
                continue;
            }
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            if c.read_exact(&mut q).is_err() {
                continue;
            }
            let r = respond(&q);
            let _ = c.write_all(&(r.len() as u16).to_be_bytes());
            let _ = c.write_all(&r);
        }
    });
    (addr, seen)
}

/// What each test starts from: a runtime, a fresh namespace and the
/// resolver's sockets bound in it; None (the test skips) without root.
fn resolver_setup() -> Option<(
    tokio::runtime::Runtime,
    File,
    std::net::UdpSocket,
    std::net::TcpListener,
)> {
    if !is_root() {
        eprintln!("skipped: needs root for network namespaces");
        return None;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ns = new_netns();
    let (udp, tcp) = bind_in_netns(&ns, EMBEDDED_RESOLVER).expect("bind in netns");
    Some((rt, ns, udp, tcp))
}

#[test]
fn resolver_in_a_namespace_answers_and_forwards() {
    let Some((rt, ns, udp, tcp)) = resolver_setup() else {
        return;
    };
    // The sockets live in the namespace: the host has no 127.0.0.11:53 of ours.
    assert_eq!(udp.local_addr().unwrap(), EMBEDDED_RESOLVER);
    let (upstream, seen) = fake_upstream();
    let task = {
        let _g = rt.enter();
        serve(udp, tcp, Arc::new(Net), vec![upstream])
    };

    let r = inside(&ns, || {
        [
            udp_ask(EMBEDDED_RESOLVER, query(1, "db", 1)),
            udp_ask(EMBEDDED_RESOLVER, query(2, "DATABASE", 1)),
            udp_ask(EMBEDDED_RESOLVER, query(3, "db.backend", 1)),
            udp_ask(EMBEDDED_RESOLVER, query(4, "2.0.31.172.in-addr.arpa", 12)),
        ]
    });
    for (i, r) in r.iter().enumerate() {
        let r = r.as_ref().expect("an answer");
        assert_eq!(u16::from_be_bytes([r[0], r[1]]), i as u16 + 1);
        assert_eq!((rcode(r), answer_count(r)), (0, 1), "query {}", i + 1);
    }
    // The A answer ends in TTL 600, length 4, 172.31.0.2.
    let a = r[0].as_ref().unwrap();
    assert_eq!(&a[a.len() - 10..], &[0, 0, 2, 88, 0, 4, 172, 31, 0, 2]);
    // The PTR answer names db.backend.
    let ptr = r[3].as_ref().unwrap();
    assert!(ptr.windows(12).any(|w| w == b"\x02db\x07backend\x00"));
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "local names stay local"
    );

    // Unknown names go to the upstream on the host's loopback, over UDP and TCP.
    let (fwd_udp, nx_udp, fwd_tcp, local_tcp) = inside(&ns, || {
        (
            udp_ask(EMBEDDED_RESOLVER, query(10, "up.test", 1)),
            udp_ask(EMBEDDED_RESOLVER, query(11, "nothing.test", 1)),
            tcp_ask(EMBEDDED_RESOLVER, query(12, "up.test", 1)),
            tcp_ask(EMBEDDED_RESOLVER, query(13, "db", 1)),
        )
    });
    let fwd_udp = fwd_udp.expect("forwarded answer");
    assert_eq!((rcode(&fwd_udp), answer_count(&fwd_udp)), (0, 1));
    assert_eq!(&fwd_udp[fwd_udp.len() - 4..], &[192, 0, 2, 7]);
    assert_eq!(rcode(&nx_udp.expect("NXDOMAIN answer")), 3);
    assert_eq!((rcode(&fwd_tcp), answer_count(&fwd_tcp)), (0, 1));
    assert_eq!(u16::from_be_bytes([fwd_tcp[0], fwd_tcp[1]]), 12);
    assert_eq!((rcode(&local_tcp), answer_count(&local_tcp)), (0, 1));
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);

    // Stopping the resolver closes its sockets: the address is free again.
    task.abort();
    rt.block_on(async {
        let _ = task.await;
    });
    let (udp, tcp) = bind_in_netns(&ns, EMBEDDED_RESOLVER).expect("rebind after stop");
    drop((udp, tcp));
}

#[test]
fn no_upstream_answers_servfail() {
    let Some((rt, ns, udp, tcp)) = resolver_setup() else {
        return;
    };
    let _task = {
        let _g = rt.enter();
        serve(udp, tcp, Arc::new(Net), vec![])
    };
    let r = inside(&ns, || {
        udp_ask(EMBEDDED_RESOLVER, query(5, "elsewhere.test", 1))
    });
    assert_eq!(rcode(&r.expect("an answer")), 2);
}
