//! The runtime's typed error, and its wire form.
//!
//! Errors that happen inside the re-exec'd init (after fork, in the container's
//! namespaces) cannot be returned as Rust values: they travel back to the daemon
//! as JSON over the init socket. `WireError` is that serializable mirror, so the
//! daemon can rebuild the exact same [`RuntimeError`] variant (and the API layer
//! can keep matching on `ExecNotFound` etc. no matter which process failed).

use std::io;

use serde::{Deserialize, Serialize};

/// Everything that can go wrong while preparing or running a container process.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The command does not exist (not on `$PATH`, or the path names nothing).
    #[error("{}", not_found_message(path))]
    ExecNotFound { path: String },

    /// The command exists but cannot be executed (no `x` bit, or a directory).
    #[error("exec: \"{path}\": permission denied")]
    ExecPermission { path: String },

    /// `User` names a user or group the container's /etc/passwd or /etc/group lacks.
    #[error("unable to find user {user}: {reason}")]
    InvalidUser { user: String, reason: String },

    /// `WorkingDir` is unusable (relative, or an existing non-directory).
    #[error("invalid working directory {path:?}: {reason}")]
    InvalidWorkingDir { path: String, reason: String },

    /// The request itself is malformed (no command, bad signal, relative path…).
    #[error("{0}")]
    InvalidSpec(String),

    /// A mount (rootfs, /proc, /dev, bind mount…) failed.
    #[error("mount {what}: {source}")]
    Mount {
        what: String,
        #[source]
        source: io::Error,
    },

    /// Creating or joining a namespace failed.
    #[error("namespace: {0}")]
    Namespace(String),

    /// The target process does not exist (any more).
    #[error("process {pid} is not running")]
    NotRunning { pid: i32 },

    #[error(transparent)]
    Io(#[from] io::Error),

    #[error("{0}")]
    Other(String),
}

fn not_found_message(path: &str) -> String {
    // Mirror runc/Docker wording: a bare name was searched on $PATH, a path was stat'ed.
    if path.contains('/') {
        format!("exec: \"{path}\": stat {path}: no such file or directory")
    } else {
        format!("exec: \"{path}\": executable file not found in $PATH")
    }
}

impl RuntimeError {
    /// True when the error is the caller's fault (bad command, user, working
    /// dir…): the API answers 400 with the message instead of 500.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            RuntimeError::ExecNotFound { .. }
                | RuntimeError::ExecPermission { .. }
                | RuntimeError::InvalidUser { .. }
                | RuntimeError::InvalidWorkingDir { .. }
                | RuntimeError::InvalidSpec(_)
        )
    }

    pub(crate) fn mount(what: impl Into<String>, source: impl Into<io::Error>) -> Self {
        RuntimeError::Mount {
            what: what.into(),
            source: source.into(),
        }
    }

    /// Wrap an errno with a short description of what was being done.
    pub(crate) fn sys(context: impl std::fmt::Display, errno: nix::Error) -> Self {
        let err = io::Error::from(errno);
        RuntimeError::Io(io::Error::new(err.kind(), format!("{context}: {err}")))
    }

    pub(crate) fn to_wire(&self) -> WireError {
        match self {
            RuntimeError::ExecNotFound { path } => WireError::ExecNotFound { path: path.clone() },
            RuntimeError::ExecPermission { path } => {
                WireError::ExecPermission { path: path.clone() }
            }
            RuntimeError::InvalidUser { user, reason } => WireError::InvalidUser {
                user: user.clone(),
                reason: reason.clone(),
            },
            RuntimeError::InvalidWorkingDir { path, reason } => WireError::InvalidWorkingDir {
                path: path.clone(),
                reason: reason.clone(),
            },
            RuntimeError::InvalidSpec(m) => WireError::InvalidSpec(m.clone()),
            RuntimeError::Mount { what, source } => WireError::Mount {
                what: what.clone(),
                errno: source.raw_os_error(),
                message: source.to_string(),
            },
            RuntimeError::Namespace(m) => WireError::Namespace(m.clone()),
            RuntimeError::NotRunning { pid } => WireError::NotRunning { pid: *pid },
            RuntimeError::Io(e) => WireError::Io {
                errno: e.raw_os_error(),
                message: e.to_string(),
            },
            RuntimeError::Other(m) => WireError::Other(m.clone()),
        }
    }
}

