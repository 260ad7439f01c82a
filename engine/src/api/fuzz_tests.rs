//! Bounded fuzzing of the engine's pure request parsing (issue 8): version
//! prefixes, query strings, `filters`, the JSON bodies of create, exec,
//! exec start, update and volume create, and what create does with a decoded
//! HostConfig before it touches the system (validation, defaults, cgroup
//! limits), plus the Dockerfile/`changes` parser and the `since`/`until`
//! timestamps. The HTTP layer around these is fuzzed end to end in
//! `tests/e2e/fuzz_api.rs`.
//!
//! Each property replays the seed inputs in `fuzz/corpus/<target>/` first,
//! then runs generated cases (`SHIPSHAPE_FUZZ_CASES`, default small so
//! `cargo test` stays quick). The regressions in the tracked
//! `proptest-regressions/fuzz-engine-*.txt` are replayed on every run; a
//! new failure is written under the target dir
//! (`<target>/<profile>/proptest-failures/`, or `$SHIPSHAPE_FUZZ_FAILURES`),
//! never into the tracked files, so a test run leaves the tree clean. To
//! add a regression to the corpus, copy its `cc <seed> # ...` line from
//! there into the tracked file, with the fix.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{FailurePersistence, FileFailurePersistence, PersistedSeed};

use super::{split_version, Query};
use crate::daemon::containers::record::{CreateRequest, HostConfig};
use crate::daemon::{containers::cgroups, containers::restart, images::dockerfile, volumes};
use crate::errdefs::EngineError;
use crate::filters;

/// Cases per property: small by default (CI runs every property on each
/// `cargo test`), raised locally for a longer hunt.
fn cases(default: u32) -> u32 {
    std::env::var("SHIPSHAPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(regressions: &'static str) -> ProptestConfig {
    ProptestConfig {
        cases: cases(512),
        failure_persistence: Some(Box::new(Regressions::new(regressions))),
        ..ProptestConfig::default()
    }
}

/// Replays the tracked regressions file and the untracked one; saves new
/// failures to the untracked one only.
#[derive(Debug, Clone, PartialEq)]
struct Regressions {
    tracked: FileFailurePersistence,
    local: FileFailurePersistence,
}

impl Regressions {
    fn new(tracked: &'static str) -> Self {
        let name = Path::new(tracked)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "fuzz-engine.txt".into());
        let dir = std::env::var_os("SHIPSHAPE_FUZZ_FAILURES")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                // The test binary is `<target>/<profile>/deps/<name>`.
                let exe = std::env::current_exe().unwrap_or_default();
                let profile = exe.ancestors().nth(2).unwrap_or(Path::new("."));
                profile.join("proptest-failures")
            });
        let local: &'static str = Box::leak(
            dir.join(name)
                .to_string_lossy()
                .into_owned()
                .into_boxed_str(),
        );
        Regressions {
            tracked: FileFailurePersistence::Direct(tracked),
            local: FileFailurePersistence::Direct(local),
        }
    }
}

impl FailurePersistence for Regressions {
    fn load_persisted_failures2(&self, source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        let mut seeds = self.tracked.load_persisted_failures2(source_file);
        seeds.extend(self.local.load_persisted_failures2(source_file));
        seeds
    }

    fn save_persisted_failure2(
        &mut self,
        source_file: Option<&'static str>,
        seed: PersistedSeed,
        shrunken_value: &dyn std::fmt::Debug,
    ) {
        self.local
            .save_persisted_failure2(source_file, seed, shrunken_value);
    }

    fn box_clone(&self) -> Box<dyn FailurePersistence> {
        Box::new(self.clone())
    }

