//! Normalisation: what differs between two endpoints for reasons that are
//! not divergences (IDs, run ids, names, timestamps, version prefixes) is
//! replaced by placeholders before comparing.

/// Normalises free text (messages, paths, header values): each run id
/// becomes `<run>`, 64-hex IDs `<id>`, 12-hex short IDs `<short-id>`,
/// RFC 3339 timestamps `<time>`, and the per-run name counter `<n>`.
pub fn text(s: &str, runs: &[&str]) -> String {
    let mut s = s.to_string();
    for r in runs.iter().filter(|r| !r.is_empty()) {
        s = s.replace(r, "<run>");
    }
    let s = timestamps(&hex_ids(&s));
    // shipshape-<run>-12-dup: the counter depends on how many names the
    // scenario made before, which is not what is being compared.
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find("<run>-") {
        out.push_str(&rest[..i + 6]);
        rest = &rest[i + 6..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("<n>");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

fn hex_ids(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let is_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
        if is_hex(b[i]) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let len = b[i..].iter().take_while(|&&c| is_hex(c)).count();
            let end = i + len;
            let bounded = end == b.len() || !b[end].is_ascii_alphanumeric();
            let has_letter = b[i..end].iter().any(|c| c.is_ascii_lowercase());
            if bounded && len == 64 {
                out.push_str("<id>");
                i = end;
                continue;
            }
            if bounded && len == 12 && has_letter {
                out.push_str("<short-id>");
                i = end;
                continue;
            }
            out.push_str(&s[i..end]);
            i = end;
            continue;
        }
        // Push the whole UTF-8 character.
        let ch_len = s[i..].chars().next().map(char::len_utf8).unwrap_or(1);
        out.push_str(&s[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// `2026-11-26T10:00:00.123456789Z` / `+01:00` → `<time>`.
fn timestamps(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let digits =
        |at: usize, n: usize| b.len() >= at + n && b[at..at + n].iter().all(u8::is_ascii_digit);
    while i < b.len() {
        if digits(i, 4)
            && b.get(i + 4) == Some(&b'-')
            && digits(i + 5, 2)
            && b.get(i + 7) == Some(&b'-')
            && digits(i + 8, 2)
            && matches!(b.get(i + 10), Some(b'T') | Some(b' '))
            && digits(i + 11, 2)
            && b.get(i + 13) == Some(&b':')
            && digits(i + 14, 2)
        {
            let mut j = i + 16;
            if b.get(j) == Some(&b':') && digits(j + 1, 2) {
                j += 3;
            }
            if b.get(j) == Some(&b'.') {
                j += 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
            }
            if b.get(j) == Some(&b'Z') {
                j += 1;
            } else if matches!(b.get(j), Some(b'+') | Some(b'-')) && digits(j + 1, 2) {
                j += 3;
                if b.get(j) == Some(&b':') && digits(j + 1, 2) {
                    j += 3;
                }
            }
            out.push_str("<time>");
            i = j;
            continue;
        }
        let ch_len = s[i..].chars().next().map(char::len_utf8).unwrap_or(1);
        out.push_str(&s[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// A request's route pattern: version prefix folded (`/v{api}` for the
/// run's version, `/v{other}` for deliberate other versions), object
/// references in the path as `{ref}`, query keys kept, query values kept
/// unless they name run objects.
pub fn route(method: &str, path: &str, api: &str, runs: &[&str]) -> String {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let mut segs: Vec<String> = Vec::new();
    for (i, seg) in p.split('/').enumerate() {
        if i == 1
            && seg.starts_with('v')
            && seg[1..].contains('.')
            && seg[1..].chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            segs.push(if seg[1..] == *api {
                "v{api}".into()
            } else {
                "v{other}".into()
            });
            continue;
        }
        let n = text(&percent_decode(seg), runs);
        segs.push(if n.contains('<') || n.starts_with("shipshape-") {
            "{ref}".into()
        } else {
            n
        });
    }
    let mut out = format!("{method} {}", segs.join("/"));
    if !q.is_empty() {
        let mut pairs: Vec<String> = q
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                let v = text(&percent_decode(v), runs);
                if v.contains('<') || v.starts_with("shipshape") || v.contains(' ') {
                    format!("{k}={{ref}}")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        pairs.sort();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_runs_times_and_counters() {
        let id = "a".repeat(63) + "1";
        let s = format!(
            "No such container: shipshape-0badf00d-12-dup ({id}) at 2026-11-26T10:00:01.5Z, short 0123456789ab, size 123456789012"
        );
        assert_eq!(
            text(&s, &["0badf00d"]),
            "No such container: shipshape-<run>-<n>-dup (<id>) at <time>, short <short-id>, size 123456789012"
        );
    }

    #[test]
    fn routes() {
        let id = "b".repeat(64);
        assert_eq!(
            route(
                "POST",
                &format!("/v1.41/containers/{id}/stop?t=5"),
                "1.41",
                &[]
            ),
            "POST /v{api}/containers/{ref}/stop?t=5"
        );
        assert_eq!(
            route(
                "POST",
                "/v1.41/containers/create?name=shipshape-abc-3-dup",
                "1.41",
                &["abc"]
            ),
            "POST /v{api}/containers/create?name={ref}"
        );
        assert_eq!(
            route(
                "POST",
                "/v1.41/containers/create?name=bad%20name%21abc",
                "1.41",
                &["abc"]
            ),
            "POST /v{api}/containers/create?name={ref}"
        );
        assert_eq!(
            route("GET", "/v1.11/version", "1.41", &[]),
            "GET /v{other}/version"
        );
        assert_eq!(route("HEAD", "/_ping", "1.41", &[]), "HEAD /_ping");
    }
}
