//! `GET /containers/json?filters=...`: every key dockerd 20.10.24 takes
//! (ancestor, before, expose, exited, health, id, isolation, is-task, label,
//! name, network, publish, since, status, volume), its answers to bad values,
//! and a property: generated containers and generated filters agree with a
//! model where dockerd's law is simple (label, status, name, id, exited).
//! Every expected answer below was read from dockerd 20.10.24 (API 1.41).

use super::{expect_error, list_ids, list_request, Made};
use crate::client::Response;
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};
use crate::scenarios::{scenario, Scenario};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

const AREA: &str = "containers-api";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(AREA, "list-filter-since-before", true, since_before),
        scenario(AREA, "list-filter-exited", true, exited),
        scenario(AREA, "list-filter-more-keys", true, more_keys),
        scenario(AREA, "list-filter-bad-values", false, bad_values),
        scenario(AREA, "list-filter-property", true, property),
    ]
}

/// Fails unless the listing with `filters` holds exactly `want` of `among`.
fn expect_ids(ctx: &Ctx, filters: Value, all: bool, among: &[String], want: &[&String]) -> Outcome {
    let (resp, got) = list_ids(ctx, &filters, all, among)?;
    let want: BTreeSet<String> = want.iter().map(|s| (*s).clone()).collect();
    if got == want {
        return Ok(());
    }
    let short = |s: &BTreeSet<String>| s.iter().map(|i| i[..12].to_string()).collect::<Vec<_>>();
    Err(fail_at(
        &resp,
        format!(
            "filters {filters} (all={all}): listed {:?} of ours, dockerd lists {:?} (ours, oldest first: {:?})",
            short(&got),
            short(&want),
            among.iter().map(|i| &i[..12]).collect::<Vec<_>>()
        ),
    ))
}

/// Creates a probe container with `extra` merged into its config, runs it
/// to its exit when `exit` is given, and remembers it in `made`.
fn make(
    ctx: &Ctx,
    made: &mut Made,
    name: Option<&str>,
    exit: Option<i64>,
    extra: Value,
) -> Result<String, Problem> {
    let code = exit.unwrap_or(0).to_string();
    let mut cfg = ctx.probe_config(&["exit", &code])?;
    if let (Some(c), Some(e)) = (cfg.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if k == "Labels" {
                if let (Some(l), Some(more)) = (
                    c.get_mut("Labels").and_then(Value::as_object_mut),
                    v.as_object(),
                ) {
                    l.extend(more.clone());
                }
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
    }
    let id = made.create(cfg, name)?;
    if let Some(want) = exit {
        ctx.start(&id)?;
        let got = ctx.wait(&id)?;
        if got != want {
            return Err(fail(format!("probe exited {got}, expected {want}")));
        }
    }
    Ok(id)
}

/// dockerd walks containers newest first: `before` skips down to the named
/// one, `since` stops at it. Either takes a full ID or an exact name (with
/// or without the slash); anything else is 500 "no such container X".
fn since_before(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let names: Vec<String> = (0..3).map(|i| ctx.unique_name(&format!("sb{i}"))).collect();
    let mut ids = Vec::new();
    for n in &names {
        ids.push(make(ctx, &mut made, Some(n), None, json!({}))?);
    }
    let all = ids.clone();
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    // The list itself is newest first (dockerd sorts by creation time, to
    // the nanosecond: three creates in one second keep their order).
    let resp = ctx.send(list_request(&json!({"id": all}), true))?;
    expect_status(&resp, 200, "listing the three by id")?;
    let listed: Vec<String> = json_body(&resp, "container list")?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["Id"].as_str().map(str::to_string))
        .collect();
    if listed != [c.clone(), b.clone(), a.clone()] {
        let short = |v: &[String]| v.iter().map(|i| i[..12].to_string()).collect::<Vec<_>>();
        return Err(fail_at(
            &resp,
            format!(
                "listed {:?}; dockerd lists newest first: {:?}",
                short(&listed),
                short(&[c.clone(), b.clone(), a.clone()])
            ),
        ));
    }
    expect_ids(ctx, json!({"since": [names[0]]}), true, &all, &[b, c])?;
    expect_ids(ctx, json!({"since": [b]}), true, &all, &[c])?;
    expect_ids(ctx, json!({"before": [names[2]]}), true, &all, &[a, b])?;
    expect_ids(
        ctx,
        json!({"before": [format!("/{}", names[1])]}),
        true,
        &all,
        &[a],
    )?;
    expect_ids(
        ctx,
        json!({"since": [names[0]], "before": [names[2]]}),
        true,
        &all,
        &[b],
    )?;
    // A short ID is not looked up: dockerd answers 500 "no such container <value>".
    let short = &a[..12];
    let resp = ctx.send(list_request(&json!({"since": [short]}), true))?;
    expect_error(
        &resp,
        500,
        &format!("no such container {short}"),
        "since=<short id>",
    )?;
    let missing = ctx.unique_name("missing");
    for key in ["since", "before"] {
        let resp = ctx.send(list_request(&json!({ key: [missing] }), true))?;
        expect_error(
            &resp,
            500,
            &format!("no such container {missing}"),
            &format!("{key}=<missing>"),
        )?;
    }
    Ok(())
}

