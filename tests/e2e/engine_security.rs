//! The engine's listener defaults: non-loopback TCP only with TLS client
//! verification, TLS that the real docker CLI speaks (`--tlsverify`), and
//! slow or silent clients that neither block other clients nor leak.
//! Needs root (the engine runs containers) and the docker CLI.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shipshape_tests::{engine_bin, run, stderr, stdout, wait_for_ping};

/// Generous bound for anything that should happen "soon": only a hang
/// misses it.
const DEADLINE: Duration = Duration::from_secs(30);

/// An engine started with extra flags, on a temp unix socket (for the ping
/// that says it is up) and data root; killed on drop.
struct Proc {
    child: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Proc {
    fn start(extra: &[&str]) -> Proc {
        let dir = tempfile::Builder::new()
            .prefix("shipshape-sec-")
            .tempdir()
            .expect("tempdir");
        let socket = dir.path().join("engine.sock");
        let log = std::fs::File::create(dir.path().join("engine.log")).expect("log");
        let child = Command::new(engine_bin())
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting shipshape-engine");
        wait_for_ping(&socket, Duration::from_secs(20));
        Proc { child, dir, socket }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("engine.log")).unwrap_or_default()
    }

    /// Open file descriptors of the engine process.
    fn fds(&self) -> usize {
        shipshape_tests::fd_count(self.child.id())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs the engine with `args`, expecting it to refuse to start: returns
/// its exit code and stderr. A hang fails the test.
fn refused(args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(engine_bin())
        .args(args)
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting shipshape-engine");
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the engine did not exit with {args:?}: it is serving");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status.code().unwrap_or(-1), err)
}

#[test]
fn non_loopback_tcp_needs_tlsverify() {
    let port = free_port().to_string();
    let any = format!("tcp://0.0.0.0:{port}");
    let (code, err) = refused(&["-H", &any]);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(
        err.contains("refusing to listen on tcp://0.0.0.0") && err.contains("--tlsverify"),
        "{err}"
    );
    // TLS without client verification still lets anyone who reaches the
    // port drive the engine: refused too.
    let certs = Certs::generate();
    let (code, err) = refused(&[
        "-H",
        &any,
        "--tls",
        "--tlscert",
        certs.path("server-cert.pem"),
        "--tlskey",
        certs.path("server-key.pem"),
    ]);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(err.contains("refusing to listen"), "{err}");
    // Unreadable certificates are a startup error, not a listener without TLS.
    let (code, err) = refused(&[
        "-H",
        &any,
        "--tlsverify",
        "--tlscacert",
        "/nonexistent/ca.pem",
        "--tlscert",
        certs.path("server-cert.pem"),
        "--tlskey",
        certs.path("server-key.pem"),
    ]);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

/// A CA, a server certificate for 127.0.0.1/localhost and two client
/// certificates: one from the CA, one from a CA it does not know (an
/// outsider). Made by the support lib's throwaway PKI.
struct Certs {
    dir: tempfile::TempDir,
    paths: Vec<(String, String)>,
}

impl Certs {
    fn generate() -> Certs {
        use shipshape_tests::tls::{Ca, Leaf};
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let leaf = |names, server| Leaf {
            names,
            common_name: "shipshape test",
            server,
            expired: false,
        };
        let ca = Ca::new("shipshape test CA");
        let mut files = vec![ca.write(&d.join("ca.pem"))];
        let (c, k) = ca.leaf(d, "server", &leaf(&["127.0.0.1", "localhost"], true));
        files.extend([c, k]);
        let (c, k) = ca.leaf(d, "client", &leaf(&[], false));
        files.extend([c, k]);
        // An outsider: a client certificate from a CA the engine does not know.
        let (c, k) = Ca::new("outsider CA").leaf(d, "outsider", &leaf(&[], false));
        files.extend([c, k]);
        let paths = files
            .into_iter()
            .map(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                (name.unwrap_or_default(), p.display().to_string())
            })
            .collect();
        Certs { dir, paths }
    }

    fn path(&self, name: &str) -> &str {
        self.paths
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_str())
            .unwrap_or_else(|| panic!("no {name} in {}", self.dir.path().display()))
    }
}

/// The docker CLI aimed at `host`, with no configuration or TLS settings
/// from the environment.
fn docker(host: &str, config: &Path) -> Command {
    let mut c = Command::new("docker");
    c.env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env("DOCKER_CONFIG", config)
        .arg("-H")
        .arg(host);
    c
}

#[test]
fn docker_cli_speaks_tls_and_unknown_clients_are_refused() {
    let certs = Certs::generate();
    let port = free_port();
    // Any address is allowed once client certificates are verified.
    let engine = Proc::start(&[
        "-H",
        &format!("tcp://0.0.0.0:{port}"),
        "--tlsverify",
        "--tlscacert",
        certs.path("ca.pem"),
        "--tlscert",
        certs.path("server-cert.pem"),
        "--tlskey",
        certs.path("server-key.pem"),
    ]);
    let host = format!("tcp://127.0.0.1:{port}");
    let config = engine.dir.path().join("docker-config");

    // A silent client holding a TCP connection open (no handshake) does
    // not keep the others out.
    let silent = TcpStream::connect(("127.0.0.1", port)).expect("connect");

    let out = run(docker(&host, &config).args([
        "--tlsverify",
        "--tlscacert",
        certs.path("ca.pem"),
        "--tlscert",
        certs.path("client-cert.pem"),
        "--tlskey",
        certs.path("client-key.pem"),
        "version",
        "--format",
        "{{.Server.Version}}",
    ]));
    assert!(
        out.status.success(),
        "docker --tlsverify version failed: {}\nengine log: {}",
        stderr(&out),
        engine.log()
    );
    assert!(!stdout(&out).trim().is_empty());
    drop(silent);

    // Verifying the server but showing no client certificate: refused.
    let out = run(docker(&host, &config).args([
        "--tlsverify",
        "--tlscacert",
        certs.path("ca.pem"),
        "version",
    ]));
    assert!(
        !out.status.success(),
        "a client without a certificate got in: {}",
        stdout(&out)
    );
    // A certificate the CA did not sign: refused.
    let out = run(docker(&host, &config).args([
        "--tlsverify",
        "--tlscacert",
        certs.path("ca.pem"),
        "--tlscert",
        certs.path("outsider-cert.pem"),
        "--tlskey",
        certs.path("outsider-key.pem"),
        "version",
    ]));
    assert!(
        !out.status.success(),
        "a client with an unknown certificate got in: {}",
        stdout(&out)
    );
    // Plain HTTP on the TLS port gets no API answer.
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(
        !buf.starts_with(b"HTTP/1.1 200"),
        "plain HTTP was answered on the TLS port"
    );
    // The unix socket is unaffected by TLS, as with dockerd.
    wait_for_ping(&engine.socket, Duration::from_secs(5));
}

/// `GET /_ping` on a fresh connection; panics if it is not answered in time.
fn ping(socket: &Path) {
    let mut s = UnixStream::connect(socket).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf)
        .expect("the engine did not answer /_ping while slow clients were connected");
    assert!(buf.starts_with("HTTP/1.1 200"), "{buf}");
}

