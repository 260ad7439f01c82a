//! The daemon <-> init socket.
//!
//! One `SOCK_SEQPACKET` socketpair carries everything, because packet boundaries
//! are preserved and each packet is written atomically: the intermediate (pid
//! report) and the container process (error report) both write to the same
//! socket without interleaving, in any order. The daemon reads until EOF, which
//! arrives exactly when the intermediate has exited and the container process has
//! either exited or exec'd (the socket is CLOEXEC in it): "EOF without an error"
//! therefore means "execve succeeded".
//!
//! Daemon -> init: the JSON request, in chunks, then `shutdown(SHUT_WR)` (EOF).
//! The first chunk carries the container's stdio (three fds, `SCM_RIGHTS`):
//! the init may have been started before the container was asked for (see
//! `process::warm`), so its own 0, 1 and 2 are /dev/null until then.
//! Init -> daemon: one JSON [`InitMessage`] per packet.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use serde::{Deserialize, Serialize};

use crate::error::{RuntimeError, WireError};
use crate::spec::InitRequest;

/// Request chunk size; well below the default socket buffer (~208 KiB) limit for
/// one seqpacket message, so big environments still go through.
const CHUNK: usize = 16 * 1024;
/// Largest init -> daemon packet we accept.
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum InitMessage {
    /// Host pid of the process that will exec the container command.
    Pid(i32),
    /// Setup or exec failed; the process exits right after sending this.
    Error(WireError),
    /// The sockets of `ProcessSpec::dns_bind` are attached (UDP, then TCP).
    DnsSockets,
    /// The master of the pty the process got as its terminal, opened in the
    /// container's own devpts (runc's console socket); the fd is attached.
    Console,
}

pub(crate) struct Channel {
    fd: OwnedFd,
}

