//! Image references parsed and normalised the way Docker's
//! `distribution/reference` package does it, with the same error messages,
//! so that names round-trip exactly as dockerd shows them.
//!
//! The grammar (written by hand instead of a regex):
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] component ( "/" component )*
//! domain     := dcomp ( "." dcomp )* [ ":" port ]
//! component  := alnum+ ( separator alnum+ )*      (lowercase only)
//! separator  := "." | "_" | "__" | "-"+
//! tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest     := algorithm ":" hex{32,}
//! ```

use std::fmt;

use crate::StoreError;

pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

pub const ERR_INVALID_FORMAT: &str = "invalid reference format";
pub const ERR_UPPERCASE: &str = "invalid reference format: repository name must be lowercase";
pub const ERR_NAME_EMPTY: &str = "repository name must have at least one component";
pub const ERR_NAME_TOO_LONG: &str = "repository name must not be more than 255 characters";
pub const ERR_TAG_FORMAT: &str = "invalid tag format";
pub const ERR_DIGEST_FORMAT: &str = "invalid digest format";

/// A fully normalised named reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// What `ParseAnyReference` yields: a name, or a bare image ID / digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyReference {
    Named(Reference),
    /// `sha256:<64 hex>` (a bare 64-hex string is turned into this too).
    Digest(String),
}

fn invalid(msg: &str) -> StoreError {
    StoreError::InvalidInput(msg.to_string())
}

pub fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A full 64-character lowercase hex string (an image ID without its algorithm).
pub fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64 && is_hex(s)
}

/// Validates `algorithm:hex` the way go-digest does for the algorithms
/// Docker knows. Returns the digest string unchanged when valid.
pub fn parse_digest(s: &str) -> Result<String, StoreError> {
    let (alg, hex) = s
        .split_once(':')
        .ok_or_else(|| invalid(ERR_DIGEST_FORMAT))?;
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(invalid(ERR_DIGEST_FORMAT)),
    };
    if hex.len() != want || !is_hex(hex) {
        return Err(invalid(ERR_DIGEST_FORMAT));
    }
    Ok(s.to_string())
}

impl Reference {
    /// The name as dockerd shows it: `docker.io/library/x` -> `x`,
    /// `docker.io/team/x` -> `team/x`, other registries unchanged.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            if let Some(rest) = self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                if !rest.contains('/') {
                    return rest.to_string();
                }
            }
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// `docker.io/library/x`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// With `latest` added when neither tag nor digest is present (Docker's `TagNameOnly`).
    pub fn with_default_tag(mut self) -> Self {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The name with only the given tag (Docker's `WithTag(TrimNamed(r), tag)`).
    pub fn with_tag(&self, tag: &str) -> Result<Self, StoreError> {
        if !valid_tag(tag) {
            return Err(invalid(ERR_TAG_FORMAT));
        }
        Ok(Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        })
    }

    /// The familiar form with tag and digest, as dockerd prints it in RepoTags
    /// and messages (`FamiliarString`).
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.familiar())
    }
}

/// Docker's `ParseNormalizedNamed`: accepts `busybox`, `team/app:1`,
/// `host:5000/a/b:t`, `x@sha256:...`; refuses IDs and uppercase names.
pub fn parse_normalized_named(s: &str) -> Result<Reference, StoreError> {
    if is_full_hex_id(s) {
        // dockerd returns this as an unclassified error (HTTP 500).
        return Err(StoreError::Other(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        )));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote_name = match remainder.find(':') {
        Some(i) => &remainder[..i],
        None => &remainder[..],
    };
    if remote_name.to_lowercase() != remote_name {
        return Err(invalid(ERR_UPPERCASE));
    }
    parse(&format!("{domain}/{remainder}"))
}

/// Docker's `ParseAnyReference`: a 64-hex ID or `sha256:<hex>` digest, else a name.
pub fn parse_any(s: &str) -> Result<AnyReference, StoreError> {
    if is_full_hex_id(s) {
        return Ok(AnyReference::Digest(format!("sha256:{s}")));
    }
    if let Ok(d) = parse_digest(s) {
        return Ok(AnyReference::Digest(d));
    }
    parse_normalized_named(s).map(AnyReference::Named)
}

fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.find('/') {
        Some(i) => {
            let first = &name[..i];
            if !first.contains(['.', ':']) && first != "localhost" && first.to_lowercase() == first
            {
                (DEFAULT_DOMAIN.to_string(), name.to_string())
            } else {
                (first.to_string(), name[i + 1..].to_string())
            }
        }
        None => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

/// Docker's `reference.Parse` on an already-normalised `domain/path...` string.
fn parse(s: &str) -> Result<Reference, StoreError> {
    if s.is_empty() {
        return Err(invalid(ERR_NAME_EMPTY));
    }
    match parse_grammar(s) {
        Some((name, tag, digest)) => {
            if name.len() > NAME_TOTAL_LENGTH_MAX {
                return Err(invalid(ERR_NAME_TOO_LONG));
            }
            let digest = match digest {
                Some(d) => Some(parse_digest(d)?),
                None => None,
            };
            // The first component is a domain only if it looks like one;
            // after normalisation it always does.
            let (domain, path) = match name.split_once('/') {
                Some((d, p)) if valid_domain(d) => (d.to_string(), p.to_string()),
                _ => return Err(invalid(ERR_INVALID_FORMAT)),
            };
            Ok(Reference {
                domain,
                path,
                tag: tag.map(str::to_string),
                digest,
            })
        }
        None => {
            if parse_grammar(&s.to_lowercase()).is_some() {
                Err(invalid(ERR_UPPERCASE))
            } else {
                Err(invalid(ERR_INVALID_FORMAT))
            }
        }
    }
}

/// Splits `name[:tag][@digest]` and checks each part; `None` if it does not match.
fn parse_grammar(s: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let (before_digest, digest) = match s.split_once('@') {
        Some((a, d)) => (a, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        if !valid_digest_syntax(d) {
            return None;
        }
    }
    // The tag follows the last ':' that comes after the last '/'.
    let last_slash = before_digest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match before_digest[last_slash..].rfind(':') {
        Some(i) => (
            &before_digest[..last_slash + i],
            Some(&before_digest[last_slash + i + 1..]),
        ),
        None => (before_digest, None),
    };
    if let Some(t) = tag {
        if !valid_tag(t) {
            return None;
        }
    }
    if !valid_name(name) {
        return None;
    }
    Some((name, tag, digest))
}

fn valid_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let Some(first) = parts.next() else {
        return false;
    };
    let rest: Vec<&str> = parts.collect();
    // Either the first part is a domain followed by components, or all are components.
    let with_domain =
        !rest.is_empty() && valid_domain(first) && rest.iter().all(|c| valid_component(c));
    let without = valid_component(first) && rest.iter().all(|c| valid_component(c));
    with_domain || without
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__", or any number of "-".
        let start = i;
        while i < b.len() && !is_lower_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

pub fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

fn valid_digest_syntax(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|p| {
        let b = p.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|x| x.is_ascii_alphanumeric())
    });
    alg_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Go's `path.Match`, used by dockerd's `reference=` image filter.
/// `*` and `?` never match `/`. Errors with Go's message on a bad pattern.
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, StoreError> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Validate the pattern up front so a bad pattern errors even when the
    // name would not reach the broken part (as Go 1.16+ does).
    check_pattern(&p)?;
    Ok(glob_at(&p, 0, &n, 0))
}

const ERR_BAD_PATTERN: &str = "syntax error in pattern";

fn check_pattern(p: &[char]) -> Result<(), StoreError> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(StoreError::Other(ERR_BAD_PATTERN.into()));
                }
                i += 2;
            }
            '[' => {
                let end =
                    class_end(p, i).ok_or_else(|| StoreError::Other(ERR_BAD_PATTERN.into()))?;
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Index of the `]` closing the class that starts at `start`, if well formed.
fn class_end(p: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if i < p.len() && p[i] == '^' {
        i += 1;
    }
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some(i);
        }
        first = false;
        let lo_esc = p[i] == '\\';
        if lo_esc {
            i += 1;
        }
        if i >= p.len() {
            return None;
        }
        i += 1;
        if i < p.len() && p[i] == '-' {
            i += 1;
            if i >= p.len() || p[i] == ']' {
                return None;
            }
            if p[i] == '\\' {
                i += 1;
            }
            if i >= p.len() {
                return None;
            }
            i += 1;
        }
    }
    None
}

