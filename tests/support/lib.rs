//! Shared helpers for the end-to-end tests in `tests/` (the `e2e` and
//! `stress` binaries): find the workspace's binaries, start a
//! `shipshape-engine` on a temp socket, load the probe image, run commands,
//! read what a process holds from /proc. `http` is a raw HTTP client for
//! tests that must see or send exactly the bytes.

pub mod http;
pub mod netns;
pub mod registry;
pub mod sshd;
pub mod tls;
pub mod token;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The directory cargo puts binaries in for this test build (target/debug or
/// target/release): the test executable lives in its `deps/` subdirectory.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test exe has a parent");
    deps.parent().expect("deps has a parent").to_path_buf()
}

/// Path to a workspace binary, built on demand if cargo has not built it for
/// this test run (integration tests of one package do not build another's bins).
pub fn bin(package: &str, name: &str) -> PathBuf {
    let dir = bin_dir();
    let path = dir.join(name);
    let release = dir.file_name().is_some_and(|n| n == "release");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--quiet", "-p", package, "--bin", name]);
    if release {
        cmd.arg("--release");
    }
    // Always ask cargo: it is a no-op when the binary is fresh, and it
    // rebuilds a stale one left by an earlier run.
    let status = cmd.status().expect("running cargo build");
    assert!(
        status.success(),
        "cargo build -p {package} --bin {name} failed"
    );
    assert!(path.exists(), "{} missing after build", path.display());
    path
}

/// Built (or checked) once per test process: restarts must not pay for a
/// `cargo build` each, nor does each of the many tests of one binary.
pub fn engine_bin() -> PathBuf {
    static ENGINE: OnceLock<PathBuf> = OnceLock::new();
    ENGINE
        .get_or_init(|| bin("shipshape-engine", "shipshape-engine"))
        .clone()
}

/// The `shipshape` harness binary, built (or checked) once per test process.
pub fn harness_bin() -> PathBuf {
    static HARNESS: OnceLock<PathBuf> = OnceLock::new();
    HARNESS
        .get_or_init(|| bin("shipshape-harness", "shipshape"))
        .clone()
}

/// The tag [`Engine::load_fixture`] gives the probe image (each engine has
/// its own store, so every test can use the same one).
pub const PROBE: &str = "probe:e2e";

/// A `shipshape-engine` on a temp unix socket with a temp data root; killed on drop.
pub struct Engine {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub data_root: PathBuf,
    /// More listener flags (e.g. `-H tcp://... --tlsverify ...`).
    extra: Vec<String>,
}

impl Engine {
    pub fn start() -> Engine {
        Engine::start_with(&[])
    }

    /// An engine with more flags besides its unix socket (which the
    /// readiness ping uses).
    pub fn start_with(extra: &[&str]) -> Engine {
        let dir = tempfile::Builder::new()
            .prefix("shipshape-e2e-")
            .tempdir()
            .expect("tempdir");
        let socket = dir.path().join("engine.sock");
        let data_root = dir.path().join("data");
        let mut e = Engine {
            child: None,
            socket,
            data_root,
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        e.spawn();
        e
    }

    /// (Re)starts the engine process on the same socket and data root.
    pub fn spawn(&mut self) {
        self.launch();
        wait_for_ping(&self.socket, start_limit());
    }

    /// Starts the engine process without waiting for it to answer (to crash
    /// it mid-startup). Its log is appended to, so every run's stays readable.
    pub fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("engine.log"))
            .expect("log file");
        let child = Command::new(engine_bin())
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .arg("--data-root")
            .arg(&self.data_root)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting shipshape-engine");
        self.child = Some(child);
    }

    /// The engine's pid while it runs (not yet reaped by `crash`/`stop`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Loads the harness's probe image into this engine with the real docker
    /// CLI (`shipshape fixture` then `docker load`) and tags it `tag`.
    pub fn load_probe(&self, tag: &str) {
        let tar = self.dir.path().join("fixture.tar");
        ok(Command::new(harness_bin())
            .arg("fixture")
            .arg("--output")
            .arg(&tar));
        let out = ok(self.docker().arg("load").arg("-i").arg(&tar));
        let loaded = out
            .lines()
            .find_map(|l| {
                l.strip_prefix("Loaded image: ")
                    .or_else(|| l.strip_prefix("Loaded image ID: "))
            })
            .unwrap_or_else(|| panic!("docker load said: {out}"))
            .to_string();
        ok(self.docker().args(["tag", &loaded, tag]));
    }

    /// Loads the probe image as [`PROBE`]; returns the reference to use.
    pub fn load_fixture(&self) -> String {
        self.load_probe(PROBE);
        PROBE.to_string()
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// SIGTERM and wait: a clean shutdown.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix_kill(c.id() as i32, 15);
            let _ = c.wait();
        }
    }

    /// SIGKILL: a crash.
    pub fn crash(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("engine.log")).unwrap_or_default()
    }

    /// A `docker` CLI command aimed at this engine.
    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", self.host());
        c.env("DOCKER_CONFIG", self.dir.path().join("docker-config"));
        c
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

fn nix_kill(pid: i32, sig: i32) -> std::io::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other("kill failed"))
    }
}

/// How long a started engine has to answer: 20 s, or
/// `SHIPSHAPE_TEST_ENGINE_START_SECS` on a far slower machine (the cgroup v2
/// lane runs the debug engine in an emulated guest, where it took over 20 s).
/// A bound on a hang, not a timing the tests check.
pub fn start_limit() -> Duration {
    let secs = std::env::var("SHIPSHAPE_TEST_ENGINE_START_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    Duration::from_secs(secs)
}

/// Polls `GET /_ping` over the socket until it answers.
pub fn wait_for_ping(socket: &Path, limit: Duration) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            if s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .is_ok()
            {
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "engine did not answer /_ping on {} in time",
        socket.display()
    );
}

/// Runs a command, returning its output; panics with its stderr if it could not start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns trimmed stdout.
pub fn ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{cmd:?} failed ({:?})\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o).trim().to_string()
}

/// The last `lines` lines of `text` (an engine log in a failure message).
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// How many file descriptors a process has open (0 once it is gone).
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// What a process's open file descriptors point at, sorted (`/proc/PID/fd`):
/// for leak checks that say what leaked.
pub fn fd_targets(pid: u32) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let t = std::fs::read_link(e.path()).unwrap_or_default();
            format!("{} -> {}", e.file_name().to_string_lossy(), t.display())
        })
        .collect();
    v.sort();
    v
}
