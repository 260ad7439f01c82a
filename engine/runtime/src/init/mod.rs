//! The re-exec'd init: everything that must happen in a single-threaded process
//! (unshare/setns, fork into the new pid namespace, mounts, pivot_root, user
//! switch, execve).
//!
//! Process tree while starting a container:
//!
//! ```text
//! daemon (child subreaper, multi-threaded)
//!   └─ init "intermediate" (this program, fd 3 = channel; it may have been
//!      started ahead of need, see `process::warm`, and blocks reading the
//!      request, which brings the container's stdio to install as 0/1/2)
//!        unshare(...); fork()
//!        ├─ parent: reports the child's host pid, _exit(0)   -> reaped by the daemon
//!        └─ child: pid 1 of the new pid ns; mounts, pivot_root, setuid, execve
//!                  (re-parented to the daemon when the intermediate exits)
//! ```
//!
//! Nothing here may write to stdout/stderr: those are the container's streams.
//! Failures travel to the daemon over the channel as [`crate::error::WireError`].

pub(crate) mod caps;
mod command;
mod console;
mod devices;
mod exec;
pub(crate) mod mounts;
mod namespaces;
mod network;
mod process;
mod propagation;
mod reaper;
mod rlimits;
mod run;
pub(crate) mod sysctl;
pub(crate) mod user;

use std::convert::Infallible;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::channel::{Channel, InitMessage};
use crate::error::RuntimeError;
use crate::spec::InitRequest;

/// The channel's fd number in the init (set up by the daemon's pre_exec).
const CHANNEL_FD: i32 = 3;

/// Entry point of the re-exec'd init. The engine's `main` must call this FIRST
/// THING when `argv[1] == INIT_ARG` (before starting any thread or runtime).
pub fn init_main() -> ! {
    // A panic message would land in the container's stderr; stay silent and
    // report through the channel instead.
    std::panic::set_hook(Box::new(|_| {}));
    // SAFETY: fstat on a raw fd number only inspects it.
    let is_socket = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(CHANNEL_FD, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK
    };
    if !is_socket {
        eprintln!("shipshape init: must be started by the shipshape runtime");
        // SAFETY: terminating the process.
        unsafe { libc::_exit(2) }
    }
    close_extra_fds();
    // SAFETY: fd 3 is the channel the daemon passed; we take ownership once.
    let chan = Channel::from_fd(unsafe { OwnedFd::from_raw_fd(CHANNEL_FD) });
    let result = catch_unwind(AssertUnwindSafe(|| run_request(&chan)));
    let err = match result {
        Ok(Ok(never)) => match never {},
        Ok(Err(e)) => e,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            RuntimeError::Other(format!("init panicked: {msg}"))
        }
    };
    fail(&chan, err)
}

/// Report `err` to the daemon and exit.
pub(crate) fn fail(chan: &Channel, err: RuntimeError) -> ! {
    let _ = chan.send_message(&InitMessage::Error(err.to_wire()));
    // SAFETY: _exit skips atexit handlers and stdio flushing, which belong to
    // the daemon image we were exec'd from.
    unsafe { libc::_exit(127) }
}

fn run_request(chan: &Channel) -> Result<Infallible, RuntimeError> {
    let Some((req, stdio)) = chan.recv_request()? else {
        // A warm init the daemon retired (or a daemon that died): nothing to do.
        // SAFETY: terminating the process.
        unsafe { libc::_exit(0) }
    };
    install_stdio(stdio)?;
    match req {
        InitRequest::Run(spec) => run::start(chan, &spec),
        InitRequest::Exec { pid, spec } => exec::start(chan, pid, &spec),
    }
}

/// The container's stdio, received with the request, becomes fds 0, 1, 2.
/// They arrived as fds >= 4 (0..=3 are open), so no dup2 clobbers another.
fn install_stdio(stdio: [OwnedFd; 3]) -> Result<(), RuntimeError> {
    for (target, fd) in stdio.iter().enumerate() {
        // SAFETY: dup2 onto 0..=2, which this process owns; it clears CLOEXEC.
        if unsafe { libc::dup2(fd.as_raw_fd(), target as i32) } < 0 {
            return Err(RuntimeError::Io(std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Only 0, 1, 2 and the channel may survive into the container; the channel is
/// CLOEXEC so execve drops it too.
fn close_extra_fds() {
    // SAFETY: close_range/close/fcntl on fd numbers; nothing else owns fds >= 4
    // in this freshly exec'd, single-threaded process.
    unsafe {
        if libc::syscall(libc::SYS_close_range, CHANNEL_FD as u32 + 1, u32::MAX, 0u32) != 0 {
            for fd in (CHANNEL_FD + 1)..1024 {
                libc::close(fd);
            }
        }
        libc::fcntl(CHANNEL_FD, libc::F_SETFD, libc::FD_CLOEXEC);
    }
}