fn class_matches(p: &[char], start: usize, end: usize, c: char) -> bool {
    let mut i = start + 1;
    let negate = i < end && p[i] == '^';
    if negate {
        i += 1;
    }
    let mut matched = false;
    while i < end {
        if p[i] == '\\' {
            i += 1;
        }
        let lo = p[i];
        i += 1;
        let mut hi = lo;
        if i + 1 < end && p[i] == '-' {
            i += 1;
            if p[i] == '\\' {
                i += 1;
            }
            hi = p[i];
            i += 1;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
    matched != negate
}

fn glob_at(p: &[char], mut pi: usize, n: &[char], mut ni: usize) -> bool {
    while pi < p.len() {
        match p[pi] {
            '*' => {
                // Collapse consecutive stars; try every split not crossing '/'.
                while pi < p.len() && p[pi] == '*' {
                    pi += 1;
                }
                let mut k = ni;
                loop {
                    if glob_at(p, pi, n, k) {
                        return true;
                    }
                    if k >= n.len() || n[k] == '/' {
                        return false;
                    }
                    k += 1;
                }
            }
            '?' => {
                if ni >= n.len() || n[ni] == '/' {
                    return false;
                }
                pi += 1;
                ni += 1;
            }
            '[' => {
                let Some(end) = class_end(p, pi) else {
                    return false;
                };
                if ni >= n.len() || n[ni] == '/' || !class_matches(p, pi, end, n[ni]) {
                    return false;
                }
                pi = end + 1;
                ni += 1;
            }
            '\\' => {
                pi += 1;
                if pi >= p.len() || ni >= n.len() || p[pi] != n[ni] {
                    return false;
                }
                pi += 1;
                ni += 1;
            }
            c => {
                if ni >= n.len() || n[ni] != c {
                    return false;
                }
                pi += 1;
                ni += 1;
            }
        }
    }
    ni == n.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fam(s: &str) -> String {
        parse_normalized_named(s).unwrap().familiar()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(fam("busybox"), "busybox");
        assert_eq!(
            parse_normalized_named("busybox")
                .unwrap()
                .with_default_tag()
                .familiar(),
            "busybox:latest"
        );
        assert_eq!(fam("docker.io/library/x:1"), "x:1");
        assert_eq!(fam("index.docker.io/library/x:1"), "x:1");
        assert_eq!(fam("docker.io/team/x:1"), "team/x:1");
        assert_eq!(fam("host:5000/a/b:t"), "host:5000/a/b:t");
        assert_eq!(fam("localhost/a"), "localhost/a");
        let r = parse_normalized_named("x:1").unwrap();
        assert_eq!(r.full_name(), "docker.io/library/x");
        let d = format!("x@sha256:{}", "a".repeat(64));
        assert_eq!(fam(&d), d);
        assert_eq!(fam("a__b.c-d---e:_T.1-x"), "a__b.c-d---e:_T.1-x");
    }

    #[test]
    fn errors_match_dockerd() {
        let msg = |s: &str| parse_normalized_named(s).unwrap_err().to_string();
        assert_eq!(msg("Bad"), ERR_UPPERCASE);
        assert_eq!(msg("Bad:1"), ERR_UPPERCASE);
        assert_eq!(msg(""), ERR_INVALID_FORMAT);
        assert_eq!(msg("a b"), ERR_INVALID_FORMAT);
        assert_eq!(msg("x:b@d"), ERR_INVALID_FORMAT);
        assert_eq!(msg("a/../b"), ERR_INVALID_FORMAT);
        assert_eq!(msg("a:"), ERR_INVALID_FORMAT);
        assert_eq!(msg("-a"), ERR_INVALID_FORMAT);
        let hex = "7ff051493cc826078457fb85e4801fe1200dd31725f00f7893b38601d88084a3";
        assert_eq!(
            msg(hex),
            format!("invalid repository name ({hex}), cannot specify 64-byte hexadecimal strings")
        );
        assert_eq!(msg(&"a".repeat(300)), ERR_NAME_TOO_LONG);
        assert_eq!(
            parse_normalized_named("x")
                .unwrap()
                .with_tag("b@d")
                .unwrap_err()
                .to_string(),
            ERR_TAG_FORMAT
        );
        assert!(StoreError::Other(String::new()).kind() == crate::ErrorKind::Internal);
    }

    #[test]
    fn any_reference() {
        let hex = "7ff051493cc826078457fb85e4801fe1200dd31725f00f7893b38601d88084a3";
        assert_eq!(
            parse_any(hex).unwrap(),
            AnyReference::Digest(format!("sha256:{hex}"))
        );
        assert_eq!(
            parse_any(&format!("sha256:{hex}")).unwrap(),
            AnyReference::Digest(format!("sha256:{hex}"))
        );
        // A short digest is a name `sha256` with a tag, as in Docker.
        match parse_any("sha256:7ff0").unwrap() {
            AnyReference::Named(r) => assert_eq!(r.familiar(), "sha256:7ff0"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn glob() {
        assert!(glob_match("storetest/*", "storetest/a").unwrap());
        assert!(!glob_match("storetest/*", "storetest/a/b").unwrap());
        assert!(glob_match("a:?", "a:1").unwrap());
        assert!(glob_match("[a-c]x", "bx").unwrap());
        assert!(!glob_match("[^a-c]x", "bx").unwrap());
        assert!(glob_match("\\*", "*").unwrap());
        assert_eq!(
            glob_match("Bad[", "x").unwrap_err().to_string(),
            ERR_BAD_PATTERN
        );
    }
}
