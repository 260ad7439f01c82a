//! `spawn` / `exec_in`: hand the request to an init process and wait for its
//! verdict.
//!
//! The daemon is multi-threaded, and namespaces (unshare/setns of pid and mnt)
//! need a single-threaded process, so all the work happens in a separate
//! `<init program> __shipshape-init` process (see `crate::init`), fresh or
//! kept warm (`super::warm`). This side only prepares stdio, sends it with the
//! request over the channel and reads back the pid and either an error or
//! EOF (= execve succeeded).

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::RwLock;

use crate::channel::{Channel, InitMessage};
use crate::error::RuntimeError;
use crate::path::is_clean_absolute;
use crate::process::stdio::Plumbing;
use crate::process::warm::{self, Init};
use crate::spec::{ExecSpec, InitRequest, ProcessSpec};
use crate::supervisor;

/// A started process and the daemon's ends of its stdio.
#[derive(Debug)]
pub struct Spawned {
    /// The sockets `ProcessSpec::dns_bind` asked for, bound in the
    /// container's network namespace (UDP, TCP).
    pub dns_sockets: Option<(std::net::UdpSocket, std::net::TcpListener)>,
    /// Host pid (pid 1 inside the container for `spawn`).
    pub pid: i32,
    /// Write end; None unless `open_stdin`. With a tty: a dup of the pty master.
    pub stdin: Option<File>,
    /// Read end; with a tty the pty master (stdout+stderr merged). Reading a pty
    /// master returns EIO once the container side is closed: treat as EOF.
    pub stdout: File,
    /// None with a tty.
    pub stderr: Option<File>,
}

