//! Pulls from Docker Hub (and a build's `FROM` of a missing image), which
//! this engine never attempts (registries of your own are pulled from by
//! `daemon::distribution`). They fail without any network traffic: not even
//! a DNS lookup of the registry's name, since this project sends nothing
//! beyond loopback. The message keeps dockerd's offline shape
//! (`Get "https://registry-1.docker.io/v2/": dial tcp: lookup
//! registry-1.docker.io on <nameserver>:53: no such host`) up to the
//! lookup, then says why nothing was looked up, so `docker pull`, `docker
//! run` and a build's `FROM` fail the same way and the reason is true.

use shipshape_store::reference;

use crate::errdefs::EngineError;

/// The registry host dockerd contacts for a reference.
fn registry_host(domain: &str) -> &str {
    if domain == "docker.io" {
        "registry-1.docker.io"
    } else {
        domain
    }
}

/// The error a pull of `image[:tag]` ends with (also used by build's FROM).
pub async fn pull_error(image: &str, tag: &str) -> EngineError {
    match pull_message(image, tag) {
        Ok(msg) => EngineError::System(msg),
        Err(e) => e,
    }
}

fn pull_message(image: &str, tag: &str) -> Result<String, EngineError> {
    let mut r = reference::parse_normalized_named(image)?;
    if !tag.is_empty() {
        r = if tag.starts_with("sha256:") {
            reference::parse_normalized_named(&format!("{image}@{tag}"))?
        } else {
            r.with_tag(tag)?
        };
    }
    let msg = message(&r.domain, &r.familiar());
    tracing::info!(image = %r.familiar(), "pull refused: {msg}");
    Ok(msg)
}

/// The failure's words for a reference in `domain` (no lookup is made).
fn message(domain: &str, familiar: &str) -> String {
    let host = registry_host(domain);
    let url = format!("https://{host}/v2/");
    if domain == "docker.io" {
        let name = host.split(':').next().unwrap_or(host);
        format!(
            "Get {url:?}: dial tcp: lookup {name}: not looked up: this engine never contacts Docker Hub (pull {familiar} from a registry of your own, HOST:PORT/NAME)"
        )
    } else {
        format!("Get {url:?}: this engine cannot pull images from a registry here (pull of {familiar} refused)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_failure_keeps_dockerds_prefix_without_a_lookup() {
        let m = pull_message("nosuchimage", "").unwrap();
        assert!(
            m.starts_with(
                "Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: "
            ),
            "{m}"
        );
        assert!(m.contains("pull nosuchimage from"), "{m}");
    }

    #[test]
    fn other_registries_name_their_host() {
        let m = pull_message("registry.example:5000/a/b", "v1").unwrap();
        assert!(
            m.starts_with("Get \"https://registry.example:5000/v2/\": "),
            "{m}"
        );
    }
}
