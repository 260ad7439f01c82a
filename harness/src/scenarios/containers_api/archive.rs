//! `/containers/{id}/archive` (GET, HEAD, PUT) as dockerd 20.10.24
//! answers, read with curl on this host:
//!
//! * GET and HEAD of a path give `X-Docker-Container-Path-Stat`, base64
//!   JSON `{"name","size","mode","mtime","linkTarget"}` where `mode` is
//!   Go's FileMode (directories have bit 31 set); GET's body is a tar of
//!   the path, named from its last element;
//! * no `path`: 400 `bad parameter: pathcannot be empty` (HEAD: 400, no
//!   body); a missing path: 404 `Could not find the file /P in container
//!   NAME`; an unknown container: 404 `No such container: NAME`;
//! * PUT into a file: 500 `extraction point is not a directory`; into a
//!   read-only root filesystem: 500 `container rootfs is marked read-only`
//!   (not the documented 403, which 20.10 never sends); a body that is not
//!   a tar: 500 `Error processing tar file(exit status 1): unexpected EOF`;
//! * `copyUIDGID=1` in a container with no `User` keeps the archive's
//!   owners.
//!
//! And a property: a generated tree (directories, empty ones too, files
//! with modes, symbolic and hard links) PUT into a stopped container comes
//! back from GET entry for entry (names, kinds, modes, mtimes, contents,
//! link targets). Each path of a set of hard links comes back with the
//! file's content and mode: on overlay2 dockerd sends one regular file and
//! hard links to it, on fuse-overlayfs (this host's dockerd, whose inodes
//! differ per path) regular files only; both are accepted.

use super::{expect_error, Made};
use crate::client::{enc, Req, Response};
use crate::ground::{expect_status, fail, fail_at, property, Ctx, Outcome, Problem};
use crate::scenarios::{scenario, Scenario};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;

const AREA: &str = "containers-api";
const MTIME: u64 = 1_700_000_000;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(AREA, "archive-get-and-errors", true, get_and_errors),
        scenario(AREA, "archive-round-trip-property", true, round_trip),
    ]
}

/// Standard base64 (with padding), as the stat header is encoded.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let s = s.trim().trim_end_matches('=').as_bytes();
    let mut out = Vec::new();
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// The decoded `X-Docker-Container-Path-Stat` of an answer.
pub(super) fn path_stat(resp: &Response) -> Result<Value, Problem> {
    let h = resp
        .header("X-Docker-Container-Path-Stat")
        .ok_or_else(|| fail_at(resp, "no X-Docker-Container-Path-Stat header"))?;
    base64_decode(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            fail_at(
                resp,
                format!("X-Docker-Container-Path-Stat {h:?} is not base64 JSON"),
            )
        })
}

fn tar_of(entries: &[(&str, &[u8], u32, u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data, uid, mode) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_uid(u64::from(*uid));
        h.set_gid(u64::from(*uid));
        h.set_mtime(MTIME);
        h.set_entry_type(tar::EntryType::Regular);
        let _ = b.append_data(&mut h, name, *data);
    }
    b.into_inner().unwrap_or_default()
}

fn put(ctx: &Ctx, id: &str, query: &str, body: Vec<u8>) -> Result<Response, Problem> {
    ctx.send(
        Req::new(
            hyper::Method::PUT,
            format!("/containers/{}/archive{query}", enc(id)),
        )
        .raw(body, "application/x-tar"),
    )
}

fn get(ctx: &Ctx, id: &str, path: &str) -> Result<Response, Problem> {
    ctx.send(Req::get(format!(
        "/containers/{}/archive?path={}",
        enc(id),
        enc(path)
    )))
}

/// (path, kind, mode, mtime, owner, content or link target) of every entry.
type Entry = (String, char, u32, u64, (u64, u64), Vec<u8>);

