//! Healthchecks, as dockerd 20.10 runs them (its daemon/health.go): while a
//! container with a `Config.Healthcheck` runs, one tokio task per container
//! runs the check as an exec every Interval, kills it at Timeout, and keeps
//! `State.Health` (status, failing streak, the last 5 results). Each change
//! of status is a `health_status: <status>` event.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::container::{Container, Progress};
use super::exec::{self, ExecConfig};
use super::io::FdStream;
use super::lifecycle::now_rfc3339;
use super::record::{Config, State};
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

/// dockerd's defaults (0 in the config means these) and limits.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: i64 = 3;
const MAX_LOG_ENTRIES: usize = 5;
const MAX_OUTPUT_LEN: usize = 4096;

/// `State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<CheckResult>,
}

impl Health {
    /// The list's `Status` suffix: "health: starting", "healthy", "unhealthy".
    pub fn label(&self) -> String {
        if self.status == STARTING {
            format!("health: {STARTING}")
        } else {
            self.status.clone()
        }
    }
}

/// One entry of `State.Health.Log`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// What to run and when, from `Config.Healthcheck`.
#[derive(Debug, Clone, PartialEq)]
struct Probe {
    args: Vec<String>,
    interval: Duration,
    timeout: Duration,
    start_period: Duration,
    retries: i64,
}

fn duration(hc: &Value, key: &str, default: Duration) -> Duration {
    match hc.get(key).and_then(Value::as_i64) {
        Some(ns) if ns > 0 => Duration::from_nanos(ns as u64),
        _ => default,
    }
}

/// The check of a config: None without one, for `["NONE"]`, an empty test
/// or an unknown kind (dockerd runs nothing for those either).
fn probe(config: &Config) -> Option<Probe> {
    let hc = config.healthcheck.as_ref()?;
    let test: Vec<String> = hc
        .get("Test")
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default();
    let (kind, rest) = test.split_first()?;
    let args = match kind.as_str() {
        "CMD" => rest.to_vec(),
        "CMD-SHELL" => ["/bin/sh", "-c"]
            .iter()
            .map(|s| s.to_string())
            .chain(rest.iter().cloned())
            .collect(),
        _ => return None,
    };
    if args.is_empty() {
        return None;
    }
    let retries = hc.get("Retries").and_then(Value::as_i64).unwrap_or(0);
    Some(Probe {
        args,
        interval: duration(hc, "Interval", DEFAULT_INTERVAL),
        timeout: duration(hc, "Timeout", DEFAULT_TIMEOUT),
        start_period: duration(hc, "StartPeriod", Duration::ZERO),
        retries: if retries <= 0 {
            DEFAULT_RETRIES
        } else {
            retries
        },
    })
}

/// The container's Health as a run starts: "starting" with the streak
/// reset and the log kept (dockerd's initHealthMonitor), or what it was
/// when the config has no check.
pub fn on_start(config: &Config, previous: Option<Health>) -> Option<Health> {
    probe(config)?;
    let mut h = previous.unwrap_or_default();
    h.status = STARTING.into();
    h.failing_streak = 0;
    Some(h)
}

/// When a run ends dockerd marks the health "unhealthy".
pub fn on_exit(state: &mut State) {
    if let Some(h) = state.health.as_mut() {
        h.status = UNHEALTHY.into();
    }
}

/// Fills what a `Config.Healthcheck` leaves unset from the image's, as
/// dockerd merges them at create.
pub fn merge_image(user: &mut Option<Value>, image: Option<&Value>) {
    let Some(image) = image.filter(|v| v.is_object()) else {
        return;
    };
    let Some(u) = user.as_mut().and_then(Value::as_object_mut) else {
        *user = Some(image.clone());
        return;
    };
    for key in ["Test", "Interval", "Timeout", "StartPeriod", "Retries"] {
        let unset = match u.get(key) {
            None | Some(Value::Null) => true,
            Some(Value::Array(a)) => a.is_empty(),
            Some(v) => v.as_i64() == Some(0),
        };
        if unset {
            if let Some(v) = image.get(key).filter(|v| !v.is_null()) {
                u.insert(key.into(), v.clone());
            }
        }
    }
}

