//! Path matching and counting, with expectations taken from the spec
//! tables themselves (never from a run).

use super::spec::{self, Table};
use super::{matcher, measure, Coverage};
use crate::client::{json_fields, ApiVersion, Exchange};
use rstest::rstest;
use std::collections::BTreeSet;

const V141: ApiVersion = ApiVersion {
    major: 1,
    minor: 41,
};
const V150: ApiVersion = ApiVersion {
    major: 1,
    minor: 50,
};

fn table(v: ApiVersion) -> &'static Table {
    spec::table(v).expect("embedded table loads")
}

fn found(v: ApiVersion, method: &str, path: &str) -> Option<&'static str> {
    let t = table(v);
    t.find(method, path)
        .map(|i| t.operations[i].operation.as_str())
}

#[rstest]
#[case("GET", "/containers/json", Some("ContainerList"))]
#[case(
    "GET",
    "/v1.41/containers/json?all=1&filters=%7B%7D",
    Some("ContainerList")
)]
#[case("GET", "/v1/containers/json", Some("ContainerList"))]
#[case("GET", "/containers/abc/json", Some("ContainerInspect"))]
#[case("GET", "/containers//json", Some("ContainerInspect"))]
#[case("GET", "/containers/a%2Fb/json", Some("ContainerInspect"))]
#[case("POST", "/containers/create?name=x", Some("ContainerCreate"))]
#[case("POST", "/containers/prune", Some("ContainerPrune"))]
#[case(
    "POST",
    "/v1.41/containers/abc/attach?stream=1",
    Some("ContainerAttach")
)]
#[case("HEAD", "/containers/x/archive?path=/", Some("ContainerArchiveInfo"))]
#[case("GET", "/containers/x/archive?path=/", Some("ContainerArchive"))]
#[case("PUT", "/containers/x/archive?path=/", Some("PutContainerArchive"))]
#[case("GET", "/images/json", Some("ImageList"))]
#[case("GET", "/images/a/b:tag/json", Some("ImageInspect"))]
#[case(
    "GET",
    "/v1.41/images/registry:5000/a/b:tag/history",
    Some("ImageHistory")
)]
#[case("GET", "/images/json/json", Some("ImageInspect"))]
#[case("DELETE", "/images/a/b:tag?force=1", Some("ImageDelete"))]
#[case("POST", "/images/a/b/tag?repo=x", Some("ImageTag"))]
#[case("GET", "/images/get?names=a", Some("ImageGetAll"))]
#[case("GET", "/images/a/b/get", Some("ImageGet"))]
#[case("POST", "/images/load", Some("ImageLoad"))]
#[case("GET", "/plugins/vieux/sshfs:latest/json", Some("PluginInspect"))]
#[case("POST", "/exec/abc/start", Some("ExecStart"))]
#[case("POST", "/networks/prune", Some("NetworkPrune"))]
#[case("POST", "/networks/create", Some("NetworkCreate"))]
#[case("GET", "/_ping", Some("SystemPing"))]
#[case("HEAD", "/_ping", Some("SystemPingHead"))]
#[case("GET", "/events?since=1", Some("SystemEvents"))]
#[case("GET", "/swarm", Some("SwarmInspect"))]
#[case("GET", "/shipshape-no-such-route", None)]
#[case("PATCH", "/containers/json", None)]
#[case("GET", "/containers/x/json/extra", None)]
#[case("GET", "/v1.41", None)]
#[case("GET", "/", None)]
fn paths_match_operations(
    #[case] method: &str,
    #[case] path: &str,
    #[case] expected: Option<&str>,
) {
    assert_eq!(found(V141, method, path), expected, "{method} {path}");
}

#[rstest]
// VolumeUpdate exists from 1.42 on only.
#[case(V141, None)]
#[case(V150, Some("VolumeUpdate"))]
fn the_version_picks_the_table(#[case] v: ApiVersion, #[case] expected: Option<&str>) {
    assert_eq!(found(v, "PUT", "/volumes/vol1?version=3"), expected);
}

