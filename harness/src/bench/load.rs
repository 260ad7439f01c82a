//! The load generator of the throughput workloads: keep-alive GETs written
//! as bytes, answers framed with `httparse`. A full HTTP client (hyper's,
//! with its connection task and channels) spent more CPU per request than
//! the reference engine spends answering it; on a shared machine that CPU is
//! taken from the endpoint, which pulled every throughput ratio towards 1.
//! Both endpoints are driven by the same generator, as `wrk` would drive them.

use crate::client::{connect, Duplex, RoundtripError, Target};

use super::conn::BenchResult;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One keep-alive connection sending the same GET again and again.
pub struct Getter {
    io: Box<dyn Duplex>,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Getter {
    pub async fn open(target: &Target, path: &str) -> BenchResult<Getter> {
        let io = match connect(target).await {
            Ok(io) => io,
            Err(RoundtripError::Connect(e)) => {
                return Err(format!("cannot connect to {target}: {e}"))
            }
            Err(RoundtripError::Http(m)) => return Err(m),
        };
        Ok(Getter {
            io,
            request: format!("GET {path} HTTP/1.1\r\nHost: docker\r\n\r\n").into_bytes(),
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends the GET and reads the whole answer; returns its status.
    pub async fn get(&mut self) -> BenchResult<u16> {
        self.io
            .write_all(&self.request)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        loop {
            if let Some((status, len)) = complete(&self.buf)? {
                self.buf.drain(..len);
                return Ok(status);
            }
            if self.buf.capacity() - self.buf.len() < 16 * 1024 {
                self.buf.reserve(64 * 1024);
            }
            let n = self
                .io
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| format!("reading: {e}"))?;
            if n == 0 {
                return Err("the endpoint closed the connection mid-answer".into());
            }
        }
    }
}

/// The status and length of the whole answer at the start of `buf`, once
/// it is all there.
fn complete(buf: &[u8]) -> BenchResult<Option<(u16, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut res = httparse::Response::new(&mut headers);
    let head = match res.parse(buf).map_err(|e| format!("bad answer: {e}"))? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = res.code.unwrap_or(0);
    let header = |name: &str| {
        res.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return Ok(chunked_end(buf, head)?.map(|end| (status, end)));
    }
    let len: usize = match header("content-length") {
        Some(v) => v.parse().map_err(|_| format!("bad Content-Length: {v}"))?,
        // 204 and 304 have no body; anything else must say how long it is
        // on a keep-alive connection.
        None if status == 204 || status == 304 => 0,
        None => return Err(format!("answer {status} without a length")),
    };
    Ok((buf.len() >= head + len).then_some((status, head + len)))
}

/// Where a chunked body that starts at `pos` ends (after its last chunk and
/// the empty trailer), once it is all in `buf`.
fn chunked_end(buf: &[u8], mut pos: usize) -> BenchResult<Option<usize>> {
    loop {
        let Some(eol) = find_crlf(&buf[pos..]) else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[pos..pos + eol]).map_err(|e| e.to_string())?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size_hex, 16).map_err(|_| format!("bad chunk size {line:?}"))?;
        pos += eol + 2;
        if size == 0 {
            // No trailers from a Docker endpoint: the body ends with one CRLF.
            return Ok((buf.len() >= pos + 2).then_some(pos + 2));
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        pos += size + 2;
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_framed_by_length() {
        let a = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";
        assert_eq!(complete(a).unwrap(), Some((200, a.len())));
        assert_eq!(complete(&a[..a.len() - 1]).unwrap(), None);
        assert_eq!(complete(&a[..10]).unwrap(), None);
        let two = [&a[..], &a[..]].concat();
        assert_eq!(complete(&two).unwrap(), Some((200, a.len())));
        let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(complete(empty).unwrap(), Some((204, empty.len())));
        assert!(complete(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    }

    #[test]
    fn answers_framed_in_chunks() {
        let a = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2;x=y\r\n2]\r\n0\r\n\r\n";
        assert_eq!(complete(a).unwrap(), Some((200, a.len())));
        for cut in 1..a.len() {
            assert_eq!(complete(&a[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(complete(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
    }
}
