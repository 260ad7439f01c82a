//! A reference model of Docker's state, for model-based lifecycle testing
//! with `proptest-state-machine`.
//!
//! The model tracks containers (created, running, paused, exited, removed;
//! `restarting` is in the vocabulary but never generated: it only shows with
//! a restart policy and a crashing process, which cannot be timed), images
//! (symbolic tags, layer counts, parents, the files under /data a fresh
//! container sees), volumes (their files) and each container's writable
//! layer (/data). [`step`] is the single source of truth: it predicts the
//! status code and observable results of a transition and returns the next
//! state. [`sut`] replays the transitions against an endpoint and compares.
//!
//! Everything the model predicts was observed on dockerd 20.10.24 (API 1.41)
//! and is recorded in specs/harness/expectations.json under `model/*`.
//!
//! Objects are named symbolically (container `k3`, image 2, tag `t5`, volume
//! `v1`), by order of creation in the sequence, so a sequence means the same
//! thing on every endpoint and in the replay script.

pub mod sut;

use crate::filetree::{baseline, FileState, Tree};
use proptest::prelude::*;
use proptest::strategy::Union;
use proptest_state_machine::ReferenceStateMachine;
use std::collections::BTreeSet;

/// Exit code of a SIGKILLed process as Docker reports it (128 + 9).
pub const KILLED: i64 = 137;

/// Operations an endpoint may not implement. Probed once per run
/// ([`sut::probe_support`]); unsupported ones are never generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Support {
    pub pause: bool,
    pub exec: bool,
    pub volumes: bool,
    pub commit: bool,
}

impl Support {
    pub const ALL: Support = Support {
        pause: true,
        exec: true,
        volumes: true,
        commit: true,
    };

    /// Names of the unsupported operation groups.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if !self.pause {
            v.push("pause/unpause");
        }
        if !self.exec {
            v.push("exec");
        }
        if !self.volumes {
            v.push("volumes");
        }
        if !self.commit {
            v.push("commit");
        }
        v
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    /// Never generated (see the module docs); kept so the vocabulary is
    /// Docker's.
    Restarting,
    Exited,
    Removed,
}

impl Status {
    /// `State.Status` as Docker spells it (None: the container is gone).
    pub fn docker(self) -> Option<&'static str> {
        match self {
            Status::Created => Some("created"),
            Status::Running => Some("running"),
            Status::Paused => Some("paused"),
            Status::Restarting => Some("restarting"),
            Status::Exited => Some("exited"),
            Status::Removed => None,
        }
    }
}

/// Where a probe write goes: the container's own /data or the mounted volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Data,
    Vol,
}

impl Place {
    pub fn dir(&self) -> &'static str {
        match self {
            Place::Data => "/data",
            Place::Vol => "/vol",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub place: Place,
    pub name: String,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct Container {
    /// A server waits for SIGTERM (`trap-term code`); a oneshot exits at once
    /// with `code`, so after anything that starts it, it is exited.
    pub server: bool,
    pub code: i64,
    pub status: Status,
    /// `State.ExitCode` (0 while created or running).
    pub exit_code: i64,
    pub image: usize,
    pub volume: Option<usize>,
    /// Its writable view of /data.
    pub data: Tree,
    /// Done by the container's command on its first start only (guarded by
    /// a marker file in /tmp).
    pub write: Option<FileWrite>,
    /// Started at least once: the marker is in its writable layer, so a
    /// commit adds a layer (dockerd omits empty layers from commits).
    pub started: bool,
    /// How many times it was started (servers print a line per start).
    pub starts: u32,
}

#[derive(Debug, Clone)]
pub struct Image {
    /// Symbolic tags this sequence created (`m<k>` commits, `t<k>` tags).
    /// Image 0 is the fixture: it also carries the run's own tag, which the
    /// model never removes, so removing one of its model tags only untags.
    pub tags: Vec<String>,
    pub data: Tree,
    pub layers: usize,
    pub parent: Option<usize>,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub files: Tree,
    pub removed: bool,
}

#[derive(Debug, Clone)]
pub struct State {
    pub support: Support,
    pub containers: Vec<Container>,
    pub images: Vec<Image>,
    pub volumes: Vec<Volume>,
    /// Counter for symbolic tags.
    pub next_tag: u32,
}

impl State {
    pub fn new(support: Support) -> State {
        State {
            support,
            containers: Vec::new(),
            images: vec![Image {
                tags: Vec::new(),
                data: baseline(),
                layers: 1,
                parent: None,
                deleted: false,
            }],
            volumes: Vec::new(),
            next_tag: 0,
        }
    }

    fn volume_in_use(&self, v: usize) -> bool {
        self.containers
            .iter()
            .any(|c| c.status != Status::Removed && c.volume == Some(v))
    }

    fn image_in_use(&self, i: usize) -> bool {
        self.containers
            .iter()
            .any(|c| c.status != Status::Removed && c.image == i)
    }

    fn has_children(&self, i: usize) -> bool {
        self.images
            .iter()
            .any(|im| !im.deleted && im.parent == Some(i))
    }
}

/// One step of a sequence. Indices name objects by creation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create {
        image: usize,
        server: bool,
        code: i64,
        volume: Option<usize>,
        write: Option<FileWrite>,
    },
    Start(usize),
    Stop(usize),
    Kill(usize),
    Pause(usize),
    Unpause(usize),
    Restart(usize),
    Wait(usize),
    Remove {
        c: usize,
        force: bool,
    },
    ExecWrite {
        c: usize,
        write: FileWrite,
    },
    ExecDelete {
        c: usize,
        name: String,
    },
    ExecDump(usize),
    Commit(usize),
    Tag(usize),
    Rmi {
        image: usize,
        tag: String,
    },
    VolumeCreate,
    VolumeRemove(usize),
    /// Runs `dump /data` in a fresh container from the image.
    ViewImage(usize),
    /// Runs `dump /vol` in a fresh container mounting the volume.
    ViewVolume(usize),
}

