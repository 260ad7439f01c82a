//! `--ulimit`: resource limits set on the container's process (and on each
//! exec, which dockerd gives the container's), before the user switch.
//! Names and failures are runc's: `RLIMIT_` and the upper-cased name, and
//! setrlimit's own error for a soft limit above the hard one or a hard
//! limit raised without CAP_SYS_RESOURCE.

use crate::error::RuntimeError;
use crate::spec::Rlimit;

/// Docker's ulimit names and their resource numbers (linux/resource.h).
const RESOURCES: &[(&str, libc::__rlimit_resource_t)] = &[
    ("cpu", libc::RLIMIT_CPU),
    ("fsize", libc::RLIMIT_FSIZE),
    ("data", libc::RLIMIT_DATA),
    ("stack", libc::RLIMIT_STACK),
    ("core", libc::RLIMIT_CORE),
    ("rss", libc::RLIMIT_RSS),
    ("nproc", libc::RLIMIT_NPROC),
    ("nofile", libc::RLIMIT_NOFILE),
    ("memlock", libc::RLIMIT_MEMLOCK),
    ("as", libc::RLIMIT_AS),
    ("locks", libc::RLIMIT_LOCKS),
    ("sigpending", libc::RLIMIT_SIGPENDING),
    ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE),
    ("rtprio", libc::RLIMIT_RTPRIO),
    ("rttime", libc::RLIMIT_RTTIME),
];

fn resource(name: &str) -> Result<libc::__rlimit_resource_t, RuntimeError> {
    RESOURCES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
        .ok_or_else(|| {
            RuntimeError::Other(format!(
                "wrong rlimit value: RLIMIT_{}",
                name.to_uppercase()
            ))
        })
}

/// Every name is checked before any limit is set.
pub(super) fn apply(limits: &[Rlimit]) -> Result<(), RuntimeError> {
    let resolved = limits
        .iter()
        .map(|l| Ok((resource(&l.name)?, l)))
        .collect::<Result<Vec<_>, RuntimeError>>()?;
    for (res, l) in resolved {
        let lim = libc::rlimit {
            rlim_cur: l.soft,
            rlim_max: l.hard,
        };
        // SAFETY: setrlimit on our own process with a valid struct.
        if unsafe { libc::setrlimit(res, &lim) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(RuntimeError::Other(format!(
                "error setting rlimit type {res}: {}",
                errno_text(&e)
            )));
        }
    }
    Ok(())
}

/// Go's wording of an errno (lower case, no "(os error N)").
fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EINVAL) => "invalid argument".into(),
        Some(libc::EPERM) => "operation not permitted".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dockers() {
        assert_eq!(resource("nofile").ok(), Some(libc::RLIMIT_NOFILE));
        assert_eq!(resource("rttime").ok(), Some(libc::RLIMIT_RTTIME));
        assert_eq!(
            resource("foo").map_err(|e| e.to_string()).err().as_deref(),
            Some("wrong rlimit value: RLIMIT_FOO")
        );
    }
}
