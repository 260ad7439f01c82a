//! Go's `path/filepath` lexical rules and error wording, as dockerd's tar
//! extraction applies them. Matching them exactly is what makes a hostile
//! entry get the same answer here as from dockerd (e.g. `../x` is confined
//! to the root when extracting a layer, but refused under a `cp` target).

use std::io;

/// Go's `filepath.Clean` on a `/`-separated path: no `.`, no `x/..`, no
/// doubled or trailing slashes; `..` at the start of a relative path stays,
/// `..` right below `/` is dropped. An empty result is `.`.
pub fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                // Above the root of an absolute path there is nothing.
                _ if rooted => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// Go's `filepath.Join(a, b)` (both non-empty here).
pub fn join(a: &str, b: &str) -> String {
    clean(&format!("{a}/{b}"))
}

/// Go's `filepath.Dir`.
pub fn dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => clean(&p[..=i]),
        None => ".".into(),
    }
}

/// Whether the clean absolute `path` is `base` or below it, by whole
/// components (stricter than the string prefix dockerd uses, never looser).
pub fn within(base: &str, path: &str) -> bool {
    base == "/"
        || path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// An I/O error as Go prints it: `strerror` in lower case, without Rust's
/// " (os error N)" suffix, so messages read like dockerd's.
pub fn errno_text(e: &io::Error) -> String {
    let Some(code) = e.raw_os_error() else {
        return e.to_string();
    };
    let full = io::Error::from_raw_os_error(code).to_string();
    let text = full
        .rsplit_once(" (os error")
        .map(|(t, _)| t)
        .unwrap_or(&full);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `op path: reason`, Go's `*PathError` wording.
pub fn path_error(op: &str, path: &str, e: &io::Error) -> String {
    format!("{op} {path}: {}", errno_text(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_go() {
        for (input, want) in [
            ("", "."),
            ("a/../../../../x", "../../../x"),
            ("../x", "../x"),
            ("/../x", "/x"),
            ("/tmp/../../etc", "/etc"),
            ("./a//b/", "a/b"),
            ("/", "/"),
            ("a/..", "."),
        ] {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
        assert_eq!(join("/tmp", "../x"), "/x");
        assert_eq!(join("/", "../../etc/passwd"), "/etc/passwd");
        assert_eq!(dir("/tmp/a"), "/tmp");
        assert_eq!(dir("/a"), "/");
        assert!(within("/", "/x") && within("/tmp", "/tmp/x") && within("/tmp", "/tmp"));
        assert!(!within("/tmp", "/tmpx") && !within("/tmp", "/x"));
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(
            path_error("open", "/a", &e),
            "open /a: no such file or directory"
        );
    }
}
