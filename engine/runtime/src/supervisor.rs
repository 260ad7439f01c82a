//! The single reaper thread for all containers.
//!
//! The daemon is a child subreaper (`PR_SET_CHILD_SUBREAPER`): every container's
//! pid 1 is forked by a short-lived intermediate that exits immediately, so the
//! container is re-parented to the daemon and this thread reaps it with its real
//! exit status. No helper process stays behind per container.
//!
//! Design points:
//! * `waitid(P_ALL, WEXITED|WNOWAIT)` first *peeks* at a zombie, and the zombie is
//!   only reaped while holding the spawn gate for writing. `spawn` holds the gate
//!   for reading around `std::process::Command::spawn`, whose failure path calls
//!   `waitpid` on its child and asserts success: we must never steal that child.
//! * Statuses of pids nobody watches yet are kept (`unclaimed`), because a
//!   container may exit before the daemon calls [`Supervisor::watch`].
//! * Intermediates (and processes whose setup failed) are `discard`ed by spawn,
//!   so their statuses don't pile up in `unclaimed`.
//! * With no children, `waitid` fails with ECHILD; the thread then sleeps on a
//!   condvar until spawn/watch bump `generation`.

use std::collections::{HashMap, HashSet};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use serde::{Deserialize, Serialize};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitStatus {
    Exited(i32),
    /// Killed by this signal number.
    Signaled(i32),
}

impl ExitStatus {
    /// Shell-style code: the exit code, or 128+signal.
    pub fn code(&self) -> i32 {
        match *self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

type OnExit = Box<dyn FnOnce(ExitStatus) + Send>;

#[derive(Default)]
struct State {
    watchers: HashMap<i32, OnExit>,
    unclaimed: HashMap<i32, ExitStatus>,
    discard: HashSet<i32>,
    /// Bumped whenever a child may have appeared; wakes the thread after ECHILD.
    generation: u64,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

static SHARED: OnceLock<Shared> = OnceLock::new();
static INSTANCE: OnceLock<Arc<Supervisor>> = OnceLock::new();
/// See module docs: readers = in-flight `Command::spawn`, writer = reaping.
static SPAWN_GATE: RwLock<()> = RwLock::new(());

fn shared() -> &'static Shared {
    SHARED.get_or_init(|| Shared {
        state: Mutex::new(State::default()),
        wake: Condvar::new(),
    })
}

fn lock() -> MutexGuard<'static, State> {
    // A panic while holding the lock can only come from our own bookkeeping;
    // the maps stay consistent enough to keep going.
    shared().state.lock().unwrap_or_else(|p| p.into_inner())
}

/// The daemon-wide reaper. Obtain it with [`Supervisor::start`].
pub struct Supervisor {
    _private: (),
}

impl Supervisor {
    /// Make the daemon a child subreaper and start the reaper thread. Idempotent:
    /// later calls return the same instance.
    pub fn start() -> io::Result<Arc<Supervisor>> {
        if let Some(s) = INSTANCE.get() {
            return Ok(s.clone());
        }
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut started = false;
        let sup = INSTANCE.get_or_init(|| {
            started = true;
            Arc::new(Supervisor { _private: () })
        });
        if started {
            std::thread::Builder::new()
                .name("shipshape-reaper".into())
                .spawn(reap_loop)?;
        }
        Ok(sup.clone())
    }

    /// Call `on_exit` once `pid` (a child of the daemon, i.e. a spawned
    /// container or exec process) exits. If it already exited, `on_exit` runs
    /// right away on the calling thread; otherwise on the reaper thread — keep it
    /// short and non-blocking (send on a channel). Call at most once per pid.
    pub fn watch(&self, pid: i32, on_exit: Box<dyn FnOnce(ExitStatus) + Send>) {
        let ready = {
            let mut st = lock();
            match st.unclaimed.remove(&pid) {
                Some(status) => Some((status, on_exit)),
                None => {
                    st.watchers.insert(pid, on_exit);
                    st.generation += 1;
                    None
                }
            }
        };
        shared().wake.notify_all();
        if let Some((status, cb)) = ready {
            run_callback(pid, status, cb);
        }
    }

