//! The client against fake endpoints on unix sockets, and against dockerd.

use super::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;

#[test]
fn parses_targets() {
    assert_eq!(
        Target::parse("unix:///var/run/docker.sock").expect("unix"),
        Target::Unix("/var/run/docker.sock".into())
    );
    assert_eq!(
        Target::parse("tcp://127.0.0.1:2375").expect("tcp"),
        Target::Tcp("127.0.0.1:2375".into())
    );
    assert_eq!(
        Target::parse("http://localhost:1234/").expect("http"),
        Target::Tcp("localhost:1234".into())
    );
    assert_eq!(
        Target::parse("tcp://example").expect("default port"),
        Target::Tcp("example:2375".into())
    );
    for bad in [
        "bogus://x",
        "unix://",
        "unix://rel",
        "tcp://",
        "tcp://h:99999",
        "x",
    ] {
        assert!(Target::parse(bad).is_err(), "{bad} should be rejected");
    }
}

#[test]
fn parses_ssh_targets_as_the_cli() {
    let t = Target::parse("ssh://me@example.com:2222").expect("ssh");
    let Target::Ssh(s) = &t else {
        panic!("not ssh: {t:?}")
    };
    assert_eq!(
        s.args(),
        [
            "-o",
            "ConnectTimeout=30",
            "-l",
            "me",
            "-p",
            "2222",
            "--",
            "example.com",
            "docker",
            "system",
            "dial-stdio"
        ]
    );
    assert_eq!(t.to_string(), "ssh://me@example.com:2222");
    let plain = Target::parse("ssh://host").expect("ssh without user and port");
    assert_eq!(plain.to_string(), "ssh://host");
    for bad in ["ssh://", "ssh://me:pw@host", "ssh://host/path", "ssh://h:x"] {
        assert!(Target::parse(bad).is_err(), "{bad} should be rejected");
    }
    // TLS goes with tcp:// only.
    let tls = tls::TlsClient::new(tls::TlsSettings::default()).expect("--tls");
    assert!(plain.with_tls(tls.clone()).is_err());
    let t = Target::parse("tcp://127.0.0.1:2376")
        .and_then(|t| t.with_tls(tls))
        .expect("tcp with tls");
    assert_eq!(t.to_string(), "tcp://127.0.0.1:2376");
    assert!(t
        .transport()
        .starts_with("tls (no handshake yet, not verified"));
}

#[test]
fn encodes_components() {
    assert_eq!(enc("shipshape-probe:run-1"), "shipshape-probe:run-1");
    assert_eq!(enc("bad name!"), "bad%20name%21");
    assert_eq!(
        enc("{\"label\":[\"a=b\"]}"),
        "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D".replace("%3A", ":")
    );
}

#[test]
fn orders_versions_numerically() {
    let v = |s| ApiVersion::parse(s).expect("version");
    assert!(v("1.9") < v("1.41"));
    assert!(v("1.41") < v("1.50"));
    assert_eq!(v("1.41").to_string(), "1.41");
    assert!(ApiVersion::parse("1").is_err());
    assert!(ApiVersion::parse("a.b").is_err());
}

#[test]
fn demuxes_frames() {
    let mut data = vec![1, 0, 0, 0, 0, 0, 0, 3];
    data.extend_from_slice(b"out");
    data.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
    data.extend_from_slice(b"err\n");
    let d = demux(&data).expect("demux");
    assert_eq!(d.stdout, b"out");
    assert_eq!(d.stderr, b"err\n");
    assert_eq!(d.frames.len(), 2);
    assert!(demux(&data[..5]).is_err());
    assert!(demux(&[1, 0, 0, 0, 0, 0, 0, 9, b'x']).is_err());
    assert!(demux(b"plain text, not multiplexed").is_err());
}

/// A one-connection-per-request fake server on a unix socket: each
/// accepted connection gets the next canned response.
fn fake_server(responses: Vec<String>) -> (tempfile::TempDir, Target) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("fake.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    std::thread::spawn(move || {
        for resp in responses {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            // Read the request head; requests here have no body.
            let mut buf = Vec::new();
            let mut byte = [0u8; 1];
            while !buf.ends_with(b"\r\n\r\n") {
                match conn.read(&mut byte) {
                    Ok(1) => buf.push(byte[0]),
                    _ => break,
                }
            }
            let _ = conn.write_all(resp.as_bytes());
        }
    });
    (dir, Target::Unix(sock))
}

fn ping(api: Option<&str>) -> String {
    let h = api
        .map(|v| format!("Api-Version: {v}\r\n"))
        .unwrap_or_default();
    format!("HTTP/1.1 200 OK\r\n{h}Content-Length: 0\r\nConnection: close\r\n\r\n")
}

