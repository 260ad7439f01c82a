//! A container's life: create, start, stop, kill, restart, remove, wait, and
//! what happens when its process exits. Docker's rules and messages live here.

use crate::daemon::networks::{self, dns};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use shipshape_runtime::supervisor::ExitStatus;
use shipshape_store::Image;

use super::container::{Container, Progress};
use super::io::{self, FdStream, Output};
use super::logs::LogWriter;
use super::names;
use super::record::{Config, CreateRequest, HostConfig, Record, State, Status, ZERO_TIME};
use crate::daemon::volumes;
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// A signal as the API names it (`SIGKILL`, `KILL`, `9`), with dockerd's
/// message for one it does not know.
pub fn parse_signal(s: &str) -> Result<i32, EngineError> {
    shipshape_runtime::parse_signal(s)
        .ok_or_else(|| EngineError::InvalidParameter(format!("Invalid signal: {s}")))
}

pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;
/// Docker's default stop timeout, in seconds.
const DEFAULT_STOP_TIMEOUT: i64 = 10;
/// How long exit handling waits for the output pipes to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn now_rfc3339() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.9fZ")
        .to_string()
}

/// `POST /containers/create`. Blocking (store lookups and an fsync'd write):
/// call it from a blocking task.
pub fn create(
    d: &Daemon,
    name: Option<&str>,
    req: CreateRequest,
) -> Result<(String, Vec<String>), EngineError> {
    let name = match name {
        Some(n) if !n.is_empty() => {
            if !names::is_valid_name(n) {
                return Err(EngineError::InvalidParameter(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
            if n.starts_with('/') {
                n.to_string()
            } else {
                format!("/{n}")
            }
        }
        _ => loop {
            let n = format!("/{}", names::random_name());
            if d.container(&n).is_err() {
                break n;
            }
        },
    };
    if req.config.image.is_empty() {
        let no_command = req.config.cmd.as_ref().is_none_or(Vec::is_empty)
            && req.config.entrypoint.as_ref().is_none_or(Vec::is_empty);
        // dockerd's answer with neither image nor command; with a command
        // it creates an imageless container, which we refuse.
        return Err(EngineError::InvalidParameter(if no_command {
            "No command specified".into()
        } else {
            "Config cannot be empty in order to create a container".into()
        }));
    }
    let host_config_raw = req.host_config.clone().unwrap_or(serde_json::Value::Null);
    let host_config: HostConfig = match &req.host_config {
        Some(v) => serde_json::from_value(v.clone())
            // A decode error: dockerd 20.10 answers 500 for those.
            .map_err(|e| EngineError::System(format!("invalid HostConfig: {e}")))?,
        None => HostConfig::default(),
    };
    // dockerd refuses these while it decodes, before the image lookup.
    networks::container_mode::check_create(&req.config, &host_config, &host_config_raw)?;
    // dockerd checks capabilities before it looks the image up.
    super::security::validate_capabilities(&host_config)?;
    let image = d.images.get(&req.config.image)?;
    super::validate::platform(
        &image,
        &req.config.image,
        req.platform.as_deref().unwrap_or(""),
    )?;
    super::security::parse_security_opts(host_config.security_opt.as_deref().unwrap_or_default())?;
    super::validate::check(d, &req.config, &host_config_raw)?;
    let extra_networks = super::validate::networking(
        d,
        req.networking_config.as_ref(),
        &host_config.network_mode,
        req.several_networks,
    )?;
    // Mount specs are checked now; volumes are created once the name is ours.
    for bind in host_config.binds.iter().flatten() {
        volumes::mounts::parse_bind(bind)?;
    }
    super::cgroups::validate(&host_config)?;
    if let Some(p) = &host_config.restart_policy {
        super::restart::validate(p)?;
        if host_config.auto_remove && !matches!(p.name.as_str(), "" | "no") {
            return Err(EngineError::InvalidParameter(
                "conflicting options: cannot specify both --restart and --rm".into(),
            ));
        }
    }

    let (mut host_config, mut host_config_raw) = (host_config, host_config_raw);
    super::cgroups::normalize(&mut host_config, &mut host_config_raw);
    super::links::normalize(d, &name, &mut host_config_raw);
    super::namespaces::normalize(d, &mut host_config, &mut host_config_raw)?;
    networks::container_mode::normalize(d, &mut host_config, &mut host_config_raw);
    let warnings = super::cgroups::warnings(&mut host_config, &mut host_config_raw);
    let id = names::new_id();
    let mut config = merge_image_config(req.config, &image);
    config.mac_address = config.mac_address.filter(|m| !m.is_empty());
    if req.several_networks && config.mac_address.is_none() {
        // API 1.44 moved the MAC to the endpoint: a current docker CLI's
        // `run --mac-address` sends it only there, for the NetworkMode's
        // network, and dockerd 25+ gives it to that endpoint.
        config.mac_address =
            networks::endpoint::mode_mac(req.networking_config.as_ref(), &host_config.network_mode);
    }
    if config.hostname.is_empty() {
        // dockerd: a host-network container takes the host's name.
        config.hostname = if host_config.network_mode == "host" {
            crate::daemon::host_name()
        } else {
            id[..12].to_string()
        };
    }
    let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
    argv.extend(config.cmd.clone().unwrap_or_default());
    if argv.is_empty() {
        return Err(EngineError::InvalidParameter("No command specified".into()));
    }

    d.reserve_name(&name, &id)?;
    let image_volumes: Vec<String> = config
        .volumes
        .as_ref()
        .and_then(|v| v.as_object())
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let mount_points = match volumes::mounts::resolve_mounts(
        d,
        host_config.binds.as_deref().unwrap_or_default(),
        host_config.mounts.as_deref().unwrap_or_default(),
        &host_config.tmpfs.clone().unwrap_or_default(),
        host_config.volumes_from.as_deref().unwrap_or_default(),
        &image_volumes,
    ) {
        Ok(m) => m,
        Err(e) => {
            d.release_name(&name);
            return Err(e);
        }
    };
    let record = Record {
        id: id.clone(),
        name: name.clone(),
        created: now_rfc3339(),
        path: argv[0].clone(),
        args: argv[1..].to_vec(),
        config,
        host_config,
        host_config_raw,
        image_id: image.id.clone(),
        state: State::default(),
        restart_count: 0,
        mount_points,
        manually_stopped: false,
        networking_config: req.networking_config.clone(),
    };
    let dir = d.containers_dir().join(&id);
    let c = Container::new(dir.clone(), record);
    // The record is written last: a crash before that leaves a directory
    // without a record, which the next start removes (never acknowledged).
    let persisted = std::fs::create_dir_all(&dir).and_then(|_| c.save());
    if let Err(e) = persisted {
        d.release_name(&name);
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e.into());
    }
    d.register(c.clone());
    for net in extra_networks {
        if let Err(e) = d.networks.set_connected(&net, &id, true, false) {
            tracing::warn!(id = %id, network = %net, error = %e, "connecting at create");
        }
    }
    crate::daemon::events::container(&c, "create", Default::default());
    Ok((id, warnings))
}

/// The image's config supplies what the request leaves out, as Docker does.
fn merge_image_config(mut c: Config, image: &Image) -> Config {
    let ic = image.config.get("config").cloned().unwrap_or_default();
    let strings = |key: &str| -> Option<Vec<String>> {
        ic.get(key)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    };
    let string = |key: &str| {
        ic.get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    if c.entrypoint.is_none() {
        c.entrypoint = strings("Entrypoint");
        if c.cmd.is_none() {
            c.cmd = strings("Cmd");
        }
    }
    // As dockerd merges: the request's entries first, then the image's
    // entries whose keys the request did not set.
    let key = |e: &str| e.split('=').next().unwrap_or("").to_string();
    let mut env: Vec<String> = c.env.take().unwrap_or_default();
    for e in strings("Env").unwrap_or_default() {
        if !env.iter().any(|x| key(x) == key(&e)) {
            env.push(e);
        }
    }
    c.env = Some(env);
    if c.working_dir.is_empty() {
        c.working_dir = string("WorkingDir");
    }
    if c.user.is_empty() {
        c.user = string("User");
    }
    if c.stop_signal.is_none() {
        c.stop_signal = ic
            .get("StopSignal")
            .and_then(|v| v.as_str())
            .map(String::from);
    }
    let mut labels: BTreeMap<String, String> = ic
        .get("Labels")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    labels.extend(c.labels.take().unwrap_or_default());
    c.labels = Some(labels);
    super::health::merge_image(&mut c.healthcheck, ic.get("Healthcheck"));
    if c.volumes.is_none() {
        c.volumes = ic.get("Volumes").filter(|v| !v.is_null()).cloned();
    }
    c
}

/// `POST /containers/{id}/start`.
pub async fn start(d: &Arc<Daemon>, c: &Arc<Container>) -> Result<(), EngineError> {
    let _op = c.op_lock.lock().await;
    if c.record().state.status == Status::Restarting {
        return Err(EngineError::NotModified);
    }
    if !c.is_running() {
        super::restart::reset(c);
    }
    start_locked(d, c).await
}

/// A start by the restart policy (the caller holds `op_lock`).
pub(super) async fn start_unlocked(d: &Arc<Daemon>, c: &Arc<Container>) -> Result<(), EngineError> {
    start_locked(d, c).await
}

async fn start_locked(d: &Arc<Daemon>, c: &Arc<Container>) -> Result<(), EngineError> {
    let rec = c.snapshot();
    if rec.state.status == Status::Paused {
        return Err(EngineError::Conflict(
            "cannot start a paused container, try unpause instead".into(),
        ));
    }
    if rec.state.running() && rec.state.status != Status::Restarting {
        return Err(EngineError::NotModified);
    }
    c.root_released().await;
    // dockerd initializes the log driver before the process is made: a bad
    // --log-opt value fails the start with nothing set up.
    let rotation = match super::log_driver::at_start(rec.host_config.log_config.as_ref()) {
        Ok(r) => r,
        Err(e) => return Err(failed_start(d, c, e).await),
    };
    // The containers it joins or links to must be running.
    let peers = networks::container_mode::join(d, &rec)
        .and_then(|j| Ok((j, networks::links::resolve(d, &rec)?)));
    let (joined, links) = match peers {
        Ok(p) => p,
        Err(e) => return Err(failed_start(d, c, e).await),
    };
    let mut rec = rec;
    if let Some(j) = joined
        .as_ref()
        .filter(|j| j.hostname != rec.config.hostname)
    {
        // dockerd: a joiner takes its target's hostname, and shows it.
        rec.config.hostname = j.hostname.clone();
        c.record().config.hostname = j.hostname.clone();
    }
    let files = super::root::NetworkFiles {
        shared: joined.as_ref().map(|j| j.target.dir().to_path_buf()),
        link_hosts: networks::links::hosts_lines(&links),
    };
    // Addresses on its bridge networks, before its hosts file is written.
    let plan = match crate::daemon::networks::endpoint::attach(d, c, &rec) {
        Ok(p) => p,
        Err(e) => return Err(failed_start(d, c, e).await),
    };
    if let Err(e) = crate::daemon::networks::endpoint::publish_ports(d, c, &rec, &plan) {
        crate::daemon::networks::endpoint::detach(d, &c.id);
        return Err(failed_start(d, c, e).await);
    }
    crate::daemon::networks::endpoint::forget_given_macs(c);
    let hosts_ip = super::init_layer::OwnAddresses {
        each: plan.hosts.clone(),
    };
    let user_defined = plan.user_defined;
    // The cgroups are made while the root is mounted: neither needs the
    // other, and each is a good part of a start.
    let (id2, hc2) = (c.id.clone(), rec.host_config.clone());
    let cgroups = tokio::task::spawn_blocking(move || super::cgroups::prepare(&id2, &hc2));
    let (d2, c2, rec2) = (d.clone(), c.clone(), rec.clone());
    let root = tokio::task::spawn_blocking(move || {
        super::root::prepare_root(&d2, &c2, &rec2, hosts_ip, user_defined, files)
    })
    .await
    .map_err(EngineError::system)
    .and_then(|r| r);
    let cgroups = cgroups.await.map_err(EngineError::system).and_then(|r| r);
    let ((rootfs, mounts), cgroups) = match (root, cgroups) {
        (Ok(root), Ok(cgroups)) => (root, cgroups),
        (Err(e), cgroups) => {
            crate::daemon::networks::endpoint::detach(d, &c.id);
            undo_prepare(d, c, cgroups.is_ok()).await;
            return Err(failed_start(d, c, e).await);
        }
        (Ok(_), Err(e)) => {
            crate::daemon::networks::endpoint::detach(d, &c.id);
            undo_prepare(d, c, false).await;
            return Err(failed_start(d, c, e).await);
        }
    };

    // A bad seccomp profile, a missing host device or a namespace donor
    // that is not running fails the start.
    let (security, devices, namespaces) = match super::security::runtime_security(&rec.host_config)
        .and_then(|s| {
            let devices = super::devices::gather(&rec.host_config)?;
            let ns = super::namespaces::runtime(d, &c.id, &rec.host_config)?;
            Ok((s, devices.into_iter().map(|(d, _)| d).collect(), ns))
        }) {
        Ok(s) => s,
        Err(e) => {
            crate::daemon::networks::endpoint::detach(d, &c.id);
            undo_prepare(d, c, true).await;
            return Err(failed_start(d, c, e).await);
        }
    };
    let cfg = &rec.config;
    let mut spec = super::spec::process_spec(&rec, rootfs, mounts, cgroups, security, devices);
    spec.veths = plan.veths.clone();
    spec.namespaces = namespaces;
    if let Some(j) = &joined {
        spec.network = shipshape_runtime::Network::Join(j.pid);
    }
    // The links' variables, unless the container sets its own.
    for var in links.iter().flat_map(networks::links::env) {
        let key = var.split('=').next().unwrap_or("");
        if !spec.env.iter().any(|e| e.split('=').next() == Some(key)) {
            spec.env.push(var);
        }
    }
    // The embedded resolver's sockets are bound before the command runs.
    spec.dns_bind = plan
        .user_defined
        .then_some(shipshape_dns::EMBEDDED_RESOLVER_V4);
    let mut spawned = match tokio::task::spawn_blocking(move || shipshape_runtime::spawn(&spec))
        .await
        .map_err(EngineError::system)?
    {
        Ok(s) => s,
        Err(e) => {
            // Docker keeps the container "created", with the error and 127/126.
            let code = match &e {
                shipshape_runtime::RuntimeError::ExecPermission { .. } => 126,
                _ => 127,
            };
            c.record().state.exit_code = code;
            crate::daemon::networks::endpoint::detach(d, &c.id);
            undo_prepare(d, c, true).await;
            return Err(failed_start(d, c, e.into()).await);
        }
    };

    let pid = spawned.pid;
    let dns_sockets = spawned.dns_sockets.take();
    crate::daemon::networks::endpoint::network_ready(d, c, pid, &plan);
    // Containers linking this one learn its (new) address.
    networks::links::update_parents(d, c);
    if let Some((udp, tcp)) = dns_sockets {
        dns::start(d, &c.id, udp, tcp, &rec.host_config);
    }
    {
        let mut r = c.record();
        let previous = r.state.health.take();
        let health = super::health::on_start(&r.config, previous);
        r.state = State {
            status: Status::Running,
            pid,
            exit_code: 0,
            error: String::new(),
            started_at: now_rfc3339(),
            finished_at: r.state.finished_at.clone(),
            oom_killed: false,
            pid_start_time: process_start_time(pid).unwrap_or(0),
            health,
        };
    }
    if let Err(e) = c.save_state() {
        tracing::warn!(id = %c.id, error = %e, "persisting started state");
    }

    // stdio: with a tty, stdout is the pty master and stdin (if open) a dup of it.
    {
        let mut run = c.run_handles();
        run.stdin = spawned
            .stdin
            .and_then(|f| FdStream::new(f).ok())
            .map(|s| Arc::new(tokio::sync::Mutex::new(Some(s))));
        run.tty = if cfg.tty {
            spawned.stdout.try_clone().ok()
        } else {
            None
        };
    }
    crate::daemon::events::container_started(d, c);
    c.progress.send_modify(|p| p.starts += 1);
    super::health::spawn_monitor(d, c);
    let log = LogWriter::open_rotating(&c.log_path(), rotation)?;
    let pump = tokio::spawn(io::pump(spawned.stdout, spawned.stderr, log, c.hub.clone()));

    let (tx, rx) = tokio::sync::oneshot::channel();
    d.supervisor().watch(
        pid,
        Box::new(move |status| {
            let _ = tx.send(status);
        }),
    );
    let (d2, c2) = (d.clone(), c.clone());
    tokio::spawn(async move {
        let status = rx.await.unwrap_or(ExitStatus::Signaled(SIGKILL));
        if tokio::time::timeout(DRAIN_TIMEOUT, pump).await.is_err() {
            tracing::warn!(id = %c2.id, "container output did not drain in time");
        }
        on_exit(&d2, &c2, status).await;
    });
    Ok(())
}

/// dockerd removes an AutoRemove container whose start failed, whatever
/// step failed (`docker run --rm` waits for that removal); returns `e`.
/// A start that failed: the container keeps the error as `State.Error`,
/// with exit code 128 unless one was set (127/126 for a command that could
/// not run), as dockerd's start records it; then AutoRemove.
async fn failed_start(d: &Arc<Daemon>, c: &Arc<Container>, e: EngineError) -> EngineError {
    {
        let mut r = c.record();
        r.state.error = e.to_string();
        if r.state.exit_code == 0 {
            r.state.exit_code = 128;
        }
    }
    if let Err(se) = c.save_state() {
        tracing::warn!(id = %c.id, error = %se, "persisting a failed start");
    }
    if c.record().host_config.auto_remove {
        if let Err(re) = remove_locked(d, c).await {
            tracing::warn!(id = %c.id, error = %re, "auto-remove after failed start");
        }
    }
    e
}

/// A start that failed before its process ran: release what `prepare_root`
/// and the cgroups' preparation made.
async fn undo_prepare(d: &Arc<Daemon>, c: &Container, release_cgroups: bool) {
    if release_cgroups {
        super::cgroups::release(&c.id).await;
    }
    let fs_dir = c.fs_dir();
    let _ = tokio::task::spawn_blocking(move || shipshape_runtime::rootfs::unmount_rootfs(&fs_dir))
        .await;
    let (d, id) = (d.clone(), c.id.clone());
    let _ = tokio::task::spawn_blocking(move || d.volumes.release_for(&id)).await;
}

/// Records the exit, wakes waiters and attached clients, releases the rootfs,
/// and honours AutoRemove.
async fn on_exit(d: &Arc<Daemon>, c: &Arc<Container>, status: ExitStatus) {
    // Release the rootfs before the exit becomes visible: once it is, a new
    // start may mount it again, and must not have it unmounted under it.
    *c.run_handles() = Default::default();
    // The root leaves the mount table now; the rest of its unmount (syncing
    // the writable layer) finishes in the background. The cgroups go meanwhile.
    let fs_dir = c.fs_dir();
    let detached = tokio::task::spawn_blocking(move || shipshape_runtime::detach_rootfs(&fs_dir));
    let oom_killed = super::cgroups::release(&c.id).await;
    crate::daemon::networks::endpoint::detach(d, &c.id);
    let (d2, id) = (d.clone(), c.id.clone());
    let _ = tokio::task::spawn_blocking(move || d2.volumes.release_for(&id)).await;
    match detached.await {
        Ok(Ok(root)) => c.release_root_later(root),
        Ok(Err(e)) => tracing::warn!(id = %c.id, error = %e, "unmounting the container's root"),
        Err(e) => tracing::warn!(id = %c.id, error = %e, "unmounting the container's root"),
    }
    let (auto_remove, restart) = {
        let mut r = c.record();
        r.state.status = Status::Exited;
        r.state.running_exit(status.code());
        r.state.oom_killed = oom_killed;
        super::health::on_exit(&mut r.state);
        let restart = super::restart::plan(&c.id, &mut r);
        (r.host_config.auto_remove, restart)
    };
    if let Err(e) = c.save_state() {
        tracing::warn!(id = %c.id, error = %e, "persisting exit");
    }
    // dockerd unregisters a container's exec instances when it stops: from
    // then on they are "No such exec instance" (a stream still being read
    // keeps its own handle).
    d.execs.forget_container(&c.id);
    crate::daemon::events::container_died(d, c, status.code());
    let _ = c.hub.output.send(Output::End);
    c.hub.bump();
    c.progress.send_modify(|p| p.exits += 1);
    tracing::info!(id = %c.id, code = status.code(), "container exited");
    if let Some(planned) = restart {
        super::restart::schedule(d, c, planned);
    }
    if auto_remove {
        let _op = c.op_lock.lock().await;
        let rec = c.snapshot();
        match remove_locked(d, c).await {
            // `docker run --rm` takes the container's anonymous volumes along.
            Ok(()) => volumes::remove_anonymous(d, &rec),
            Err(e) => tracing::warn!(id = %c.id, error = %e, "auto-remove"),
        }
    }
}

impl State {
    fn running_exit(&mut self, code: i32) {
        self.pid = 0;
        self.exit_code = code;
        self.finished_at = now_rfc3339();
    }
}

/// Field 22 of /proc/PID/stat: when the process started, in clock ticks.
/// Together with the pid it identifies one process across pid reuse.
pub(super) fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: count fields after its ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Waits until the container's current run has ended.
async fn wait_exit(c: &Container, seen_exits: u64) {
    let mut rx = c.progress.subscribe();
    let _ = rx.wait_for(|p| p.exits > seen_exits || p.removed).await;
}

/// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after the timeout.
pub async fn stop(
    d: &Arc<Daemon>,
    c: &Arc<Container>,
    signal: Option<i32>,
    timeout: Option<i64>,
) -> Result<(), EngineError> {
    let _op = c.op_lock.lock().await;
    stop_locked(d, c, signal, timeout).await
}

async fn stop_locked(
    _d: &Arc<Daemon>,
    c: &Arc<Container>,
    signal: Option<i32>,
    timeout: Option<i64>,
) -> Result<(), EngineError> {
    let rec = c.snapshot();
    if !rec.state.running() {
        return Err(EngineError::NotModified);
    }
    if super::restart::stopped_by_user(c) {
        // It was waiting to restart: no process, now simply exited.
        return Ok(());
    }
    let exits = c.progress.borrow().exits;
    let signal = signal
        .or_else(|| {
            rec.config
                .stop_signal
                .as_deref()
                .and_then(shipshape_runtime::parse_signal)
        })
        .unwrap_or(SIGTERM);
    let timeout = timeout
        .or(rec.config.stop_timeout)
        .unwrap_or(DEFAULT_STOP_TIMEOUT);
    crate::daemon::events::container_kill(c, signal);
    let _ = shipshape_runtime::kill(rec.state.pid, signal);
    super::cgroups::thaw_if_paused(c).await;
    if timeout < 0 {
        wait_exit(c, exits).await;
        crate::daemon::events::container(c, "stop", Default::default());
        return Ok(());
    }
    let graceful =
        tokio::time::timeout(Duration::from_secs(timeout as u64), wait_exit(c, exits)).await;
    if graceful.is_err() {
        crate::daemon::events::container_kill(c, SIGKILL);
        let _ = shipshape_runtime::kill(rec.state.pid, SIGKILL);
        wait_exit(c, exits).await;
    }
    crate::daemon::events::container(c, "stop", Default::default());
    Ok(())
}

/// `POST /containers/{id}/kill`. `key` is how the client named the container
/// (dockerd echoes it in the error).
pub async fn kill(c: &Arc<Container>, signal: i32, key: &str) -> Result<(), EngineError> {
    let rec = c.snapshot();
    if !rec.state.running() {
        return Err(EngineError::Conflict(format!(
            "Cannot kill container: {key}: Container {} is not running",
            c.id
        )));
    }
    // dockerd: a kill with the stop signal (any signal when none is set)
    // or SIGKILL ends restarting, and resumes a paused container so the
    // signal is delivered.
    let stop_signal = rec
        .config
        .stop_signal
        .as_deref()
        .and_then(shipshape_runtime::parse_signal);
    let exit_on_next = signal == SIGKILL || stop_signal.is_none_or(|s| s == signal);
    if exit_on_next && super::restart::stopped_by_user(c) {
        return Ok(());
    }
    crate::daemon::events::container_kill(c, signal);
    shipshape_runtime::kill(rec.state.pid, signal)?;
    if exit_on_next {
        super::cgroups::thaw_if_paused(c).await;
    }
    if signal == SIGKILL {
        // Docker's kill with SIGKILL returns once the container is dead.
        let exits = c.progress.borrow().exits;
        if c.is_running() {
            wait_exit(c, exits).await;
        }
    }
    Ok(())
}

/// `POST /containers/{id}/restart`: stop if running, then start.
pub async fn restart(
    d: &Arc<Daemon>,
    c: &Arc<Container>,
    signal: Option<i32>,
    timeout: Option<i64>,
) -> Result<(), EngineError> {
    let _op = c.op_lock.lock().await;
    match stop_locked(d, c, signal, timeout).await {
        Ok(()) | Err(EngineError::NotModified) => {}
        Err(e) => return Err(e),
    }
    super::restart::reset(c);
    // Wait for exit handling to finish (state recorded) before starting again.
    let mut rx = c.progress.subscribe();
    let _ = rx.wait_for(|_| !c.is_running()).await;
    start_locked(d, c).await?;
    crate::daemon::events::container(c, "restart", Default::default());
    Ok(())
}

/// `DELETE /containers/{id}`.
pub async fn remove(d: &Arc<Daemon>, c: &Arc<Container>, force: bool) -> Result<(), EngineError> {
    let _op = c.op_lock.lock().await;
    if c.is_running() {
        if !force {
            let what = match c.record().state.status {
                Status::Paused => {
                    return Err(EngineError::Conflict(format!(
                        "You cannot remove a paused container {}. Unpause and then stop the container before attempting removal or force remove",
                        c.id
                    )))
                }
                Status::Restarting => "restarting",
                _ => "running",
            };
            return Err(EngineError::Conflict(format!(
                "You cannot remove a {what} container {}. Stop the container before attempting removal or force remove",
                c.id
            )));
        }
        if !super::restart::stopped_by_user(c) {
            let exits = c.progress.borrow().exits;
            let pid = c.record().state.pid;
            crate::daemon::events::container_kill(c, SIGKILL);
            let _ = shipshape_runtime::kill(pid, SIGKILL);
            super::cgroups::thaw_if_paused(c).await;
            wait_exit(c, exits).await;
        }
    }
    remove_locked(d, c).await
}

async fn remove_locked(d: &Arc<Daemon>, c: &Arc<Container>) -> Result<(), EngineError> {
    if c.progress.borrow().removed {
        return Ok(());
    }
    c.record().state.status = Status::Removing;
    // One rename takes the container off disk (atomically: after a crash it
    // is either all there or gone); unmounting its root and deleting its
    // files happen after the answer, in the background. The unmount of an
    // overlay syncs its upper filesystem, and deleting a tree is many
    // unlinks: both were most of the cost of `DELETE`.
    let trashed = super::trash::move_in(&d.config.data_root, c.dir())?;
    super::trash::empty_in_background(trashed);
    d.unregister(c);
    super::restart::forget(&c.id);
    d.execs.forget_container(&c.id);
    d.networks.forget_container(&c.id);
    crate::daemon::events::container(c, "destroy", Default::default());
    c.progress.send_modify(|p| p.removed = true);
    Ok(())
}

/// Docker's wait conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    /// dockerd 20.10.24 takes any other value (even `bogus`) as
    /// not-running: `wait?condition=bogus` answers 200.
    pub fn parse(s: Option<&str>) -> Self {
        match s.unwrap_or("") {
            "next-exit" => WaitCondition::NextExit,
            "removed" => WaitCondition::Removed,
            _ => WaitCondition::NotRunning,
        }
    }
}

/// Returns a future that resolves when the condition holds, with the exit
/// code to report. The starting point is taken now, not when the future is
/// first polled, so an exit right after the call is not missed.
pub fn wait(
    c: Arc<Container>,
    cond: WaitCondition,
) -> impl std::future::Future<Output = i32> + Send + 'static {
    let mut rx = c.progress.subscribe();
    let start: Progress = *rx.borrow_and_update();
    let running_now = c.is_running();
    async move {
        match cond {
            WaitCondition::NotRunning if !running_now => {}
            WaitCondition::NotRunning | WaitCondition::NextExit => {
                let _ = rx.wait_for(|p| p.exits > start.exits || p.removed).await;
            }
            WaitCondition::Removed => {
                let _ = rx.wait_for(|p| p.removed).await;
            }
        }
        c.record().state.exit_code
    }
}

/// Docker's human "Status" for `docker ps`: "Up 5 seconds", "Exited (0) 2 minutes ago".
pub fn human_status(state: &State, created: &str) -> String {
    let since = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .to_std()
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    };
    match state.status {
        Status::Running => match &state.health {
            Some(h) => format!(
                "Up {} ({})",
                human_duration(since(&state.started_at)),
                h.label()
            ),
            None => format!("Up {}", human_duration(since(&state.started_at))),
        },
        Status::Paused => format!("Up {} (Paused)", human_duration(since(&state.started_at))),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            state.exit_code,
            human_duration(since(&state.finished_at))
        ),
        Status::Exited if state.finished_at != ZERO_TIME => {
            format!(
                "Exited ({}) {} ago",
                state.exit_code,
                human_duration(since(&state.finished_at))
            )
        }
        Status::Exited | Status::Created => {
            let _ = created;
            "Created".into()
        }
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

/// Docker's units.HumanDuration.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => format!("{} hours", s / 3600),
        172_800..=1_209_599 => format!("{} days", s / 86_400),
        1_209_600..=5_183_999 => format!("{} weeks", s / 604_800),
        5_184_000..=63_071_999 => format!("{} months", s / 2_592_000),
        _ => format!("{} years", s / 31_536_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::from_secs(5)), "5 seconds");
        assert_eq!(human_duration(Duration::from_secs(90)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(600)), "10 minutes");
    }

    #[test]
    fn wait_conditions() {
        assert_eq!(WaitCondition::parse(None), WaitCondition::NotRunning);
        assert_eq!(
            WaitCondition::parse(Some("removed")),
            WaitCondition::Removed
        );
        assert_eq!(
            WaitCondition::parse(Some("bogus")),
            WaitCondition::NotRunning
        );
    }
}
