//! `docker load`: docker-archive (manifest.json) and OCI image layouts
//! (index.json), optionally gzip'd, with layers plain or gzip'd.
//!
//! The archive is first extracted to a scratch directory (the manifest comes
//! last in dockerd-written archives, so it cannot be streamed), then each
//! image is committed in turn, as dockerd does: an error in the second image
//! leaves the first loaded.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::archive::{self, UnpackOptions};
use crate::atomic::random_suffix;
use crate::image::parse_config;
use crate::reference::{self, Reference};
use crate::resolve::digest_hex;
use crate::{ImageStore, StoreError};

impl ImageStore {
    /// Loads a docker-archive or OCI-layout tarball (optionally gzip'd).
    /// `progress` receives dockerd's stream lines ("Loaded image: x:1").
    /// Returns the IDs of the loaded images; everything is durable on return.
    pub fn load(
        &self,
        input: impl Read + Send,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>, StoreError> {
        load(self, input, &mut || Ok(()), progress)
    }

    /// [`Self::load`] of an archive spooled to `file` (opened for writing
    /// too), which is emptied once extracted: its bytes are then never
    /// flushed to disk by the sync that makes the layers durable (a
    /// filesystem-wide `syncfs`), which would otherwise write them once more.
    pub fn load_spooled(
        &self,
        file: &fs::File,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>, StoreError> {
        load(
            self,
            std::io::BufReader::with_capacity(256 * 1024, file),
            &mut || file.set_len(0),
            progress,
        )
    }
}

#[derive(Deserialize)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
    #[serde(rename = "Parent", default)]
    parent: Option<String>,
}

/// Removes the scratch directory however `load` ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.0) {
            tracing::warn!(path = %self.0.display(), error = %e, "could not remove load scratch dir");
        }
    }
}

/// One image to commit: its config and where each layer blob lives.
struct Pending {
    config_bytes: Vec<u8>,
    /// (path inside the archive, expected blob digest if known)
    layers: Vec<(String, Option<String>)>,
    tags: Vec<Reference>,
    parent: Option<String>,
}

