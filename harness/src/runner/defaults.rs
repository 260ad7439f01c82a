//! A run's defaults, shared by `shipshape run` and `shipshape diff` (and
//! the seed properties' own tests), so neither command imports the other.

/// Property cases per seed property by default: enough to exercise mixed
/// operation lists while keeping a full run against dockerd near a minute.
pub const DEFAULT_CASES: u32 = 8;

/// Fixed default seed, so two runs without --seed check the same inputs.
pub const DEFAULT_SEED: u64 = 1;
