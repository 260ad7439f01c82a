//! Containers: their record on disk and its in-memory handle, the lifecycle
//! (create, start, stop, remove), restart policies, cgroups, exec, logs and
//! attach I/O, stats and top, names, and what a restart after a crash puts
//! right (recovery, the trash of half-removed containers, the shared init
//! layer).

pub mod blkio;
pub mod cgroups;
pub mod container;
pub mod detach;
pub mod devices;
pub mod exec;
pub mod filters;
pub mod health;
pub mod init_layer;
pub mod io;
pub mod lifecycle;
pub mod links;
pub mod log_driver;
pub mod logs;
pub mod names;
pub mod namespaces;
pub mod record;
pub mod recovery;
pub mod restart;
mod root;
pub mod security;
pub mod spec;
pub mod stats;
pub mod top;
pub mod trash;
pub mod validate;
