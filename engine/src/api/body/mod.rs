//! Bodies, both ways, in one place. Here: response bodies (fixed JSON,
//! empty, and streamed: a channel the handler keeps writing to, for logs,
//! wait, load progress and save). [`request`]: reading request bodies (JSON
//! with dockerd's content-type rule, draining, spooling uploads to disk,
//! connection upgrades); [`json`]: decoding JSON bodies as Go does;
//! [`stream`]: the framing of attach/logs streams and JSON-lines progress.

pub mod json;
pub mod request;
pub mod stream;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::StatusCode;
use serde::Serialize;
use tokio::sync::mpsc;

pub type Body = BoxBody<Bytes, io::Error>;
pub type Request = hyper::Request<Incoming>;
pub type Response = hyper::Response<Body>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn status_only(status: StatusCode) -> Response {
    let mut r = hyper::Response::new(empty());
    *r.status_mut() = status;
    r
}

pub fn no_content() -> Response {
    status_only(StatusCode::NO_CONTENT)
}

pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
    json_status(StatusCode::OK, value)
}

pub fn json_status<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    // Serializing our own types cannot fail; fall back to an empty object rather than panic.
    let mut bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    bytes.push(b'\n');
    let mut r = hyper::Response::new(full(bytes));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A 200 JSON response from bytes the handler serialized itself.
pub fn json_bytes(bytes: Vec<u8>) -> Response {
    let mut r = hyper::Response::new(full(bytes));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A streamed response: returns the sender the handler writes chunks to, and
/// the response to hand to hyper at once (so headers go out before the body,
/// as the docker CLI expects for wait, logs and events).
pub fn channel(status: StatusCode, content_type: &'static str) -> (mpsc::Sender<Bytes>, Response) {
    let (tx, rx) = mpsc::channel(64);
    let mut r = hyper::Response::new(BoxBody::new(ChannelBody { rx }));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    (tx, r)
}

struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(b)) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
