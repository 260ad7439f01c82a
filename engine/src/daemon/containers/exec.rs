//! `docker exec`: extra processes in a running container. An exec instance is
//! created (config only), started once (the process runs in the container's
//! namespaces through `shipshape_runtime::exec_in`), and inspected until the
//! container is removed. Its exit status comes from the daemon's supervisor.

use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Deserialize;
use shipshape_runtime::supervisor::ExitStatus;
use shipshape_runtime::{ExecSpec, Spawned};
use tokio::sync::watch;

use super::container::Container;
use super::io::FdStream;
use super::names;
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// The body of `POST /containers/{id}/exec`. Unknown fields are ignored, as dockerd does.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub detach_keys: String,
    pub tty: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub privileged: bool,
    pub user: String,
    pub working_dir: String,
}

/// Where an exec instance is in its (single) life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecState {
    pub started: bool,
    pub running: bool,
    pub pid: i32,
    /// None until the process ended (or failed to start).
    pub exit_code: Option<i32>,
}

pub struct Exec {
    pub id: String,
    pub container: Arc<Container>,
    pub config: ExecConfig,
    /// The `DetachKeys` of the create request, parsed (None: not given).
    pub detach_keys: Option<Vec<u8>>,
    /// The variables of the container's legacy links, as they were at
    /// create (dockerd resolves the links then).
    link_env: Vec<String>,
    /// Watched by the HTTP session (to end the stream) and by resize (to
    /// wait for the process to exist).
    pub state: watch::Sender<ExecState>,
    /// The pty master while the process runs with a tty, for resize.
    tty: Mutex<Option<File>>,
}

impl Exec {
    pub fn snapshot(&self) -> ExecState {
        *self.state.borrow()
    }

    pub fn tty(&self) -> MutexGuard<'_, Option<File>> {
        self.tty.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The stdio of a started exec, handed to whoever streams it.
pub struct ExecIo {
    pub stdin: Option<FdStream>,
    pub stdout: Option<FdStream>,
    /// None with a tty (merged into stdout).
    pub stderr: Option<FdStream>,
}

/// All exec instances, by ID.
#[derive(Default)]
pub struct ExecTable {
    by_id: Mutex<HashMap<String, Arc<Exec>>>,
}

impl ExecTable {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<Exec>>> {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, id: &str) -> Result<Arc<Exec>, EngineError> {
        self.map()
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(format!("No such exec instance: {id}")))
    }

    /// Exec IDs of a container that have not finished, as inspect's `ExecIDs`.
    pub fn pending_for(&self, container_id: &str) -> Vec<String> {
        self.map()
            .values()
            .filter(|e| e.container.id == container_id && e.snapshot().exit_code.is_none())
            .map(|e| e.id.clone())
            .collect()
    }

    /// A finished instance nobody will ask about (a healthcheck's).
    pub fn forget(&self, id: &str) {
        self.map().remove(id);
    }

    /// A removed container takes its exec instances with it.
    pub fn forget_container(&self, container_id: &str) {
        self.map().retain(|_, e| e.container.id != container_id);
    }
}

/// `POST /containers/{id}/exec`.
pub fn create(d: &Daemon, c: &Arc<Container>, config: ExecConfig) -> Result<String, EngineError> {
    if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
        return Err(EngineError::InvalidParameter(
            "No exec command specified".into(),
        ));
    }
    super::cgroups::check_not_paused(c)?;
    if !c.is_running() {
        return Err(EngineError::Conflict(format!(
            "Container {} is not running",
            c.id
        )));
    }
    // After the container checks, as dockerd.
    let detach_keys = super::detach::for_exec(&config.detach_keys)?;
    // dockerd resolves the links again for each exec: a target that is not
    // running fails the create, and the variables carry its address now.
    let links = crate::daemon::networks::links::resolve(d, &c.snapshot())?;
    let link_env = links
        .iter()
        .flat_map(crate::daemon::networks::links::env)
        .collect();
    let id = names::new_id();
    let exec = Arc::new(Exec {
        id: id.clone(),
        container: c.clone(),
        config,
        detach_keys,
        link_env,
        state: watch::channel(ExecState::default()).0,
        tty: Mutex::new(None),
    });
    d.execs.map().insert(id.clone(), exec.clone());
    exec_event(&exec, "exec_create");
    Ok(id)
}

/// A second start: dockerd's words, "Error: " included (in the 409 body of
/// a detached start as in the stream of an attached one).
fn already_run(e: &Exec) -> EngineError {
    EngineError::Conflict(format!("Error: Exec command {} has already run", e.id))
}

/// Why a start was refused before anything ran; the API writes the message
/// into the stream as dockerd does.
pub fn check_startable(e: &Exec) -> Result<(), EngineError> {
    let st = e.snapshot();
    if st.started {
        return Err(already_run(e));
    }
    super::cgroups::check_not_paused(&e.container)?;
    if !e.container.is_running() {
        return Err(EngineError::Conflict(format!(
            "Container {} is not running",
            e.container.id
        )));
    }
    Ok(())
}

