//! Finding the command inside the container and naming exec failures.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::error::RuntimeError;

/// Docker's default when the image sets no PATH.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The container's PATH: the last `PATH=` entry of `env`, else Docker's default.
pub(crate) fn path_var(env: &[String]) -> &str {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
}

enum Check {
    Ok,
    Missing,
    Denied,
}

fn check(path: &Path) -> Check {
    match std::fs::metadata(path) {
        Err(_) => Check::Missing,
        Ok(m) if m.is_dir() => Check::Denied,
        Ok(m) => {
            let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
                return Check::Missing;
            };
            // access(2) answers for the real uid, which is the container user by now.
            // SAFETY: valid C string.
            if m.permissions().mode() & 0o111 != 0
                && unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0
            {
                Check::Ok
            } else {
                Check::Denied
            }
        }
    }
}

/// Resolve `cmd` like Go's exec.LookPath does in runc: names with a '/' are
/// used as given, bare names are searched on the container's PATH.
pub(crate) fn find_executable(cmd: &str, env: &[String]) -> Result<PathBuf, RuntimeError> {
    if cmd.contains('/') {
        return match check(Path::new(cmd)) {
            Check::Ok => Ok(PathBuf::from(cmd)),
            Check::Missing => Err(RuntimeError::ExecNotFound { path: cmd.into() }),
            Check::Denied => Err(RuntimeError::ExecPermission { path: cmd.into() }),
        };
    }
    for dir in path_var(env).split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(cmd);
        if let Check::Ok = check(&candidate) {
            return Ok(candidate);
        }
    }
    Err(RuntimeError::ExecNotFound { path: cmd.into() })
}

/// Map an execve failure to the error the API reports.
pub(crate) fn exec_error(cmd: &str, errno: Errno) -> RuntimeError {
    match errno {
        // Also a missing ELF interpreter or script shebang target.
        Errno::ENOENT | Errno::ENOTDIR => RuntimeError::ExecNotFound { path: cmd.into() },
        Errno::EACCES | Errno::EPERM | Errno::EISDIR => {
            RuntimeError::ExecPermission { path: cmd.into() }
        }
        Errno::ENOEXEC => RuntimeError::Other(format!("exec: \"{cmd}\": exec format error")),
        e => RuntimeError::sys(format!("exec {cmd}"), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_on_path() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(bin.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(bin.join("noexec"), "").unwrap();
        let env = vec![format!("PATH=/nonexistent:{}", bin.display())];
        assert_eq!(find_executable("tool", &env).unwrap(), bin.join("tool"));
        assert!(matches!(
            find_executable("noexec", &env),
            Err(RuntimeError::ExecNotFound { .. })
        ));
        assert!(matches!(
            find_executable("missing", &env),
            Err(RuntimeError::ExecNotFound { .. })
        ));
        let abs = bin.join("noexec").display().to_string();
        assert!(matches!(
            find_executable(&abs, &env),
            Err(RuntimeError::ExecPermission { .. })
        ));
        let dir = bin.display().to_string();
        assert!(matches!(
            find_executable(&dir, &env),
            Err(RuntimeError::ExecPermission { .. })
        ));
        assert!(matches!(
            find_executable("/no/such", &env),
            Err(RuntimeError::ExecNotFound { .. })
        ));
        assert_eq!(path_var(&[]), DEFAULT_PATH);
    }
}
