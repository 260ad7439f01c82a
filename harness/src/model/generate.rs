//! Generating operations and whole sequences: strategies weighted towards
//! lifecycle changes, honouring what the endpoint supports, and the
//! `proptest-state-machine` reference machine.

use super::{precondition, step, FileWrite, Op, Place, State, Status, Support};
use proptest::prelude::*;
use proptest::strategy::Union;
use proptest_state_machine::ReferenceStateMachine;

fn name_strategy() -> BoxedStrategy<String> {
    prop::sample::select(vec!["alpha", "beta", "new1", "new2"])
        .prop_map(str::to_string)
        .boxed()
}

/// Never empty and never `--` (the probe's separator).
fn content_strategy() -> BoxedStrategy<String> {
    "[a-z0-9]{1,8}".boxed()
}

fn write_strategy(with_volume: bool) -> BoxedStrategy<FileWrite> {
    let place = if with_volume {
        prop_oneof![Just(Place::Data), Just(Place::Vol)].boxed()
    } else {
        Just(Place::Data).boxed()
    };
    (place, name_strategy(), content_strategy())
        .prop_map(|(place, name, content)| FileWrite {
            place,
            name,
            content,
        })
        .boxed()
}

/// Transitions valid in `s`, weighted towards lifecycle changes.
pub fn transitions(s: &State) -> BoxedStrategy<Op> {
    let sup = s.support;
    let nc = s.containers.len();
    let live_images: Vec<usize> = (0..s.images.len())
        .filter(|i| !s.images[*i].deleted)
        .collect();
    let live_volumes: Vec<usize> = (0..s.volumes.len())
        .filter(|v| !s.volumes[*v].removed)
        .collect();
    let mut arms: Vec<(u32, BoxedStrategy<Op>)> = Vec::new();

    let vol_choice: BoxedStrategy<Option<usize>> = if sup.volumes && !live_volumes.is_empty() {
        prop_oneof![
            2 => Just(None),
            1 => prop::sample::select(live_volumes.clone()).prop_map(Some),
        ]
        .boxed()
    } else {
        Just(None).boxed()
    };
    let create = (
        prop::sample::select(live_images.clone()),
        prop::bool::weighted(0.7),
        0i64..4,
        vol_choice,
        any::<bool>(),
    )
        .prop_flat_map(|(image, server, code, volume, with_write)| {
            let w = if with_write {
                write_strategy(volume.is_some()).prop_map(Some).boxed()
            } else {
                Just(None).boxed()
            };
            w.prop_map(move |write| Op::Create {
                image,
                server,
                code,
                volume,
                write,
            })
        })
        .boxed();
    // Creating is likelier while there are few containers.
    arms.push((if nc < 2 { 12 } else { 3 }, create));

    if nc > 0 {
        let c = || (0..nc).boxed();
        arms.push((5, c().prop_map(Op::Start).boxed()));
        arms.push((3, c().prop_map(Op::Stop).boxed()));
        arms.push((2, c().prop_map(Op::Kill).boxed()));
        arms.push((2, c().prop_map(Op::Restart).boxed()));
        arms.push((
            2,
            (c(), any::<bool>())
                .prop_map(|(c, force)| Op::Remove { c, force })
                .boxed(),
        ));
        let waitable: Vec<usize> = (0..nc)
            .filter(|i| !matches!(s.containers[*i].status, Status::Running | Status::Paused))
            .collect();
        if !waitable.is_empty() {
            arms.push((2, prop::sample::select(waitable).prop_map(Op::Wait).boxed()));
        }
        if sup.pause {
            arms.push((2, c().prop_map(Op::Pause).boxed()));
            arms.push((2, c().prop_map(Op::Unpause).boxed()));
        }
        if sup.exec {
            let containers = s.containers.clone();
            arms.push((
                3,
                c().prop_flat_map(move |i| {
                    let vol = containers[i].volume.is_some();
                    write_strategy(vol).prop_map(move |write| Op::ExecWrite { c: i, write })
                })
                .boxed(),
            ));
            arms.push((
                1,
                (c(), name_strategy())
                    .prop_map(|(c, name)| Op::ExecDelete { c, name })
                    .boxed(),
            ));
            arms.push((2, c().prop_map(Op::ExecDump).boxed()));
        }
        if sup.commit {
            arms.push((2, c().prop_map(Op::Commit).boxed()));
        }
    }
    arms.push((
        1,
        prop::sample::select(live_images.clone())
            .prop_map(Op::Tag)
            .boxed(),
    ));
    arms.push((
        1,
        prop::sample::select(live_images.clone())
            .prop_map(Op::ViewImage)
            .boxed(),
    ));
    let tagged: Vec<(usize, String)> = live_images
        .iter()
        .flat_map(|i| s.images[*i].tags.iter().map(move |t| (*i, t.clone())))
        .filter(|(i, t)| {
            precondition(
                s,
                &Op::Rmi {
                    image: *i,
                    tag: t.clone(),
                },
            )
        })
        .collect();
    if !tagged.is_empty() {
        arms.push((
            2,
            prop::sample::select(tagged)
                .prop_map(|(image, tag)| Op::Rmi { image, tag })
                .boxed(),
        ));
    }
    if sup.volumes {
        arms.push((
            if s.volumes.len() < 2 { 2 } else { 1 },
            Just(Op::VolumeCreate).boxed(),
        ));
        if !s.volumes.is_empty() {
            arms.push((1, (0..s.volumes.len()).prop_map(Op::VolumeRemove).boxed()));
        }
        if !live_volumes.is_empty() {
            arms.push((
                1,
                prop::sample::select(live_volumes)
                    .prop_map(Op::ViewVolume)
                    .boxed(),
            ));
        }
    }
    Union::new_weighted(arms).boxed()
}

/// The reference machine. Its fixed initial state assumes every operation
/// is supported; runs use [`sequences`], which starts from the state with
/// the endpoint's [`Support`].
pub struct DockerModel;

impl ReferenceStateMachine for DockerModel {
    type State = State;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<State> {
        Just(State::new(Support::ALL)).boxed()
    }

    fn transitions(state: &State) -> BoxedStrategy<Op> {
        transitions(state)
    }

    fn apply(state: State, op: &Op) -> State {
        step(state, op).0
    }

    fn preconditions(state: &State, op: &Op) -> bool {
        precondition(state, op)
    }
}

/// Strategy for (initial state, steps, seen-counter) sequences whose
/// generation honours `support`.
pub fn sequences(
    support: Support,
    len: std::ops::Range<usize>,
) -> proptest_state_machine::Sequential<State, Op, BoxedStrategy<State>, BoxedStrategy<Op>> {
    proptest_state_machine::Sequential::new(
        len.into(),
        move || Just(State::new(support)).boxed(),
        DockerModel::preconditions,
        DockerModel::transitions,
        DockerModel::apply,
    )
}
