//! A throwaway image registry for the distribution tests: Debian's
//! `docker-registry` (the CNCF distribution registry) on 127.0.0.1, on a
//! free port, with its storage in a temp directory; plain HTTP, with
//! htpasswd basic auth, and/or with TLS from a throwaway CA. Killed (and its
//! storage removed) on drop. Tests that need one skip when the package is
//! not installed (`.ci/run` installs it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tls::{Ca, Leaf};

/// The registry binary Debian's package installs.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How the registry is to be run.
#[derive(Default, Clone)]
pub struct RegistryOptions {
    /// Basic auth through an htpasswd file with this one user.
    pub basic_auth: Option<(String, String)>,
    /// TLS with a certificate for 127.0.0.1 and `localhost` from a fresh CA.
    pub tls: bool,
}

/// A running registry; stopped on drop.
pub struct Registry {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`, as image references name it.
    pub host: String,
    /// The CA that signed the server certificate (TLS only).
    pub ca_cert: Option<PathBuf>,
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
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
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
                    names: &["127.0.0.1", "localhost"],
                    common_name: "127.0.0.1",
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
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("registry log");
        let child = Command::new(REGISTRY_BIN)
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
    }
}
