//! Pseudo-terminals for `tty: true` containers.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::RuntimeError;

/// A new pty pair of the devpts instance whose `ptmx` node is given, both
/// ends CLOEXEC from the start (the daemon is multi-threaded: a concurrent
/// fork must never inherit them).
pub(crate) fn open_pty_at(ptmx: &Path) -> io::Result<(File, OwnedFd)> {
    let master = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(ptmx)?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int we own (0: unlock the slave).
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // TIOCGPTPEER opens the peer without a path lookup (no /dev/pts races).
    // SAFETY: ioctl on a valid pty master fd with an int argument.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the fd is fresh and exclusively ours.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    Ok((master, slave))
}

/// A pty pair of the host's devpts.
#[cfg(test)]
pub(crate) fn open_pty() -> io::Result<(File, OwnedFd)> {
    open_pty_at(Path::new("/dev/ptmx"))
}

/// Set the window size of the terminal behind `master` (the container gets SIGWINCH).
pub fn resize_tty(master: &File, rows: u16, cols: u16) -> Result<(), RuntimeError> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct we own.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
        let e = io::Error::last_os_error();
        return Err(RuntimeError::Io(io::Error::new(
            e.kind(),
            format!("resize tty: {e}"),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_is_visible_on_the_slave() {
        let (master, slave) = open_pty().unwrap();
        resize_tty(&master, 33, 101).unwrap();
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        assert_eq!(
            unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) },
            0
        );
        assert_eq!((ws.ws_row, ws.ws_col), (33, 101));
        let flags = unsafe { libc::fcntl(master.as_raw_fd(), libc::F_GETFD) };
        assert!(flags & libc::FD_CLOEXEC != 0);
    }
}