/// `exited=N` keeps containers that ran and exited with N (a created
/// container never exited), and, unlike `status`, does not imply `all`.
fn exited(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let three = make(ctx, &mut made, None, Some(3), json!({}))?;
    let zero = make(ctx, &mut made, None, Some(0), json!({}))?;
    let _created = make(ctx, &mut made, None, None, json!({}))?;
    let all = made.ids.clone();
    expect_ids(ctx, json!({"exited": ["3"]}), true, &all, &[&three])?;
    expect_ids(ctx, json!({"exited": ["0"]}), true, &all, &[&zero])?;
    expect_ids(
        ctx,
        json!({"exited": ["0", "3"]}),
        true,
        &all,
        &[&three, &zero],
    )?;
    expect_ids(ctx, json!({"exited": ["3"]}), false, &all, &[])?;
    expect_ids(
        ctx,
        json!({"exited": ["3"], "status": ["exited"]}),
        false,
        &all,
        &[&three],
    )?;
    // dockerd answered 500 `strconv.Atoi: parsing "abc": invalid syntax`.
    let resp = ctx.send(list_request(&json!({"exited": ["abc"]}), true))?;
    expect_error(
        &resp,
        500,
        "strconv.Atoi: parsing \"abc\": invalid syntax",
        "exited=abc",
    )
}

/// health, isolation, is-task, network, volume, expose, publish, and
/// `status` implying `all`, on a created container without a network and
/// with a bind, beside a plain one.
fn more_keys(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let mark = ctx.unique_name("mark");
    let lone = make(
        ctx,
        &mut made,
        None,
        None,
        json!({
            "Labels": {"io.shipshape.a2": mark},
            "ExposedPorts": {"80/tcp": {}},
            "HostConfig": {"NetworkMode": "none", "Binds": ["/tmp:/mnt/a2-bind:ro"]}
        }),
    )?;
    let plain = make(ctx, &mut made, None, None, json!({}))?;
    let all = made.ids.clone();
    let both = [&lone, &plain];
    // Without a healthcheck a container's health is "none".
    expect_ids(ctx, json!({"health": ["none"]}), true, &all, &both)?;
    expect_ids(ctx, json!({"health": ["healthy"]}), true, &all, &[])?;
    expect_ids(ctx, json!({"isolation": ["default"]}), true, &all, &both)?;
    // On Linux dockerd accepts any isolation value and filters nothing out.
    expect_ids(ctx, json!({"isolation": ["hyperv"]}), true, &all, &both)?;
    ancestor(ctx, &all)?;
    expect_ids(ctx, json!({"is-task": ["false"]}), true, &all, &both)?;
    expect_ids(ctx, json!({"is-task": ["true"]}), true, &all, &[])?;
    expect_ids(ctx, json!({"network": ["none"]}), true, &all, &[&lone])?;
    expect_ids(
        ctx,
        json!({"volume": ["/mnt/a2-bind"]}),
        true,
        &all,
        &[&lone],
    )?;
    expect_ids(ctx, json!({"volume": ["/mnt/elsewhere"]}), true, &all, &[])?;
    // Ports count once published on a running container: a created one
    // matches neither, though it exposes 80.
    expect_ids(ctx, json!({"expose": ["80"]}), true, &all, &[])?;
    expect_ids(ctx, json!({"publish": ["80/tcp"]}), true, &all, &[])?;
    expect_ids(ctx, json!({"status": ["created"]}), false, &all, &both)?;
    // Labels AND, names OR.
    expect_ids(
        ctx,
        json!({"label": [format!("io.shipshape.a2={mark}"), format!("{}={}", crate::ground::RUN_LABEL, ctx.run_id)]}),
        true,
        &all,
        &[&lone],
    )?;
    expect_ids(
        ctx,
        json!({"id": [&lone[..12], &plain[..12]]}),
        true,
        &all,
        &both,
    )?;
    Ok(())
}

