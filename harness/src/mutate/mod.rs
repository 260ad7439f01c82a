//! `shipshape mutants`: how many deliberate divergences from dockerd the
//! harness notices. A proxy ([`proxy`]) in front of the real endpoint plants
//! one mutant of the [`catalogue`] per run; a run that fails has killed it.
//! An unaltered run through the same proxy must pass first, so a kill is the
//! mutant's doing and not the proxy's.
//!
//! A whole run per mutant is slow (a minute or more against dockerd), so by
//! default each mutant runs only the scenarios whose requests in the
//! unaltered run it could act on (its method, path and status condition
//! match, or its query change applies): the same verdict a whole run would
//! give for every scenario the mutant can reach, since the others never see
//! it. A mutant no scenario's request matches is counted as survived
//! ("never triggered") without a run. `--whole` runs everything per mutant.

pub mod catalogue;
pub mod proxy;

use crate::client::Client;
use anyhow::{bail, Context, Result};
use catalogue::Mutant;
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
    /// Run every scenario for each mutant instead of only those whose
    /// requests it could act on.
    #[arg(long)]
    pub whole: bool,
    /// Print, for each mutant, the scenarios it would run given FILE (the
    /// requests an unaltered run wrote with `run --report-requests`), and
    /// exit without running anything.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Give up on one mutant's run after this many seconds (counted as
    /// not killed); the unaltered run gets four times as long.
    #[arg(long, default_value_t = 900, value_name = "SECS")]
    pub run_timeout: u64,
    /// Mutants measured at once, each through its own proxy (each run
    /// still uses --jobs).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub parallel: usize,
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
    /// Scenarios run for it (None: the whole run).
    pub scenarios: Option<usize>,
    pub seconds: f64,
}