#[rstest]
#[case("/v1.41/images/a/b:tag/json?x=1", &["images", "a", "b:tag", "json"])]
#[case("/_ping", &["_ping"])]
#[case("/v1.50/", &[""])]
#[case("/version", &["version"])]
#[case("/vx/json", &["vx", "json"])]
fn paths_split_into_segments(#[case] path: &str, #[case] expected: &[&str]) {
    assert_eq!(matcher::segments(path), expected);
}

#[rstest]
#[case("/containers/json?all=1&filters=%7B%7D&all=0", &["all", "filters"])]
#[case("/images/create?from%49mage=x", &["fromImage"])]
#[case("/containers/json", &[])]
#[case("/containers/json?&=1", &[])]
fn query_names_are_decoded_and_unique(#[case] path: &str, #[case] expected: &[&str]) {
    assert_eq!(matcher::query_names(path), expected);
}

/// Where two templates match, the one with more literal segments wins, as
/// in Docker's router, then the one with more segments; a tie keeps the
/// first in spec order.
#[test]
fn literal_segments_are_preferred() {
    let t = spec::load(
        r#"{"version": "test", "operations": [
          {"operation": "ThingInspect", "method": "GET", "path": "/things/{id}",
           "tag": "Thing", "query": [], "body": [], "statuses": [200]},
          {"operation": "ThingPrune", "method": "GET", "path": "/things/prune",
           "tag": "Thing", "query": [], "body": [], "statuses": [200]},
          {"operation": "ThingLogs", "method": "GET", "path": "/things/{id}/{what}",
           "tag": "Thing", "query": [], "body": [], "statuses": [200]},
          {"operation": "ThingLogs2", "method": "GET", "path": "/things/{id}/{what}",
           "tag": "Thing", "query": [], "body": [], "statuses": [200]}
        ]}"#,
    )
    .expect("test table");
    let name = |p: &str| t.find("GET", p).map(|i| t.operations[i].operation.as_str());
    assert_eq!(name("/things/prune"), Some("ThingPrune"));
    assert_eq!(name("/things/x"), Some("ThingInspect"));
    assert_eq!(name("/things/a/b/c"), Some("ThingLogs"));
}

fn ex(method: &str, path: &str, body: Option<serde_json::Value>, status: Option<u16>) -> Exchange {
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    Exchange {
        id: 0,
        method: method.into(),
        path: path.into(),
        request_headers: Vec::new(),
        request_fields: json_fields(&body),
        request_body_len: body.len(),
        request_body: body,
        status,
        response_headers: Vec::new(),
        response_body: Vec::new(),
        response_body_len: 0,
        error: status.is_none().then(|| "reset".to_string()),
        elapsed: std::time::Duration::ZERO,
    }
}

fn sample() -> Vec<Exchange> {
    vec![
        ex(
            "POST",
            "/v1.41/containers/create?name=a",
            Some(serde_json::json!({"Image": "x", "Cmd": ["true"], "Bogus": 1})),
            Some(201),
        ),
        ex(
            "POST",
            "/v1.41/containers/create?name=b&nonsense=1",
            Some(serde_json::json!({"Image": "x", "HostConfig": {"Memory": 1}})),
            Some(999),
        ),
        ex("GET", "/v1.41/containers/abc/json", None, Some(404)),
        ex("GET", "/v1.41/containers/abc/json", None, None),
        ex("GET", "/swarm", None, Some(503)),
        ex("GET", "/shipshape-no-such-route", None, Some(404)),
        ex("GET", "/v1.41/shipshape-no-such-route", None, Some(404)),
        ex("DELETE", "/_ping", None, Some(405)),
    ]
}

fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
    items.iter().cloned().collect()
}

