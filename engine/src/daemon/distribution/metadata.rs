//! Which registry blob each layer became (dockerd's "v2metadata"): a
//! pulled layer's blob digest, media type and repository, and a pushed
//! layer's compressed blob. A push uses it to skip blobs the registry has
//! and to mount them across repositories, and so pushes a pulled image back
//! as the very same blobs (same manifest digest). Kept in
//! `<data-root>/distribution.json`, written atomically; losing it only costs
//! a re-upload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlobRecord {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    /// The repository path on the registry (`team/app`).
    pub repo: String,
}

/// diff ID -> registry host -> blobs known there.
type Map = BTreeMap<String, BTreeMap<String, Vec<BlobRecord>>>;

pub struct Metadata {
    path: PathBuf,
    map: Mutex<Map>,
}

impl Metadata {
    pub fn open(data_root: &Path) -> Metadata {
        let path = data_root.join("distribution.json");
        let map = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Metadata {
            path,
            map: Mutex::new(map),
        }
    }

    /// The blobs `diff_id` is known as on `host`.
    pub fn blobs_for(&self, diff_id: &str, host: &str) -> Vec<BlobRecord> {
        self.map
            .lock()
            .ok()
            .and_then(|m| m.get(diff_id).and_then(|h| h.get(host)).cloned())
            .unwrap_or_default()
    }

    /// Remembers a blob (and saves; a failure to save is only logged).
    pub fn record(&self, diff_id: &str, host: &str, rec: BlobRecord) {
        let Ok(mut m) = self.map.lock() else { return };
        let list = m
            .entry(diff_id.to_string())
            .or_default()
            .entry(host.to_string())
            .or_default();
        if list.contains(&rec) {
            return;
        }
        list.retain(|r| !(r.repo == rec.repo && r.digest == rec.digest));
        list.push(rec);
        // Bounded: the newest few per host are plenty.
        if list.len() > 16 {
            list.remove(0);
        }
        if let Err(e) = shipshape_store::atomic::write_json(&self.path, &*m) {
            tracing::warn!(error = %e, "could not save distribution metadata");
        }
    }
}
