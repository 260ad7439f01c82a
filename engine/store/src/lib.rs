//! The image store: images (config blobs named by their sha256, which is the
//! image ID), tags, and layers unpacked once each for use as overlayfs
//! lower directories. Knows nothing of HTTP; messages are dockerd's words.
//!
//! On-disk layout under `root` (`<data-root>/image`):
//! ```text
//! imagedb/content/sha256/<hex>        image config, verbatim (sha256 = <hex> = image ID)
//! imagedb/metadata/sha256/<hex>.json  {parent, last_tag_time}
//! repositories.json                   {"tags": {"name:tag": "sha256:<id>"}}
//! retained.json                       layers kept for containers of force-deleted images
//! layers/<diffhex>/diff/              the unpacked layer (overlay whiteouts), a lowerdir
//! layers/<diffhex>/layer.tar          the uncompressed layer tar, verbatim (for save)
//! layers/<diffhex>/meta.json          {diff_id, size}
//! layers/.tmp-*                       in-progress unpack or delete; removed on open
//! tmp/                                scratch for archive extraction; emptied on open
//! ```
//! Crash safety: a layer appears under its final name only by an atomic
//! rename after it is complete and synced; records are written with
//! `atomic::write_*`. A load reports success only after all are durable.

pub mod archive;
pub mod atomic;
pub mod diff;
mod error;
mod gopath;
mod load;
pub mod reference;
mod save;
mod unpack;

pub use error::{ErrorKind, StoreError};
pub use save::SavePlan;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use serde::{Deserialize, Serialize};

use crate::archive::{HashReader, UnpackOptions};
use crate::reference::{AnyReference, Reference};

/// An image as the API needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:<64 hex>`, the sha256 of `config_bytes`.
    pub id: String,
    /// Familiar `name:tag` strings, sorted.
    pub repo_tags: Vec<String>,
    /// Always empty: there is no registry, so no manifest digests.
    pub repo_digests: Vec<String>,
    /// The image config JSON exactly as stored.
    pub config: serde_json::Value,
    /// The config's `created`, formatted as Go's RFC3339Nano (as dockerd shows it).
    pub created: String,
    /// Sum of the layers' content sizes, counted as dockerd counts them.
    pub size: u64,
    /// The config's `rootfs.diff_ids`, lowest layer first.
    pub layers: Vec<String>,
    /// Parent image ID or "" (only images built/committed locally have one).
    pub parent: String,
    /// When a tag was last added with `tag()`, RFC3339Nano; Go's zero time if never.
    pub last_tag_time: String,
}

impl Image {
    /// `created` as unix seconds (Go's zero time if missing), for image lists.
    pub fn created_unix(&self) -> i64 {
        parse_time(&self.created)
            .map(|t| t.timestamp())
            .unwrap_or(GO_ZERO_UNIX)
    }

    /// `Config.Labels` of the image config, if any.
    pub fn labels(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.config.get("config")?.get("Labels")?.as_object()
    }
}

/// A container that uses an image, as `remove` needs to know it.
#[derive(Debug, Clone)]
pub struct ImageUserView {
    pub container_id: String,
    pub running: bool,
}

/// One line of `DELETE /images/{name}`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeleteItem {
    Untagged(String),
    Deleted(String),
}

/// Where a new image's layer comes from (`create_image`).
pub enum LayerSource {
    /// A layer already in the store, by diff ID (`sha256:<hex>`).
    Existing(String),
    /// An uncompressed or gzip'd layer tar, registered on the way.
    Tar(Box<dyn Read + Send>),
}

/// A registered layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerInfo {
    pub diff_id: String,
    pub size: u64,
}

const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
const GO_ZERO_UNIX: i64 = -62135596800;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ImageMeta {
    #[serde(default)]
    parent: String,
    #[serde(default)]
    last_tag_time: Option<String>,
}

#[derive(Debug, Clone)]
struct Rec {
    config: serde_json::Value,
    diff_ids: Vec<String>,
    created: String,
    meta: ImageMeta,
}

#[derive(Default)]
struct State {
    images: HashMap<String, Rec>,
    /// familiar `name:tag` -> image ID
    tags: BTreeMap<String, String>,
    /// diff hex -> content size
    layer_sizes: HashMap<String, u64>,
    /// image ID -> diff IDs kept for containers after a forced delete
    retained: BTreeMap<String, Vec<String>>,
}

#[derive(Serialize, Deserialize, Default)]
struct TagsFile {
    tags: BTreeMap<String, String>,
}

pub struct ImageStore {
    root: PathBuf,
    state: RwLock<State>,
    /// Layers in use by an unfinished load/create: never garbage-collected.
    pins: Mutex<HashMap<String, usize>>,
}

/// Unpins a layer when dropped.
struct Pin<'a> {
    store: &'a ImageStore,
    hex: String,
}

impl Drop for Pin<'_> {
    fn drop(&mut self) {
        if let Ok(mut pins) = self.store.pins.lock() {
            if let Some(n) = pins.get_mut(&self.hex) {
                *n -= 1;
                if *n == 0 {
                    pins.remove(&self.hex);
                }
            }
        }
    }
}

fn lock_poisoned() -> StoreError {
    StoreError::Other("image store lock poisoned".into())
}