#[test]
fn exchanges_are_counted_per_operation() {
    let cov = measure(&sample(), V141).expect("measure");
    let t = table(V141);
    assert_eq!(cov.spec, "1.41");
    assert_eq!(cov.operations.len(), t.operations.len());
    let spec_op = |id: &str| {
        t.operations
            .iter()
            .find(|o| o.operation == id)
            .expect("in the spec")
    };
    let op = |id: &str| {
        cov.operations
            .iter()
            .find(|o| o.operation == id)
            .expect("measured")
    };

    let create = op("ContainerCreate");
    let spec_create = spec_op("ContainerCreate");
    assert_eq!(create.exchanges, 2);
    assert_eq!(create.query_sent, set(&["name".to_string()]));
    let mut missing_query = set(&spec_create.query);
    missing_query.remove("name");
    assert_eq!(create.query_missing, missing_query);
    assert_eq!(create.undocumented_query, set(&["nonsense".to_string()]));
    let sent_body = set(&["Cmd".to_string(), "HostConfig".into(), "Image".into()]);
    assert_eq!(create.body_sent, sent_body);
    let missing_body: BTreeSet<String> = set(&spec_create.body)
        .difference(&sent_body)
        .cloned()
        .collect();
    assert_eq!(create.body_missing, missing_body);
    assert_eq!(create.undocumented_body, set(&["Bogus".to_string()]));
    assert_eq!(create.statuses_seen, set(&[201]));
    let mut missing_st = set(&spec_create.statuses);
    missing_st.remove(&201);
    assert_eq!(create.statuses_missing, missing_st);
    assert_eq!(create.undocumented_statuses, set(&[999]));

    // A transport error still counts the request, not a status.
    let inspect = op("ContainerInspect");
    assert_eq!(inspect.exchanges, 2);
    assert_eq!(inspect.statuses_seen, set(&[404]));

    // Unknown routes and wrong methods are listed, with or without prefix.
    let unmatched: Vec<(&str, &str, usize)> = cov
        .unmatched
        .iter()
        .map(|u| (u.method.as_str(), u.path.as_str(), u.exchanges))
        .collect();
    assert_eq!(
        unmatched,
        [
            ("DELETE", "/_ping", 1),
            ("GET", "/shipshape-no-such-route", 2)
        ]
    );

    let tot = cov.totals();
    let goal: Vec<&spec::Operation> = t
        .operations
        .iter()
        .filter(|o| o.unservable.is_none())
        .collect();
    assert_eq!(tot.operations, goal.len());
    assert_eq!(tot.unservable, t.operations.len() - goal.len());
    assert_eq!(tot.unservable_probed, 1, "GET /swarm");
    assert_eq!(tot.operations_covered, 2);
    assert_eq!(
        tot.parameters,
        goal.iter()
            .map(|o| o.query.len() + o.body.len())
            .sum::<usize>()
    );
    assert_eq!(tot.parameters_sent, 1 + 3);
    assert_eq!(
        tot.statuses + tot.statuses_unservable,
        goal.iter().map(|o| o.statuses.len()).sum::<usize>()
    );
    assert_eq!(
        tot.statuses_unservable,
        goal.iter()
            .map(|o| o.unservable_statuses.len())
            .sum::<usize>()
    );
    assert_eq!(tot.statuses_seen, 2);
    assert_eq!(tot.unmatched_exchanges, 3);
    assert!(cov.line().starts_with(&format!(
        "coverage: 2 of {} operations, 4 of {} parameters ({} of {} query), 2 of {} documented \
         statuses",
        tot.operations, tot.parameters, tot.query_sent, tot.query, tot.statuses
    )));
}

