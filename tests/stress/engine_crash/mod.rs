//! Crash safety (issue 8): a seeded random workload runs against the engine
//! over its API while another thread SIGKILLs the engine at a random moment,
//! so kills land between requests, mid-request and during startup. After each
//! kill the engine is restarted on the same data root and the test checks
//! that every acknowledged operation is there, that the one operation left
//! without an answer happened entirely or not at all, and that nothing is
//! corrupt or left over (temp files, partial layers, mounts, processes).
//! Containers run on the default bridge or on user-defined networks the
//! workload makes and removes, some with a published port; after each
//! restart the host must hold exactly the bridges, addresses and firewall
//! rules the engine's networks own, and no veth or socket of the engine's
//! ([`net`]).
//!
//! `SHIPSHAPE_CRASH_KILLS` sets how many kills (default 100), and
//! `SHIPSHAPE_CRASH_SEED` replays a run (the seed is printed at the start).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use shipshape_tests::Engine;

mod checks;
mod net;
mod wire;
use checks::{check_logs, check_save, leftovers, mounts_under};
use wire::{http, Answer};

const IMAGE: &str = "probe:crash";
/// Above this many containers the workload mostly removes.
const MAX_CONTAINERS: usize = 10;

/// splitmix64: small, seedable, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        let i = self.below(items.len() as u64) as usize;
        items.get(i)
    }
}

// ---------------------------------------------------------------- model

#[derive(Debug, Clone)]
struct Ctr {
    name: String,
    /// `Some(n)`: runs `/probe echo hello-n`; `None`: sleeps.
    echo: Option<u64>,
    /// A start of this echo container was answered and waited for: its
    /// line must be in the logs from then on.
    logged: bool,
    /// The user-defined network it is on (else the default bridge).
    net: Option<String>,
}

/// What the engine must hold, from acknowledged operations only.
#[derive(Debug, Default)]
struct Model {
    containers: BTreeMap<String, Ctr>,
    tags: BTreeSet<String>,
    volumes: BTreeSet<String>,
    networks: BTreeSet<String>,
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        name: String,
        echo: Option<u64>,
        net: Option<String>,
        /// Publishes a port on 127.0.0.1 (a proxy listener while it runs).
        publish: bool,
    },
    Start(String),
    Wait(String),
    Stop(String),
    Rm(String),
    Rename(String, String),
    Tag(String),
    Rmi(String),
    VolCreate(String),
    VolRm(String),
    Logs(String),
    /// `docker cp` out: mounts a stopped container's root for the copy.
    Cp(String),
    Pause(String),
    Unpause(String),
    NetCreate(String),
    NetRm(String),
}

