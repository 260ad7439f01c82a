//! The crash test's HTTP client: raw bytes on a fresh unix-socket connection
//! per request, where only a complete response counts as an answer (the
//! support lib's client reads leniently, which would hide a cut answer).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// The answer to a request, or why there was none.
pub(super) enum Answer {
    Got(u16, Vec<u8>),
    Lost(String),
}

/// One request on a fresh connection. Only a complete response counts as an
/// answer: a cut one (chunked stream without its last chunk, short body)
/// is `Lost`.
pub(super) fn http(socket: &Path, method: &str, path: &str, body: Option<&str>) -> Answer {
    let mut s = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) => return Answer::Lost(format!("connect: {e}")),
    };
    // Generous: only reached if the engine hangs while alive.
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if let Err(e) = s.write_all(req.as_bytes()) {
        return Answer::Lost(format!("write: {e}"));
    }
    let mut buf = Vec::new();
    if let Err(e) = s.read_to_end(&mut buf) {
        return Answer::Lost(format!("read: {e}"));
    }
    match parse_response(&buf) {
        Ok((code, body)) => Answer::Got(code, body),
        Err(e) => Answer::Lost(e),
    }
}

fn parse_response(buf: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = find(buf, b"\r\n\r\n").ok_or("no complete header")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let rest = &buf[end + 4..];
    let code: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return Ok((code, dechunk(rest)?));
    }
    if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < len {
            return Err(format!("short body: {} of {len}", rest.len()));
        }
        return Ok((code, rest[..len].to_vec()));
    }
    Ok((code, rest.to_vec()))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = find(b, b"\r\n").ok_or("chunked body cut in a size line")?;
        let size_text = String::from_utf8_lossy(&b[..eol]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err("chunked body cut mid-chunk".into());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}
