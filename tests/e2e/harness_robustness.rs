//! The harness against endpoints that misbehave (issue 8): one that never
//! answers, one that negotiates and then hangs, one that resets
//! connections, one that sends garbage. Each run ends on its own (every
//! request has a timeout) with a non-zero exit and a clear message, never a
//! panic; where negotiation worked, each scenario fails (or is skipped
//! behind a failed prerequisite) with a message naming the timeout, reset or
//! garbage, and the last line is still the totals.
//!
//! Unreachable hosts, bad URLs and a plain-text (non-Docker) endpoint are
//! covered in `harness_cli.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use shipshape_tests::{harness_bin, stderr, stdout};

/// The harness's per-request timeout in these runs: short, so a hanging
/// endpoint costs seconds, not minutes.
const TIMEOUT_SECS: &str = "1";
/// Bound on a whole harness run; past it the harness itself hangs, which
/// is the failure this test exists to catch.
const RUN_WITHIN: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Accepts connections and never answers.
    Silent,
    /// Answers negotiation (`/_ping`, `/version`), then never answers.
    NegotiateThenHang,
    /// Resets every connection.
    Reset,
    /// Answers negotiation, then resets every connection.
    NegotiateThenReset,
    /// Answers every request with bytes that are not HTTP.
    Garbage,
    /// Answers negotiation, then garbage.
    NegotiateThenGarbage,
}

const GARBAGE: &[u8] = b"\x00\xff\xfeSSH-2.0-not-http\r\n\x1b[31m\x00\x00\x00\x07garbage";

/// A loopback endpoint behaving as `mode`, for the life of the test process.
fn fake(mode: Mode) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    let addr = listener.local_addr().expect("local addr");
    // Connections a silent endpoint holds open, so the client sees no EOF.
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    let negotiated = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (held, negotiated) = (held.clone(), negotiated.clone());
            std::thread::spawn(move || serve(mode, conn, &held, &negotiated));
        }
    });
    addr
}

/// Negotiation is `HEAD /_ping` then `GET /vX.Y/version`: those two get a
/// proper answer, later pings and versions do not, so the scenarios about
/// them fail for the endpoint's misbehaviour rather than for how little of
/// Docker this fake imitates.
const NEGOTIATION_EXCHANGES: usize = 2;

