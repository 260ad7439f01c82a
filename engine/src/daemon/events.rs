//! The event bus behind `GET /events`: every layer publishes with one call,
//! subscribers get a live `broadcast` feed, and a bounded in-memory ring of
//! recent events answers `since`.
//!
//! Choices, and why:
//! - One bus per process (a static), not a `Daemon` field: the engine runs
//!   one daemon per process, and publishers such as the volume store or
//!   `lifecycle::kill` have no `Daemon` at hand. A static keeps every hook a
//!   one-liner.
//! - The ring keeps the last `RING_CAPACITY` events and is not persisted, so
//!   `since` reaches back only to the daemon's start (dockerd keeps 256 and
//!   does not persist either).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::daemon::Container;
use crate::filters::Filters;

/// How many past events `since` can reach.
pub const RING_CAPACITY: usize = 4096;
/// Live subscribers that fall this far behind lose the oldest events.
const LIVE_CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct Event {
    pub kind: &'static str,
    pub action: String,
    pub actor_id: String,
    pub attributes: BTreeMap<String, String>,
    pub time_nano: i64,
}

impl Event {
    /// dockerd's JSON message. Container and image events also carry the
    /// legacy `status`/`id`/`from` fields, as every API version up to 1.51
    /// does (`from` only for containers).
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        if self.kind == "container" || self.kind == "image" {
            m.insert("status".into(), json!(self.action));
            m.insert("id".into(), json!(self.actor_id));
            if self.kind == "container" {
                if let Some(from) = self.attributes.get("image") {
                    m.insert("from".into(), json!(from));
                }
            }
        }
        m.insert("Type".into(), json!(self.kind));
        m.insert("Action".into(), json!(self.action));
        m.insert(
            "Actor".into(),
            json!({"ID": self.actor_id, "Attributes": self.attributes}),
        );
        m.insert("scope".into(), json!("local"));
        m.insert("time".into(), json!(self.time_nano / 1_000_000_000));
        m.insert("timeNano".into(), json!(self.time_nano));
        Value::Object(m)
    }
}

pub struct EventBus {
    ring: Mutex<VecDeque<Arc<Event>>>,
    live: broadcast::Sender<Arc<Event>>,
}

static BUS: LazyLock<EventBus> = LazyLock::new(|| EventBus {
    ring: Mutex::new(VecDeque::with_capacity(RING_CAPACITY)),
    live: broadcast::channel(LIVE_CAPACITY).0,
});

pub fn bus() -> &'static EventBus {
    &BUS
}

fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
}

