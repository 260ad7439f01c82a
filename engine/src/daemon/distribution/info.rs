//! `GET /distribution/{name}/json` (the manifest's descriptor and the
//! platforms it serves) and `GET /images/search` against a registry.

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::client::{Client, ReqBody};
use super::pull::{fetch_blob, is_index_public, open_manifest, Platform};
use super::{Credentials, RegistryConfig};
use crate::errdefs::EngineError;

/// dockerd's `DistributionInspect` for `name` (a tag, `latest` by default, or a digest).
pub async fn inspect(
    cfg: &RegistryConfig,
    name: &str,
    creds: Credentials,
) -> Result<Value, EngineError> {
    let r = shipshape_store::reference::parse_normalized_named(name)?.with_default_tag();
    let (client, _, m) = open_manifest(cfg, &r, creds).await?;
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

/// The `filters` of a search, as dockerd applies them to the results.
#[derive(Debug, Default)]
pub struct SearchFilter {
    is_automated: Option<bool>,
    is_official: Option<bool>,
    min_stars: i64,
}

impl SearchFilter {
    /// A malformed value is 400 `Invalid filter 'key=value'`, as dockerd.
    pub fn new(f: &crate::filters::Filters) -> Result<Self, EngineError> {
        let invalid =
            |k: &str, v: &str| EngineError::InvalidParameter(format!("Invalid filter '{k}={v}'"));
        let mut out = SearchFilter::default();
        for (key, slot) in [
            ("is-automated", &mut out.is_automated),
            ("is-official", &mut out.is_official),
        ] {
            for v in f.get(key).into_iter().flatten() {
                let b = crate::daemon::containers::security::parse_go_bool(v)
                    .ok_or_else(|| invalid(key, v))?;
                *slot = Some(b);
            }
        }
        for v in f.get("stars").into_iter().flatten() {
            let n = crate::filters::go_parse("Atoi", v).map_err(|_| invalid("stars", v))?;
            out.min_stars = out.min_stars.max(n);
        }
        Ok(out)
    }

    fn keeps(&self, r: &Value) -> bool {
        let flag = |k: &str| r.get(k).and_then(Value::as_bool).unwrap_or(false);
        self.is_automated.is_none_or(|b| flag("is_automated") == b)
            && self.is_official.is_none_or(|b| flag("is_official") == b)
            && r.get("star_count").and_then(Value::as_i64).unwrap_or(0) >= self.min_stars
    }
}

/// The results a search asks for when it gives no `limit` (dockerd's
/// `registry.DefaultSearchLimit`).
const DEFAULT_SEARCH_LIMIT: i64 = 25;

/// `GET /images/search?term=HOST:PORT/text`: the registry's v1 search,
/// which a distribution registry does not serve; dockerd then says what
/// the registry answered.
pub async fn search(
    cfg: &RegistryConfig,
    term: &str,
    limit: Option<i64>,
    filter: &SearchFilter,
    creds: Credentials,
) -> Result<Value, EngineError> {
    // dockerd's registry service checks the range (25 when not given) after
    // the filters: for Docker Hub at once, for a registry once it answered
    // its ping (asked with limit=0: 400 for `foo` and for a registry that
    // serves, the connection error for 127.0.0.1:1).
    let limit = limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
    let in_range = || {
        if (1..=100).contains(&limit) {
            Ok(())
        } else {
            Err(EngineError::InvalidParameter(format!(
                "Limit {limit} is outside the range of [1, 100]"
            )))
        }
    };
    let (host, text) = match term.split_once('/') {
        Some((h, t)) if h.contains('.') || h.contains(':') || h == "localhost" => {
            (h.to_string(), t.to_string())
        }
        _ => {
            in_range()?;
            return Err(EngineError::System(
                "this engine does not search Docker Hub; search HOST:PORT/term on your registry"
                    .into(),
            ));
        }
    };
    let mut client = Client::new(cfg, &host, creds)?;
    client.ping_v1().await?;
    client.ping().await?;
    in_range()?;
    let q = {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("q", &text);
        q.append_pair("n", &limit.to_string());
        q.finish()
    };
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
    let results: Vec<Value> = v
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| filter.keeps(r))
        .cloned()
        .collect();
    Ok(json!(results))
}
