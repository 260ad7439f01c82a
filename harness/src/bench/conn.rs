//! A keep-alive HTTP/1.1 connection for benchmarks. The conformance client
//! opens a connection per request and records every exchange; here both would
//! measure the harness instead of the endpoint, so requests reuse one
//! connection and nothing is recorded.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use crate::client::{connect, RoundtripError, Target};

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

pub type BenchResult<T> = Result<T, String>;

impl Conn {
    pub async fn open(target: &Target) -> BenchResult<Conn> {
        let io = match connect(target).await {
            Ok(io) => io,
            Err(RoundtripError::Connect(e)) => {
                return Err(format!("cannot connect to {target}: {e}"))
            }
            Err(RoundtripError::Http(m)) => return Err(m),
        };
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP handshake with {target}: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { sender })
    }

    /// Sends one request and reads the whole body. Returns (status, body).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &str)>,
    ) -> BenchResult<(u16, Bytes)> {
        self.sender
            .ready()
            .await
            .map_err(|e| format!("connection closed: {e}"))?;
        let mut b = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("Host", "docker");
        let payload = match body {
            Some((bytes, ctype)) => {
                b = b.header("Content-Type", ctype);
                bytes
            }
            None => Bytes::new(),
        };
        if method == Method::POST || !payload.is_empty() {
            b = b.header("Content-Length", payload.len());
        }
        let req = b.body(Full::new(payload)).map_err(|e| e.to_string())?;
        let res = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = res.status().as_u16();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{method} {path}: reading body: {e}"))?
            .to_bytes();
        Ok((status, body))
    }

    /// A JSON request that must answer `want`; returns the parsed body (or Null).
    pub async fn json(
        &mut self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        want: u16,
    ) -> BenchResult<serde_json::Value> {
        let body = body.map(|v| (Bytes::from(v.to_string()), "application/json"));
        let (status, bytes) = self.send(method.clone(), path, body).await?;
        if status != want {
            return Err(format!(
                "{method} {path}: expected {want}, got {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            ));
        }
        if bytes.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("{method} {path}: bad JSON: {e}"))
    }
}
