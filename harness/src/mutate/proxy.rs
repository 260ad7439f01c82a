//! A unix-socket proxy in front of a Docker endpoint that plants one
//! [`Mutant`] in what passes through it.
//!
//! Every connection is read as one HTTP/1.1 request head (the harness opens
//! a connection per request); the request may be altered, is forwarded, and
//! the answer's head and body are relayed with the mutant's change. The rest
//! of the connection (request body, attach's stdin, a hijacked stream, a
//! following stream) is copied as it comes, so unmutated traffic is
//! byte-for-byte dockerd's.

use super::catalogue::{Action, FrameEdit, Mutant};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A running proxy; dropping it stops accepting.
pub struct Proxy {
    pub socket: PathBuf,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on `socket` (owner, group and mode copied from `upstream`'s
    /// socket, as clients and `security/socket-mode` see dockerd's) and
    /// forwards to `upstream`, applying `mutant` (None: a plain relay).
    pub fn start(
        socket: &Path,
        upstream: &Path,
        mutant: Option<&'static Mutant>,
    ) -> io::Result<Proxy> {
        let listener = UnixListener::bind(socket)?;
        let meta = std::fs::metadata(upstream)?;
        std::os::unix::fs::chown(socket, Some(meta.uid()), Some(meta.gid()))?;
        std::fs::set_permissions(
            socket,
            std::fs::Permissions::from_mode(meta.mode() & 0o7777),
        )?;
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s, up) = (hits.clone(), stop.clone(), upstream.to_path_buf());
        std::thread::spawn(move || {
            for c in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(c) = c else { continue };
                let (h, up) = (h.clone(), up.clone());
                std::thread::spawn(move || {
                    let _ = serve(c, &up, mutant, &h);
                });
            }
        });
        Ok(Proxy {
            socket: socket.to_path_buf(),
            hits,
            stop,
        })
    }

    /// How many exchanges the mutant changed so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = UnixStream::connect(&self.socket);
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// A request as the proxy sees it.
pub struct RequestHead {
    pub method: String,
    /// The path without the `/vX.Y` prefix and without the query.
    pub path: String,
    /// The raw query (without `?`), percent-encoded as sent.
    pub query: String,
    /// The path as sent (version prefix included).
    raw_path: String,
    version: String,
    headers: Vec<String>,
}

impl RequestHead {
    fn parse(head: &str) -> Option<RequestHead> {
        let mut lines = head.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let method = first.next()?.to_string();
        let target = first.next()?.to_string();
        let version = first.next()?.to_string();
        let (raw_path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.clone(), String::new()),
        };
        let path = strip_version(&raw_path).to_string();
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        Some(RequestHead {
            method,
            path,
            query,
            raw_path,
            version,
            headers,
        })
    }

    /// The head of a request `method target` with no headers (what the
    /// catalogue matches a recorded request by).
    pub fn from_target(method: &str, target: &str) -> Option<RequestHead> {
        RequestHead::parse(&format!("{method} {target} HTTP/1.1"))
    }

    fn render(&self) -> String {
        let mut out = format!("{} {}", self.method, self.raw_path);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        out.push(' ');
        out.push_str(&self.version);
        out.push_str("\r\n");
        for h in &self.headers {
            out.push_str(h);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out
    }

    /// The query as decoded pairs.
    pub fn pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn set_pairs(&mut self, pairs: &[(String, String)]) {
        self.query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
    }
}

/// `/v1.41/containers/json` -> `/containers/json`.
fn strip_version(p: &str) -> &str {
    if let Some(rest) = p.strip_prefix("/v") {
        if let Some(i) = rest.find('/') {
            let v = &rest[..i];
            if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return &rest[i..];
            }
        }
    }
    p
}