pub(crate) fn load(
    store: &ImageStore,
    input: impl Read + Send,
    extracted: &mut dyn FnMut() -> std::io::Result<()>,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<String>, StoreError> {
    let dir = store
        .tmp_dir()
        .join(format!("docker-import-{}", random_suffix()));
    fs::create_dir_all(&dir)?;
    let scratch = Scratch(dir.clone());
    let reader = archive::decompress(input)?;
    // Chrooted into the scratch dir like dockerd: entries are confined to
    // it and failures carry dockerd's "Error processing tar file" wording.
    archive::unpack(
        reader,
        &dir,
        UnpackOptions {
            overlay_whiteouts: false,
            preserve_owner: false,
            no_overwrite_dir_non_dir: false,
        },
    )?;
    extracted()?;

    let pending = if dir.join("manifest.json").is_file() {
        docker_archive(&dir)?
    } else if dir.join("index.json").is_file() {
        oci_layout(&dir)?
    } else {
        // dockerd falls back to the pre-1.10 format and fails to find its index.
        return Err(StoreError::InvalidInput(format!(
            "open {}: no such file or directory",
            dir.join("repositories").display()
        )));
    };

    let mut loaded = Vec::new();
    let mut ids_text = Vec::new();
    let mut last_ref_count = 0;
    let mut used = HashMap::new();
    for p in pending {
        let id = commit_one(store, &dir, &p, &mut used, progress)?;
        ids_text.push(format!("Loaded image ID: {id}"));
        // dockerd resets the count per image, so only the last one decides
        // whether the "Loaded image ID" lines are printed.
        last_ref_count = p.tags.len();
        loaded.push(id);
    }
    if last_ref_count == 0 {
        for line in &ids_text {
            progress(line);
        }
    }
    drop(scratch);
    Ok(loaded)
}

/// Layer files of the scratch already registered (and removed, so that they
/// are never flushed to disk): their diff ID and checked blob digest.
type Used = HashMap<PathBuf, (String, Option<String>)>;

fn commit_one(
    store: &ImageStore,
    dir: &Path,
    p: &Pending,
    used: &mut Used,
    progress: &mut dyn FnMut(&str),
) -> Result<String, StoreError> {
    let (_, diff_ids, _) = parse_config(&p.config_bytes)?;
    if diff_ids.len() != p.layers.len() {
        return Err(StoreError::InvalidInput(format!(
            "invalid manifest, layers length mismatch: expected {}, got {}",
            p.layers.len(),
            diff_ids.len()
        )));
    }
    let mut pins = Vec::new();
    for (i, (diff_id, (path, blob_digest))) in diff_ids.iter().zip(&p.layers).enumerate() {
        // Pin before checking, so a concurrent delete cannot take it away.
        pins.push(store.pin(diff_id)?);
        if store.layer_exists(digest_hex(diff_id)?) {
            continue;
        }
        let scratch = archive::resolve_in_scope(dir, path)?;
        if let Some((got, got_blob)) = used.get(&scratch) {
            // A scratch file registered (and removed) already: same answers
            // as reading it again.
            if let (Some(want), Some(got)) = (blob_digest, got_blob) {
                if want != got {
                    return Err(StoreError::InvalidInput(format!(
                        "invalid layer blob: expected digest {want:?}, got {got:?}"
                    )));
                }
            }
            if got != diff_id {
                return Err(StoreError::InvalidInput(format!(
                    "invalid diffID for layer {i}: expected {diff_id:?}, got {got:?}"
                )));
            }
            continue;
        }
        let f = archive::open_in_scope(dir, path)?;
        let info =
            store.register_layer_file(f, &scratch, Some((diff_id, i)), blob_digest.as_deref())?;
        used.insert(scratch, (info.diff_id, blob_digest.clone()));
    }
    let parent = p
        .parent
        .as_deref()
        .filter(|par| valid_parent(store, par, &diff_ids))
        .map(str::to_string);
    let mut lines = Vec::new();
    let id = store.commit_image(&p.config_bytes, parent.as_deref(), &p.tags, &mut |l| {
        lines.push(l.to_string())
    })?;
    drop(pins);
    for l in lines {
        progress(&l);
    }
    for t in &p.tags {
        progress(&format!("Loaded image: {}", t.familiar()));
    }
    Ok(id)
}

/// dockerd keeps a manifest's `Parent` only if that image exists and its
/// layers are a strict prefix of the child's.
fn valid_parent(store: &ImageStore, parent: &str, diff_ids: &[String]) -> bool {
    match store.get(parent) {
        Ok(p) => {
            p.id == parent
                && p.layers.len() < diff_ids.len()
                && p.layers[..] == diff_ids[..p.layers.len()]
        }
        Err(_) => false,
    }
}

fn read_in_scope(dir: &Path, rel: &str) -> Result<Vec<u8>, StoreError> {
    let mut f = archive::open_in_scope(dir, rel)?;
    let mut b = Vec::new();
    f.read_to_end(&mut b)?;
    Ok(b)
}

fn docker_archive(dir: &Path) -> Result<Vec<Pending>, StoreError> {
    let manifest: Vec<ManifestItem> = serde_json::from_slice(&read_in_scope(dir, "manifest.json")?)
        .map_err(|e| StoreError::InvalidInput(format!("invalid manifest.json: {e}")))?;
    let mut out = Vec::new();
    for m in manifest {
        let config_bytes = read_in_scope(dir, &m.config)?;
        let (config, _, _) = parse_config(&config_bytes)?;
        check_os(&config)?;
        let mut tags = Vec::new();
        for t in m.repo_tags.unwrap_or_default() {
            let r = reference::parse_normalized_named(&t)?;
            if r.tag.is_none() || r.digest.is_some() {
                return Err(StoreError::InvalidInput(format!("invalid tag {t:?}")));
            }
            tags.push(r);
        }
        out.push(Pending {
            config_bytes,
            layers: m.layers.into_iter().map(|l| (l, None)).collect(),
            tags,
            parent: m.parent.filter(|p| !p.is_empty()),
        });
    }
    Ok(out)
}

fn check_os(config: &serde_json::Value) -> Result<(), StoreError> {
    match config.get("os").and_then(|o| o.as_str()) {
        Some(os) if !os.is_empty() && os != "linux" => Err(StoreError::InvalidInput(format!(
            "cannot load {os} image on linux"
        ))),
        _ => Ok(()),
    }
}

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

#[derive(Deserialize, Clone)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize, Clone)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

fn blob_path(digest: &str) -> Result<String, StoreError> {
    Ok(format!("blobs/sha256/{}", digest_hex(digest)?))
}

/// Reads a blob and checks it against its digest.
fn read_blob(dir: &Path, digest: &str) -> Result<Vec<u8>, StoreError> {
    let b = read_in_scope(dir, &blob_path(digest)?)?;
    let got = archive::sha256_digest(&b);
    if got != digest {
        return Err(StoreError::InvalidInput(format!(
            "blob {digest} has digest {got}"
        )));
    }
    Ok(b)
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The name an OCI index entry carries: containerd's full image name, or an
/// `org.opencontainers.image.ref.name` that is a full reference (a bare tag
/// like "1" names nothing on its own).
fn oci_name(d: &Descriptor) -> Result<Option<Reference>, StoreError> {
    let name = d.annotations.get("io.containerd.image.name").or_else(|| {
        d.annotations
            .get("org.opencontainers.image.ref.name")
            .filter(|n| n.contains(['/', ':']))
    });
    let Some(name) = name else {
        return Ok(None);
    };
    let r = reference::parse_normalized_named(name)?;
    if r.digest.is_some() {
        return Ok(None);
    }
    Ok(Some(r.with_default_tag()))
}

/// Picks the manifest for this host out of a (possibly nested) index.
fn pick_manifest(dir: &Path, d: &Descriptor, depth: usize) -> Result<Descriptor, StoreError> {
    if d.media_type != OCI_INDEX && d.media_type != DOCKER_LIST {
        return Ok(d.clone());
    }
    if depth > 4 {
        return Err(StoreError::InvalidInput(
            "OCI index nested too deeply".into(),
        ));
    }
    let idx: Index = serde_json::from_slice(&read_blob(dir, &d.digest)?)
        .map_err(|e| StoreError::InvalidInput(format!("invalid OCI index {}: {e}", d.digest)))?;
    let chosen = idx
        .manifests
        .iter()
        .find(|m| {
            m.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == host_arch())
        })
        .or_else(|| idx.manifests.iter().find(|m| m.platform.is_none()))
        .ok_or_else(|| {
            StoreError::InvalidInput(format!(
                "no manifest for linux/{} in {}",
                host_arch(),
                d.digest
            ))
        })?;
    pick_manifest(dir, chosen, depth + 1)
}

fn oci_layout(dir: &Path) -> Result<Vec<Pending>, StoreError> {
    let index: Index = serde_json::from_slice(&read_in_scope(dir, "index.json")?)
        .map_err(|e| StoreError::InvalidInput(format!("invalid index.json: {e}")))?;
    let mut out: Vec<Pending> = Vec::new();
    for top in &index.manifests {
        let name = oci_name(top)?;
        let md = pick_manifest(dir, top, 0)?;
        let manifest: Manifest =
            serde_json::from_slice(&read_blob(dir, &md.digest)?).map_err(|e| {
                StoreError::InvalidInput(format!("invalid OCI manifest {}: {e}", md.digest))
            })?;
        let config_bytes = read_blob(dir, &manifest.config.digest)?;
        let (config, _, _) = parse_config(&config_bytes)?;
        check_os(&config)?;
        let layers = manifest
            .layers
            .iter()
            .map(|l| Ok((blob_path(&l.digest)?, Some(l.digest.clone()))))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Several index entries may name the same image: merge their tags.
        if let Some(p) = out.iter_mut().find(|p| p.config_bytes == config_bytes) {
            p.tags.extend(name);
            continue;
        }
        out.push(Pending {
            config_bytes,
            layers,
            tags: name.into_iter().collect(),
            parent: None,
        });
    }
    Ok(out)
}
