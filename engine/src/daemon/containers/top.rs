//! `docker top`: the container's processes in `ps -ef` columns, read from
//! /proc. A process belongs to the container when it is in the pid namespace
//! of the container's init (so exec'd processes count too). Other `ps_args`
//! run the host's `ps`, as dockerd does.

use std::fs;

use shipshape_runtime::{ExitStatus, Supervisor};

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

/// Every process in the pid namespace of `init_pid` (host pids). Blocking.
fn container_pids(init_pid: i32) -> Result<Vec<i32>, EngineError> {
    let ns = fs::read_link(format!("/proc/{init_pid}/ns/pid"))
        .map_err(|e| EngineError::System(format!("reading the container's pid namespace: {e}")))?;
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc")?.filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if fs::read_link(format!("/proc/{pid}/ns/pid")).ok().as_ref() == Some(&ns) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// `docker top` with `ps_args`, as dockerd does it: the host's `ps` with
/// those options (first narrowed with `-q <pids>`, again without it when ps
/// refuses the mix), its rows kept when their PID column names one of the
/// container's processes. Answers (Titles, Processes). Blocking.
pub fn ps(
    sup: &Supervisor,
    init_pid: i32,
    ps_args: &str,
) -> Result<(Vec<String>, Vec<Vec<String>>), EngineError> {
    validate_ps_args(ps_args)?;
    let pids = container_pids(init_pid)?;
    let args: Vec<&str> = ps_args.split(' ').collect();
    let list = pids
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut out = run_ps(sup, &args, &["-q", &list])?;
    if !out.0 {
        out = run_ps(sup, &args, &[])?;
    }
    let (ok, stdout, stderr) = out;
    if !ok {
        // dockerd: "ps: " and the first line of what ps said.
        let first = stderr.lines().next().unwrap_or("").to_string();
        let why = if first.is_empty() {
            "ps failed".to_string()
        } else {
            first
        };
        return Err(EngineError::System(format!("ps: {why}")));
    }
    parse_ps_output(&stdout, &pids)
}

/// Runs ps through the supervisor (which reaps every child of the engine):
/// whether it succeeded, its stdout and its stderr.
fn run_ps(
    sup: &Supervisor,
    args: &[&str],
    extra: &[&str],
) -> Result<(bool, String, String), EngineError> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = sup.spawn_command(
        Command::new("ps")
            .args(args)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    let mut stderr_pipe = child.stderr.take();
    // Read stderr beside stdout, so neither pipe can fill and stall ps.
    let errs = std::thread::spawn(move || {
        let mut e = String::new();
        if let Some(p) = stderr_pipe.as_mut() {
            let _ = p.read_to_string(&mut e);
        }
        e
    });
    let mut stdout = Vec::new();
    if let Some(mut p) = child.stdout.take() {
        p.read_to_end(&mut stdout)?;
    }
    let stderr = errs.join().unwrap_or_default();
    let status = sup.wait(child.id() as i32);
    Ok((
        status == ExitStatus::Exited(0),
        String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
    ))
}

/// dockerd refuses options that rename another column to PID.
fn validate_ps_args(ps_args: &str) -> Result<(), EngineError> {
    for word in ps_args.split_whitespace() {
        if let Some((k, v)) = word.split_once('=') {
            if v.starts_with("PID") && k != "pid" {
                return Err(EngineError::System(format!(
                    "specifying \"{k}={v}\" is not allowed"
                )));
            }
        }
    }
    Ok(())
}

/// moby's parsePSOutput: titles from the first line; a row is kept when its
/// PID is the container's (a "-" PID, a thread line, follows the row above
/// it); fields past the last title are joined into the last column.
fn parse_ps_output(
    output: &str,
    pids: &[i32],
) -> Result<(Vec<String>, Vec<Vec<String>>), EngineError> {
    let mut lines = output.split('\n');
    let titles: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect();
    let Some(pid_index) = titles.iter().position(|t| t == "PID") else {
        return Err(EngineError::System(
            "Couldn't find PID field in ps output".into(),
        ));
    };
    let mut rows = Vec::new();
    let mut previous_kept = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_index) else {
            continue;
        };
        let keep = if *pid == "-" {
            previous_kept
        } else {
            let p: i32 = crate::filters::go_parse("Atoi", pid)
                .map_err(|e| EngineError::System(format!("Unexpected pid '{pid}': {e}")))?;
            previous_kept = pids.contains(&p);
            previous_kept
        };
        if keep {
            let last = titles.len() - 1;
            let mut row: Vec<String> = fields.iter().take(last).map(|f| f.to_string()).collect();
            row.push(fields.get(last..).map(|r| r.join(" ")).unwrap_or_default());
            rows.push(row);
        }
    }
    Ok((titles, rows))
}

/// `ps -ef` rows (UID PID PPID C STIME TTY TIME CMD) for every process in
/// the pid namespace of `init_pid`. Blocking.
pub fn ps_ef(init_pid: i32) -> Result<Vec<Vec<String>>, EngineError> {
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
    for pid in container_pids(init_pid)? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_output_kept_by_pid_with_threads_and_overhang() {
        let out = "  PID TID CMD\n   10   - /a b c\n    -  11 -\n   20   - /x\n    -  21 -\n";
        let (titles, rows) = parse_ps_output(out, &[10]).unwrap();
        assert_eq!(titles, vec!["PID", "TID", "CMD"]);
        assert_eq!(rows, vec![vec!["10", "-", "/a b c"], vec!["-", "11", "-"]]);
        assert_eq!(
            parse_ps_output("CMD\n/x\n", &[1]).unwrap_err().to_string(),
            "Couldn't find PID field in ps output"
        );
        assert!(validate_ps_args("-o pid=PID").is_ok());
        assert_eq!(
            validate_ps_args("-o user=PID").unwrap_err().to_string(),
            "specifying \"user=PID\" is not allowed"
        );
    }
}
