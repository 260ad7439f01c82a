//! A throwaway image registry for the distribution tests: Debian's
//! `docker-registry` (the CNCF distribution registry) on 127.0.0.1, on a
//! free port, with its storage in a temp directory; plain HTTP, with
//! htpasswd basic auth or the bearer-token flow (with [`TokenServer`]),
//! and/or with TLS from a throwaway CA; on loopback, or in a network
//! namespace of its own on a non-loopback address (where TLS is verified
//! against the CA, as for any remote registry). Killed (and its storage
//! removed) on drop. Tests that need one skip when the package is
//! not installed (`.ci/run` installs it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::netns::TestNetns;
use crate::tls::{Ca, Leaf};
use crate::token::TokenServer;

/// The registry binary Debian's package installs.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How the registry is to be run.
#[derive(Default, Clone)]
pub struct RegistryOptions {
    /// Basic auth through an htpasswd file with this one user.
    pub basic_auth: Option<(String, String)>,
    /// Bearer tokens from a [`TokenServer`] for this one user (instead of
    /// basic auth).
    pub bearer: Option<(String, String)>,
    /// TLS with a certificate for the registry's address and `localhost`
    /// from a fresh CA.
    pub tls: bool,
    /// In a network namespace of its own, at a non-loopback address.
    pub netns: bool,
}

