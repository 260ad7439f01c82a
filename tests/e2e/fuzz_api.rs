//! Bounded fuzzing of the engine's HTTP surface (issue 8): routing, version
//! prefixes, query strings and JSON bodies, sent to a real engine over its
//! socket. Whatever arrives, the engine answers (no dropped connection, no
//! hang), keeps serving, never logs a panic, and every 4xx/5xx carries
//! Docker's `{"message": "..."}` body.
//!
//! The engine has no image, so no container can ever be created: fuzzed
//! bind mounts and commands stay words in a request. The pure parsers
//! behind these routes are fuzzed much faster in
//! `engine/src/api/fuzz_tests.rs`; this checks the layer around them.
//!
//! Replays `fuzz/corpus/requests/` (files of `METHOD TARGET`, a blank line,
//! then the body) and every `fuzz/corpus/json-bodies/` file against each
//! route that takes a body, then generated requests
//! (`SHIPSHAPE_FUZZ_CASES`, small by default). The seeds in
//! `proptest-regressions/fuzz-api.txt` are replayed first; a new failure's
//! seed is written under the target dir (see [`Regressions`]), never into
//! the tracked file.

use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{
    FailurePersistence, FileFailurePersistence, PersistedSeed, TestRunner,
};
use shipshape_tests::http::Request;
use shipshape_tests::{fd_count, fd_targets, tail, wait_for_ping, Engine};

/// Generous: an answer, not its speed, is what is checked.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| {
            let b = std::fs::read(e.path()).expect("reading a corpus file");
            (e.file_name().to_string_lossy().into_owned(), b)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "corpus {} is empty", dir.display());
    out
}

/// Sends one request and checks the answer; `what` names it in failures.
fn check(e: &Engine, method: &str, target: &str, content_type: Option<&str>, body: &[u8]) {
    let what = format!("{method} {target} ({} body bytes)", body.len());
    let resp = Request {
        method,
        target,
        content_type,
        body,
        timeout: ANSWER_WITHIN,
        body_on_success: false,
        headers: Vec::new(),
    }
    .send(&e.socket)
    .unwrap_or_else(|err| {
        panic!(
            "{what}: no answer: {err}\nengine log tail:\n{}",
            tail(&e.log(), 20)
        )
    });
    assert!(
        (100..600).contains(&resp.status),
        "{what}: status {}",
        resp.status
    );
    if resp.status >= 400 && method != "HEAD" && !go_refuses_target(target, &resp.body) {
        let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_else(|err| {
            panic!(
                "{what}: {} with a non-JSON body ({err}): {:?}",
                resp.status,
                resp.text()
            )
        });
        assert!(
            v.get("message").and_then(|m| m.as_str()).is_some(),
            "{what}: {} without a message: {v}",
            resp.status
        );
    }
    check_alive(e, &what);
}