static INIT_PROGRAM: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Use `path` as the init program (it must call [`crate::init_main`] when its
/// first argument is [`INIT_ARG`](crate::INIT_ARG)). Default: `/proc/self/exe`.
pub fn set_init_program(path: impl Into<PathBuf>) {
    let mut slot = INIT_PROGRAM.write().unwrap_or_else(|p| p.into_inner());
    *slot = Some(path.into());
}

/// The program `spawn` re-executes.
pub fn init_program() -> PathBuf {
    let slot = INIT_PROGRAM.read().unwrap_or_else(|p| p.into_inner());
    slot.clone()
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"))
}

fn check_common(args: &[String], cwd: &str, env: &[String]) -> Result<(), RuntimeError> {
    if args.is_empty() || args[0].is_empty() {
        return Err(RuntimeError::InvalidSpec("no command specified".into()));
    }
    if !cwd.is_empty() && !is_clean_absolute(cwd) {
        return Err(RuntimeError::InvalidWorkingDir {
            path: cwd.into(),
            reason: "the working directory must be an absolute path".into(),
        });
    }
    if args.iter().chain(env).any(|s| s.contains('\0')) {
        return Err(RuntimeError::InvalidSpec(
            "arguments and environment must not contain NUL bytes".into(),
        ));
    }
    Ok(())
}

/// Start a container's main process (pid 1 of new namespaces) in `spec.rootfs`.
///
/// Blocks until the command has been exec'd, or returns the typed error
/// (`ExecNotFound`, `InvalidUser`, …) from inside the container. The daemon must
/// have started the [`supervisor::Supervisor`] first; the caller then `watch`es
/// the returned pid.
pub fn spawn(spec: &ProcessSpec) -> Result<Spawned, RuntimeError> {
    check_common(&spec.args, &spec.cwd, &spec.env)?;
    if !spec.rootfs.is_absolute() {
        return Err(RuntimeError::InvalidSpec(format!(
            "rootfs must be an absolute path: {}",
            spec.rootfs.display()
        )));
    }
    for m in &spec.mounts {
        if !is_clean_absolute(&m.destination) {
            return Err(RuntimeError::InvalidSpec(format!(
                "mount destination must be an absolute path: {}",
                m.destination
            )));
        }
    }
    crate::init::sysctl::check(&spec.sysctls, spec.network)?;
    launch(
        InitRequest::Run(Box::new(spec.clone())),
        spec.tty,
        spec.open_stdin,
    )
}

/// Start an extra process inside the running container whose init has host pid
/// `pid` (joins its ipc, uts, net, pid and mount namespaces).
pub fn exec_in(pid: i32, spec: &ExecSpec) -> Result<Spawned, RuntimeError> {
    check_common(&spec.args, &spec.cwd, &spec.env)?;
    if pid <= 0 || !std::path::Path::new(&format!("/proc/{pid}/ns/mnt")).exists() {
        return Err(RuntimeError::NotRunning { pid });
    }
    launch(
        InitRequest::Exec {
            pid,
            spec: Box::new(spec.clone()),
        },
        spec.tty,
        spec.open_stdin,
    )
}

/// Send `req` and the container's stdio to the warm init, or to a fresh one
/// if there is none (or it died while it waited). The send's own result is
/// kept: a failed send shows up as an init that reports nothing.
fn hand_over(
    req: &InitRequest,
    stdio: [RawFd; 3],
) -> Result<(Channel, std::io::Result<()>), RuntimeError> {
    if let Some(init) = warm::take() {
        match init.chan.send_request(req, stdio) {
            Ok(()) => return Ok((init.chan, Ok(()))),
            Err(e) => tracing::debug!(pid = init.pid, error = %e, "the warm init is gone"),
        }
    }
    let init = Init::start()?;
    let sent = init.chan.send_request(req, stdio);
    Ok((init.chan, sent))
}

fn launch(req: InitRequest, tty: bool, open_stdin: bool) -> Result<Spawned, RuntimeError> {
    if !supervisor::is_started() {
        return Err(RuntimeError::Other(
            "Supervisor::start() must be called before starting processes".into(),
        ));
    }
    let program = init_program();
    let plumbing = Plumbing::new(tty, open_stdin)?;
    let stdio = plumbing.child.each_ref().map(|fd| fd.as_raw_fd());
    let (chan, send_result) = hand_over(&req, stdio)?;
    // The init holds its own copies now; ours must go, so that EOF on the
    // container's output means the container closed it.
    drop(plumbing.child);
    let mut pid = None;
    let mut error = None;
    let mut dns_sockets = None;
    let mut console: Option<File> = None;
    loop {
        match chan.recv_message() {
            Ok(Some((InitMessage::Pid(p), _))) => pid = Some(p),
            Ok(Some((InitMessage::Error(e), _))) => error = Some(RuntimeError::from(e)),
            Ok(Some((InitMessage::DnsSockets, fds))) => {
                if let Ok([udp, tcp]) = <[OwnedFd; 2]>::try_from(fds) {
                    dns_sockets = Some((
                        std::net::UdpSocket::from(udp),
                        std::net::TcpListener::from(tcp),
                    ));
                }
            }
            Ok(Some((InitMessage::Console, fds))) => {
                console = fds.into_iter().next().map(File::from);
            }
            Ok(None) => break,
            Err(e) => {
                error.get_or_insert(e);
                break;
            }
        }
    }
    if let Some(e) = error {
        if let Some(p) = pid {
            // It exits right after reporting; nobody will watch it.
            supervisor::discard(p);
        }
        tracing::debug!(error = %e, "container process failed to start");
        return Err(e);
    }
    let Some(pid) = pid else {
        let why = match send_result {
            Err(e) => format!("init process {} failed: {e}", program.display()),
            Ok(()) => format!(
                "init process {} exited without reporting a pid",
                program.display()
            ),
        };
        return Err(RuntimeError::Other(why));
    };
    tracing::debug!(pid, "container process started");
    if tty {
        // The terminal is the container's own pty; its master came back.
        let Some(master) = console else {
            let _ = crate::signal::kill(pid, libc::SIGKILL);
            supervisor::discard(pid);
            return Err(RuntimeError::Other(
                "the container's init sent no console".into(),
            ));
        };
        let stdin = if open_stdin {
            Some(master.try_clone()?)
        } else {
            None
        };
        return Ok(Spawned {
            pid,
            dns_sockets,
            stdin,
            stdout: master,
            stderr: None,
        });
    }
    Ok(Spawned {
        pid,
        dns_sockets,
        stdin: plumbing.stdin,
        stdout: plumbing.stdout,
        stderr: plumbing.stderr,
    })
}
