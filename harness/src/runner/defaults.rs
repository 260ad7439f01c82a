//! A run's defaults, shared by `shipshape run` and `shipshape diff` (and
//! the seed properties' own tests), so neither command imports the other.

/// Property cases per seed property by default: enough to exercise mixed
/// operation lists while keeping a full run against dockerd near a minute.
pub const DEFAULT_CASES: u32 = 8;

/// Fixed default seed, so two runs without --seed check the same inputs.
pub const DEFAULT_SEED: u64 = 1;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ground::seed_bytes;
    use crate::scenarios::seed::{self, ops_strategy, plan, Op};
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    use std::collections::BTreeSet;

    /// With the default seed and case count, every property's cases include
    /// every kind of operation (so a default run exercises all of them).
    #[test]
    fn default_cases_cover_every_operation_kind() {
        for s in seed::scenarios() {
            let name = s.full_name();
            let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(DEFAULT_SEED, &name));
            let mut runner = TestRunner::new_with_rng(Config::default(), rng);
            let mut kinds = BTreeSet::new();
            for _ in 0..DEFAULT_CASES {
                let specs = ops_strategy()
                    .new_tree(&mut runner)
                    .expect("tree")
                    .current();
                for op in plan(&specs).ops {
                    kinds.insert(match op {
                        Op::Write(..) => "write",
                        Op::Append(..) => "append",
                        Op::Delete(..) => "delete",
                        Op::Chmod(..) => "chmod",
                    });
                }
            }
            assert_eq!(kinds.len(), 4, "{name}: only {kinds:?}");
        }
    }
}