    fn eq(&self, other: &dyn FailurePersistence) -> bool {
        other
            .as_any()
            .downcast_ref::<Self>()
            .is_some_and(|o| o == self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn new_failures_stay_out_of_the_tracked_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let leak = |p: PathBuf| -> &'static str {
        Box::leak(p.to_string_lossy().into_owned().into_boxed_str())
    };
    let tracked = dir.path().join("tracked.txt");
    let line = "cc 28543089579dcab3fbfe81556ad3ca66a6f41c28f594bcf0163d981b2c1d5e47 # x\n";
    std::fs::write(&tracked, line).expect("write");
    let local = dir.path().join("target/local.txt");
    let mut r = Regressions {
        tracked: FileFailurePersistence::Direct(leak(tracked.clone())),
        local: FileFailurePersistence::Direct(leak(local.clone())),
    };
    let seeds = r.load_persisted_failures2(None);
    assert_eq!(seeds.len(), 1);
    r.save_persisted_failure2(None, seeds[0].clone(), &"y");
    assert_eq!(std::fs::read_to_string(&tracked).expect("read"), line);
    assert!(local.exists());
    assert_eq!(r.load_persisted_failures2(None).len(), 2);
}

/// The seed inputs of one target, in name order. A missing or empty corpus
/// is a failure: the replay must not silently become a no-op.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading corpus {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            let bytes = std::fs::read(e.path()).expect("reading a corpus file");
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "corpus {} is empty", dir.display());
    out
}

/// Every error the parsers return must map to a client or server status
/// with a message, as `api::error::response` renders it.
fn sane_error(e: &EngineError) {
    let s = super::error::status(e);
    assert!(
        s.is_client_error() || s.is_server_error(),
        "error {e} maps to {s}"
    );
    assert!(!e.to_string().is_empty(), "error with an empty message");
}

// ---- request line: version prefix and query string ----

fn check_path_and_query(path: &str, query: &str) {
    match split_version(path) {
        Ok((_, rest)) => assert!(path.ends_with(rest), "{rest:?} is not a suffix of {path:?}"),
        Err(e) => {
            assert_eq!(
                super::error::status(&e),
                hyper::StatusCode::BAD_REQUEST,
                "{path:?}"
            );
            sane_error(&e);
        }
    }
    let q = Query::parse(query);
    for key in [
        "all", "filters", "since", "until", "tail", "t", "signal", "names",
    ] {
        let all = q.all(key);
        assert_eq!(q.get(key).is_some(), !all.is_empty());
        let _ = q.flag(key);
        if let Err(e) = q.int(key) {
            sane_error(&e);
        }
        if let Some(v) = q.get(key) {
            // `logs` and `events` read these as timestamps.
            if let Err(e) = crate::filters::time::parse_timestamp(v) {
                sane_error(&e);
            }
            if let Err(e) = crate::filters::time::until_filter(v, 0) {
                sane_error(&e);
            }
        }
    }
    if let Some(f) = q.get("filters") {
        check_filters(f);
    }
}

fn check_filters(raw: &str) {
    const KEYS: &[&str] = &["status", "name", "label", "id", "ancestor", "dangling"];
    match filters::parse(Some(raw), KEYS) {
        Ok(f) => assert!(f.keys().all(|k| KEYS.contains(&k.as_str()))),
        Err(e) => sane_error(&e),
    }
}

/// Path segments an attacker (or a confused client) might send.
fn path_strategy() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        Just("v1.41".to_string()),
        Just("v1.50".to_string()),
        Just("v99.0".to_string()),
        Just("v0.1".to_string()),
        Just("v1.".to_string()),
        Just("v.1".to_string()),
        Just("v4294967296.1".to_string()),
        Just("containers".to_string()),
        Just("images".to_string()),
        Just("json".to_string()),
        Just("..".to_string()),
        Just("%2e%2e".to_string()),
        Just(String::new()),
        "[a-z0-9._%-]{0,12}",
        any::<String>(),
    ];
    prop::collection::vec(seg, 0..6).prop_map(|s| format!("/{}", s.join("/")))
}