/// `sha256:<hex>` -> `<hex>`, refusing anything that is not a sha256 digest
/// (these strings become file names).
pub(crate) fn digest_hex(d: &str) -> Result<&str, StoreError> {
    match d.strip_prefix("sha256:") {
        Some(h) if reference::is_full_hex_id(h) => Ok(h),
        _ => Err(StoreError::InvalidInput(format!(
            "invalid digest {d:?}: expected sha256:<64 hex>"
        ))),
    }
}

fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

pub(crate) fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => archive::sha256_digest(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// An RFC3339 time as unix seconds; Go's zero time if it does not parse
/// (as dockerd shows a missing `created`).
pub fn parse_time_unix(s: &str) -> i64 {
    parse_time(s).map(|t| t.timestamp()).unwrap_or(GO_ZERO_UNIX)
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

/// Go's `time.RFC3339Nano` formatting: fraction without trailing zeros, `Z` for UTC.
fn format_go_time(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    use chrono::Timelike;
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    let off = t.offset().local_minus_utc();
    if off == 0 {
        s.push('Z');
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.abs();
        s.push_str(&format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60));
    }
    s
}

fn now_go_time() -> String {
    format_go_time(&chrono::Utc::now().fixed_offset())
}

/// Parses a config and checks what we rely on: an object with `rootfs.diff_ids`.
fn parse_config(bytes: &[u8]) -> Result<(serde_json::Value, Vec<String>, String), StoreError> {
    let config: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::InvalidInput(format!("invalid image JSON: {e}")))?;
    let rootfs = config
        .get("rootfs")
        .filter(|r| r.is_object())
        .ok_or_else(|| StoreError::InvalidInput("invalid image JSON, no RootFS key".into()))?;
    let mut diff_ids = Vec::new();
    if let Some(list) = rootfs.get("diff_ids").and_then(|d| d.as_array()) {
        for d in list {
            let s = d.as_str().ok_or_else(|| {
                StoreError::InvalidInput("invalid image JSON: diff_ids must be strings".into())
            })?;
            digest_hex(s)?;
            diff_ids.push(s.to_string());
        }
    }
    let created = config
        .get("created")
        .and_then(|c| c.as_str())
        .and_then(parse_time)
        .map(|t| format_go_time(&t))
        .unwrap_or_else(|| GO_ZERO_TIME.to_string());
    Ok((config, diff_ids, created))
}

