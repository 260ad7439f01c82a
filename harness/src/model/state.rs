//! The model's vocabulary: the state it tracks (containers, images,
//! volumes, their files) and the operations a sequence is made of.

use super::Support;
use crate::filetree::{baseline, Tree};
use std::collections::BTreeSet;

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

    pub(super) fn volume_in_use(&self, v: usize) -> bool {
        self.containers
            .iter()
            .any(|c| c.status != Status::Removed && c.volume == Some(v))
    }

    pub(super) fn image_in_use(&self, i: usize) -> bool {
        self.containers
            .iter()
            .any(|c| c.status != Status::Removed && c.image == i)
    }

    pub(super) fn has_children(&self, i: usize) -> bool {
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
