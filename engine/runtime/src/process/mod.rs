//! Daemon side of starting processes: stdio plumbing, re-exec of the init,
//! and collecting its report.

mod spawn;
mod stdio;

pub use spawn::{exec_in, init_program, set_init_program, spawn, Spawned};
