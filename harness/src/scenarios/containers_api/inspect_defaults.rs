//! Every default a container gets, compared field by field with dockerd:
//! `GET /v1.41/containers/{id}/json` of a container of the fixture image
//! created with the body the docker CLI 28.2.2 sends for `docker create
//! IMAGE` (captured on its way to dockerd), with the smallest body an API
//! client sends (`{"Image": ..}`), and after `docker run` of the CLI body
//! has exited. The whole document is diffed against dockerd 20.10.24's
//! answers in `specs/harness/inspect-defaults.json`; what legitimately
//! differs is masked (see that file's `masks`): IDs, names and tags become
//! placeholders, times and host paths keep only their JSON type, the
//! storage driver's data and `NetworkSettings` keep only their keys.

use super::Made;
use crate::client::Req;
use crate::ground::{expect_status, fail, json_body, Ctx, Outcome, Problem};
use crate::scenarios::{scenario, Scenario};
use serde_json::{json, Map, Value};

const AREA: &str = "containers-api";
const SPEC: &str = include_str!("../../../../specs/harness/inspect-defaults.json");

pub fn scenarios() -> Vec<Scenario> {
    vec![scenario(AREA, "inspect-defaults", true, inspect_defaults)]
}

/// The body docker CLI 28.2.2 sends to dockerd 20.10.24 (API 1.41) for
/// `docker create IMAGE` and `docker run IMAGE` (the same body), kept in
/// the spec file, with the image and the run's label in `Labels` (the CLI
/// sends `{}`).
fn cli_body(spec: &Value, image: &str, labels: Value) -> Value {
    let mut body = spec["cli_body"].clone();
    body["Image"] = json!(image);
    body["Labels"] = labels;
    body
}

fn spec() -> Result<Value, Problem> {
    serde_json::from_str(SPEC).map_err(|e| {
        fail(format!(
            "specs/harness/inspect-defaults.json is invalid: {e}"
        ))
    })
}

fn inspect_defaults(ctx: &Ctx) -> Outcome {
    let spec = spec()?;
    let image = ctx.image()?;
    let info = ctx.send(Req::get("/v1.41/info").unversioned())?;
    expect_status(&info, 200, "GET /info")?;
    let cgroup_v2 = json_body(&info, "info")?["CgroupVersion"] == json!("2");
    let mut made = Made::new(ctx);
    let mut problems = Vec::new();
    // `docker run IMAGE /probe exit 0`: the fixture's own Cmd sleeps.
    let mut run_body = cli_body(&spec, &image.tag, ctx.labels());
    run_body["Cmd"] = json!([crate::fixture::PROBE_PATH, "exit", "0"]);
    let cases = [
        (
            "cli-create",
            cli_body(&spec, &image.tag, ctx.labels()),
            false,
        ),
        (
            "api-create",
            json!({"Image": image.tag, "Labels": ctx.labels()}),
            false,
        ),
        ("cli-run-exited", run_body, true),
    ];
    for (case, body, run) in cases {
        let name = ctx.unique_name(case);
        let id = made.create(body, Some(&name))?;
        if run {
            ctx.start(&id)?;
            ctx.wait(&id)?;
        }
        let resp = ctx.send(Req::get(format!("/v1.41/containers/{id}/json")).unversioned())?;
        expect_status(&resp, 200, "inspecting a container")?;
        let got = json_body(&resp, "inspect")?;
        let subst = [
            (id.as_str(), "{id}"),
            (&id[..12.min(id.len())], "{id12}"),
            (name.as_str(), "{name}"),
            (image.tag.as_str(), "{image}"),
            (image.id.as_str(), "{image_id}"),
            (ctx.run_id.as_str(), "{run}"),
        ];
        let got = normalize(got, &spec["masks"], &subst);
        let got = normalize(got, &spec["case_masks"][case], &[]);
        let mut want = spec["cases"][case].clone();
        if cgroup_v2 {
            // dockerd's default cgroup namespace mode is private on v2.
            want["HostConfig"]["CgroupnsMode"] = json!("private");
        }
        let mut diffs = Vec::new();
        diff("", &want, &got, &mut diffs);
        if !diffs.is_empty() {
            problems.push(format!(
                "{case}: {} field(s) differ from dockerd's (want / got):\n    {}",
                diffs.len(),
                diffs.join("\n    ")
            ));
            ctx.note(format!("{case} normalized: {got}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(problems.join("\n  ")))
    }
}

/// Replaces the run's own values by placeholders in every string, then
/// applies the masks: `type` keeps the JSON type (`<string>`, ...), `keys`
/// keeps an object's keys all the way down with each leaf's type.
fn normalize(mut v: Value, masks: &Value, subst: &[(&str, &str)]) -> Value {
    placeholders(&mut v, subst);
    for (ptr, kind) in masks.as_object().into_iter().flatten() {
        if let Some(x) = v.pointer_mut(ptr) {
            *x = match kind.as_str() {
                Some("keys") => keys_only(x),
                _ => json!(format!("<{}>", crate::schema::json_type(x))),
            };
        }
    }
    v
}

fn placeholders(v: &mut Value, subst: &[(&str, &str)]) {
    match v {
        Value::String(s) => {
            for (from, to) in subst {
                if !from.is_empty() && s.contains(from) {
                    *s = s.replace(from, to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| placeholders(x, subst)),
        Value::Object(o) => {
            let old = std::mem::take(o);
            for (mut k, mut x) in old {
                for (from, to) in subst {
                    if !from.is_empty() && k.contains(from) {
                        k = k.replace(from, to);
                    }
                }
                placeholders(&mut x, subst);
                o.insert(k, x);
            }
        }
        _ => {}
    }
}

fn keys_only(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), keys_only(x)))
                .collect::<Map<_, _>>(),
        ),
        x => json!(format!("<{}>", crate::schema::json_type(x))),
    }
}

/// Every difference between `want` and `got`, by JSON pointer.
fn diff(at: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{at}/{k}");
                match g.get(k) {
                    Some(gv) => diff(&p, wv, gv, out),
                    None => out.push(format!("{p}: {wv} / missing")),
                }
            }
            for (k, gv) in g {
                if !w.contains_key(k) {
                    out.push(format!("{at}/{k}: missing / {gv}"));
                }
            }
        }
        _ if want != got => out.push(format!("{at}: {want} / {got}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_every_difference() {
        let mut out = Vec::new();
        diff(
            "",
            &json!({"a": 1, "b": {"c": "x"}, "d": null}),
            &json!({"a": 1, "b": {"c": "y"}, "e": []}),
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                "/b/c: \"x\" / \"y\"",
                "/d: null / missing",
                "/e: missing / []"
            ]
        );
    }

    #[test]
    fn masks_and_placeholders() {
        let v = json!({"Id": "abc123", "Name": "/n1", "Created": "t", "G": {"Data": {"L": "p"}}});
        let masks = json!({"/Created": "type", "/G": "keys"});
        let n = normalize(v, &masks, &[("abc123", "{id}"), ("n1", "{name}")]);
        assert_eq!(
            n,
            json!({"Id": "{id}", "Name": "/{name}", "Created": "<string>", "G": {"Data": {"L": "<string>"}}})
        );
    }

    #[test]
    fn the_spec_parses_and_has_every_case() {
        let s = spec().unwrap();
        assert!(s["cli_body"]["HostConfig"].is_object());
        for case in ["cli-create", "api-create", "cli-run-exited"] {
            assert!(s["cases"][case]["HostConfig"].is_object(), "{case}");
        }
    }
}
