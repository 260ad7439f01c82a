//! `shipshape mutants`: how many deliberate divergences from dockerd the
//! harness notices. A proxy ([`proxy`]) in front of the real endpoint plants
//! one mutant of the [`catalogue`] per run; a run that fails has killed it.
//! An unaltered run through the same proxy must pass first, so a kill is the
//! mutant's doing and not the proxy's.

pub mod catalogue;
pub mod proxy;

use crate::client::Client;
use anyhow::{bail, Context, Result};
use catalogue::{Mutant, MUTANTS};
use clap::Args;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct MutantsArgs {
    /// The endpoint's unix socket the proxy forwards to.
    #[arg(long, default_value = "/var/run/docker.sock", value_name = "PATH")]
    pub upstream: PathBuf,
    /// Passed to each run (`run --registry`), for the distribution mutants.
    #[arg(long, value_name = "HOST:PORT")]
    pub registry: Option<String>,
    /// Only these mutants (repeatable); default all.
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// Only N mutants drawn by --seed (a cheap sample).
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Passed to each run (`run --filter`): a quicker, partial measure.
    #[arg(long, value_name = "TEXT")]
    pub filter: Vec<String>,
    /// Passed to each run (`run --jobs`).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Exit 1 when fewer than this fraction of the mutants are killed.
    #[arg(long, value_name = "FRACTION")]
    pub min_kill_rate: Option<f64>,
    /// Keep each run's output and JSON report in DIR (default: a temp dir,
    /// removed at the end).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// List the mutants and exit.
    #[arg(long)]
    pub list: bool,
    /// Give up on one run after this many seconds (counted as not killed).
    #[arg(long, default_value_t = 900, value_name = "SECS")]
    pub run_timeout: u64,
}

/// How one run through the proxy ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The run failed (exit 1).
    Killed,
    /// The run passed (exit 0).
    Survived,
    /// The run could not start or was given up on (exit 2, timeout).
    Error(String),
}

pub struct Outcome {
    pub name: String,
    pub verdict: Verdict,
    /// Exchanges the mutant changed.
    pub hits: usize,
    /// The scenarios that failed.
    pub failed: Vec<String>,
    pub seconds: f64,
}

pub fn main(args: MutantsArgs) -> Result<ExitCode> {
    if args.list {
        for m in MUTANTS {
            println!("{:32} {:12} {}", m.name, m.group, m.what);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let selected = select(&args)?;
    let dir = match &args.keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            Workdir::Kept(d.clone())
        }
        None => Workdir::Temp(tempfile::tempdir().context("temp dir")?),
    };
    let mut upstream_client = Client::from_url(&format!("unix://{}", args.upstream.display()))?;
    upstream_client.negotiate(None)?;
    println!(
        "{} mutants through a proxy to {}",
        selected.len(),
        args.upstream.display()
    );
    let identity = run_one(&args, dir.path(), "unaltered", None, &upstream_client)?;
    if identity.verdict != Verdict::Survived {
        bail!(
            "the unaltered run through the proxy did not pass ({:?}; failed: {}); see {}",
            identity.verdict,
            identity.failed.join(", "),
            dir.path().join("unaltered.log").display()
        );
    }
    println!(
        "PASSED   {:32} {:>5}      {:6.1}s  the endpoint unaltered",
        "unaltered", "", identity.seconds
    );
    let mut outcomes = Vec::new();
    for m in &selected {
        let o = run_one(&args, dir.path(), m.name, Some(m), &upstream_client)?;
        print_line(&o);
        outcomes.push(o);
    }
    let killed = outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Killed)
        .count();
    let rate = if outcomes.is_empty() {
        1.0
    } else {
        killed as f64 / outcomes.len() as f64
    };
    let survivors: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.verdict != Verdict::Killed)
        .map(|o| o.name.as_str())
        .collect();
    println!(
        "mutants: {killed} of {} killed ({:.0}%), the unaltered run passed{}",
        outcomes.len(),
        rate * 100.0,
        if survivors.is_empty() {
            String::new()
        } else {
            format!("; survivors: {}", survivors.join(", "))
        }
    );
    if let Some(path) = &args.report_json {
        let doc = json!({
            "killed": killed,
            "total": outcomes.len(),
            "kill_rate": rate,
            "unaltered_seconds": identity.seconds,
            "mutants": outcomes.iter().map(|o| json!({
                "name": o.name,
                "verdict": match &o.verdict {
                    Verdict::Killed => "killed".to_string(),
                    Verdict::Survived => "survived".to_string(),
                    Verdict::Error(e) => format!("error: {e}"),
                },
                "hits": o.hits,
                "failed": o.failed,
                "seconds": o.seconds,
            })).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(match args.min_kill_rate {
        Some(min) if rate < min => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    })
}

enum Workdir {
    Kept(PathBuf),
    Temp(tempfile::TempDir),
}

impl Workdir {
    fn path(&self) -> &Path {
        match self {
            Workdir::Kept(p) => p,
            Workdir::Temp(t) => t.path(),
        }
    }
}

fn select(args: &MutantsArgs) -> Result<Vec<&'static Mutant>> {
    let mut out: Vec<&'static Mutant> = if args.only.is_empty() {
        MUTANTS.iter().collect()
    } else {
        args.only
            .iter()
            .map(|n| {
                catalogue::find(n).with_context(|| {
                    format!("no mutant is called {n:?} (see `shipshape mutants --list`)")
                })
            })
            .collect::<Result<_>>()?
    };
    if let Some(n) = args.sample {
        // A deterministic draw: the mutants ordered by a hash of seed and name.
        use sha2::{Digest, Sha256};
        out.sort_by_key(|m| Sha256::digest(format!("{}:{}", args.seed, m.name)).to_vec());
        out.truncate(n);
        out.sort_by_key(|m| MUTANTS.iter().position(|x| x.name == m.name));
    }
    Ok(out)
}

