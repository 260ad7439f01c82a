//! The harness binary as a user meets it: bad input gets one clear line and a
//! non-zero exit, never a panic.

use std::process::Command;

use shipshape_tests::{harness_bin, run, stderr, stdout};

fn fails_cleanly(args: &[&str]) -> String {
    let o = run(Command::new(harness_bin()).args(args));
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded: {}", stdout(&o));
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(!err.trim().is_empty(), "{args:?} printed no error");
    err
}

#[test]
fn unreachable_host_is_a_clear_error() {
    fails_cleanly(&["run", "--host", "tcp://127.0.0.1:1"]);
    fails_cleanly(&["run", "--host", "unix:///nonexistent/docker.sock"]);
}

#[test]
fn bad_url_is_a_clear_error() {
    fails_cleanly(&["run", "--host", "bogus://x"]);
}

#[test]
fn an_endpoint_that_is_not_docker_is_a_clear_error() {
    // A TCP server that answers plain text, not the Docker API.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for s in listener.incoming().take(8) {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            );
        }
    });
    fails_cleanly(&["run", "--host", &format!("tcp://{addr}")]);
}
