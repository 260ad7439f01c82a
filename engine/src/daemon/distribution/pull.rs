//! `docker pull` (`POST /images/create?fromImage=&tag=&platform=`): the
//! manifest (Docker schema 2 or OCI; a list or index resolved to the asked
//! platform, the host's by default), the config, then the layers: up to
//! `--max-concurrent-downloads` at once, each streamed as it arrives
//! through its digest check and decompression (gzip, zstd or none, told
//! by the stream's magic as dockerd does) into the store, which makes
//! it visible only once both its blob digest and its diff ID are checked.
//! The image (and its tag and RepoDigest) is stored only after every layer
//! is in, so a failure or a crash leaves no partial image, and every layer
//! complete or absent. Progress is dockerd's stream, message for message.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shipshape_store::reference::Reference;
use tokio::sync::{mpsc, Semaphore};

use super::client::{Client, ReqBody, Resp, MAX_DOCUMENT};
use super::progress::Progress;
use super::{Credentials, RegistryConfig, ACCEPT, MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX};
use crate::daemon::images::import::go_arch;
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

#[derive(Deserialize, Debug, Clone)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub urls: Option<Vec<String>>,
}

#[derive(Deserialize, Debug, Clone, Default, serde::Serialize)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// A manifest or an index, as much of either as a pull needs.
#[derive(Deserialize, Debug)]
pub struct Manifest {
    #[serde(rename = "schemaVersion", default)]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// What a manifest GET returned: the bytes, their digest and media type.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub digest: String,
    pub media_type: String,
    pub manifest: Manifest,
}

pub fn sha256_digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

pub fn is_index_public(m: &Fetched) -> bool {
    is_index(m)
}

fn is_index(m: &Fetched) -> bool {
    m.media_type == MEDIA_DOCKER_LIST
        || m.media_type == MEDIA_OCI_INDEX
        || (m.manifest.config.is_none() && !m.manifest.manifests.is_empty())
}

/// The `platform=` parameter (`os[/arch[/variant]]`), the host's by default.
pub fn wanted_platform(p: Option<&str>) -> Result<Platform, EngineError> {
    let p = p.unwrap_or("").trim();
    if p.is_empty() {
        return Ok(Platform {
            os: "linux".into(),
            architecture: go_arch().into(),
            ..Platform::default()
        });
    }
    let spec = crate::daemon::platform::parse(p)?;
    Ok(Platform {
        os: spec.os,
        architecture: spec.arch,
        variant: spec.variant,
        ..Platform::default()
    })
}

/// containerd's platform string (`linux/amd64`, `linux/arm/v7`).
pub fn format_platform(p: &Platform) -> String {
    if p.variant.is_empty() {
        format!("{}/{}", p.os, p.architecture)
    } else {
        format!("{}/{}/{}", p.os, p.architecture, p.variant)
    }
}

/// The list entry for `want`: same OS and architecture, and variant when asked.
pub fn select_platform<'a>(list: &'a [Descriptor], want: &Platform) -> Option<&'a Descriptor> {
    list.iter().find(|d| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == want.os
                && p.architecture == want.architecture
                && (want.variant.is_empty() || p.variant == want.variant)
        })
    })
}