/// A running registry; stopped on drop.
pub struct Registry {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`, as image references name it.
    pub host: String,
    /// The CA that signed the server certificate (TLS only).
    pub ca_cert: Option<PathBuf>,
    /// The token server of a bearer-auth registry.
    pub token: Option<TokenServer>,
    /// The namespace the registry runs in (dropped after the registry).
    netns: Option<TestNetns>,
}

/// Whether the registry package is installed (tests skip without it).
pub fn available() -> bool {
    Path::new(REGISTRY_BIN).exists()
}

/// A port nobody listens on right now (bound and released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    l.local_addr().expect("local addr").port()
}

/// An htpasswd line (bcrypt, as the registry wants) from `htpasswd`.
fn htpasswd_line(user: &str, password: &str) -> String {
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, password])
        .output()
        .expect("running htpasswd (apache2-utils)");
    assert!(out.status.success(), "htpasswd failed");
    String::from_utf8(out.stdout)
        .expect("htpasswd output")
        .trim()
        .to_string()
}

impl Registry {
    pub fn start(opts: &RegistryOptions) -> Registry {
        let dir = tempfile::tempdir().expect("registry temp dir");
        let netns = opts
            .netns
            .then(|| TestNetns::new().unwrap_or_else(|e| panic!("registry namespace: {e}")));
        let host = match &netns {
            Some(ns) => format!("{}:5000", ns.ns_ip),
            None => format!("127.0.0.1:{}", free_port()),
        };
        let address = host.split(':').next().unwrap_or("127.0.0.1").to_string();
        let storage = dir.path().join("data");
        std::fs::create_dir_all(&storage).expect("registry storage");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            storage.display()
        );
        let mut ca_cert = None;
        if opts.tls {
            let ca = Ca::new("shipshape registry test CA");
            let ca_path = ca.write(&dir.path().join("ca.crt"));
            let (cert, key) = ca.leaf(
                dir.path(),
                "registry",
                &Leaf {
                    names: &[&address, "localhost"],
                    common_name: &address,
                    server: true,
                    expired: false,
                },
            );
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
            ca_cert = Some(ca_path);
        }
        if let Some((user, password)) = &opts.basic_auth {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, htpasswd_line(user, password) + "\n").expect("htpasswd file");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: shipshape-test\n    path: {}\n",
                file.display()
            ));
        }
        let mut token = None;
        if let Some((user, password)) = &opts.bearer {
            let t = TokenServer::start(dir.path(), user, password);
            config.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                t.realm,
                crate::token::SERVICE,
                crate::token::ISSUER,
                t.cert.display()
            ));
            token = Some(t);
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("registry log");
        let mut cmd = match &netns {
            Some(ns) => ns.command(REGISTRY_BIN),
            None => Command::new(REGISTRY_BIN),
        };
        let child = cmd
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let reg = Registry {
            child: Some(child),
            dir,
            host,
            ca_cert,
            token,
            netns,
        };
        reg.wait_listening(Duration::from_secs(20));
        reg
    }

    fn wait_listening(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(&self.host).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
        panic!("docker-registry did not listen on {}: {log}", self.host);
    }

    /// What the registry logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Stops the registry now (to test "registry down").
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        self.netns.take();
    }
}

/// How [`FakeRegistry`] misbehaves when serving a blob.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BlobFault {
    /// Serve the blob as it is.
    None,
    /// Serve the first half, declare the whole length, then close.
    Truncate,
    /// Serve the first half, then hold the connection until the registry is dropped.
    Stall,
    /// The first GET as `Truncate`; after it, the whole blob, and a
    /// `Range: bytes=N-` request with a 206 and the rest (as a real
    /// registry does), so a client may resume.
    TruncateOnce,
}

/// A scripted registry for failures a real one will not produce: it serves
/// the manifests and blobs it is given, exactly (wrong digests, hostile
/// layers and oversized documents included), on 127.0.0.1, plain HTTP, one
/// thread per connection.
pub struct FakeRegistry {
    pub host: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Set once a stalled blob's first half was sent.
    pub stalled: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// What a [`FakeRegistry`] serves: `manifests` by `name/reference` (media
/// type, bytes), `blobs` by digest.
#[derive(Default, Clone)]
pub struct FakeContent {
    pub manifests: std::collections::HashMap<String, (String, Vec<u8>)>,
    pub blobs: std::collections::HashMap<String, Vec<u8>>,
    pub faults: std::collections::HashMap<String, BlobFault>,
}

impl FakeRegistry {
    pub fn start(content: FakeContent) -> FakeRegistry {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake registry bind");
        let host = listener.local_addr().expect("addr").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stalled = Arc::new(AtomicBool::new(false));
        let content = Arc::new(content);
        let (stop2, stalled2) = (stop.clone(), stalled.clone());
        // Blobs already cut once (`TruncateOnce`).
        let cut2 = Arc::new(std::sync::Mutex::new(
            std::collections::HashSet::<String>::new(),
        ));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut s) = conn else { continue };
                let (content, stop, stalled, cut) = (
                    content.clone(),
                    stop2.clone(),
                    stalled2.clone(),
                    cut2.clone(),
                );
                std::thread::spawn(move || {
                    let mut r = BufReader::new(s.try_clone().expect("clone"));
                    let mut line = String::new();
                    if r.read_line(&mut line).is_err() {
                        return;
                    }
                    let mut range_from: Option<usize> = None;
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            if k.trim().eq_ignore_ascii_case("range") {
                                range_from = v
                                    .trim()
                                    .strip_prefix("bytes=")
                                    .and_then(|v| v.strip_suffix('-'))
                                    .and_then(|n| n.parse().ok());
                            }
                        }
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    let head = method == "HEAD";
                    let send = |s: &mut std::net::TcpStream,
                                status: &str,
                                ctype: &str,
                                body: &[u8],
                                extra: &str| {
                        let _ = write!(
                            s,
                            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nDocker-Distribution-Api-Version: registry/2.0\r\n{extra}Connection: close\r\n\r\n",
                            body.len()
                        );
                        if !head {
                            let _ = s.write_all(body);
                        }
                    };
                    let unknown = |what: &str| {
                        format!(
                            r#"{{"errors":[{{"code":"{what}_UNKNOWN","message":"{} unknown","detail":null}}]}}"#,
                            what.to_lowercase()
                        )
                    };
                    if path == "/v2/" {
                        send(&mut s, "200 OK", "application/json", b"{}", "");
                    } else if let Some(rest) = path.strip_prefix("/v2/") {
                        if let Some((name, reference)) = rest.split_once("/manifests/") {
                            // By tag, or by the digest of a manifest served by tag.
                            let found = content
                                .manifests
                                .get(&format!("{name}/{reference}"))
                                .or_else(|| {
                                    content.manifests.iter().find_map(|(k, v)| {
                                        (k.starts_with(&format!("{name}/"))
                                            && sha256_digest(&v.1) == reference)
                                            .then_some(v)
                                    })
                                });
                            match found {
                                Some((media, bytes)) => {
                                    let extra = format!(
                                        "Docker-Content-Digest: {}\r\n",
                                        sha256_digest(bytes)
                                    );
                                    send(&mut s, "200 OK", media, bytes, &extra)
                                }
                                None => send(
                                    &mut s,
                                    "404 Not Found",
                                    "application/json",
                                    unknown("MANIFEST").as_bytes(),
                                    "",
                                ),
                            }
                        } else if let Some((_, digest)) = rest.split_once("/blobs/") {
                            match content.blobs.get(digest) {
                                None => send(
                                    &mut s,
                                    "404 Not Found",
                                    "application/json",
                                    unknown("BLOB").as_bytes(),
                                    "",
                                ),
                                Some(b) => match content
                                    .faults
                                    .get(digest)
                                    .copied()
                                    .unwrap_or(BlobFault::None)
                                {
                                    BlobFault::TruncateOnce
                                        if head
                                            || !cut
                                                .lock()
                                                .expect("cut set")
                                                .insert(digest.to_string()) =>
                                    {
                                        match range_from.filter(|&n| n < b.len()) {
                                            Some(n) => send(
                                                &mut s,
                                                "206 Partial Content",
                                                "application/octet-stream",
                                                &b[n..],
                                                &format!(
                                                    "Content-Range: bytes {n}-{}/{}\r\n",
                                                    b.len() - 1,
                                                    b.len()
                                                ),
                                            ),
                                            None => send(
                                                &mut s,
                                                "200 OK",
                                                "application/octet-stream",
                                                b,
                                                "",
                                            ),
                                        }
                                    }
                                    BlobFault::None => {
                                        send(&mut s, "200 OK", "application/octet-stream", b, "")
                                    }
                                    fault => {
                                        let _ = write!(
                                            s,
                                            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                            b.len()
                                        );
                                        let _ = s.write_all(&b[..b.len() / 2]);
                                        let _ = s.flush();
                                        if fault == BlobFault::Stall {
                                            stalled.store(true, Ordering::SeqCst);
                                            while !stop.load(Ordering::SeqCst) {
                                                std::thread::sleep(Duration::from_millis(50));
                                            }
                                        }
                                    }
                                },
                            }
                        } else {
                            send(
                                &mut s,
                                "404 Not Found",
                                "text/plain",
                                b"404 page not found",
                                "",
                            );
                        }
                    } else {
                        send(
                            &mut s,
                            "404 Not Found",
                            "text/plain",
                            b"404 page not found",
                            "",
                        );
                    }
                });
            }
        });
        FakeRegistry {
            host,
            stop,
            stalled,
        }
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(&self.host);
    }
}

/// sha256 of `b` as `sha256:<hex>` (with the `sha256sum` tool's help-free
/// implementation: the support lib has no hashing crate, so ask coreutils).
pub fn sha256_digest(b: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b)
        .expect("writing to sha256sum");
    let out = child.wait_with_output().expect("sha256sum output");
    let text = String::from_utf8_lossy(&out.stdout);
    format!("sha256:{}", text.split_whitespace().next().unwrap_or(""))
}
