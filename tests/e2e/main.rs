//! The functional end-to-end tests, one binary: the docker CLI, the harness
//! and raw HTTP against a real `shipshape-engine` (and, for comparisons, the
//! machine's dockerd). Each module is one area; shared helpers live in the
//! support library (`tests/support/`, crate `shipshape_tests`).
//!
//! Tests here run in parallel threads. Each starts its own engine on its own
//! temp socket and data root, and whatever a test measures (fds, mounts,
//! descendants) is scoped to that engine, so neighbours cannot disturb it.
//! The SIGKILL crash test and the load test, which would, live in the
//! `stress` binary instead (cargo runs test binaries one after another).
//!
//! Run one area with `cargo test --test e2e engine_volumes::`.

mod docker_cli;
mod engine_build;
mod engine_cgroups;
mod engine_compose;
mod engine_conformance;
mod engine_dns;
mod engine_events;
mod engine_exec_cp;
mod engine_hostile;
mod engine_images_more;
mod engine_networks;
mod engine_registry;
mod engine_registry_modes;
mod engine_security;
mod engine_volumes;
mod fuzz_api;
mod harness_cli;
mod harness_endpoints;
mod harness_robustness;
