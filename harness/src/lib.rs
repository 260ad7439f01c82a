//! Shipshape's conformance harness: checks that an Engine API endpoint
//! behaves as Docker does.
//!
//! Layers, bottom up (each module uses only those listed before it):
//!
//! * [`client`]: raw HTTP/1.1 client (unix/tcp), version negotiation,
//!   transcript, hijacked attach and stream demultiplexing.
//! * [`coverage`]: the transcript matched to the Engine API spec's
//!   operations: parameters sent, statuses seen.
//! * [`fixture`]: the registry-free fixture image (static probe binary).
//! * [`schema`]: JSON answers checked against the Engine API schemas.
//! * [`regressions`]: proptest seeds replayed from the tracked corpus,
//!   new failures saved outside it.
//! * [`filetree`]: the fixture's /data as the probe dumps it.
//! * [`ground`]: what a scenario body uses: context, problems, helpers
//!   and the expectations of specs/harness/expectations.json.
//! * [`model`]: the reference model of Docker's state (`model/lifecycle`).
//! * [`scenarios`]: the checks, grouped by area, and their registry.
//! * [`report`]: results and their writers (console, JUnit, JSON, HTML).
//! * [`baseline`]: known divergences of an endpoint, for CI gating.
//! * [`runner`]: runs the selected scenarios and finishes a run (reports,
//!   baseline, exit status).
//! * [`diff`]: `shipshape diff`, two endpoints compared exchange by exchange.
//! * [`bench`]: `shipshape bench`, latencies, throughput and memory.
//! * [`engine`]: starts the reference engine when no endpoint is given.
//! * [`cli`]: the `shipshape` command.

pub mod baseline;
pub mod bench;
pub mod cli;
pub mod client;
pub mod coverage;
pub mod diff;
pub mod engine;
pub mod filetree;
pub mod fixture;
pub mod ground;
pub mod model;
pub mod mutate;
pub mod regressions;
pub mod report;
pub mod runner;
pub mod scenarios;
pub mod schema;