impl EventBus {
    fn ring(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<Event>>> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn publish(
        &self,
        kind: &'static str,
        action: impl Into<String>,
        actor_id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let mut ring = self.ring();
        // Times never go backwards within the ring, so `since` can stop at
        // the first older event even if the wall clock stepped back.
        let last = ring.back().map(|e| e.time_nano).unwrap_or(0);
        let ev = Arc::new(Event {
            kind,
            action: action.into(),
            actor_id: actor_id.to_string(),
            attributes,
            time_nano: now_nanos().max(last),
        });
        if ring.len() == RING_CAPACITY {
            ring.pop_front();
        }
        ring.push_back(ev.clone());
        // Sent under the ring lock: a subscriber that copied the ring and
        // subscribed under the same lock sees every event exactly once.
        let _ = self.live.send(ev);
    }

    /// The buffered events in [since, until] (nanoseconds; `None` = open)
    /// and a live feed of what comes after them. Like dockerd, nothing is
    /// replayed when neither bound is given.
    pub fn subscribe(
        &self,
        since: Option<i64>,
        until: Option<i64>,
    ) -> (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>) {
        let ring = self.ring();
        let rx = self.live.subscribe();
        if since.is_none() && until.is_none() {
            return (Vec::new(), rx);
        }
        let past = ring
            .iter()
            .filter(|e| since.is_none_or(|s| e.time_nano >= s))
            .filter(|e| until.is_none_or(|u| e.time_nano <= u))
            .cloned()
            .collect();
        (past, rx)
    }
}

/// Shorthand for attribute maps.
pub fn attrs<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A container event with dockerd's attributes: the container's labels, its
/// image as the client named it, its name (no slash), plus `extra`.
pub fn container(c: &Container, action: &str, extra: BTreeMap<String, String>) {
    let mut a: BTreeMap<String, String> = {
        let r = c.record();
        let mut a = r.config.labels.clone().unwrap_or_default();
        a.insert("image".into(), r.config.image.clone());
        a.insert("name".into(), r.name.trim_start_matches('/').to_string());
        a
    };
    a.extend(extra);
    bus().publish("container", action, &c.id, a);
}

pub fn image(id: &str, name: &str, action: &str) {
    bus().publish("image", action, id, attrs([("name", name.to_string())]));
}

pub fn volume(name: &str, action: &str, extra: BTreeMap<String, String>) {
    let mut a = attrs([("driver", "local".to_string())]);
    a.extend(extra);
    bus().publish("volume", action, name, a);
}

pub fn network(id: &str, name: &str, kind: &str, action: &str, container: Option<&str>) {
    let mut a = attrs([("name", name.to_string()), ("type", kind.to_string())]);
    if let Some(c) = container {
        a.insert("container".into(), c.to_string());
    }
    bus().publish("network", action, id, a);
}

/// dockerd's event filters (daemon/events/filter.go): every key present must
/// match; `container`, `volume`, `network` match the actor's ID or name by
/// prefix; `image` matches exactly the ID or the name, with or without its tag.
pub fn matches(f: &Filters, e: &Event) -> bool {
    let exact = |key: &str, v: &str| f.get(key).is_none_or(|vals| vals.iter().any(|x| x == v));
    let has = |key: &str| f.contains_key(key);
    let fuzzy = |key: &str, v: &str| {
        f.get(key)
            .is_none_or(|vals| vals.iter().any(|x| x == v || v.starts_with(x.as_str())))
    };
    let name = e.attributes.get("name").map(String::as_str).unwrap_or("");
    let fuzzy_name = |kind: &str| {
        // Only constrains events of that kind when given (`container` alone
        // still lets image events through if no `type` narrows them: dockerd
        // applies it to every event, which drops them; so do we).
        fuzzy(kind, &e.actor_id) || fuzzy(kind, name)
    };
    let event_ok = {
        let special = f.get("event").is_some_and(|v| {
            v.iter()
                .any(|x| matches!(x.as_str(), "health_status" | "exec_create" | "exec_start"))
        });
        if special {
            fuzzy("event", &e.action)
        } else {
            exact("event", &e.action)
        }
    };
    let image_ok = !has("image") || {
        let name_attr = if e.kind == "image" { "name" } else { "image" };
        let img = e
            .attributes
            .get(name_attr)
            .map(String::as_str)
            .unwrap_or("");
        [
            e.actor_id.as_str(),
            img,
            strip_tag(&e.actor_id),
            strip_tag(img),
        ]
        .iter()
        .any(|v| f["image"].iter().any(|x| x == v))
    };
    let labels_ok = f.get("label").is_none_or(|ls| {
        ls.iter().all(|l| match l.split_once('=') {
            Some((k, v)) => e.attributes.get(k).is_some_and(|x| x == v),
            None => e.attributes.contains_key(l.as_str()),
        })
    });
    event_ok
        && exact("type", e.kind)
        && exact("scope", "local")
        && fuzzy_name("container")
        && fuzzy_name("volume")
        && fuzzy_name("network")
        && image_ok
        && labels_ok
}

/// `repo:tag` → `repo` (a registry port's colon is not a tag).
fn strip_tag(r: &str) -> &str {
    match r.rfind(':') {
        Some(i) if !r[i + 1..].contains('/') && !r.starts_with("sha256:") => &r[..i],
        _ => r,
    }
}

/// What dockerd publishes as a container starts: `connect` for each of its
/// networks, `mount` for each named volume, then `start`.
pub fn container_started(d: &crate::daemon::Daemon, c: &Container) {
    crate::daemon::networks::publish_attach(d, c, "connect");
    for m in volume_points(c) {
        let rw = if m.rw { "true" } else { "false" };
        volume(
            &m.name,
            "mount",
            attrs([
                ("container", c.id.clone()),
                ("destination", m.destination.clone()),
                ("propagation", String::new()),
                ("read/write", rw.to_string()),
            ]),
        );
    }
    container(c, "start", BTreeMap::new());
}

/// What dockerd publishes once a container's process is gone: `die` with
/// the exit code, `disconnect` from its networks, `unmount` of its volumes.
pub fn container_died(d: &crate::daemon::Daemon, c: &Container, code: i32) {
    container(c, "die", attrs([("exitCode", code.to_string())]));
    crate::daemon::networks::publish_attach(d, c, "disconnect");
    for m in volume_points(c) {
        volume(&m.name, "unmount", attrs([("container", c.id.clone())]));
    }
}

fn volume_points(c: &Container) -> Vec<crate::daemon::volumes::mounts::MountPoint> {
    c.record()
        .mount_points
        .iter()
        .filter(|m| m.kind == "volume")
        .cloned()
        .collect()
}

/// `kill` with the signal number, as dockerd reports every signal it sends.
pub fn container_kill(c: &Container, signal: i32) {
    container(c, "kill", attrs([("signal", signal.to_string())]));
}

/// `tag` after `POST /images/{name}/tag`: the image's ID, the new reference.
pub fn image_tagged(d: &crate::daemon::Daemon, source: &str, repo: &str, tag: Option<&str>) {
    let Ok(img) = d.images.get(source) else {
        return;
    };
    let tag = tag.filter(|t| !t.is_empty()).unwrap_or("latest");
    // dockerd names references in their familiar form (`probe:1`, not
    // `docker.io/library/probe:1`), which the CLI sends.
    let repo = repo
        .strip_prefix("docker.io/library/")
        .or_else(|| repo.strip_prefix("docker.io/"))
        .unwrap_or(repo);
    image(&img.id, &format!("{repo}:{tag}"), "tag");
}

/// `untag` per removed reference and `delete` per deleted image, named by
/// the image's ID as dockerd does.
pub fn image_removed(id: &str, items: &[shipshape_store::DeleteItem]) {
    for it in items {
        match it {
            shipshape_store::DeleteItem::Untagged(_) => image(id, id, "untag"),
            shipshape_store::DeleteItem::Deleted(d) => image(d, d, "delete"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &'static str, action: &str, id: &str, a: &[(&str, &str)]) -> Event {
        Event {
            kind,
            action: action.into(),
            actor_id: id.into(),
            attributes: a
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            time_nano: 1_700_000_000_123_456_789,
        }
    }

    fn f(pairs: &[(&str, &[&str])]) -> Filters {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn json_shape_has_legacy_fields_for_containers() {
        let e = ev(
            "container",
            "die",
            "abc",
            &[("image", "busybox"), ("name", "x")],
        );
        let j = e.to_json();
        assert_eq!(j["status"], "die");
        assert_eq!(j["from"], "busybox");
        assert_eq!(j["time"], 1_700_000_000);
        assert_eq!(j["scope"], "local");
        let v = ev("volume", "create", "v", &[("driver", "local")]).to_json();
        assert!(v.get("status").is_none() && v.get("id").is_none());
    }

    #[test]
    fn filters_follow_dockerd() {
        let c = ev(
            "container",
            "start",
            "abcdef",
            &[("image", "repo:1"), ("name", "web"), ("k", "v")],
        );
        assert!(matches(&f(&[("container", &["abc"])]), &c));
        assert!(matches(&f(&[("container", &["web"])]), &c));
        assert!(!matches(&f(&[("container", &["zzz"])]), &c));
        assert!(matches(&f(&[("image", &["repo"])]), &c));
        assert!(!matches(&f(&[("image", &["rep"])]), &c));
        assert!(matches(
            &f(&[("label", &["k=v"]), ("type", &["container"])]),
            &c
        ));
        assert!(!matches(&f(&[("label", &["k=w"])]), &c));
        assert!(matches(
            &f(&[("event", &["exec_start"])]),
            &ev("container", "exec_start: sh", "a", &[])
        ));
        assert!(!matches(&f(&[("event", &["stop"])]), &c));
        assert_eq!(strip_tag("localhost:5000/a"), "localhost:5000/a");
        assert_eq!(strip_tag("localhost:5000/a:1"), "localhost:5000/a");
    }
}
