//! Restart policies (`no`, `always`, `unless-stopped`, `on-failure[:N]`)
//! with dockerd's rules:
//! * after an exit the container is "restarting" for a back-off delay that
//!   starts at 100 ms and doubles per restart (capped at 1 minute), and
//!   starts over once a run lasted 10 seconds;
//! * each automatic restart counts in `RestartCount`; a start or restart
//!   through the API resets the count and the back-off;
//! * stopping or killing through the API cancels restarting until the next
//!   start, and marks the container manually stopped (so `unless-stopped`
//!   stays down when the daemon starts again);
//! * when the daemon starts, containers whose policy asks for it run again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use super::container::Container;
use super::lifecycle;
use super::record::{Record, RestartPolicy, Status};
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run this long resets the back-off.
const RESET_AFTER: Duration = Duration::from_secs(10);

/// Set once the daemon is shutting down: its own stops are not the user's,
/// and nothing restarts any more.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Per container, in memory (dockerd's restart manager).
#[derive(Default)]
struct Manager {
    /// The last delay used; zero before the first restart.
    delay: Duration,
    /// Stopped or killed through the API since the last manual start.
    cancelled: bool,
    /// Bumped to abandon a pending restart.
    generation: u64,
}

fn managers() -> MutexGuard<'static, HashMap<String, Manager>> {
    static M: LazyLock<Mutex<HashMap<String, Manager>>> = LazyLock::new(Default::default);
    M.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn set_shutting_down() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
}

/// dockerd's checks of a restart policy (create and update), all 400s.
pub fn validate(p: &RestartPolicy) -> Result<(), EngineError> {
    match p.name.as_str() {
        "" | "no" | "always" | "unless-stopped" if p.maximum_retry_count != 0 => {
            Err(EngineError::InvalidParameter(
                "maximum retry count can only be used with 'on-failure'".into(),
            ))
        }
        "" | "no" | "always" | "unless-stopped" => Ok(()),
        "on-failure" if p.maximum_retry_count < 0 => Err(EngineError::InvalidParameter(
            "maximum retry count cannot be negative".into(),
        )),
        "on-failure" => Ok(()),
        other => Err(EngineError::InvalidParameter(format!(
            "invalid restart policy '{other}'"
        ))),
    }
}

/// A start or restart through the API: a fresh restart manager, as dockerd
/// (count, back-off and cancellation reset; no longer manually stopped).
pub fn reset(c: &Container) {
    {
        let mut m = managers();
        let e = m.entry(c.id.clone()).or_default();
        e.delay = Duration::ZERO;
        e.cancelled = false;
        e.generation += 1;
    }
    let mut r = c.record();
    r.restart_count = 0;
    r.manually_stopped = false;
}

/// Stop or kill through the API. Cancels restarting until the next manual
/// start. Returns true when the container was waiting to restart: it is
/// now exited, and there is no process to signal.
pub fn stopped_by_user(c: &Container) -> bool {
    {
        let mut m = managers();
        let e = m.entry(c.id.clone()).or_default();
        e.cancelled = true;
        e.generation += 1;
    }
    let was_restarting = {
        let mut r = c.record();
        if !SHUTTING_DOWN.load(Ordering::SeqCst) {
            r.manually_stopped = true;
        }
        let restarting = r.state.status == Status::Restarting;
        if restarting {
            r.state.status = Status::Exited;
        }
        restarting
    };
    if let Err(e) = c.save_state() {
        tracing::warn!(id = %c.id, error = %e, "persisting stop");
    }
    if was_restarting {
        c.hub.bump();
    }
    was_restarting
}

/// The container was removed: forget its manager.
pub fn forget(id: &str) {
    managers().remove(id);
}

