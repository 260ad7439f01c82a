//! The model's predictions against what dockerd 20.10.24 answers, and
//! what the generators produce.

use super::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use std::collections::BTreeSet;

fn run(ops: &[Op]) -> (State, Vec<Prediction>) {
    let mut s = State::new(Support::ALL);
    let mut out = Vec::new();
    for op in ops {
        assert!(precondition(&s, op), "precondition failed for {op:?}");
        let (n, p) = step(s, op);
        s = n;
        out.push(p);
    }
    (s, out)
}

fn create(server: bool) -> Op {
    Op::Create {
        image: 0,
        server,
        code: 3,
        volume: None,
        write: Some(FileWrite {
            place: Place::Data,
            name: "new1".into(),
            content: "x".into(),
        }),
    }
}

#[test]
fn lifecycle_statuses_match_dockerd() {
    let (s, p) = run(&[
        create(true),
        Op::Stop(0),
        Op::Kill(0),
        Op::Unpause(0),
        Op::Start(0),
        Op::Start(0),
        Op::Pause(0),
        Op::Pause(0),
        Op::Start(0),
        Op::Remove { c: 0, force: false },
        Op::Stop(0),
        Op::Stop(0),
        Op::Wait(0),
        Op::Remove { c: 0, force: false },
        Op::Wait(0),
    ]);
    let st: Vec<u16> = p.iter().map(|p| p.status).collect();
    assert_eq!(
        st,
        vec![201, 304, 409, 500, 204, 304, 204, 409, 409, 409, 204, 304, 200, 204, 404]
    );
    assert_eq!(p[12].exit, Some(3));
    assert_eq!(s.containers[0].status, Status::Removed);
}

#[test]
fn oneshot_exits_and_guarded_write_happens_once() {
    let (s, p) = run(&[create(false), Op::Start(0), Op::Wait(0), Op::Restart(0)]);
    assert_eq!(p[2].exit, Some(3));
    assert_eq!(s.containers[0].status, Status::Exited);
    assert_eq!(s.containers[0].data["new1"].content, b"x");
    assert_eq!(s.containers[0].starts, 2);
}

#[test]
fn commit_adds_a_layer_only_after_a_start() {
    let (s, p) = run(&[create(true), Op::Commit(0), Op::Start(0), Op::Commit(0)]);
    assert_eq!(p[1].layers, Some(1));
    assert_eq!(p[3].layers, Some(2));
    assert!(!s.images[1].data.contains_key("new1"));
    assert!(s.images[2].data.contains_key("new1"));
}

#[test]
fn rmi_conflicts_while_a_container_uses_the_image() {
    let (s, p) = run(&[
        create(true),
        Op::Commit(0),
        Op::Create {
            image: 1,
            server: true,
            code: 0,
            volume: None,
            write: None,
        },
        Op::Rmi {
            image: 1,
            tag: "m0".into(),
        },
        Op::Remove { c: 1, force: true },
        Op::Rmi {
            image: 1,
            tag: "m0".into(),
        },
    ]);
    assert_eq!(p[3].status, 409);
    assert_eq!(p[5].status, 200);
    assert_eq!(p[5].deletes_image, Some(true));
    assert!(s.images[1].deleted);
}

#[test]
fn volumes_in_use_cannot_be_removed() {
    let (_, p) = run(&[
        Op::VolumeCreate,
        Op::Create {
            image: 0,
            server: false,
            code: 0,
            volume: Some(0),
            write: Some(FileWrite {
                place: Place::Vol,
                name: "alpha".into(),
                content: "v".into(),
            }),
        },
        Op::VolumeRemove(0),
        Op::Start(0),
        Op::ViewVolume(0),
        Op::Remove { c: 0, force: false },
        Op::VolumeRemove(0),
        Op::VolumeRemove(0),
    ]);
    assert_eq!(p[2].status, 409);
    assert_eq!(p[4].vol.as_ref().map(|v| v.len()), Some(1));
    assert_eq!(p[6].status, 204);
    assert_eq!(p[7].status, 404);
}

#[test]
fn unsupported_operations_are_never_generated() {
    let support = Support {
        pause: false,
        exec: false,
        volumes: false,
        commit: true,
    };
    let mut runner = TestRunner::deterministic();
    let mut kinds = BTreeSet::new();
    for _ in 0..200 {
        let (_, ops, _) = sequences(support, 1..20)
            .new_tree(&mut runner)
            .expect("tree")
            .current();
        kinds.extend(kinds_of(&ops));
    }
    for k in kinds.iter() {
        assert!(
            !k.starts_with("exec")
                && !k.starts_with("volume")
                && !k.contains("pause")
                && *k != "view-volume",
            "{k} generated although unsupported"
        );
    }
    assert!(
        kinds.contains("commit") && kinds.contains("rmi"),
        "{kinds:?}"
    );
}

#[test]
fn every_kind_is_generated_with_full_support() {
    let mut runner = TestRunner::deterministic();
    let mut kinds = BTreeSet::new();
    for _ in 0..300 {
        let (_, ops, _) = sequences(Support::ALL, 1..20)
            .new_tree(&mut runner)
            .expect("tree")
            .current();
        kinds.extend(kinds_of(&ops));
    }
    let missing: Vec<_> = ALL_KINDS.iter().filter(|k| !kinds.contains(*k)).collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}
