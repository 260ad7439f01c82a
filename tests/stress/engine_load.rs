//! Load (issue 8): 64 concurrent clients loop create/start/wait/logs/rm
//! against one engine for a bounded time. Every operation is answered, as
//! Docker answers it, and never with a 5xx; a client stuck on an answer is
//! a deadlock and fails the test. Afterwards the engine holds what it held
//! before: its open file descriptors, its descendant processes and the
//! mounts under its data root are back at the baseline, read from /proc.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use shipshape_tests::http::Request;
use shipshape_tests::{fd_targets, harness_bin, ok, tail, Engine};

const CLIENTS: usize = 64;
/// How long clients start new cycles; the cycles in flight then finish.
const LOAD_FOR: Duration = Duration::from_secs(15);
/// Longest any one answer may take before the client calls it a deadlock.
/// Generous (2 shared cores, 64 clients): it bounds a hang, it does not
/// measure speed.
const ANSWER_WITHIN: Duration = Duration::from_secs(120);
/// How long the leak checks wait for the engine to settle (a process being
/// reaped, a connection closing) before comparing with the baseline.
const SETTLE_WITHIN: Duration = Duration::from_secs(30);

const IMAGE: &str = "shipshape-probe:latest";

fn load_fixture(e: &Engine) {
    let tar = e.dir.path().join("fixture.tar");
    ok(Command::new(harness_bin())
        .arg("fixture")
        .arg("--output")
        .arg(&tar));
    let bytes = std::fs::read(&tar).expect("reading the fixture");
    let r = Request {
        content_type: Some("application/x-tar"),
        body: &bytes,
        ..Request::new("POST", "/images/load?quiet=1")
    }
    .send(&e.socket)
    .expect("loading the fixture");
    assert_eq!(r.status, 200, "load: {}", r.text());
    assert!(r.text().contains(IMAGE), "load: {}", r.text());
}

/// What one client saw go wrong, with the operation and its answer.
type Failures = Arc<Mutex<Vec<String>>>;

/// One create/start/wait/logs/rm cycle; `n` makes its output and exit code
/// its own, so a mix-up between containers shows.
fn cycle(socket: &Path, client: usize, n: usize) -> Result<(), String> {
    let send = |method: &str, target: &str, body: &[u8]| {
        let req = Request {
            timeout: ANSWER_WITHIN,
            ..Request::new(method, target)
        };
        let req = if body.is_empty() { req } else { req.json(body) };
        req.send(socket).map_err(|e| {
            format!("{method} {target}: no answer (deadlock or dropped connection?): {e}")
        })
    };
    let expect = |what: &str, r: &shipshape_tests::http::Response, want: u16| {
        if r.status >= 500 {
            Err(format!("{what}: server error {}: {}", r.status, r.text()))
        } else if r.status != want {
            Err(format!("{what}: {} (want {want}): {}", r.status, r.text()))
        } else {
            Ok(())
        }
    };
    let code = n % 4;
    let out = format!("out-{client}-{n}");
    let body = serde_json::json!({
        "Image": IMAGE,
        "Cmd": ["/probe", "echo", out, "--", "stderr", "err", "--", "exit", code.to_string()],
        "Labels": {"io.shipshape.test": "load"},
    })
    .to_string();
    let r = send("POST", "/containers/create", body.as_bytes())?;
    expect("create", &r, 201)?;
    let id = serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v["Id"].as_str().map(String::from))
        .ok_or_else(|| format!("create: no Id in {}", r.text()))?;
    let result = (|| {
        let r = send("POST", &format!("/containers/{id}/start"), b"")?;
        expect("start", &r, 204)?;
        let r = send("POST", &format!("/containers/{id}/wait"), b"")?;
        expect("wait", &r, 200)?;
        let status = serde_json::from_slice::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| v["StatusCode"].as_u64());
        if status != Some(code as u64) {
            return Err(format!("wait: {} (want StatusCode {code})", r.text()));
        }
        let r = send(
            "GET",
            &format!("/containers/{id}/logs?stdout=1&stderr=1"),
            b"",
        )?;
        expect("logs", &r, 200)?;
        if !String::from_utf8_lossy(&r.body).contains(&out) {
            return Err(format!("logs of {id} lack {out:?}: {:?}", r.text()));
        }
        Ok(())
    })();
    // Removed whatever happened above, so one failure does not also show up
    // as a leak.
    let r = send("DELETE", &format!("/containers/{id}?force=1"), b"")?;
    result?;
    expect("rm", &r, 204)
}