fn query_strategy() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("all"),
        Just("filters"),
        Just("since"),
        Just("until"),
        Just("tail"),
        Just("t"),
        Just("names"),
        Just("signal"),
    ];
    let value = prop_oneof![
        "-?[0-9]{0,25}(\\.[0-9+-]{0,12})?",
        json_text(),
        any::<String>(),
        Just("%ff%fe%00".to_string()),
    ];
    prop::collection::vec((key, value), 0..6).prop_map(|kv| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in kv {
            s.append_pair(k, &v);
        }
        s.finish()
    })
}

// ---- JSON bodies ----

/// Arbitrary JSON values: the shapes serde must refuse cleanly.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just(i64::MAX),
            Just(i64::MIN),
            Just(i64::MAX / 2 + 1),
            Just(-1)
        ]
        .prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Field names of the bodies we decode, so generated objects reach the
/// typed fields rather than only the ignored ones.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Image",
            "Cmd",
            "Entrypoint",
            "Env",
            "Labels",
            "HostConfig",
            "Binds",
            "Mounts",
            "Tmpfs",
            "Memory",
            "MemorySwap",
            "MemoryReservation",
            "PidsLimit",
            "CpuShares",
            "CpuQuota",
            "CpuPeriod",
            "NanoCpus",
            "RestartPolicy",
            "Name",
            "MaximumRetryCount",
            "ConsoleSize",
            "AutoRemove",
            "Tty",
            "Detach",
            "AttachStdout",
            "User",
            "WorkingDir",
            "Driver",
            "DriverOpts",
            "StopSignal",
            "ExposedPorts",
            "NetworkingConfig",
            "Volumes",
            "Healthcheck",
        ])
        .prop_map(String::from),
        ".{0,8}",
    ]
}

fn json_text() -> impl Strategy<Value = String> {
    json_value().prop_map(|v| v.to_string())
}

