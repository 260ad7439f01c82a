//! `docker save`: a docker-archive (manifest.json, `<config hex>.json`,
//! `<layer dir>/layer.tar`, repositories) that real `docker load` accepts.
//! Names are resolved as dockerd's `parseNames` does.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::layer::chain_ids;
use crate::reference::{self, AnyReference};
use crate::resolve::{digest_hex, resolve, search_prefix};
use crate::store::lock_poisoned;
use crate::{ImageStore, StoreError};

/// What to write: image IDs in first-mention order, each with the tags to record.
#[derive(Debug, Clone, Default)]
pub struct SavePlan {
    pub images: Vec<(String, Vec<String>)>,
}

impl SavePlan {
    fn add(&mut self, id: String, tag: Option<String>) {
        let idx = match self.images.iter().position(|(i, _)| *i == id) {
            Some(i) => i,
            None => {
                self.images.push((id, Vec::new()));
                self.images.len() - 1
            }
        };
        if let Some(t) = tag {
            if !self.images[idx].1.contains(&t) {
                self.images[idx].1.push(t);
            }
        }
    }
}

impl ImageStore {
    /// Resolves `references` for `save` (errors here come before any output).
    pub fn plan_save(&self, references: &[String]) -> Result<SavePlan, StoreError> {
        plan(self, references)
    }

    /// Writes a planned docker-archive to `out`.
    pub fn write_save(&self, plan: &SavePlan, out: impl io::Write) -> Result<(), StoreError> {
        write(self, plan, out)
    }

    /// Writes a docker-archive with `references` that `docker load` accepts.
    pub fn save(&self, references: &[String], out: impl io::Write) -> Result<(), StoreError> {
        let plan = self.plan_save(references)?;
        self.write_save(&plan, out)
    }
}

pub(crate) fn plan(store: &ImageStore, names: &[String]) -> Result<SavePlan, StoreError> {
    let s = store.state.read().map_err(|_| lock_poisoned())?;
    let mut plan = SavePlan::default();
    let search = |name: &str| -> Result<String, StoreError> {
        search_prefix(&s, name)
            .ok_or_else(|| StoreError::NotFound(format!("No such image: {name}")))
    };
    for name in names {
        // dockerd answers 500 for an unparsable name here.
        let parsed = reference::parse_any(name).map_err(|e| StoreError::Other(e.to_string()))?;
        match parsed {
            AnyReference::Digest(d) => {
                if !s.images.contains_key(&d) {
                    return Err(StoreError::NotFound(format!("No such image: {d}")));
                }
                plan.add(d, None);
            }
            AnyReference::Named(r) => {
                if r.familiar_name() == "sha256" {
                    plan.add(search(name)?, None);
                } else if r.is_name_only() {
                    // A bare repository name saves every tag of it.
                    let prefix = format!("{}:", r.familiar_name());
                    let mut any = false;
                    for (tag, id) in s.tags.iter().filter(|(t, _)| t.starts_with(&prefix)) {
                        plan.add(id.clone(), Some(tag.clone()));
                        any = true;
                    }
                    if !any {
                        plan.add(search(name)?, None);
                    }
                } else if r.digest.is_some() {
                    // No registry, so no manifest digests are ever recorded.
                    return Err(StoreError::NotFound("reference does not exist".into()));
                } else {
                    let key = r.familiar();
                    let id = s
                        .tags
                        .get(&key)
                        .ok_or_else(|| StoreError::NotFound("reference does not exist".into()))?;
                    plan.add(id.clone(), Some(key));
                }
            }
        }
    }
    // Keep `resolve` and this in step: every planned ID exists.
    for (id, _) in &plan.images {
        resolve(&s, id)?;
    }
    Ok(plan)
}

#[derive(Serialize)]
struct ManifestOut {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h
}

