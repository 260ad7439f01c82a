//! The model suite catches a planted bug: a tiny fake endpoint forwards
//! every request to dockerd but answers `204` where dockerd answers `304`
//! to stopping a container that is not running. `shipshape run --filter
//! model/` must fail, shrink the failure to a short sequence ending in a
//! stop, save the seed as a proptest regression file and print a replay
//! script that reproduces the mismatch against the same endpoint.
//!
//! Needs dockerd at unix:///var/run/docker.sock (CI starts it).

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use shipshape_harness::client::{Client, Req};
use shipshape_harness::fixture;

const DOCKERD: &str = "/var/run/docker.sock";

/// Reads one request (head and Content-Length body) from `c`.
fn read_request(c: &mut UnixStream) -> Option<(String, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if c.read(&mut byte).ok()? != 1 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    c.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// Forwards one connection's request to dockerd with `Connection: close`
/// and relays the answer, planting the bug on the way back.
fn serve(mut c: UnixStream) {
    let Some((head, body)) = read_request(&mut c) else {
        return;
    };
    let request_line = head.lines().next().unwrap_or("").to_string();
    let mut fwd = String::new();
    for l in head.split("\r\n").filter(|l| !l.is_empty()) {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            fwd.push_str(l);
            fwd.push_str("\r\n");
        }
    }
    fwd.push_str("Connection: close\r\n\r\n");
    let Ok(mut d) = UnixStream::connect(DOCKERD) else {
        return;
    };
    if d.write_all(fwd.as_bytes()).is_err() || d.write_all(&body).is_err() {
        return;
    }
    let mut answer = Vec::new();
    if d.read_to_end(&mut answer).is_err() {
        return;
    }
    // The planted bug: stopping a container that is not running "succeeds".
    let is_stop = request_line.starts_with("POST ") && request_line.contains("/stop");
    if is_stop && answer.starts_with(b"HTTP/1.1 304") {
        let end = answer
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(answer.len());
        let mut patched = b"HTTP/1.1 204 No Content".to_vec();
        patched.extend_from_slice(&answer[end..]);
        answer = patched;
    }
    let _ = c.write_all(&answer);
}

fn start_fake(dir: &Path) -> PathBuf {
    let sock = dir.join("fake.sock");
    let listener = UnixListener::bind(&sock).expect("bind the fake endpoint");
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            std::thread::spawn(move || serve(c));
        }
    });
    sock
}

fn shipshape() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shipshape"))
}

#[test]
fn planted_bug_is_caught_shrunk_persisted_and_replayable() {
    assert!(
        Path::new(DOCKERD).exists(),
        "this test needs dockerd at unix://{DOCKERD} (CI starts it)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = start_fake(dir.path());
    let regressions = dir.path().join("model-lifecycle.txt");
    let host = format!("unix://{}", sock.display());

    let out = shipshape()
        .args([
            "run", "--host", &host, "--filter", "model/", "--cases", "30",
        ])
        .args(["--seed", "1"])
        .env("SHIPSHAPE_MODEL_REGRESSIONS", &regressions)
        .env_remove("DOCKER_HOST")
        .output()
        .expect("run shipshape");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code();
    assert_eq!(
        code,
        Some(1),
        "the planted bug must fail the run:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("FAIL model/lifecycle"),
        "model/lifecycle should fail:\n{stdout}"
    );
    assert!(
        stdout.contains("model predicts 304, endpoint answered 204"),
        "the failure should be the stop answer:\n{stdout}"
    );

    // Shrunk: a create and the stop are all it takes (a start/stop pair
    // may precede when the shrinker keeps an exited container).
    let listing: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.contains("minimal failing sequence:"))
        .skip(1)
        .take_while(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .collect();
    assert!(
        !listing.is_empty() && listing.len() <= 4,
        "expected a short shrunk sequence, got {listing:?}\n{stdout}"
    );
    assert!(
        listing.last().is_some_and(|l| l.contains("stop k")),
        "the shrunk sequence should end with the stop: {listing:?}"
    );

    // Persisted in proptest's regression format.
    let saved = std::fs::read_to_string(&regressions).expect("regression file written");
    assert!(
        saved.lines().any(|l| l.starts_with("cc ")),
        "no seed in {saved}"
    );

    // The replay script reproduces it against the same endpoint.
    let script_path = stdout
        .lines()
        .find_map(|l| {
            let rest = l.split("replay script (also in ").nth(1)?;
            rest.strip_suffix("):").map(str::to_string)
        })
        .expect("the replay script's path is printed");
    let script = std::fs::read_to_string(&script_path).expect("replay script");
    assert!(
        script.contains("curl") && script.contains("/stop"),
        "{script}"
    );
    // The run's cleanup removed its fixture tag: load the fixture again
    // under a tag of this test's own for the replay.
    let tag = format!("shipshape-probe:replay-{:08x}", std::process::id());
    let (repo, t) = tag.split_once(':').expect("tag");
    let mut client = Client::from_url(&format!("unix://{DOCKERD}")).expect("client");
    client.negotiate(None).expect("negotiate with dockerd");
    // Untagged archive: the load names the ID, and no tag but ours is made.
    let fx = fixture::build(&[]).expect("fixture");
    let load = client
        .send(Req::post("/images/load?quiet=1").raw(fx.tarball.clone(), "application/x-tar"))
        .expect("load");
    assert_eq!(load.status, 200, "{}", load.text());
    let tagged = client
        .send(Req::post(format!(
            "/images/{}/tag?repo={repo}&tag={t}",
            fx.image_id
        )))
        .expect("tag");
    assert_eq!(tagged.status, 201, "{}", tagged.text());
    let replay = Command::new("sh")
        .arg(&script_path)
        .env("FIXTURE", &tag)
        .output()
        .expect("run the replay script");
    let _ = client.send(Req::delete(format!("/images/{tag}")));
    let replay_out = String::from_utf8_lossy(&replay.stdout).into_owned();
    assert!(
        replay_out.lines().any(|l| l.starts_with("MISMATCH")
            && l.contains("/stop")
            && l.contains("-> 204 (model: 304)")),
        "the replay should show the stop mismatch:\n{replay_out}\n{}",
        String::from_utf8_lossy(&replay.stderr)
    );
}
