//! Path templates of the spec (`/images/{name}/json`) matched against the
//! paths the harness really sent (`/v1.41/images/a/b:tag/json?x=1`).
//!
//! Docker's router declares its parameters as `{name:.*}`, so a parameter
//! may span slashes (image names `registry:5000/a/b:tag`, plugin names)
//! and may be empty (`/containers//json` reaches ContainerInspect). A
//! parameter therefore takes one or more whole segments, empty ones
//! included; percent-encoded slashes stay inside their segment.

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Param,
}

/// A parsed path template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(template: &str) -> Self {
        let parts = template
            .trim_start_matches('/')
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') && seg.ends_with('}') {
                    Part::Param
                } else {
                    Part::Literal(seg.to_string())
                }
            })
            .collect();
        Template { parts }
    }

    /// How specific the template is: its literal segments, then all its
    /// segments (the more parts, the fewer segments each parameter spans).
    pub fn specificity(&self) -> (usize, usize) {
        let literals = self
            .parts
            .iter()
            .filter(|p| matches!(p, Part::Literal(_)))
            .count();
        (literals, self.parts.len())
    }

    /// Whether the template matches a path split by [`segments`].
    pub fn matches(&self, segments: &[&str]) -> bool {
        match_from(&self.parts, segments)
    }
}

fn match_from(parts: &[Part], segments: &[&str]) -> bool {
    match parts.split_first() {
        None => segments.is_empty(),
        Some((Part::Literal(l), rest)) => {
            segments.first() == Some(&l.as_str()) && match_from(rest, &segments[1..])
        }
        // A parameter takes 1..=n segments, leaving at least one for each
        // part after it; templates are short, so backtracking stays cheap.
        Some((Part::Param, rest)) => {
            let max = segments.len().saturating_sub(rest.len());
            (1..=max).any(|n| match_from(rest, &segments[n..]))
        }
    }
}

/// A request path as segments: query dropped, and the version prefix
/// (`/v1.41`, `/v1`) dropped when present, as Docker's router does.
pub fn segments(path: &str) -> Vec<&str> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut segs: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    if segs.len() > 1 && is_version(segs[0]) {
        segs.remove(0);
    }
    segs
}

fn is_version(seg: &str) -> bool {
    seg.strip_prefix('v').is_some_and(|v| {
        !v.is_empty()
            && v.starts_with(|c: char| c.is_ascii_digit())
            && v.chars().all(|c| c.is_ascii_digit() || c == '.')
    })
}

/// The names of a path's query parameters, percent-decoded, each once.
pub fn query_names(path: &str) -> Vec<String> {
    let Some((_, query)) = path.split_once('?') else {
        return Vec::new();
    };
    let mut names: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, _)| k.into_owned())
        .filter(|k| !k.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}
