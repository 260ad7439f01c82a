//! `shipshape bench --host A [--host B]`: the same workloads against one or
//! two endpoints in the same run, alternating A B A B after a warm-up, with
//! median/p90/p99 per endpoint and the B/A ratio; then the engine's targets.
//!
//! Latencies go through `conn` (hyper's client, one keep-alive connection);
//! throughputs through `load`, a lean generator whose own CPU cost stays small
//! next to the endpoint's (both share the machine's cores).
//!
//! Everything created carries the label `io.shipshape.bench=<run>` or a
//! per-run tag and is removed at the end; images that existed before are only
//! untagged. A B that cannot be reached is skipped, and the report says so.

mod conn;
mod image;
mod load;
mod memory;
mod stats;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use crate::client::Target;
use conn::{BenchResult, Conn};
use stats::{ms, Samples};

/// `shipshape bench --host A [--host B]`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Endpoint A, and optionally B (`--host A [--host B]`, or a context).
    #[command(flatten)]
    pub target: crate::cli::target::TargetArgs,
    /// Measured iterations per latency workload.
    #[arg(long, default_value_t = 20)]
    pub iterations: usize,
    /// Unmeasured iterations first.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Seconds per throughput measurement.
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Container counts for the listing throughput (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0,100,1000")]
    pub list_sizes: Vec<usize>,
    /// Running containers for the per-container memory figure.
    #[arg(long, default_value_t = 100)]
    pub memory_containers: usize,
    /// Run only workloads whose title contains TEXT (repeatable), e.g.
    /// `--only /_ping --only memory`.
    #[arg(long, value_name = "TEXT")]
    pub only: Vec<String>,
    /// Exit 1 when a headline figure of A against B falls below its floor,
    /// which sits far below its target so that only a real regression crosses
    /// it on a noisy machine (CI): `docker run --rm` 5x, the API cycle 15x,
    /// A's idle RSS 15 MB.
    #[arg(long)]
    pub floor: bool,
}

pub fn main(args: BenchArgs) -> anyhow::Result<std::process::ExitCode> {
    let hosts: Vec<Target> = args
        .target
        .resolve()?
        .into_iter()
        .map(|r| r.target)
        .collect();
    if hosts.is_empty() || hosts.len() > 2 {
        anyhow::bail!("bench takes one or two endpoints (--host, DOCKER_HOST or a context)");
    }
    run(Options {
        hosts,
        iterations: args.iterations.max(1),
        warmup: args.warmup,
        duration: args.duration.max(0.2),
        list_sizes: args.list_sizes,
        memory_containers: args.memory_containers.max(1),
        only: args.only,
        floor: args.floor,
    })
    .map_err(anyhow::Error::msg)
}

/// Options of `shipshape bench`.
#[derive(Debug, Clone)]
pub struct Options {
    pub hosts: Vec<Target>,
    pub iterations: usize,
    pub warmup: usize,
    /// Seconds per throughput measurement.
    pub duration: f64,
    /// Container counts for the list throughput workload.
    pub list_sizes: Vec<usize>,
    /// Running containers for the memory measurement.
    pub memory_containers: usize,
    /// Workload title filters; empty runs everything.
    pub only: Vec<String>,
    /// Check the CI floors (see [`floors`]) and fail below them.
    pub floor: bool,
}

impl Options {
    fn selected(&self, title: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| title.contains(o.as_str()))
    }
}

const LABEL: &str = "io.shipshape.bench";
/// Both endpoints are spoken to at the same API version, so they do the same work.
const API_CAP: (u32, u32) = (1, 41);

struct Endpoint {
    name: &'static str,
    url: String,
    target: Target,
    prefix: String,
    ident: String,
    listener: Option<i32>,
    tag: String,
    image_id: String,
    image_existed: bool,
    /// Daemon RSS right after setup, before any workload ran.
    idle_rss: Option<u64>,
}