/// How every read of a repository starts (pull, `GET /distribution`): a
/// client that has pinged the registry, and the manifest `r` names (by
/// digest, else tag, else `latest`), with that reference.
pub async fn open_manifest(
    cfg: &RegistryConfig,
    r: &Reference,
    creds: Credentials,
) -> Result<(Client, String, Fetched), EngineError> {
    let host = super::registry_host(r)?;
    let mut client = Client::new(cfg, &host, creds)?;
    client.ping().await?;
    let reference = r
        .digest
        .clone()
        .or_else(|| r.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let m = fetch_manifest(&client, r, &reference).await?;
    Ok((client, reference, m))
}

/// The manifest of `r` (by tag or digest): `Err` as dockerd words a failure.
pub async fn fetch_manifest(
    client: &Client,
    r: &Reference,
    reference: &str,
) -> Result<Fetched, EngineError> {
    let scope = format!("repository:{}:pull", r.path);
    let path = format!("/v2/{}/manifests/{reference}", r.path);
    let accept = vec![("accept".to_string(), ACCEPT.to_string())];
    let is_digest = reference.contains(':');
    if !is_digest {
        // dockerd HEADs a tag first (its errors name the HEAD).
        let head = client
            .send(&scope, Method::HEAD, &path, &accept, ReqBody::Empty)
            .await?;
        if head.status == StatusCode::UNAUTHORIZED || head.status == StatusCode::FORBIDDEN {
            return Err(EngineError::System(head.error_text().await));
        }
    }
    let resp = client
        .send(&scope, Method::GET, &path, &accept, ReqBody::Empty)
        .await?;
    if resp.status != StatusCode::OK {
        return Err(manifest_error(r, resp).await);
    }
    let media = resp
        .header("content-type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if let Some(len) = resp
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        if len > MAX_DOCUMENT {
            return Err(EngineError::InvalidParameter(format!(
                "manifest for {} is too large: {len} bytes (limit {MAX_DOCUMENT})",
                r.familiar()
            )));
        }
    }
    let bytes = resp.bytes(MAX_DOCUMENT).await?;
    let digest = sha256_digest(&bytes);
    if is_digest && digest != reference {
        return Err(EngineError::System(format!(
            "manifest verification failed for digest {reference}"
        )));
    }
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        EngineError::System(format!("error parsing manifest of {}: {e}", r.familiar()))
    })?;
    if manifest.schema_version != 2 {
        return Err(EngineError::NotImplemented(format!(
            "unsupported manifest schema version {} for {}: this engine pulls schema 2 and OCI manifests",
            manifest.schema_version,
            r.familiar()
        )));
    }
    let media_type = if manifest.media_type.is_empty() {
        media
    } else {
        manifest.media_type.clone()
    };
    Ok(Fetched {
        bytes,
        digest,
        media_type,
        manifest,
    })
}

async fn manifest_error(r: &Reference, resp: Resp) -> EngineError {
    let status = resp.status;
    let text = resp.error_text().await;
    match status {
        StatusCode::NOT_FOUND => {
            EngineError::NotFound(format!("manifest for {} not found: {text}", r.familiar()))
        }
        _ => EngineError::System(text),
    }
}

/// A blob, whole (config): verified against its digest, size-limited.
pub async fn fetch_blob(
    client: &Client,
    r: &Reference,
    d: &Descriptor,
) -> Result<Vec<u8>, EngineError> {
    if d.size > MAX_DOCUMENT as u64 {
        return Err(EngineError::InvalidParameter(format!(
            "config blob {} is too large: {} bytes (limit {MAX_DOCUMENT})",
            d.digest, d.size
        )));
    }
    let scope = format!("repository:{}:pull", r.path);
    let path = format!("/v2/{}/blobs/{}", r.path, d.digest);
    let resp = client
        .send(&scope, Method::GET, &path, &[], ReqBody::Empty)
        .await?;
    // Registries may send blob GETs on to storage.
    let resp = super::redirect::follow(client, resp).await?;
    if resp.status != StatusCode::OK {
        return Err(EngineError::System(resp.error_text().await));
    }
    let b = resp.bytes(MAX_DOCUMENT).await?;
    if sha256_digest(&b) != d.digest {
        return Err(EngineError::System(format!(
            "image config verification failed for digest {}",
            d.digest
        )));
    }
    Ok(b)
}

/// A blocking reader over the chunks a download task sends.
struct ChanReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChanReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

/// What a pull asks for.
pub struct PullRequest {
    pub reference: Reference,
    pub platform: Option<String>,
    pub creds: Credentials,
}

