//! A minimal blocking HTTP/1.1 client over a unix socket, for tests that
//! must see exactly what the engine answers (status, headers, raw body) and
//! send what no well-behaved client would: fuzzed paths and bodies, and many
//! concurrent requests without the docker CLI's overhead.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a fresh connection (`Connection: close`).
pub struct Request<'a> {
    pub method: &'a str,
    /// Path and query, sent as they are (already percent-encoded).
    pub target: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    /// Per read/write: a stalled engine turns into an error, not a hang.
    pub timeout: Duration,
    /// Read the body of 1xx-3xx answers too. Off for fuzzing, where a
    /// success may be an endless stream (events, stats).
    pub body_on_success: bool,
    /// More headers (`X-Registry-Auth`, ...).
    pub headers: Vec<(String, String)>,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, target: &'a str) -> Self {
        Request {
            method,
            target,
            content_type: None,
            body: &[],
            timeout: Duration::from_secs(30),
            body_on_success: true,
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn json(mut self, body: &'a [u8]) -> Self {
        self.content_type = Some("application/json");
        self.body = body;
        self
    }

    pub fn send(&self, socket: &Path) -> io::Result<Response> {
        let mut s = UnixStream::connect(socket)?;
        s.set_read_timeout(Some(self.timeout))?;
        s.set_write_timeout(Some(self.timeout))?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: shipshape-test\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.method,
            self.target,
            self.body.len()
        );
        if let Some(ct) = self.content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes())?;
        // The engine may answer (e.g. 404) before reading the body and close
        // the connection: a failed body write is not yet a failed exchange.
        let _ = s.write_all(self.body);
        read_response(
            BufReader::new(s),
            self.method == "HEAD",
            self.body_on_success,
        )
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn read_response(
    mut r: BufReader<UnixStream>,
    head_request: bool,
    body_on_success: bool,
) -> io::Result<Response> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a status line",
        ));
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("connection closed inside the headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header {l:?}")))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let no_body = head_request || status == 204 || status == 304 || status < 200;
    if no_body || (status < 400 && !body_on_success) {
        return Ok(resp);
    }
    let chunked = resp
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                break;
            }
            let start = resp.body.len();
            resp.body.resize(start + size, 0);
            r.read_exact(&mut resp.body[start..])?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(n) = resp.header("Content-Length") {
        let n: usize = n.parse().map_err(|_| bad("bad Content-Length"))?;
        resp.body.resize(n, 0);
        r.read_exact(&mut resp.body)?;
    } else {
        r.read_to_end(&mut resp.body)?;
    }
    Ok(resp)
}
