//! proptest failure persistence that replays a tracked corpus but never
//! writes to it.
//!
//! The seeds under `proptest-regressions/` are checked in: every run replays
//! them before generating new cases. A run must not modify tracked files,
//! so a new failure is saved elsewhere (an untracked file under the target
//! directory, or a path the caller chose), and is also replayed from there
//! by later runs. To add a failure to the corpus, copy its `cc <seed> #
//! shrinks to ...` line from that file (proptest prints it, and the path,
//! when it saves one) into the tracked file and commit it.

use proptest::test_runner::{FailurePersistence, FileFailurePersistence, PersistedSeed};
use std::any::Any;
use std::fmt;

/// Replays `corpus` (read only) and `new`, saves new failures into `new`
/// (or nowhere when it is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusPersistence {
    pub corpus: Option<&'static str>,
    pub new: Option<&'static str>,
}

impl CorpusPersistence {
    /// `path` as the `&'static str` proptest's file persistence wants; one
    /// small leak per runner, for paths only known at run time.
    pub fn leak(path: &std::path::Path) -> &'static str {
        Box::leak(path.display().to_string().into_boxed_str())
    }
}

impl FailurePersistence for CorpusPersistence {
    fn load_persisted_failures2(&self, source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        [self.corpus, self.new]
            .into_iter()
            .flatten()
            .flat_map(|p| FileFailurePersistence::Direct(p).load_persisted_failures2(source_file))
            .collect()
    }

    fn save_persisted_failure2(
        &mut self,
        source_file: Option<&'static str>,
        seed: PersistedSeed,
        shrunken_value: &dyn fmt::Debug,
    ) {
        if let Some(p) = self.new {
            FileFailurePersistence::Direct(p).save_persisted_failure2(
                source_file,
                seed,
                shrunken_value,
            );
        }
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

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_both_and_saves_only_the_new_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let corpus = dir.path().join("corpus.txt");
        let seed = "cc 03f4dd6350371fb4933f6c8ff1a35e702a5a1a4d0945c5f924d4c778f2c625be # x\n";
        std::fs::write(&corpus, seed).expect("write corpus");
        let new = dir.path().join("new/found.txt");
        let mut p = CorpusPersistence {
            corpus: Some(CorpusPersistence::leak(&corpus)),
            new: Some(CorpusPersistence::leak(&new)),
        };
        let loaded = p.load_persisted_failures2(None);
        assert_eq!(loaded.len(), 1);
        let again = loaded[0].clone();
        p.save_persisted_failure2(None, again, &"value");
        assert_eq!(
            std::fs::read_to_string(&corpus).expect("corpus"),
            seed,
            "the corpus was written"
        );
        assert_eq!(p.load_persisted_failures2(None).len(), 2);
    }
}
