//! A reference model of Docker's state, for model-based lifecycle testing
//! with `proptest-state-machine`.
//!
//! The model tracks containers (created, running, paused, exited, removed;
//! `restarting` is in the vocabulary but never generated: it only shows with
//! a restart policy and a crashing process, which cannot be timed), images
//! (symbolic tags, layer counts, parents, the files under /data a fresh
//! container sees), volumes (their files) and each container's writable
//! layer (/data). [`step`] is the single source of truth: it predicts the
//! status code and observable results of a transition and returns the next
//! state. [`sut`] replays the transitions against an endpoint and compares.
//!
//! Everything the model predicts was observed on dockerd 20.10.24 (API 1.41)
//! and is recorded in specs/harness/expectations.json under `model/*`.
//!
//! Objects are named symbolically (container `k3`, image 2, tag `t5`, volume
//! `v1`), by order of creation in the sequence, so a sequence means the same
//! thing on every endpoint and in the replay script.
//!
//! * [`state`]: the vocabulary: containers, images, volumes, the state and
//!   the operations ([`Op`]);
//! * [`step`]: [`step`] and [`precondition`], the model's rules;
//! * [`generate`]: strategies for operations and sequences;
//! * [`support`]: which optional operations an endpoint routes;
//! * [`sut`]: one sequence replayed against the endpoint and compared;
//! * [`replay`]: a sequence as text and as a curl script;
//! * [`lifecycle`]: the `model/lifecycle` run (cases, shrinking, persisted
//!   seeds).

pub mod generate;
pub mod lifecycle;
pub mod replay;
pub mod state;
pub mod step;
pub mod support;
pub mod sut;

pub use generate::{sequences, transitions, DockerModel};
pub use state::{
    kind, kinds_of, Container, FileWrite, Image, Op, Place, State, Status, Volume, ALL_KINDS,
};
pub use step::{precondition, step, Prediction};
pub use support::{route_missing, Support};

/// Exit code of a SIGKILLed process as Docker reports it (128 + 9).
pub const KILLED: i64 = 137;

#[cfg(test)]
mod tests;