/// What the endpoint must answer for a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// Status of the step's main request (the exec create for exec steps).
    pub status: u16,
    /// `StatusCode` of a wait, exit code of an exec.
    pub exit: Option<i64>,
    /// The /data (and /vol) listing an exec dump or a view prints.
    pub data: Option<Tree>,
    pub vol: Option<Tree>,
    /// Removing an image: whether the image itself goes (else only untag).
    pub deletes_image: Option<bool>,
    /// A commit: the new image's layer count.
    pub layers: Option<usize>,
}

impl Prediction {
    fn status(status: u16) -> Self {
        Prediction {
            status,
            exit: None,
            data: None,
            vol: None,
            deletes_image: None,
            layers: None,
        }
    }
}

fn new_file(content: &str) -> FileState {
    FileState {
        kind: 'f',
        mode: 0o644,
        content: content.as_bytes().to_vec(),
    }
}

/// `probe write`: replaces the content, keeps an existing file's mode, new
/// files are 0644.
fn write_tree(tree: &mut Tree, name: &str, content: &str) {
    tree.entry(name.to_string())
        .and_modify(|f| f.content = content.as_bytes().to_vec())
        .or_insert_with(|| new_file(content));
}

/// Starting a container: servers run; oneshots run their command and exit.
/// The first start does the container's guarded write.
fn start(s: &mut State, i: usize) {
    let first = !s.containers[i].started;
    let (write, volume) = (s.containers[i].write.clone(), s.containers[i].volume);
    if first {
        if let Some(w) = write {
            match (w.place, volume) {
                (Place::Data, _) => write_tree(&mut s.containers[i].data, &w.name, &w.content),
                (Place::Vol, Some(v)) => write_tree(&mut s.volumes[v].files, &w.name, &w.content),
                // Generation never writes to /vol without a volume.
                (Place::Vol, None) => {}
            }
        }
    }
    let c = &mut s.containers[i];
    c.started = true;
    c.starts += 1;
    if c.server {
        c.status = Status::Running;
        c.exit_code = 0;
    } else {
        c.status = Status::Exited;
        c.exit_code = c.code;
    }
}