/// What the engine holds, as /proc shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holdings {
    fds: usize,
    /// Descendants other than warm inits.
    descendants: BTreeSet<u32>,
    /// Inits waiting for a request: the engine keeps one started ahead of
    /// need while containers are being started (a different process each
    /// time, so it is counted, not compared).
    warm_inits: usize,
    /// Mount points under the engine's temp dir, in the engine's namespace
    /// and in ours (the engine mounts container roots in the host's).
    mounts: BTreeSet<String>,
}

fn holdings(pid: u32, dir: &Path) -> Holdings {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("reading the engine's fds")
        .count();
    let mut mounts = BTreeSet::new();
    for who in [pid.to_string(), "self".to_string()] {
        let info = std::fs::read_to_string(format!("/proc/{who}/mountinfo")).unwrap_or_default();
        for line in info.lines() {
            // Field 5 is the mount point (octal-escaped, as is our path).
            if let Some(mp) = line.split(' ').nth(4) {
                if Path::new(mp).starts_with(dir) {
                    mounts.insert(format!("{who}: {mp}"));
                }
            }
        }
    }
    let (warm, others): (BTreeSet<u32>, BTreeSet<u32>) = descendants(pid)
        .into_iter()
        .partition(|&p| is_waiting_init(p));
    Holdings {
        fds,
        descendants: others,
        warm_inits: warm.len(),
        mounts,
    }
}

/// An init the engine started that has not been handed a container yet: it
/// still runs the engine's program with the init argument.
fn is_waiting_init(pid: u32) -> bool {
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    cmd.split(|&b| b == 0).nth(1) == Some(b"__shipshape-init".as_slice())
}