pub fn main(args: MutantsArgs) -> Result<ExitCode> {
    if args.list {
        for m in catalogue::all() {
            println!("{:32} {:12} {}", m.name, m.group, m.what);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let selected = select(&args)?;
    if let Some(file) = &args.plan {
        let requests = read_requests(file)?;
        for m in &selected {
            let t = touching(m, &requests);
            println!("{:32} {:>3} {}", m.name, t.len(), t.join(" "));
        }
        return Ok(ExitCode::SUCCESS);
    }
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
    let requests_file = dir.path().join("unaltered.requests.json");
    let identity = run_one(
        &args,
        dir.path(),
        None,
        &args.filter,
        Some(&requests_file),
        // The whole run, where each mutant's is a share of it.
        Duration::from_secs(args.run_timeout.saturating_mul(4)),
        &upstream_client,
    )?;
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
    let requests = if args.whole {
        None
    } else {
        Some(read_requests(&requests_file)?)
    };
    // Mutants run `--parallel` at a time, each through its own proxy;
    // lines print as they end, the report keeps the catalogue's order.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: std::sync::Mutex<Vec<Option<Outcome>>> =
        std::sync::Mutex::new((0..selected.len()).map(|_| None).collect());
    let first_error: std::sync::Mutex<Option<anyhow::Error>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..args.parallel.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(m) = selected.get(i) else { break };
                match measure(&args, dir.path(), m, requests.as_ref(), &upstream_client) {
                    Ok(o) => {
                        print_line(&o);
                        lock(&done)[i] = Some(o);
                    }
                    Err(e) => {
                        lock(&first_error).get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = lock(&first_error).take() {
        return Err(e);
    }
    let outcomes: Vec<Outcome> = std::mem::take(&mut *lock(&done))
        .into_iter()
        .flatten()
        .collect();
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
                "scenarios": o.scenarios,
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
        catalogue::all().collect()
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
        out.sort_by_key(|m| catalogue::all().position(|x| x.name == m.name));
    }
    Ok(out)
}

fn print_line(o: &Outcome) {
    let (word, why) = match &o.verdict {
        Verdict::Killed => ("KILLED  ", format!("by {}", o.failed.join(", "))),
        Verdict::Survived if o.scenarios == Some(0) => (
            "SURVIVED",
            "never triggered (no scenario's request matches it)".to_string(),
        ),
        Verdict::Survived if o.hits == 0 => ("SURVIVED", "never triggered".to_string()),
        Verdict::Survived => ("SURVIVED", "not noticed".to_string()),
        Verdict::Error(e) => ("ERROR   ", e.clone()),
    };
    let ran = o
        .scenarios
        .map(|n| format!("{n:>3} sc"))
        .unwrap_or_else(|| "all   ".to_string());
    println!(
        "{word} {:32} {:>5} hits {ran} {:6.1}s  {why}",
        o.name, o.hits, o.seconds
    );
}

/// A poisoned lock only means another mutant's thread panicked; its data
/// is still whole.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One mutant: a run of the scenarios its selection gives (all of them
/// with `--whole`), or survived unrun when no request matches it.
fn measure(
    args: &MutantsArgs,
    dir: &Path,
    m: &'static Mutant,
    requests: Option<&Requests>,
    upstream: &Client,
) -> Result<Outcome> {
    let limit = Duration::from_secs(args.run_timeout);
    let Some(reqs) = requests else {
        return run_one(args, dir, Some(m), &args.filter, None, limit, upstream);
    };
    let touching = touching(m, reqs);
    if touching.is_empty() {
        return Ok(Outcome {
            name: m.name.to_string(),
            verdict: Verdict::Survived,
            hits: 0,
            failed: Vec::new(),
            scenarios: Some(0),
            seconds: 0.0,
        });
    }
    let mut o = run_one(args, dir, Some(m), &touching, None, limit, upstream)?;
    o.scenarios = Some(touching.len());
    Ok(o)
}

/// The unaltered run's requests per scenario (`run --report-requests`),
/// in run order.
type Requests = Vec<(String, Vec<(String, String, Option<u16>)>)>;

fn read_requests(path: &Path) -> Result<Requests> {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("parsing {}", path.display()))?;
    let list = doc
        .get("scenarios")
        .and_then(Value::as_array)
        .with_context(|| format!("{} has no scenarios", path.display()))?;
    Ok(list
        .iter()
        .filter_map(|s| {
            let name = s.get("name")?.as_str()?.to_string();
            let reqs = s
                .get("requests")?
                .as_array()?
                .iter()
                .filter_map(|r| {
                    Some((
                        r.get(0)?.as_str()?.to_string(),
                        r.get(1)?.as_str()?.to_string(),
                        r.get(2)
                            .and_then(Value::as_u64)
                            .and_then(|s| u16::try_from(s).ok()),
                    ))
                })
                .collect();
            Some((name, reqs))
        })
        .collect())
}

/// The scenarios (full names, run order) with a request `m` could act on.
fn touching(m: &Mutant, requests: &Requests) -> Vec<String> {
    requests
        .iter()
        .filter(|(_, reqs)| reqs.iter().any(|(me, t, st)| m.could_touch(me, t, *st)))
        .map(|(n, _)| n.clone())
        .collect()
}

/// One harness run of the scenarios `filters` select through a proxy
/// planting `mutant` (none: the unaltered run, which writes each
/// scenario's requests to `requests`),
/// then the sweep of anything the run left on the endpoint.
fn run_one(
    args: &MutantsArgs,
    dir: &Path,
    mutant: Option<&'static Mutant>,
    filters: &[String],
    requests: Option<&Path>,
    limit: Duration,
    upstream: &Client,
) -> Result<Outcome> {
    let name = mutant.map(|m| m.name).unwrap_or("unaltered");
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
    for f in filters {
        cmd.arg("--filter").arg(f);
    }
    if let Some(r) = requests {
        cmd.arg("--report-requests").arg(r);
    }
    if let Some(j) = args.jobs {
        cmd.arg("--jobs").arg(j.to_string());
    }
    let started = Instant::now();
    let mut child = cmd.spawn().context("starting shipshape run")?;
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
        None => Verdict::Error(format!("gave up after {} s", limit.as_secs())),
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
        scenarios: None,
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
