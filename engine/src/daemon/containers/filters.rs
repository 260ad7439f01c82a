//! Which containers a listing keeps (`GET /containers/json?filters=...`):
//! the keys it takes and how each matches a container's record. The JSON
//! grammar itself is `crate::filters`.

use std::collections::BTreeSet;

use shipshape_store::ImageStore;

use super::record::{Record, ZERO_TIME};
use crate::errdefs::EngineError;
use crate::filters::go_parse;

/// Every key dockerd 20.10 takes for `GET /containers/json`.
const KEYS: &[&str] = &[
    "ancestor",
    "before",
    "expose",
    "exited",
    "health",
    "id",
    "isolation",
    "is-task",
    "label",
    "name",
    "network",
    "publish",
    "since",
    "status",
    "volume",
];
const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];
const HEALTH: &[&str] = &["starting", "healthy", "unhealthy", "none"];

/// A port filter value: number and protocol (`80/tcp`).
type Port = (u16, String);

#[derive(Debug, Default)]
pub struct Filters {
    by_key: crate::filters::Filters,
    /// `ancestor` values resolved to image IDs once, up front: matching then
    /// needs no image-store lock while a container's record is locked.
    ancestors: Vec<(String, Option<String>)>,
    exited: Vec<i32>,
    expose: BTreeSet<Port>,
    publish: BTreeSet<Port>,
    /// `is-task`: no container of this engine is a swarm task.
    is_task: Option<bool>,
    /// `since` and `before`, resolved to container IDs.
    since: Option<String>,
    before: Option<String>,
}

/// Where a listing's walk (newest first) stands with one container.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Before the `before` container, or that container itself.
    Skip,
    /// The `since` container: it and everything older are left out.
    Stop,
    /// Subject to the other filters.
    Consider,
}

/// The `before`/`since` state of one listing.
pub struct Walk<'f> {
    before: Option<&'f str>,
    since: Option<&'f str>,
}

impl Walk<'_> {
    pub fn step(&mut self, id: &str) -> Step {
        if let Some(b) = self.before {
            if b == id {
                self.before = None;
            }
            return Step::Skip;
        }
        if self.since == Some(id) {
            return Step::Stop;
        }
        Step::Consider
    }
}

impl crate::daemon::Daemon {
    /// The `filters` of a container listing, checked.
    pub fn container_filters(&self, raw: Option<&str>) -> Result<Filters, EngineError> {
        let mut f = Filters::parse(raw, &self.images)?;
        // dockerd looks `since`/`before` up by full ID or exact name only,
        // and answers anything else with an uncategorised (500) error.
        let lookup = |v: &String| -> Result<String, EngineError> {
            let name = format!("/{}", v.trim_start_matches('/'));
            self.all_containers()
                .into_iter()
                .find(|c| c.id == *v || c.record().name == name)
                .map(|c| c.id.clone())
                .ok_or_else(|| EngineError::System(format!("no such container {v}")))
        };
        for (key, slot) in [("since", &mut f.since), ("before", &mut f.before)] {
            for v in f.by_key.get(key).into_iter().flatten() {
                *slot = Some(lookup(v)?);
            }
        }
        Ok(f)
    }
}