fn print_line(o: &Outcome) {
    let (word, why) = match &o.verdict {
        Verdict::Killed => ("KILLED  ", format!("by {}", o.failed.join(", "))),
        Verdict::Survived if o.hits == 0 => ("SURVIVED", "never triggered".to_string()),
        Verdict::Survived => ("SURVIVED", "not noticed".to_string()),
        Verdict::Error(e) => ("ERROR   ", e.clone()),
    };
    println!(
        "{word} {:32} {:>5} hits {:6.1}s  {why}",
        o.name, o.hits, o.seconds
    );
}

/// One harness run through a proxy planting `mutant`, then the sweep of
/// anything the run left on the endpoint.
fn run_one(
    args: &MutantsArgs,
    dir: &Path,
    name: &str,
    mutant: Option<&'static Mutant>,
    upstream: &Client,
) -> Result<Outcome> {
    let sock = dir.join(format!("{name}.sock"));
    let _ = std::fs::remove_file(&sock);
    let proxy = proxy::Proxy::start(&sock, &args.upstream, mutant)
        .with_context(|| format!("starting the proxy on {}", sock.display()))?;
    let report = dir.join(format!("{name}.json"));
    let log = dir.join(format!("{name}.log"));
    let exe = std::env::current_exe().context("finding the shipshape binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .arg("--host")
        .arg(format!("unix://{}", sock.display()))
        .arg("--fail-fast")
        .arg("--report-json")
        .arg(&report)
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(dir.join(format!("{name}.err")))?);
    if let Some(r) = &args.registry {
        cmd.arg("--registry").arg(r);
    }
    for f in &args.filter {
        cmd.arg("--filter").arg(f);
    }
    if let Some(j) = args.jobs {
        cmd.arg("--jobs").arg(j.to_string());
    }
    let started = Instant::now();
    let mut child = cmd.spawn().context("starting shipshape run")?;
    let limit = Duration::from_secs(args.run_timeout);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let seconds = started.elapsed().as_secs_f64();
    let hits = proxy.hits();
    drop(proxy);
    let doc: Option<Value> = std::fs::read(&report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let run_id = doc
        .as_ref()
        .and_then(|d| {
            d.pointer("/run/id")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .or_else(|| run_id_from_log(&log));
    if let Some(id) = &run_id {
        crate::scenarios::hygiene::sweep(upstream, id);
    }
    let failed = doc
        .as_ref()
        .and_then(|d| d.get("results").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter(|r| r.get("status").and_then(Value::as_str) == Some("fail"))
        // Not those --fail-fast stopped half-way.
        .filter(|r| {
            !r.get("reason")
                .and_then(Value::as_str)
                .unwrap_or("")
                .contains(crate::ground::STOPPED)
        })
        .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_string))
        .collect::<Vec<String>>();
    let err_line = std::fs::read_to_string(dir.join(format!("{name}.err")))
        .unwrap_or_default()
        .trim()
        .to_string();
    let failed = match status.and_then(|s| s.code()) {
        Some(2) if failed.is_empty() => vec![err_line],
        _ => failed,
    };
    let verdict = match status.and_then(|s| s.code()) {
        None => Verdict::Error(format!("gave up after {} s", args.run_timeout)),
        Some(0) => Verdict::Survived,
        Some(1) => Verdict::Killed,
        // The run refused the endpoint (exit 2 with one error line): the
        // run failed all the same, since the unaltered one did not.
        Some(2) => Verdict::Killed,
        Some(c) => Verdict::Error(format!(
            "the run exited {c}: {}",
            std::fs::read_to_string(dir.join(format!("{name}.err")))
                .unwrap_or_default()
                .trim()
        )),
    };
    Ok(Outcome {
        name: name.to_string(),
        verdict,
        hits,
        failed,
        seconds,
    })
}

/// `run 1a2b3c4d: seed ...` in a run's output.
fn run_id_from_log(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("run ")?;
        let (id, _) = rest.split_once(':')?;
        Some(id.to_string())
    })
}