/// Pulls; progress goes to `progress`. An `Err` before anything was sent
/// becomes the response status; after, an error line in the stream.
pub async fn pull(
    daemon: Arc<Daemon>,
    cfg: &RegistryConfig,
    req: PullRequest,
    progress: &Progress,
) -> Result<String, EngineError> {
    let r = req.reference;
    let want = wanted_platform(req.platform.as_deref())?;
    let host = super::registry_host(&r)?;
    let (client, tag_or_digest, top) = open_manifest(cfg, &r, req.creds).await?;
    // dockerd names the pull by tag, or by the whole reference for a digest.
    let id = if r.digest.is_some() {
        r.familiar()
    } else {
        tag_or_digest.clone()
    };
    progress.status_id(&id, &format!("Pulling from {}", r.path));
    let repo_digest = top.digest.clone();
    let manifest = if is_index(&top) {
        let Some(d) = select_platform(&top.manifest.manifests, &want) else {
            return Err(EngineError::NotFound(format!(
                "no matching manifest for {} in the manifest list entries",
                format_platform(&want)
            )));
        };
        let m = fetch_manifest(&client, &r, &d.digest).await?;
        if is_index(&m) {
            return Err(EngineError::System(format!(
                "nested manifest list {} is not supported",
                d.digest
            )));
        }
        m
    } else {
        top
    };
    let Some(config_desc) = manifest.manifest.config.clone() else {
        return Err(EngineError::System(format!(
            "manifest {} has no config",
            manifest.digest
        )));
    };
    let config = fetch_blob(&client, &r, &config_desc).await?;
    let image_id = config_desc.digest.clone();
    let diff_ids = config_diff_ids(&config)?;
    let layers: Vec<Descriptor> = manifest
        .manifest
        .layers
        .iter()
        .filter(|l| !is_foreign(l))
        .cloned()
        .collect();
    if diff_ids.len() != layers.len() {
        return Err(EngineError::System(format!(
            "invalid manifest, layers length mismatch: expected {}, got {}",
            layers.len(),
            diff_ids.len()
        )));
    }
    let previous = daemon.images.get(&r.familiar()).ok().map(|i| i.id);
    if daemon.images.get(&image_id).is_err() {
        download_layers(
            &daemon,
            cfg,
            Arc::new(client),
            &r,
            &layers,
            &diff_ids,
            progress,
        )
        .await?;
    }
    let meta = super::metadata::Metadata::open(daemon.data_root());
    for (l, d) in layers.iter().zip(&diff_ids) {
        meta.record(
            d,
            &host,
            super::metadata::BlobRecord {
                digest: l.digest.clone(),
                size: l.size,
                media_type: l.media_type.clone(),
                repo: r.path.clone(),
            },
        );
    }
    let store = daemon.images.clone();
    let tags: Vec<String> = if r.digest.is_none() {
        vec![r.familiar()]
    } else {
        Vec::new()
    };
    let name_at = format!("{}@{}", r.familiar_name(), repo_digest);
    let cfg_bytes = config;
    let id = tokio::task::spawn_blocking(move || -> Result<String, EngineError> {
        let id = store.commit_pulled(&cfg_bytes, &tags)?;
        store.add_repo_digest(&name_at, &id)?;
        Ok(id)
    })
    .await
    .map_err(EngineError::system)??;
    progress.status(&format!("Digest: {repo_digest}"));
    if previous.as_deref() == Some(id.as_str()) {
        progress.status(&format!("Status: Image is up to date for {}", r.familiar()));
    } else {
        progress.status(&format!(
            "Status: Downloaded newer image for {}",
            r.familiar()
        ));
    }
    tracing::info!(image = %r.familiar(), %id, "pulled");
    Ok(id)
}

/// Whether an error was caused by the connection ending early.
fn is_eof(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::UnexpectedEof {
                return true;
            }
        }
        if err.to_string().contains("IncompleteBody")
            || format!("{err:?}").contains("IncompleteBody")
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Nondistributable (foreign) layers are not in the registry and not pulled.
fn is_foreign(l: &Descriptor) -> bool {
    l.media_type.contains("foreign") || l.media_type.contains("nondistributable")
}

