//! Bounded fuzzing of the harness's multiplexed-stream decoder (issue 8):
//! `client::demux` never panics on any bytes, decodes exactly what an
//! independent encoder of Docker's framing produced, and refuses (rather
//! than misreads) a stream cut or damaged in its headers.
//!
//! Seeds in `fuzz/corpus/demux/` are replayed first, then the proptest
//! seeds in `proptest-regressions/fuzz-harness-demux.txt` (tracked, never
//! written by a run). A new failure is saved under the target directory
//! (`CARGO_TARGET_TMPDIR`); to keep it, copy its `cc ...` line into the
//! tracked file.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use shipshape_harness::client::demux;
use shipshape_harness::regressions::CorpusPersistence;

/// Docker's framing, written from its description (stdcopy): a header of
/// `[stream, 0, 0, 0, size as u32 big-endian]`, then `size` bytes.
fn encode(frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (stream, payload) in frames {
        out.extend_from_slice(&[*stream, 0, 0, 0]);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
    }
    out
}

fn frames_strategy() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    prop::collection::vec((0u8..=2, prop::collection::vec(any::<u8>(), 0..64)), 0..12)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("SHIPSHAPE_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1024),
        failure_persistence: Some(Box::new(CorpusPersistence {
            corpus: Some(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../proptest-regressions/fuzz-harness-demux.txt"
            )),
            new: Some(concat!(
                env!("CARGO_TARGET_TMPDIR"),
                "/proptest-regressions/fuzz-harness-demux.txt"
            )),
        })),
        ..ProptestConfig::default()
    }
}

/// What any successful decode must satisfy, whatever the input.
fn check_consistent(data: &[u8]) {
    if let Ok(d) = demux(data) {
        let framed: usize = d.frames.iter().map(|(_, p)| 8 + p.len()).sum();
        assert_eq!(framed, data.len(), "frames do not cover the input exactly");
        assert!(
            d.frames.iter().all(|(s, _)| *s <= 3),
            "stream id out of range"
        );
        let by = |id: u8| -> Vec<u8> {
            d.frames
                .iter()
                .filter(|(s, _)| *s == id)
                .flat_map(|(_, p)| p.clone())
                .collect()
        };
        assert_eq!(d.stdout, by(1));
        assert_eq!(d.stderr, by(2));
        assert_eq!(
            encode(&d.frames),
            data,
            "re-encoding differs from the input"
        );
    }
}

#[test]
fn corpus_replays() {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/demux");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    for f in files {
        let data = std::fs::read(&f).expect("reading a corpus file");
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        // Seeds say in their name whether they are well-formed.
        match (name.starts_with("ok-"), demux(&data)) {
            (true, Err(e)) => panic!("{name}: refused a valid stream: {e}"),
            (false, Ok(d)) if name.starts_with("bad-") => {
                panic!("{name}: accepted a broken stream: {d:?}")
            }
            _ => {}
        }
        check_consistent(&data);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn round_trips(frames in frames_strategy()) {
        let data = encode(&frames);
        let d = demux(&data).map_err(|e| TestCaseError::fail(format!("refused valid stream: {e}")))?;
        prop_assert_eq!(&d.frames, &frames);
        check_consistent(&data);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        check_consistent(&data);
    }

    /// A stream cut short anywhere but at a frame boundary is an error,
    /// never a shorter "valid" decode.
    #[test]
    fn truncation_is_detected(
        // At least one frame, so there is something to cut (rejecting empty
        // inputs instead would abort long runs on proptest's reject limit).
        frames in prop::collection::vec((0u8..=2, prop::collection::vec(any::<u8>(), 0..64)), 1..12),
        cut in any::<prop::sample::Index>(),
    ) {
        let data = encode(&frames);
        let at = cut.index(data.len());
        let mut boundaries = vec![0usize];
        for (_, p) in &frames {
            let last = *boundaries.last().unwrap_or(&0);
            boundaries.push(last + 8 + p.len());
        }
        let result = demux(&data[..at]);
        if boundaries.contains(&at) {
            prop_assert!(result.is_ok());
        } else {
            prop_assert!(result.is_err(), "cut at {} of {} decoded", at, data.len());
        }
    }

    /// Damage to a header's reserved bytes or stream id is refused.
    #[test]
    fn damaged_headers_are_refused(
        frames in prop::collection::vec((0u8..=2, prop::collection::vec(any::<u8>(), 0..16)), 1..6),
        which in any::<prop::sample::Index>(),
        byte in 1usize..4,
        value in 1u8..=255,
    ) {
        let mut data = encode(&frames);
        let i = which.index(frames.len());
        let start: usize = frames[..i].iter().map(|(_, p)| 8 + p.len()).sum();
        data[start + byte] = value;
        prop_assert!(demux(&data).is_err());
        data[start + byte] = 0;
        data[start] = 4 + value % 252;
        prop_assert!(demux(&data).is_err());
    }
}
