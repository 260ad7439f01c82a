//! `.dockerignore` as dockerd reads it: the lines (moby's
//! `dockerignore.ReadAll`) and the matching of a path against them (moby's
//! `fileutils.Matches` / patternmatcher: each pattern compiled to a regular
//! expression, `**` across directories, `!` exceptions, the last matching
//! pattern wins, a pattern also matches a path's parent directories).
//!
//! The docker CLI filters the context with these rules before sending it;
//! the daemon itself uses them only to drop the Dockerfile and
//! `.dockerignore` from the context when `.dockerignore` lists them.

use regex::Regex;

struct Pattern {
    exclusion: bool,
    /// Number of path components of the pattern.
    dirs: usize,
    /// None when the pattern is not a valid expression (it never matches,
    /// as moby ignores the error here).
    re: Option<Regex>,
}

pub struct Matcher {
    patterns: Vec<Pattern>,
}

/// Go's `filepath.Clean` for a relative or absolute slash path.
fn clean(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let body = parts.join("/");
    match (abs, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// The regular expression moby builds for a pattern.
fn regex_of(pattern: &str) -> String {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '*' => {
                if chars.peek() == Some(&'*') {
                    chars.next();
                    // `**/` is `**`.
                    if chars.peek() == Some(&'/') {
                        chars.next();
                    }
                    if chars.peek().is_none() {
                        re.push_str(".*");
                    } else {
                        re.push_str("(.*/)?");
                    }
                } else {
                    re.push_str("[^/]*");
                }
            }
            '?' => re.push_str("[^/]"),
            '.' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => {
                re.push('\\');
                if let Some(n) = chars.next() {
                    re.push(n);
                }
            }
            c => re.push(c),
        }
    }
    re.push('$');
    re
}

impl Matcher {
    /// Parses `.dockerignore` text (comments, blank lines, `!`, cleaning,
    /// a leading `/` dropped).
    pub fn parse(text: &str) -> Matcher {
        let mut patterns = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
            }
            let mut cleaned = clean(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            patterns.push(Pattern {
                dirs: cleaned.split('/').count(),
                exclusion,
                re: Regex::new(&regex_of(&cleaned)).ok(),
            });
        }
        Matcher { patterns }
    }

    /// Whether `file` (a slash path relative to the context) is excluded.
    pub fn matches(&self, file: &str) -> bool {
        let file = clean(file);
        let parent = match file.rsplit_once('/') {
            Some((p, _)) => p.to_string(),
            None => ".".to_string(),
        };
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let Some(re) = &p.re else { continue };
            let mut m = re.is_match(&file);
            if !m && parent != "." && p.dirs <= parent_dirs.len() {
                m = re.is_match(&parent_dirs[..p.dirs].join("/"));
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cases from moby's fileutils tests (TestMatches), as dockerd 20.10 has them.
    #[test]
    fn moby_cases() {
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "file/", true),
            ("**/", "file", true),
            ("**/", "file/", true),
            ("**", "/", true),
            ("**/", "/", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**", "dir/file/", true),
            ("**/", "dir/file/", true),
            ("**/**", "dir/file", true),
            ("**/**", "dir/file/", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/file/", true),
            ("dir/**", "dir/dir2/file", true),
            ("dir/**", "dir/dir2/file/", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
        ];
        for (pattern, file, want) in cases {
            let m = Matcher::parse(pattern);
            assert_eq!(m.matches(file), *want, "pattern {pattern:?} file {file:?}");
        }
    }

    #[test]
    fn exceptions_and_parents() {
        let m = Matcher::parse("# comment\n\n*.md\n!README.md\ndocs\n/Dockerfile\n");
        assert!(m.matches("CHANGES.md"));
        assert!(!m.matches("README.md"));
        assert!(m.matches("docs/a/b.txt"), "a pattern matches a parent dir");
        assert!(m.matches("Dockerfile"));
        assert!(!m.matches("src/main.rs"));
        let m = Matcher::parse("Docker*\n!Dockerfile\n");
        assert!(!m.matches("Dockerfile"));
        assert!(m.matches("Dockerfile.dev"));
    }
}
