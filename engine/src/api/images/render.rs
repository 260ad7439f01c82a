//! Images as dockerd 20.10 (API 1.41) renders them, with the fields later
//! API versions dropped left out when the client asks for those versions.

use std::path::PathBuf;

use serde_json::{json, Map, Value};
use shipshape_store::Image;

use crate::version::ApiVersion;

/// `VirtualSize` left the image shapes in API 1.44.
const NO_VIRTUAL_SIZE: ApiVersion = ApiVersion(1, 44);
/// `Container` and `ContainerConfig` left image inspect in API 1.45.
const NO_CONTAINER_CONFIG: ApiVersion = ApiVersion(1, 45);

/// One entry of `GET /images/json`, with the tags to show.
pub fn summary(version: ApiVersion, img: &Image, tags: Vec<String>) -> Value {
    let (repo_tags, repo_digests) = if tags.is_empty() {
        if version < NO_VIRTUAL_SIZE {
            (json!(["<none>:<none>"]), json!(["<none>@<none>"]))
        } else {
            (json!([]), json!([]))
        }
    } else if version < NO_VIRTUAL_SIZE {
        // dockerd 20.10 sends null when there are tags but no digests.
        (json!(tags), Value::Null)
    } else {
        (json!(tags), json!(img.repo_digests))
    };
    let mut m = Map::new();
    m.insert("Containers".into(), json!(-1));
    m.insert("Created".into(), json!(img.created_unix()));
    m.insert("Id".into(), json!(img.id));
    m.insert(
        "Labels".into(),
        img.labels()
            .map(|l| Value::Object(l.clone()))
            .unwrap_or(Value::Null),
    );
    m.insert("ParentId".into(), json!(img.parent));
    m.insert("RepoDigests".into(), repo_digests);
    m.insert("RepoTags".into(), repo_tags);
    m.insert("SharedSize".into(), json!(-1));
    m.insert("Size".into(), json!(img.size));
    if version < NO_VIRTUAL_SIZE {
        m.insert("VirtualSize".into(), json!(img.size));
    }
    Value::Object(m)
}

/// Go's `container.Config` as dockerd serialises it: every field present
/// (zero values included), in its order; `omitempty` ones only when set.
fn go_container_config(v: Option<&Value>) -> Value {
    let empty = Map::new();
    let c = v.and_then(|v| v.as_object()).unwrap_or(&empty);
    let s = |k: &str| c.get(k).cloned().unwrap_or_else(|| json!(""));
    let b = |k: &str| c.get(k).cloned().unwrap_or(json!(false));
    let n = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
    let mut m = Map::new();
    let opt = |m: &mut Map<String, Value>, k: &str| {
        if let Some(v) = c.get(k) {
            let set = match v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                Value::Number(_) => true,
            };
            if set {
                m.insert(k.into(), v.clone());
            }
        }
    };
    m.insert("Hostname".into(), s("Hostname"));
    m.insert("Domainname".into(), s("Domainname"));
    m.insert("User".into(), s("User"));
    m.insert("AttachStdin".into(), b("AttachStdin"));
    m.insert("AttachStdout".into(), b("AttachStdout"));
    m.insert("AttachStderr".into(), b("AttachStderr"));
    opt(&mut m, "ExposedPorts");
    m.insert("Tty".into(), b("Tty"));
    m.insert("OpenStdin".into(), b("OpenStdin"));
    m.insert("StdinOnce".into(), b("StdinOnce"));
    m.insert("Env".into(), n("Env"));
    m.insert("Cmd".into(), n("Cmd"));
    opt(&mut m, "Healthcheck");
    opt(&mut m, "ArgsEscaped");
    m.insert("Image".into(), s("Image"));
    m.insert("Volumes".into(), n("Volumes"));
    m.insert("WorkingDir".into(), s("WorkingDir"));
    m.insert("Entrypoint".into(), n("Entrypoint"));
    opt(&mut m, "NetworkDisabled");
    opt(&mut m, "MacAddress");
    m.insert("OnBuild".into(), n("OnBuild"));
    m.insert("Labels".into(), n("Labels"));
    opt(&mut m, "StopSignal");
    opt(&mut m, "StopTimeout");
    opt(&mut m, "Shell");
    Value::Object(m)
}

/// `GET /images/{name}/json`: dockerd's image inspect shape; `layer_dirs`
/// are the layers' directories, bottom first.
pub fn inspect(version: ApiVersion, img: &Image, layer_dirs: &[PathBuf]) -> Value {
    let cfg = &img.config;
    let text = |k: &str| {
        cfg.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut m = Map::new();
    m.insert("Id".into(), json!(img.id));
    m.insert("RepoTags".into(), json!(img.repo_tags));
    m.insert("RepoDigests".into(), json!(img.repo_digests));
    m.insert("Parent".into(), json!(img.parent));
    m.insert("Comment".into(), json!(text("comment")));
    m.insert("Created".into(), json!(img.created));
    if version < NO_CONTAINER_CONFIG {
        m.insert("Container".into(), json!(text("container")));
        m.insert(
            "ContainerConfig".into(),
            go_container_config(cfg.get("container_config")),
        );
    }
    m.insert("DockerVersion".into(), json!(text("docker_version")));
    m.insert("Author".into(), json!(text("author")));
    m.insert(
        "Config".into(),
        match cfg.get("config") {
            Some(c) if c.is_object() => go_container_config(Some(c)),
            _ => Value::Null,
        },
    );
    m.insert("Architecture".into(), json!(text("architecture")));
    if let Some(v) = cfg
        .get("variant")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
    {
        m.insert("Variant".into(), json!(v));
    }
    m.insert("Os".into(), json!(text("os")));
    if let Some(v) = cfg
        .get("os.version")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
    {
        m.insert("OsVersion".into(), json!(v));
    }
    m.insert("Size".into(), json!(img.size));
    if version < NO_VIRTUAL_SIZE {
        m.insert("VirtualSize".into(), json!(img.size));
    }
    // Where the layers live: the top one as UpperDir, the rest (top first)
    // as LowerDir, like overlay2 reports an image.
    let data = match layer_dirs.split_last() {
        None => Value::Null,
        Some((top, rest)) => {
            let mut d = Map::new();
            if !rest.is_empty() {
                let lower: Vec<String> =
                    rest.iter().rev().map(|p| p.display().to_string()).collect();
                d.insert("LowerDir".into(), json!(lower.join(":")));
            }
            d.insert("UpperDir".into(), json!(top.display().to_string()));
            Value::Object(d)
        }
    };
    m.insert(
        "GraphDriver".into(),
        json!({"Data": data, "Name": "overlay2"}),
    );
    let mut rootfs = Map::new();
    rootfs.insert(
        "Type".into(),
        json!(cfg
            .get("rootfs")
            .and_then(|r| r.get("type"))
            .and_then(|t| t.as_str())
            .unwrap_or("layers")),
    );
    if !img.layers.is_empty() {
        rootfs.insert("Layers".into(), json!(img.layers));
    }
    m.insert("RootFS".into(), Value::Object(rootfs));
    m.insert("Metadata".into(), json!({"LastTagTime": img.last_tag_time}));
    Value::Object(m)
}