    /// Block until `pid` exits (convenience over [`Supervisor::watch`]).
    pub fn wait(&self, pid: i32) -> ExitStatus {
        let (tx, rx) = std::sync::mpsc::channel();
        self.watch(
            pid,
            Box::new(move |st| {
                let _ = tx.send(st);
            }),
        );
        // The sender is dropped without sending only if the callback is dropped,
        // which the supervisor never does; treat it like a lost process.
        rx.recv().unwrap_or(ExitStatus::Signaled(libc::SIGKILL))
    }

    /// Spawn a non-container helper command (e.g. a `tar`) without racing the
    /// reaper. Do NOT call `Child::wait`/`output` on it (the reaper takes the
    /// status): use [`Supervisor::wait`] or [`Supervisor::watch`] with `child.id()`.
    pub fn spawn_command(
        &self,
        cmd: &mut std::process::Command,
    ) -> io::Result<std::process::Child> {
        let child = {
            let _gate = spawn_gate();
            cmd.spawn()?
        };
        child_added();
        Ok(child)
    }

    /// Statuses reaped but not (yet) claimed by `watch`; for diagnostics/tests.
    pub fn unclaimed_count(&self) -> usize {
        lock().unclaimed.len()
    }
}

/// Whether [`Supervisor::start`] ran (spawn refuses to run without a reaper:
/// nobody would collect the container's exit status).
pub(crate) fn is_started() -> bool {
    INSTANCE.get().is_some()
}

/// Hold while forking a child whose exit must not be reaped behind std's back.
pub(crate) fn spawn_gate() -> std::sync::RwLockReadGuard<'static, ()> {
    SPAWN_GATE.read().unwrap_or_else(|p| p.into_inner())
}

/// A new child exists: wake the reaper if it sleeps after ECHILD.
pub(crate) fn child_added() {
    lock().generation += 1;
    shared().wake.notify_all();
}

/// Drop the exit status of `pid` (an intermediate, or a process whose setup
/// failed) whether it was already reaped or not.
pub(crate) fn discard(pid: i32) {
    let mut st = lock();
    if st.unclaimed.remove(&pid).is_none() {
        st.discard.insert(pid);
    }
}

fn run_callback(pid: i32, status: ExitStatus, cb: OnExit) {
    // A panicking callback must not kill the one reaper of the daemon.
    if catch_unwind(AssertUnwindSafe(|| cb(status))).is_err() {
        tracing::error!(pid, "exit callback panicked");
    }
}

fn dispatch(pid: i32, status: ExitStatus) {
    let cb = {
        let mut st = lock();
        if st.discard.remove(&pid) {
            tracing::trace!(pid, ?status, "reaped discarded process");
            return;
        }
        match st.watchers.remove(&pid) {
            Some(cb) => cb,
            None => {
                tracing::debug!(pid, ?status, "reaped unwatched process; keeping status");
                st.unclaimed.insert(pid, status);
                return;
            }
        }
    };
    tracing::debug!(pid, ?status, "process exited");
    run_callback(pid, status, cb);
}

fn reap_loop() {
    loop {
        let seen = lock().generation;
        match waitid(Id::All, WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(status) => {
                let Some(pid) = status.pid() else { continue };
                let reaped = {
                    let _gate = SPAWN_GATE.write().unwrap_or_else(|p| p.into_inner());
                    waitpid(pid, Some(WaitPidFlag::WNOHANG))
                };
                // Dispatch outside the gate: a callback may spawn (restart policy).
                match reaped {
                    Ok(WaitStatus::Exited(p, code)) => {
                        dispatch(p.as_raw(), ExitStatus::Exited(code))
                    }
                    Ok(WaitStatus::Signaled(p, sig, _)) => {
                        dispatch(p.as_raw(), ExitStatus::Signaled(sig as i32))
                    }
                    // Someone else (std's failed-spawn path) reaped it meanwhile.
                    Ok(_) | Err(Errno::ECHILD) => {}
                    Err(e) => tracing::warn!(pid = pid.as_raw(), "waitpid: {e}"),
                }
            }
            Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) => {
                // The timeout is only a safety net for children we were not
                // told about (e.g. created by other daemon code).
                let st = lock();
                let _unused = shared()
                    .wake
                    .wait_timeout_while(st, Duration::from_secs(5), |s| s.generation == seen)
                    .unwrap_or_else(|p| p.into_inner());
            }
            Err(e) => {
                tracing::error!("waitid: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(ExitStatus::Exited(7).code(), 7);
        assert_eq!(ExitStatus::Signaled(9).code(), 137);
    }
}
