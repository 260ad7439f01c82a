//! `shipshape run` against the engine listening with `--tlsverify`, with
//! the docker CLI's flags and variables, and one clear line (exit 2) for
//! each way TLS goes wrong. Certificates are made here (support `tls`).

use super::{filters, passed, shipshape};
use shipshape_tests::tls::{Ca, Leaf};
use shipshape_tests::{run, stderr, stdout, Engine};
use std::path::{Path, PathBuf};

/// An engine on `tcp://127.0.0.1:PORT --tlsverify` with a server
/// certificate made by `make_server`, and the CA's and a good client's
/// files.
struct TlsEngine {
    engine: Engine,
    dir: tempfile::TempDir,
    url: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn server(names: &'static [&'static str], expired: bool) -> Leaf<'static> {
    Leaf {
        names,
        common_name: "shipshape test engine",
        server: true,
        expired,
    }
}

const CLIENT: Leaf<'static> = Leaf {
    names: &[],
    common_name: "shipshape test client",
    server: false,
    expired: false,
};

impl TlsEngine {
    fn start(leaf: Leaf<'_>) -> TlsEngine {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = Ca::new("shipshape test CA");
        let ca_pem = ca.write(&dir.path().join("ca.pem"));
        let (scert, skey) = ca.leaf(dir.path(), "server", &leaf);
        let (cert, key) = ca.leaf(dir.path(), "client", &CLIENT);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let url = format!("tcp://127.0.0.1:{port}");
        let p = |p: &Path| p.display().to_string();
        let engine = Engine::start_with(&[
            "-H",
            &url,
            "--tlsverify",
            "--tlscacert",
            &p(&ca_pem),
            "--tlscert",
            &p(&scert),
            "--tlskey",
            &p(&skey),
        ]);
        TlsEngine {
            engine,
            dir,
            url,
            ca: ca_pem,
            cert,
            key,
        }
    }

    /// `shipshape run --host URL --tlsverify --tlscacert CA [client cert]`.
    fn run(&self, ca: &Path, client: bool, extra: &[&str]) -> std::process::Output {
        let mut c = shipshape(self.dir.path());
        c.args(["run", "--host", &self.url, "--tlsverify", "--tlscacert"])
            .arg(ca);
        if client {
            c.arg("--tlscert")
                .arg(&self.cert)
                .arg("--tlskey")
                .arg(&self.key);
        }
        run(c.args(extra))
    }
}

/// Runs that cannot start end with one line on stderr and exit 2.
fn one_line_error(o: &std::process::Output) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout: {}\nstderr: {err}",
        stdout(o)
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("shipshape: error: "), "{err}");
    err
}

#[test]
fn run_passes_against_the_engine_with_tlsverify_flags_and_variables() {
    let e = TlsEngine::start(server(&["127.0.0.1", "localhost"], false));
    // The docker CLI's flags.
    let mut c = shipshape(e.dir.path());
    c.args(["run", "--host", &e.url, "--tlsverify", "--tlscacert"])
        .arg(&e.ca)
        .arg("--tlscert")
        .arg(&e.cert)
        .arg("--tlskey")
        .arg(&e.key);
    let o = run(filters(&mut c));
    let out = passed(&o);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.contains("via tls (server certificate CN=shipshape test engine, verified against"),
        "{first}\nengine log: {}",
        e.engine.log()
    );
    // The docker CLI's variables: DOCKER_HOST, DOCKER_TLS_VERIFY and
    // DOCKER_CERT_PATH holding ca.pem, cert.pem and key.pem.
    let certs = e.dir.path().join("certs");
    std::fs::create_dir(&certs).expect("mkdir");
    for (from, to) in [
        (&e.ca, "ca.pem"),
        (&e.cert, "cert.pem"),
        (&e.key, "key.pem"),
    ] {
        std::fs::copy(from, certs.join(to)).expect("copy");
    }
    let o = run(shipshape(e.dir.path())
        .env("DOCKER_HOST", &e.url)
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &certs)
        .args(["run", "--filter", "system/ping"]));
    assert!(passed(&o).contains("(DOCKER_HOST; via tls (server certificate"));
    // The same files in DOCKER_CONFIG (~/.docker) are the default.
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::copy(certs.join(f), e.dir.path().join(f)).expect("copy");
    }
    let o = run(shipshape(e.dir.path()).args([
        "run",
        "--host",
        &e.url,
        "--tlsverify",
        "--filter",
        "system/ping",
    ]));
    passed(&o);
}

#[test]
fn tls_unknown_authority_is_one_clear_line() {
    let e = TlsEngine::start(server(&["127.0.0.1"], false));
    let other = Ca::new("some other CA").write(&e.dir.path().join("other-ca.pem"));
    let err = one_line_error(&e.run(&other, true, &["--filter", "system/ping"]));
    assert!(
        err.contains("is not signed by the CA in") && err.contains("other-ca.pem"),
        "{err}"
    );
}

#[test]
fn tls_wrong_host_name_is_one_clear_line() {
    let e = TlsEngine::start(server(&["engine.example"], false));
    let err = one_line_error(&e.run(&e.ca, true, &["--filter", "system/ping"]));
    assert!(err.contains("is not valid for the host name"), "{err}");
}

#[test]
fn tls_missing_client_certificate_is_one_clear_line() {
    let e = TlsEngine::start(server(&["127.0.0.1"], false));
    let err = one_line_error(&e.run(&e.ca, false, &["--filter", "system/ping"]));
    assert!(
        err.contains("requires a client certificate and none was given"),
        "{err}"
    );
}

#[test]
fn tls_expired_certificate_is_one_clear_line() {
    let e = TlsEngine::start(server(&["127.0.0.1"], true));
    let err = one_line_error(&e.run(&e.ca, true, &["--filter", "system/ping"]));
    assert!(err.contains("has expired"), "{err}");
}

#[test]
fn tls_file_problems_name_the_file() {
    let e = TlsEngine::start(server(&["127.0.0.1"], false));
    let missing = e.dir.path().join("no-such-ca.pem");
    let err = one_line_error(&e.run(&missing, true, &[]));
    assert!(
        err.contains("--tlscacert") && err.contains("no-such-ca.pem"),
        "{err}"
    );
}