fn serve(mode: Mode, mut conn: TcpStream, held: &Mutex<Vec<TcpStream>>, negotiated: &AtomicUsize) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    // Peek, not read: a reset needs the request still unread when the
    // socket closes (then Linux sends RST instead of FIN).
    let mut head = vec![0u8; 4096];
    let n = match conn.peek(&mut head) {
        Ok(n) => n,
        Err(_) => return,
    };
    let line = String::from_utf8_lossy(&head[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let negotiating = mode_negotiates(mode)
        && is_negotiation(&line)
        && negotiated.fetch_add(1, Ordering::SeqCst) < NEGOTIATION_EXCHANGES;
    if negotiating {
        let mut buf = vec![0u8; n];
        let _ = conn.read_exact(&mut buf);
        let _ = conn.write_all(&negotiation_answer(&line));
        return;
    }
    match mode {
        Mode::Silent | Mode::NegotiateThenHang => {
            if let Ok(mut h) = held.lock() {
                h.push(conn);
            }
        }
        Mode::Reset | Mode::NegotiateThenReset => drop(conn),
        Mode::Garbage | Mode::NegotiateThenGarbage => {
            let mut buf = vec![0u8; n];
            let _ = conn.read_exact(&mut buf);
            let _ = conn.write_all(GARBAGE);
        }
    }
}

fn mode_negotiates(mode: Mode) -> bool {
    matches!(
        mode,
        Mode::NegotiateThenHang | Mode::NegotiateThenReset | Mode::NegotiateThenGarbage
    )
}

fn is_negotiation(request_line: &str) -> bool {
    let path = request_line.split(' ').nth(1).unwrap_or("");
    path == "/_ping" || path.ends_with("/version")
}

fn negotiation_answer(request_line: &str) -> Vec<u8> {
    let head_only = request_line.starts_with("HEAD ");
    let body: &[u8] = if request_line.contains("/version") {
        br#"{"Version":"0.0.0-fake","ApiVersion":"1.50","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"}"#
    } else {
        b"OK"
    };
    let ct = if body.starts_with(b"{") {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nApi-Version: 1.50\r\nServer: fake\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

struct Run {
    code: Option<i32>,
    out: String,
    err: String,
}

/// Runs `shipshape run` against `addr`, failing the test if it outlives
/// RUN_WITHIN (it is killed then).
fn run_against(addr: SocketAddr, extra: &[&str]) -> Run {
    let mut cmd = Command::new(harness_bin());
    cmd.args([
        "run",
        "--host",
        &format!("tcp://{addr}"),
        "--timeout",
        TIMEOUT_SECS,
    ])
    .args(extra)
    .env_remove("DOCKER_HOST")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().expect("starting shipshape");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let o = match rx.recv_timeout(RUN_WITHIN) {
        Ok(o) => o.expect("waiting for shipshape"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("shipshape run against {addr} did not end within {RUN_WITHIN:?}");
        }
    };
    let r = Run {
        code: o.status.code(),
        out: stdout(&o),
        err: stderr(&o),
    };
    assert!(
        !r.err.contains("panicked") && !r.out.contains("panicked"),
        "the harness panicked:\n{}\n{}",
        r.out,
        r.err
    );
    r
}

/// An endpoint that fails negotiation: exit 2 and one clear error line.
fn fails_to_negotiate(mode: Mode, expect: &[&str]) {
    let r = run_against(fake(mode), &[]);
    assert_eq!(
        r.code,
        Some(2),
        "{mode:?}: exit {:?}\n{}\n{}",
        r.code,
        r.out,
        r.err
    );
    let line = r.err.trim();
    assert!(
        line.starts_with("shipshape: error: ") && expect.iter().any(|e| line.contains(e)),
        "{mode:?}: unclear error (want one of {expect:?}): {line}"
    );
}

/// Scenarios that send nothing themselves: they check what earlier
/// scenarios recorded, so they may pass against any endpoint.
const SENDS_NOTHING: &[&str] = &["schema/transcript"];

/// An endpoint that negotiates then misbehaves: every scenario ends FAIL
/// with a message about the misbehaviour (or SKIP behind a failed
/// prerequisite), none that sends a request passes, and the totals are the
/// last line.
/// Returns the harness's console output.
fn every_scenario_fails(mode: Mode, expect: &[&str]) -> String {
    let r = run_against(fake(mode), &[]);
    assert_eq!(
        r.code,
        Some(1),
        "{mode:?}: exit {:?}\n{}\n{}",
        r.code,
        r.out,
        r.err
    );
    let last = r.out.trim_end().lines().last().unwrap_or("");
    let totals: Vec<u64> = last
        .split([' ', ','])
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        totals.len() == 3 && last.ends_with(" skipped"),
        "{mode:?}: last line is not the totals: {last:?}"
    );
    let failed = totals[1];
    let passes: Vec<&str> = r
        .out
        .lines()
        .filter(|l| l.starts_with("PASS") && !SENDS_NOTHING.iter().any(|s| l.contains(s)))
        .collect();
    assert!(
        passes.is_empty(),
        "{mode:?}: passed against a broken endpoint: {passes:?}"
    );
    assert!(failed > 0, "{mode:?}: nothing failed:\n{}", r.out);
    // Each FAIL line's details (the indented lines below it) name the cause.
    let lines: Vec<&str> = r.out.lines().collect();
    let mut fails = 0;
    for (i, l) in lines.iter().enumerate() {
        if !l.starts_with("FAIL") {
            continue;
        }
        fails += 1;
        let details: String = lines[i + 1..]
            .iter()
            .take_while(|d| d.starts_with(' ') || d.is_empty())
            .map(|d| format!("{d}\n"))
            .collect();
        assert!(
            expect.iter().any(|e| l.contains(e) || details.contains(e)),
            "{mode:?}: {l} does not say why (want one of {expect:?}):\n{details}"
        );
    }
    assert_eq!(
        fails as u64, failed,
        "{mode:?}: FAIL lines vs totals\n{}",
        r.out
    );
    r.out
}

#[test]
fn silent_endpoint_times_out_at_negotiation() {
    fails_to_negotiate(Mode::Silent, &["no complete answer within"]);
}

#[test]
fn resetting_endpoint_is_a_clear_error() {
    fails_to_negotiate(Mode::Reset, &["reset", "closed"]);
}

#[test]
fn garbage_endpoint_is_a_clear_error() {
    fails_to_negotiate(Mode::Garbage, &["invalid HTTP", "parse", "not look like"]);
}

#[test]
fn hanging_after_negotiation_fails_each_scenario_with_a_timeout() {
    every_scenario_fails(
        Mode::NegotiateThenHang,
        &["no complete answer within", "timed out"],
    );
}

#[test]
fn resets_after_negotiation_fail_each_scenario() {
    every_scenario_fails(Mode::NegotiateThenReset, &["reset", "closed"]);
}

#[test]
fn garbage_after_negotiation_fails_each_scenario() {
    // A request with a large body (an image load) may see the connection
    // reset before it is fully written: the garbage came back and the fake
    // endpoint closed. That is a clear cause too, but most failures must
    // name the garbage.
    let out = every_scenario_fails(
        Mode::NegotiateThenGarbage,
        &["invalid HTTP", "parse", "reset"],
    );
    let named = out
        .lines()
        .filter(|l| l.contains("invalid HTTP") || l.contains("parse"))
        .count();
    let resets = out.lines().filter(|l| l.contains("reset")).count();
    assert!(
        named > resets,
        "garbage is not named as the cause ({named} vs {resets} resets):\n{out}"
    );
}
