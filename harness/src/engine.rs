//! Starting and stopping the built-in reference engine (`shipshape-engine`)
//! when neither `--host` nor `DOCKER_HOST` names an endpoint.

use crate::client::{Client, Req, Target};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub const ENGINE_BINARY: &str = "shipshape-engine";

/// How long the engine gets to answer `GET /_ping` after starting.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the engine gets to exit after SIGTERM before SIGKILL.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no reference engine: `{ENGINE_BINARY}` is neither next to {exe} nor on PATH (build it with `cargo build -p shipshape-engine`, or pass --host / set DOCKER_HOST)")]
    NotFound { exe: String },
    #[error("creating a temporary directory for the reference engine: {0}")]
    TempDir(std::io::Error),
    #[error("starting {path}: {error}")]
    Spawn { path: String, error: std::io::Error },
    #[error("reference engine {path} exited during startup ({status}); last stderr line: {log}")]
    Exited {
        path: String,
        status: String,
        log: String,
    },
    #[error("reference engine {path} did not answer GET /_ping within {timeout:?}; last stderr line: {log}")]
    NoAnswer {
        path: String,
        timeout: Duration,
        log: String,
    },
}

/// Looks for the engine next to the running executable (the same cargo
/// target dir; for test binaries in `deps/`, one level up), then on PATH.
pub fn find_engine() -> Result<PathBuf, EngineError> {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut candidates = Vec::new();
    if let Some(dir) = exe.parent() {
        candidates.push(dir.join(ENGINE_BINARY));
        if let Some(up) = dir.parent() {
            candidates.push(up.join(ENGINE_BINARY));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join(ENGINE_BINARY)));
    }
    candidates
        .into_iter()
        .find(|p| is_executable(p))
        .ok_or_else(|| EngineError::NotFound {
            exe: exe.display().to_string(),
        })
}

/// The last non-empty line of the engine's stderr, for one-line errors (the
/// temporary directory holding the log is removed when we give up).
fn last_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(empty)");
    line.chars().take(300).collect()
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A running reference engine; stopped (SIGTERM, then SIGKILL) on drop,
/// and when the harness itself is stopped by a signal (see
/// [`stop_on_signals`]).
pub struct ReferenceEngine {
    /// Shared with the signal thread: whoever takes it stops the engine.
    child: Arc<Mutex<Option<Child>>>,
    dir: tempfile::TempDir,
    url: String,
    path: PathBuf,
}

impl ReferenceEngine {
    /// Finds and starts the engine, waiting until it answers `GET /_ping`.
    pub fn start() -> Result<Self, EngineError> {
        let path = find_engine()?;
        Self::start_binary(&path)
    }

    pub fn start_binary(path: &Path) -> Result<Self, EngineError> {
        let dir = tempfile::Builder::new()
            .prefix("shipshape-engine-")
            .tempdir()
            .map_err(EngineError::TempDir)?;
        let sock = dir.path().join("engine.sock");
        let data = dir.path().join("data");
        let log_path = dir.path().join("engine.log");
        let log = std::fs::File::create(&log_path).map_err(EngineError::TempDir)?;
        let url = format!("unix://{}", sock.display());
        let child = Command::new(path)
            .arg("-H")
            .arg(&url)
            .arg("--data-root")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|error| EngineError::Spawn {
                path: path.display().to_string(),
                error,
            })?;
        let engine = ReferenceEngine {
            child: Arc::new(Mutex::new(Some(child))),
            dir,
            url,
            path: path.to_path_buf(),
        };
        engine.wait_ready(&sock, &log_path)?;
        if let Err(e) = stop_on_signals(engine.child.clone(), engine.dir.path().to_path_buf()) {
            eprintln!("shipshape: warning: a signal will not stop the reference engine: {e}");
        }
        Ok(engine)
    }

    fn child(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_ready(&self, sock: &Path, log: &Path) -> Result<(), EngineError> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let client = Client::new(Target::Unix(sock.to_path_buf())).ok();
        loop {
            let mut child = self.child();
            if let Some(c) = child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    *child = None;
                    return Err(EngineError::Exited {
                        path: self.path.display().to_string(),
                        status: status.to_string(),
                        log: last_line(log),
                    });
                }
            }
            drop(child);
            if sock.exists() {
                if let Some(c) = &client {
                    let req = Req::get("/_ping")
                        .unversioned()
                        .timeout(Duration::from_secs(2));
                    if matches!(c.send(req), Ok(r) if r.status == 200) {
                        return Ok(());
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(EngineError::NoAnswer {
                    path: self.path.display().to_string(),
                    timeout: STARTUP_TIMEOUT,
                    log: last_line(log),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `unix://…/engine.sock`
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// SIGTERM, wait up to [`SHUTDOWN_TIMEOUT`], then SIGKILL.
    /// Holds the lock throughout, so a run that ends while a signal stops
    /// the engine waits here for the signal's exit status.
    pub fn stop(&mut self) {
        let mut child = self.child();
        if let Some(c) = child.take() {
            terminate(c);
        }
    }
}

/// SIGTERM (the engine then removes its bridges, iptables chains and
/// mounts), wait up to [`SHUTDOWN_TIMEOUT`], then SIGKILL.
fn terminate(mut child: Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A harness stopped by SIGINT, SIGTERM or SIGHUP (Ctrl-C, `timeout`, a
/// cancelled CI job) stops its engine first and removes the engine's
/// directory, as a normal end does, then exits 128 + the signal as a shell
/// reports it; without this the engine, its bridges and iptables chains and
/// its directory outlive the run. A second signal meanwhile is taken as the
/// same request.
fn stop_on_signals(child: Arc<Mutex<Option<Child>>>, dir: PathBuf) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("engine-on-signal".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                eprintln!("shipshape: stopped by signal {sig}: stopping the reference engine");
                // Held until the exit: the run, whose scenarios now fail
                // against a stopping engine, must not end first with its
                // own status.
                let mut held = child.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(c) = held.take() {
                    terminate(c);
                }
                let _ = std::fs::remove_dir_all(&dir);
                std::process::exit(128 + sig);
            }
        })?;
    Ok(())
}

impl Drop for ReferenceEngine {
    fn drop(&mut self) {
        self.stop();
    }
}