/// Bytes a body could be: valid JSON, JSON with a byte flipped or cut, or noise.
fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_text().prop_map(String::into_bytes),
        (json_text(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(t, at, b)| {
            let mut v = t.into_bytes();
            if !v.is_empty() {
                let i = at.index(v.len());
                v[i] = b;
            }
            v
        }),
        (json_text(), any::<prop::sample::Index>()).prop_map(|(t, at)| {
            let v = t.into_bytes();
            let i = at.index(v.len() + 1);
            v[..i].to_vec()
        }),
        prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// What the engine does with a body before any side effect: decode it as
/// each handler does, then run create's checks on the HostConfig.
fn check_body(bytes: &[u8]) {
    if let Ok(req) = serde_json::from_slice::<CreateRequest>(bytes) {
        if let Some(hc) = &req.host_config {
            check_host_config(hc.clone());
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        // Decoding every generated object as a HostConfig too reaches its
        // typed fields even when the generator did not nest it under
        // "HostConfig" (most cases do not).
        check_host_config(v);
    }
    let _ = serde_json::from_slice::<crate::daemon::containers::exec::ExecConfig>(bytes);
    let _ = serde_json::from_slice::<super::exec::StartRequest>(bytes);
    let _ = serde_json::from_slice::<super::volumes::CreateRequest>(bytes);
    if let Ok(u) = serde_json::from_slice::<super::resources::UpdateRequest>(bytes) {
        check_host_config_typed(u.as_host_config());
    }
}

fn check_host_config(v: serde_json::Value) {
    let mut raw = v.clone();
    if let Ok(hc) = serde_json::from_value::<HostConfig>(v) {
        for bind in hc.binds.iter().flatten() {
            if let Err(e) = volumes::mounts::parse_bind(bind) {
                sane_error(&e);
            }
        }
        if let Some(p) = &hc.restart_policy {
            if let Err(e) = restart::validate(p) {
                sane_error(&e);
            }
        }
        let mut hc2 = hc.clone();
        cgroups::normalize(&mut hc2, &mut raw);
        check_host_config_typed(hc);
    }
}

fn check_host_config_typed(hc: HostConfig) {
    match cgroups::validate(&hc) {
        Err(e) => sane_error(&e),
        Ok(()) => {
            // Limits of an accepted config must be writable as cgroup values.
            let r = cgroups::resources(&hc);
            for v in [r.memory, r.memory_reservation, r.pids, r.cpu_quota]
                .into_iter()
                .flatten()
            {
                assert!(v > 0, "non-positive limit {v} from {hc:?}");
            }
            if let Some(s) = r.memory_swap {
                assert!(s == -1 || s > 0, "memory swap {s} from {hc:?}");
            }
        }
    }
}

fn check_dockerfile(text: &str) {
    if let Err(e) = dockerfile::parse(text) {
        sane_error(&e);
    }
    let lines: Vec<String> = text.lines().map(String::from).collect();
    if let Err(e) = dockerfile::parse_changes(&lines) {
        sane_error(&e);
    }
    for word in text.split_whitespace().take(8) {
        let _ = dockerfile::expand(word, &["A=1".into(), "B=".into()]);
        let _ = dockerfile::port_keys(word);
        let _ = dockerfile::clean_path(word);
    }
    let _ = dockerfile::split_words(text);
    let _ = dockerfile::json_form(text);
}

#[test]
fn corpus_requests_replay() {
    for (name, bytes) in corpus("requests") {
        let line = String::from_utf8_lossy(&bytes);
        let line = line.lines().next().unwrap_or("");
        // "METHOD PATH[?QUERY]": the first line of a raw request file.
        let target = line.split(' ').nth(1).unwrap_or(line);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        eprintln!("replaying requests/{name}");
        check_path_and_query(path, query);
    }
    for (name, bytes) in corpus("filters") {
        eprintln!("replaying filters/{name}");
        check_filters(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn corpus_bodies_replay() {
    for (name, bytes) in corpus("json-bodies") {
        eprintln!("replaying json-bodies/{name}");
        check_body(&bytes);
    }
    for (name, bytes) in corpus("dockerfile") {
        eprintln!("replaying dockerfile/{name}");
        check_dockerfile(&String::from_utf8_lossy(&bytes));
    }
}

proptest! {
    #![proptest_config(config(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../proptest-regressions/fuzz-engine-requests.txt"
    )))]

    #[test]
    fn path_and_query_parsing_never_panics(path in path_strategy(), query in query_strategy()) {
        check_path_and_query(&path, &query);
    }

    #[test]
    fn raw_query_bytes_never_panic(raw in ".{0,64}") {
        check_path_and_query(&raw, &raw);
    }

    #[test]
    fn filters_never_panic(raw in prop_oneof![json_text(), any::<String>()]) {
        check_filters(&raw);
    }
}

proptest! {
    #![proptest_config(config(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../proptest-regressions/fuzz-engine-bodies.txt"
    )))]

    #[test]
    fn json_bodies_never_panic(body in body_strategy()) {
        check_body(&body);
    }

    #[test]
    fn host_config_numbers_never_panic(
        memory in prop_oneof![any::<i64>(), Just(i64::MAX), Just(i64::MAX / 2 + 1), 0..(64i64 << 20)],
        memory_swap in prop_oneof![any::<i64>(), Just(0i64), Just(-1i64)],
        nano_cpus in prop_oneof![any::<i64>(), 0..4_000_000_000i64],
        cpu_quota in any::<i64>(),
        pids in proptest::option::of(any::<i64>()),
    ) {
        let hc = serde_json::json!({
            "Memory": memory, "MemorySwap": memory_swap, "NanoCpus": nano_cpus,
            "CpuQuota": cpu_quota, "PidsLimit": pids,
        });
        check_host_config(hc);
    }

    #[test]
    fn dockerfile_text_never_panics(text in prop_oneof![
        any::<String>(),
        "((FROM|RUN|CMD|ENV|LABEL|EXPOSE|WORKDIR|USER|VOLUME|ONBUILD|ARG|COPY) [ -~]{0,20}\\\\?\n){0,6}",
    ]) {
        check_dockerfile(&text);
    }
}
