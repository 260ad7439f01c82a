//! The seed's four differences between an image and a container, as
//! properties over generated file operations under /data:
//!
//! * image-immutability: writes, deletes and chmods in a container leave the
//!   image as it was (ID, layers, config, and what a fresh container sees);
//! * container-state: the writes survive stop/start of the same container and
//!   `GET /containers/{id}/changes` reports them;
//! * ephemerality: another container from the image does not see them, and
//!   removing the container discards them;
//! * commit-usage: `POST /commit` makes a new image holding them, and the
//!   original image stays as it was.
//!
//! Each property has its own proptest `TestRunner`, seeded from `--seed` and
//! the property's name, so a run is reproducible. The expected outcome of an
//! operation list comes from a small model ([`plan`]).

use super::containers::parse_changes;
use super::{scenario, Scenario};
use crate::client::{enc, Req};
use crate::filetree::{baseline, parse_dump, show, FileState, Tree};
use crate::fixture::{DATA_DIR, SEED_FILES};
use crate::ground::seed_bytes;
use crate::ground::spec::expectation;
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem, COMMIT_REPO};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("seed", "image-immutability", true, |ctx| {
            property(ctx, "seed/image-immutability", image_immutability)
        }),
        scenario("seed", "container-state", true, |ctx| {
            property(ctx, "seed/container-state", container_state)
        }),
        scenario("seed", "ephemerality", true, |ctx| {
            property(ctx, "seed/ephemerality", ephemerality)
        }),
        scenario("seed", "commit-usage", true, |ctx| {
            property(ctx, "seed/commit-usage", commit_usage)
        }),
    ]
}

/// Modes chmod may set. All keep the owner's write bit, so later writes do
/// not depend on the container having CAP_DAC_OVERRIDE.
const MODES: &[u32] = &[0o600, 0o640, 0o644, 0o660, 0o664, 0o700, 0o755];

/// Marker that makes the container-state command do its writes only once.
const ONCE_MARKER: &str = "/tmp/.shipshape-once";

/// A generated operation; targets of delete/chmod are picked among the files
/// that exist at that point, so every planned operation is valid.
#[derive(Debug, Clone)]
pub enum OpSpec {
    Write(String, String),
    Append(String, String),
    Delete(Index),
    Chmod(Index, u32),
}

/// A concrete operation on `/data/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Write(String, String),
    Append(String, String),
    Delete(String),
    Chmod(String, u32),
}

impl Op {
    /// The probe command for this operation.
    pub fn args(&self) -> Vec<String> {
        let p = |n: &str| format!("{DATA_DIR}/{n}");
        match self {
            Op::Write(n, c) => vec!["write".into(), p(n), c.clone()],
            Op::Append(n, c) => vec!["append".into(), p(n), c.clone()],
            Op::Delete(n) => vec!["delete".into(), p(n)],
            Op::Chmod(n, m) => vec!["chmod".into(), p(n), format!("{m:o}")],
        }
    }
}

/// Operations to run and the state they must produce.
#[derive(Debug, Clone)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub expected: Tree,
    /// Files any operation acted on.
    pub touched: BTreeSet<String>,
}

