//! The mutants: deliberate divergences from dockerd, one planted per run
//! by the proxy, each the kind of mistake an engine makes (a wrong status,
//! a missing or renamed field, a wrong type or header, broken framing, a
//! query parameter ignored, a list in the wrong order).

mod first;
mod more;

use super::proxy::{RequestHead, ResponseHead};
use serde_json::Value;

/// Rewrites one multiplexed frame (stream byte, payload): the bytes to send
/// instead, or None to keep it.
pub type FrameEdit = fn(u8, &[u8]) -> Option<Vec<u8>>;

/// A body or message rewrite: the new bytes, or None when nothing changed.
pub type BodyEdit = fn(&[u8]) -> Option<Vec<u8>>;

pub enum Action {
    /// Rewrites the request's query pairs (an endpoint ignoring one);
    /// returns whether anything changed.
    Query(fn(&mut Vec<(String, String)>) -> bool),
    /// Answers with this status instead.
    Status(u16),
    DropHeader(&'static str),
    SetHeader(&'static str, &'static str),
    /// Rewrites the whole (finite) body.
    Body(BodyEdit),
    /// Rewrites each chunk of a streamed answer (JSON messages) as it comes.
    Messages(BodyEdit),
    /// The first chunk of a chunked answer declares a wrong size.
    BadChunking,
    /// Rewrites the frames of a multiplexed stream (logs, attach, exec).
    Frames(FrameEdit),
}

pub struct Mutant {
    pub name: &'static str,
    /// The API group it belongs to.
    pub group: &'static str,
    pub what: &'static str,
    /// The method it applies to ("" any).
    pub method: &'static str,
    /// The path (version prefix and query left out) it applies to: `*`
    /// matches one segment, a trailing `**` the rest; "" any path.
    pub path: &'static str,
    /// Only answers with this status ([`ERRORS`]: any 4xx or 5xx).
    pub status: Option<u16>,
    pub action: Action,
}

impl Mutant {
    pub fn matches_request(&self, req: &RequestHead) -> bool {
        (self.method.is_empty() || self.method == req.method)
            && (self.path.is_empty() || path_matches(self.path, &req.path))
    }

    /// Applies a query action; whether it changed the request.
    pub fn mutate_request(&self, req: &mut RequestHead) -> bool {
        let Action::Query(f) = self.action else {
            return false;
        };
        let mut pairs = req.pairs();
        if !f(&mut pairs) {
            return false;
        }
        req.set_pairs(&pairs);
        true
    }

    /// Whether this mutant would act on a request `method target` (path as
    /// sent, version and query included) that dockerd answered with
    /// `status` (None: no answer): its method and path match, a query
    /// action would change the query, an answer action's status condition
    /// holds. What the unaltered run's requests say a scenario can see.
    pub fn could_touch(&self, method: &str, target: &str, status: Option<u16>) -> bool {
        let Some(mut req) = RequestHead::from_target(method, target) else {
            return false;
        };
        if !self.matches_request(&req) {
            return false;
        }
        if matches!(self.action, Action::Query(_)) {
            return self.mutate_request(&mut req);
        }
        match (self.status, status) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(0), Some(s)) => s >= 400,
            (Some(want), Some(s)) => want == s,
        }
    }

    /// The action for an answer, when the mutant applies to it.
    pub fn response_action(&self, _req: &RequestHead, resp: &ResponseHead) -> Option<&Action> {
        if matches!(self.action, Action::Query(_)) {
            return None;
        }
        match self.status {
            Some(0) if resp.status < 400 => None,
            Some(s) if s != 0 && s != resp.status => None,
            _ => Some(&self.action),
        }
    }
}

/// Any error status (4xx, 5xx).
const ERRORS: Option<u16> = Some(0);

pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut p = pattern.trim_matches('/').split('/');
    let mut s = path.trim_matches('/').split('/');
    loop {
        match (p.next(), s.next()) {
            (Some("**"), _) => return true,
            (Some(a), Some(b)) if a == "*" || a == b => continue,
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A JSON body rewritten by `f` (which says whether it changed anything),
/// ending in a newline as dockerd's do.
fn json_edit(body: &[u8], f: fn(&mut Value) -> bool) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    if !f(&mut v) {
        return None;
    }
    let mut out = serde_json::to_vec(&v).ok()?;
    out.push(b'\n');
    Some(out)
}

/// Each JSON message (one per line) of a stream chunk rewritten by `f`.
fn lines_edit(chunk: &[u8], f: fn(&mut Value) -> bool) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(chunk).ok()?;
    let mut changed = false;
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let end = &line[body.len()..];
        match serde_json::from_str::<Value>(body) {
            Ok(mut v) => {
                if f(&mut v) {
                    changed = true;
                    out.push_str(&v.to_string());
                    out.push_str(end);
                } else {
                    out.push_str(line);
                }
            }
            Err(_) => out.push_str(line),
        }
    }
    changed.then(|| out.into_bytes())
}