/// Whether the policy wants a container that exited with `code` back.
fn policy_wants(r: &Record, code: i32) -> bool {
    let Some(p) = &r.host_config.restart_policy else {
        return false;
    };
    match p.name.as_str() {
        "always" => true,
        "unless-stopped" => !r.manually_stopped,
        "on-failure" => {
            code != 0 && (p.maximum_retry_count == 0 || r.restart_count < p.maximum_retry_count)
        }
        _ => false,
    }
}

fn ran_for(r: &Record) -> Duration {
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (t(&r.state.started_at), t(&r.state.finished_at)) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

/// A restart the policy asks for: its back-off and the manager's
/// generation it belongs to.
pub struct Planned {
    delay: Duration,
    generation: u64,
}

/// Called with the exit being recorded, under the record's lock: when the
/// policy wants the container back, it is "restarting" (and its count one
/// higher) from the moment the exit is visible, as dockerd shows it, never
/// "exited" in between. Takes the managers' lock inside the record's.
pub fn plan(id: &str, r: &mut Record) -> Option<Planned> {
    if SHUTTING_DOWN.load(Ordering::SeqCst) {
        return None;
    }
    let mut m = managers();
    let e = m.entry(id.to_string()).or_default();
    if e.cancelled
        || r.host_config.auto_remove
        || r.state.status != Status::Exited
        || !policy_wants(r, r.state.exit_code)
    {
        return None;
    }
    e.delay = if ran_for(r) >= RESET_AFTER || e.delay.is_zero() {
        FIRST_DELAY
    } else {
        (e.delay * 2).min(MAX_DELAY)
    };
    r.restart_count += 1;
    r.state.status = Status::Restarting;
    Some(Planned {
        delay: e.delay,
        generation: e.generation,
    })
}

/// Starts the container again after the planned back-off, unless it was
/// stopped, started, removed or restarted through the API meanwhile.
pub fn schedule(d: &Arc<Daemon>, c: &Arc<Container>, planned: Planned) {
    let Planned { delay, generation } = planned;
    tracing::info!(id = %c.id, ?delay, "restarting container per its restart policy");
    let (d, c) = (d.clone(), c.clone());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _op = c.op_lock.lock().await;
        let current = managers().get(&c.id).map(|e| e.generation);
        if current != Some(generation)
            || c.progress.borrow().removed
            || c.record().state.status != Status::Restarting
        {
            return;
        }
        if let Err(e) = lifecycle::start_unlocked(&d, &c).await {
            tracing::warn!(id = %c.id, error = %e, "automatic restart failed");
            let mut r = c.record();
            if r.state.status == Status::Restarting {
                r.state.status = Status::Exited;
            }
            drop(r);
            let _ = c.save_state();
            c.hub.bump();
        }
    });
}

/// At daemon start: runs again the containers whose policy says so
/// (dockerd's ShouldRestart on restore).
pub fn resume_on_boot(d: &Arc<Daemon>) {
    for c in d.all_containers() {
        let wants = {
            let r = c.record();
            !r.state.running() && r.state.started_at != super::record::ZERO_TIME && {
                policy_wants(&r, r.state.exit_code)
            }
        };
        if !wants {
            continue;
        }
        let d = d.clone();
        tokio::spawn(async move {
            let _op = c.op_lock.lock().await;
            if c.is_running() || c.progress.borrow().removed {
                return;
            }
            if let Err(e) = lifecycle::start_unlocked(&d, &c).await {
                tracing::warn!(id = %c.id, error = %e, "restarting container at daemon start");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_checked_like_dockerd() {
        let p = |name: &str, n: i64| RestartPolicy {
            name: name.into(),
            maximum_retry_count: n,
        };
        assert!(validate(&p("always", 0)).is_ok());
        assert!(validate(&p("on-failure", 3)).is_ok());
        assert_eq!(
            validate(&p("bogus", 0)).unwrap_err().to_string(),
            "invalid restart policy 'bogus'"
        );
        assert!(validate(&p("always", 2)).is_err());
        assert!(validate(&p("on-failure", -1)).is_err());
    }
}
