#![recursion_limit = "256"]
//! `shipshape-engine`: a reference Docker engine.
//!
//! Layers, each unaware of the one above it:
//! - [`api`]: HTTP. One module per API group; parses requests, renders Docker's JSON.
//! - [`daemon`]: the engine's state: containers and their lifecycle, logs, attach.
//!   It drives the two lower crates.
//! - `shipshape_store` (engine/store): images, layers, atomic persistence.
//! - `shipshape_runtime` (engine/runtime): rootfs, namespaces, processes, supervision.
//!
//! [`error`] is the one place where failures become Docker status codes.

pub mod api;
pub mod daemon;
pub mod errdefs;
pub mod filters;
pub mod server;
pub mod version;
