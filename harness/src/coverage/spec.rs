//! The operation tables of the Engine API specs (specs/coverage/v*.json,
//! generated from the upstream documents by specs/coverage/generate.py)
//! and the operations a single host cannot serve
//! (specs/coverage/unservable.json), embedded in the binary.

use super::matcher::Template;
use crate::client::ApiVersion;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const V141_JSON: &str = include_str!("../../../specs/coverage/v1.41.json");
const V150_JSON: &str = include_str!("../../../specs/coverage/v1.50.json");
const UNSERVABLE_JSON: &str = include_str!("../../../specs/coverage/unservable.json");

/// One operation of the spec, as the generator wrote it.
#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    /// The spec's operationId (`ContainerCreate`).
    pub operation: String,
    pub method: String,
    /// Path template without the version prefix (`/containers/{id}/json`).
    pub path: String,
    /// The spec's group (its first tag: `Container`, `Swarm`, ...).
    pub tag: String,
    /// Documented query parameter names.
    pub query: Vec<String>,
    /// Documented top-level body field names.
    pub body: Vec<String>,
    /// Documented status codes.
    pub statuses: Vec<u16>,
    /// Why a single host cannot serve it (from unservable.json), if so.
    #[serde(skip)]
    pub unservable: Option<String>,
    /// Documented statuses a single host cannot produce, with the reason
    /// (unservable.json's `statuses`); outside the goal unless seen.
    #[serde(skip)]
    pub unservable_statuses: BTreeMap<u16, String>,
    #[serde(skip)]
    pub template: Template,
}

/// All operations of one spec document.
#[derive(Debug)]
pub struct Table {
    /// `1.41` or `1.50`.
    pub version: String,
    pub operations: Vec<Operation>,
}

#[derive(Deserialize)]
struct TableFile {
    version: String,
    operations: Vec<Operation>,
}

#[derive(Deserialize)]
struct Unservable {
    tags: BTreeMap<String, String>,
    operations: BTreeMap<String, String>,
    /// operationId -> status -> why one host cannot produce it.
    #[serde(default)]
    statuses: BTreeMap<String, BTreeMap<u16, String>>,
}

static V141: OnceLock<Result<Table, String>> = OnceLock::new();
static V150: OnceLock<Result<Table, String>> = OnceLock::new();

pub(crate) fn load(text: &str) -> Result<Table, String> {
    let file: TableFile =
        serde_json::from_str(text).map_err(|e| format!("specs/coverage table: {e}"))?;
    let unservable: Unservable = serde_json::from_str(UNSERVABLE_JSON)
        .map_err(|e| format!("specs/coverage/unservable.json: {e}"))?;
    let operations = file
        .operations
        .into_iter()
        .map(|mut op| {
            op.template = Template::parse(&op.path);
            op.unservable = unservable
                .operations
                .get(&op.operation)
                .or_else(|| unservable.tags.get(&op.tag))
                .cloned();
            op.unservable_statuses = unservable
                .statuses
                .get(&op.operation)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|(st, _)| op.statuses.contains(st))
                .collect();
            op
        })
        .collect();
    Ok(Table {
        version: file.version,
        operations,
    })
}

/// The table for a negotiated version: v1.50 from 1.42 on (the first
/// version past 1.41), else v1.41. Versions below 1.41 are measured
/// against 1.41, which documents a superset of their operations.
pub fn table(version: ApiVersion) -> Result<&'static Table, String> {
    let (cell, text) = if version
        > (ApiVersion {
            major: 1,
            minor: 41,
        }) {
        (&V150, V150_JSON)
    } else {
        (&V141, V141_JSON)
    };
    cell.get_or_init(|| load(text))
        .as_ref()
        .map_err(Clone::clone)
}

impl Table {
    /// The operation `method path` reaches (path with or without the
    /// `/vX.Y` prefix and query): among the templates that match, the one
    /// with the most literal segments, since a router tries those first
    /// (`GET /images/json` is ImageList, not ImageInspect of `json`), then
    /// the one with more segments.
    /// Returns its index in [`Table::operations`].
    pub fn find(&self, method: &str, path: &str) -> Option<usize> {
        let segments = super::matcher::segments(path);
        let mut best: Option<(usize, (usize, usize))> = None;
        for (i, op) in self.operations.iter().enumerate() {
            if !op.method.eq_ignore_ascii_case(method) || !op.template.matches(&segments) {
                continue;
            }
            // Strictly more literals wins, then more segments (parameters
            // spanning less); a full tie keeps the first in spec order.
            let key = op.template.specificity();
            if best.is_none_or(|(_, b)| key > b) {
                best = Some((i, key));
            }
        }
        best.map(|(i, _)| i)
    }
}