fn version_doc(api: &str) -> String {
    let body = format!(r#"{{"Version":"fake","ApiVersion":"{api}","MinAPIVersion":"1.24"}}"#);
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn negotiates_server_version() {
    let (_d, t) = fake_server(vec![ping(Some("1.45")), version_doc("1.45")]);
    let mut c = Client::new(t).expect("client");
    let n = c.negotiate(None).expect("negotiate");
    assert_eq!(n.api_version.to_string(), "1.45");
    assert_eq!(
        n.server_min_api_version.map(|v| v.to_string()),
        Some("1.24".into())
    );
    let ex = c.transcript().all();
    assert_eq!(ex[0].method, "HEAD");
    assert_eq!(ex[0].path, "/_ping");
    assert_eq!(ex[1].path, "/v1.45/version");
}

#[test]
fn caps_at_max_version() {
    let (_d, t) = fake_server(vec![ping(Some("1.99")), version_doc("1.99")]);
    let mut c = Client::new(t).expect("client");
    let n = c.negotiate(None).expect("negotiate");
    assert_eq!(n.api_version, MAX_API_VERSION);
    assert_eq!(n.server_api_version.to_string(), "1.99");
}

#[test]
fn pinned_version_wins() {
    let (_d, t) = fake_server(vec![ping(Some("1.45")), version_doc("1.45")]);
    let mut c = Client::new(t).expect("client");
    let n = c
        .negotiate(Some(ApiVersion::parse("1.30").expect("v")))
        .expect("negotiate");
    assert_eq!(n.api_version.to_string(), "1.30");
    assert!(n.pinned);
    assert_eq!(c.transcript().all()[1].path, "/v1.30/version");
}

#[test]
fn falls_back_to_get_ping() {
    let not_allowed =
        "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let (_d, t) = fake_server(vec![
        not_allowed.to_string(),
        ping(Some("1.41")),
        version_doc("1.41"),
    ]);
    let mut c = Client::new(t).expect("client");
    let n = c.negotiate(None).expect("negotiate");
    assert_eq!(n.api_version.to_string(), "1.41");
    assert_eq!(c.transcript().all()[1].method, "GET");
}

#[test]
fn rejects_non_docker_endpoint() {
    let (_d, t) = fake_server(vec![ping(None), ping(None)]);
    let mut c = Client::new(t).expect("client");
    let err = c.negotiate(None).expect_err("not docker");
    assert!(matches!(err, ClientError::NotDocker { .. }), "{err}");
}

#[test]
fn rejects_garbage_response() {
    let (_d, t) = fake_server(vec!["SSH-2.0-OpenSSH\r\n\r\n".to_string()]);
    let mut c = Client::new(t).expect("client");
    let err = c.negotiate(None).expect_err("garbage");
    assert!(matches!(err, ClientError::Http { .. }), "{err}");
    assert!(c.transcript().all()[0].error.is_some());
}

#[test]
fn unreachable_is_connect_error() {
    let c = Client::from_url("unix:///nonexistent/shipshape.sock").expect("client");
    let err = c.send(Req::get("/_ping")).expect_err("unreachable");
    assert!(matches!(err, ClientError::Connect { .. }), "{err}");
}

#[test]
fn hanging_endpoint_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("hang.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    let _keep = std::thread::spawn(move || {
        let conn = listener.accept();
        std::thread::sleep(Duration::from_secs(3));
        drop(conn);
    });
    let mut c = Client::new(Target::Unix(sock)).expect("client");
    c.set_timeout(Duration::from_millis(300));
    let err = c.send(Req::get("/_ping")).expect_err("timeout");
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
}

#[test]
fn slow_step_allowances_scale_with_the_timeout() {
    let mut c = Client::new(Target::Tcp("127.0.0.1:1".into())).expect("client");
    let s = Duration::from_secs;
    assert_eq!(c.scaled(s(180)), s(180), "default timeout: unchanged");
    c.set_timeout(s(1));
    assert_eq!(c.scaled(s(180)), s(3));
    assert_eq!(c.scaled(s(30)), s(1), "never below the timeout itself");
    c.set_timeout(s(120));
    assert_eq!(c.scaled(s(180)), s(360));
}

#[test]
fn message_reads_json_and_text() {
    let r = |body: &str| Response {
        status: 400,
        headers: vec![],
        body: Bytes::from(body.to_string()),
        exchange: 0,
    };
    assert_eq!(
        r(r#"{"message":"boom"}"#).message().as_deref(),
        Some("boom")
    );
    assert_eq!(r("too old\n").message().as_deref(), Some("too old"));
    assert_eq!(r("").message(), None);
}

/// Against the real daemon: CI always has dockerd, so a missing socket
/// is a failure, not a skip.
#[test]
fn negotiates_with_dockerd() {
    let sock = std::path::Path::new("/var/run/docker.sock");
    assert!(
        sock.exists(),
        "this test needs dockerd at unix:///var/run/docker.sock (CI starts it)"
    );
    let mut c = Client::from_url("unix:///var/run/docker.sock").expect("client");
    let n = c.negotiate(None).expect("negotiate with dockerd");
    assert_eq!(n.api_version, n.server_api_version.min(MAX_API_VERSION));
    let ping = c.send(Req::get("/_ping")).expect("ping");
    assert_eq!(ping.status, 200);
    assert_eq!(ping.text(), "OK");
    assert!(c.transcript().all()[2].path.starts_with("/v1."));
}