fn remove_key(v: &mut Value, key: &str) -> bool {
    v.as_object_mut().and_then(|o| o.remove(key)).is_some()
}

fn rename_key(v: &mut Value, from: &str, to: &str) -> bool {
    let Some(o) = v.as_object_mut() else {
        return false;
    };
    match o.remove(from) {
        Some(x) => {
            o.insert(to.to_string(), x);
            true
        }
        None => false,
    }
}

fn each_item(v: &mut Value, f: impl Fn(&mut Value) -> bool) -> bool {
    v.as_array_mut()
        .map(|a| a.iter_mut().fold(false, |c, i| f(i) | c))
        .unwrap_or(false)
}

fn to_string_at(v: &mut Value, pointer: &str) -> bool {
    match v.pointer_mut(pointer) {
        Some(x) if !x.is_string() && !x.is_null() => {
            *x = Value::String(x.to_string());
            true
        }
        _ => false,
    }
}

fn reverse(v: &mut Value) -> bool {
    match v.as_array_mut() {
        Some(a) if a.len() > 1 => {
            a.reverse();
            true
        }
        _ => false,
    }
}

/// A filters JSON with one key left out (an endpoint not knowing it).
fn drop_filter(pairs: &mut [(String, String)], key: &str) -> bool {
    let mut changed = false;
    for (k, v) in pairs.iter_mut() {
        if k != "filters" {
            continue;
        }
        if let Ok(mut f) = serde_json::from_str::<Value>(v) {
            if remove_key(&mut f, key) {
                *v = f.to_string();
                changed = true;
            }
        }
    }
    changed
}

fn drop_param(pairs: &mut Vec<(String, String)>, key: &str) -> bool {
    let n = pairs.len();
    pairs.retain(|(k, _)| k != key);
    n != pairs.len()
}

fn edit_message(v: &mut Value, f: fn(&str) -> Option<String>) -> bool {
    let Some(m) = v.get("message").and_then(Value::as_str) else {
        return false;
    };
    match f(m) {
        Some(new) if new != m => {
            v["message"] = Value::String(new);
            true
        }
        _ => false,
    }
}

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![kind, 0, 0, 0];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

const fn m(
    name: &'static str,
    group: &'static str,
    what: &'static str,
    method: &'static str,
    path: &'static str,
    status: Option<u16>,
    action: Action,
) -> Mutant {
    Mutant {
        name,
        group,
        what,
        method,
        path,
        status,
        action,
    }
}

/// Every mutant, in a fixed order: the first catalogue, then the kinds
/// added when the whole catalogue was first measured.
pub fn all() -> impl Iterator<Item = &'static Mutant> {
    first::MUTANTS.iter().chain(more::MUTANTS.iter())
}

/// The mutant called `name`.
pub fn find(name: &str) -> Option<&'static Mutant> {
    all().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_by_segment() {
        assert!(path_matches("/containers/*/json", "/containers/abc/json"));
        assert!(!path_matches("/containers/*/json", "/containers/json"));
        assert!(path_matches("/images/**", "/images/a/b/json"));
        assert!(path_matches("/containers/*", "/containers/abc"));
        assert!(!path_matches("/containers/*", "/containers/abc/json"));
    }

    #[test]
    fn names_are_unique_and_many() {
        let mut names: Vec<_> = all().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all().count());
        assert!(names.len() >= 90);
    }

    #[test]
    fn edits_change_what_they_say() {
        let b = br#"{"State":{"Running":true,"ExitCode":0}}"#;
        let out = json_edit(b, |v| to_string_at(v, "/State/ExitCode")).expect("changed");
        assert_eq!(out, b"{\"State\":{\"Running\":true,\"ExitCode\":\"0\"}}\n");
        assert!(json_edit(b"[]", reverse).is_none());
        let chunk = b"{\"status\":\"x\",\"id\":\"1\"}\n{\"id\":\"2\"}\n";
        let out = lines_edit(chunk, |v| remove_key(v, "status")).expect("changed");
        assert_eq!(out, b"{\"id\":\"1\"}\n{\"id\":\"2\"}\n");
        let mut q = vec![(
            "filters".to_string(),
            r#"{"status":["exited"],"label":["a"]}"#.to_string(),
        )];
        assert!(drop_filter(&mut q, "status"));
        assert_eq!(q[0].1, r#"{"label":["a"]}"#);
    }
}
