//! A private sshd on 127.0.0.1 for the ssh:// tests: a throwaway host key,
//! one authorized client key (with `environment=` so the remote
//! `docker system dial-stdio` reaches the DOCKER_HOST we choose), and a
//! directory with an `ssh` wrapper that uses our client configuration
//! (ssh reads `~/.ssh` from the password database, not from $HOME, so a
//! wrapper on PATH is how a test points the harness's `ssh` at it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd; killed on drop.
pub struct Sshd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .expect("running ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Sshd {
    /// Why no sshd can be started here (it is not installed), if so.
    pub fn unavailable() -> Option<String> {
        (!Path::new(SSHD).exists())
            .then(|| format!("{SSHD} is not installed (apt-get install -y openssh-server)"))
    }

    /// Starts sshd (see [`Sshd::unavailable`] first). `docker_host`
    /// becomes the remote session's DOCKER_HOST.
    pub fn start(docker_host: Option<&str>) -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("shipshape-sshd-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        let public = std::fs::read_to_string(d.join("client_key.pub")).expect("public key");
        let options = docker_host
            .map(|h| format!("environment=\"DOCKER_HOST={h}\" "))
            .unwrap_or_default();
        std::fs::write(d.join("authorized_keys"), format!("{options}{public}"))
            .expect("authorized_keys");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nAuthorizedKeysFile {ak}\n\
                 PidFile {d}/sshd.pid\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n\
                 UsePAM no\nPermitUserEnvironment yes\nLogLevel ERROR\n",
                hk = d.join("host_key").display(),
                ak = d.join("authorized_keys").display(),
                d = d.display(),
            ),
        )
        .expect("sshd_config");
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {k}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n\
                 \x20 UserKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR\n",
                k = d.join("client_key").display()
            ),
        )
        .expect("ssh_config");
        let bin = d.join("bin");
        std::fs::create_dir(&bin).expect("bin dir");
        let wrapper = bin.join("ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
                d.join("ssh_config").display()
            ),
        )
        .expect("ssh wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        // sshd's privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let mut child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {SSHD}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("sshd exited ({status}): {err}");
            }
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { child, dir, port }
    }

    /// `ssh://root@127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.port)
    }

    /// PATH with the configured `ssh` wrapper first.
    pub fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
