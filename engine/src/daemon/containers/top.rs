//! `docker top`: the container's processes in `ps -ef` columns, read from
//! /proc. A process belongs to the container when it is in the pid namespace
//! of the container's init (so exec'd processes count too).

use std::fs;

use crate::errdefs::EngineError;

/// Clock ticks per second, for /proc times.
fn ticks() -> u64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

fn boot_time() -> u64 {
    fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0)
}

fn user_name(uid: u32) -> String {
    fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

/// `ps -ef` rows (UID PID PPID C STIME TTY TIME CMD) for every process in
/// the pid namespace of `init_pid`. Blocking.
pub fn ps_ef(init_pid: i32) -> Result<Vec<Vec<String>>, EngineError> {
    let ns = fs::read_link(format!("/proc/{init_pid}/ns/pid"))
        .map_err(|e| EngineError::System(format!("reading the container's pid namespace: {e}")))?;
    let (hz, btime) = (ticks(), boot_time());
    let now = chrono::Utc::now().timestamp() as u64;
    let uptime = fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0);
    let mut rows: Vec<(i32, Vec<String>)> = Vec::new();
    for entry in fs::read_dir("/proc")?.filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if fs::read_link(format!("/proc/{pid}/ns/pid")).ok().as_ref() != Some(&ns) {
            continue;
        }
        // A process may exit while we read it: skip it then.
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = stat[stat.find('(').map_or(0, |i| i + 1)..close].to_string();
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if f.len() < 20 {
            continue;
        }
        let num = |i: usize| f[i].parse::<u64>().unwrap_or(0);
        let ppid = f[1].to_string();
        let tty_nr = num(4);
        let cpu_ticks = num(11) + num(12);
        let start_ticks = num(19);
        let uid = fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("Uid:")
                        .and_then(|v| v.split_whitespace().next()?.parse().ok())
                })
            })
            .unwrap_or(0);
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let cmd = if args.is_empty() {
            format!("[{comm}]")
        } else {
            args.join(" ")
        };
        let started = btime + start_ticks / hz;
        let elapsed = (uptime - start_ticks as f64 / hz as f64).max(1.0);
        let c = ((cpu_ticks as f64 / hz as f64) * 100.0 / elapsed) as u64;
        let st = chrono::DateTime::from_timestamp(started as i64, 0).unwrap_or_default();
        let stime = if now.saturating_sub(started) < 86_400 {
            st.format("%H:%M").to_string()
        } else {
            st.format("%b%d").to_string()
        };
        let secs = cpu_ticks / hz;
        let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        let tty = if tty_nr == 0 {
            "?".to_string()
        } else {
            let major = (tty_nr >> 8) & 0xfff;
            let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
            if major == 136 {
                format!("pts/{minor}")
            } else {
                format!("tty{minor}")
            }
        };
        rows.push((
            pid,
            vec![
                user_name(uid),
                pid.to_string(),
                ppid,
                c.to_string(),
                stime,
                tty,
                time,
                cmd,
            ],
        ));
    }
    rows.sort_by_key(|(p, _)| *p);
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}
