//! Pulls from Docker Hub (and a build's `FROM` of a missing image), which
//! this engine never attempts (registries of your own are pulled from by
//! `daemon::distribution`). They fail; when the registry's name does not
//! resolve (the usual offline case) the message is dockerd's word for word,
//! so `docker pull`, `docker run` and a build's `FROM` print the same.

use std::time::Duration;

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

/// The resolver Go's `net` package would name in a lookup error.
fn nameserver() -> String {
    let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let ns = conf.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("nameserver")).then(|| w.next().map(str::to_string))?
    });
    match ns {
        Some(ip) if ip.contains(':') => format!("[{ip}]:53"),
        Some(ip) => format!("{ip}:53"),
        None => "127.0.0.1:53".into(),
    }
}

/// The error a pull of `image[:tag]` ends with (also used by build's FROM).
pub async fn pull_error(image: &str, tag: &str) -> EngineError {
    match pull_message(image, tag).await {
        Ok(msg) => EngineError::System(msg),
        Err(e) => e,
    }
}

async fn pull_message(image: &str, tag: &str) -> Result<String, EngineError> {
    let mut r = reference::parse_normalized_named(image)?;
    if !tag.is_empty() {
        r = if tag.starts_with("sha256:") {
            reference::parse_normalized_named(&format!("{image}@{tag}"))?
        } else {
            r.with_tag(tag)?
        };
    }
    let domain = r.domain.clone();
    let host = registry_host(&domain).to_string();
    let url = format!("https://{host}/v2/");
    let lookup_target = if host.contains(':') {
        host.clone()
    } else {
        format!("{host}:443")
    };
    let lookup = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::lookup_host(lookup_target),
    )
    .await;
    let name_only = host.split(':').next().unwrap_or(&host).to_string();
    let resolved = match lookup {
        Ok(Ok(addrs)) => Ok(addrs.count() > 0),
        Ok(Err(_)) => Ok(false),
        Err(timeout) => Err(timeout),
    };
    let msg = match resolved {
        Ok(true) => format!(
            "Get {url:?}: this engine cannot pull images from a registry (pull of {} refused)",
            r.familiar()
        ),
        Ok(_) => format!(
            "Get {url:?}: dial tcp: lookup {name_only} on {}: no such host",
            nameserver()
        ),
        Err(_) => format!(
            "Get {url:?}: dial tcp: lookup {name_only} on {}: i/o timeout",
            nameserver()
        ),
    };
    tracing::info!(image = %r.familiar(), "pull refused: {msg}");
    Ok(msg)
}
