//! Legacy links' bookkeeping: `HostConfig.Links` kept as dockerd shows them
//! ("/<target>:/<container>/<alias>"), and their removal
//! (`DELETE /containers/<container>/<alias>?link=1`). What a link gives the
//! process (environment, /etc/hosts) is the network's business.

use serde_json::Value;

use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// Rewrites the `Links` of a container being created (named `name`, with
/// its leading slash) from "target[:alias]" to dockerd's form. The targets
/// were checked to exist.
pub fn normalize(d: &Daemon, name: &str, host_raw: &mut Value) {
    let Some(links) = host_raw.get_mut("Links").and_then(Value::as_array_mut) else {
        return;
    };
    for link in links.iter_mut() {
        let Some(s) = link.as_str() else { continue };
        let (target, alias) = s.split_once(':').unwrap_or((s, s));
        let target_name = d
            .container(target)
            .map(|c| c.name())
            .unwrap_or_else(|_| format!("/{}", target.trim_start_matches('/')));
        let alias = alias.trim_start_matches('/');
        *link = Value::String(format!("{target_name}:{name}/{alias}"));
    }
}

/// The names legacy links give containers, by the target's own name: a
/// container that links "/db" as "data" gives "/db" the name "/app/data",
/// and the list shows it among the target's `Names` (dockerd 20.10.24 sorts
/// them: `["/app/data", "/db"]`).
pub fn names_by_target(d: &Daemon) -> std::collections::HashMap<String, Vec<String>> {
    let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
    for c in d.all_containers() {
        for (target, name) in crate::daemon::networks::links::stored(&c.record()) {
            out.entry(target.to_string())
                .or_default()
                .push(name.to_string());
        }
    }
    out
}

/// `DELETE /containers/{name}?link=1`: `name` is "<container>/<alias>".
pub fn remove(d: &Daemon, name: &str) -> Result<(), EngineError> {
    let not_found = || EngineError::NotFound(format!("No such container: {name}"));
    let full = format!("/{}", name.trim_start_matches('/'));
    let Some((parent, alias)) = full.rsplit_once('/').filter(|(p, _)| !p.is_empty()) else {
        // A container's own name: dockerd looks it up, then refuses.
        d.container(name)?;
        return Err(EngineError::System(
            "Conflict, cannot remove the default link name of the container".into(),
        ));
    };
    let c = d.container(parent).map_err(|_| not_found())?;
    let mut rec = c.record();
    let own = format!("{}/{alias}", rec.name);
    let Some(links) = rec
        .host_config_raw
        .get_mut("Links")
        .and_then(Value::as_array_mut)
    else {
        return Err(not_found());
    };
    let before = links.len();
    links.retain(|l| l.as_str().and_then(|s| s.split_once(':')).map(|(_, n)| n) != Some(&own));
    if links.len() == before {
        return Err(not_found());
    }
    if links.is_empty() {
        rec.host_config_raw["Links"] = Value::Null;
    }
    drop(rec);
    c.save().map_err(EngineError::system)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_link_is_named_by_its_parent_and_alias() {
        let full = "/p/al";
        assert_eq!(full.rsplit_once('/'), Some(("/p", "al")));
        assert_eq!("/p".rsplit_once('/').filter(|(p, _)| !p.is_empty()), None);
    }
}
