//! Forwarding a query to the upstream resolvers, from the engine's own
//! network namespace, over the protocol the client used.
//!
//! As dockerd: upstreams are tried in order, 4 seconds each; SERVFAIL,
//! REFUSED, other errors and a non-authoritative NXDOMAIN move on to the
//! next one; the first NOERROR (or authoritative NXDOMAIN) answer is
//! returned as the upstream sent it. When every upstream failed, the last
//! answer received is returned, or None when none answered (the caller
//! then answers SERVFAIL, where dockerd 20.10 leaves the client to time
//! out).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use crate::answer::Proto;

/// dockerd's time limit for one upstream exchange.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(4);

const RCODE_NOERROR: u8 = 0;
const RCODE_NXDOMAIN: u8 = 3;

pub async fn forward(query: &[u8], upstreams: &[SocketAddr], proto: Proto) -> Option<Vec<u8>> {
    let id = query.get(..2)?;
    let mut last = None;
    for &up in upstreams {
        let exchange = async {
            match proto {
                Proto::Udp => exchange_udp(query, up).await,
                Proto::Tcp => exchange_tcp(query, up).await,
            }
        };
        let resp = match timeout(UPSTREAM_TIMEOUT, exchange).await {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                tracing::debug!(upstream = %up, error = %e, "dns upstream failed");
                continue;
            }
            Err(_) => {
                tracing::debug!(upstream = %up, "dns upstream timed out");
                continue;
            }
        };
        // A well-formed answer to this query: same ID, QR set.
        if resp.len() < 12 || resp.get(..2) != Some(id) || resp[2] & 0x80 == 0 {
            continue;
        }
        let authoritative = resp[2] & 0x04 != 0;
        let rcode = resp[3] & 0x0f;
        if rcode == RCODE_NOERROR || (rcode == RCODE_NXDOMAIN && authoritative) {
            return Some(resp);
        }
        last = Some(resp);
    }
    last
}

fn unspecified(up: SocketAddr) -> SocketAddr {
    match up.ip() {
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

/// One datagram out from a fresh port, the first datagram back with the
/// query's ID is the answer (a connected socket hears only the upstream).
async fn exchange_udp(query: &[u8], up: SocketAddr) -> io::Result<Vec<u8>> {
    let sock = UdpSocket::bind(unspecified(up)).await?;
    sock.connect(up).await?;
    sock.send(query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await?;
        if buf.get(..2) == query.get(..2) && n >= 12 {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn exchange_tcp(query: &[u8], up: SocketAddr) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(up).await?;
    write_framed(&mut stream, query).await?;
    read_framed(&mut stream).await
}

/// Writes one length-prefixed DNS message (TCP framing, RFC 1035 4.2.2).
pub async fn write_framed<W: AsyncWriteExt + Unpin>(w: &mut W, msg: &[u8]) -> io::Result<()> {
    let len = u16::try_from(msg.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "DNS message too long"))?;
    let mut framed = Vec::with_capacity(msg.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(msg);
    w.write_all(&framed).await
}

/// Reads one length-prefixed DNS message.
pub async fn read_framed<R: AsyncReadExt + Unpin>(r: &mut R) -> io::Result<Vec<u8>> {
    let len = r.read_u16().await?;
    let mut msg = vec![0u8; usize::from(len)];
    r.read_exact(&mut msg).await?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake upstream on the loopback that answers every query with the
    /// given rcode and AA flag.
    async fn fake(rcode: u8, aa: bool) -> SocketAddr {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
                let mut r = buf[..n].to_vec();
                r[2] |= 0x80 | if aa { 0x04 } else { 0 };
                r[3] = (r[3] & 0xf0) | rcode;
                let _ = sock.send_to(&r, peer).await;
            }
        });
        addr
    }

    const QUERY: &[u8] =
        b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x00\x00\x01\x00\x01";

    fn rcode(r: &[u8]) -> u8 {
        r[3] & 0x0f
    }

    #[tokio::test]
    async fn failures_move_on_to_the_next_upstream() {
        let servfail = fake(2, false).await;
        let nx = fake(3, false).await;
        let ok = fake(0, false).await;
        let r = forward(QUERY, &[servfail, nx, ok], Proto::Udp)
            .await
            .unwrap();
        assert_eq!(rcode(&r), 0);
        assert_eq!(&r[..2], b"\xab\xcd");
    }

    #[tokio::test]
    async fn authoritative_nxdomain_stops() {
        let nx = fake(3, true).await;
        let ok = fake(0, false).await;
        let r = forward(QUERY, &[nx, ok], Proto::Udp).await.unwrap();
        assert_eq!(rcode(&r), 3);
    }

    #[tokio::test]
    async fn the_last_failure_is_returned_when_all_fail() {
        let servfail = fake(2, false).await;
        let nx = fake(3, false).await;
        let r = forward(QUERY, &[servfail, nx], Proto::Udp).await.unwrap();
        assert_eq!(rcode(&r), 3);
        assert_eq!(forward(QUERY, &[], Proto::Udp).await, None);
    }
}
