#![recursion_limit = "256"]
//! `shipshape-engine`: a reference Docker engine.
//!
//! Layers, each knowing only the one below it:
//! - [`server`]: listeners (unix sockets, TCP with TLS); hands each request to `api`.
//! - [`api`]: HTTP only. Parses a request, calls the daemon, renders Docker's
//!   JSON; `api::error` is the one place an error category becomes a status code.
//! - [`daemon`]: the engine's state and rules, grouped by concept (containers,
//!   images, volumes, networks, events, archives). The only caller of the two
//!   lower crates; it never imports `api`.
//! - `shipshape_store` (engine/store): images, layers, atomic persistence.
//! - `shipshape_runtime` (engine/runtime): rootfs, namespaces, processes, supervision.
//!
//! Below both `api` and `daemon`, shared by them: [`errdefs`] (the engine's
//! error, by category as moby's errdefs), [`filters`] (Docker's filter
//! grammar: `filters=` JSON, labels, `since`/`until` timestamps), [`gojson`]
//! (JSON decoding errors in Go's words) and
//! [`version`] (the engine and API versions).

pub mod api;
pub mod daemon;
pub mod errdefs;
pub mod filters;
pub mod gojson;
pub mod server;
pub mod version;