fn entries(resp: &Response) -> Result<Vec<Entry>, Problem> {
    let bad = |e: std::io::Error| fail_at(resp, format!("the answer is not a tar: {e}"));
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(&resp.body[..]);
    for e in ar.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let h = e.header().clone();
        let path = String::from_utf8_lossy(&e.path_bytes())
            .trim_end_matches('/')
            .to_string();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            tar::EntryType::Regular => 'f',
            other => return Err(fail_at(resp, format!("unexpected tar entry {other:?}"))),
        };
        let mut data = Vec::new();
        if kind == 'f' {
            std::io::Read::read_to_end(&mut e, &mut data).map_err(bad)?;
        } else if let Some(l) = e.link_name_bytes() {
            data = l.into_owned();
        }
        let owner = (h.uid().unwrap_or(0), h.gid().unwrap_or(0));
        out.push((
            path,
            kind,
            h.mode().unwrap_or(0) & 0o7777,
            h.mtime().unwrap_or(0),
            owner,
            data,
        ));
    }
    Ok(out)
}

fn get_and_errors(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let id = made.create(ctx.probe_config(&["exit", "0"])?, None)?;
    // copyUIDGID in a container without User keeps the archive's owners.
    let resp = put(
        ctx,
        &id,
        "?path=/tmp&copyUIDGID=1",
        tar_of(&[("f", b"hi\n", 4242, 0o640)]),
    )?;
    expect_status(&resp, 200, "PUT with copyUIDGID=1")?;
    let resp = get(ctx, &id, "/tmp/f")?;
    expect_status(&resp, 200, "GET of the file put")?;
    let got = entries(&resp)?;
    let want: Vec<Entry> = vec![(
        "f".into(),
        'f',
        0o640,
        MTIME,
        (4242, 4242),
        b"hi\n".to_vec(),
    )];
    if got != want {
        return Err(fail_at(
            &resp,
            format!("GET /tmp/f gave entries {got:?}; dockerd: {want:?}"),
        ));
    }
    let stat = path_stat(&resp)?;
    let want_stat = serde_json::json!({"name": "f", "size": 3, "mode": 0o640,
        "mtime": "2023-11-14T22:13:20Z", "linkTarget": ""});
    if stat != want_stat {
        return Err(fail_at(
            &resp,
            format!("path stat of /tmp/f is {stat}; dockerd: {want_stat}"),
        ));
    }
    let resp = ctx.send(Req::head(format!(
        "/containers/{}/archive?path=/tmp",
        enc(&id)
    )))?;
    expect_status(&resp, 200, "HEAD of /tmp")?;
    let stat = path_stat(&resp)?;
    // Go's FileMode: ModeDir (1 << 31) | ModeSticky (1 << 20) | 0777.
    let tmp_mode = (1u64 << 31) | (1 << 20) | 0o777;
    if stat["name"] != "tmp" || stat["mode"] != serde_json::json!(tmp_mode) {
        return Err(fail_at(
            &resp,
            format!("path stat of /tmp is {stat}; dockerd: name \"tmp\", mode {tmp_mode}"),
        ));
    }
    let resp = ctx.send(Req::get(format!("/containers/{}/archive", enc(&id))))?;
    expect_error(
        &resp,
        400,
        "bad parameter: pathcannot be empty",
        "GET without path",
    )?;
    let resp = get(ctx, &id, "/shipshape-missing")?;
    // The container as the request named it.
    let missing = format!("Could not find the file /shipshape-missing in container {id}");
    expect_error(&resp, 404, &missing, "GET of a missing path")?;
    let gone = format!("shipshape-{}-no-such-container", ctx.run_id);
    let resp = get(ctx, &gone, "/")?;
    expect_error(
        &resp,
        404,
        &format!("No such container: {gone}"),
        "GET, unknown container",
    )?;
    for (path, want) in [
        (format!("/containers/{}/archive", enc(&id)), 400),
        (
            format!("/containers/{}/archive?path=/shipshape-missing", enc(&id)),
            404,
        ),
        (format!("/containers/{}/archive?path=/", enc(&gone)), 404),
    ] {
        let resp = ctx.send(Req::head(path.clone()))?;
        expect_status(&resp, want, &format!("HEAD {path}"))?;
    }
    let one = || tar_of(&[("f", b"x", 0, 0o644)]);
    let resp = put(ctx, &id, "", one())?;
    expect_error(
        &resp,
        400,
        "bad parameter: pathcannot be empty",
        "PUT without path",
    )?;
    let resp = put(ctx, &id, "?path=/shipshape-missing", one())?;
    expect_error(&resp, 404, &missing, "PUT into a missing path")?;
    let resp = put(ctx, &gone, "?path=/tmp", one())?;
    expect_error(
        &resp,
        404,
        &format!("No such container: {gone}"),
        "PUT, unknown container",
    )?;
    let resp = put(ctx, &id, "?path=/tmp/f", one())?;
    expect_error(
        &resp,
        500,
        "extraction point is not a directory",
        "PUT into a file",
    )?;
    let resp = put(ctx, &id, "?path=/tmp", b"garbage".to_vec())?;
    expect_error(
        &resp,
        500,
        "Error processing tar file(exit status 1): unexpected EOF",
        "PUT of a body that is not a tar",
    )?;
    let mut ro = ctx.probe_config(&["exit", "0"])?;
    ro["HostConfig"] = serde_json::json!({"ReadonlyRootfs": true});
    let ro = made.create(ro, None)?;
    let resp = put(ctx, &ro, "?path=/tmp", one())?;
    expect_error(
        &resp,
        500,
        "container rootfs is marked read-only",
        "PUT into a read-only rootfs",
    )
}