impl Filters {
    pub fn parse(raw: Option<&str>, images: &ImageStore) -> Result<Self, EngineError> {
        let f = crate::filters::parse(raw, KEYS)?;
        let values = |k: &str| f.get(k).into_iter().flatten();
        if let Some(bad) = values("status").find(|s| !STATUSES.contains(&s.as_str())) {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid filter 'status={bad}'"
            )));
        }
        if let Some(bad) = values("health").find(|s| !HEALTH.contains(&s.as_str())) {
            return Err(EngineError::InvalidParameter(format!(
                "Unrecognised filter value for health: {bad}"
            )));
        }
        let is_task = match f.get("is-task") {
            None => None,
            Some(v) if v.iter().any(|s| s == "true") => Some(true),
            Some(v) if v.iter().any(|s| s == "false") => Some(false),
            // Go prints the values as a slice: "[a b]".
            Some(v) => {
                return Err(EngineError::InvalidParameter(format!(
                    "Invalid filter 'is-task=[{}]'",
                    v.join(" ")
                )))
            }
        };
        let exited = values("exited")
            .map(|v| go_parse::<i32>("Atoi", v).map_err(EngineError::System))
            .collect::<Result<_, _>>()?;
        let expose = ports("expose", values("expose"))?;
        let publish = ports("publish", values("publish"))?;
        let ancestors = values("ancestor")
            .map(|r| (r.clone(), images.get(r).ok().map(|i| i.id)))
            .collect();
        Ok(Filters {
            by_key: f,
            ancestors,
            exited,
            expose,
            publish,
            is_task,
            since: None,
            before: None,
        })
    }

    fn ancestor_matches(&self, r: &Record, reference: &str) -> bool {
        match self.ancestors.iter().find(|(name, _)| name == reference) {
            Some((_, Some(id))) => *id == r.image_id,
            _ => r.config.image == reference,
        }
    }

    /// A filter that lists stopped containers without `all` (`status` does).
    pub fn implies_all(&self) -> bool {
        self.by_key.contains_key("status")
    }

    pub fn walk(&self) -> Walk<'_> {
        Walk {
            before: self.before.as_deref(),
            since: self.since.as_deref(),
        }
    }

    /// Values of one key are OR'ed, except `label`'s, which all must match;
    /// keys are AND'ed, as in Docker.
    pub fn matches(&self, r: &Record) -> bool {
        if self.is_task == Some(true) {
            return false;
        }
        if !self.exited.is_empty()
            && (r.state.running()
                || r.state.started_at == ZERO_TIME
                || !self.exited.contains(&r.state.exit_code))
        {
            return false;
        }
        // Ports count only on a running container, as dockerd's do.
        let ports_ok = |wanted: &BTreeSet<Port>, has: fn(&Record, &BTreeSet<Port>) -> bool| {
            wanted.is_empty() || (r.state.running() && has(r, wanted))
        };
        if !ports_ok(&self.expose, exposes) || !ports_ok(&self.publish, publishes) {
            return false;
        }
        self.by_key.iter().all(|(k, values)| {
            values.is_empty()
                || match k.as_str() {
                    "label" => crate::filters::labels_match(&r.config.labels.as_ref(), values),
                    _ => values.iter().any(|v| self.value_matches(r, k, v)),
                }
        })
    }

    fn value_matches(&self, r: &Record, key: &str, v: &str) -> bool {
        match key {
            "status" => r.state.status.as_str() == v,
            "name" => name_matches(&r.name, v),
            "id" => r.id.starts_with(v),
            "ancestor" => self.ancestor_matches(r, v),
            "health" => {
                r.state
                    .health
                    .as_ref()
                    .map_or("none", |h| h.status.as_str())
                    == v
            }
            "network" => r.network_name() == v,
            "volume" => r.mount_points.iter().any(|m| {
                m.destination == v || (!m.name.is_empty() && m.name == v) || m.source == v
            }),
            // Checked in `matches`, or (isolation, on Linux) ignored by
            // dockerd whatever the value.
            _ => true,
        }
    }
}

/// dockerd's port filter values: `port[/proto]` or `start-end[/proto]`,
/// never with a ':' (a host binding); errors are its messages.
fn ports<'a>(
    key: &str,
    values: impl Iterator<Item = &'a String>,
) -> Result<BTreeSet<Port>, EngineError> {
    let mut out = BTreeSet::new();
    for value in values {
        if value.contains(':') {
            return Err(EngineError::System(format!(
                "filter for '{key}' should not contain ':': {value}"
            )));
        }
        let bad = |why: String| {
            EngineError::System(format!("error while looking up for {key} {value}: {why}"))
        };
        let (port, proto) = match value.split_once('/') {
            Some((p, "")) => (p, "tcp"),
            Some((p, proto)) => (p, proto),
            None => (value.as_str(), "tcp"),
        };
        if port.is_empty() {
            return Err(bad("Empty string specified for ports.".into()));
        }
        let (start, end) = match port.split_once('-') {
            None => {
                let p = go_parse::<u16>("ParseUint", port).map_err(bad)?;
                (p, p)
            }
            Some((a, b)) => {
                let a = go_parse::<u16>("ParseUint", a).map_err(bad)?;
                let b = go_parse::<u16>("ParseUint", b).map_err(bad)?;
                if b < a {
                    return Err(bad(format!("Invalid range specified for the Port: {port}")));
                }
                (a, b)
            }
        };
        out.extend((start..=end).map(|p| (p, proto.to_string())));
    }
    Ok(out)
}