/// `ancestor` names the image by reference, full ID or short ID, and keeps
/// only the containers of that image (or of its descendants): beside
/// `fixture_users`, a container of an imported image that is no kin of the
/// fixture (created only: it has no binary to run).
fn ancestor(ctx: &Ctx, fixture_users: &[String]) -> Outcome {
    let image = ctx.image()?;
    let repo = ctx.unique_name("ancestor");
    let reference = format!("{repo}:1");
    ctx.record_created_image(reference.clone());
    let mut made = Made::new(ctx);
    let res = (|| {
        let changes = format!("LABEL {}={}", crate::ground::RUN_LABEL, ctx.run_id);
        let resp = ctx.send(
            crate::client::Req::post(format!(
                "/images/create?fromSrc=-&repo={}&tag=1&changes={}",
                crate::client::enc(&repo),
                crate::client::enc(&changes)
            ))
            .raw(
                crate::scenarios::api::tar_of(&[("f", "hi\n")])?,
                "application/x-tar",
            ),
        )?;
        expect_status(&resp, 200, "importing an image")?;
        let other = made.create(ctx.probe_config_for(&reference, &["exit", "0"]), None)?;
        let mut among = fixture_users.to_vec();
        among.push(other.clone());
        let users: Vec<&String> = fixture_users.iter().collect();
        let hex = image.id.trim_start_matches("sha256:");
        for a in [image.tag.as_str(), image.id.as_str(), &hex[..12]] {
            expect_ids(ctx, json!({"ancestor": [a]}), true, &among, &users)?;
        }
        expect_ids(
            ctx,
            json!({"ancestor": [reference]}),
            true,
            &among,
            &[&other],
        )
    })();
    drop(made);
    let _ = ctx.send(crate::client::Req::delete(format!(
        "/images/{}",
        crate::client::enc(&reference)
    )));
    ctx.forget_created_image(&reference);
    res
}

/// Bad values, each with dockerd's status and message.
fn bad_values(ctx: &Ctx) -> Outcome {
    let cases: &[(Value, u16, &str)] = &[
        (json!({"status": ["bogus"]}), 400, "Invalid filter 'status=bogus'"),
        (json!({"bogus": ["x"]}), 400, "Invalid filter 'bogus'"),
        (
            json!({"health": ["bogus"]}),
            400,
            "Unrecognised filter value for health: bogus",
        ),
        (
            json!({"is-task": ["bogus"]}),
            400,
            "Invalid filter 'is-task=[bogus]'",
        ),
        (
            json!({"publish": ["bogus"]}),
            500,
            "error while looking up for publish bogus: strconv.ParseUint: parsing \"bogus\": invalid syntax",
        ),
        (
            json!({"expose": ["1-x"]}),
            500,
            "error while looking up for expose 1-x: strconv.ParseUint: parsing \"x\": invalid syntax",
        ),
        (
            json!({"publish": ["1:2"]}),
            500,
            "filter for 'publish' should not contain ':': 1:2",
        ),
        (
            json!({"publish": ["90-80"]}),
            500,
            "error while looking up for publish 90-80: Invalid range specified for the Port: 90-80",
        ),
        (
            json!({"expose": ["70000"]}),
            500,
            "error while looking up for expose 70000: strconv.ParseUint: parsing \"70000\": value out of range",
        ),
        (
            json!({"publish": [""]}),
            500,
            "error while looking up for publish : Empty string specified for ports.",
        ),
    ];
    for (filters, status, message) in cases {
        let resp = ctx.send(list_request(filters, true))?;
        expect_error(&resp, *status, message, &format!("filters {filters}"))?;
    }
    // Accepted, matching nothing of ours: a well-formed port, an unknown
    // isolation, network or image.
    for filters in [
        json!({"publish": ["80/"]}),
        json!({"isolation": ["bogus"]}),
        json!({"network": [ctx.unique_name("net")]}),
        json!({"ancestor": [ctx.unique_name("img")]}),
    ] {
        let resp = ctx.send(list_request(&filters, true))?;
        ok_status(&resp, &filters)?;
    }
    Ok(())
}