/// One node of a generated tree, under the directory of an earlier node
/// (`parent` picks among the directories made so far).
#[derive(Debug, Clone)]
enum Node {
    Dir {
        parent: usize,
        mode: u32,
    },
    File {
        parent: usize,
        mode: u32,
        data: Vec<u8>,
    },
    Symlink {
        parent: usize,
        target: String,
    },
    /// A hard link to the `file`-th regular file made so far.
    Hardlink {
        parent: usize,
        file: usize,
    },
}

fn node() -> impl Strategy<Value = Node> {
    let parent = 0..8usize;
    prop_oneof![
        (
            parent.clone(),
            prop::sample::select(vec![0o755u32, 0o700, 0o750, 0o711])
        )
            .prop_map(|(parent, mode)| Node::Dir { parent, mode }),
        (
            parent.clone(),
            prop::sample::select(vec![0o644u32, 0o600, 0o755, 0o640, 0o444, 0o4755]),
            prop::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(parent, mode, data)| Node::File { parent, mode, data }),
        (
            parent.clone(),
            prop::sample::select(vec!["n1", "../n2", "/etc/passwd", "missing/target", "."]),
        )
            .prop_map(|(parent, t)| Node::Symlink {
                parent,
                target: t.to_string()
            }),
        (parent, 0..8usize).prop_map(|(parent, file)| Node::Hardlink { parent, file }),
    ]
}

/// The tree as tar entries under `root` (in order), and what GET must give
/// back: path -> (kind, mode, content or link target); hard link groups
/// apart (every path of a group holds `data`).
struct Tree {
    tar: Vec<u8>,
    plain: BTreeMap<String, (char, u32, Vec<u8>)>,
    links: Vec<(Vec<String>, u32, Vec<u8>)>,
}

