//! Configuration-only networks (`docker network create --config-only`) and
//! the networks made from them (`--config-from`), as dockerd 20.10.24's
//! libnetwork handles them (each answer below read with curl on this host):
//!
//! * a config-only network only holds configuration (IPAM, driver options,
//!   labels, IPv6): its driver shows as `null`, it gets no bridge and no
//!   subnet of its own, prune leaves it, and no endpoint can be made on it
//!   (a container may be connected to it while created, but starting it
//!   is 403 "cannot create endpoint on configuration-only network");
//! * a network `ConfigFrom` one takes that configuration, and may set only
//!   the operator fields (driver, internal, attachable) itself;
//! * a config-only network cannot be removed while one depends on it.

use super::Network;
use crate::errdefs::EngineError;

/// The refusal of an endpoint on a config-only network.
pub fn no_endpoint() -> EngineError {
    EngineError::Forbidden("cannot create endpoint on configuration-only network".into())
}

/// libnetwork's `validateConfiguration`, in its order: what a config-only
/// network may not have, and what a network made from one may not set.
pub fn validate(n: &Network, scope: &str, ingress: bool) -> Result<(), EngineError> {
    if n.config_only && (ingress || n.internal || n.attachable || !scope.is_empty()) {
        return Err(EngineError::Forbidden(
            "configuration network can only contain network specific fields. Network operator \
             fields like [ ingress | internal | attachable | scope ] are not supported."
                .into(),
        ));
    }
    if n.config_from.is_empty() {
        return Ok(());
    }
    if n.config_only {
        return Err(EngineError::Forbidden(
            "a configuration network cannot depend on another configuration network".into(),
        ));
    }
    if n.enable_ipv6
        || !n.labels.is_empty()
        || n.ipam_options.as_ref().is_some_and(|o| !o.is_empty())
        || !n.ipam_config.is_empty()
    {
        return Err(EngineError::Forbidden(
            "user specified configurations are not supported if the network depends on a \
             configuration network"
                .into(),
        ));
    }
    if !n.options.is_empty() {
        return Err(EngineError::Forbidden(
            "network driver options are not supported if the network depends on a \
             configuration network"
                .into(),
        ));
    }
    Ok(())
}

/// Gives `n` the configuration of the config-only network it names
/// (looked up by name among config-only networks only, as libnetwork does).
pub fn apply(n: &mut Network, nets: &[Network]) -> Result<(), EngineError> {
    let Some(from) = nets
        .iter()
        .find(|x| x.config_only && x.name == n.config_from)
    else {
        return Err(EngineError::NotFound(format!(
            "configuration network {:?} does not exist",
            n.config_from
        )));
    };
    n.enable_ipv6 = from.enable_ipv6;
    n.labels = from.labels.clone();
    n.ipam_options = from.ipam_options.clone();
    n.ipam_config = from.ipam_config.clone();
    n.options = from.options.clone();
    Ok(())
}

/// The refusal to remove config-only network `n` while another is made
/// from it.
pub fn check_unused(n: &Network, nets: &[Network]) -> Result<(), EngineError> {
    if n.config_only && nets.iter().any(|x| x.config_from == n.name) {
        return Err(EngineError::Forbidden(format!(
            "error while removing network: configuration network {:?} is in use",
            n.name
        )));
    }
    Ok(())
}