/// Predicts the answer to `op` in state `s` and returns the next state.
pub fn step(mut s: State, op: &Op) -> (State, Prediction) {
    use Status::*;
    let p = match op {
        Op::Create {
            image,
            server,
            code,
            volume,
            write,
        } => {
            let data = s.images[*image].data.clone();
            s.containers.push(Container {
                server: *server,
                code: *code,
                status: Created,
                exit_code: 0,
                image: *image,
                volume: *volume,
                data,
                write: write.clone(),
                started: false,
                starts: 0,
            });
            Prediction::status(201)
        }
        Op::Start(i) => match s.containers[*i].status {
            Created | Exited => {
                start(&mut s, *i);
                Prediction::status(204)
            }
            Running => Prediction::status(304),
            Paused | Restarting => Prediction::status(409),
            Removed => Prediction::status(404),
        },
        Op::Stop(i) => {
            let c = &mut s.containers[*i];
            match c.status {
                Running | Paused | Restarting => {
                    c.status = Exited;
                    c.exit_code = c.code;
                    Prediction::status(204)
                }
                Created | Exited => Prediction::status(304),
                Removed => Prediction::status(404),
            }
        }
        Op::Kill(i) => {
            let c = &mut s.containers[*i];
            match c.status {
                Running | Paused | Restarting => {
                    c.status = Exited;
                    c.exit_code = KILLED;
                    Prediction::status(204)
                }
                Created | Exited => Prediction::status(409),
                Removed => Prediction::status(404),
            }
        }
        Op::Pause(i) => {
            let c = &mut s.containers[*i];
            match c.status {
                Running => {
                    c.status = Paused;
                    Prediction::status(204)
                }
                Removed => Prediction::status(404),
                _ => Prediction::status(409),
            }
        }
        Op::Unpause(i) => {
            let c = &mut s.containers[*i];
            match c.status {
                Paused => {
                    c.status = Running;
                    Prediction::status(204)
                }
                Removed => Prediction::status(404),
                // dockerd 20.10 answers 500 "Container … is not paused".
                _ => Prediction::status(500),
            }
        }
        Op::Restart(i) => match s.containers[*i].status {
            Removed => Prediction::status(404),
            _ => {
                if s.containers[*i].status != Created && s.containers[*i].status != Exited {
                    let c = &mut s.containers[*i];
                    c.status = Exited;
                    c.exit_code = c.code;
                }
                start(&mut s, *i);
                Prediction::status(204)
            }
        },
        Op::Wait(i) => {
            let c = &s.containers[*i];
            match c.status {
                Removed => Prediction::status(404),
                // Preconditions keep waits off running containers.
                _ => Prediction {
                    exit: Some(c.exit_code),
                    ..Prediction::status(200)
                },
            }
        }
        Op::Remove { c, force } => {
            let st = s.containers[*c].status;
            match (st, force) {
                (Removed, _) => Prediction::status(404),
                (Running | Paused | Restarting, false) => Prediction::status(409),
                _ => {
                    s.containers[*c].status = Removed;
                    Prediction::status(204)
                }
            }
        }
        Op::ExecWrite { c, write } => match exec_status(&s, *c) {
            201 => {
                let vol = s.containers[*c].volume;
                match (&write.place, vol) {
                    (Place::Vol, Some(v)) => {
                        write_tree(&mut s.volumes[v].files, &write.name, &write.content)
                    }
                    _ => write_tree(&mut s.containers[*c].data, &write.name, &write.content),
                }
                Prediction {
                    exit: Some(0),
                    ..Prediction::status(201)
                }
            }
            st => Prediction::status(st),
        },
        Op::ExecDelete { c, name } => match exec_status(&s, *c) {
            201 => {
                let existed = s.containers[*c].data.remove(name).is_some();
                Prediction {
                    // `probe delete` of a missing file exits 1.
                    exit: Some(if existed { 0 } else { 1 }),
                    ..Prediction::status(201)
                }
            }
            st => Prediction::status(st),
        },
        Op::ExecDump(c) => match exec_status(&s, *c) {
            201 => {
                let ct = &s.containers[*c];
                Prediction {
                    exit: Some(0),
                    data: Some(ct.data.clone()),
                    vol: ct.volume.map(|v| s.volumes[v].files.clone()),
                    ..Prediction::status(201)
                }
            }
            st => Prediction::status(st),
        },
        Op::Commit(i) => {
            let c = &s.containers[*i];
            if c.status == Removed {
                Prediction::status(404)
            } else {
                let parent = c.image;
                let layers = s.images[parent].layers + usize::from(c.started);
                let tag = format!("m{}", s.next_tag);
                s.next_tag += 1;
                let data = c.data.clone();
                s.images.push(Image {
                    tags: vec![tag],
                    data,
                    layers,
                    parent: Some(parent),
                    deleted: false,
                });
                Prediction {
                    layers: Some(layers),
                    ..Prediction::status(201)
                }
            }
        }
        Op::Tag(i) => {
            let tag = format!("t{}", s.next_tag);
            s.next_tag += 1;
            s.images[*i].tags.push(tag);
            Prediction::status(201)
        }
        Op::Rmi { image, tag } => {
            let fixture = *image == 0;
            let last = s.images[*image].tags.len() == 1 && !fixture;
            if last && s.image_in_use(*image) {
                Prediction::status(409)
            } else {
                let im = &mut s.images[*image];
                im.tags.retain(|t| t != tag);
                if last {
                    im.deleted = true;
                }
                Prediction {
                    deletes_image: Some(last),
                    ..Prediction::status(200)
                }
            }
        }
        Op::VolumeCreate => {
            s.volumes.push(Volume {
                files: Tree::new(),
                removed: false,
            });
            Prediction::status(201)
        }
        Op::VolumeRemove(v) => {
            if s.volumes[*v].removed {
                Prediction::status(404)
            } else if s.volume_in_use(*v) {
                Prediction::status(409)
            } else {
                s.volumes[*v].removed = true;
                Prediction::status(204)
            }
        }
        Op::ViewImage(i) => Prediction {
            exit: Some(0),
            data: Some(s.images[*i].data.clone()),
            ..Prediction::status(201)
        },
        Op::ViewVolume(v) => Prediction {
            exit: Some(0),
            vol: Some(s.volumes[*v].files.clone()),
            ..Prediction::status(201)
        },
    };
    (s, p)
}