/// Starts the container's health monitor for the run that just began
/// (`Progress::starts` already counts it); it ends with the run.
pub fn spawn_monitor(d: &Arc<Daemon>, c: &Arc<Container>) {
    let Some(p) = probe(&c.record().config) else {
        return;
    };
    let mut progress = c.progress.subscribe();
    let run = progress.borrow().starts;
    let (d, c) = (d.clone(), c.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(p.interval) => {}
                _ = run_ended(&mut progress, run) => return,
            }
            let result = tokio::select! {
                r = check(&d, &c, &p) => r,
                _ = run_ended(&mut progress, run) => return,
            };
            if ended(&progress.borrow(), run) {
                return;
            }
            record(&c, &p, result);
        }
    });
}

fn ended(p: &Progress, run: u64) -> bool {
    p.removed || p.exits >= run || p.starts != run
}

async fn run_ended(rx: &mut watch::Receiver<Progress>, run: u64) {
    let _ = rx.wait_for(|p| ended(p, run)).await;
}

/// Runs the check once, as an exec; never fails (a failure is a result).
async fn check(d: &Arc<Daemon>, c: &Arc<Container>, p: &Probe) -> CheckResult {
    let start = now_rfc3339();
    let started = std::time::Instant::now();
    let (exit_code, output) = match run_exec(d, c, p).await {
        Ok(r) => r,
        Err(e) => (-1, e.to_string()),
    };
    tracing::debug!(id = %c.id, exit_code, took = ?started.elapsed(), "healthcheck");
    CheckResult {
        start,
        end: now_rfc3339(),
        exit_code,
        output,
    }
}

async fn run_exec(
    d: &Arc<Daemon>,
    c: &Arc<Container>,
    p: &Probe,
) -> Result<(i64, String), EngineError> {
    let config = ExecConfig {
        attach_stdout: true,
        attach_stderr: true,
        cmd: Some(p.args.clone()),
        ..Default::default()
    };
    let id = exec::create(d, c, config)?;
    let e = d.execs.get(&id)?;
    // The instance is only this check's: it leaves the table once it ran.
    let _forget = Forget(d.clone(), id);
    let (d2, e2) = (d.clone(), e.clone());
    let io = tokio::task::spawn_blocking(move || exec::start(&d2, &e2))
        .await
        .map_err(EngineError::system)??;
    let mut state = e.state.subscribe();
    let work = async {
        let output = read_output(io.stdout, io.stderr).await;
        let code = state
            .wait_for(|s| s.exit_code.is_some())
            .await
            .ok()
            .and_then(|s| s.exit_code)
            .unwrap_or(-1);
        (i64::from(code), output)
    };
    match tokio::time::timeout(p.timeout, work).await {
        Ok(r) => Ok(r),
        Err(_) => {
            let pid = e.snapshot().pid;
            if pid > 0 && e.snapshot().exit_code.is_none() {
                let _ = shipshape_runtime::kill(pid, libc::SIGKILL);
            }
            Ok((
                -1,
                format!("Health check exceeded timeout ({})", go_duration(p.timeout)),
            ))
        }
    }
}

struct Forget(Arc<Daemon>, String);

impl Drop for Forget {
    fn drop(&mut self) {
        self.0.execs.forget(&self.1);
    }
}

/// stdout and stderr in the order they arrive, the first 4096 bytes kept
/// and "..." added when there was more (dockerd's limitedBuffer).
async fn read_output(stdout: Option<FdStream>, stderr: Option<FdStream>) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut truncated = false;
    let mut keep = |data: &[u8]| {
        let room = MAX_OUTPUT_LEN.saturating_sub(out.len());
        out.extend_from_slice(&data[..room.min(data.len())]);
        truncated |= data.len() > room;
    };
    let (mut a, mut b) = (stdout, stderr);
    let (mut ba, mut bb) = ([0u8; 4096], [0u8; 4096]);
    while a.is_some() || b.is_some() {
        tokio::select! {
            n = async { a.as_mut().expect("guarded").read(&mut ba).await }, if a.is_some() => {
                match n { Ok(n) if n > 0 => keep(&ba[..n]), _ => a = None }
            }
            n = async { b.as_mut().expect("guarded").read(&mut bb).await }, if b.is_some() => {
                match n { Ok(n) if n > 0 => keep(&bb[..n]), _ => b = None }
            }
        }
    }
    let mut s = String::from_utf8_lossy(&out).into_owned();
    if truncated {
        s.push_str("...");
    }
    s
}

