//! The container's stdio: pipes, or a pty.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::fcntl::OFlag;

/// Duplicate `fd` to a number >= 10, CLOEXEC. The init's channel is moved
/// there so the dup2 onto 3 in the forked child can never clobber it (a
/// daemon started with fd 0 closed would otherwise hand out low numbers).
pub(crate) fn high_fd(fd: OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a valid fd returns a new fd we own.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: n is a fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// Both ends of the container's stdio.
pub(crate) struct Plumbing {
    /// To become the container's 0, 1, 2 (sent to the init with its request).
    pub(crate) child: [OwnedFd; 3],
    pub(crate) stdin: Option<File>,
    pub(crate) stdout: File,
    pub(crate) stderr: Option<File>,
}

fn pipe() -> io::Result<(File, File)> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    Ok((File::from(r), File::from(w)))
}

impl Plumbing {
    pub(crate) fn new(tty: bool, open_stdin: bool) -> io::Result<Plumbing> {
        if tty {
            // The init opens the pty in the container's devpts and sends its
            // master back (see `init::console`); until then 0, 1, 2 are
            // /dev/null and the daemon's ends are filled in from the master.
            let null = || File::open("/dev/null").map(OwnedFd::from);
            let (r, _w) = pipe()?;
            return Ok(Plumbing {
                child: [null()?, null()?, null()?],
                stdin: None,
                stdout: r,
                stderr: None,
            });
        }
        let (child_in, stdin) = if open_stdin {
            let (r, w) = pipe()?;
            (OwnedFd::from(r), Some(w))
        } else {
            // std opens files CLOEXEC.
            (OwnedFd::from(File::open("/dev/null")?), None)
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        Ok(Plumbing {
            child: [child_in, OwnedFd::from(out_w), OwnedFd::from(err_w)],
            stdin,
            stdout: out_r,
            stderr: Some(err_r),
        })
    }
}