/// Resolves generated operations against the model of /data.
pub fn plan(specs: &[OpSpec]) -> Plan {
    let base = baseline();
    let mut files = base.clone();
    let mut touched = BTreeSet::new();
    let mut ops = Vec::new();
    let new_file = |c: &str| FileState {
        kind: 'f',
        mode: 0o644,
        content: c.as_bytes().to_vec(),
    };
    for s in specs {
        match s {
            OpSpec::Write(n, c) => {
                files
                    .entry(n.clone())
                    .and_modify(|f| f.content = c.as_bytes().to_vec())
                    .or_insert_with(|| new_file(c));
                touched.insert(n.clone());
                ops.push(Op::Write(n.clone(), c.clone()));
            }
            OpSpec::Append(n, c) => {
                files
                    .entry(n.clone())
                    .and_modify(|f| f.content.extend_from_slice(c.as_bytes()))
                    .or_insert_with(|| new_file(c));
                touched.insert(n.clone());
                ops.push(Op::Append(n.clone(), c.clone()));
            }
            OpSpec::Delete(i) => {
                if files.is_empty() {
                    continue;
                }
                let names: Vec<String> = files.keys().cloned().collect();
                let n = i.get(&names).clone();
                files.remove(&n);
                touched.insert(n.clone());
                ops.push(Op::Delete(n));
            }
            OpSpec::Chmod(i, mode) => {
                if files.is_empty() {
                    continue;
                }
                let names: Vec<String> = files.keys().cloned().collect();
                let n = i.get(&names).clone();
                // Skip no-op chmods and chmods back to the image's mode: how
                // a metadata-only round trip shows in /changes depends on the
                // storage driver (dockerd's naive diff compares mode, size
                // and mtime; overlay's native diff sees any copy-up).
                let current = files.get(&n).map(|f| f.mode);
                let original = base.get(&n).map(|f| f.mode);
                if current == Some(*mode) || original == Some(*mode) {
                    continue;
                }
                if let Some(f) = files.get_mut(&n) {
                    f.mode = *mode;
                }
                touched.insert(n.clone());
                ops.push(Op::Chmod(n, *mode));
            }
        }
    }
    Plan {
        ops,
        expected: files,
        touched,
    }
}

impl Plan {
    /// Probe commands for the operations, `--`-separated (may be empty).
    pub fn args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for op in &self.ops {
            if !out.is_empty() {
                out.push("--".to_string());
            }
            out.extend(op.args());
        }
        out
    }

    /// What `GET /containers/{id}/changes` reports for these operations
    /// (Kind 0 modified, 1 added, 2 deleted): a seed file that is gone is
    /// deleted, one that was acted on and still exists is modified, a new
    /// file is added, and /data is modified when anything below it changed.
    pub fn expected_changes(&self) -> BTreeSet<(String, i64)> {
        let base = baseline();
        let mut out = BTreeSet::new();
        for n in base.keys() {
            if !self.expected.contains_key(n) {
                out.insert((format!("{DATA_DIR}/{n}"), 2));
            } else if self.touched.contains(n) {
                out.insert((format!("{DATA_DIR}/{n}"), 0));
            }
        }
        for n in self.expected.keys() {
            if !base.contains_key(n) {
                out.insert((format!("{DATA_DIR}/{n}"), 1));
            }
        }
        if !out.is_empty() {
            out.insert((DATA_DIR.to_string(), 0));
        }
        out
    }

    pub fn describe(&self) -> String {
        let ops: Vec<String> = self.ops.iter().map(|o| o.args().join(" ")).collect();
        if ops.is_empty() {
            "(no operations)".into()
        } else {
            ops.join(" ; ")
        }
    }
}

fn name_strategy() -> BoxedStrategy<String> {
    let seeds: Vec<String> = SEED_FILES.iter().map(|(n, _, _)| n.to_string()).collect();
    prop_oneof![prop::sample::select(seeds), "[a-z][a-z0-9]{0,5}"].boxed()
}

/// Contents are never empty (an empty write or append may leave mtime and
/// size alone, which makes "modified" driver-dependent) and never contain
/// `--` (the probe's command separator).
fn content_strategy() -> BoxedStrategy<String> {
    "[a-zA-Z0-9 .,:_]{1,24}".boxed()
}

pub fn ops_strategy() -> impl Strategy<Value = Vec<OpSpec>> {
    let op = prop_oneof![
        3 => (name_strategy(), content_strategy()).prop_map(|(n, c)| OpSpec::Write(n, c)),
        2 => (name_strategy(), content_strategy()).prop_map(|(n, c)| OpSpec::Append(n, c)),
        2 => any::<Index>().prop_map(OpSpec::Delete),
        2 => (any::<Index>(), prop::sample::select(MODES)).prop_map(|(i, m)| OpSpec::Chmod(i, m)),
    ];
    prop::collection::vec(op, 1..6)
}