fn ok_status(resp: &Response, filters: &Value) -> Outcome {
    if resp.status == 200 {
        Ok(())
    } else {
        Err(fail_at(
            resp,
            format!(
                "filters {filters}: dockerd answers 200, got {}",
                crate::ground::describe(resp)
            ),
        ))
    }
}

/// One generated container: optional labels and whether it ran (to which
/// exit code) or was only created.
#[derive(Debug, Clone)]
struct Spec {
    k1: Option<&'static str>,
    k2: bool,
    exit: Option<i64>,
}

/// One generated filter key with its values (indices pick containers).
#[derive(Debug, Clone)]
enum Key {
    Label(Vec<&'static str>),
    Status(Vec<&'static str>),
    Name(Vec<(usize, bool)>),
    Id(Vec<usize>),
    Exited(Vec<i64>),
}

const LABEL_VALUES: &[&str] = &["a2.k1", "a2.k1=x", "a2.k1=y", "a2.k2", "a2.k2=z", "a2.k2=w"];

fn case_strategy() -> impl Strategy<Value = (Vec<Spec>, Vec<Vec<Key>>)> {
    let spec = (
        prop::option::of(prop::sample::select(vec!["x", "y"])),
        any::<bool>(),
        prop::option::of(0i64..3),
    )
        .prop_map(|(k1, k2, exit)| Spec { k1, k2, exit });
    let key = prop_oneof![
        prop::collection::vec(prop::sample::select(LABEL_VALUES), 1..3).prop_map(Key::Label),
        prop::collection::vec(
            prop::sample::select(vec!["created", "exited", "running"]),
            1..3
        )
        .prop_map(Key::Status),
        prop::collection::vec((0usize..4, any::<bool>()), 1..3).prop_map(Key::Name),
        prop::collection::vec(0usize..4, 1..3).prop_map(Key::Id),
        prop::collection::vec(0i64..3, 1..3).prop_map(Key::Exited),
    ];
    (
        prop::collection::vec(spec, 2..5),
        prop::collection::vec(prop::collection::vec(key, 1..3), 3..6),
    )
}

/// A generated filter may name a key twice: the query sends one key with
/// both lists of values, so the model sees them merged too.
fn merged(keys: &[Key]) -> Vec<Key> {
    let mut out: Vec<Key> = Vec::new();
    for k in keys {
        let same = out
            .iter_mut()
            .find(|o| std::mem::discriminant(*o) == std::mem::discriminant(k));
        match (same, k) {
            (Some(Key::Label(a)), Key::Label(b)) => a.extend(b),
            (Some(Key::Status(a)), Key::Status(b)) => a.extend(b),
            (Some(Key::Name(a)), Key::Name(b)) => a.extend(b),
            (Some(Key::Id(a)), Key::Id(b)) => a.extend(b),
            (Some(Key::Exited(a)), Key::Exited(b)) => a.extend(b),
            _ => out.push(k.clone()),
        }
    }
    out
}

/// What dockerd keeps, by its documented law: values of `label` AND, of
/// every other key OR; keys AND; `exited` needs a container that ran.
fn model_keeps(specs: &[Spec], i: usize, names: &[String], ids: &[String], keys: &[Key]) -> bool {
    let s = &specs[i];
    let keys = merged(keys);
    let label_ok = |l: &str| -> bool {
        let (k, v) = match l.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (l, None),
        };
        let have = match k {
            "a2.k1" => s.k1,
            "a2.k2" => s.k2.then_some("z"),
            _ => None,
        };
        have.is_some() && (v.is_none() || have == v)
    };
    keys.iter().all(|key| match key {
        Key::Label(v) => v.iter().all(|l| label_ok(l)),
        Key::Status(v) => {
            let st = if s.exit.is_some() {
                "exited"
            } else {
                "created"
            };
            v.contains(&st)
        }
        Key::Name(v) => v.iter().any(|(j, _)| j % names.len() == i),
        Key::Id(v) => v.iter().any(|j| j % ids.len() == i),
        Key::Exited(v) => s.exit.is_some_and(|e| v.contains(&e)),
    })
}

fn filters_json(keys: &[Key], names: &[String], ids: &[String]) -> Value {
    let mut m = Map::new();
    for key in keys {
        let (k, vals): (&str, Vec<String>) = match key {
            Key::Label(v) => ("label", v.iter().map(|s| s.to_string()).collect()),
            Key::Status(v) => ("status", v.iter().map(|s| s.to_string()).collect()),
            Key::Name(v) => (
                "name",
                v.iter()
                    .map(|(j, anchored)| {
                        let n = &names[j % names.len()];
                        if *anchored {
                            format!("^{n}$")
                        } else {
                            n.clone()
                        }
                    })
                    .collect(),
            ),
            Key::Id(v) => (
                "id",
                v.iter()
                    .map(|j| ids[j % ids.len()][..12].to_string())
                    .collect(),
            ),
            Key::Exited(v) => ("exited", v.iter().map(i64::to_string).collect()),
        };
        // A key given twice in one generated filter merges its values.
        let entry = m.entry(k).or_insert_with(|| json!([]));
        if let Some(a) = entry.as_array_mut() {
            a.extend(vals.into_iter().map(Value::String));
        }
    }
    Value::Object(m)
}

fn property_case(ctx: &Ctx, specs: &[Spec], queries: &[Vec<Key>]) -> Outcome {
    let mut made = Made::new(ctx);
    let mut names = Vec::new();
    for s in specs {
        let name = ctx.unique_name("lf");
        let mut labels = Map::new();
        if let Some(v) = s.k1 {
            labels.insert("a2.k1".into(), json!(v));
        }
        if s.k2 {
            labels.insert("a2.k2".into(), json!("z"));
        }
        make(
            ctx,
            &mut made,
            Some(&name),
            s.exit,
            json!({ "Labels": labels }),
        )?;
        names.push(name);
    }
    let ids = made.ids.clone();
    for keys in queries {
        let filters = filters_json(keys, &names, &ids);
        let want: Vec<&String> = (0..specs.len())
            .filter(|&i| model_keeps(specs, i, &names, &ids, keys))
            .map(|i| &ids[i])
            .collect();
        expect_ids(ctx, filters, true, &ids, &want)?;
    }
    Ok(())
}

/// Runs the property with its own runner seeded from `--seed`.
fn property(ctx: &Ctx) -> Outcome {
    ctx.image()?;
    let name = "containers-api/list-filter-property";
    crate::ground::property::check(ctx, name, case_strategy(), |(specs, queries)| {
        property_case(ctx, specs, queries)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ands_labels_and_ors_other_values() {
        let specs = vec![
            Spec {
                k1: Some("x"),
                k2: true,
                exit: Some(1),
            },
            Spec {
                k1: None,
                k2: false,
                exit: None,
            },
        ];
        let names = vec!["a".to_string(), "b".to_string()];
        let ids = vec!["1".repeat(64), "2".repeat(64)];
        let keeps = |keys: &[Key]| -> Vec<usize> {
            (0..2)
                .filter(|&i| model_keeps(&specs, i, &names, &ids, keys))
                .collect()
        };
        assert_eq!(keeps(&[Key::Label(vec!["a2.k1=x", "a2.k2"])]), vec![0]);
        assert_eq!(
            keeps(&[Key::Label(vec!["a2.k1=x", "a2.k1=y"])]),
            Vec::<usize>::new()
        );
        assert_eq!(keeps(&[Key::Name(vec![(0, true), (1, false)])]), vec![0, 1]);
        assert_eq!(keeps(&[Key::Exited(vec![1])]), vec![0]);
        assert_eq!(keeps(&[Key::Exited(vec![0])]), Vec::<usize>::new());
        assert_eq!(
            keeps(&[Key::Status(vec!["created"]), Key::Id(vec![1])]),
            vec![1]
        );
        let f = filters_json(&[Key::Id(vec![1]), Key::Id(vec![0])], &names, &ids);
        assert_eq!(f, json!({"id": ["222222222222", "111111111111"]}));
        // The same key twice is one key with both values: status ORs them.
        assert_eq!(
            keeps(&[Key::Status(vec!["created"]), Key::Status(vec!["exited"])]),
            vec![0, 1]
        );
    }
}