pub(crate) fn write(
    store: &ImageStore,
    plan: &SavePlan,
    out: impl Write,
) -> Result<(), StoreError> {
    let mut b = tar::Builder::new(out);
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    // diff ID -> path of the first copy written (later ones are symlinks, as dockerd does).
    let mut written_diffs: BTreeMap<String, String> = BTreeMap::new();
    let mut written_dirs: Vec<String> = Vec::new();
    for (id, tags) in &plan.images {
        let img = store.get(id)?;
        let config_bytes = store.config_bytes(id)?;
        let mtime = img.created_unix().max(0) as u64;
        let chains = chain_ids(&img.layers);
        let mut layer_paths = Vec::new();
        let mut parent_dir: Option<String> = None;
        for (diff, chain) in img.layers.iter().zip(&chains) {
            // A stable per-position directory name: the chain ID's hex.
            let dir = digest_hex(chain)?.to_string();
            let path = format!("{dir}/layer.tar");
            layer_paths.push(path.clone());
            if written_dirs.contains(&dir) {
                parent_dir = Some(dir);
                continue;
            }
            written_dirs.push(dir.clone());
            b.append_data(
                &mut header(tar::EntryType::Directory, 0o755, 0, mtime),
                format!("{dir}/"),
                io::empty(),
            )?;
            b.append_data(
                &mut header(tar::EntryType::Regular, 0o644, 3, mtime),
                format!("{dir}/VERSION"),
                &b"1.0"[..],
            )?;
            let mut v1 = serde_json::json!({ "id": dir });
            if let Some(p) = &parent_dir {
                v1["parent"] = serde_json::Value::String(p.clone());
            }
            let v1 = serde_json::to_vec(&v1).map_err(|e| StoreError::Other(e.to_string()))?;
            b.append_data(
                &mut header(tar::EntryType::Regular, 0o644, v1.len() as u64, mtime),
                format!("{dir}/json"),
                &v1[..],
            )?;
            if let Some(first) = written_diffs.get(diff) {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0, mtime);
                b.append_link(&mut h, &path, format!("../{first}"))?;
            } else {
                let (len, f) = store.layer_tar(diff)?;
                b.append_data(
                    &mut header(tar::EntryType::Regular, 0o644, len, mtime),
                    &path,
                    f,
                )?;
                written_diffs.insert(diff.clone(), path.clone());
            }
            parent_dir = Some(dir);
        }
        let config_name = format!("{}.json", digest_hex(&img.id)?);
        b.append_data(
            &mut header(
                tar::EntryType::Regular,
                0o644,
                config_bytes.len() as u64,
                mtime,
            ),
            &config_name,
            &config_bytes[..],
        )?;
        for t in tags {
            if let Ok(r) = reference::parse_normalized_named(t) {
                if let (Some(tag), Some(top)) = (r.tag.clone(), &parent_dir) {
                    repositories
                        .entry(r.familiar_name())
                        .or_default()
                        .insert(tag, top.clone());
                }
            }
        }
        manifest.push(ManifestOut {
            config: config_name,
            repo_tags: if tags.is_empty() {
                None
            } else {
                Some(tags.clone())
            },
            layers: layer_paths,
        });
    }
    // Go writes an empty (nil) manifest list as `null`, as dockerd does
    // for a save of no images.
    let m = if manifest.is_empty() {
        b"null".to_vec()
    } else {
        serde_json::to_vec(&manifest).map_err(|e| StoreError::Other(e.to_string()))?
    };
    b.append_data(
        &mut header(tar::EntryType::Regular, 0o644, m.len() as u64, 0),
        "manifest.json",
        &m[..],
    )?;
    if !repositories.is_empty() {
        let r = serde_json::to_vec(&repositories).map_err(|e| StoreError::Other(e.to_string()))?;
        b.append_data(
            &mut header(tar::EntryType::Regular, 0o644, r.len() as u64, 0),
            "repositories",
            &r[..],
        )?;
    }
    b.into_inner()?.flush()?;
    Ok(())
}
