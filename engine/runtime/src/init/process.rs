//! The last steps before execve, shared by `spawn` and `exec_in`: session and
//! controlling tty, user, working directory, signal state, command lookup.

use std::convert::Infallible;
use std::ffi::CString;
use std::io;

use nix::unistd::{chdir, execve, setgroups, setresgid, setresuid, setsid, Gid, Uid};

use super::command;
use super::user;
use crate::error::RuntimeError;
use crate::spec::Security;

pub(super) struct Finish<'a> {
    pub args: &'a [String],
    pub env: &'a [String],
    /// Must exist (see [`ensure_cwd`]; Docker fails an exec whose dir is missing).
    pub cwd: &'a str,
    pub user: &'a str,
    pub group_add: &'a [String],
    pub tty: bool,
    pub security: &'a Security,
}

pub(super) fn finish(f: &Finish) -> Result<Infallible, RuntimeError> {
    setsid().map_err(|e| RuntimeError::sys("setsid", e))?;
    if f.tty {
        // SAFETY: TIOCSCTTY on fd 0 (the pty slave) with arg 0 (don't steal).
        if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } != 0 {
            let e = io::Error::last_os_error();
            return Err(RuntimeError::Io(io::Error::new(
                e.kind(),
                format!("set controlling tty: {e}"),
            )));
        }
    }

    // Read from the container's own root (we are past pivot_root/setns), so
    // symlinks in its /etc cannot point at host files.
    let exec_user = user::resolve_from_files(f.user)?;
    let groups = user::supplementary_groups(&exec_user, f.group_add)?;

    enter_cwd(f.cwd)?;
    fix_stdio_ownership(exec_user.uid, exec_user.gid);

    super::rlimits::apply(&f.security.rlimits)?;
    let caps = f.security.capabilities.as_deref();
    super::caps::restrict_bounding_set(caps.unwrap_or(super::caps::DOCKER_DEFAULT_CAPS))?;
    // As runc: without no_new_privs, installing a filter needs
    // CAP_SYS_ADMIN, which the user switch below takes away; with it, the
    // filter goes in last, so it constrains nothing of our own setup.
    if !f.security.no_new_privileges {
        install_seccomp(f.security)?;
    }

    let gids: Vec<Gid> = groups.into_iter().map(Gid::from_raw).collect();
    setgroups(&gids).map_err(|e| RuntimeError::sys("setgroups", e))?;
    let gid = Gid::from_raw(exec_user.gid);
    setresgid(gid, gid, gid).map_err(|e| RuntimeError::sys("setgid", e))?;
    let uid = Uid::from_raw(exec_user.uid);
    setresuid(uid, uid, uid).map_err(|e| RuntimeError::sys("setuid", e))?;

    // As runc: HOME from the user when the environment lacks it or has it
    // empty (`HOME=` is replaced in place).
    let mut env: Vec<String> = f.env.to_vec();
    let home = format!("HOME={}", exec_user.home);
    match env.iter().rposition(|e| e.starts_with("HOME=")) {
        Some(i) if env[i] == "HOME=" => env[i] = home,
        Some(_) => {}
        None => env.push(home),
    }
    // Lookup after setuid so permission checks are the user's.
    let program = command::find_executable(&f.args[0], &env)?;
    let c_program = CString::new(program.as_os_str().as_encoded_bytes())
        .map_err(|_| RuntimeError::InvalidSpec("command contains a NUL byte".into()))?;
    let c_args = to_cstrings(f.args)?;
    let c_env = to_cstrings(&env)?;

    reset_signals();
    if f.security.no_new_privileges {
        super::caps::set_no_new_privs().map_err(|e| {
            RuntimeError::Io(io::Error::new(e.kind(), format!("set no_new_privs: {e}")))
        })?;
        install_seccomp(f.security)?;
    }
    let errno = match execve(&c_program, &c_args, &c_env) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    Err(command::exec_error(&f.args[0], errno))
}

fn install_seccomp(security: &Security) -> Result<(), RuntimeError> {
    for program in &security.seccomp {
        crate::seccomp::install(program).map_err(|e| {
            RuntimeError::Io(io::Error::new(
                e.kind(),
                format!("install seccomp filter: {e}"),
            ))
        })?;
    }
    Ok(())
}

fn to_cstrings(v: &[String]) -> Result<Vec<CString>, RuntimeError> {
    v.iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| {
                RuntimeError::InvalidSpec(
                    "arguments and environment must not contain NUL bytes".into(),
                )
            })
        })
        .collect()
}

fn invalid_cwd(cwd: &str, e: io::Error) -> RuntimeError {
    RuntimeError::InvalidWorkingDir {
        path: cwd.to_string(),
        reason: e.to_string(),
    }
}

/// Create a missing WorkingDir as Docker does for `run`: as root, 0755, before
/// privileges are dropped and before a read-only remount of `/`.
pub(super) fn ensure_cwd(cwd: &str) -> Result<(), RuntimeError> {
    std::fs::create_dir_all(cwd).map_err(|e| invalid_cwd(cwd, e))
}

fn enter_cwd(cwd: &str) -> Result<(), RuntimeError> {
    chdir(cwd).map_err(|e| invalid_cwd(cwd, io::Error::from(e)))
}

/// Let a non-root user reopen its own stdio (/dev/stdout, /proc/self/fd/1):
/// the pipes/pty were created by root. /dev/null and other shared devices are
/// left alone.
fn fix_stdio_ownership(uid: u32, gid: u32) {
    if uid == 0 {
        return;
    }
    for fd in 0..=2 {
        // SAFETY: fstat/fchown on fds 0..2 we own.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut st) != 0 {
                continue;
            }
            let kind = st.st_mode & libc::S_IFMT;
            let is_pty = kind == libc::S_IFCHR && libc::major(st.st_rdev) == 136;
            if kind == libc::S_IFIFO || is_pty {
                libc::fchown(fd, uid, gid);
            }
        }
    }
}

/// Ignored signals and the blocked mask survive execve: reset both (Rust's
/// runtime ignores SIGPIPE; the daemon's threads may block signals).
fn reset_signals() {
    // SAFETY: plain signal-state syscalls on our own process.
    unsafe {
        for sig in 1..=64 {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            // Fails harmlessly for glibc's reserved real-time signals.
            libc::signal(sig, libc::SIG_DFL);
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}