/// Every process whose parent chain leads to `root`, from /proc/*/stat.
fn descendants(root: u32) -> BTreeSet<u32> {
    let mut parent = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc").expect("reading /proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue; // exited meanwhile
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parens.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            parent.insert(pid, ppid);
        }
    }
    parent
        .keys()
        .copied()
        .filter(|&p| {
            let mut cur = p;
            // Bounded walk: pid reuse during the scan cannot loop forever.
            for _ in 0..64 {
                match parent.get(&cur) {
                    Some(&pp) if pp == root => return true,
                    Some(&pp) if pp > 1 => cur = pp,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

fn describe(pids: &BTreeSet<u32>) -> Vec<String> {
    pids.iter()
        .map(|p| {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            format!("{p}: {}", String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect()
}

#[test]
fn sixty_four_clients_no_5xx_no_deadlock_no_leaks() {
    let _alone = crate::alone();
    let e = Engine::start();
    let pid = e.pid().expect("engine pid");
    load_fixture(&e);
    // One cycle first, so what the engine opens once and keeps (log files
    // of its own, cgroup parents, lazily started helpers) is in the baseline.
    cycle(&e.socket, 0, 0).expect("a first cycle");
    let dir: PathBuf = e.dir.path().canonicalize().expect("canonical temp dir");
    // The warm init the first start asked for belongs in the baseline (its
    // channel is one of the engine's fds).
    let mut before = holdings(pid, &dir);
    let waiting = Instant::now();
    while before.warm_inits == 0 && waiting.elapsed() < SETTLE_WITHIN {
        std::thread::sleep(Duration::from_millis(50));
        before = holdings(pid, &dir);
    }
    assert_eq!(
        before.warm_inits, 1,
        "no warm init after a start: {before:?}"
    );

    let failures: Failures = Arc::default();
    let cycles = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel::<usize>();
    let socket = e.socket.clone();
    let started = Instant::now();
    for client in 0..CLIENTS {
        let (socket, failures, cycles, stop, done) = (
            socket.clone(),
            failures.clone(),
            cycles.clone(),
            stop.clone(),
            done_tx.clone(),
        );
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && started.elapsed() < LOAD_FOR {
                n += 1;
                match cycle(&socket, client, n) {
                    Ok(()) => {
                        cycles.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(msg) => {
                        if let Ok(mut f) = failures.lock() {
                            f.push(format!("client {client}, cycle {n}: {msg}"));
                        }
                    }
                }
            }
            let _ = done.send(client);
        });
    }
    drop(done_tx);

    // Sample what the engine holds under load, so the leak checks below are
    // known to see containers' processes (the engine is their subreaper)
    // and the connections' fds at all.
    let mut peak = holdings(pid, &dir);
    while started.elapsed() < LOAD_FOR {
        let now = holdings(pid, &dir);
        if now.descendants.len() > peak.descendants.len() {
            peak.descendants = now.descendants;
        }
        peak.fds = peak.fds.max(now.fds);
        peak.mounts.extend(now.mounts);
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "under load: up to {} fds, {} descendants, {} mounts",
        peak.fds,
        peak.descendants.len(),
        peak.mounts.len()
    );
    assert!(
        !peak.descendants.is_empty() && peak.fds > before.fds,
        "the /proc checks saw no container process or connection under load: {peak:?}"
    );

    // A client that never reports back is stuck: each of its requests is
    // bounded by ANSWER_WITHIN, so only a hang gets past this deadline.
    let deadline = started + LOAD_FOR + 2 * ANSWER_WITHIN;
    let mut finished = BTreeSet::new();
    while finished.len() < CLIENTS {
        let left = deadline.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left) {
            Ok(c) => {
                finished.insert(c);
            }
            Err(_) => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let stuck: Vec<usize> = (0..CLIENTS).filter(|c| !finished.contains(c)).collect();
    assert!(
        stuck.is_empty(),
        "clients {stuck:?} never finished: deadlock\nengine log tail:\n{}",
        tail(&e.log(), 30)
    );
    let failures = failures.lock().map(|f| f.clone()).unwrap_or_default();
    let done = cycles.load(Ordering::Relaxed);
    assert!(
        failures.is_empty(),
        "{} failed operations ({done} cycles passed), first ones:\n{}\nengine log tail:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n"),
        tail(&e.log(), 30)
    );
    // Every client got through at least one cycle: the load was real.
    assert!(done >= CLIENTS, "only {done} cycles for {CLIENTS} clients");
    eprintln!("{done} cycles by {CLIENTS} clients");

    let r = Request::new("GET", "/containers/json?all=1")
        .send(&e.socket)
        .expect("list");
    assert_eq!(r.text().trim(), "[]", "containers left over");

    // Settling is asynchronous (reaping, connections closing): poll until
    // the engine is back at the baseline, then compare what it holds.
    let settle = Instant::now();
    let mut after = holdings(pid, &dir);
    while (after.fds > before.fds
        || after.descendants != before.descendants
        || after.mounts != before.mounts)
        && settle.elapsed() < SETTLE_WITHIN
    {
        std::thread::sleep(Duration::from_millis(200));
        after = holdings(pid, &dir);
    }
    assert!(
        after.fds <= before.fds,
        "fds leaked: {} before, {} after; now open:\n{}",
        before.fds,
        after.fds,
        fd_targets(pid).join("\n")
    );
    let extra: BTreeSet<u32> = after
        .descendants
        .difference(&before.descendants)
        .copied()
        .collect();
    assert!(extra.is_empty(), "processes leaked: {:?}", describe(&extra));
    assert!(after.warm_inits <= 1, "{} warm inits", after.warm_inits);
    assert_eq!(after.mounts, before.mounts, "mounts leaked");
}
