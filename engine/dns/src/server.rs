//! The resolver of one container: one task that reads queries from the UDP
//! socket and accepts TCP connections; forwarded queries and TCP
//! connections run as child tasks of it, so aborting the task (container
//! stop) ends them all and closes every socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;

use crate::answer::{decide, failure, Decision, Proto};
use crate::forward::{forward, read_framed, write_framed};
use crate::Names;

/// dockerd's limit on queries forwarded at once by one container; past it
/// a query gets SERVFAIL.
const MAX_CONCURRENT: usize = 100;

/// A TCP client that sends nothing for this long is disconnected.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Queries are small; a datagram longer than this is not one we answer.
const UDP_QUERY_BUF: usize = 4096;

struct Shared {
    names: Arc<dyn Names>,
    upstreams: Vec<SocketAddr>,
    slots: Arc<Semaphore>,
}

/// Serves DNS on `udp` and `tcp` (bound with [`crate::bind_in_netns`])
/// until the returned task is aborted, answering from `names` and
/// forwarding the rest to `upstreams` from the engine's namespace. Must be
/// called inside a tokio runtime.
pub fn serve(
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    names: Arc<dyn Names>,
    upstreams: Vec<SocketAddr>,
) -> JoinHandle<()> {
    let shared = Arc::new(Shared {
        names,
        upstreams,
        slots: Arc::new(Semaphore::new(MAX_CONCURRENT)),
    });
    tokio::spawn(async move {
        let sockets = udp
            .set_nonblocking(true)
            .and_then(|()| tcp.set_nonblocking(true))
            .and_then(|()| Ok((UdpSocket::from_std(udp)?, TcpListener::from_std(tcp)?)));
        match sockets {
            Ok((udp, tcp)) => run(Arc::new(udp), tcp, shared).await,
            Err(e) => tracing::warn!(error = %e, "the embedded DNS resolver could not start"),
        }
    })
}

async fn run(udp: Arc<UdpSocket>, tcp: TcpListener, shared: Arc<Shared>) {
    let mut children = JoinSet::new();
    let mut buf = vec![0u8; UDP_QUERY_BUF];
    loop {
        tokio::select! {
            got = udp.recv_from(&mut buf) => {
                let Ok((n, peer)) = got else { continue };
                let Some(packet) = buf.get(..n) else { continue };
                match decide(packet, &*shared.names, Proto::Udp) {
                    Decision::Reply(bytes) => {
                        let _ = udp.send_to(&bytes, peer).await;
                    }
                    Decision::Forward(q, id) => {
                        let Ok(slot) = shared.slots.clone().try_acquire_owned() else {
                            if let Some(bytes) = failure(id, q) {
                                let _ = udp.send_to(&bytes, peer).await;
                            }
                            continue;
                        };
                        let (udp, shared, packet) = (udp.clone(), shared.clone(), packet.to_vec());
                        children.spawn(async move {
                            let answer = forward(&packet, &shared.upstreams, Proto::Udp)
                                .await
                                .or_else(|| failure(id, q));
                            drop(slot);
                            if let Some(bytes) = answer {
                                let _ = udp.send_to(&bytes, peer).await;
                            }
                        });
                    }
                    Decision::Drop => {}
                }
            }
            accepted = tcp.accept() => match accepted {
                Ok((stream, _)) => {
                    // A connection holds a slot for its whole life.
                    if let Ok(slot) = shared.slots.clone().try_acquire_owned() {
                        let shared = shared.clone();
                        children.spawn(async move {
                            tcp_connection(stream, &shared).await;
                            drop(slot);
                        });
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "dns tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = children.join_next(), if !children.is_empty() => {}
        }
    }
}

/// Queries on one TCP connection, answered in turn, until the client
/// closes it or stays idle.
async fn tcp_connection(mut stream: TcpStream, shared: &Shared) {
    while let Ok(Ok(query)) = timeout(TCP_IDLE, read_framed(&mut stream)).await {
        let answer = match decide(&query, &*shared.names, Proto::Tcp) {
            Decision::Reply(bytes) => Some(bytes),
            Decision::Forward(q, id) => forward(&query, &shared.upstreams, Proto::Tcp)
                .await
                .or_else(|| failure(id, q)),
            Decision::Drop => None,
        };
        let Some(bytes) = answer else { return };
        if write_framed(&mut stream, &bytes).await.is_err() {
            return;
        }
    }
}
