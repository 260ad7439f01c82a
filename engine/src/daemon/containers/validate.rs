//! What `POST /containers/create` refuses before anything is made, with
//! dockerd 20.10.24's messages (harness `containers-api/create-rejects-*`):
//! environment entries, links and `VolumesFrom` naming missing containers,
//! healthcheck durations, port bindings (`networks::ports`), the log driver and its options (`log_driver`), and the `platform` query against
//! the image's own.

use serde_json::Value;
use shipshape_store::Image;

use super::record::Config;
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

fn invalid(msg: String) -> EngineError {
    EngineError::InvalidParameter(msg)
}

pub fn check(d: &Daemon, config: &Config, host_raw: &Value) -> Result<(), EngineError> {
    // A variable needs a name: "=foo" and "" are refused, "FOO" alone is not.
    if let Some(bad) = config
        .env
        .iter()
        .flatten()
        .find(|e| e.split('=').next().is_none_or(str::is_empty))
    {
        return Err(invalid(format!("invalid environment variable: {bad}")));
    }
    if let Some(hc) = &config.healthcheck {
        healthcheck(hc)?;
    }
    for link in strings(host_raw, "Links") {
        let target = link.split(':').next().unwrap_or("");
        if d.container(target).is_err() {
            return Err(invalid(format!(
                "could not get container for {target}: No such container: {target}"
            )));
        }
    }
    crate::daemon::networks::ports::check_bindings(host_raw)?;
    for entry in strings(host_raw, "ExtraHosts") {
        crate::daemon::networks::dns::parse_extra_host(entry)?;
    }
    for from in strings(host_raw, "VolumesFrom") {
        let source = from.split(':').next().unwrap_or("");
        if d.container(source).is_err() {
            return Err(invalid(format!("No such container: {source}")));
        }
    }
    // Quotas need overlay on xfs with pquota, which the engine does not
    // set up: refused as dockerd's overlay2 driver refuses them without it.
    if host_raw
        .get("StorageOpt")
        .and_then(Value::as_object)
        .is_some_and(|o| !o.is_empty())
    {
        return Err(EngineError::System(
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"
                .into(),
        ));
    }
    super::log_driver::validate(host_raw)?;
    // The one runtime the engine has (its /info lists it as runc).
    let runtime = host_raw
        .get("Runtime")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !runtime.is_empty() && runtime != "runc" {
        return Err(invalid(format!("Unknown runtime specified {runtime}")));
    }
    Ok(())
}

/// The networks a create's `EndpointsConfig` names besides the container's
/// own (`network_mode`), by ID, to connect it to once it exists. Before API
/// 1.44 (`several` false) there may be one entry only: more are refused
/// naming them all (dockerd walks a Go map, so its order varies; this is
/// the request's).
pub fn networking(
    d: &Daemon,
    networking_config: Option<&Value>,
    network_mode: &str,
    several: bool,
) -> Result<Vec<String>, EngineError> {
    let Some(eps) = networking_config
        .and_then(|n| n.get("EndpointsConfig"))
        .and_then(Value::as_object)
        .filter(|m| m.len() > 1)
    else {
        return Ok(Vec::new());
    };
    if !several {
        let names: Vec<&str> = eps.keys().map(String::as_str).collect();
        return Err(invalid(format!(
            "Container cannot be connected to network endpoints: {}",
            names.join(", ")
        )));
    }
    let own = crate::daemon::networks::primary_name(network_mode).unwrap_or_default();
    let mut extra = Vec::new();
    for name in eps.keys() {
        let n = d.networks.get(name)?;
        if n.name != own && n.id != own && !extra.contains(&n.id) {
            extra.push(n.id);
        }
    }
    Ok(extra)
}

fn strings<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Durations are nanoseconds; 0 means the default, else at least 1 ms.
fn healthcheck(hc: &Value) -> Result<(), EngineError> {
    const MIN: i64 = 1_000_000;
    for field in ["Interval", "Timeout", "StartPeriod"] {
        let n = hc.get(field).and_then(Value::as_i64).unwrap_or(0);
        if n != 0 && n < MIN {
            return Err(invalid(format!(
                "{field} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if hc.get("Retries").and_then(Value::as_i64).unwrap_or(0) < 0 {
        return Err(invalid("Retries in Healthcheck cannot be negative".into()));
    }
    Ok(())
}

/// The `platform` query of a create, as containerd's `platforms.Parse`
/// reads it (`os`, `arch`, `os/arch[/variant]`, case-insensitive), checked
/// against the image: malformed is 400, another platform than the image's
/// is 404, as dockerd answers.
pub fn platform(image: &Image, reference: &str, platform: &str) -> Result<(), EngineError> {
    if platform.is_empty() {
        return Ok(());
    }
    let want = crate::daemon::platform::parse(platform)?;
    let (os, arch) = (want.os, want.arch);
    let field = |k: &str| image.config.get(k).and_then(Value::as_str).unwrap_or("");
    let (have_os, have_arch) = (
        field("os"),
        crate::daemon::platform::normalize_arch(field("architecture")),
    );
    if os != have_os || arch != have_arch {
        return Err(EngineError::NotFound(format!(
            "image with reference {reference} was found but does not match the specified platform: wanted {os}/{arch}, actual: {have_os}/{have_arch}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_durations_as_dockerd() {
        let msg = |v: Value| healthcheck(&v).map_err(|e| e.to_string());
        assert!(msg(serde_json::json!({"Interval": 0, "Retries": 0})).is_ok());
        assert!(msg(serde_json::json!({"Timeout": 1_000_000})).is_ok());
        assert_eq!(
            msg(serde_json::json!({"StartPeriod": 999_999})).unwrap_err(),
            "StartPeriod in Healthcheck cannot be less than 1ms"
        );
        assert_eq!(
            msg(serde_json::json!({"Retries": -1})).unwrap_err(),
            "Retries in Healthcheck cannot be negative"
        );
    }
}
