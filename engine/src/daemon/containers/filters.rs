//! Which containers a listing keeps (`GET /containers/json?filters=...`):
//! the keys it takes and how each matches a container's record. The JSON
//! grammar itself is `crate::filters`.

use shipshape_store::ImageStore;

use super::record::Record;
use crate::errdefs::EngineError;

const KEYS: &[&str] = &["status", "name", "label", "id", "ancestor"];
const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

#[derive(Debug, Default)]
pub struct Filters {
    by_key: crate::filters::Filters,
    /// `ancestor` values resolved to image IDs once, up front: matching then
    /// needs no image-store lock while a container's record is locked.
    ancestors: Vec<(String, Option<String>)>,
}

impl crate::daemon::Daemon {
    /// The `filters` of a container listing, checked.
    pub fn container_filters(&self, raw: Option<&str>) -> Result<Filters, EngineError> {
        Filters::parse(raw, &self.images)
    }
}

impl Filters {
    pub fn parse(raw: Option<&str>, images: &ImageStore) -> Result<Self, EngineError> {
        let f = crate::filters::parse(raw, KEYS)?;
        if let Some(bad) = f
            .get("status")
            .and_then(|v| v.iter().find(|s| !STATUSES.contains(&s.as_str())))
        {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid filter 'status={bad}'"
            )));
        }
        let ancestors = f
            .get("ancestor")
            .into_iter()
            .flatten()
            .map(|r| (r.clone(), images.get(r).ok().map(|i| i.id)))
            .collect();
        Ok(Filters {
            by_key: f,
            ancestors,
        })
    }

    fn ancestor_matches(&self, r: &Record, reference: &str) -> bool {
        match self.ancestors.iter().find(|(name, _)| name == reference) {
            Some((_, Some(id))) => *id == r.image_id,
            _ => r.config.image == reference,
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// Values of one key are OR'ed; keys are AND'ed, as in Docker.
    pub fn matches(&self, r: &Record) -> bool {
        self.by_key.iter().all(|(k, values)| {
            values.is_empty()
                || values.iter().any(|v| match k.as_str() {
                    "status" => r.state.status.as_str() == v,
                    "name" => name_matches(&r.name, v),
                    "id" => r.id.starts_with(v.as_str()),
                    "label" => crate::filters::label_matches(&r.config.labels.as_ref(), v),
                    "ancestor" => self.ancestor_matches(r, v),
                    _ => false,
                })
        })
    }
}

/// Docker matches names with a regular expression; we support its common
/// forms: a substring, optionally anchored with `^` and `$`.
fn name_matches(name: &str, pattern: &str) -> bool {
    let bare = name.trim_start_matches('/');
    let (anchored_start, p) = match pattern.strip_prefix('^') {
        Some(p) => (true, p.trim_start_matches('/')),
        None => (false, pattern.trim_start_matches('/')),
    };
    let (anchored_end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (anchored_start, anchored_end) {
        (true, true) => bare == p,
        (true, false) => bare.starts_with(p),
        (false, true) => bare.ends_with(p),
        (false, false) => bare.contains(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_filter_forms_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let images = ImageStore::open(dir.path()).unwrap();
        let parse = |raw: &str| Filters::parse(Some(raw), &images);
        let f = parse(r#"{"status":["running"],"label":["a=b"]}"#).unwrap();
        assert!(f.has("status") && f.has("label"));
        let f = parse(r#"{"status":{"exited":true}}"#).unwrap();
        assert_eq!(f.by_key["status"], vec!["exited"]);
        let e = parse(r#"{"foo":["x"]}"#).unwrap_err();
        assert_eq!(e.to_string(), "Invalid filter 'foo'");
        let e = parse(r#"{"status":["bogus"]}"#).unwrap_err();
        assert_eq!(e.to_string(), "Invalid filter 'status=bogus'");
        assert!(matches!(parse("bad").unwrap_err(), EngineError::System(_)));
        // An ancestor that names no image falls back to the name the container was created with.
        let f = parse(r#"{"ancestor":["nope:1"]}"#).unwrap();
        assert_eq!(f.ancestors, vec![("nope:1".to_string(), None)]);
    }

    #[test]
    fn names_match_like_docker_regexps() {
        assert!(name_matches("/web-1", "web"));
        assert!(name_matches("/web-1", "^web-1$"));
        assert!(name_matches("/web-1", "^/web"));
        assert!(!name_matches("/web-1", "^eb"));
    }
}