fn port_key((port, proto): &Port) -> String {
    format!("{port}/{proto}")
}

/// Exposed by its config or by a port binding.
fn exposes(r: &Record, wanted: &BTreeSet<Port>) -> bool {
    let bound = r.host_config_raw.get("PortBindings");
    wanted.iter().any(|p| {
        let k = port_key(p);
        r.config
            .exposed_ports
            .as_ref()
            .and_then(|e| e.get(&k))
            .is_some()
            || bound.and_then(|b| b.get(&k)).is_some()
    })
}

/// Published on that host port.
fn publishes(r: &Record, wanted: &BTreeSet<Port>) -> bool {
    let Some(bindings) = r
        .host_config_raw
        .get("PortBindings")
        .and_then(|b| b.as_object())
    else {
        return false;
    };
    bindings.iter().any(|(key, list)| {
        let proto = key.split_once('/').map_or("tcp", |(_, p)| p);
        list.as_array().into_iter().flatten().any(|b| {
            b.get("HostPort")
                .and_then(|h| h.as_str())
                .and_then(|h| h.parse::<u16>().ok())
                .is_some_and(|h| wanted.contains(&(h, proto.to_string())))
        })
    })
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
        assert!(f.implies_all() && f.by_key.contains_key("label"));
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
        // Each message as dockerd 20.10.24 answered it.
        let msg = |raw: &str| parse(raw).unwrap_err().to_string();
        assert_eq!(
            msg(r#"{"exited":["abc"]}"#),
            "strconv.Atoi: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            msg(r#"{"health":["x"]}"#),
            "Unrecognised filter value for health: x"
        );
        assert_eq!(msg(r#"{"is-task":["x"]}"#), "Invalid filter 'is-task=[x]'");
        assert_eq!(
            msg(r#"{"publish":["90-80"]}"#),
            "error while looking up for publish 90-80: Invalid range specified for the Port: 90-80"
        );
        assert_eq!(
            msg(r#"{"expose":["70000"]}"#),
            "error while looking up for expose 70000: strconv.ParseUint: parsing \"70000\": value out of range"
        );
        assert_eq!(
            msg(r#"{"publish":["1:2"]}"#),
            "filter for 'publish' should not contain ':': 1:2"
        );
        let f = parse(r#"{"expose":["80-81/udp","443/"]}"#).unwrap();
        assert_eq!(
            f.expose.iter().map(port_key).collect::<Vec<_>>(),
            vec!["80/udp", "81/udp", "443/tcp"]
        );
    }

    #[test]
    fn before_skips_down_to_its_container_and_since_stops_at_its() {
        let f = Filters {
            before: Some("b".into()),
            since: Some("d".into()),
            ..Filters::default()
        };
        let mut w = f.walk();
        let steps: Vec<Step> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|id| w.step(id))
            .collect();
        assert_eq!(
            steps,
            vec![
                Step::Skip,
                Step::Skip,
                Step::Consider,
                Step::Stop,
                Step::Consider
            ]
        );
    }

    #[test]
    fn names_match_like_docker_regexps() {
        assert!(name_matches("/web-1", "web"));
        assert!(name_matches("/web-1", "^web-1$"));
        assert!(name_matches("/web-1", "^/web"));
        assert!(!name_matches("/web-1", "^eb"));
    }
}
