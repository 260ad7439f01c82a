//! Attach's hijacked connection: the `101` upgrade and the raw stream
//! read and written afterwards.

use super::target::connect;
use super::wire::{display_headers, http_error, request_failure, watch, RoundtripError};
use super::{enc, Client, ClientError, Req, Response, Target, TRANSCRIPT_BODY_LIMIT};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A stream connection after a successful `101 Switching Protocols`.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

impl Client {
    /// `POST /containers/{id}/attach?stream=1&stdout=1&stderr=1` (plus
    /// stdin when asked) as a hijacked connection. On `101` the returned
    /// [`Attach`] reads the raw (multiplexed unless TTY) stream; on any other
    /// status the response is returned as `Err(Ok(response))` so scenarios
    /// can report it.
    pub fn attach(
        &self,
        id: &str,
        stdin: bool,
    ) -> Result<Result<Attach<'_>, Response>, ClientError> {
        let mut q = "stream=1&stdout=1&stderr=1".to_string();
        if stdin {
            q.push_str("&stdin=1");
        }
        self.upgrade(
            Req::post(format!("/containers/{}/attach?{q}", enc(id))),
            "tcp",
        )
    }

    /// Any request sent with `Connection: Upgrade` / `Upgrade: tcp` (attach
    /// with other streams, exec start), read as [`Client::attach`] does.
    pub fn hijack(&self, req: Req) -> Result<Result<Attach<'_>, Response>, ClientError> {
        self.upgrade(req, "tcp")
    }

    /// Sends `req` asking to switch to `protocol` (`Connection: Upgrade`,
    /// `Upgrade: <protocol>`). On `101` the returned [`Attach`] holds the
    /// raw connection; any other answer comes back as `Err(Ok(response))`.
    pub fn upgrade(
        &self,
        req: Req,
        protocol: &str,
    ) -> Result<Result<Attach<'_>, Response>, ClientError> {
        let path = self.full_path(&req);
        let (request, mut exchange) = self.build_request(
            &req,
            &path,
            &[("Connection", "Upgrade"), ("Upgrade", protocol)],
        )?;
        let method = req.method.to_string();
        let timeout = self.timeout;
        let target = self.target.clone();
        let started = Instant::now();
        let result = self.rt.block_on(async {
            tokio::time::timeout(timeout, upgrade_roundtrip(&target, request)).await
        });
        exchange.elapsed = started.elapsed();
        let res = match result {
            Err(_) => {
                exchange.error = Some(format!("timed out after {timeout:?}"));
                self.transcript.push(exchange);
                return Err(ClientError::Timeout {
                    target: target.to_string(),
                    method,
                    path,
                    timeout,
                });
            }
            Ok(Err(RoundtripError::Connect(e))) => {
                exchange.error = Some(format!("connect: {e}"));
                self.transcript.push(exchange);
                return Err(ClientError::Connect {
                    target: target.to_string(),
                    error: e,
                });
            }
            Ok(Err(RoundtripError::Http(m))) => {
                exchange.error = Some(m.clone());
                self.transcript.push(exchange);
                return Err(ClientError::Http {
                    target: target.to_string(),
                    method,
                    path,
                    message: m,
                });
            }
            Ok(Ok(r)) => r,
        };
        match res {
            Upgraded::Switched(status, headers, stream) => {
                exchange.status = Some(status);
                exchange.response_headers = headers.clone();
                let id = self.transcript.push(exchange);
                Ok(Ok(Attach {
                    client: self,
                    stream: Some(stream),
                    status,
                    headers,
                    exchange: id,
                }))
            }
            Upgraded::Refused(status, headers, body) => {
                exchange.status = Some(status);
                exchange.response_headers = headers.clone();
                exchange.response_body = body[..body.len().min(TRANSCRIPT_BODY_LIMIT)].to_vec();
                exchange.response_body_len = body.len();
                let id = self.transcript.push(exchange);
                Ok(Err(Response {
                    status,
                    headers,
                    body,
                    exchange: id,
                }))
            }
        }
    }
}

/// A hijacked attach connection.
pub struct Attach<'c> {
    client: &'c Client,
    stream: Option<Box<dyn Duplex>>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub exchange: usize,
}