/// The operations unservable.json names exist in the spec, and exactly
/// those are out of the goal.
#[rstest]
#[case(V141)]
#[case(V150)]
fn unservable_operations_come_from_the_file(#[case] v: ApiVersion) {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("../../../specs/coverage/unservable.json"))
            .expect("unservable.json");
    let tags = file["tags"].as_object().expect("tags");
    let ops = file["operations"].as_object().expect("operations");
    let t = table(v);
    for tag in tags.keys() {
        assert!(t.operations.iter().any(|o| &o.tag == tag), "tag {tag}");
    }
    for op in t.operations.iter() {
        let expected = tags.contains_key(&op.tag) || ops.contains_key(&op.operation);
        assert_eq!(op.unservable.is_some(), expected, "{}", op.operation);
    }
    for id in ops.keys() {
        let in_spec = t.operations.iter().any(|o| &o.operation == id);
        // VolumeUpdate is new in 1.42: absent from the 1.41 table.
        assert!(in_spec || (id == "VolumeUpdate" && v == V141), "{id}");
    }
    // Unproducible statuses name documented statuses of goal operations,
    // each with a reason, and leave the goal.
    let statuses = file["statuses"].as_object().expect("statuses");
    for (id, by_status) in statuses {
        let Some(op) = t.operations.iter().find(|o| &o.operation == id) else {
            continue;
        };
        assert!(op.unservable.is_none(), "{id} is unservable as a whole");
        for (st, why) in by_status.as_object().expect("status map") {
            let st: u16 = st.parse().expect("a status code");
            assert!(op.statuses.contains(&st), "{id} does not document {st}");
            assert!(why.as_str().is_some_and(|w| w.len() > 10), "{id} {st}");
            assert_eq!(
                op.unservable_statuses.get(&st),
                why.as_str().map(String::from).as_ref()
            );
        }
    }
}

/// Merging two runs gives what one run with both runs' exchanges gives,
/// and the JSON form reads back unchanged (what `shipshape coverage` does).
#[test]
fn coverage_merges_by_union() {
    let all = sample();
    let (a, b) = all.split_at(3);
    let mut merged = measure(a, V141).expect("a");
    merged.merge(&measure(b, V141).expect("b")).expect("merge");
    let whole = measure(&all, V141).expect("whole");
    assert_eq!(merged.totals(), whole.totals());
    assert_eq!(merged.operations, whole.operations);
    let mut u = merged.unmatched.clone();
    u.sort_by(|x, y| (&x.method, &x.path).cmp(&(&y.method, &y.path)));
    assert_eq!(u, whole.unmatched);

    let text = serde_json::to_string(&whole).expect("serialise");
    let back: Coverage = serde_json::from_str(&text).expect("deserialise");
    assert_eq!(back, whole);

    let other = measure(&all, V150).expect("1.50");
    assert!(merged.merge(&other).is_err());
}

#[rstest]
#[case(br#"{"Image":"x","Cmd":[]}"#.as_slice(), &["Image", "Cmd"])]
#[case(b"  {\"a\":1}".as_slice(), &["a"])]
#[case(b"[1,2]".as_slice(), &[])]
#[case(b"{not json".as_slice(), &[])]
#[case(b"".as_slice(), &[])]
fn body_fields_are_top_level_keys(#[case] body: &[u8], #[case] expected: &[&str]) {
    assert_eq!(json_fields(body), expected);
}

/// A status unservable.json says one host cannot produce is outside the
/// goal until a run sees it; seen, it counts as seen (and merges so).
#[test]
fn unproducible_statuses_leave_the_goal_until_seen() {
    let none = measure(&[], V141).expect("measure");
    let inspect = |c: &Coverage| {
        c.operations
            .iter()
            .find(|o| o.operation == "ContainerInspect")
            .cloned()
            .expect("ContainerInspect")
    };
    let before = inspect(&none);
    assert!(before.statuses_unservable.contains(&500));
    assert!(!before.statuses_missing.contains(&500));
    let seen = measure(
        &[ex("GET", "/v1.41/containers/abc/json", None, Some(500))],
        V141,
    )
    .expect("measure");
    let after = inspect(&seen);
    assert!(after.statuses_seen.contains(&500));
    assert!(after.statuses_unservable.is_empty());
    assert_eq!(seen.totals().statuses, none.totals().statuses + 1);
    assert_eq!(
        seen.totals().statuses_unservable + 1,
        none.totals().statuses_unservable
    );
    let mut merged = none.clone();
    merged.merge(&seen).expect("merge");
    assert_eq!(merged.totals(), seen.totals());
}
