//! Daemon side of starting processes: stdio plumbing, the init process (fresh
//! or kept warm), and collecting its report.

mod spawn;
mod stdio;
mod warm;

pub use spawn::{exec_in, init_program, set_init_program, spawn, Spawned};
pub use warm::keep_warm as keep_warm_init;