impl Attach<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Writes to the container's stdin.
    pub fn write(&mut self, data: &[u8]) -> Result<(), ClientError> {
        let timeout = self.client.timeout;
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| ClientError::Protocol("attach stream already closed".into()))?;
        self.client
            .rt
            .block_on(async { tokio::time::timeout(timeout, stream.write_all(data)).await })
            .map_err(|_| {
                ClientError::Protocol(format!("attach: write timed out after {timeout:?}"))
            })?
            .map_err(|e| ClientError::Protocol(format!("attach: write failed: {e}")))
    }

    /// Half-closes the connection so the container sees EOF on stdin.
    pub fn close_stdin(&mut self) -> Result<(), ClientError> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| ClientError::Protocol("attach stream already closed".into()))?;
        self.client
            .rt
            .block_on(stream.shutdown())
            .map_err(|e| ClientError::Protocol(format!("attach: shutdown failed: {e}")))
    }

    /// Reads until the endpoint closes the stream (the container exited) or
    /// `timeout` (at the default pace, see [`Client::scaled`]) passes;
    /// returns the raw bytes. The data is also recorded as this exchange's
    /// response body.
    pub fn read_to_end(&mut self, timeout: Duration) -> Result<Vec<u8>, ClientError> {
        let timeout = self.client.scaled(timeout);
        let mut stream = self
            .stream
            .take()
            .ok_or_else(|| ClientError::Protocol("attach stream already read".into()))?;
        let mut buf = Vec::new();
        let res = self
            .client
            .rt
            .block_on(async { tokio::time::timeout(timeout, stream.read_to_end(&mut buf)).await });
        self.client
            .transcript
            .set_response_body(self.exchange, &buf);
        match res {
            Err(_) => Err(ClientError::Protocol(format!(
                "attach: stream still open after {timeout:?} ({} bytes read)",
                buf.len()
            ))),
            Ok(Err(e)) => Err(ClientError::Protocol(format!("attach: read failed: {e}"))),
            Ok(Ok(_)) => Ok(buf),
        }
    }
}

impl Attach<'_> {
    /// Reads for `wait` (not scaled: the caller asks how the stream behaves
    /// over that time) or until the endpoint closes the stream, whichever
    /// comes first; returns the bytes and whether the stream was closed.
    /// The stream stays usable when it was not closed.
    pub fn read_for(&mut self, wait: Duration) -> Result<(Vec<u8>, bool), ClientError> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| ClientError::Protocol("stream already closed".into()))?;
        let mut buf = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        let closed = self.client.rt.block_on(async {
            let mut chunk = [0u8; 4096];
            loop {
                match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
                    Err(_) => return Ok(false),
                    Ok(Ok(0)) => return Ok(true),
                    Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                    Ok(Err(e)) => return Err(e),
                }
            }
        });
        self.client
            .transcript
            .set_response_body(self.exchange, &buf);
        let closed = closed
            .map_err(|e| ClientError::Protocol(format!("upgraded stream: read failed: {e}")))?;
        if closed {
            self.stream = None;
        }
        Ok((buf, closed))
    }
}

enum Upgraded {
    Switched(u16, Vec<(String, String)>, Box<dyn Duplex>),
    Refused(u16, Vec<(String, String)>, Bytes),
}

async fn upgrade_roundtrip(
    target: &Target,
    req: Request<Full<Bytes>>,
) -> Result<Upgraded, RoundtripError> {
    let io = TokioIo::new(connect(target).await?);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| http_error(target, "HTTP handshake failed", &e))?;
    let conn = watch(conn.with_upgrades());
    let mut res = match sender.send_request(req).await {
        Ok(r) => r,
        Err(e) => {
            return Err(request_failure(target, "no valid HTTP response", &e, Some(conn)).await)
        }
    };
    let status = res.status().as_u16();
    let headers = display_headers(res.headers());
    if res.status() == StatusCode::SWITCHING_PROTOCOLS {
        let upgraded = hyper::upgrade::on(&mut res)
            .await
            .map_err(|e| http_error(target, "upgrade failed after 101", &e))?;
        return Ok(Upgraded::Switched(
            status,
            headers,
            Box::new(TokioIo::new(upgraded)),
        ));
    }
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| http_error(target, "reading the response body failed", &e))?
        .to_bytes();
    Ok(Upgraded::Refused(status, headers, body))
}