/// Reading the whole log after every case would make the run quadratic:
/// a panic in a handler also drops its connection, which `check` sees, and
/// the log is scanned once at the end.
/// Go's HTTP server refuses a request whose path holds a bad percent escape
/// before any router sees it: 400 with the plain-text body "400 Bad
/// Request" (dockerd 20.10.24: `GET /v1.41/containers/%5P/json`). Only
/// then is a non-JSON error body right.
fn go_refuses_target(target: &str, body: &[u8]) -> bool {
    let path = target.split('?').next().unwrap_or(target).as_bytes();
    let bad_escape = path.iter().enumerate().any(|(i, b)| {
        *b == b'%'
            && !(path.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && path.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    bad_escape && body == b"400 Bad Request"
}

fn check_alive(e: &Engine, after: &str) {
    let ping = Request::new("GET", "/_ping").send(&e.socket);
    assert!(
        matches!(&ping, Ok(r) if r.status == 200),
        "the engine stopped answering after {after}: {ping:?}"
    );
}

/// Where the fuzz's failing seeds come from and go: a run replays the
/// tracked file's seeds and any it found itself earlier, but writes a new
/// one only to an untracked file, so a test run never edits the tree.
/// Keeping a seed means copying its line into the tracked file (see
/// `proptest-regressions/README.md`).
#[derive(Debug, Clone, PartialEq)]
struct Regressions {
    tracked: FileFailurePersistence,
    found: FileFailurePersistence,
}

impl Default for Regressions {
    fn default() -> Self {
        Regressions {
            tracked: FileFailurePersistence::Direct(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/proptest-regressions/fuzz-api.txt"
            )),
            found: FileFailurePersistence::Direct(concat!(
                env!("CARGO_TARGET_TMPDIR"),
                "/proptest-regressions/fuzz-api.txt"
            )),
        }
    }
}

impl FailurePersistence for Regressions {
    fn load_persisted_failures2(&self, source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        let mut seeds = self.tracked.load_persisted_failures2(source_file);
        seeds.extend(self.found.load_persisted_failures2(source_file));
        seeds
    }

    fn save_persisted_failure2(
        &mut self,
        source_file: Option<&'static str>,
        seed: PersistedSeed,
        shrunken_value: &dyn std::fmt::Debug,
    ) {
        self.found
            .save_persisted_failure2(source_file, seed, shrunken_value);
    }

    fn box_clone(&self) -> Box<dyn FailurePersistence> {
        Box::new(self.clone())
    }

    fn eq(&self, other: &dyn FailurePersistence) -> bool {
        other.as_any().downcast_ref::<Self>() == Some(self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// hyper refuses a request target with bytes RFC 3986 does not allow
/// (space, `"`, `<`, `{`, ...) with a bare 400 before any routing (see
/// `malformed_request_lines_get_an_answer`); percent-encode them so fuzzed
/// paths reach the router.
fn encode_target(raw: &str) -> String {
    const ALLOWED: &[u8] = b"-._~!$&'()*+,;=:@/?%";
    let mut out = String::new();
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || ALLOWED.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn corpus_requests_replay(e: &Engine) {
    for (name, bytes) in corpus("requests") {
        let text = String::from_utf8_lossy(&bytes);
        let (line, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let (method, target) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("requests/{name}: first line is not METHOD TARGET"));
        check(
            e,
            method,
            &encode_target(target),
            Some("application/json"),
            body.as_bytes(),
        );
    }
}

fn corpus_bodies_replay_on_every_body_route(e: &Engine) {
    let routes = [
        "/containers/create",
        "/containers/create?name=fuzz",
        "/v1.41/containers/nope/exec",
        "/exec/nope/start",
        "/containers/nope/update",
        "/volumes/create",
        "/networks/create",
        "/networks/bridge/connect",
        "/commit?container=nope",
    ];
    for (_, body) in corpus("json-bodies") {
        for r in routes {
            check(e, "POST", r, Some("application/json"), &body);
        }
    }
}

fn method_strategy() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "GET", "POST", "DELETE", "PUT", "HEAD", "PATCH", "OPTIONS",
    ])
}

/// Paths that follow the route table closely enough to reach handlers,
/// with ids, names and versions fuzzed, plus free-form noise.
fn target_strategy() -> impl Strategy<Value = String> {
    let version = prop_oneof![
        Just(String::new()),
        Just("/v1.24".to_string()),
        Just("/v1.50".to_string()),
        Just("/v1.51".to_string()),
        Just("/v1.0".to_string()),
        "/v[0-9]{0,3}\\.[0-9]{0,3}",
    ];
    let id = prop_oneof![
        Just("nope".to_string()),
        Just("bridge".to_string()),
        Just("..".to_string()),
        Just(String::new()),
        "[a-f0-9]{1,64}",
        "[ -~]{0,16}",
    ];
    let route = prop_oneof![
        Just("_ping".to_string()),
        Just("version".to_string()),
        Just("info".to_string()),
        Just("containers/json".to_string()),
        Just("containers/create".to_string()),
        Just("containers/prune".to_string()),
        Just("images/json".to_string()),
        Just("images/prune".to_string()),
        Just("images/get".to_string()),
        Just("events".to_string()),
        Just("networks".to_string()),
        Just("volumes".to_string()),
        Just("system/df".to_string()),
        id.clone().prop_flat_map(|id| {
            prop::sample::select(vec![
                "json", "start", "stop", "restart", "kill", "wait", "logs", "resize", "changes",
                "pause", "unpause", "update", "exec", "archive", "export", "rename", "top", "",
            ])
            .prop_map(move |op| format!("containers/{id}/{op}"))
        }),
        id.clone().prop_flat_map(|id| {
            prop::sample::select(vec!["start", "json", "resize"])
                .prop_map(move |op| format!("exec/{id}/{op}"))
        }),
        id.clone().prop_map(|id| format!("images/{id}/json")),
        id.clone().prop_map(|id| format!("images/a/{id}/history")),
        id.clone().prop_map(|id| format!("volumes/{id}")),
        id.prop_map(|id| format!("networks/{id}")),
        "[ -~]{0,24}",
    ];
    let query = prop::collection::vec(
        (
            prop::sample::select(vec![
                "all",
                "filters",
                "since",
                "until",
                "tail",
                "t",
                "signal",
                "name",
                "h",
                "w",
                "stdout",
                "stderr",
                "follow",
                "force",
                "v",
                "path",
                "condition",
                "limit",
                "size",
            ]),
            prop_oneof![
                "-?[0-9]{0,22}(\\.[0-9]{0,12})?",
                "[ -~]{0,16}",
                Just("{\"status\":[\"running\"]}".to_string()),
                Just("{bad".to_string()),
            ],
        ),
        0..4,
    );
    // Streaming GETs (events, logs follow, stats) answer 200 and go on:
    // the client reads their headers only.
    (version, route, query).prop_map(|(v, r, q)| {
        let mut s = format!("{v}/{r}");
        if !q.is_empty() {
            let mut ser = String::new();
            for (i, (k, val)) in q.into_iter().enumerate() {
                if i > 0 {
                    ser.push('&');
                }
                ser.push_str(k);
                ser.push('=');
                ser.push_str(&val);
            }
            s.push('?');
            s.push_str(&ser);
        }
        encode_target(&s)
    })
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "Image",
                        "Cmd",
                        "HostConfig",
                        "Memory",
                        "Name",
                        "Detach",
                        "Tty",
                        "Container",
                        "Driver",
                        "Labels",
                        "ConsoleSize",
                        "RestartPolicy",
                    ])
                    .prop_map(String::from),
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    });
    prop_oneof![
        Just(Vec::new()),
        value.prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..128),
    ]
}