impl Endpoint {
    fn p(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

/// One row of the report: a metric measured on each endpoint.
struct Row {
    metric: String,
    values: Vec<Option<Measure>>,
    /// Lower is better (latency) or higher is better (throughput).
    lower_is_better: bool,
}

#[derive(Clone)]
enum Measure {
    Latency(stats::Summary),
    Rate(f64),
    Bytes(u64),
    Unsupported(String),
}

impl Measure {
    fn key(&self) -> Option<f64> {
        match self {
            Measure::Latency(s) => Some(s.median.as_secs_f64()),
            Measure::Rate(r) => Some(*r),
            Measure::Bytes(b) => Some(*b as f64),
            Measure::Unsupported(_) => None,
        }
    }

    fn show(&self) -> String {
        match self {
            Measure::Latency(s) => format!(
                "{} / {} / {} (n={})",
                ms(s.median),
                ms(s.p90),
                ms(s.p99),
                s.n
            ),
            Measure::Rate(r) => format!("{r:.0} req/s"),
            Measure::Bytes(b) => format!("{:.1} MB", *b as f64 / 1e6),
            Measure::Unsupported(why) => format!("unsupported ({why})"),
        }
    }
}

fn unique_run_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// Runs the benchmark and prints the report: failure when `--floor` was
/// asked and a floor was crossed. Errors are one line.
pub fn run(opts: Options) -> Result<std::process::ExitCode, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(run_async(opts))
}

async fn run_async(opts: Options) -> Result<std::process::ExitCode, String> {
    let run = unique_run_id();
    let fixture = crate::fixture::build(&[]).map_err(|e| e.to_string())?;
    let mut eps = Vec::new();
    for (i, url) in opts.hosts.iter().enumerate() {
        let name = if i == 0 { "A" } else { "B" };
        match setup(name, url, &run, &fixture).await {
            Ok(ep) => eps.push(ep),
            Err(e) if i > 0 => println!("{name} = {url}: unreachable or unusable, skipped: {e}"),
            Err(e) => return Err(format!("{url}: {e}")),
        }
    }
    for ep in &eps {
        println!("{} = {} ({})", ep.name, ep.url, ep.ident);
    }
    println!(
        "{} iterations after {} warm-up, alternating endpoints; latencies are median / p90 / p99\n",
        opts.iterations, opts.warmup
    );
    let result = workloads(&eps, &opts, &run).await;
    for ep in &eps {
        if let Err(e) = cleanup(ep, &run).await {
            println!("cleanup of {}: {e}", ep.url);
        }
    }
    let rows = result?;
    report(&eps, &rows);
    if opts.floor && !floors(&eps, &rows) {
        return Ok(std::process::ExitCode::FAILURE);
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// How long a daemon is left alone before its idle RSS is read.
const IDLE_SETTLE: Duration = Duration::from_secs(1);

async fn setup(
    name: &'static str,
    target: &Target,
    run: &str,
    fixture: &crate::fixture::Fixture,
) -> BenchResult<Endpoint> {
    let target = target.clone();
    let url = target.to_string();
    let mut c = Conn::open(&target).await?;
    let v = c.json(Method::GET, "/version", None, 200).await?;
    let api = v["ApiVersion"].as_str().unwrap_or("1.24");
    let (maj, min) = api
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .unwrap_or((1, 24));
    let (maj, min) = std::cmp::min((maj, min), API_CAP);
    let prefix = format!("/v{maj}.{min}");
    let ident = format!(
        "{} {}, API {maj}.{min}",
        v["Platform"]["Name"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("Docker Engine"),
        v["Version"].as_str().unwrap_or("?")
    );
    let listener = match &target {
        Target::Unix(p) => memory::listener_pid(p),
        _ => None,
    };
    let image_id = fixture.image_id.clone();
    let (status, _) = c
        .send(
            Method::GET,
            &format!("{prefix}/images/{image_id}/json"),
            None,
        )
        .await?;
    let image_existed = status == 200;
    let (status, body) = c
        .send(
            Method::POST,
            &format!("{prefix}/images/load?quiet=1"),
            Some((Bytes::from(fixture.tarball.clone()), "application/x-tar")),
        )
        .await?;
    if status != 200 || String::from_utf8_lossy(&body).contains("\"error") {
        return Err(format!(
            "loading the fixture image: {status} {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let tag = format!("shipshape-bench:{run}");
    c.json(
        Method::POST,
        &format!("{prefix}/images/{image_id}/tag?repo=shipshape-bench&tag={run}"),
        None,
        201,
    )
    .await?;
    // Idle means no request for a while, not the instant the load answered:
    // a daemon may give memory back once quiet (the reference engine trims
    // its heap 250 ms after its last connection closes).
    drop(c);
    if listener.is_some() {
        tokio::time::sleep(IDLE_SETTLE).await;
    }
    let idle_rss = listener.map(memory::daemon_rss);
    Ok(Endpoint {
        name,
        url,
        target,
        prefix,
        ident,
        listener,
        tag,
        image_id,
        image_existed,
        idle_rss,
    })
}

/// Removes this run's containers, tag, and the fixture image if the run loaded it.
async fn cleanup(ep: &Endpoint, run: &str) -> BenchResult<()> {
    let mut c = Conn::open(&ep.target).await?;
    let filters = crate::client::enc(&json!({"label": [format!("{LABEL}={run}")]}).to_string());
    let list = c
        .json(
            Method::GET,
            &ep.p(&format!("/containers/json?all=1&filters={filters}")),
            None,
            200,
        )
        .await?;
    for item in list.as_array().into_iter().flatten() {
        if let Some(id) = item["Id"].as_str() {
            let _ = c
                .send(
                    Method::DELETE,
                    &ep.p(&format!("/containers/{id}?force=1")),
                    None,
                )
                .await;
        }
    }
    let _ = c
        .send(Method::DELETE, &ep.p(&format!("/images/{}", ep.tag)), None)
        .await;
    if !ep.image_existed {
        let _ = c
            .send(
                Method::DELETE,
                &ep.p(&format!("/images/{}", ep.image_id)),
                None,
            )
            .await;
    }
    Ok(())
}

fn container_body(ep: &Endpoint, run: &str, cmd: &[&str]) -> Value {
    json!({"Image": ep.tag, "Cmd": cmd, "Labels": {LABEL: run}})
}

async fn create(c: &mut Conn, ep: &Endpoint, run: &str, cmd: &[&str]) -> BenchResult<String> {
    let v = c
        .json(
            Method::POST,
            &ep.p("/containers/create"),
            Some(container_body(ep, run, cmd)),
            201,
        )
        .await?;
    v["Id"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| "create: no Id".to_string())
}

/// `METHOD /containers/{id}<suffix>` without a body, expecting status `want`.
async fn on_container(
    c: &mut Conn,
    ep: &Endpoint,
    method: Method,
    id: &str,
    suffix: &str,
    want: u16,
) -> BenchResult<()> {
    c.json(
        method,
        &ep.p(&format!("/containers/{id}{suffix}")),
        None,
        want,
    )
    .await
    .map(|_| ())
}

/// The workloads whose cost is one operation's latency.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    CreateRm,
    Run,
    Exec,
    Logs,
    Load,
    CliRun,
}

impl Op {
    fn title(self) -> &'static str {
        match self {
            Op::CreateRm => "create + rm",
            Op::Run => "create / start / wait / rm (no-op)",
            Op::Exec => "exec of a no-op",
            Op::Logs => "logs of 10,000 lines",
            Op::Load => "load a 50 MB image",
            Op::CliRun => "docker run --rm IMAGE (CLI round trip)",
        }
    }
}

/// Per-endpoint state a workload needs (a running container, ...).
#[derive(Default, Clone)]
struct Prep {
    container: Option<String>,
    big: Option<(Bytes, String)>,
}

async fn prepare(op: Op, ep: &Endpoint, run: &str) -> BenchResult<Prep> {
    let mut c = Conn::open(&ep.target).await?;
    let mut prep = Prep::default();
    match op {
        Op::Exec => {
            let id = create(&mut c, ep, run, &["/probe", "sleep", "600"]).await?;
            on_container(&mut c, ep, Method::POST, &id, "/start", 204).await?;
            prep.container = Some(id);
        }
        Op::Logs => {
            let id = create(&mut c, ep, run, &["/probe", "lines", "10000"]).await?;
            on_container(&mut c, ep, Method::POST, &id, "/start", 204).await?;
            on_container(&mut c, ep, Method::POST, &id, "/wait", 200).await?;
            prep.container = Some(id);
        }
        _ => {}
    }
    Ok(prep)
}

/// One measured operation. `Ok(None)`: the endpoint does not support it.
async fn once(
    op: Op,
    ep: &Endpoint,
    run: &str,
    prep: &Prep,
    seq: u64,
) -> BenchResult<Result<Duration, String>> {
    let mut c = Conn::open(&ep.target).await?;
    let t = Instant::now();
    match op {
        Op::CreateRm => {
            let id = create(&mut c, ep, run, &["/probe", "exit", "0"]).await?;
            on_container(&mut c, ep, Method::DELETE, &id, "", 204).await?;
        }
        Op::Run => {
            let id = create(&mut c, ep, run, &["/probe", "exit", "0"]).await?;
            on_container(&mut c, ep, Method::POST, &id, "/start", 204).await?;
            on_container(&mut c, ep, Method::POST, &id, "/wait", 200).await?;
            on_container(&mut c, ep, Method::DELETE, &id, "", 204).await?;
        }
        Op::Exec => {
            let id = prep.container.as_deref().unwrap_or_default();
            let body =
                json!({"Cmd": ["/probe", "exit", "0"], "AttachStdout": true, "AttachStderr": true});
            let (status, b) = c
                .send(
                    Method::POST,
                    &ep.p(&format!("/containers/{id}/exec")),
                    Some((Bytes::from(body.to_string()), "application/json")),
                )
                .await?;
            if status == 404 && String::from_utf8_lossy(&b).contains("page not found")
                || status == 501
            {
                return Ok(Err(format!("{status}")));
            }
            let v: Value =
                serde_json::from_slice(&b).map_err(|e| format!("exec create: {status} {e}"))?;
            let exec = v["Id"].as_str().ok_or("exec create: no Id")?.to_string();
            // Not upgraded: dockerd streams the output and closes at exit.
            let mut s = Conn::open(&ep.target).await?;
            let start = json!({"Detach": false, "Tty": false});
            s.send(
                Method::POST,
                &ep.p(&format!("/exec/{exec}/start")),
                Some((Bytes::from(start.to_string()), "application/json")),
            )
            .await?;
        }
        Op::Logs => {
            let id = prep.container.as_deref().unwrap_or_default();
            let (status, body) = c
                .send(
                    Method::GET,
                    &ep.p(&format!("/containers/{id}/logs?stdout=1&stderr=1")),
                    None,
                )
                .await?;
            if status != 200 || body.len() < 10_000 * 8 {
                return Err(format!("logs: {status}, {} bytes", body.len()));
            }
        }
        Op::Load => {
            let (tar, id) = prep.big.clone().ok_or("no image")?;
            let (status, body) = c
                .send(
                    Method::POST,
                    &ep.p("/images/load?quiet=1"),
                    Some((tar, "application/x-tar")),
                )
                .await?;
            if status != 200 || String::from_utf8_lossy(&body).contains("\"error") {
                return Err(format!("load: {status} {}", String::from_utf8_lossy(&body)));
            }
            let elapsed = t.elapsed();
            c.json(
                Method::DELETE,
                &ep.p(&format!("/images/{id}?force=1")),
                None,
                200,
            )
            .await?;
            let _ = seq;
            return Ok(Ok(elapsed));
        }
        Op::CliRun => {
            let reach = ep.target.docker_cli_args();
            let tag = ep.tag.clone();
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new("docker")
                    .args(reach)
                    .args(["run", "--rm", &tag, "/probe", "exit", "0"])
                    .env_remove("DOCKER_CONTEXT")
                    .output()
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("docker CLI: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "docker run: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
    }
    Ok(Ok(t.elapsed()))
}

async fn latency_row(op: Op, eps: &[Endpoint], opts: &Options, run: &str) -> BenchResult<Row> {
    let mut preps = Vec::new();
    for (i, ep) in eps.iter().enumerate() {
        let mut p = prepare(op, ep, run).await?;
        if op == Op::Load {
            // A new image per endpoint and iteration would cost more to build
            // than to load; one per endpoint, deleted after each load, is fresh enough.
            let seed = u64::from_str_radix(run, 16).unwrap_or(1) ^ (i as u64 + 1);
            let (tar, id) = image::big_image(50 << 20, seed)?;
            p.big = Some((Bytes::from(tar), id));
        }
        preps.push(p);
    }
    let (warmup, iterations) = match op {
        Op::Load => (1, opts.iterations.clamp(1, 5)),
        _ => (opts.warmup, opts.iterations),
    };
    let mut samples: Vec<Samples> = vec![Samples::default(); eps.len()];
    let mut unsupported: Vec<Option<String>> = vec![None; eps.len()];
    for i in 0..warmup + iterations {
        for (k, ep) in eps.iter().enumerate() {
            if unsupported[k].is_some() {
                continue;
            }
            match once(op, ep, run, &preps[k], i as u64).await? {
                Ok(d) if i >= warmup => samples[k].push(d),
                Ok(_) => {}
                Err(status) => unsupported[k] = Some(format!("endpoint answered {status}")),
            }
        }
    }
    let values = samples
        .iter()
        .zip(unsupported)
        .map(|(s, u)| match u {
            Some(why) => Some(Measure::Unsupported(why)),
            None => s.summary().map(Measure::Latency),
        })
        .collect();
    Ok(Row {
        metric: op.title().to_string(),
        values,
        lower_is_better: true,
    })
}

/// Requests per second on `path` with `conns` keep-alive connections, each
/// sending its next request when the answer is in.
async fn throughput(target: &Target, path: &str, conns: usize, secs: f64) -> BenchResult<f64> {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let target = target.clone();
        let path = path.to_string();
        tasks.push(tokio::spawn(async move {
            let mut c = load::Getter::open(&target, &path).await?;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let status = c.get().await.map_err(|e| format!("GET {path}: {e}"))?;
                if status != 200 {
                    return Err(format!("GET {path}: {status}"));
                }
                n += 1;
            }
            Ok::<u64, String>(n)
        }));
    }
    let start = Instant::now();
    let mut total = 0;
    for t in tasks {
        total += t.await.map_err(|e| e.to_string())??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

async fn rate_row(
    metric: String,
    eps: &[Endpoint],
    path: &str,
    conns: usize,
    opts: &Options,
) -> BenchResult<Row> {
    // Alternate short rounds so both endpoints see the same machine load.
    let rounds = 3;
    let mut sums = vec![0.0; eps.len()];
    let _ = throughput(&eps[0].target, &eps[0].p(path), conns, 0.2).await?;
    for _ in 0..rounds {
        for (k, ep) in eps.iter().enumerate() {
            sums[k] += throughput(
                &ep.target,
                &ep.p(path),
                conns,
                opts.duration / rounds as f64,
            )
            .await?;
        }
    }
    Ok(Row {
        metric,
        values: sums
            .into_iter()
            .map(|s| Some(Measure::Rate(s / rounds as f64)))
            .collect(),
        lower_is_better: false,
    })
}

/// Creates containers (never started) until `n` of this run's exist.
async fn grow_containers(ep: &Endpoint, run: &str, n: usize, have: usize) -> BenchResult<()> {
    let mut c = Conn::open(&ep.target).await?;
    for _ in have..n {
        create(&mut c, ep, run, &["/probe", "exit", "0"]).await?;
    }
    Ok(())
}

async fn memory_rows(eps: &[Endpoint], opts: &Options, run: &str) -> BenchResult<Vec<Row>> {
    let mut idle = Vec::new();
    let mut per = Vec::new();
    for ep in eps {
        let Some(pid) = ep.listener else {
            idle.push(Some(Measure::Unsupported(
                "daemon process not found".into(),
            )));
            per.push(Some(Measure::Unsupported(
                "daemon process not found".into(),
            )));
            continue;
        };
        idle.push(ep.idle_rss.map(Measure::Bytes));
        let before = memory::daemon_rss(pid);
        let mut c = Conn::open(&ep.target).await?;
        let mut ids = Vec::new();
        for _ in 0..opts.memory_containers {
            let id = create(&mut c, ep, run, &["/probe", "sleep", "600"]).await?;
            on_container(&mut c, ep, Method::POST, &id, "/start", 204).await?;
            ids.push(id);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = memory::daemon_rss(pid);
        per.push(Some(Measure::Bytes(
            after.saturating_sub(before) / opts.memory_containers.max(1) as u64,
        )));
        for id in ids {
            let _ = c
                .send(
                    Method::DELETE,
                    &ep.p(&format!("/containers/{id}?force=1")),
                    None,
                )
                .await;
        }
    }
    Ok(vec![
        Row {
            metric: "daemon RSS, idle, before the workloads (dockerd: + containerd + shims)".into(),
            values: idle,
            lower_is_better: true,
        },
        Row {
            metric: format!(
                "daemon RSS per running container ({} running)",
                opts.memory_containers
            ),
            values: per,
            lower_is_better: true,
        },
    ])
}

async fn workloads(eps: &[Endpoint], opts: &Options, run: &str) -> BenchResult<Vec<Row>> {
    let mut rows = Vec::new();
    let progress = |what: &str| eprintln!("bench: {what}");
    for op in [Op::CreateRm, Op::Run, Op::Exec, Op::Logs, Op::Load] {
        if !opts.selected(op.title()) {
            continue;
        }
        progress(op.title());
        rows.push(latency_row(op, eps, opts, run).await?);
    }
    if !opts.selected(Op::CliRun.title()) {
    } else if which_docker().is_some() {
        progress(Op::CliRun.title());
        rows.push(latency_row(Op::CliRun, eps, opts, run).await?);
    } else {
        println!("docker CLI not found on PATH: the CLI round trip is skipped");
    }
    for conns in [1, 16] {
        if !opts.selected(&format!("GET /_ping, {conns} connection(s)")) {
            continue;
        }
        progress(&format!("/_ping x{conns}"));
        rows.push(
            rate_row(
                format!("GET /_ping, {conns} connection(s)"),
                eps,
                "/_ping",
                conns,
                opts,
            )
            .await?,
        );
    }
    let mut have = vec![0usize; eps.len()];
    for &n in &opts.list_sizes {
        if !opts.selected(&format!("GET /containers/json?all=1, {n} containers")) {
            continue;
        }
        progress(&format!("/containers/json with {n} containers"));
        for (k, ep) in eps.iter().enumerate() {
            grow_containers(ep, run, n, have[k]).await?;
            have[k] = have[k].max(n);
        }
        // Other containers on the endpoint are listed too; the count is ours.
        rows.push(
            rate_row(
                format!("GET /containers/json?all=1, {n} containers"),
                eps,
                "/containers/json?all=1",
                4,
                opts,
            )
            .await?,
        );
    }
    // Remove the listed containers before measuring memory.
    for ep in eps {
        cleanup_containers(ep, run).await?;
    }
    if opts.selected("daemon RSS memory") {
        progress("memory");
        rows.extend(memory_rows(eps, opts, run).await?);
    }
    Ok(rows)
}

async fn cleanup_containers(ep: &Endpoint, run: &str) -> BenchResult<()> {
    let mut c = Conn::open(&ep.target).await?;
    let filters = crate::client::enc(&json!({"label": [format!("{LABEL}={run}")]}).to_string());
    let list = c
        .json(
            Method::GET,
            &ep.p(&format!("/containers/json?all=1&filters={filters}")),
            None,
            200,
        )
        .await?;
    for item in list.as_array().into_iter().flatten() {
        if let Some(id) = item["Id"].as_str() {
            c.send(
                Method::DELETE,
                &ep.p(&format!("/containers/{id}?force=1")),
                None,
            )
            .await?;
        }
    }
    Ok(())
}

fn which_docker() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("docker"))
            .find(|f| f.is_file())
    })
}

/// How much better A is than B on a row (>1: A better); None without both values.
fn advantage(row: &Row) -> Option<f64> {
    let a = row.values.first()?.as_ref()?.key()?;
    let b = row.values.get(1)?.as_ref()?.key()?;
    if a <= 0.0 || b <= 0.0 {
        return None;
    }
    Some(if row.lower_is_better { b / a } else { a / b })
}

fn report(eps: &[Endpoint], rows: &[Row]) {
    let width = rows.iter().map(|r| r.metric.len()).max().unwrap_or(10) + 2;
    let mut header = format!("{:width$}", "workload");
    for ep in eps {
        header.push_str(&format!("{:38}", ep.name));
    }
    if eps.len() > 1 {
        header.push_str("A vs B");
    }
    println!("{header}");
    for r in rows {
        let mut line = format!("{:width$}", r.metric);
        for v in &r.values {
            line.push_str(&format!(
                "{:38}",
                v.as_ref().map(Measure::show).unwrap_or_else(|| "-".into())
            ));
        }
        if let Some(x) = advantage(r) {
            line.push_str(&format!(
                "{x:.1}x {}",
                if x >= 1.0 { "better" } else { "worse" }
            ));
        }
        println!("{line}");
    }
    println!();
    targets(eps, rows);
}

/// The engine's targets (A = engine, B = dockerd), checked on this run.
fn targets(eps: &[Endpoint], rows: &[Row]) {
    let find = |prefix: &str| rows.iter().find(|r| r.metric.starts_with(prefix));
    let mut lines: Vec<(String, String, Option<bool>)> = Vec::new();
    if eps.len() > 1 {
        for (metric, need) in [
            ("docker run --rm", 8.0),
            ("create / start / wait / rm", 30.0),
            ("GET /_ping, 16", 3.0),
            ("GET /containers/json?all=1, 100 ", 50.0),
        ] {
            let got = find(metric).and_then(advantage);
            lines.push((
                format!("{metric}: A at least {need}x better than B"),
                got.map(|g| format!("{g:.1}x"))
                    .unwrap_or_else(|| "not measured".into()),
                got.map(|g| g >= need),
            ));
        }
    }
    let a_bytes =
        |prefix: &str| match find(prefix).and_then(|r| r.values.first().cloned().flatten()) {
            Some(Measure::Bytes(b)) => Some(b),
            _ => None,
        };
    let idle = a_bytes("daemon RSS, idle");
    lines.push((
        "A idle RSS at most 10 MB".into(),
        idle.map(|b| format!("{:.1} MB", b as f64 / 1e6))
            .unwrap_or("-".into()),
        idle.map(|b| b <= 10_000_000),
    ));
    let per = a_bytes("daemon RSS per running");
    lines.push((
        "A RSS per running container at most 1 MB".into(),
        per.map(|b| format!("{:.2} MB", b as f64 / 1e6))
            .unwrap_or("-".into()),
        per.map(|b| b <= 1_000_000),
    ));
    // Linear listing: the time per request above the empty list grows ~10x from 100 to 1000.
    let rate = |n: usize| match find(&format!("GET /containers/json?all=1, {n} "))
        .and_then(|r| r.values.first().cloned().flatten())
    {
        Some(Measure::Rate(r)) if r > 0.0 => Some(1.0 / r),
        _ => None,
    };
    if let (Some(t0), Some(t100), Some(t1000)) = (rate(0), rate(100), rate(1000)) {
        let growth = (t1000 - t0) / (t100 - t0).max(1e-9);
        lines.push((
            "A listing cost grows linearly (100 -> 1000: 5x..20x)".into(),
            format!("{growth:.1}x"),
            Some((5.0..=20.0).contains(&growth)),
        ));
    }
    println!("{:66}{:16}verdict", "target", "this run");
    for (what, got, ok) in lines {
        let verdict = match ok {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "n/a",
        };
        println!("{what:66}{got:16}{verdict}");
    }
}

/// The CI floors: far below the targets, so that machine noise never crosses
/// them and a real regression does. Prints each figure; true when all hold
/// (a figure that was not measured fails: the floor run must measure it).
fn floors(eps: &[Endpoint], rows: &[Row]) -> bool {
    let find = |prefix: &str| rows.iter().find(|r| r.metric.starts_with(prefix));
    // (what, figure, unit, held)
    let mut checks: Vec<(String, Option<f64>, &str, bool)> = Vec::new();
    for (metric, floor) in [
        ("docker run --rm", 5.0),
        ("create / start / wait / rm", 15.0),
    ] {
        let got = if eps.len() > 1 {
            find(metric).and_then(advantage)
        } else {
            None
        };
        checks.push((
            format!("{metric}: A at least {floor}x better than B"),
            got,
            "x",
            got.is_some_and(|g| g >= floor),
        ));
    }
    let idle = match find("daemon RSS, idle").and_then(|r| r.values.first().cloned().flatten()) {
        Some(Measure::Bytes(b)) => Some(b as f64 / 1e6),
        _ => None,
    };
    checks.push((
        "A idle RSS at most 15 MB".into(),
        idle,
        " MB",
        idle.is_some_and(|mb| mb <= 15.0),
    ));
    println!("\n{:66}{:16}verdict", "CI floor", "this run");
    let mut ok = true;
    for (what, got, unit, held) in checks {
        ok &= held;
        let got = got.map_or_else(|| "not measured".into(), |g| format!("{g:.1}{unit}"));
        println!("{what:66}{got:16}{}", if held { "held" } else { "CROSSED" });
    }
    ok
}