/// Whether the engine closed `s` (EOF or reset) before `deadline`.
fn closed_by_engine(s: &mut UnixStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => return true,
            // Some bytes (an error response): keep reading until the close.
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn slow_and_silent_clients_neither_block_nor_leak() {
    // A short header timeout keeps the test quick; the default is 30 s.
    let engine = Proc::start(&["--header-read-timeout", "2"]);
    ping(&engine.socket);
    let baseline = engine.fds();

    // Clients that connect and never send.
    let mut silent: Vec<UnixStream> = (0..20)
        .map(|_| UnixStream::connect(&engine.socket).expect("connect"))
        .collect();
    // A client that sends half a body, then stops (but stays connected).
    let mut half = UnixStream::connect(&engine.socket).expect("connect");
    half.write_all(
        b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"Image\":",
    )
    .expect("write");
    // One that sends half a body and hangs up.
    let mut gone = UnixStream::connect(&engine.socket).expect("connect");
    gone.write_all(
        b"POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n\
          Content-Length: 10000\r\n\r\npartial",
    )
    .expect("write");
    drop(gone);
    // A slowloris: headers one byte at a time, far slower than the timeout.
    let socket = engine.socket.clone();
    let drip = std::thread::spawn(move || {
        let mut s = UnixStream::connect(&socket).expect("connect");
        let request = format!(
            "GET /_ping HTTP/1.1\r\nHost: x\r\nX-Slow: {}\r\n\r\n",
            "a".repeat(200)
        );
        for b in request.as_bytes() {
            if s.write_all(&[*b]).is_err() {
                // The engine hung up before the headers were complete.
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // All sent (20 s): the engine must have closed it long before.
        let mut rest = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(1))).ok();
        let _ = s.read_to_end(&mut rest);
        rest.is_empty() || !rest.starts_with(b"HTTP/1.1 200")
    });

    // Others are served meanwhile, repeatedly.
    for _ in 0..5 {
        ping(&engine.socket);
    }

    // The engine drops the clients that never finish their headers.
    let deadline = Instant::now() + DEADLINE;
    for s in &mut silent {
        assert!(
            closed_by_engine(s, deadline),
            "a silent connection was still open after {DEADLINE:?}"
        );
    }
    assert!(
        drip.join().expect("drip thread"),
        "the slow client got its headers through (no header timeout)"
    );
    // The half-body request is still waiting for its body (as with dockerd)
    // but holds only its own connection: others still get answers.
    ping(&engine.socket);
    half.write_all(&[b' '; 200]).ok();
    drop(half);
    drop(silent);

    // Everything those clients held is released.
    let deadline = Instant::now() + DEADLINE;
    let mut fds = engine.fds();
    while fds > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        fds = engine.fds();
    }
    assert!(
        fds <= baseline,
        "the engine holds {fds} fds, {baseline} before the slow clients"
    );
    ping(&engine.socket);
    assert!(!engine.log().contains("panicked"), "{}", engine.log());
}

