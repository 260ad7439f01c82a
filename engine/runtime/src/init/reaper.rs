//! `HostConfig.Init` (`docker run --init`): where dockerd runs docker-init
//! (tini) as the container's pid 1, the engine's own init stays pid 1 as a
//! minimal reaper: it forks the command, forwards every signal it gets to
//! it, reaps every child (orphans are re-parented to it), and exits with
//! the command's status (128 + signal when a signal ended it, as tini).

use std::convert::Infallible;

use nix::unistd::{fork, ForkResult};

use crate::error::RuntimeError;

/// Runs `command` (which execs, or returns why it could not) in a child and
/// reaps until that child exits. Never returns in the reaper.
pub(super) fn run(
    command: impl FnOnce() -> Result<Infallible, RuntimeError>,
) -> Result<Infallible, RuntimeError> {
    // Block every signal before the fork, so none is lost or acted on
    // before the loop waits for it. Blocked, they also reach a pid 1 that
    // has no handler. The command unblocks them (process::finish).
    // SAFETY: plain signal-mask calls on a zeroed sigset_t.
    let all = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        all
    };
    // SAFETY: this process is single-threaded (the re-exec'd init).
    let child = match unsafe { fork() }.map_err(|e| RuntimeError::sys("fork the command", e))? {
        ForkResult::Child => return command(),
        ForkResult::Parent { child } => child.as_raw(),
    };
    // The daemon sees the start succeed when the channel closes (the
    // command's copy closes on exec), and the container's output ends when
    // its processes close it: the reaper keeps neither.
    // SAFETY: closing fds this process owns and never uses again.
    unsafe {
        libc::close(super::CHANNEL_FD);
        for fd in 0..=2 {
            libc::close(fd);
        }
    }
    loop {
        let mut sig = 0;
        // SAFETY: `all` is a valid set; `sig` a valid out pointer.
        if unsafe { libc::sigwait(&all, &mut sig) } != 0 {
            continue;
        }
        if sig != libc::SIGCHLD {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child, sig) };
            continue;
        }
        loop {
            let mut status = 0;
            // SAFETY: a valid out pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == child {
                let code = if libc::WIFSIGNALED(status) {
                    128 + libc::WTERMSIG(status)
                } else {
                    libc::WEXITSTATUS(status)
                };
                // SAFETY: the container ends with its command.
                unsafe { libc::_exit(code) }
            }
        }
    }
}