/// Exec create: 201 on a running container, 409 when paused or not
/// running, 404 when removed.
fn exec_status(s: &State, c: usize) -> u16 {
    match s.containers[c].status {
        Status::Running => 201,
        Status::Removed => 404,
        _ => 409,
    }
}

/// Whether `op` makes sense in `s`: its indices exist, and it is not one
/// the model leaves out (see the comments). Checked while generating and
/// while shrinking, when deleting a step can invalidate later ones.
pub fn precondition(s: &State, op: &Op) -> bool {
    let nc = s.containers.len();
    let img_ok = |i: &usize| *i < s.images.len() && !s.images[*i].deleted;
    let c_ok = |i: &usize| *i < nc;
    let sup = s.support;
    match op {
        Op::Create {
            image,
            volume,
            write,
            ..
        } => {
            img_ok(image)
                // A bind of a missing named volume would create it.
                && volume.is_none_or(|v| v < s.volumes.len() && !s.volumes[v].removed && sup.volumes)
                && write
                    .as_ref()
                    .is_none_or(|w| w.place == Place::Data || volume.is_some())
        }
        Op::Start(i) | Op::Stop(i) | Op::Kill(i) | Op::Restart(i) | Op::Commit(i) => {
            c_ok(i) && (sup.commit || !matches!(op, Op::Commit(_)))
        }
        Op::Pause(i) | Op::Unpause(i) => c_ok(i) && sup.pause,
        // A wait on a running container blocks until it exits.
        Op::Wait(i) => {
            c_ok(i) && !matches!(s.containers[*i].status, Status::Running | Status::Paused)
        }
        Op::Remove { c, .. } => c_ok(c),
        Op::ExecWrite { c, write } => {
            c_ok(c) && sup.exec && (write.place == Place::Data || s.containers[*c].volume.is_some())
        }
        Op::ExecDelete { c, .. } | Op::ExecDump(c) => c_ok(c) && sup.exec,
        Op::Tag(i) | Op::ViewImage(i) => img_ok(i),
        Op::Rmi { image, tag } => {
            img_ok(image)
                && s.images[*image].tags.contains(tag)
                // Untagging the last tag of an image with children leaves
                // it dangling or not depending on the daemon's conflict
                // rules; the model stays out of that corner.
                && (*image == 0 || s.images[*image].tags.len() > 1 || !s.has_children(*image))
        }
        Op::VolumeCreate => sup.volumes,
        Op::VolumeRemove(v) => *v < s.volumes.len() && sup.volumes,
        Op::ViewVolume(v) => *v < s.volumes.len() && !s.volumes[*v].removed && sup.volumes,
    }
}

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

/// Kinds of operation in a sequence (for coverage statistics).
pub fn kind(op: &Op) -> &'static str {
    match op {
        Op::Create { .. } => "create",
        Op::Start(_) => "start",
        Op::Stop(_) => "stop",
        Op::Kill(_) => "kill",
        Op::Pause(_) => "pause",
        Op::Unpause(_) => "unpause",
        Op::Restart(_) => "restart",
        Op::Wait(_) => "wait",
        Op::Remove { force: false, .. } => "rm",
        Op::Remove { force: true, .. } => "rm-force",
        Op::ExecWrite { .. } => "exec-write",
        Op::ExecDelete { .. } => "exec-delete",
        Op::ExecDump(_) => "exec-dump",
        Op::Commit(_) => "commit",
        Op::Tag(_) => "tag",
        Op::Rmi { .. } => "rmi",
        Op::VolumeCreate => "volume-create",
        Op::VolumeRemove(_) => "volume-rm",
        Op::ViewImage(_) => "view-image",
        Op::ViewVolume(_) => "view-volume",
    }
}

/// All kinds the model can generate.
pub const ALL_KINDS: &[&str] = &[
    "create",
    "start",
    "stop",
    "kill",
    "pause",
    "unpause",
    "restart",
    "wait",
    "rm",
    "rm-force",
    "exec-write",
    "exec-delete",
    "exec-dump",
    "commit",
    "tag",
    "rmi",
    "volume-create",
    "volume-rm",
    "view-image",
    "view-volume",
];

/// Kinds seen in a set of sequences.
pub fn kinds_of<'a>(ops: impl IntoIterator<Item = &'a Op>) -> BTreeSet<&'static str> {
    ops.into_iter().map(kind).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

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
}