impl Op {
    fn request(&self) -> (&'static str, String, Option<String>) {
        match self {
            Op::Create {
                name,
                echo,
                net,
                publish,
            } => {
                let cmd = match echo {
                    Some(n) => format!(r#"["/probe","echo","hello-{n}"]"#),
                    None => r#"["/probe","sleep","300"]"#.to_string(),
                };
                let mut body = serde_json::json!({"Image": IMAGE,
                    "Cmd": serde_json::from_str::<Value>(&cmd).unwrap_or_default(),
                    "HostConfig": {"NetworkMode": net.as_deref().unwrap_or("default")}});
                if *publish {
                    body["ExposedPorts"] = serde_json::json!({"7000/tcp": {}});
                    body["HostConfig"]["PortBindings"] =
                        serde_json::json!({"7000/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]});
                }
                (
                    "POST",
                    format!("/containers/create?name={name}"),
                    Some(body.to_string()),
                )
            }
            Op::NetCreate(n) => (
                "POST",
                "/networks/create".into(),
                Some(format!(r#"{{"Name":"{n}"}}"#)),
            ),
            Op::NetRm(n) => ("DELETE", format!("/networks/{n}"), None),
            Op::Start(id) => ("POST", format!("/containers/{id}/start"), None),
            Op::Wait(id) => ("POST", format!("/containers/{id}/wait"), None),
            Op::Stop(id) => ("POST", format!("/containers/{id}/stop?t=0"), None),
            Op::Rm(id) => ("DELETE", format!("/containers/{id}?force=1"), None),
            Op::Rename(id, new) => ("POST", format!("/containers/{id}/rename?name={new}"), None),
            Op::Tag(t) => (
                "POST",
                format!("/images/{IMAGE}/tag?repo=crash&tag={t}"),
                None,
            ),
            Op::Rmi(t) => ("DELETE", format!("/images/crash:{t}"), None),
            Op::VolCreate(v) => (
                "POST",
                "/volumes/create".into(),
                Some(format!(r#"{{"Name":"{v}"}}"#)),
            ),
            Op::VolRm(v) => ("DELETE", format!("/volumes/{v}"), None),
            Op::Logs(id) => (
                "GET",
                format!("/containers/{id}/logs?stdout=1&stderr=1"),
                None,
            ),
            Op::Cp(id) => ("GET", format!("/containers/{id}/archive?path=/etc"), None),
            Op::Pause(id) => ("POST", format!("/containers/{id}/pause"), None),
            Op::Unpause(id) => ("POST", format!("/containers/{id}/unpause"), None),
        }
    }

    fn expected(&self) -> &'static [u16] {
        match self {
            Op::Create { .. } | Op::Tag(_) | Op::VolCreate(_) | Op::NetCreate(_) => &[201],
            // 409: it is paused.
            Op::Start(_) => &[204, 304, 409],
            Op::Stop(_) => &[204, 304],
            Op::Rm(_) | Op::Rename(..) | Op::VolRm(_) | Op::NetRm(_) => &[204],
            Op::Wait(_) | Op::Rmi(_) | Op::Logs(_) | Op::Cp(_) => &[200],
            // 409: not running.
            Op::Pause(_) | Op::Unpause(_) => &[204, 409],
        }
    }

    /// Whether `code` is a right answer: an expected one, or dockerd's 500
    /// for pausing a paused (unpausing an unpaused) container.
    fn answered_right(&self, code: u16, body: &[u8]) -> bool {
        let text = String::from_utf8_lossy(body);
        self.expected().contains(&code)
            || match self {
                Op::Pause(_) => code == 500 && text.contains("is already paused"),
                Op::Unpause(_) => code == 500 && text.contains("is not paused"),
                _ => false,
            }
    }
}

/// One worker of the workload and what it knows. Workers run concurrently,
/// each on its own objects: every name it makes starts with its `prefix`.
struct Run {
    prefix: String,
    rng: Rng,
    model: Model,
    counter: u64,
    answered: usize,
}

impl Run {
    fn fresh(&mut self, kind: &str) -> String {
        self.counter += 1;
        format!("{}{kind}{}", self.prefix, self.counter)
    }

    fn next_op(&mut self) -> Op {
        let ids: Vec<String> = self.model.containers.keys().cloned().collect();
        let tags: Vec<String> = self.model.tags.iter().cloned().collect();
        let vols: Vec<String> = self.model.volumes.iter().cloned().collect();
        let nets: Vec<String> = self.model.networks.iter().cloned().collect();
        // Only networks no container of the model is on are removed (a
        // created container's network must still be there at its start).
        let idle: Vec<String> = nets
            .iter()
            .filter(|n| {
                !self
                    .model
                    .containers
                    .values()
                    .any(|c| c.net.as_ref() == Some(n))
            })
            .cloned()
            .collect();
        let crowded = ids.len() >= MAX_CONTAINERS;
        loop {
            let op = match self.rng.below(110) {
                0..=19 if !crowded => {
                    let n = self.counter + 1;
                    let echo = (self.rng.below(10) < 6).then_some(n);
                    let net = if self.rng.below(2) == 0 {
                        self.rng.pick(&nets).cloned()
                    } else {
                        None
                    };
                    let publish = echo.is_none() && self.rng.below(3) == 0;
                    Op::Create {
                        name: self.fresh("c"),
                        echo,
                        net,
                        publish,
                    }
                }
                20..=41 => Op::Start(self.rng.pick(&ids).cloned().unwrap_or_default()),
                42..=51 => Op::Stop(self.rng.pick(&ids).cloned().unwrap_or_default()),
                52..=63 => Op::Rm(self.rng.pick(&ids).cloned().unwrap_or_default()),
                64..=70 => {
                    let id = self.rng.pick(&ids).cloned().unwrap_or_default();
                    Op::Rename(id, self.fresh("r"))
                }
                71..=78 => Op::Tag(self.fresh("t")),
                79..=84 => Op::Rmi(self.rng.pick(&tags).cloned().unwrap_or_default()),
                85..=89 => Op::VolCreate(self.fresh("v")),
                90..=94 => Op::VolRm(self.rng.pick(&vols).cloned().unwrap_or_default()),
                95..=99 => {
                    let id = self.rng.pick(&ids).cloned().unwrap_or_default();
                    match self.rng.below(4) {
                        0 => Op::Cp(id),
                        1 => Op::Pause(id),
                        2 => Op::Unpause(id),
                        _ => Op::Logs(id),
                    }
                }
                100..=104 if nets.len() < 3 => Op::NetCreate(self.fresh("n")),
                105..=109 => Op::NetRm(self.rng.pick(&idle).cloned().unwrap_or_default()),
                _ => continue,
            };
            let target_missing = match &op {
                Op::Create { .. } | Op::Tag(_) | Op::VolCreate(_) | Op::NetCreate(_) => false,
                Op::Start(x)
                | Op::Wait(x)
                | Op::Stop(x)
                | Op::Rm(x)
                | Op::Rename(x, _)
                | Op::Rmi(x)
                | Op::VolRm(x)
                | Op::Logs(x)
                | Op::Cp(x)
                | Op::Pause(x)
                | Op::Unpause(x)
                | Op::NetRm(x) => x.is_empty(),
            };
            if !target_missing {
                return op;
            }
        }
    }

    /// Records an answered operation.
    fn apply(&mut self, op: &Op, body: &[u8]) {
        let m = &mut self.model;
        match op {
            Op::Create {
                name, echo, net, ..
            } => {
                let v: Value = serde_json::from_slice(body).expect("create answer is JSON");
                let id = v["Id"]
                    .as_str()
                    .expect("create answer has an Id")
                    .to_string();
                m.containers.insert(
                    id,
                    Ctr {
                        name: name.clone(),
                        echo: *echo,
                        logged: false,
                        net: net.clone(),
                    },
                );
            }
            Op::Wait(id) => {
                if let Some(c) = m.containers.get_mut(id) {
                    c.logged = true;
                }
            }
            Op::Rm(id) => {
                m.containers.remove(id);
            }
            Op::Rename(id, new) => {
                if let Some(c) = m.containers.get_mut(id) {
                    c.name = new.clone();
                }
            }
            Op::Tag(t) => {
                m.tags.insert(t.clone());
            }
            Op::Rmi(t) => {
                m.tags.remove(t);
            }
            Op::VolCreate(v) => {
                m.volumes.insert(v.clone());
            }
            Op::VolRm(v) => {
                m.volumes.remove(v);
            }
            Op::NetCreate(n) => {
                m.networks.insert(n.clone());
            }
            Op::NetRm(n) => {
                m.networks.remove(n);
            }
            Op::Logs(id) => {
                if let Some(c) = m.containers.get(id) {
                    check_logs(id, c, body);
                }
            }
            Op::Start(_) | Op::Stop(_) | Op::Cp(_) | Op::Pause(_) | Op::Unpause(_) => {}
        }
    }

    /// Folds the outcome of the operation left without an answer into the
    /// model, as observed: it must have happened entirely or not at all.
    fn settle(&mut self, pending: Option<Op>, seen: &Seen) {
        let m = &mut self.model;
        match pending {
            Some(Op::Create {
                name, echo, net, ..
            }) => {
                let new: Vec<&String> = seen
                    .containers
                    .keys()
                    .filter(|id| !m.containers.contains_key(*id))
                    .collect();
                if let [id] = new.as_slice() {
                    assert_eq!(
                        seen.containers[*id], name,
                        "a container appeared that the unanswered create did not ask for"
                    );
                    m.containers.insert(
                        (*id).clone(),
                        Ctr {
                            name,
                            echo,
                            logged: false,
                            net,
                        },
                    );
                }
            }
            Some(Op::Rm(id)) if !seen.containers.contains_key(&id) => {
                m.containers.remove(&id);
            }
            Some(Op::Rename(id, new)) if seen.containers.get(&id) == Some(&new) => {
                if let Some(c) = m.containers.get_mut(&id) {
                    c.name = new;
                }
            }
            Some(Op::Tag(t)) if seen.tags.contains(&t) => {
                m.tags.insert(t);
            }
            Some(Op::Rmi(t)) if !seen.tags.contains(&t) => {
                m.tags.remove(&t);
            }
            Some(Op::VolCreate(v)) if seen.volumes.contains(&v) => {
                m.volumes.insert(v);
            }
            Some(Op::VolRm(v)) if !seen.volumes.contains(&v) => {
                m.volumes.remove(&v);
            }
            Some(Op::NetCreate(n)) if seen.networks.contains(&n) => {
                m.networks.insert(n);
            }
            Some(Op::NetRm(n)) if !seen.networks.contains(&n) => {
                m.networks.remove(&n);
            }
            _ => {}
        }
    }
}

/// What the engine shows after a restart.
#[derive(Debug, Default, Clone, PartialEq)]
struct Seen {
    /// ID -> name (without the slash)
    containers: BTreeMap<String, String>,
    /// `crash:*` tags
    tags: BTreeSet<String>,
    volumes: BTreeSet<String>,
    /// User-defined networks.
    networks: BTreeSet<String>,
}

impl Seen {
    /// The objects one worker made (their names start with its prefix).
    fn only(&self, prefix: &str) -> Seen {
        Seen {
            containers: self
                .containers
                .iter()
                .filter(|(_, n)| n.starts_with(prefix))
                .map(|(i, n)| (i.clone(), n.clone()))
                .collect(),
            tags: self
                .tags
                .iter()
                .filter(|t| t.starts_with(prefix))
                .cloned()
                .collect(),
            volumes: self
                .volumes
                .iter()
                .filter(|v| v.starts_with(prefix))
                .cloned()
                .collect(),
            networks: self
                .networks
                .iter()
                .filter(|n| n.starts_with(prefix))
                .cloned()
                .collect(),
        }
    }
}

// ---------------------------------------------------------------- checks

fn get_json(e: &Engine, path: &str) -> Value {
    match http(&e.socket, "GET", path, None) {
        Answer::Got(200, body) => serde_json::from_slice(&body)
            .unwrap_or_else(|err| panic!("GET {path}: not JSON ({err})\n{}", tail(e))),
        Answer::Got(code, body) => panic!(
            "GET {path}: {code} {}\n{}",
            String::from_utf8_lossy(&body),
            tail(e)
        ),
        Answer::Lost(why) => panic!("GET {path}: no answer ({why})\n{}", tail(e)),
    }
}

fn get_bytes(e: &Engine, path: &str) -> Vec<u8> {
    match http(&e.socket, "GET", path, None) {
        Answer::Got(200, body) => body,
        Answer::Got(code, body) => panic!(
            "GET {path}: {code} {}\n{}",
            String::from_utf8_lossy(&body),
            tail(e)
        ),
        Answer::Lost(why) => panic!("GET {path}: no answer ({why})\n{}", tail(e)),
    }
}

/// The end of the engine's log, for failure messages.
fn tail(e: &Engine) -> String {
    format!(
        "engine log (tail):\n{}",
        shipshape_tests::tail(&e.log(), 40)
    )
}

/// Cgroup directories of the container left in any hierarchy (its processes
/// outliving the engine keep them).
fn cgroups_left(id: &str) -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![root.join("shipshape").join(id)];
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        dirs.push(entry.path().join("shipshape").join(id));
    }
    dirs.into_iter().filter(|d| d.is_dir()).collect()
}

/// Everything checked after a restart; folds each worker's unanswered
/// operation in.
fn verify(e: &Engine, runs: &mut [(Run, Option<Op>)], round: usize) {
    let pending: Vec<Option<Op>> = runs.iter().map(|(_, p)| p.clone()).collect();
    let ctx = |what: String| format!("round {round} (pending {pending:?}): {what}\n{}", tail(e));
    let mut seen = Seen::default();
    for c in get_json(e, "/containers/json?all=1")
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let id = c["Id"].as_str().unwrap_or_default().to_string();
        let name = c["Names"][0].as_str().unwrap_or_default();
        seen.containers
            .insert(id, name.trim_start_matches('/').to_string());
    }
    let images = get_json(e, "/images/json");
    // The workload only tags: any second image is debris.
    let count = images.as_array().map_or(0, Vec::len);
    assert_eq!(count, 1, "{}", ctx(format!("{count} images: {images}")));
    let mut base_tagged = false;
    for img in images.as_array().cloned().unwrap_or_default() {
        let id = img["Id"].as_str().unwrap_or_default().to_string();
        for t in img["RepoTags"].as_array().cloned().unwrap_or_default() {
            let t = t.as_str().unwrap_or_default();
            base_tagged |= t == IMAGE;
            if let Some(tag) = t.strip_prefix("crash:") {
                seen.tags.insert(tag.to_string());
            }
        }
        let inspected = get_json(e, &format!("/images/{id}/json"));
        assert_eq!(
            inspected["Id"].as_str(),
            Some(id.as_str()),
            "{}",
            ctx("inspect".into())
        );
        check_save(&id, &get_bytes(e, &format!("/images/{id}/get")));
    }
    assert!(base_tagged, "{}", ctx(format!("{IMAGE} is gone")));
    for v in get_json(e, "/volumes")["Volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        seen.volumes
            .insert(v["Name"].as_str().unwrap_or_default().to_string());
    }

    let networks = get_json(e, "/networks");
    for n in networks.as_array().cloned().unwrap_or_default() {
        let name = n["Name"].as_str().unwrap_or_default();
        if !["bridge", "host", "none"].contains(&name) {
            seen.networks.insert(name.to_string());
        }
    }

    let mut accounted = Seen::default();
    for (run, pending) in runs.iter_mut() {
        let mine = seen.only(&run.prefix);
        run.settle(pending.take(), &mine);
        let m = &run.model;
        let want = Seen {
            containers: m
                .containers
                .iter()
                .map(|(id, c)| (id.clone(), c.name.clone()))
                .collect(),
            tags: m.tags.clone(),
            volumes: m.volumes.clone(),
            networks: m.networks.clone(),
        };
        assert_eq!(
            mine,
            want,
            "{}",
            ctx(format!("worker {} differs", run.prefix))
        );
        accounted.containers.extend(want.containers);
        accounted.tags.extend(want.tags);
        accounted.volumes.extend(want.volumes);
        accounted.networks.extend(want.networks);
    }
    assert_eq!(seen, accounted, "{}", ctx("objects no worker made".into()));
    for v in &seen.volumes {
        let i = get_json(e, &format!("/volumes/{v}"));
        assert_eq!(i["Name"].as_str(), Some(v.as_str()));
    }

    let all: Vec<(String, Ctr)> = runs
        .iter()
        .flat_map(|(r, _)| {
            r.model
                .containers
                .iter()
                .map(|(i, c)| (i.clone(), c.clone()))
        })
        .collect();
    for (id, c) in &all {
        let i = get_json(e, &format!("/containers/{id}/json"));
        assert_eq!(i["Name"].as_str(), Some(format!("/{}", c.name).as_str()));
        let status = i["State"]["Status"].as_str().unwrap_or_default();
        assert!(
            matches!(status, "created" | "exited") && i["State"]["Running"] == false,
            "{}",
            ctx(format!("{id} is {status} after a restart"))
        );
        check_logs(
            id,
            c,
            &get_bytes(e, &format!("/containers/{id}/logs?stdout=1&stderr=1")),
        );
        let left = cgroups_left(id);
        let procs: Vec<String> = left
            .iter()
            .map(|d| std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default())
            .collect();
        assert!(
            left.is_empty(),
            "{}",
            ctx(format!(
                "{id} left cgroups {left:?} holding {procs:?}; its log lines:\n{}",
                e.log()
                    .lines()
                    .filter(|l| l.contains(id.as_str()) || l.contains("listening"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ))
        );
    }
    let root = e.data_root.canonicalize().unwrap_or(e.data_root.clone());
    let mounts = mounts_under(&root);
    assert!(
        mounts.is_empty(),
        "{}",
        ctx(format!("stale mounts {mounts:?}"))
    );
    let junk = leftovers(&root);
    assert!(junk.is_empty(), "{}", ctx(format!("leftovers {junk:?}")));
    let tag = net::engine_tag(e);
    let owned = net::owned(&tag, &networks);
    // The kernel deletes a dead namespace's veths from a work queue, a
    // moment after its last process is gone.
    let pid = e.pid().expect("engine pid");
    let mut wrong = net::problems(&tag, pid, &owned);
    for _ in 0..50 {
        if wrong.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        wrong = net::problems(&tag, pid, &owned);
    }
    assert!(
        wrong.is_empty(),
        "{}",
        ctx(format!("networking left behind or missing: {wrong:#?}"))
    );
}

// ---------------------------------------------------------------- the test

/// Runs `run`'s operations until one gets no answer (the engine was
/// killed); returns it, why, and when.
fn work(e: &Engine, run: &mut Run, round: usize) -> (Op, String, Instant) {
    loop {
        let op = run.next_op();
        let (method, path, body) = op.request();
        let code = match http(&e.socket, method, &path, body.as_deref()) {
            Answer::Got(code, body) if op.answered_right(code, &body) => {
                run.answered += 1;
                run.apply(&op, &body);
                code
            }
            Answer::Got(code, body) => panic!(
                "round {round}: {op:?} answered {code} {}\n{}",
                String::from_utf8_lossy(&body),
                tail(e)
            ),
            Answer::Lost(why) => return (op, why, Instant::now()),
        };
        // An echo container's run is waited for: then its line is logged.
        let Op::Start(id) = &op else { continue };
        let echoes = run
            .model
            .containers
            .get(id)
            .is_some_and(|c| c.echo.is_some());
        if code != 204 || !echoes {
            continue;
        }
        let wait = Op::Wait(id.clone());
        let (method, path, _) = wait.request();
        match http(&e.socket, method, &path, None) {
            Answer::Got(200, body) => run.apply(&wait, &body),
            Answer::Got(code, body) => panic!(
                "round {round}: wait {id}: {code} {}\n{}",
                String::from_utf8_lossy(&body),
                tail(e)
            ),
            Answer::Lost(why) => return (wait, why, Instant::now()),
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// When a check fails the engine's recovery may be what is broken: then
/// this (dropped before the engine and its temp dir) kills what its
/// containers left running and unmounts what is left mounted, so a failed
/// run does not leave processes or mounts on a shared machine.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let ids = std::fs::read_dir(self.0.join("containers"))
            .into_iter()
            .flatten()
            .flatten();
        for id in ids {
            for dir in cgroups_left(&id.file_name().to_string_lossy()) {
                let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
                // Empty once the kernel has moved the dead tasks out.
                for _ in 0..100 {
                    if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        for m in mounts_under(&self.0) {
            let _ = Command::new("umount").args(["-l", &m]).status();
        }
    }
}

/// SIGKILLs `pid` after `delay`; returns when the signal was sent.
fn killer(pid: u32, delay: Duration) -> std::thread::JoinHandle<Instant> {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let sent = Instant::now();
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        sent
    })
}

#[test]
fn acknowledged_operations_survive_sigkill_and_nothing_is_left_over() {
    let _alone = crate::alone();
    let kills_wanted = env_u64("SHIPSHAPE_CRASH_KILLS").unwrap_or(100);
    let seed = env_u64("SHIPSHAPE_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    eprintln!(
        "engine_crash: seed {seed} (SHIPSHAPE_CRASH_SEED={seed} replays it), {kills_wanted} kills"
    );

    let mut e = Engine::start();
    e.load_probe(IMAGE);
    let _cleanup = Cleanup(e.data_root.canonicalize().expect("data root"));

    let mut runs: Vec<(Run, Option<Op>)> = ["a", "b"]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let run = Run {
                prefix: p.to_string(),
                rng: Rng(seed ^ (i as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D)),
                model: Model::default(),
                counter: 0,
                answered: 0,
            };
            (run, None)
        })
        .collect();
    let mut rng = Rng(seed);
    let started = Instant::now();
    let (mut kills, mut lost_mid_request) = (0u64, 0u64);
    let mut round = 0;
    while kills < kills_wanted {
        round += 1;
        let pid = e.pid().expect("engine pid");
        let kill = killer(pid, Duration::from_millis(5 + rng.below(250)));
        // Every worker runs until its engine is gone; what each had in flight
        // then is its unanswered operation.
        let lost: Vec<(Op, String, Instant)> = std::thread::scope(|scope| {
            let workers: Vec<_> = runs
                .iter_mut()
                .map(|(run, _)| {
                    let e = &e;
                    scope.spawn(move || work(e, run, round))
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        // Joined before the engine is reaped, so the pid cannot be reused
        // under the killer.
        let sent = kill.join().expect("killer thread");
        for ((op, why, failed), (_, pending)) in lost.into_iter().zip(runs.iter_mut()) {
            assert!(
                failed >= sent,
                "round {round}: {op:?} lost ({why}) before the engine was killed\n{}",
                tail(&e)
            );
            if !why.starts_with("connect") {
                lost_mid_request += 1;
            }
            *pending = Some(op);
        }
        e.crash();
        kills += 1;
        // Sometimes the next kill lands while the engine is still starting
        // (recovering from this one).
        if rng.below(8) == 0 {
            e.launch();
            let pid = e.pid().expect("engine pid");
            let _ = killer(pid, Duration::from_millis(rng.below(40))).join();
            e.crash();
            kills += 1;
        }
        e.spawn();
        verify(&e, &mut runs, round);
    }
    e.stop();
    let count = |f: &dyn Fn(&Run) -> usize| runs.iter().map(|(r, _)| f(r)).sum::<usize>();
    eprintln!(
        "engine_crash: {kills} kills ({lost_mid_request} requests lost mid-way), {} answered operations, {} containers, {} tags, {} volumes, {} networks at the end, in {:.1?}",
        count(&|r| r.answered),
        count(&|r| r.model.containers.len()),
        count(&|r| r.model.tags.len()),
        count(&|r| r.model.volumes.len()),
        count(&|r| r.model.networks.len()),
        started.elapsed()
    );
}
