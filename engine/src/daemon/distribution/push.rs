//! `docker push` (`POST /images/{name}/push?tag=`): each layer (top first,
//! as dockerd lists them) is skipped when the registry already has its
//! blob, mounted from another repository of the same registry when one is
//! known to hold it, and otherwise gzip'd on the fly and streamed up
//! (POST, PATCH, PUT ?digest=); then the config and the manifest, which is
//! serialised byte for byte as dockerd's (3-space indented), so the same
//! blobs give the same manifest digest. Which blob each layer became is
//! remembered (`metadata`), so a pulled image is pushed back as the same
//! blobs, and a second push uploads nothing.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use shipshape_store::reference::{self, Reference};
use tokio::sync::{mpsc, Semaphore};

use super::client::{Client, ReqBody};
use super::metadata::{BlobRecord, Metadata};
use super::progress::Progress;
use super::pull::{sha256_digest, short};
use super::{
    Credentials, RegistryConfig, MEDIA_DOCKER_CONFIG, MEDIA_DOCKER_LAYER, MEDIA_DOCKER_MANIFEST,
};
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// Pushes `name` (with `tag`, or every tag of the repository when empty).
pub async fn push(
    daemon: Arc<Daemon>,
    cfg: &RegistryConfig,
    name: &str,
    tag: &str,
    creds: Credentials,
    progress: &Progress,
) -> Result<(), EngineError> {
    let mut repo = reference::parse_normalized_named(name)?;
    if !tag.is_empty() {
        repo = repo.with_tag(tag)?;
    }
    let bare = reference::parse_normalized_named(&repo.familiar_name())?;
    progress.status(&format!(
        "The push refers to repository [{}]",
        bare.familiar_name()
    ));
    // The tags to push: the one asked for, or all of the repository's.
    let mut targets: Vec<(String, String)> = Vec::new();
    if let Some(t) = &repo.tag {
        let img = daemon.images.get(&repo.familiar()).map_err(|_| {
            EngineError::NotFound(format!(
                "An image does not exist locally with the tag: {}",
                bare.familiar_name()
            ))
        })?;
        targets.push((t.clone(), img.id));
    } else {
        let prefix = format!("{}:", bare.familiar_name());
        for img in daemon.images.list() {
            for t in &img.repo_tags {
                if let Some(tag) = t.strip_prefix(&prefix) {
                    targets.push((tag.to_string(), img.id.clone()));
                }
            }
        }
        targets.sort();
        if targets.is_empty() {
            return Err(EngineError::NotFound(format!(
                "An image does not exist locally with the tag: {}",
                bare.familiar_name()
            )));
        }
    }
    let host = super::registry_host(&bare)?;
    let mut client = Client::new(cfg, &host, creds)?;
    client.ping().await?;
    let client = Arc::new(client);
    let meta = Arc::new(Metadata::open(daemon.data_root()));
    for (tag, id) in targets {
        push_one(
            &daemon, cfg, &client, &meta, &host, &bare, &tag, &id, progress,
        )
        .await
        .map_err(strip_url)?;
    }
    Ok(())
}

/// dockerd's push errors name no URL for missing credentials.
fn strip_url(e: EngineError) -> EngineError {
    match e {
        EngineError::System(m) if m.ends_with(": no basic auth credentials") => {
            EngineError::System("no basic auth credentials".into())
        }
        e => e,
    }
}