/// The environment an exec runs with: HOSTNAME (and TERM with a tty), the
/// links' variables, the container's, then the exec's own entries, each
/// overriding the ones before, as dockerd builds it.
fn exec_env(c: &Container, e: &ExecConfig, link_env: &[String]) -> Vec<String> {
    let rec = c.record();
    let mut env: Vec<String> = Vec::new();
    let mut set = |kv: &str| {
        let key = kv.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(kv.to_string());
    };
    set(super::lifecycle::DEFAULT_PATH);
    set(&format!("HOSTNAME={}", rec.config.hostname));
    if e.tty {
        set("TERM=xterm");
    }
    for kv in link_env {
        set(kv);
    }
    for kv in rec.config.env.iter().flatten() {
        set(kv);
    }
    for kv in e.env.iter().flatten() {
        set(kv);
    }
    env
}

/// Starts the process (blocking: call from a blocking task). Marks the exec
/// started either way; a failure records exit code 126, as dockerd does.
/// The supervisor reports the exit; `state` follows it.
pub fn start(d: &Daemon, e: &Arc<Exec>) -> Result<ExecIo, EngineError> {
    // Claim the instance: a second start must see "already run".
    let mut claimed = false;
    e.state.send_if_modified(|s| {
        if s.started {
            return false;
        }
        s.started = true;
        claimed = true;
        true
    });
    if !claimed {
        return Err(already_run(e));
    }
    let (pid, user, cwd, host_config) = {
        let rec = e.container.record();
        let user = if e.config.user.is_empty() {
            rec.config.user.clone()
        } else {
            e.config.user.clone()
        };
        let cwd = if e.config.working_dir.is_empty() {
            rec.config.working_dir.clone()
        } else {
            e.config.working_dir.clone()
        };
        (
            if rec.state.running() {
                rec.state.pid
            } else {
                0
            },
            user,
            cwd,
            rec.host_config.clone(),
        )
    };
    let fail = |err: EngineError| {
        e.state.send_modify(|s| {
            s.running = false;
            s.exit_code = Some(126);
        });
        Err(err)
    };
    if pid <= 0 {
        return fail(EngineError::Conflict(format!(
            "Container {} is not running",
            e.container.id
        )));
    }
    let spec = ExecSpec {
        args: e.config.cmd.clone().unwrap_or_default(),
        env: exec_env(&e.container, &e.config, &e.link_env),
        cwd,
        user,
        group_add: host_config.group_add.clone().unwrap_or_default(),
        tty: e.config.tty,
        open_stdin: e.config.attach_stdin,
        cgroups: super::cgroups::join_dirs(&e.container.id),
        security: match super::security::runtime_security(&host_config) {
            Ok(s) => s,
            Err(err) => return fail(err),
        },
    };
    let spawned: Spawned = match shipshape_runtime::exec_in(pid, &spec) {
        Ok(s) => s,
        Err(err) => {
            // dockerd wraps the runtime's message like this (runc's wording).
            let msg = format!(
                "OCI runtime exec failed: exec failed: unable to start container process: {err}: unknown"
            );
            tracing::debug!(exec = %e.id, error = %err, "exec failed to start");
            return fail(EngineError::InvalidParameter(msg));
        }
    };
    let pid = spawned.pid;
    if e.config.tty {
        *e.tty() = spawned.stdout.try_clone().ok();
    }
    e.state.send_modify(|s| {
        s.running = true;
        s.pid = pid;
    });
    exec_event(e, "exec_start");
    let (tx, rx) = tokio::sync::oneshot::channel::<ExitStatus>();
    d.supervisor().watch(
        pid,
        Box::new(move |status| {
            let _ = tx.send(status);
        }),
    );
    let e2 = e.clone();
    tokio::spawn(async move {
        let code = rx.await.map(|s| s.code()).unwrap_or(128 + 9);
        e2.tty().take();
        e2.state.send_modify(|s| {
            s.running = false;
            s.exit_code = Some(code);
        });
        tracing::debug!(exec = %e2.id, code, "exec exited");
        let a = crate::daemon::events::attrs([
            ("execID", e2.id.clone()),
            ("exitCode", code.to_string()),
        ]);
        crate::daemon::events::container(&e2.container, "exec_die", a);
    });
    let stream = |f: File| FdStream::new(f).ok();
    Ok(ExecIo {
        stdin: spawned.stdin.and_then(stream),
        stdout: stream(spawned.stdout),
        stderr: spawned.stderr.and_then(stream),
    })
}

/// dockerd's exec events: the action carries the command line
/// ("exec_start: sh -c ls"), the attributes the exec ID.
fn exec_event(e: &Exec, what: &str) {
    let cmd = e.config.cmd.clone().unwrap_or_default().join(" ");
    let a = crate::daemon::events::attrs([("execID", e.id.clone())]);
    crate::daemon::events::container(&e.container, &format!("{what}: {cmd}"), a);
}
