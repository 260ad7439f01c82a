//! `GET /distribution/{name}/json` (the manifest's descriptor and the
//! platforms it serves) and `GET /images/search` against a registry.

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::client::{Client, ReqBody};
use super::pull::{fetch_blob, fetch_manifest, is_index_public, Platform};
use super::{Credentials, RegistryConfig};
use crate::errdefs::EngineError;

/// dockerd's `DistributionInspect` for `name` (a tag, `latest` by default, or a digest).
pub async fn inspect(
    cfg: &RegistryConfig,
    name: &str,
    creds: Credentials,
) -> Result<Value, EngineError> {
    let r = shipshape_store::reference::parse_normalized_named(name)?.with_default_tag();
    let host = super::registry_host(&r)?;
    let mut client = Client::new(cfg, &host, creds)?;
    client.ping().await?;
    let reference = r
        .digest
        .clone()
        .or_else(|| r.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let m = fetch_manifest(&client, &r, &reference).await?;
    let mut platforms: Vec<Platform> = Vec::new();
    if is_index_public(&m) {
        platforms.extend(
            m.manifest
                .manifests
                .iter()
                .filter_map(|d| d.platform.clone()),
        );
    } else if let Some(c) = &m.manifest.config {
        let cfg_bytes = fetch_blob(&client, &r, c).await?;
        let v: Value = serde_json::from_slice(&cfg_bytes).unwrap_or(Value::Null);
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        platforms.push(Platform {
            architecture: s("architecture"),
            os: s("os"),
            os_version: s("os.version"),
            variant: s("variant"),
        });
    }
    Ok(json!({
        "Descriptor": {
            "mediaType": m.media_type,
            "digest": m.digest,
            "size": m.bytes.len(),
        },
        "Platforms": platforms,
    }))
}

/// `GET /images/search?term=HOST:PORT/text`: the registry's v1 search,
/// which a distribution registry does not serve; dockerd then says what
/// the registry answered.
pub async fn search(
    cfg: &RegistryConfig,
    term: &str,
    creds: Credentials,
) -> Result<Value, EngineError> {
    let (host, text) =
        match term.split_once('/') {
            Some((h, t)) if h.contains('.') || h.contains(':') || h == "localhost" => {
                (h.to_string(), t.to_string())
            }
            _ => return Err(EngineError::System(
                "this engine does not search Docker Hub; search HOST:PORT/term on your registry"
                    .into(),
            )),
        };
    let mut client = Client::new(cfg, &host, creds)?;
    client.ping().await?;
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", &text)
        .finish();
    let r = client
        .send(
            "",
            Method::GET,
            &format!("/v1/search?{q}"),
            &[],
            ReqBody::Empty,
        )
        .await?;
    if r.status != StatusCode::OK {
        return Err(EngineError::System(format!(
            "Unexpected status code {}",
            r.status.as_u16()
        )));
    }
    let body = r.bytes(super::client::MAX_DOCUMENT).await?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| EngineError::System(e.to_string()))?;
    Ok(v.get("results").cloned().unwrap_or_else(|| json!([])))
}