#[allow(clippy::too_many_arguments)]
async fn push_one(
    daemon: &Arc<Daemon>,
    cfg: &RegistryConfig,
    client: &Arc<Client>,
    meta: &Arc<Metadata>,
    host: &str,
    repo: &Reference,
    tag: &str,
    id: &str,
    progress: &Progress,
) -> Result<(), EngineError> {
    let img = daemon.images.get(id)?;
    let config = daemon.images.config_bytes(id)?;
    let diff_ids = img.layers.clone();
    for d in diff_ids.iter().rev() {
        progress.layer(&short(d), "Preparing");
    }
    let sem = Arc::new(Semaphore::new(cfg.max_concurrent_uploads.max(1)));
    let mut handles = Vec::new();
    for d in diff_ids.iter().rev() {
        let (sem, client, meta, daemon, progress) = (
            sem.clone(),
            client.clone(),
            meta.clone(),
            daemon.clone(),
            progress.clone(),
        );
        let (d, host, path) = (d.clone(), host.to_string(), repo.path.clone());
        handles.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.map_err(EngineError::system)?;
            push_layer(&daemon, &client, &meta, &host, &path, &d, &progress).await
        }));
    }
    let mut blobs = Vec::new();
    let mut first_err = None;
    for h in handles {
        match h.await.unwrap_or_else(|e| Err(EngineError::system(e))) {
            Ok(b) => blobs.push(b),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    blobs.reverse();
    let scope = format!("repository:{}:pull,push", repo.path);
    // The config blob.
    let config_digest = sha256_digest(&config);
    if !blob_exists(client, &scope, &repo.path, &config_digest).await? {
        upload_bytes(
            client,
            &scope,
            &repo.path,
            &config_digest,
            Bytes::from(config.clone()),
        )
        .await?;
    }
    let manifest = manifest_bytes(&config_digest, config.len(), &blobs);
    let digest = sha256_digest(&manifest);
    let r = client
        .send(
            &scope,
            Method::PUT,
            &format!("/v2/{}/manifests/{tag}", repo.path),
            &[("content-type".into(), MEDIA_DOCKER_MANIFEST.into())],
            ReqBody::Full(Bytes::from(manifest.clone())),
        )
        .await?;
    if !r.status.is_success() {
        return Err(EngineError::System(r.error_text().await));
    }
    let store = daemon.images.clone();
    let name_at = format!("{}@{digest}", repo.familiar_name());
    let image_id = id.to_string();
    tokio::task::spawn_blocking(move || store.add_repo_digest(&name_at, &image_id))
        .await
        .map_err(EngineError::system)??;
    progress.status(&format!("{tag}: digest: {digest} size: {}", manifest.len()));
    progress.aux(json!({"Tag": tag, "Digest": digest, "Size": manifest.len()}));
    Ok(())
}

/// The schema 2 manifest exactly as dockerd (distribution's MarshalIndent,
/// 3 spaces) writes it.
fn manifest_bytes(config_digest: &str, config_size: usize, layers: &[BlobRecord]) -> Vec<u8> {
    let mut s = String::new();
    s.push_str("{\n   \"schemaVersion\": 2,\n");
    s.push_str(&format!("   \"mediaType\": \"{MEDIA_DOCKER_MANIFEST}\",\n"));
    s.push_str("   \"config\": {\n");
    s.push_str(&format!(
        "      \"mediaType\": \"{MEDIA_DOCKER_CONFIG}\",\n"
    ));
    s.push_str(&format!("      \"size\": {config_size},\n"));
    s.push_str(&format!("      \"digest\": \"{config_digest}\"\n   }},\n"));
    s.push_str("   \"layers\": [");
    for (i, l) in layers.iter().enumerate() {
        s.push_str(if i == 0 { "\n" } else { ",\n" });
        s.push_str("      {\n");
        s.push_str(&format!("         \"mediaType\": \"{}\",\n", l.media_type));
        s.push_str(&format!("         \"size\": {},\n", l.size));
        s.push_str(&format!("         \"digest\": \"{}\"\n      }}", l.digest));
    }
    if layers.is_empty() {
        s.push_str("]\n}");
    } else {
        s.push_str("\n   ]\n}");
    }
    s.into_bytes()
}

async fn blob_exists(
    client: &Client,
    scope: &str,
    path: &str,
    digest: &str,
) -> Result<bool, EngineError> {
    let r = client
        .send(
            scope,
            Method::HEAD,
            &format!("/v2/{path}/blobs/{digest}"),
            &[],
            ReqBody::Empty,
        )
        .await?;
    match r.status {
        StatusCode::OK => Ok(true),
        StatusCode::NOT_FOUND => Ok(false),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Err(EngineError::System(r.error_text().await))
        }
        _ => Ok(false),
    }
}

/// Starts an upload; returns its location (absolute URL).
async fn start_upload(
    client: &Client,
    scope: &str,
    path: &str,
    query: &str,
) -> Result<(StatusCode, String), EngineError> {
    let r = client
        .send(
            scope,
            Method::POST,
            &format!("/v2/{path}/blobs/uploads/{query}"),
            &[],
            ReqBody::Empty,
        )
        .await?;
    let status = r.status;
    if status != StatusCode::ACCEPTED && status != StatusCode::CREATED {
        return Err(EngineError::System(r.error_text().await));
    }
    let loc = r.header("location").unwrap_or("").to_string();
    Ok((status, absolute(client, &loc)))
}

fn absolute(client: &Client, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        loc.to_string()
    } else {
        client.url(loc)
    }
}

fn with_digest(loc: &str, digest: &str) -> String {
    let sep = if loc.contains('?') { '&' } else { '?' };
    format!("{loc}{sep}digest={}", digest.replace(':', "%3A"))
}

/// A small blob in one PUT (monolithic upload).
async fn upload_bytes(
    client: &Client,
    scope: &str,
    path: &str,
    digest: &str,
    data: Bytes,
) -> Result<(), EngineError> {
    let (_, loc) = start_upload(client, scope, path, "").await?;
    let r = client
        .send_auth_url(
            scope,
            Method::PUT,
            &with_digest(&loc, digest),
            &[("content-type".into(), "application/octet-stream".into())],
            ReqBody::Full(data),
        )
        .await?;
    if r.status != StatusCode::CREATED {
        return Err(EngineError::System(r.error_text().await));
    }
    Ok(())
}