/// Request lines hyper cannot parse never reach the router: they still get
/// an answer (hyper's bare 400, where dockerd's Go server sends a text
/// body) and the engine goes on serving.
#[test]
fn malformed_request_lines_get_an_answer() {
    let e = Engine::start();
    for target in [
        "/_ping?all=<",
        "/containers/{x}/json",
        "/a b",
        "/\"x\"",
        "*",
    ] {
        let r = Request::new("GET", target)
            .send(&e.socket)
            .unwrap_or_else(|err| panic!("GET {target}: no answer: {err}"));
        assert!((400..500).contains(&r.status), "GET {target}: {}", r.status);
        check_alive(&e, target);
    }
}

/// Found by the fuzz below: a GET /events whose body arrived after its
/// headers, abandoned by the client, kept its connection (an fd and a task)
/// open until the next event, which on a quiet engine is never. The body
/// is sent in a second write, after the headers, as a slow client would.
#[test]
fn abandoned_streams_with_a_late_body_release_their_connections() {
    use std::io::{Read, Write};
    let e = Engine::start();
    let pid = e.pid().expect("engine pid");
    wait_for_ping(&e.socket, Duration::from_secs(5));
    let before = fd_count(pid);
    for _ in 0..10 {
        let mut s = std::os::unix::net::UnixStream::connect(&e.socket).expect("connect");
        s.set_read_timeout(Some(ANSWER_WITHIN)).expect("timeout");
        s.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n")
            .expect("head");
        s.flush().expect("flush");
        // Lets the engine read the head alone, without the body.
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(b"{\"a\":1}").expect("body");
        let mut head = [0u8; 12];
        s.read_exact(&mut head).expect("status line");
        assert_eq!(
            &head,
            b"HTTP/1.1 200",
            "events answered {:?}",
            String::from_utf8_lossy(&head)
        );
        // Dropped here: the client hangs up on the stream.
    }
    let settle = std::time::Instant::now();
    while fd_count(pid) > before && settle.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        fd_count(pid) <= before,
        "abandoned event streams still hold connections: {} fds, {before} before:\n{}",
        fd_count(pid),
        fd_targets(pid).join("\n")
    );
}

/// One engine for the whole run (starting one per case would dominate
/// it), owned here so it is stopped however the test ends.
#[test]
fn the_engine_answers_every_request() {
    let e = Engine::start();
    let pid = e.pid().expect("engine pid");
    let fds_before = fd_count(pid);
    corpus_requests_replay(&e);
    corpus_bodies_replay_on_every_body_route(&e);

    let config = ProptestConfig {
        cases: std::env::var("SHIPSHAPE_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(512),
        failure_persistence: Some(Box::new(Regressions::default())),
        ..ProptestConfig::default()
    };
    let content_type = prop::option::of(prop::sample::select(vec![
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-tar",
        "",
    ]));
    let strategy = (
        method_strategy(),
        target_strategy(),
        content_type,
        body_strategy(),
    );
    let result = TestRunner::new(config).run(&strategy, |(method, target, ct, body)| {
        check(&e, method, &target, ct, &body);
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}\nengine log tail:\n{}", tail(&e.log(), 20));
    }

    // After everything, the engine is still whole.
    wait_for_ping(&e.socket, Duration::from_secs(5));
    let log = e.log();
    assert!(
        !log.contains("panicked"),
        "the engine panicked:\n{}",
        tail(&log, 20)
    );
    // Abandoned streams (the client reads only the headers of a success)
    // must not pin connections: the engine's fds come back to where they
    // were. Closing is asynchronous, hence the polling.
    let settle = std::time::Instant::now();
    while fd_count(pid) > fds_before && settle.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        fd_count(pid) <= fds_before,
        "the engine holds {} fds after the fuzz, {fds_before} before:\n{}",
        fd_count(pid),
        fd_targets(pid).join("\n")
    );
}