/// dockerd's handleProbeResult: log the result (5 kept), count the streak,
/// change the status, and say so in an event when it changed.
fn record(c: &Container, p: &Probe, result: CheckResult) {
    let changed = {
        let mut r = c.record();
        let started_at = r.state.started_at.clone();
        let Some(h) = r.state.health.as_mut() else {
            return;
        };
        let old = h.status.clone();
        if h.log.len() >= MAX_LOG_ENTRIES {
            h.log.drain(..=h.log.len() - MAX_LOG_ENTRIES);
        }
        let exit_code = result.exit_code;
        let in_start_period = h.status == STARTING
            && since(&started_at, &result.start).is_some_and(|d| d < p.start_period);
        h.log.push(result);
        if exit_code == 0 {
            h.failing_streak = 0;
            h.status = HEALTHY.into();
        } else if !in_start_period {
            h.failing_streak += 1;
            if h.failing_streak >= p.retries {
                h.status = UNHEALTHY.into();
            }
        }
        (h.status != old).then(|| h.status.clone())
    };
    if let Some(status) = changed {
        if let Err(e) = c.save_state() {
            tracing::warn!(id = %c.id, error = %e, "persisting health");
        }
        crate::daemon::events::container(
            c,
            &format!("health_status: {status}"),
            Default::default(),
        );
    }
}

/// How long after `from` `to` is (both RFC 3339); None if unparsable or negative.
fn since(from: &str, to: &str) -> Option<Duration> {
    let a = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let b = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    (b - a).to_std().ok()
}

/// Go's `time.Duration.String()`: "200ms", "1.5s", "1m30s", "1h0m0s".
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let frac = |n: u128, unit: u128, digits: usize| {
        let (int, rem) = (n / unit, n % unit);
        if rem == 0 {
            int.to_string()
        } else {
            let f = format!("{rem:0digits$}");
            format!("{int}.{}", f.trim_end_matches('0'))
        }
    };
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 1_000, 3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 1_000_000, 6));
    }
    let h = ns / 3_600_000_000_000;
    let m = (ns / 60_000_000_000) % 60;
    let s = format!("{}s", frac(ns % 60_000_000_000, 1_000_000_000, 9));
    if h > 0 {
        format!("{h}h{m}m{s}")
    } else if m > 0 {
        format!("{m}m{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        assert_eq!(go_duration(ms(200)), "200ms");
        assert_eq!(go_duration(ms(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_nanos(1500)), "1.5µs");
    }

    fn config(hc: Value) -> Config {
        Config {
            healthcheck: Some(hc),
            ..Default::default()
        }
    }

    #[test]
    fn probes_from_the_test() {
        assert_eq!(probe(&config(json!({"Test": ["NONE"]}))), None);
        assert_eq!(probe(&config(json!({"Test": []}))), None);
        let p = probe(&config(
            json!({"Test": ["CMD-SHELL", "exit 1"], "Retries": 0}),
        ));
        let p = p.expect("a shell check");
        assert_eq!(p.args, ["/bin/sh", "-c", "exit 1"]);
        assert_eq!((p.retries, p.interval), (3, DEFAULT_INTERVAL));
        let p = probe(&config(
            json!({"Test": ["CMD", "/x", "y"], "Timeout": 5_000_000}),
        ));
        assert_eq!(
            p.map(|p| (p.args, p.timeout)),
            Some((vec!["/x".into(), "y".into()], Duration::from_millis(5)))
        );
    }

    #[test]
    fn the_image_fills_what_the_request_left_unset() {
        let image = json!({"Test": ["CMD", "/a"], "Interval": 5, "Retries": 2});
        let mut user = Some(json!({"Interval": 7}));
        merge_image(&mut user, Some(&image));
        assert_eq!(
            user,
            Some(json!({"Test": ["CMD", "/a"], "Interval": 7, "Retries": 2}))
        );
        let mut none = None;
        merge_image(&mut none, Some(&image));
        assert_eq!(none, Some(image));
    }
}
