//! Shipshape's conformance harness: checks that an Engine API endpoint
//! behaves as Docker does.
//!
//! * [`client`]: raw HTTP/1.1 client (unix/tcp), version negotiation,
//!   transcript, hijacked attach and stream demultiplexing.
//! * [`fixture`]: the registry-free fixture image (static probe binary).
//! * [`scenarios`]: the checks, grouped by area; expectations come from
//!   specs/harness/expectations.json.
//! * [`report`]: results and their writers (console, JUnit, JSON, HTML).
//! * [`baseline`]: known divergences of an endpoint, for CI gating.
//! * [`diff`]: `shipshape diff`, two endpoints compared exchange by exchange.
//! * [`engine`]: starts the reference engine when no endpoint is given.
//! * [`cli`]: the `shipshape` command.

pub mod baseline;
pub mod bench;
pub mod cli;
pub mod client;
pub mod diff;
pub mod engine;
pub mod filetree;
pub mod fixture;
pub mod ground;
pub mod model;
pub mod regressions;
pub mod report;
pub mod runner;
pub mod scenarios;
pub mod schema;