fn compare(what: &str, got: &Tree, want: &Tree) -> Outcome {
    if got == want {
        Ok(())
    } else {
        Err(fail(format!(
            "{what}: saw {}, expected {}",
            show(got),
            show(want)
        )))
    }
}

/// Removes the containers it holds when dropped, so failures do not leak.
struct Containers<'c, 'a> {
    ctx: &'c Ctx<'a>,
    ids: Vec<String>,
}

impl<'c, 'a> Containers<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>) -> Self {
        Containers {
            ctx,
            ids: Vec::new(),
        }
    }
    fn hold(&mut self, id: &str) {
        self.ids.push(id.to_string());
    }
    fn release_all(&mut self) {
        for id in self.ids.drain(..) {
            self.ctx.remove(&id);
        }
    }
}

impl Drop for Containers<'_, '_> {
    fn drop(&mut self) {
        self.release_all();
    }
}

/// Runs `args` then `dump /data` in a new container from `image`; checks it
/// exits 0 and returns (id, dump).
fn apply(
    ctx: &Ctx,
    held: &mut Containers,
    image: &str,
    p: &Plan,
) -> Result<(String, Tree), Problem> {
    let mut args = p.args();
    if !args.is_empty() {
        args.push("--".into());
    }
    args.extend(["dump".to_string(), DATA_DIR.to_string()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (id, code, logs) = ctx.run_config(ctx.offline_probe_config(image, &refs))?;
    held.hold(&id);
    if code != 0 {
        return Err(fail(format!(
            "the probe applying the operations exited {code}: {}",
            logs.stderr_text().trim()
        )));
    }
    let tree = parse_dump(&logs.stdout_text(), 0).map_err(fail)?;
    compare(
        "/data right after the operations, in the same container",
        &tree,
        &p.expected,
    )?;
    Ok((id, tree))
}

/// What a fresh container from `image` sees in /data.
fn fresh_view(ctx: &Ctx, image: &str) -> Result<Tree, Problem> {
    let out = ctx.config_output(ctx.offline_probe_config(image, &["dump", DATA_DIR]))?;
    parse_dump(&out, 0).map_err(fail)
}

/// The parts of an image that must not change: Id, RootFS and Config.
fn image_snapshot(ctx: &Ctx, reference: &str) -> Result<Value, Problem> {
    let v = ctx.inspect_image(reference)?;
    Ok(json!({
        "Id": v.get("Id"),
        "RootFS": v.get("RootFS"),
        "Config": v.get("Config"),
    }))
}

fn same_image(what: &str, before: &Value, after: &Value) -> Outcome {
    if before == after {
        Ok(())
    } else {
        Err(fail(format!(
            "{what} changed: before {before}, after {after}"
        )))
    }
}

fn image_immutability(ctx: &Ctx, p: &Plan) -> Outcome {
    let image = ctx.image()?;
    let before = image_snapshot(ctx, &image.tag)?;
    if before.get("Id") != Some(&json!(image.id)) {
        return Err(fail(format!(
            "the fixture's Id is {}, expected {}",
            before["Id"], image.id
        )));
    }
    let mut held = Containers::new(ctx);
    apply(ctx, &mut held, &image.tag, p)?;
    let after = image_snapshot(ctx, &image.tag)?;
    same_image("the image (Id, RootFS.Layers, Config)", &before, &after)?;
    let view = fresh_view(ctx, &image.tag)?;
    compare(
        "/data in a fresh container from the image",
        &view,
        &baseline(),
    )
}

fn container_state(ctx: &Ctx, p: &Plan) -> Outcome {
    let image = ctx.image()?;
    let changes_spec = expectation("containers/changes")?;
    // First start: the guarded block applies the operations and leaves the
    // marker; every start then dumps /data and waits for SIGTERM.
    let mut args: Vec<String> = vec!["guard".into(), ONCE_MARKER.into(), "--".into()];
    let ops = p.args();
    if !ops.is_empty() {
        args.extend(ops);
        args.push("--".into());
    }
    for s in [
        "write",
        ONCE_MARKER,
        "1",
        "--",
        "end",
        "--",
        "dump",
        DATA_DIR,
        "--",
        "trap-term",
        "0",
    ] {
        args.push(s.into());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = ctx.create(ctx.offline_probe_config(&image.tag, &refs), None)?;
    let mut held = Containers::new(ctx);
    held.hold(&id);

    let ready = |starts: usize| -> Result<String, Problem> {
        let out = ctx.poll(Duration::from_secs(20), || {
            let logs = ctx.logs(&id)?;
            if !logs.stderr.is_empty() {
                return Err(fail(format!("probe stderr: {}", logs.stderr_text().trim())));
            }
            let text = logs.stdout_text();
            Ok((text.matches("waiting for SIGTERM").count() >= starts).then_some(text))
        })?;
        out.ok_or_else(|| {
            fail(format!(
                "start #{starts}: the probe did not finish its dump within 20 s"
            ))
        })
    };
    let check_changes = |when: &str| -> Outcome {
        let resp = ctx.send(Req::get(format!("/containers/{}/changes", enc(&id))))?;
        expect_status(&resp, 200, "reading changes")?;
        let got = parse_changes(&json_body(&resp, "changes")?).map_err(|m| fail_at(&resp, m))?;
        let mut want = p.expected_changes();
        want.insert(("/tmp".into(), 0));
        want.insert((ONCE_MARKER.into(), 1));
        if got != want {
            return Err(changes_spec.fail(
                Some(&resp),
                format!("{when}: changes {got:?}, expected {want:?}"),
                &[],
            ));
        }
        Ok(())
    };

    ctx.start(&id)?;
    let out = ready(1)?;
    compare(
        "/data after the operations",
        &parse_dump(&out, 0).map_err(fail)?,
        &p.expected,
    )?;
    check_changes("while running")?;
    let resp = ctx.stop(&id, 10)?;
    expect_status(&resp, 204, "stopping the container")?;
    let state = ctx.inspect(&id)?;
    if state.pointer("/State/Status") != Some(&json!("exited")) {
        return Err(fail(format!(
            "after stop, State is {:?}",
            state.get("State")
        )));
    }
    check_changes("after stop")?;
    ctx.start(&id)?;
    let out = ready(2)?;
    compare(
        "/data after stop and a second start (the writes must persist)",
        &parse_dump(&out, 1).map_err(fail)?,
        &p.expected,
    )?;
    check_changes("after restart")?;
    let resp = ctx.stop(&id, 10)?;
    expect_status(&resp, 204, "stopping the container")
}

fn ephemerality(ctx: &Ctx, p: &Plan) -> Outcome {
    let image = ctx.image()?;
    let mut held = Containers::new(ctx);
    let (id, _) = apply(ctx, &mut held, &image.tag, p)?;
    let view = fresh_view(ctx, &image.tag)?;
    compare(
        "/data in a second container from the same image",
        &view,
        &baseline(),
    )?;
    // It exited, so a plain (unforced) removal must work.
    let resp = ctx.send(Req::delete(format!("/containers/{}", enc(&id))))?;
    expect_status(&resp, 204, "removing the exited container")?;
    let gone = expectation("errors/unknown-container")?;
    let resp = ctx.send(Req::get(format!("/containers/{}/json", enc(&id))))?;
    gone.check(&resp, &[("name", &id)])?;
    let resp = ctx.send(Req::get(format!("/containers/{}/changes", enc(&id))))?;
    gone.check(&resp, &[("name", &id)])
}

fn commit_usage(ctx: &Ctx, p: &Plan) -> Outcome {
    let image = ctx.image()?;
    let before = image_snapshot(ctx, &image.tag)?;
    let mut held = Containers::new(ctx);
    let (id, _) = apply(ctx, &mut held, &image.tag, p)?;
    // `<run>-<n>-commit`: unique per run and case.
    let tag = ctx
        .unique_name("commit")
        .trim_start_matches("shipshape-")
        .to_string();
    let reference = format!("{COMMIT_REPO}:{tag}");
    let resp = ctx.send(Req::post(format!(
        "/commit?container={}&repo={}&tag={}",
        enc(&id),
        enc(COMMIT_REPO),
        enc(&tag)
    )))?;
    if resp.status == 201 {
        ctx.record_created_image(reference.clone());
    }
    expect_status(&resp, 201, "committing the container")?;
    let new_id = json_body(&resp, "commit response")?
        .get("Id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| fail_at(&resp, "the commit response has no Id"))?;
    if new_id == image.id {
        return Err(fail_at(
            &resp,
            "the committed image has the original image's ID",
        ));
    }
    let new = ctx.inspect_image(&reference)?;
    if new.get("Id") != Some(&json!(new_id)) {
        return Err(fail(format!(
            "{reference} has Id {:?}, commit said {new_id}",
            new.get("Id")
        )));
    }
    let old_layers = before
        .pointer("/RootFS/Layers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let new_layers = new
        .pointer("/RootFS/Layers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !new_layers.starts_with(&old_layers) || new_layers.len() != old_layers.len() + 1 {
        return Err(fail(format!(
            "the committed image's layers {new_layers:?} should be the original {old_layers:?} plus one"
        )));
    }
    let view = fresh_view(ctx, &reference)?;
    compare(
        "/data in a container from the committed image",
        &view,
        &p.expected,
    )?;
    let after = image_snapshot(ctx, &image.tag)?;
    same_image("the original image", &before, &after)?;
    let view = fresh_view(ctx, &image.tag)?;
    compare(
        "/data in a container from the original image",
        &view,
        &baseline(),
    )?;
    // Containers first: an image with containers cannot be removed.
    held.release_all();
    let resp = ctx.send(Req::delete(format!("/images/{}", enc(&reference))))?;
    expect_status(&resp, 200, "removing the committed image")?;
    ctx.forget_created_image(&reference);
    Ok(())
}

/// Runs one property with its own seeded runner. On failure, the minimal
/// input proptest found is run once more to report its exact exchange.
fn property(ctx: &Ctx, name: &str, body: fn(&Ctx, &Plan) -> Outcome) -> Outcome {
    ctx.image()?;
    let config = Config {
        cases: ctx.cases.max(1),
        // Every case costs several containers: keep shrinking short.
        max_shrink_iters: 16,
        max_shrink_time: 120_000,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(ctx.seed, name));
    let mut runner = TestRunner::new_with_rng(config, rng);
    let cases_run = RefCell::new(0u32);
    let result = runner.run(&ops_strategy(), |specs| {
        *cases_run.borrow_mut() += 1;
        match body(ctx, &plan(&specs)) {
            Ok(()) => Ok(()),
            Err(Problem::Fail(f)) => Err(TestCaseError::fail(f.reason)),
            Err(Problem::Skip(s)) => Err(TestCaseError::fail(format!("prerequisite missing: {s}"))),
        }
    });
    let reproduce = format!(
        "reproduce: shipshape run --filter {name} --seed {} --cases {}",
        ctx.seed, ctx.cases
    );
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Abort(why)) => Err(fail(format!("proptest aborted: {why}")).note(reproduce)),
        Err(TestError::Fail(why, minimal)) => {
            let p = plan(&minimal);
            let input = format!(
                "minimal failing operations (after {} cases incl. shrinking): {}",
                cases_run.borrow(),
                p.describe()
            );
            match body(ctx, &p) {
                Err(Problem::Fail(mut f)) => {
                    f.reason = format!("{} [operations: {}]", f.reason, p.describe());
                    Err(Problem::Fail(f).note(input).note(reproduce))
                }
                _ => Err(fail(format!(
                    "{why} (re-running the minimal input passed: flaky?)"
                ))
                .note(input)
                .note(reproduce)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;

    fn idx(n: usize) -> Index {
        // Index::get maps the raw value proportionally onto the slice.
        let mut runner = TestRunner::deterministic();
        loop {
            let i = any::<Index>()
                .new_tree(&mut runner)
                .expect("tree")
                .current();
            if i.index(4) == n {
                return i;
            }
        }
    }

    #[test]
    fn plan_models_operations() {
        let p = plan(&[
            OpSpec::Write("new".into(), "x".into()),
            OpSpec::Append("alpha".into(), "y".into()),
            OpSpec::Delete(idx(1)),
        ]);
        assert_eq!(p.expected["new"].content, b"x");
        assert_eq!(p.expected["alpha"].content, b"alpha\ny");
        assert_eq!(p.ops.len(), 3);
        let changes = p.expected_changes();
        assert!(changes.contains(&("/data".into(), 0)));
        assert!(changes.contains(&("/data/new".into(), 1)));
        assert!(changes.contains(&("/data/alpha".into(), 0)));
    }

    #[test]
    fn chmod_to_original_mode_is_dropped() {
        // alpha is 0644 in the image: a chmod to 0644 is a no-op and dropped.
        let p = plan(&[OpSpec::Chmod(idx(0), 0o644)]);
        assert!(p.ops.is_empty());
        assert!(p.expected_changes().is_empty());
    }

    #[test]
    fn created_then_deleted_leaves_no_change() {
        let mut specs = vec![OpSpec::Write("zz".into(), "x".into())];
        // "zz" sorts last among alpha, beta, empty, tool, zz.
        let mut runner = TestRunner::deterministic();
        let last = loop {
            let i = any::<Index>()
                .new_tree(&mut runner)
                .expect("tree")
                .current();
            if i.index(5) == 4 {
                break i;
            }
        };
        specs.push(OpSpec::Delete(last));
        let p = plan(&specs);
        assert_eq!(
            p.ops,
            vec![Op::Write("zz".into(), "x".into()), Op::Delete("zz".into())]
        );
        assert!(p.expected_changes().is_empty());
    }

    #[test]
    fn parses_dumps() {
        let out = "noise\n== dump /data\nf a 0644 2 6869\nf e 0600 0 \n== end\n== dump /data\nd sub 0755\n== end\n";
        let t = parse_dump(out, 0).expect("first");
        assert_eq!(t["a"].content, b"hi");
        assert_eq!(t["e"].mode, 0o600);
        assert!(t["e"].content.is_empty());
        let t2 = parse_dump(out, 1).expect("second");
        assert_eq!(t2["sub"].kind, 'd');
        assert!(parse_dump(out, 2).is_err());
        assert!(parse_dump("== dump /data\nf a 0644 1 zz\n== end\n", 0).is_err());
    }

    #[test]
    fn op_args_match_probe_syntax() {
        assert_eq!(
            Op::Chmod("a".into(), 0o600).args(),
            vec!["chmod", "/data/a", "600"]
        );
        let p = Plan {
            ops: vec![Op::Delete("a".into()), Op::Write("b".into(), "c d".into())],
            expected: Tree::new(),
            touched: BTreeSet::new(),
        };
        assert_eq!(
            p.args(),
            vec!["delete", "/data/a", "--", "write", "/data/b", "c d"]
        );
    }

    #[test]
    fn seeds_differ_per_property() {
        assert_ne!(seed_bytes(1, "a"), seed_bytes(1, "b"));
        assert_eq!(seed_bytes(7, "a"), seed_bytes(7, "a"));
    }
}
