//! The real docker CLI against `shipshape-engine`: `docker events` over a
//! past window shows a container's life, filtered as dockerd filters.

use std::time::{SystemTime, UNIX_EPOCH};

use shipshape_tests::{ok, Engine};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[test]
fn events_show_a_container_life() {
    let e = Engine::start();
    let img = e.load_fixture();
    let since = now().saturating_sub(1);
    let id = ok(e.docker().args([
        "create", "--name", "evc", "--label", "team=a", &img, "/probe", "exit", "3",
    ]));
    let o = e
        .docker()
        .args(["start", "-a", "evc"])
        .output()
        .expect("docker start");
    assert_eq!(o.status.code(), Some(3));
    ok(e.docker().args(["rm", "evc"]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let until = now().to_string();
    let since = since.to_string();
    // `--until` in the past: the CLI prints the window and exits.
    let out = ok(e.docker().args([
        "events", "--since", &since, "--until", &until,
        "--filter", "type=container", "--filter", "container=evc",
        "--format", "{{.Action}} {{.Actor.ID}} {{index .Actor.Attributes \"name\"}} {{index .Actor.Attributes \"exitCode\"}}",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    let actions: Vec<&str> = lines.iter().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(
        actions,
        ["create", "attach", "start", "die", "destroy"],
        "{out}"
    );
    assert!(
        lines.iter().all(|l| l.contains(&id) && l.contains(" evc")),
        "{out}"
    );
    assert!(lines[3].ends_with(" 3"), "die carries exitCode: {out}");

    // Label and event filters, and the JSON shape the CLI decodes.
    let out = ok(e.docker().args([
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "label=team=a",
        "--filter",
        "event=die",
        "--format",
        "{{json .}}",
    ]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON event");
    assert_eq!(v["Type"], "container");
    assert_eq!(v["status"], "die");
    assert_eq!(v["from"], img);
    assert_eq!(v["Actor"]["Attributes"]["team"], "a");
    assert_eq!(v["scope"], "local");

    // Images: a tag and its removal.
    ok(e.docker().args(["tag", &img, "probe:ev2"]));
    ok(e.docker().args(["rmi", "probe:ev2"]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = ok(e.docker().args([
        "events",
        "--since",
        &since,
        "--until",
        &now().to_string(),
        "--filter",
        "type=image",
        "--format",
        "{{.Action}} {{index .Actor.Attributes \"name\"}}",
    ]));
    assert!(
        out.lines()
            .any(|l| l == "load " || l.starts_with("load sha256:")),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "tag probe:ev2"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("untag sha256:")), "{out}");

    // `until` before `since` is refused as dockerd does.
    let o = e
        .docker()
        .args(["events", "--since", &until, "--until", &since])
        .output()
        .expect("docker events");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot be after `until` time"));
}
