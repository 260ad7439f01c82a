//! The process's terminal with `tty: true`, as runc's console socket makes
//! it: a pty of the container's own devpts (so `tty` says /dev/pts/0), the
//! slave as fds 0, 1, 2 (and bound onto /dev/console for a container's
//! pid 1), the master sent to the daemon over the channel.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::mount::{mount, MsFlags};

use crate::channel::{Channel, InitMessage};
use crate::error::RuntimeError;

/// `dev` is the container's /dev as this process sees it; `console`: bind
/// the slave onto `dev`/console.
pub(super) fn setup(chan: &Channel, dev: &Path, console: bool) -> Result<(), RuntimeError> {
    let ctx = |what: &str, e: io::Error| {
        RuntimeError::Io(io::Error::new(e.kind(), format!("{what}: {e}")))
    };
    let (master, slave) = crate::tty::open_pty_at(&dev.join("pts/ptmx"))
        .map_err(|e| ctx("open the container's pty", e))?;
    for target in 0..3 {
        // SAFETY: dup2 onto 0..=2, which this process owns; clears CLOEXEC.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(ctx("install the pty", io::Error::last_os_error()));
        }
    }
    if console {
        let path = dev.join("console");
        File::create(&path).map_err(|e| ctx("create /dev/console", e))?;
        let source = format!("/proc/self/fd/{}", slave.as_raw_fd());
        mount(
            Some(source.as_str()),
            &path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| RuntimeError::sys("bind the pty onto /dev/console", e))?;
    }
    chan.send_message_with_fds(&InitMessage::Console, &[master.as_raw_fd()])
        .map_err(|e| ctx("send the console", e))?;
    Ok(())
}
