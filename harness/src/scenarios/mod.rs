//! Scenarios: named checks, grouped in areas, one module per area.
//!
//! A scenario is a plain function over a [`Ctx`](crate::ground::Ctx). It
//! returns `Ok(())` when the endpoint behaved as Docker does, or a
//! [`Problem`](crate::ground::Problem) that either fails it (with the
//! exchange that showed it, the expectation and its source) or skips it (a
//! prerequisite is missing). What a scenario body uses lives in
//! `crate::ground`; the list of scenarios and the filters in [`registry`];
//! running them in `crate::runner`.

pub mod api;
pub mod attach_api;
pub mod containers;
pub mod containers_api;
pub mod distribution;
pub mod distribution_manifests;
pub mod errors;
pub mod exec_identity;
pub mod hostile;
pub mod hygiene;
pub mod image_api;
pub mod image_ops;
pub mod images;
pub mod model;
pub mod network;
pub mod network_api;
pub mod network_connect;
pub mod network_container;
pub mod network_dns;
pub mod network_egress;
pub mod network_identity;
pub mod network_ipv6;
pub mod network_ports;
pub mod network_props;
pub mod network_release;
pub mod protocol;
pub mod registry;
pub mod run_options;
pub mod run_resources;
pub mod runtime;
pub mod schema;
pub mod security;
pub mod seed;
pub mod snapshots;
pub mod streams;
pub mod system;

pub use registry::{
    all, all_names, is_exclusive, is_long, matching, scenario, select, select_partition, Partition,
    Scenario, ScenarioFn, EXCLUSIVE, LOAD_FIXTURE, NOTHING_LEFT,
};
