//! The `model/lifecycle` run: `--cases` sequences against the endpoint,
//! a failure shrunk to the shortest sequence, its seed persisted and a
//! replay script printed.
//!
//! Seeds: the tracked corpus `proptest-regressions/model-lifecycle.txt` is
//! replayed first and never written; a new failure is saved in an
//! untracked file under the target directory (see [`ModelOptions`]). To
//! add one to the corpus, copy its `cc ...` line from there into the
//! tracked file (see `crate::regressions`).

use super::replay::{describe_op, replay_script};
use super::support::probe_support;
use super::sut::{run_case, Names};
use super::{sequences, FileWrite, Place};
use crate::ground::{fail, seed_bytes, Ctx, Outcome, Problem};
use crate::regressions::CorpusPersistence;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Scenario name, also the seed label.
pub const NAME: &str = "model/lifecycle";

/// Env var naming the one file seeds are replayed from and saved to,
/// instead of the corpus and [`NEW_REGRESSIONS`] ("" turns persistence off).
pub const REGRESSIONS_ENV: &str = "SHIPSHAPE_MODEL_REGRESSIONS";

/// The repo's tracked corpus (replayed when the source tree is present,
/// never written).
pub const REPO_REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../proptest-regressions/model-lifecycle.txt"
);

/// Where a run from the source tree saves new failing seeds: under the
/// target directory (this crate's build output), so a run leaves tracked
/// files alone. They are replayed from there too, until the file goes.
pub const NEW_REGRESSIONS: &str =
    concat!(env!("OUT_DIR"), "/proptest-regressions/model-lifecycle.txt");

#[derive(Debug, Clone)]
pub struct ModelOptions {
    pub cases: u32,
    pub seed: u64,
    /// Steps per sequence: 1..max_len.
    pub max_len: usize,
    pub max_shrink_iters: u32,
    /// Seeds replayed first and never written (the tracked corpus).
    pub corpus: Option<PathBuf>,
    /// Where new failing seeds are saved (and replayed from).
    pub regressions: Option<PathBuf>,
}

impl ModelOptions {
    pub fn for_ctx(ctx: &Ctx) -> Self {
        let (corpus, regressions) = match std::env::var(REGRESSIONS_ENV) {
            Ok(p) if p.is_empty() => (None, None),
            Ok(p) => (None, Some(PathBuf::from(p))),
            Err(_) => {
                let p = PathBuf::from(REPO_REGRESSIONS);
                // Only a binary run from its source tree has the corpus.
                let dir_exists = p.parent().is_some_and(|d| d.is_dir());
                if dir_exists {
                    (Some(p), Some(PathBuf::from(NEW_REGRESSIONS)))
                } else {
                    (None, None)
                }
            }
        };
        ModelOptions {
            cases: ctx.cases.max(1),
            seed: ctx.seed,
            max_len: 14,
            max_shrink_iters: 200,
            corpus,
            regressions,
        }
    }
}

/// Runs the model: `opts.cases` sequences, shrinking a failure to the
/// shortest sequence proptest finds.
pub fn run(ctx: &Ctx, opts: &ModelOptions) -> Outcome {
    let image = ctx.image()?;
    let support = probe_support(ctx)?;
    let persistence = (opts.corpus.is_some() || opts.regressions.is_some()).then(|| {
        Box::new(CorpusPersistence {
            corpus: opts.corpus.as_deref().map(CorpusPersistence::leak),
            new: opts.regressions.as_deref().map(CorpusPersistence::leak),
        }) as Box<dyn proptest::test_runner::FailurePersistence>
    });
    let config = Config {
        cases: opts.cases,
        max_shrink_iters: opts.max_shrink_iters,
        max_shrink_time: 600_000,
        failure_persistence: persistence,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(opts.seed, NAME));
    let mut runner = TestRunner::new_with_rng(config, rng);
    let case = Cell::new(0u32);
    let kinds = RefCell::new(std::collections::BTreeSet::new());
    let names_for = |n: u32| Names {
        prefix: format!("shipshape-{}-m{n}", ctx.run_id),
        tag_prefix: format!("{}-m{n}", ctx.run_id),
        fixture_ref: image.tag.clone(),
    };
    let strategy = sequences(support, 1..opts.max_len.max(2));
    let result = runner.run(&strategy, |(init, ops, seen)| {
        case.set(case.get() + 1);
        kinds.borrow_mut().extend(super::kinds_of(&ops));
        run_case(ctx, names_for(case.get()), init, &ops, seen.as_deref())
            .map_err(|f| TestCaseError::fail(f.reason))
    });
    let skipped = support.missing();
    let reproduce = format!(
        "reproduce: shipshape run --host {} --filter {NAME} --seed {} --cases {}",
        ctx.client.target(),
        opts.seed,
        opts.cases
    );
    match result {
        Ok(()) => {
            let mut note = format!("{} sequences", opts.cases);
            let k = kinds.borrow();
            let _ = write!(note, ", {} kinds of step", k.len());
            if !skipped.is_empty() {
                let _ = write!(
                    note,
                    "; unsupported by this endpoint, not generated: {}",
                    skipped.join(", ")
                );
            }
            ctx.note(note);
            Ok(())
        }
        Err(TestError::Abort(why)) => Err(fail(format!("proptest aborted: {why}")).note(reproduce)),
        Err(TestError::Fail(why, (init, ops, _))) => {
            case.set(case.get() + 1);
            let rerun = run_case(ctx, names_for(case.get()), init, &ops, None);
            let mut listing = String::from("minimal failing sequence:");
            for (i, op) in ops.iter().enumerate() {
                let _ = write!(listing, "\n  {}. {}", i + 1, describe_op(op));
            }
            let api = ctx
                .client
                .api_version()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "1.41".into());
            let script = replay_script(ctx.client.target(), &api, &image.id, &ops, support);
            let script_path =
                std::env::temp_dir().join(format!("shipshape-replay-{}.sh", ctx.run_id));
            let saved = std::fs::write(&script_path, &script)
                .map(|()| format!("replay script (also in {}):", script_path.display()))
                .unwrap_or_else(|e| format!("replay script (could not write a file: {e}):"));
            let regress = opts
                .regressions
                .as_ref()
                .map(|p| format!("failing seed saved in {}", p.display()))
                .unwrap_or_else(|| "failure persistence is off".into());
            let (reason, exchange) = match rerun {
                Err(f) => (f.reason, f.exchange),
                Ok(()) => (
                    format!("{why} (re-running the minimal sequence passed: flaky?)"),
                    None,
                ),
            };
            Err(Problem::Fail(crate::ground::Failure {
                reason: format!("{reason} [after {} sequences incl. shrinking]", case.get()),
                exchange,
                expected: Some(
                    "the answers the reference model predicts (dockerd 20.10.24 behaviour)".into(),
                ),
                source: Some(
                    "harness/src/model/mod.rs (observed on dockerd 20.10.24 / API 1.41)".into(),
                ),
                notes: vec![listing, regress, reproduce, format!("{saved}\n{script}")],
            }))
        }
    }
}

/// Place is used by callers building writes by hand (tests).
pub fn data_write(name: &str, content: &str) -> FileWrite {
    FileWrite {
        place: Place::Data,
        name: name.into(),
        content: content.into(),
    }
}
