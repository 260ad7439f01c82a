//! Supervisor bookkeeping: intermediates and failed starts leave nothing behind.
//! (Own test binary: the count is process-wide.)

mod common;

use common::{finish, fixture, Container};
use shipshape_runtime::supervisor::ExitStatus;

#[test]
fn no_unclaimed_statuses_pile_up() {
    let Some(f) = fixture() else { return };
    let c = Container::new(f);
    for i in 0..5 {
        let s = shipshape_runtime::spawn(&c.spec(&["sh", "-c", &format!("exit {i}")])).unwrap();
        assert_eq!(finish(f, s).status, ExitStatus::Exited(i));
        assert!(shipshape_runtime::spawn(&c.spec(&["missing-command"])).is_err());
    }
    // Intermediates are discarded by spawn itself, failed container processes
    // on the error path, and watched processes are claimed.
    assert_eq!(f.supervisor.unclaimed_count(), 0);
}
