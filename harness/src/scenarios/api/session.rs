//! `POST /session`: the connection BuildKit clients hand to the daemon. It
//! is upgraded to `h2c`, and the daemon then speaks HTTP/2 as the client
//! (it starts with the connection preface) and keeps the connection until
//! the client closes it.

use std::time::Duration;

use crate::client::Req;
use crate::ground::spec::expectation;
use crate::ground::{Ctx, Outcome};

/// The HTTP/2 client connection preface (RFC 9113, section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn session_req(ctx: &Ctx) -> Req {
    Req::post("/session")
        .header("X-Docker-Expose-Session-Uuid", &ctx.unique_name("session"))
        .header("X-Docker-Expose-Session-Name", "shipshape")
        .header("X-Docker-Expose-Session-Sharedkey", "shipshape")
}

pub fn upgrade(ctx: &Ctx) -> Outcome {
    let e = expectation("api/session-upgrade")?;
    let mut conn = match ctx.client.upgrade(session_req(ctx), "h2c")? {
        Ok(conn) => conn,
        Err(resp) => return e.check(&resp, &[]),
    };
    let fail = |m: String| e.fail(None, m, &[]);
    if conn.status != e.status {
        return Err(fail(format!(
            "expected status {}, got {}",
            e.status, conn.status
        )));
    }
    for (h, want) in &e.header_values {
        let got = conn.header(h);
        if got != Some(want.as_str()) {
            return Err(fail(format!("header {h}: expected {want:?}, got {got:?}")));
        }
    }
    // The preface arrives at once; then the connection stays open, idle.
    let (data, closed) = conn.read_for(Duration::from_secs(1))?;
    if !data.starts_with(H2_PREFACE) {
        return Err(fail(format!(
            "expected the stream to start with the HTTP/2 preface {:?}, got {:?}",
            String::from_utf8_lossy(H2_PREFACE),
            String::from_utf8_lossy(&data)
        )));
    }
    if closed {
        return Err(fail(
            "the endpoint closed the session stream instead of holding it until the client closes"
                .into(),
        ));
    }
    Ok(())
}

/// Without an upgrade it is a 400.
pub fn no_upgrade(ctx: &Ctx) -> Outcome {
    let resp = ctx.send(session_req(ctx))?;
    expectation("api/session-no-upgrade")?.check(&resp, &[])
}

/// An upgrade to anything but h2c is a 400.
pub fn wrong_protocol(ctx: &Ctx) -> Outcome {
    let e = expectation("api/session-wrong-protocol")?;
    match ctx.client.upgrade(session_req(ctx), "tcp")? {
        Err(resp) => e.check(&resp, &[]),
        Ok(conn) => Err(e.fail(
            None,
            format!(
                "expected status {}, got {} (upgraded)",
                e.status, conn.status
            ),
            &[],
        )),
    }
}
