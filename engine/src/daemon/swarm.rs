//! Swarm mode. The engine is a single node that never joins a swarm, so it
//! answers as dockerd does outside one: the swarm's objects (services,
//! nodes, tasks, secrets, configs) are unavailable, leaving is refused,
//! and init and join, which dockerd would carry out, are not implemented.

use crate::errdefs::EngineError;

/// What every manager-only operation answers outside a swarm.
pub fn not_a_manager() -> EngineError {
    EngineError::Unavailable(
        "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again."
            .into(),
    )
}

/// `POST /swarm/leave` outside a swarm.
pub fn not_a_member() -> EngineError {
    EngineError::Unavailable("This node is not part of a swarm".into())
}

/// `POST /swarm/init` and `/swarm/join` with a valid request.
pub fn unsupported(what: &str) -> EngineError {
    EngineError::NotImplemented(format!(
        "swarm {what} is not supported by this engine: it runs a single node and never joins a swarm"
    ))
}