/// An answer's head as the proxy relays it.
pub struct ResponseHead {
    pub status: u16,
    version: String,
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    fn parse(head: &str) -> Option<ResponseHead> {
        let mut lines = head.split("\r\n");
        let mut first = lines.next()?.splitn(3, ' ');
        let version = first.next()?.to_string();
        let status = first.next()?.parse().ok()?;
        let headers = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                Some((k.to_string(), v.trim().to_string()))
            })
            .collect();
        Some(ResponseHead {
            status,
            version,
            headers,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn remove(&mut self, name: &str) -> bool {
        let n = self.headers.len();
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        n != self.headers.len()
    }

    pub fn set(&mut self, name: &str, value: &str) {
        match self
            .headers
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            Some(h) => h.1 = value.to_string(),
            None => self.headers.push((name.to_string(), value.to_string())),
        }
    }

    fn chunked(&self) -> bool {
        self.header("Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }

    fn render(&self) -> String {
        let reason = hyper::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Unknown");
        let mut out = format!("{} {} {reason}\r\n", self.version, self.status);
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out
    }
}

/// Reads up to and including the blank line ending a head.
fn read_head(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" {
            return Ok(Some(String::from_utf8_lossy(&head).into_owned()));
        }
        if head.len() > 1 << 20 {
            return Err(io::Error::other("head over 1 MiB"));
        }
    }
}

/// Reads one chunk of a chunked body: `None` at the last (empty) chunk,
/// whose trailers are consumed.
fn read_chunk(r: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let size = line.trim().split(';').next().unwrap_or("");
    let size = usize::from_str_radix(size, 16)
        .map_err(|_| io::Error::other(format!("bad chunk size {line:?}")))?;
    if size == 0 {
        while read_line_len(r)? > 2 {}
        return Ok(None);
    }
    let mut data = vec![0u8; size];
    r.read_exact(&mut data)?;
    let mut crlf = [0u8; 2];
    r.read_exact(&mut crlf)?;
    Ok(Some(data))
}

fn read_line_len(r: &mut impl BufRead) -> io::Result<usize> {
    let mut l = Vec::new();
    r.read_until(b'\n', &mut l)
}

fn write_chunk(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    write!(w, "{:x}\r\n", data.len())?;
    w.write_all(data)?;
    w.write_all(b"\r\n")?;
    w.flush()
}

/// Whether an answer to `method` with `status` carries no body.
fn bodiless(method: &str, status: u16) -> bool {
    method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status)
}

fn serve(
    client: UnixStream,
    upstream: &Path,
    mutant: Option<&'static Mutant>,
    hits: &AtomicUsize,
) -> io::Result<()> {
    let mut from_client = BufReader::new(client.try_clone()?);
    let Some(head) = read_head(&mut from_client)? else {
        return Ok(());
    };
    let Some(mut req) = RequestHead::parse(&head) else {
        return Ok(());
    };
    let active = mutant.filter(|m| m.matches_request(&req));
    let mut up = UnixStream::connect(upstream)?;
    if let Some(m) = active {
        if m.mutate_request(&mut req) {
            hits.fetch_add(1, Ordering::SeqCst);
        }
    }
    up.write_all(req.render().as_bytes())?;
    // The request body, stdin, or anything else the client sends.
    let mut up_w = up.try_clone()?;
    std::thread::spawn(move || {
        let _ = io::copy(&mut from_client, &mut up_w);
        let _ = up_w.shutdown(std::net::Shutdown::Write);
    });
    let mut from_up = BufReader::new(up.try_clone()?);
    let mut to_client = client;
    let Some(head) = read_head(&mut from_up)? else {
        return Ok(());
    };
    let Some(mut resp) = ResponseHead::parse(&head) else {
        to_client.write_all(head.as_bytes())?;
        io::copy(&mut from_up, &mut to_client)?;
        return Ok(());
    };
    let action = active.and_then(|m| m.response_action(&req, &resp));
    let result = match action {
        None => {
            to_client.write_all(head.as_bytes())?;
            io::copy(&mut from_up, &mut to_client).map(|_| ())
        }
        Some(action) => relay_mutated(action, &req, &mut resp, &mut from_up, &mut to_client, hits),
    };
    let _ = to_client.shutdown(std::net::Shutdown::Both);
    let _ = up.shutdown(std::net::Shutdown::Both);
    result
}