/// Serializable mirror of [`RuntimeError`] (io::Error is not serde-able).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WireError {
    ExecNotFound {
        path: String,
    },
    ExecPermission {
        path: String,
    },
    InvalidUser {
        user: String,
        reason: String,
    },
    InvalidWorkingDir {
        path: String,
        reason: String,
    },
    InvalidSpec(String),
    Mount {
        what: String,
        errno: Option<i32>,
        message: String,
    },
    Namespace(String),
    NotRunning {
        pid: i32,
    },
    Io {
        errno: Option<i32>,
        message: String,
    },
    Other(String),
}

fn rebuild_io(errno: Option<i32>, message: String) -> io::Error {
    // Keep the errno's kind (callers match on NotFound etc.) but the original text,
    // which may carry context ("mkdir /x: …").
    let kind = errno.map_or(io::ErrorKind::Other, |n| {
        io::Error::from_raw_os_error(n).kind()
    });
    io::Error::new(kind, message)
}

impl From<WireError> for RuntimeError {
    fn from(w: WireError) -> Self {
        match w {
            WireError::ExecNotFound { path } => RuntimeError::ExecNotFound { path },
            WireError::ExecPermission { path } => RuntimeError::ExecPermission { path },
            WireError::InvalidUser { user, reason } => RuntimeError::InvalidUser { user, reason },
            WireError::InvalidWorkingDir { path, reason } => {
                RuntimeError::InvalidWorkingDir { path, reason }
            }
            WireError::InvalidSpec(m) => RuntimeError::InvalidSpec(m),
            WireError::Mount {
                what,
                errno,
                message,
            } => {
                // The io::Error Display already is the message; avoid "mount x: mount x: …".
                let source = match errno {
                    Some(n) if message == io::Error::from_raw_os_error(n).to_string() => {
                        io::Error::from_raw_os_error(n)
                    }
                    _ => rebuild_io(errno, message),
                };
                RuntimeError::Mount { what, source }
            }
            WireError::Namespace(m) => RuntimeError::Namespace(m),
            WireError::NotRunning { pid } => RuntimeError::NotRunning { pid },
            WireError::Io { errno, message } => RuntimeError::Io(rebuild_io(errno, message)),
            WireError::Other(m) => RuntimeError::Other(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_docker_wording() {
        let e = RuntimeError::ExecNotFound {
            path: "nope".into(),
        };
        assert_eq!(
            e.to_string(),
            "exec: \"nope\": executable file not found in $PATH"
        );
        let e = RuntimeError::ExecNotFound {
            path: "/bin/nope".into(),
        };
        assert_eq!(
            e.to_string(),
            "exec: \"/bin/nope\": stat /bin/nope: no such file or directory"
        );
        assert!(e.is_user_error());
        assert!(!RuntimeError::Other("x".into()).is_user_error());
    }

    #[test]
    fn wire_round_trip_keeps_variant_and_errno_kind() {
        let original = RuntimeError::Mount {
            what: "/proc".into(),
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        let json = serde_json::to_string(&original.to_wire()).unwrap();
        let back: RuntimeError = serde_json::from_str::<WireError>(&json).unwrap().into();
        match back {
            RuntimeError::Mount { what, source } => {
                assert_eq!(what, "/proc");
                assert_eq!(source.kind(), io::ErrorKind::PermissionDenied);
                assert_eq!(source.raw_os_error(), Some(libc::EPERM));
            }
            other => panic!("unexpected {other:?}"),
        }
        let back: RuntimeError = RuntimeError::InvalidUser {
            user: "bob".into(),
            reason: "no matching entries in passwd file".into(),
        }
        .to_wire()
        .into();
        assert_eq!(
            back.to_string(),
            "unable to find user bob: no matching entries in passwd file"
        );
    }
}
