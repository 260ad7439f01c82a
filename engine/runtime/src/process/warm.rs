//! Init processes, and the one kept warm.
//!
//! Starting the init (fork of the daemon, execve, dynamic loading, the
//! runtime's start-up) is about 2 ms of a container start on a small VM,
//! and none of it depends on the container: the init only learns what to do
//! when it reads its request. So once containers are being started, one
//! init is started ahead of need and left blocked on its channel; the next
//! `spawn`/`exec_in` takes it, and a background thread starts its successor
//! off the critical path.
//!
//! The warm init is the daemon's cost, not a container's: it runs the
//! daemon's own program in the daemon's cgroup, with /dev/null as stdio. It is
//! retired (its channel closed, so it exits) once no process has been started
//! for the configured idle time, so an idle daemon holds no extra process.
//! Off unless the daemon calls [`keep_warm`].

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use crate::channel::Channel;
use crate::error::RuntimeError;
use crate::process::spawn::init_program;
use crate::process::stdio::high_fd;
use crate::supervisor;
use crate::INIT_ARG;

/// A started init, blocked reading its request.
pub(crate) struct Init {
    pub(crate) chan: Channel,
    pub(crate) pid: i32,
}

impl Init {
    /// Fork and exec the init program with the channel as fd 3 and
    /// /dev/null as stdio. Its exit status is discarded: it is the
    /// short-lived intermediate (or a warm init that was retired).
    pub(crate) fn start() -> Result<Init, RuntimeError> {
        let program = init_program();
        let (chan, child_sock) = Channel::pair()?;
        // Above 3, so the dup2 onto 3 below cannot clobber it.
        let child_sock: OwnedFd = high_fd(child_sock)?;
        let sock_raw = child_sock.as_raw_fd();
        let mut cmd = Command::new(&program);
        cmd.arg(INIT_ARG)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: runs between fork and exec; dup2 is async-signal-safe and
        // clears CLOEXEC on the new fd 3.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(sock_raw, 3) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = {
            // Keep the reaper from reaping this child while std may still waitpid it.
            let _gate = supervisor::spawn_gate();
            cmd.spawn()
        }
        .map_err(|e| {
            RuntimeError::Io(io::Error::new(
                e.kind(),
                format!("start init {}: {e}", program.display()),
            ))
        })?;
        supervisor::child_added();
        let pid = child.id() as i32;
        // Never `wait` on it: the supervisor reaps it. Our copy of its end
        // must go, so that EOF on the channel means what it should.
        drop(child);
        drop(child_sock);
        supervisor::discard(pid);
        Ok(Init { chan, pid })
    }
}

struct Pool {
    /// Retire the warm init after this long without a start; None = off.
    keep_for: Option<Duration>,
    warm: Option<Init>,
    last_take: Option<Instant>,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    keep_for: None,
    warm: None,
    last_take: None,
});
static WAKE: Condvar = Condvar::new();
static WARMER: Once = Once::new();

fn pool() -> MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keep one init started ahead of need while processes are being started,
/// retiring it after `idle` without a start. The first start after an idle
/// period pays for a fresh init and warms the next one.
pub fn keep_warm(idle: Duration) {
    pool().keep_for = Some(idle);
    WARMER.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("shipshape-warm-init".into())
            .spawn(warmer);
        if let Err(e) = spawned {
            tracing::warn!("no warm init: {e}");
        }
    });
}

/// The warm init if there is one (and a successor is on its way); None
/// when warming is off or the last one is still starting.
pub(crate) fn take() -> Option<Init> {
    let mut p = pool();
    p.keep_for?;
    p.last_take = Some(Instant::now());
    let warm = p.warm.take();
    WAKE.notify_all();
    warm
}

/// Starts a warm init whenever the slot is empty and starts are recent;
/// retires it when they are not.
fn warmer() {
    let mut p = pool();
    loop {
        let (Some(keep_for), Some(last)) = (p.keep_for, p.last_take) else {
            p = WAKE.wait(p).unwrap_or_else(|e| e.into_inner());
            continue;
        };
        let idle_for = last.elapsed();
        if idle_for >= keep_for {
            if let Some(retired) = p.warm.take() {
                tracing::debug!(pid = retired.pid, "retiring the warm init");
            }
            p.last_take = None;
            continue;
        }
        if p.warm.is_none() {
            drop(p);
            let started = Init::start();
            p = pool();
            match started {
                Ok(init) => p.warm = Some(init),
                Err(e) => {
                    // Starts still work (each pays for its own init); try
                    // again at the next start rather than spinning.
                    tracing::warn!(error = %e, "starting a warm init");
                    p.last_take = None;
                }
            }
            continue;
        }
        let (guard, _) = WAKE
            .wait_timeout(p, keep_for - idle_for)
            .unwrap_or_else(|e| e.into_inner());
        p = guard;
    }
}