#[test]
fn unknown_socket_group_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = format!("unix://{}", dir.path().join("e.sock").display());
    let (code, err) = refused(&["-H", &sock, "-G", "shipshape-no-such-group"]);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(err.contains("shipshape-no-such-group"), "{err}");
}

/// The container's devices cgroup holds exactly dockerd's rules, and an
/// exec'd process is bound by them too.
#[test]
fn containers_and_execs_get_dockers_device_rules() {
    use shipshape_tests::{ok, Engine};
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        || !Path::new("/sys/fs/cgroup/devices").is_dir()
    {
        eprintln!("skipped: no cgroup v1 devices controller (v2 is not enforced yet)");
        return;
    }
    let e = Engine::start();
    e.load_probe("shipshape-probe");
    let id = ok(e
        .docker()
        .args(["run", "-d", "shipshape-probe", "/probe", "sleep", "60"]));
    let list = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/devices/shipshape/{id}/devices.list"
    ))
    .expect("the container's devices.list");
    // What `cat devices.list` shows for a dockerd 20.10.24 container.
    let dockerd = "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\n\
                   c 5:0 rwm\nc 5:1 rwm\nc 5:2 rwm\nc 10:200 rwm\nc 136:* rwm\n";
    let mut got: Vec<&str> = list.lines().collect();
    let mut want: Vec<&str> = dockerd.lines().collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let out = ok(e.docker().args([
        "exec",
        &id,
        "/probe",
        "try-mknod",
        "/dev/fuse2",
        "c",
        "10",
        "229",
        "--",
        "try-open",
        "/dev/fuse2",
        "r",
        "--",
        "try-open",
        "/dev/null",
        "w",
    ]));
    assert_eq!(
        out,
        "mknod /dev/fuse2: ok\nopen /dev/fuse2 r: EPERM\nopen /dev/null w: ok"
    );
    ok(e.docker().args(["rm", "-f", &id]));
}
