//! The end-to-end tests that load the whole machine or depend on timing, in
//! their own binary so no functional test runs beside them (cargo runs test
//! binaries one after another): SIGKILLs at random moments during a
//! workload, and 64 clients at once. They also run one at a time, through
//! [`alone`].
//!
//! `cargo test --test stress engine_crash:: -- --nocapture` runs one of them.

mod engine_crash;
mod engine_load;

use std::sync::{Mutex, MutexGuard};

/// Held for the whole of each test here: the crash test's kill timing and
/// the load test's deadlines assume the machine is theirs. A test that
/// failed while holding it poisons it; the next one still runs.
fn alone() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
