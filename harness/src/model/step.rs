//! The model's rules: what the endpoint must answer to an operation in a
//! state, and the state after it ([`step`]); which operations a state
//! allows ([`precondition`]). Every prediction was observed on dockerd
//! 20.10.24 (API 1.41).

use super::{Container, Image, Op, Place, State, Status, Volume, KILLED};
use crate::filetree::{FileState, Tree};

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
