//! The real docker CLI against `shipshape-engine`: `docker network ls`,
//! `create`, `inspect`, `connect`, `rm`, `prune`. Bookkeeping only: the
//! engine sets up no bridge (see specs/engine/endpoints.json).

use shipshape_tests::{ok, run, stderr, Engine};

#[test]
fn network_create_inspect_connect_rm() {
    let e = Engine::start();
    let ls = ok(e.docker().args([
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ]));
    for want in ["bridge bridge local", "host host local", "none null local"] {
        assert!(ls.lines().any(|l| l == want), "{ls}");
    }
    let id = ok(e
        .docker()
        .args(["network", "create", "--label", "team=a", "appnet"]));
    assert_eq!(id.len(), 64, "{id}");
    let got = ok(e.docker().args([
        "network",
        "inspect",
        "--format",
        "{{.Name}} {{.Driver}} {{.Labels.team}} {{.Id}}",
        "appnet",
    ]));
    assert_eq!(got, format!("appnet bridge a {id}"));
    let o = run(e.docker().args(["network", "create", "appnet"]));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("network with name appnet already exists"),
        "{}",
        stderr(&o)
    );
    let o = run(e.docker().args(["network", "rm", "bridge"]));
    assert!(
        stderr(&o).contains("bridge is a pre-defined network and cannot be removed"),
        "{}",
        stderr(&o)
    );

    // A running container connected to the network is listed in it, and
    // keeps it from being removed.
    let img = e.load_fixture();
    ok(e.docker()
        .args(["run", "-d", "--name", "netc", &img, "/probe", "sleep", "60"]));
    ok(e.docker().args(["network", "connect", "appnet", "netc"]));
    let members = ok(e.docker().args([
        "network",
        "inspect",
        "--format",
        "{{range .Containers}}{{.Name}}{{end}}",
        "appnet",
    ]));
    assert_eq!(members, "netc");
    let o = run(e.docker().args(["network", "rm", "appnet"]));
    assert!(
        stderr(&o).contains("has active endpoints"),
        "{}",
        stderr(&o)
    );
    ok(e.docker().args(["network", "disconnect", "appnet", "netc"]));
    ok(e.docker().args(["rm", "-f", "netc"]));
    assert_eq!(ok(e.docker().args(["network", "rm", "appnet"])), "appnet");
    let o = run(e.docker().args(["network", "inspect", "appnet"]));
    assert!(!o.status.success());

    ok(e.docker().args(["network", "create", "spare"]));
    let pruned = ok(e.docker().args(["network", "prune", "-f"]));
    assert!(pruned.contains("spare"), "{pruned}");
    let ls = ok(e.docker().args(["network", "ls", "-q"]));
    assert_eq!(ls.lines().count(), 3, "{ls}");
}