fn build_tree(root: &str, nodes: &[Node]) -> Tree {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs = vec![root.to_string()];
    let mut files: Vec<(String, usize)> = Vec::new();
    let mut plain = BTreeMap::new();
    let mut links: Vec<(Vec<String>, u32, Vec<u8>)> = Vec::new();
    let header = |kind: tar::EntryType, mode: u32, size: usize| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size as u64);
        h.set_mtime(MTIME);
        h
    };
    let mut h = header(tar::EntryType::Directory, 0o755, 0);
    let _ = b.append_data(&mut h, format!("{root}/"), &[][..]);
    plain.insert(root.to_string(), ('d', 0o755, Vec::new()));
    for (i, n) in nodes.iter().enumerate() {
        let parent = match n {
            Node::Dir { parent, .. }
            | Node::File { parent, .. }
            | Node::Symlink { parent, .. }
            | Node::Hardlink { parent, .. } => &dirs[parent % dirs.len()],
        };
        let path = format!("{parent}/n{i}");
        match n {
            Node::Dir { mode, .. } => {
                let mut h = header(tar::EntryType::Directory, *mode, 0);
                let _ = b.append_data(&mut h, format!("{path}/"), &[][..]);
                plain.insert(path.clone(), ('d', *mode, Vec::new()));
                dirs.push(path);
            }
            Node::File { mode, data, .. } => {
                let mut h = header(tar::EntryType::Regular, *mode, data.len());
                let _ = b.append_data(&mut h, &path, &data[..]);
                links.push((vec![path.clone()], *mode, data.clone()));
                files.push((path, links.len() - 1));
            }
            Node::Symlink { target, .. } => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                let _ = b.append_link(&mut h, &path, target);
                plain.insert(path, ('l', 0o777, target.clone().into_bytes()));
            }
            Node::Hardlink { file, .. } => {
                if files.is_empty() {
                    continue;
                }
                let (target, group) = files[file % files.len()].clone();
                let mut h = header(tar::EntryType::Link, 0o644, 0);
                let _ = b.append_link(&mut h, &path, &target);
                links[group].0.push(path);
            }
        }
    }
    // A file alone in its group is a plain regular file.
    let mut groups = Vec::new();
    for (paths, mode, data) in links {
        if paths.len() == 1 {
            plain.insert(paths[0].clone(), ('f', mode, data));
        } else {
            groups.push((paths, mode, data));
        }
    }
    Tree {
        tar: b.into_inner().unwrap_or_default(),
        plain,
        links: groups,
    }
}

fn compare(resp: &Response, tree: &Tree, got: Vec<Entry>) -> Outcome {
    let mut plain = BTreeMap::new();
    let mut by_path = BTreeMap::new();
    for (path, kind, mode, mtime, _, data) in got {
        if mtime != MTIME {
            return Err(fail_at(
                resp,
                format!("{path}: mtime {mtime}, put with {MTIME}"),
            ));
        }
        by_path.insert(path.clone(), (kind, mode, data.clone()));
        plain.insert(path, (kind, mode, data));
    }
    for (paths, mode, data) in &tree.links {
        let regular: Vec<&String> = paths
            .iter()
            .filter(|p| by_path.get(*p).is_some_and(|e| e.0 == 'f'))
            .collect();
        let file = ('f', *mode, data.clone());
        let all_regular = paths.iter().all(|p| by_path.get(p) == Some(&file));
        let ok = all_regular
            || (regular.len() == 1
                && by_path.get(regular[0]) == Some(&file)
                && paths.iter().filter(|p| *p != regular[0]).all(|p| {
                    by_path
                        .get(p)
                        .is_some_and(|e| e.0 == 'h' && e.2 == regular[0].as_bytes())
                }));
        if !ok {
            let seen: Vec<_> = paths.iter().map(|p| (p, by_path.get(p))).collect();
            return Err(fail_at(
                resp,
                format!(
                    "hard links {paths:?} came back as {seen:?}; dockerd: one regular file \
                     (mode {mode:o}) and hard links to it, or each a regular file with its content"
                ),
            ));
        }
        for p in paths {
            plain.remove(p);
        }
    }
    if plain != tree.plain {
        return Err(fail_at(
            resp,
            format!("GET gave {plain:?}; the tree put was {:?}", tree.plain),
        ));
    }
    Ok(())
}

fn round_trip(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let id = made.create(ctx.probe_config(&["exit", "0"])?, None)?;
    let name = "containers-api/archive-round-trip-property";
    let case = std::cell::Cell::new(0u32);
    let strategy = prop::collection::vec(node(), 0..10);
    property::check(ctx, name, strategy, |nodes| {
        case.set(case.get() + 1);
        let root = format!("rt{}", case.get());
        let tree = build_tree(&root, nodes);
        let resp = put(ctx, &id, "?path=/tmp", tree.tar.clone())?;
        expect_status(&resp, 200, "PUT of a generated tree")?;
        let resp = get(ctx, &id, &format!("/tmp/{root}"))?;
        expect_status(&resp, 200, "GET of the tree put")?;
        let got = entries(&resp)?;
        compare(&resp, &tree, got).map_err(|p| match p {
            Problem::Fail(f) => fail(format!("{} [tree {nodes:?}]", f.reason)),
            skip => skip,
        })
    })
}
