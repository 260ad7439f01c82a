//! Signals: Docker-compatible parsing and delivery.

use nix::errno::Errno;

use crate::error::RuntimeError;

/// Linux kernel's real-time range as Docker exposes it (glibc reserves 32/33).
const RTMIN: i32 = 34;
const RTMAX: i32 = 64;

const NAMES: &[(&str, i32)] = &[
    ("ABRT", libc::SIGABRT),
    ("ALRM", libc::SIGALRM),
    ("BUS", libc::SIGBUS),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("FPE", libc::SIGFPE),
    ("HUP", libc::SIGHUP),
    ("ILL", libc::SIGILL),
    ("INT", libc::SIGINT),
    ("IO", libc::SIGIO),
    ("IOT", libc::SIGIOT),
    ("KILL", libc::SIGKILL),
    ("PIPE", libc::SIGPIPE),
    ("POLL", libc::SIGPOLL),
    ("PROF", libc::SIGPROF),
    ("PWR", libc::SIGPWR),
    ("QUIT", libc::SIGQUIT),
    ("SEGV", libc::SIGSEGV),
    ("STKFLT", libc::SIGSTKFLT),
    ("STOP", libc::SIGSTOP),
    ("SYS", libc::SIGSYS),
    ("TERM", libc::SIGTERM),
    ("TRAP", libc::SIGTRAP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("VTALRM", libc::SIGVTALRM),
    ("WINCH", libc::SIGWINCH),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
];

/// Parse a signal as Docker accepts it: "SIGKILL", "KILL", "kill", "9",
/// "RTMIN+3", "SIGRTMAX-1". Returns None for unknown names and 0.
pub fn parse_signal(s: &str) -> Option<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return (1..=RTMAX).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Some(n);
    }
    // "RTMIN", "RTMIN+n", "RTMAX", "RTMAX-n" within the real-time range.
    let offset = |rest: &str, sign: char| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        rest.strip_prefix(sign)?
            .parse::<i32>()
            .ok()
            .filter(|o| *o > 0)
    };
    let n = if let Some(rest) = name.strip_prefix("RTMIN") {
        RTMIN + offset(rest, '+')?
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        RTMAX - offset(rest, '-')?
    } else {
        return None;
    };
    (RTMIN..=RTMAX).contains(&n).then_some(n)
}

/// Send `signal` to host pid `pid`. A vanished process is `NotRunning`.
///
/// Note: a container's pid 1 only receives signals it installed a handler for
/// (SIGKILL/SIGSTOP excepted) — the kernel protects namespace init processes.
pub fn kill(pid: i32, signal: i32) -> Result<(), RuntimeError> {
    if pid <= 0 {
        return Err(RuntimeError::InvalidSpec(format!("invalid pid {pid}")));
    }
    // SAFETY: plain kill(2); pid > 0 so it can never target a process group.
    if unsafe { libc::kill(pid, signal) } == 0 {
        return Ok(());
    }
    match Errno::last() {
        Errno::ESRCH => Err(RuntimeError::NotRunning { pid }),
        Errno::EINVAL => Err(RuntimeError::InvalidSpec(format!(
            "invalid signal: {signal}"
        ))),
        e => Err(RuntimeError::sys(format!("kill {pid}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_docker() {
        assert_eq!(parse_signal("SIGKILL"), Some(9));
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("sigterm"), Some(15));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("hup"), Some(1));
        assert_eq!(parse_signal("RTMIN"), Some(34));
        assert_eq!(parse_signal("SIGRTMIN+3"), Some(37));
        assert_eq!(parse_signal("RTMAX-1"), Some(63));
        assert_eq!(parse_signal("RTMAX"), Some(64));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("65"), None);
        assert_eq!(parse_signal("RTMINX"), None);
        assert_eq!(parse_signal("NOPE"), None);
        assert_eq!(parse_signal(""), None);
    }

    #[test]
    fn kill_of_missing_process_is_not_running() {
        // pid_max is at most 2^22, so this pid cannot exist.
        assert!(matches!(
            kill(1 << 23, 0),
            Err(RuntimeError::NotRunning { .. })
        ));
    }
}