/// Flushes everything written to the filesystem holding `path` (one syscall
/// instead of an fsync per unpacked file).
fn sync_fs(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    use std::os::fd::AsRawFd;
    // SAFETY: f is an open descriptor for the duration of the call.
    let rc = unsafe { libc::syncfs(f.as_raw_fd()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn random_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl ImageStore {
    /// Opens (creating if needed) the store at `root`, reloads persisted state
    /// and removes crash leftovers.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let content = root.join("imagedb/content/sha256");
        let metadata = root.join("imagedb/metadata/sha256");
        let layers = root.join("layers");
        let tmp = root.join("tmp");
        for d in [&content, &metadata, &layers] {
            fs::create_dir_all(d).map_err(|e| StoreError::io(d.display(), e))?;
        }
        // Scratch space is never meaningful after a restart.
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| StoreError::io(tmp.display(), e))?;
        }
        fs::create_dir_all(&tmp)?;
        for d in [root, content.as_path(), metadata.as_path()] {
            atomic::clean_temp_files(d)?;
        }
        let mut state = State::default();

        // Layers: half-unpacked or half-deleted ones live under `.tmp-*`.
        for entry in fs::read_dir(&layers)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with(atomic::TEMP_PREFIX) {
                tracing::info!(path = %path.display(), "removing unfinished layer");
                let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
                continue;
            }
            if !reference::is_full_hex_id(&name) {
                continue;
            }
            match fs::read(path.join("meta.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<LayerInfo>(&b).ok())
            {
                Some(info) => {
                    state.layer_sizes.insert(name, info.size);
                }
                None => {
                    // Renamed into place only when complete, so this is damage, not a crash.
                    tracing::warn!(path = %path.display(), "layer without metadata; ignoring it");
                }
            }
        }

        // Layers any stored config names, even one ignored below: those are
        // damage, and their layers are kept for a human to look at.
        let mut referenced: HashSet<String> = HashSet::new();
        for entry in fs::read_dir(&content)? {
            let entry = entry?;
            let hex = entry.file_name().to_string_lossy().into_owned();
            if !reference::is_full_hex_id(&hex) {
                continue;
            }
            let bytes = fs::read(entry.path())?;
            if archive::sha256_digest(&bytes) != format!("sha256:{hex}") {
                tracing::warn!(id = %hex, "image config does not match its digest; ignoring it");
                continue;
            }
            let (config, diff_ids, created) = match parse_config(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(id = %hex, error = %e, "unreadable image config; ignoring it");
                    continue;
                }
            };
            referenced.extend(
                diff_ids
                    .iter()
                    .map(|d| d.trim_start_matches("sha256:").to_string()),
            );
            if let Some(missing) = diff_ids.iter().find(|d| {
                !state
                    .layer_sizes
                    .contains_key(d.trim_start_matches("sha256:"))
            }) {
                tracing::warn!(id = %hex, layer = %missing, "image layer missing; ignoring image");
                continue;
            }
            let meta: ImageMeta = fs::read(metadata.join(format!("{hex}.json")))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            state.images.insert(
                format!("sha256:{hex}"),
                Rec {
                    config,
                    diff_ids,
                    created,
                    meta,
                },
            );
        }

        if let Ok(b) = fs::read(root.join("repositories.json")) {
            let tf: TagsFile = serde_json::from_slice(&b)
                .map_err(|e| StoreError::Other(format!("corrupt repositories.json: {e}")))?;
            for (tag, id) in tf.tags {
                if state.images.contains_key(&id) {
                    state.tags.insert(tag, id);
                } else {
                    tracing::warn!(%tag, %id, "tag points to a missing image; dropping it");
                }
            }
        }
        if let Ok(b) = fs::read(root.join("retained.json")) {
            state.retained = serde_json::from_slice(&b).unwrap_or_default();
        }
        referenced.extend(
            state
                .retained
                .values()
                .flatten()
                .map(|d| d.trim_start_matches("sha256:").to_string()),
        );
        drop_orphans(&layers, &metadata, &content, &referenced, &mut state)?;
        Ok(ImageStore {
            root: root.to_path_buf(),
            state: RwLock::new(state),
            pins: Mutex::new(HashMap::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn layer_path(&self, hex: &str) -> PathBuf {
        self.root.join("layers").join(hex)
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn pin(&self, diff_id: &str) -> Result<Pin<'_>, StoreError> {
        let hex = digest_hex(diff_id)?.to_string();
        let mut pins = self.pins.lock().map_err(|_| lock_poisoned())?;
        *pins.entry(hex.clone()).or_insert(0) += 1;
        Ok(Pin { store: self, hex })
    }

    fn layer_exists(&self, hex: &str) -> bool {
        self.state
            .read()
            .map(|s| s.layer_sizes.contains_key(hex))
            .unwrap_or(false)
    }

    fn image_from(&self, s: &State, id: &str, rec: &Rec) -> Image {
        let repo_tags = s
            .tags
            .iter()
            .filter(|(_, v)| v.as_str() == id)
            .map(|(k, _)| k.clone())
            .collect();
        let size = rec
            .diff_ids
            .iter()
            .map(|d| {
                s.layer_sizes
                    .get(d.trim_start_matches("sha256:"))
                    .copied()
                    .unwrap_or(0)
            })
            .sum();
        Image {
            id: id.to_string(),
            repo_tags,
            repo_digests: Vec::new(),
            config: rec.config.clone(),
            created: rec.created.clone(),
            size,
            layers: rec.diff_ids.clone(),
            parent: rec.meta.parent.clone(),
            last_tag_time: rec
                .meta
                .last_tag_time
                .clone()
                .unwrap_or_else(|| GO_ZERO_TIME.to_string()),
        }
    }

    /// All images, in no particular order.
    pub fn list(&self) -> Vec<Image> {
        let Ok(s) = self.state.read() else {
            return Vec::new();
        };
        s.images
            .iter()
            .map(|(id, rec)| self.image_from(&s, id, rec))
            .collect()
    }

    /// IDs of images whose parent is `id`.
    pub fn children(&self, id: &str) -> Vec<String> {
        let Ok(s) = self.state.read() else {
            return Vec::new();
        };
        children_of(&s, id)
    }

    /// Resolves a reference as dockerd's `GetImage` does: a tag first, then a
    /// full ID (`sha256:<hex>` or bare hex), then a unique ID prefix.
    pub fn get(&self, reference: &str) -> Result<Image, StoreError> {
        let s = self.state.read().map_err(|_| lock_poisoned())?;
        let id = resolve(&s, reference)?;
        let rec = s.images.get(&id).ok_or_else(|| not_found_for(reference))?;
        Ok(self.image_from(&s, &id, rec))
    }

    /// The image config exactly as stored (its sha256 is the ID).
    pub fn config_bytes(&self, image_id: &str) -> Result<Vec<u8>, StoreError> {
        let id = self.get(image_id)?.id;
        let hex = digest_hex(&id)?;
        Ok(fs::read(
            self.root.join("imagedb/content/sha256").join(hex),
        )?)
    }

    /// Unpacked layer directories of an image, lowest first (overlayfs wants
    /// `lowerdir=` highest first: reverse this).
    pub fn layer_dirs(&self, image_id: &str) -> Result<Vec<PathBuf>, StoreError> {
        let img = self.get(image_id)?;
        img.layers
            .iter()
            .map(|d| Ok(self.layer_path(digest_hex(d)?).join("diff")))
            .collect()
    }

    /// Content size of a registered layer (by diff ID), as history and prune
    /// report it; `None` if the layer is not in the store.
    pub fn layer_size(&self, diff_id: &str) -> Option<u64> {
        let hex = digest_hex(diff_id).ok()?;
        self.state.read().ok()?.layer_sizes.get(hex).copied()
    }

    /// Chain IDs of a layer stack (lowest first), as `remove` reports deleted layers.
    pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
        chain_ids(diff_ids)
    }

    /// Tags `source` as `repo[:tag]` (dockerd's `TagImage`), moving the tag
    /// from any image that had it.
    pub fn tag(&self, source: &str, repo: &str, tag: Option<&str>) -> Result<(), StoreError> {
        let mut s = self.state.write().map_err(|_| lock_poisoned())?;
        let id = resolve(&s, source)?;
        // dockerd leaves these parse errors unclassified, so they are a 500.
        let unclassified = |e: StoreError| match e {
            StoreError::InvalidInput(m) => StoreError::Other(m),
            e => e,
        };
        let mut new = reference::parse_normalized_named(repo).map_err(unclassified)?;
        if let Some(t) = tag.filter(|t| !t.is_empty()) {
            new = new.with_tag(t).map_err(unclassified)?;
        }
        if new.digest.is_some() {
            return Err(StoreError::InvalidInput(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        let new = new.with_default_tag();
        check_tag_name(&new)?;
        let key = new.familiar();
        let old = s.tags.insert(key.clone(), id.clone());
        if let Err(e) = self.persist_tags(&s) {
            match old {
                Some(o) => s.tags.insert(key, o),
                None => s.tags.remove(&key),
            };
            return Err(e);
        }
        if let Some(rec) = s.images.get_mut(&id) {
            rec.meta.last_tag_time = Some(now_go_time());
            let meta = rec.meta.clone();
            self.persist_meta(&id, &meta)?;
        }
        Ok(())
    }

    fn persist_tags(&self, s: &State) -> Result<(), StoreError> {
        atomic::write_json(
            &self.root.join("repositories.json"),
            &TagsFile {
                tags: s.tags.clone(),
            },
        )?;
        Ok(())
    }

    fn persist_meta(&self, id: &str, meta: &ImageMeta) -> Result<(), StoreError> {
        let hex = digest_hex(id)?;
        atomic::write_json(
            &self
                .root
                .join(format!("imagedb/metadata/sha256/{hex}.json")),
            meta,
        )?;
        Ok(())
    }

    fn persist_retained(&self, s: &State) -> Result<(), StoreError> {
        atomic::write_json(&self.root.join("retained.json"), &s.retained)?;
        Ok(())
    }

    /// Removes an image or a tag with dockerd's `ImageDelete` semantics.
    /// `users(id)` lists the containers created from image `id`.
    pub fn remove(
        &self,
        reference: &str,
        force: bool,
        noprune: bool,
        users: &dyn Fn(&str) -> Vec<ImageUserView>,
    ) -> Result<Vec<DeleteItem>, StoreError> {
        let mut s = self.state.write().map_err(|_| lock_poisoned())?;
        let id = resolve(&s, reference)?;
        let mut records = Vec::new();
        let mut refs = tags_of(&s, &id);
        let mut removed_repository_ref = false;
        if !is_id_prefix(&id, reference) {
            // By name: remove that tag first.
            if !force && refs.len() == 1 {
                if let Some(c) = users(&id).first() {
                    return Err(StoreError::Conflict(format!(
                        "conflict: unable to remove repository reference {:?} (must force) - container {} is using its referenced image {}",
                        reference,
                        short_id(&c.container_id),
                        short_id(&id)
                    )));
                }
            }
            let named = reference::parse_normalized_named(reference)?.with_default_tag();
            let key = named.familiar();
            if s.tags.get(&key) != Some(&id) {
                return Err(StoreError::NotFound(format!("No such image: {key}")));
            }
            s.tags.remove(&key);
            self.persist_tags(&s)?;
            records.push(DeleteItem::Untagged(key));
            refs = tags_of(&s, &id);
            if !refs.is_empty() {
                return Ok(records);
            }
            removed_repository_ref = true;
        } else if refs.len() == 1 {
            // By ID with a single tag: it goes with the image.
            let mask = Conflicts {
                hard: true,
                soft: !force,
                active_reference: false,
            };
            if let Some(c) = check_conflict(&s, &id, mask, users) {
                return Err(c.into_error());
            }
            for r in &refs {
                s.tags.remove(r);
                records.push(DeleteItem::Untagged(r.clone()));
            }
            self.persist_tags(&s)?;
        }
        self.delete_helper(
            &mut s,
            &id,
            &mut records,
            force,
            !noprune,
            removed_repository_ref,
            users,
        )?;
        Ok(records)
    }

    #[allow(clippy::too_many_arguments)]
    fn delete_helper(
        &self,
        s: &mut State,
        id: &str,
        records: &mut Vec<DeleteItem>,
        force: bool,
        prune: bool,
        quiet: bool,
        users: &dyn Fn(&str) -> Vec<ImageUserView>,
    ) -> Result<(), StoreError> {
        let mask = Conflicts {
            hard: true,
            soft: !force,
            active_reference: !force,
        };
        if let Some(c) = check_conflict(s, id, mask, users) {
            let dangling = tags_of(s, id).is_empty() && children_of(s, id).is_empty();
            if quiet && (!dangling || c.used) {
                // The tag went; the image stays because something still needs it.
                return Ok(());
            }
            return Err(c.into_error());
        }
        let Some(rec) = s.images.get(id).cloned() else {
            return Ok(());
        };
        let parent = rec.meta.parent.clone();
        let tags = tags_of(s, id);
        if !tags.is_empty() {
            for t in &tags {
                s.tags.remove(t);
                records.push(DeleteItem::Untagged(t.clone()));
            }
            self.persist_tags(s)?;
        }
        let used = !users(id).is_empty();
        if used {
            // A (stopped) container still runs on these layers: keep them,
            // and remember why, so a later delete of another image sharing
            // them does not pull them away either.
            s.retained.insert(id.to_string(), rec.diff_ids.clone());
            self.persist_retained(s)?;
        }
        // Forget the image: metadata first, then the content that makes it exist.
        let hex = digest_hex(id)?.to_string();
        s.images.remove(id);
        let content = self.root.join("imagedb/content/sha256").join(&hex);
        fs::remove_file(&content).or_else(ignore_not_found)?;
        fs::remove_file(
            self.root
                .join(format!("imagedb/metadata/sha256/{hex}.json")),
        )
        .or_else(ignore_not_found)?;
        if let Ok(d) = File::open(content.parent().unwrap_or(&self.root)) {
            let _ = d.sync_all();
        }
        records.push(DeleteItem::Deleted(id.to_string()));
        if !used {
            for chain in self.release_layers(s, &rec.diff_ids)? {
                records.push(DeleteItem::Deleted(chain));
            }
        }
        if !prune || parent.is_empty() || !s.images.contains_key(&parent) {
            return Ok(());
        }
        // Prune the now-unneeded parent, quietly and never by force.
        self.delete_helper(s, &parent, records, false, true, true, users)
    }

    /// Deletes layers of `diff_ids` no image (or retained set, or running load)
    /// still needs. Returns the released chain IDs, top first (dockerd's order).
    fn release_layers(
        &self,
        s: &mut State,
        diff_ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let chains = chain_ids(diff_ids);
        let mut used_chains: HashSet<String> = HashSet::new();
        let mut used_diffs: HashSet<String> = HashSet::new();
        for rec in s.images.values() {
            used_chains.extend(chain_ids(&rec.diff_ids));
            used_diffs.extend(rec.diff_ids.iter().cloned());
        }
        for list in s.retained.values() {
            used_chains.extend(chain_ids(list));
            used_diffs.extend(list.iter().cloned());
        }
        let pins = self.pins.lock().map_err(|_| lock_poisoned())?;
        let mut released = Vec::new();
        for (i, chain) in chains.iter().enumerate().rev() {
            if used_chains.contains(chain) {
                // Everything below is used by the same chain.
                break;
            }
            released.push(chain.clone());
            let diff = &diff_ids[i];
            let hex = digest_hex(diff)?.to_string();
            if used_diffs.contains(diff) || pins.contains_key(&hex) {
                continue;
            }
            self.delete_layer_dir(&hex)?;
            s.layer_sizes.remove(&hex);
            // The same diff may appear twice in one image.
            used_diffs.insert(diff.clone());
        }
        Ok(released)
    }

    fn delete_layer_dir(&self, hex: &str) -> Result<(), StoreError> {
        let path = self.layer_path(hex);
        // Rename out of the way first so a crash never leaves a half-deleted
        // layer under its real name; `open` removes the leftover.
        let doomed = self.root.join("layers").join(format!(
            "{}del-{}",
            atomic::TEMP_PREFIX,
            random_suffix()
        ));
        match fs::rename(&path, &doomed) {
            Ok(()) => {
                if let Err(e) = fs::remove_dir_all(&doomed) {
                    tracing::warn!(path = %doomed.display(), error = %e, "could not remove layer; will retry on restart");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(path.display(), e)),
        }
        Ok(())
    }

    /// Releases the layers kept for containers of a force-deleted image, once
    /// the daemon has removed the last such container.
    pub fn release_retained(&self, image_id: &str) -> Result<(), StoreError> {
        let mut s = self.state.write().map_err(|_| lock_poisoned())?;
        let Some(diffs) = s.retained.remove(image_id) else {
            return Ok(());
        };
        self.persist_retained(&s)?;
        self.release_layers(&mut s, &diffs)?;
        Ok(())
    }

    /// Registers a layer from a tar stream (gzip or plain): unpacks it once
    /// into its content-addressed directory. Idempotent.
    pub fn register_layer(&self, tar: impl Read + Send) -> Result<LayerInfo, StoreError> {
        self.register_layer_checked(tar, None, None)
    }

    /// Registers a layer, checking its diff ID (uncompressed sha256) and
    /// optionally the digest of the raw (possibly compressed) bytes.
    pub(crate) fn register_layer_checked(
        &self,
        raw: impl Read + Send,
        expected_diff: Option<(&str, usize)>,
        expected_blob: Option<&str>,
    ) -> Result<LayerInfo, StoreError> {
        self.register_with(expected_diff, expected_blob, |tmp, diff_dir| {
            let mut blob = HashReader::new(raw);
            let (diff_id, size) = {
                let decompressed = archive::decompress(&mut blob)?;
                let tar_copy = File::create(tmp.join("layer.tar"))?;
                let tee = TeeReader {
                    inner: decompressed,
                    out: io::BufWriter::new(tar_copy),
                };
                let mut hashed = HashReader::new(tee);
                let size = archive::unpack(&mut hashed, diff_dir, LAYER_UNPACK)?;
                let (diff_id, _) = hashed.finish()?;
                (diff_id, size)
            };
            let (blob_digest, _) = blob.finish()?;
            Ok((diff_id, blob_digest, size))
        })
    }

    /// Like [`Self::register_layer_checked`], for a layer that is a file on
    /// the store's filesystem (a loaded archive's, unpacked in the store's
    /// scratch): an uncompressed one is linked in as the stored tar instead
    /// of copied, and hashed once (its blob digest is its diff ID). That
    /// halves what a load writes and syncs.
    pub(crate) fn register_layer_file(
        &self,
        file: File,
        expected_diff: Option<(&str, usize)>,
        expected_blob: Option<&str>,
    ) -> Result<LayerInfo, StoreError> {
        let mut head = [0u8; 6];
        let n = std::os::unix::fs::FileExt::read_at(&file, &mut head, 0)?;
        if archive::is_compressed(&head[..n]) {
            return self.register_layer_checked(file, expected_diff, expected_blob);
        }
        self.register_with(expected_diff, expected_blob, |tmp, diff_dir| {
            let stored = tmp.join("layer.tar");
            if link_open_file(&file, &stored).is_ok() {
                // The archive's mode for it is no concern of the store.
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&stored, fs::Permissions::from_mode(0o644))?;
            } else {
                // Another filesystem, or no /proc: copy it.
                io::copy(&mut &file, &mut File::create(&stored)?)?;
            }
            let mut hashed = HashReader::new(io::BufReader::with_capacity(
                256 * 1024,
                File::open(&stored)?,
            ));
            let size = archive::unpack(&mut hashed, diff_dir, LAYER_UNPACK)?;
            let (digest, _) = hashed.finish()?;
            Ok((digest.clone(), digest, size))
        })
    }

    /// The steps every layer registration shares: `fill` writes
    /// `<tmp>/layer.tar` and unpacks into `<tmp>/diff`, returning (diff ID,
    /// blob digest, size); the digests are checked, and the directory is
    /// synced and renamed into place.
    fn register_with(
        &self,
        expected_diff: Option<(&str, usize)>,
        expected_blob: Option<&str>,
        fill: impl FnOnce(&Path, &Path) -> Result<(String, String, u64), StoreError>,
    ) -> Result<LayerInfo, StoreError> {
        let layers_dir = self.root.join("layers");
        let tmp = layers_dir.join(format!("{}{}", atomic::TEMP_PREFIX, random_suffix()));
        let result = (|| {
            fs::create_dir(&tmp)?;
            let diff_dir = tmp.join("diff");
            fs::create_dir(&diff_dir)?;
            let (diff_id, blob_digest, size) = fill(&tmp, &diff_dir)?;
            if let Some(want) = expected_blob {
                if want != blob_digest {
                    return Err(StoreError::InvalidInput(format!(
                        "invalid layer blob: expected digest {want:?}, got {blob_digest:?}"
                    )));
                }
            }
            if let Some((want, i)) = expected_diff {
                if want != diff_id {
                    return Err(StoreError::InvalidInput(format!(
                        "invalid diffID for layer {i}: expected {want:?}, got {diff_id:?}"
                    )));
                }
            }
            let info = LayerInfo { diff_id, size };
            atomic::write_json(&tmp.join("meta.json"), &info)?;
            Ok(info)
        })();
        let info = match result {
            Ok(i) => i,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        let hex = digest_hex(&info.diff_id)?.to_string();
        let final_path = self.layer_path(&hex);
        if self.layer_exists(&hex) {
            let _ = fs::remove_dir_all(&tmp);
            return Ok(info);
        }
        sync_fs(&tmp)?;
        match fs::rename(&tmp, &final_path) {
            Ok(()) => {
                File::open(&layers_dir)?.sync_all()?;
            }
            // Another load finished the same layer first: keep theirs.
            Err(_) if final_path.join("meta.json").exists() => {
                let _ = fs::remove_dir_all(&tmp);
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(StoreError::io(final_path.display(), e));
            }
        }
        self.state
            .write()
            .map_err(|_| lock_poisoned())?
            .layer_sizes
            .insert(hex, info.size);
        Ok(info)
    }

    /// Stores a config whose layers are all registered, and tags it.
    /// Returns progress lines (tag moves) through `progress`.
    fn commit_image(
        &self,
        config_bytes: &[u8],
        parent: Option<&str>,
        tags: &[Reference],
        progress: &mut dyn FnMut(&str),
    ) -> Result<String, StoreError> {
        let (config, diff_ids, created) = parse_config(config_bytes)?;
        let id = archive::sha256_digest(config_bytes);
        let hex = digest_hex(&id)?.to_string();
        let mut s = self.state.write().map_err(|_| lock_poisoned())?;
        for d in &diff_ids {
            if !s.layer_sizes.contains_key(digest_hex(d)?) {
                return Err(StoreError::Other(format!("layer {d} is not in the store")));
            }
        }
        if !s.images.contains_key(&id) {
            let mut meta = ImageMeta::default();
            if let Some(p) = parent {
                meta.parent = p.to_string();
            }
            self.persist_meta(&id, &meta)?;
            atomic::write_file(
                &self.root.join("imagedb/content/sha256").join(&hex),
                config_bytes,
            )?;
            s.images.insert(
                id.clone(),
                Rec {
                    config,
                    diff_ids,
                    created,
                    meta,
                },
            );
        } else if let Some(p) = parent {
            if let Some(rec) = s.images.get_mut(&id) {
                rec.meta.parent = p.to_string();
                let meta = rec.meta.clone();
                self.persist_meta(&id, &meta)?;
            }
        }
        if !tags.is_empty() {
            for t in tags {
                let key = t.familiar();
                if let Some(prev) = s.tags.get(&key) {
                    if *prev != id {
                        progress(&format!(
                            "The image {key} already exists, renaming the old one with ID {prev} to empty string"
                        ));
                    }
                }
                s.tags.insert(key, id.clone());
            }
            self.persist_tags(&s)?;
        }
        Ok(id)
    }

    /// Creates an image from `config` and `layers` (for commit/import/build):
    /// registers tar layers, sets `rootfs` to the resulting diff IDs, stores the
    /// config (serialised compactly; its sha256 becomes the ID) and applies `tags`.
    pub fn create_image(
        &self,
        mut config: serde_json::Value,
        layers: Vec<LayerSource>,
        parent: Option<&str>,
        tags: &[String],
    ) -> Result<Image, StoreError> {
        let refs = tags
            .iter()
            .map(|t| {
                let r = reference::parse_normalized_named(t)?.with_default_tag();
                check_tag_name(&r)?;
                if r.digest.is_some() {
                    return Err(StoreError::InvalidInput(
                        "refusing to create a tag with a digest reference".into(),
                    ));
                }
                Ok(r)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(p) = parent {
            self.get(p)?;
        }
        let mut pins = Vec::new();
        let mut diff_ids = Vec::new();
        for l in layers {
            let d = match l {
                LayerSource::Existing(d) => {
                    let hex = digest_hex(&d)?;
                    if !self.layer_exists(hex) {
                        return Err(StoreError::NotFound(format!(
                            "layer {d} is not in the store"
                        )));
                    }
                    d
                }
                LayerSource::Tar(r) => self.register_layer(r)?.diff_id,
            };
            pins.push(self.pin(&d)?);
            diff_ids.push(d);
        }
        let obj = config
            .as_object_mut()
            .ok_or_else(|| StoreError::InvalidInput("image config must be a JSON object".into()))?;
        obj.insert(
            "rootfs".into(),
            serde_json::json!({"type": "layers", "diff_ids": diff_ids}),
        );
        let bytes = serde_json::to_vec(&config).map_err(|e| StoreError::Other(e.to_string()))?;
        let id = self.commit_image(&bytes, parent, &refs, &mut |_| {})?;
        drop(pins);
        self.get(&id)
    }

    /// Loads a docker-archive or OCI-layout tarball (optionally gzip'd).
    /// `progress` receives dockerd's stream lines ("Loaded image: x:1").
    /// Returns the IDs of the loaded images; everything is durable on return.
    pub fn load(
        &self,
        input: impl Read + Send,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>, StoreError> {
        load::load(self, input, progress)
    }

    /// Resolves `references` for `save` (errors here come before any output).
    pub fn plan_save(&self, references: &[String]) -> Result<SavePlan, StoreError> {
        save::plan(self, references)
    }

    /// Writes a planned docker-archive to `out`.
    pub fn write_save(&self, plan: &SavePlan, out: impl io::Write) -> Result<(), StoreError> {
        save::write(self, plan, out)
    }

    /// Writes a docker-archive with `references` that `docker load` accepts.
    pub fn save(&self, references: &[String], out: impl io::Write) -> Result<(), StoreError> {
        let plan = self.plan_save(references)?;
        self.write_save(&plan, out)
    }
}

/// Removes what a crash can orphan: layers no image needs (a load, commit or
/// build cut before its image was stored, or an image delete cut before its
/// layers went; neither was acknowledged) and metadata whose image config
/// is gone. A layer is renamed out of the way before it is deleted, so a
/// crash mid-delete never leaves a partial layer under its real name.
fn drop_orphans(
    layers: &Path,
    metadata: &Path,
    content: &Path,
    referenced: &HashSet<String>,
    state: &mut State,
) -> Result<(), StoreError> {
    let orphans: Vec<String> = state
        .layer_sizes
        .keys()
        .filter(|hex| !referenced.contains(*hex))
        .cloned()
        .collect();
    for hex in orphans {
        tracing::info!(layer = %hex, "removing a layer no image uses");
        let doomed = layers.join(format!("{}del-{}", atomic::TEMP_PREFIX, random_suffix()));
        fs::rename(layers.join(&hex), &doomed)?;
        state.layer_sizes.remove(&hex);
        if let Err(e) = fs::remove_dir_all(&doomed) {
            tracing::warn!(path = %doomed.display(), error = %e, "could not remove layer; will retry on restart");
        }
    }
    for entry in fs::read_dir(metadata)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(hex) = name.strip_suffix(".json") else {
            continue;
        };
        if reference::is_full_hex_id(hex) && !content.join(hex).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

fn ignore_not_found(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// dockerd refuses names that would be confused with IDs.
fn check_tag_name(r: &Reference) -> Result<(), StoreError> {
    if r.familiar_name() == "sha256" {
        return Err(StoreError::InvalidInput(
            "refusing to create an ambiguous tag using digest algorithm as name".into(),
        ));
    }
    Ok(())
}

/// How layers are unpacked into the store.
const LAYER_UNPACK: UnpackOptions = UnpackOptions {
    overlay_whiteouts: true,
    preserve_owner: true,
    no_overwrite_dir_non_dir: false,
};

/// Gives the open `file` a second name, `to` (same filesystem), through
/// /proc/self/fd: the file is linked as it was opened, whatever happened to
/// its path since.
fn link_open_file(file: &File, to: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let from = archive::cpath(Path::new(&format!("/proc/self/fd/{}", file.as_raw_fd())))?;
    let to = archive::cpath(to)?;
    // SAFETY: both are NUL-terminated paths; AT_SYMLINK_FOLLOW resolves the
    // magic link to the open file.
    let rc = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

struct TeeReader<R, W: io::Write> {
    inner: R,
    out: W,
}

impl<R: Read, W: io::Write> Read for TeeReader<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        if n == 0 {
            self.out.flush()?;
        }
        Ok(n)
    }
}

fn tags_of(s: &State, id: &str) -> Vec<String> {
    s.tags
        .iter()
        .filter(|(_, v)| v.as_str() == id)
        .map(|(k, _)| k.clone())
        .collect()
}

fn children_of(s: &State, id: &str) -> Vec<String> {
    s.images
        .iter()
        .filter(|(_, r)| r.meta.parent == id)
        .map(|(k, _)| k.clone())
        .collect()
}

/// dockerd's `isImageIDPrefix`.
fn is_id_prefix(id: &str, candidate: &str) -> bool {
    id.starts_with(candidate)
        || id
            .strip_prefix("sha256:")
            .is_some_and(|h| h.starts_with(candidate))
}

fn not_found_for(reference: &str) -> StoreError {
    match reference::parse_any(reference) {
        Ok(AnyReference::Named(r)) => StoreError::NotFound(format!(
            "No such image: {}",
            r.with_default_tag().familiar()
        )),
        Ok(AnyReference::Digest(d)) => StoreError::NotFound(format!("No such image: {d}")),
        Err(e) => e,
    }
}

/// dockerd's `GetImage` resolution, returning the image ID.
fn resolve(s: &State, reference: &str) -> Result<String, StoreError> {
    match reference::parse_any(reference).map_err(|e| match e {
        // An invalid reference is the client's fault here (400), even the
        // 64-hex case that is a 500 when tagging.
        StoreError::Other(m) => StoreError::InvalidInput(m),
        e => e,
    })? {
        AnyReference::Digest(d) => {
            if s.images.contains_key(&d) {
                return Ok(d);
            }
            Err(StoreError::NotFound(format!("No such image: {d}")))
        }
        AnyReference::Named(r) => {
            let r = r.with_default_tag();
            if r.digest.is_none() {
                if let Some(id) = s.tags.get(&r.familiar()) {
                    return Ok(id.clone());
                }
            }
            if let Some(id) = search_prefix(s, reference) {
                return Ok(id);
            }
            Err(StoreError::NotFound(format!(
                "No such image: {}",
                r.familiar()
            )))
        }
    }
}

/// A unique ID prefix (`7ff0`, `sha256:7ff0`); ambiguous or none -> None.
fn search_prefix(s: &State, term: &str) -> Option<String> {
    let hex = match term.split_once(':') {
        Some(("sha256", h)) => h,
        Some(_) => return None,
        None => term,
    };
    if !reference::is_hex(hex) {
        return None;
    }
    let mut found = s.images.keys().filter(|id| id[7..].starts_with(hex));
    let first = found.next()?;
    if found.next().is_some() {
        return None;
    }
    Some(first.clone())
}

#[derive(Clone, Copy)]
struct Conflicts {
    /// dependent children, running containers
    hard: bool,
    /// stopped containers
    soft: bool,
    /// other tags
    active_reference: bool,
}

struct Conflict {
    id: String,
    hard: bool,
    used: bool,
    message: String,
}

impl Conflict {
    fn into_error(self) -> StoreError {
        let force = if self.hard {
            "cannot be forced"
        } else {
            "must be forced"
        };
        StoreError::Conflict(format!(
            "conflict: unable to delete {} ({force}) - {}",
            short_id(&self.id),
            self.message
        ))
    }
}

/// dockerd's `checkImageDeleteConflict`, in its order.
fn check_conflict(
    s: &State,
    id: &str,
    mask: Conflicts,
    users: &dyn Fn(&str) -> Vec<ImageUserView>,
) -> Option<Conflict> {
    let conflict = |hard, used, message: String| Conflict {
        id: id.to_string(),
        hard,
        used,
        message,
    };
    if mask.hard && !children_of(s, id).is_empty() {
        return Some(conflict(
            true,
            false,
            "image has dependent child images".into(),
        ));
    }
    let us = users(id);
    if mask.hard {
        if let Some(c) = us.iter().find(|c| c.running) {
            return Some(conflict(
                true,
                true,
                format!(
                    "image is being used by running container {}",
                    short_id(&c.container_id)
                ),
            ));
        }
    }
    if mask.active_reference && !tags_of(s, id).is_empty() {
        return Some(conflict(
            false,
            false,
            "image is referenced in multiple repositories".into(),
        ));
    }
    if mask.soft {
        if let Some(c) = us.iter().find(|c| !c.running) {
            return Some(conflict(
                false,
                true,
                format!(
                    "image is being used by stopped container {}",
                    short_id(&c.container_id)
                ),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests;