/// One layer: known and present, mounted, or compressed and uploaded.
async fn push_layer(
    daemon: &Arc<Daemon>,
    client: &Client,
    meta: &Metadata,
    host: &str,
    path: &str,
    diff_id: &str,
    progress: &Progress,
) -> Result<BlobRecord, EngineError> {
    let id = short(diff_id);
    let scope = format!("repository:{path}:pull,push");
    let known = meta.blobs_for(diff_id, host);
    // A blob this registry is known to hold: here already, or mountable.
    for b in &known {
        if b.repo == path && blob_exists(client, &scope, path, &b.digest).await? {
            progress.layer(&id, "Layer already exists");
            return Ok(b.clone());
        }
    }
    for b in &known {
        if b.repo == path {
            continue;
        }
        let mount_scope = format!("{scope} repository:{}:pull", b.repo);
        let q = format!("?mount={}&from={}", b.digest, b.repo);
        if let Ok((StatusCode::CREATED, _)) = start_upload(client, &mount_scope, path, &q).await {
            progress.layer(&id, &format!("Mounted from {}", b.repo));
            let rec = BlobRecord {
                repo: path.to_string(),
                ..b.clone()
            };
            meta.record(diff_id, host, rec.clone());
            return Ok(rec);
        }
    }
    // Compress and stream up: POST, PATCH (the gzip'd tar as it is made), PUT ?digest=.
    let (total, tar) = daemon.images.layer_tar(diff_id)?;
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
    let (ptx, mut prx) = mpsc::unbounded_channel::<u64>();
    let compress = tokio::task::spawn_blocking(move || compress_stream(tar, tx, ptx));
    let (_, loc) = start_upload(client, &scope, path, "").await?;
    let progress2 = progress.clone();
    let id2 = id.clone();
    let reporter = tokio::spawn(async move {
        let mut last = Instant::now() - Duration::from_secs(1);
        let mut current = 0;
        let mut shown = 0;
        while let Some(n) = prx.recv().await {
            current = n;
            if last.elapsed() >= Duration::from_millis(100) {
                progress2.bar(&id2, "Pushing", current, total);
                last = Instant::now();
                shown = current;
            }
        }
        if shown != current {
            progress2.bar(&id2, "Pushing", current, total);
        }
    });
    let r = client
        .send_auth_url(
            &scope,
            Method::PATCH,
            &loc,
            &[("content-type".into(), "application/octet-stream".into())],
            ReqBody::Stream(rx),
        )
        .await?;
    let (digest, size) = compress.await.map_err(EngineError::system)??;
    let _ = reporter.await;
    if r.status != StatusCode::ACCEPTED
        && r.status != StatusCode::NO_CONTENT
        && r.status != StatusCode::CREATED
    {
        return Err(EngineError::System(r.error_text().await));
    }
    let loc = absolute(client, r.header("location").unwrap_or(&loc));
    let r = client
        .send_auth_url(
            &scope,
            Method::PUT,
            &with_digest(&loc, &digest),
            &[],
            ReqBody::Empty,
        )
        .await?;
    if r.status != StatusCode::CREATED {
        return Err(EngineError::System(r.error_text().await));
    }
    progress.layer(&id, "Pushed");
    let rec = BlobRecord {
        digest,
        size,
        media_type: MEDIA_DOCKER_LAYER.into(),
        repo: path.to_string(),
    };
    meta.record(diff_id, host, rec.clone());
    Ok(rec)
}

/// Sends the gzip'd `tar` down `tx`, reporting uncompressed bytes read;
/// returns the compressed blob's digest and size.
fn compress_stream(
    mut tar: Box<dyn io::Read + Send>,
    tx: mpsc::Sender<io::Result<Bytes>>,
    read: mpsc::UnboundedSender<u64>,
) -> Result<(String, u64), EngineError> {
    struct Out {
        tx: mpsc::Sender<io::Result<Bytes>>,
        buf: Vec<u8>,
        hash: Sha256,
        size: u64,
    }
    impl Out {
        fn send(&mut self) -> io::Result<()> {
            if self.buf.is_empty() {
                return Ok(());
            }
            let b = Bytes::from(std::mem::take(&mut self.buf));
            self.tx
                .blocking_send(Ok(b))
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "upload ended"))
        }
    }
    impl Write for Out {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.hash.update(data);
            self.size += data.len() as u64;
            self.buf.extend_from_slice(data);
            if self.buf.len() >= 256 * 1024 {
                self.send()?;
            }
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.send()
        }
    }
    let out = Out {
        tx,
        buf: Vec::with_capacity(256 * 1024),
        hash: Sha256::new(),
        size: 0,
    };
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = tar.read(&mut buf).map_err(EngineError::system)?;
        if n == 0 {
            break;
        }
        gz.write_all(&buf[..n]).map_err(EngineError::system)?;
        total += n as u64;
        let _ = read.send(total);
    }
    let mut out = gz.finish().map_err(EngineError::system)?;
    out.flush().map_err(EngineError::system)?;
    let digest = format!("sha256:{}", hex::encode(out.hash.finalize_reset()));
    Ok((digest, out.size))
}
