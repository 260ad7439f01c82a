//! The build cache: a step's result is reused when a child of the current
//! image was made by the same step (same container config), as dockerd's
//! classic builder does; `cachefrom` narrows which images count.

use super::*;

/// The images `cachefrom` allows as cache hits: each named image and its
/// ancestors (None: no `cachefrom`, any child of the parent is allowed).
fn cache_sources(d: &Daemon, opts: &BuildOptions) -> Option<std::collections::HashSet<String>> {
    if opts.cache_from.is_empty() {
        return None;
    }
    let mut set = std::collections::HashSet::new();
    for r in &opts.cache_from {
        let mut next = d.images.get(r).ok();
        while let Some(img) = next {
            if !set.insert(img.id.clone()) || img.parent.is_empty() {
                break;
            }
            next = d.images.get(&img.parent).ok();
        }
    }
    Some(set)
}

/// A child of the current image made by the same step, if caching applies.
pub(super) fn cached(d: &Daemon, st: &Stage, cc: &Value, opts: &BuildOptions) -> Option<Image> {
    if opts.nocache {
        return None;
    }
    let parent = st.image.as_ref()?;
    let allowed = cache_sources(d, opts);
    d.images
        .children(&parent.id)
        .into_iter()
        .filter(|id| allowed.as_ref().is_none_or(|a| a.contains(id)))
        .filter_map(|id| d.images.get(&id).ok())
        .filter(|i| i.config.get("container_config") == Some(cc))
        .filter(|i| {
            i.config.get("config").map(strip_image)
                == Some(strip_image(&Value::Object(st.config.clone())))
        })
        .max_by_key(|i| i.created.clone())
}

fn strip_image(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("Image");
    }
    v
}
