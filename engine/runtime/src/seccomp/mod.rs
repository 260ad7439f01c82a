//! seccomp: the filter a container's processes run under.
//!
//! A [`Program`] is classic BPF, compiled in the daemon and carried to the
//! init in the spec; the init installs it right before execve (see
//! `init::process`).

use std::io;

use serde::{Deserialize, Serialize};

/// One compiled seccomp program: BPF instructions, each packed as
/// `code << 48 | jt << 40 | jf << 32 | k` (compact on the init's channel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program(pub Vec<u64>);

/// Installs `program` on the calling thread (the init is single-threaded).
/// Needs no_new_privs or CAP_SYS_ADMIN; sets neither (unlike
/// `seccompiler::apply_filter`, which always sets no_new_privs: dockerd
/// leaves it off unless asked).
pub(crate) fn install(program: &Program) -> io::Result<()> {
    let filter: Vec<libc::sock_filter> = program
        .0
        .iter()
        .map(|i| libc::sock_filter {
            code: (i >> 48) as u16,
            jt: (i >> 40) as u8,
            jf: (i >> 32) as u8,
            k: *i as u32,
        })
        .collect();
    let len = u16::try_from(filter.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp program too long"))?;
    let prog = libc::sock_fprog {
        len,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `filter`, alive for the call; the kernel
    // copies the program.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
