//! One seeded proptest run for a property scenario: `--cases` cases from
//! the run's seed and the property's name, short shrinking (every case
//! costs containers), and on failure the minimal input named with the
//! command that replays it.

use super::{fail, seed_bytes, Ctx, Outcome, Problem};
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::fmt::Debug;

/// Runs `body` on `ctx.cases` inputs drawn from `strategy`; `name` is the
/// scenario's full name (it seeds the generator and names the replay).
pub fn check<S>(ctx: &Ctx, name: &str, strategy: S, body: impl Fn(&S::Value) -> Outcome) -> Outcome
where
    S: Strategy,
    S::Value: Debug,
{
    check_cases(ctx, name, ctx.cases, strategy, body)
}

/// [`check`] with `cases` inputs instead of `ctx.cases` (for properties
/// whose every case is costly).
pub fn check_cases<S>(
    ctx: &Ctx,
    name: &str,
    cases: u32,
    strategy: S,
    body: impl Fn(&S::Value) -> Outcome,
) -> Outcome
where
    S: Strategy,
    S::Value: Debug,
{
    let config = Config {
        cases: cases.max(1),
        max_shrink_iters: 16,
        max_shrink_time: 120_000,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(ctx.seed, name));
    let mut runner = TestRunner::new_with_rng(config, rng);
    let result = runner.run(&strategy, |input| match body(&input) {
        Ok(()) => Ok(()),
        Err(Problem::Fail(f)) => Err(TestCaseError::fail(f.reason)),
        Err(Problem::Skip(s)) => Err(TestCaseError::fail(format!("prerequisite missing: {s}"))),
    });
    let reproduce = format!(
        "reproduce: shipshape run --filter {name} --seed {} --cases {}",
        ctx.seed, ctx.cases
    );
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Abort(why)) => Err(fail(format!("proptest aborted: {why}")).note(reproduce)),
        Err(TestError::Fail(why, minimal)) => {
            Err(fail(format!("{why}; minimal input: {minimal:?}")).note(reproduce))
        }
    }
}