/// Relays an answer the mutant's `action` applies to.
fn relay_mutated(
    action: &Action,
    req: &RequestHead,
    resp: &mut ResponseHead,
    from_up: &mut BufReader<UnixStream>,
    to_client: &mut UnixStream,
    hits: &AtomicUsize,
) -> io::Result<()> {
    let hit = || {
        hits.fetch_add(1, Ordering::SeqCst);
    };
    match action {
        Action::Query(_) => {
            // Request-side only: the answer passes unchanged.
            to_client.write_all(resp.render().as_bytes())?;
            io::copy(from_up, to_client).map(|_| ())
        }
        Action::Status(to) => {
            resp.status = *to;
            hit();
            to_client.write_all(resp.render().as_bytes())?;
            io::copy(from_up, to_client).map(|_| ())
        }
        Action::DropHeader(name) => {
            if resp.remove(name) {
                hit();
            }
            to_client.write_all(resp.render().as_bytes())?;
            io::copy(from_up, to_client).map(|_| ())
        }
        Action::SetHeader(name, value) => {
            if resp.header(name) != Some(value) {
                resp.set(name, value);
                hit();
            }
            to_client.write_all(resp.render().as_bytes())?;
            io::copy(from_up, to_client).map(|_| ())
        }
        Action::Messages(f) if resp.chunked() => {
            // A stream: each chunk's messages as they come (events, pulls,
            // builds, loads).
            to_client.write_all(resp.render().as_bytes())?;
            while let Some(chunk) = read_chunk(from_up)? {
                match f(&chunk) {
                    Some(out) => {
                        hit();
                        write_chunk(to_client, &out)?;
                    }
                    None => write_chunk(to_client, &chunk)?,
                }
            }
            to_client.write_all(b"0\r\n\r\n")
        }
        // A whole answer (messages of a finite one too).
        Action::Body(f) | Action::Messages(f) => {
            let body = read_body(req, resp, from_up)?;
            let body = match f(&body) {
                Some(b) => {
                    hit();
                    b
                }
                None => body,
            };
            write_body(resp, &body, to_client)
        }
        Action::BadChunking => {
            to_client.write_all(resp.render().as_bytes())?;
            if !resp.chunked() {
                return io::copy(from_up, to_client).map(|_| ());
            }
            // The first chunk declares one byte more than it carries.
            if let Some(chunk) = read_chunk(from_up)? {
                hit();
                write!(to_client, "{:x}\r\n", chunk.len() + 1)?;
                to_client.write_all(&chunk)?;
                to_client.write_all(b"\r\n")?;
            }
            io::copy(from_up, to_client).map(|_| ())
        }
        Action::Frames(f) => {
            to_client.write_all(resp.render().as_bytes())?;
            let mut frames = FrameStream::new(*f);
            let chunked = resp.chunked() && resp.status != 101;
            let mut buf = [0u8; 16 * 1024];
            loop {
                let data = if chunked {
                    match read_chunk(from_up)? {
                        Some(c) => c,
                        None => break,
                    }
                } else {
                    let n = from_up.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    buf[..n].to_vec()
                };
                let out = frames.feed(&data);
                if chunked {
                    write_chunk(to_client, &out)?;
                } else {
                    to_client.write_all(&out)?;
                    to_client.flush()?;
                }
            }
            let rest = frames.finish();
            if frames.changed {
                hit();
            }
            if chunked {
                write_chunk(to_client, &rest)?;
                to_client.write_all(b"0\r\n\r\n")
            } else {
                to_client.write_all(&rest)
            }
        }
    }
}

/// A multiplexed stdout/stderr stream (8-byte headers: stream, 0, 0, 0,
/// big-endian length) whose frames a function rewrites as they complete.
/// A stream that does not start like one (a TTY's raw output) passes as is.
struct FrameStream {
    edit: FrameEdit,
    pending: Vec<u8>,
    raw: Option<bool>,
    changed: bool,
}