fn config_diff_ids(config: &[u8]) -> Result<Vec<String>, EngineError> {
    let v: serde_json::Value = serde_json::from_slice(config)
        .map_err(|e| EngineError::System(format!("invalid image config: {e}")))?;
    let ids = v
        .get("rootfs")
        .and_then(|r| r.get("diff_ids"))
        .and_then(|d| d.as_array())
        .ok_or_else(|| EngineError::System("invalid image config: no rootfs.diff_ids".into()))?;
    ids.iter()
        .map(|d| {
            d.as_str()
                .filter(|s| s.starts_with("sha256:") && s.len() == 71)
                .map(str::to_string)
                .ok_or_else(|| EngineError::System(format!("invalid diff ID {d}")))
        })
        .collect()
}

/// The short ID dockerd shows a layer by: 12 hex digits of its blob digest.
pub fn short(d: &str) -> String {
    let h = d.split_once(':').map_or(d, |(_, h)| h);
    h.chars().take(12).collect()
}

async fn download_layers(
    daemon: &Arc<Daemon>,
    cfg: &RegistryConfig,
    client: Arc<Client>,
    r: &Reference,
    layers: &[Descriptor],
    diff_ids: &[String],
    progress: &Progress,
) -> Result<(), EngineError> {
    let store = &daemon.images;
    // Which layers to fetch (the first of any duplicate), in order.
    let mut todo: Vec<usize> = Vec::new();
    for (i, d) in diff_ids.iter().enumerate() {
        if store.has_layer(d) {
            progress.layer(&short(&layers[i].digest), "Already exists");
        } else if !todo.iter().any(|&j| diff_ids[j] == *d) {
            progress.layer(&short(&layers[i].digest), "Pulling fs layer");
            todo.push(i);
        }
    }
    let limit = cfg.max_concurrent_downloads.max(1);
    for &i in todo.iter().skip(limit) {
        progress.layer(&short(&layers[i].digest), "Waiting");
    }
    let sem = Arc::new(Semaphore::new(limit));
    let mut handles = Vec::new();
    for &i in &todo {
        let sem = sem.clone();
        let client = client.clone();
        let desc = layers[i].clone();
        let diff_id = diff_ids[i].clone();
        let daemon = daemon.clone();
        let progress = progress.clone();
        let path = r.path.clone();
        handles.push((
            i,
            tokio::spawn(async move {
                let _permit = sem.acquire_owned().await.map_err(EngineError::system)?;
                download_one(daemon, &client, &path, &desc, &diff_id, i, &progress).await
            }),
        ));
    }
    // Report completion in layer order, as dockerd extracts in order.
    let mut first_err = None;
    for (i, h) in handles {
        let res = match h.await {
            Ok(r) => r,
            Err(e) => Err(EngineError::system(e)),
        };
        match res {
            Ok(size) => {
                if first_err.is_none() {
                    let id = short(&layers[i].digest);
                    progress.bar(&id, "Extracting", size, size);
                    progress.layer(&id, "Pull complete");
                }
            }
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(e);
                }
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// How many times a download cut short is resumed (`Range: bytes=N-`)
/// before the pull fails with `unexpected EOF`.
const MAX_RESUMES: usize = 3;

/// The rest of a blob from byte `from` on, if the registry serves ranges
/// (206); `None` otherwise (or on any error: the caller fails the pull).
async fn resume(client: &Client, scope: &str, path: &str, from: u64) -> Option<Incoming> {
    let range = [("range".to_string(), format!("bytes={from}-"))];
    let resp = client
        .send(scope, Method::GET, path, &range, ReqBody::Empty)
        .await
        .ok()?;
    (resp.status == StatusCode::PARTIAL_CONTENT).then_some(resp.body)
}

/// Downloads one layer straight into the store, resuming a download cut
/// short where the registry allows it; returns the blob's size.
async fn download_one(
    daemon: Arc<Daemon>,
    client: &Client,
    path: &str,
    desc: &Descriptor,
    diff_id: &str,
    index: usize,
    progress: &Progress,
) -> Result<u64, EngineError> {
    let id = short(&desc.digest);
    let scope = format!("repository:{path}:pull");
    let url_path = format!("/v2/{path}/blobs/{}", desc.digest);
    let resp = client
        .send(&scope, Method::GET, &url_path, &[], ReqBody::Empty)
        .await?;
    // Registries may send blob GETs on to storage.
    let resp = super::redirect::follow(client, resp).await?;
    if resp.status != StatusCode::OK {
        let status = resp.status;
        let text = resp.error_text().await;
        return Err(if status == StatusCode::NOT_FOUND {
            EngineError::NotFound(text)
        } else {
            EngineError::System(text)
        });
    }
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(16);
    let store = daemon.images.clone();
    let (want_diff, want_blob) = (diff_id.to_string(), desc.digest.clone());
    let register = tokio::task::spawn_blocking(move || {
        let reader = ChanReader {
            rx,
            cur: Bytes::new(),
        };
        store.register_blob(reader, &want_diff, index, &want_blob)
    });
    let total = desc.size;
    let mut body = resp.body;
    let mut hasher = Sha256::new();
    let mut current: u64 = 0;
    let mut last = Instant::now() - Duration::from_secs(1);
    let mut shown: u64 = 0;
    let mut failure: Option<EngineError> = None;
    let mut resumes = 0;
    loop {
        let cut = match body.frame().await {
            None if total > 0 && current < total => true,
            None => break,
            // A connection closed before the announced length is Go's io.ErrUnexpectedEOF.
            Some(Err(e)) if e.is_incomplete_message() || is_eof(&e) => true,
            Some(Err(e)) => {
                failure = Some(EngineError::System(format!(
                    "error pulling layer {}: {e}",
                    desc.digest
                )));
                break;
            }
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                current += data.len() as u64;
                if total > 0 && current > total {
                    failure = Some(EngineError::System(format!(
                        "filesystem layer verification failed for digest {}",
                        desc.digest
                    )));
                    break;
                }
                hasher.update(&data);
                if last.elapsed() >= Duration::from_millis(100) {
                    progress.bar(&id, "Downloading", current, total);
                    last = Instant::now();
                    shown = current;
                }
                if tx.send(Ok(data)).await.is_err() {
                    // The store stopped reading: its error says why.
                    break;
                }
                false
            }
        };
        if cut {
            // Cut short: ask for the rest, as dockerd does (a few times).
            let rest = if resumes < MAX_RESUMES {
                resumes += 1;
                resume(client, &scope, &url_path, current).await
            } else {
                None
            };
            match rest {
                Some(b) => body = b,
                None => {
                    failure = Some(EngineError::System(format!(
                        "error pulling layer {}: unexpected EOF",
                        desc.digest
                    )));
                    break;
                }
            }
        }
    }
    if failure.is_none() {
        if shown != current {
            progress.bar(&id, "Downloading", current, total);
        }
        progress.layer(&id, "Verifying Checksum");
        let got = format!("sha256:{}", hex::encode(hasher.finalize_reset()));
        if total > 0 && current < total {
            failure = Some(EngineError::System(format!(
                "error pulling layer {}: unexpected EOF",
                desc.digest
            )));
        } else if got != desc.digest {
            failure = Some(EngineError::System(format!(
                "filesystem layer verification failed for digest {}",
                desc.digest
            )));
        }
    }
    if let Some(f) = failure {
        // Make the store's reader fail, so the half-unpacked layer is removed.
        let _ = tx.send(Err(io::Error::other(f.to_string()))).await;
        drop(tx);
        let _ = register.await;
        return Err(f);
    }
    progress.layer(&id, "Download complete");
    drop(tx);
    register.await.map_err(EngineError::system)??;
    Ok(current)
}