impl Channel {
    /// A CLOEXEC socketpair: (daemon end, end to hand to the init as fd 3).
    pub(crate) fn pair() -> io::Result<(Channel, OwnedFd)> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: socketpair writes two fds into the array on success.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds were just created and are owned by nobody else.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok((Channel { fd: a }, b))
    }

    pub(crate) fn from_fd(fd: OwnedFd) -> Channel {
        Channel { fd }
    }

    fn send_packet(&self, data: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: data is a valid buffer; MSG_NOSIGNAL turns a dead peer into
            // EPIPE instead of killing us with SIGPIPE.
            let n = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    data.as_ptr().cast(),
                    data.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Receive one packet; `Ok(None)` on EOF.
    fn recv_packet(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            // SAFETY: buf is a valid writable buffer of buf.len() bytes.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 {
                return Ok(Some(n as usize));
            }
            if n == 0 {
                return Ok(None);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// The first packet, with `fds` attached.
    fn send_packet_with_fds(&self, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
        let iov = [IoSlice::new(data)];
        let cmsg = [ControlMessage::ScmRights(fds)];
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &iov,
                &cmsg,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Daemon side: send the request with the container's stdio (what
    /// becomes its fds 0, 1 and 2) and signal its end.
    pub(crate) fn send_request(&self, req: &InitRequest, stdio: [RawFd; 3]) -> io::Result<()> {
        let data = serde_json::to_vec(req).map_err(io::Error::other)?;
        let mut chunks = data.chunks(CHUNK);
        // serde_json never produces an empty document.
        self.send_packet_with_fds(chunks.next().unwrap_or_default(), &stdio)?;
        for chunk in chunks {
            self.send_packet(chunk)?;
        }
        // SAFETY: plain shutdown of a socket we own.
        if unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_WR) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The first packet and the fds attached to it (received CLOEXEC).
    /// `Ok(None)` on EOF.
    fn recv_packet_with_fds(&self, buf: &mut [u8]) -> io::Result<Option<(usize, Vec<OwnedFd>)>> {
        let mut space = nix::cmsg_space!([RawFd; 3]);
        loop {
            let mut iov = [IoSliceMut::new(buf)];
            let msg = match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => m,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            let mut fds = Vec::new();
            for cmsg in msg.cmsgs()? {
                if let ControlMessageOwned::ScmRights(raw) = cmsg {
                    // SAFETY: the kernel just installed these fds in this
                    // process for us; nothing else refers to them.
                    fds.extend(
                        raw.into_iter()
                            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                    );
                }
            }
            return Ok((msg.bytes > 0).then_some((msg.bytes, fds)));
        }
    }

    /// Init side: read the whole request (until the daemon's shutdown) and
    /// the container's stdio. `Ok(None)`: the daemon closed the channel
    /// without asking for anything (a warm init it no longer needs).
    pub(crate) fn recv_request(&self) -> Result<Option<(InitRequest, [OwnedFd; 3])>, RuntimeError> {
        let mut buf = vec![0u8; CHUNK];
        let Some((n, fds)) = self.recv_packet_with_fds(&mut buf)? else {
            return Ok(None);
        };
        let stdio: [OwnedFd; 3] = fds
            .try_into()
            .map_err(|_| RuntimeError::Other("init request without its three stdio fds".into()))?;
        let mut data = buf[..n].to_vec();
        while let Some(n) = self.recv_packet(&mut buf)? {
            data.extend_from_slice(&buf[..n]);
        }
        let req = serde_json::from_slice(&data)
            .map_err(|e| RuntimeError::Other(format!("invalid init request: {e}")))?;
        Ok(Some((req, stdio)))
    }

    pub(crate) fn send_message(&self, msg: &InitMessage) -> io::Result<()> {
        let data = serde_json::to_vec(msg).map_err(io::Error::other)?;
        self.send_packet(&data)
    }

    /// Init side: a message with fds attached ([`InitMessage::Console`],
    /// [`InitMessage::DnsSockets`]).
    pub(crate) fn send_message_with_fds(&self, msg: &InitMessage, fds: &[RawFd]) -> io::Result<()> {
        let data = serde_json::to_vec(msg).map_err(io::Error::other)?;
        self.send_packet_with_fds(&data, fds)
    }

    /// Daemon side: next message and the fds it carried, `Ok(None)` at EOF.
    pub(crate) fn recv_message(&self) -> Result<Option<(InitMessage, Vec<OwnedFd>)>, RuntimeError> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        match self.recv_packet_with_fds(&mut buf)? {
            None => Ok(None),
            Some((n, fds)) => serde_json::from_slice(&buf[..n])
                .map(|m| Some((m, fds)))
                .map_err(|e| RuntimeError::Other(format!("invalid message from init: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ExecSpec, InitRequest};

    #[test]
    fn large_request_survives_chunking() {
        let (daemon, child) = Channel::pair().unwrap();
        let child = Channel::from_fd(child);
        let env: Vec<String> = (0..5000)
            .map(|i| format!("VAR{i}={}", "x".repeat(40)))
            .collect();
        let req = InitRequest::Exec {
            pid: 42,
            spec: Box::new(ExecSpec {
                args: vec!["sh".into()],
                env: env.clone(),
                cwd: "/".into(),
                user: String::new(),
                group_add: vec![],
                tty: false,
                open_stdin: false,
                cgroups: vec![],
                security: Default::default(),
            }),
        };
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd = null.as_raw_fd();
        let writer = std::thread::spawn(move || daemon.send_request(&req, [fd; 3]).map(|_| daemon));
        let (got, stdio) = child.recv_request().unwrap().expect("a request");
        let daemon = writer.join().unwrap().unwrap();
        // Three new fds, each a /dev/null.
        for f in &stdio {
            assert_ne!(f.as_raw_fd(), fd);
            let target = std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())).unwrap();
            assert_eq!(target, std::path::Path::new("/dev/null"));
        }
        match got {
            InitRequest::Exec { pid, spec } => {
                assert_eq!(pid, 42);
                assert_eq!(spec.env, env);
            }
            other => panic!("unexpected {other:?}"),
        }
        child.send_message(&InitMessage::Pid(7)).unwrap();
        drop(child);
        assert!(matches!(
            daemon.recv_message().unwrap(),
            Some((InitMessage::Pid(7), _))
        ));
        assert!(daemon.recv_message().unwrap().is_none());
    }

    #[test]
    fn closed_without_request_is_none() {
        let (daemon, child) = Channel::pair().unwrap();
        drop(daemon);
        assert!(Channel::from_fd(child).recv_request().unwrap().is_none());
    }
}