impl FrameStream {
    fn new(edit: FrameEdit) -> Self {
        FrameStream {
            edit,
            pending: Vec::new(),
            raw: None,
            changed: false,
        }
    }

    fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(data);
        if self.raw.is_none() && self.pending.len() >= 4 {
            let p = &self.pending;
            self.raw = Some(!(p[0] <= 2 && p[1] == 0 && p[2] == 0 && p[3] == 0));
        }
        match self.raw {
            Some(true) => std::mem::take(&mut self.pending),
            None => Vec::new(),
            Some(false) => {
                let mut out = Vec::new();
                while self.pending.len() >= 8 {
                    let p = &self.pending;
                    let len = u32::from_be_bytes([p[4], p[5], p[6], p[7]]) as usize;
                    if p.len() < 8 + len {
                        break;
                    }
                    let frame: Vec<u8> = self.pending.drain(..8 + len).collect();
                    match (self.edit)(frame[0], &frame[8..]) {
                        Some(b) => {
                            self.changed = true;
                            out.extend_from_slice(&b);
                        }
                        None => out.extend_from_slice(&frame),
                    }
                }
                out
            }
        }
    }

    fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}

/// A whole (finite) body, de-chunked.
fn read_body(
    req: &RequestHead,
    resp: &ResponseHead,
    r: &mut BufReader<UnixStream>,
) -> io::Result<Vec<u8>> {
    if bodiless(&req.method, resp.status) {
        return Ok(Vec::new());
    }
    if resp.chunked() {
        let mut out = Vec::new();
        while let Some(c) = read_chunk(r)? {
            out.extend_from_slice(&c);
        }
        return Ok(out);
    }
    if let Some(n) = resp
        .header("Content-Length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut out = vec![0u8; n];
        r.read_exact(&mut out)?;
        return Ok(out);
    }
    let mut out = Vec::new();
    r.read_to_end(&mut out)?;
    Ok(out)
}

/// Writes `resp` with `body`, in the answer's own framing.
fn write_body(resp: &mut ResponseHead, body: &[u8], w: &mut UnixStream) -> io::Result<()> {
    if resp.chunked() {
        w.write_all(resp.render().as_bytes())?;
        write_chunk(w, body)?;
        return w.write_all(b"0\r\n\r\n");
    }
    if resp.header("Content-Length").is_some() {
        resp.set("Content-Length", &body.len().to_string());
    }
    w.write_all(resp.render().as_bytes())?;
    w.write_all(body)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_stripped() {
        assert_eq!(strip_version("/v1.41/containers/json"), "/containers/json");
        assert_eq!(strip_version("/_ping"), "/_ping");
        assert_eq!(strip_version("/volumes/v1"), "/volumes/v1");
        assert_eq!(strip_version("/vx/containers"), "/vx/containers");
    }

    #[test]
    fn request_heads_round_trip() {
        let raw = "GET /v1.41/containers/json?all=1&filters=%7B%7D HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut r = RequestHead::parse(raw).expect("parses");
        assert_eq!(r.path, "/containers/json");
        assert_eq!(r.render(), raw);
        let pairs: Vec<_> = r.pairs().into_iter().filter(|(k, _)| k != "all").collect();
        r.set_pairs(&pairs);
        assert_eq!(
            r.render(),
            "GET /v1.41/containers/json?filters=%7B%7D HTTP/1.1\r\nHost: x\r\n\r\n"
        );
    }

    #[test]
    fn chunks_are_read_and_written() {
        let mut r = BufReader::new(&b"3\r\nabc\r\n1;x\r\nd\r\n0\r\n\r\n"[..]);
        assert_eq!(read_chunk(&mut r).expect("1"), Some(b"abc".to_vec()));
        assert_eq!(read_chunk(&mut r).expect("2"), Some(b"d".to_vec()));
        assert_eq!(read_chunk(&mut r).expect("end"), None);
        let mut w = Vec::new();
        write_chunk(&mut w, b"hello").expect("write");
        assert_eq!(w, b"5\r\nhello\r\n");
    }
}
