//! The engine's state and rules: the image store, the container table, the
//! supervisor, volumes and networks. HTTP-free: `api` calls in, this drives
//! `store` and `runtime` (the only layer that does), and answers with
//! `errdefs::EngineError` categories, never statuses. It never imports `api`.
//!
//! Grouped by concept: [`containers`] (lifecycle, exec, logs, ...),
//! [`images`] (list, prune, history, pull, commit, import, build),
//! [`volumes`] (the store, and container mounts), [`networks`], [`events`],
//! [`archive`] (`docker cp`, export), [`plugins`] and [`swarm`] (neither
//! exists here: they answer as dockerd does without them).

pub mod archive;
pub mod containers;
pub mod distribution;
pub mod events;
pub mod images;
pub mod networks;
pub mod platform;
pub mod plugins;
pub mod swarm;
pub mod volumes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use shipshape_runtime::supervisor::Supervisor;
use shipshape_store::ImageStore;

pub use containers::container::Container;

use containers::{exec, init_layer, lifecycle, recovery, restart, trash};

use crate::errdefs::EngineError;

/// Daemon settings, from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_root: PathBuf,
    /// Where the embedded DNS resolver forwards (`--dns-upstream`); None:
    /// the host's resolv.conf nameservers.
    pub dns_upstreams: Option<Vec<std::net::SocketAddr>>,
    /// Registry flags (`--insecure-registry`, `--max-concurrent-downloads`, ...).
    pub registry: distribution::RegistryConfig,
}

/// A container that uses an image, for `DELETE /images/{name}` conflicts.
#[derive(Debug, Clone)]
pub struct ImageUser {
    pub container_id: String,
    pub running: bool,
}

/// Containers by ID, and names (with their leading slash) to IDs.
#[derive(Default)]
struct Table {
    by_id: HashMap<String, Arc<Container>>,
    names: HashMap<String, String>,
}

pub struct Daemon {
    pub config: Config,
    pub images: Arc<ImageStore>,
    table: RwLock<Table>,
    supervisor: Arc<Supervisor>,
    started: std::time::Instant,
    /// `docker exec` instances, until their container is removed.
    pub execs: exec::ExecTable,
    pub volumes: volumes::VolumeStore,
    pub networks: networks::NetworkStore,
}

/// How long the runtime keeps a warm init after the last container start.
const WARM_INIT_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

impl Daemon {
    /// Opens (or creates) the data root and reloads images and containers,
    /// after putting right what a crash of the previous run left (see
    /// `recovery`): containers that were running are marked exited, their
    /// leftover processes killed and their mounts released.
    pub fn open(config: Config) -> Result<Arc<Self>, EngineError> {
        let root = &config.data_root;
        // What a crash of the previous run left: processes, mounts, scratch.
        recovery::before_open(root)?;
        containers::cgroups::prepare_host();
        // Removed containers whose deletion a crash interrupted (their
        // mounts were released just above).
        trash::sweep(root);
        let images = Arc::new(ImageStore::open(&root.join("image"))?);
        init_layer::ensure(root)?;
        let supervisor = Supervisor::start()?;
        // One init started ahead of need while containers are being started
        // (about 2 ms of each start); an idle daemon keeps none.
        shipshape_runtime::keep_warm_init(WARM_INIT_IDLE);
        let volumes = volumes::VolumeStore::open(root.join("volumes"))?;
        let networks = networks::NetworkStore::open(root.join("networks.json"))?;
        let daemon = Arc::new(Daemon {
            config,
            images,
            table: RwLock::new(Table::default()),
            supervisor,
            started: std::time::Instant::now(),
            execs: exec::ExecTable::default(),
            volumes,
            networks,
        });
        daemon.reload_containers()?;
        daemon.networks.bring_up();
        daemon
            .networks
            .forget_missing_containers(|id| daemon.table().by_id.contains_key(id));
        // Restart policies apply on daemon start too (needs the runtime).
        if tokio::runtime::Handle::try_current().is_ok() {
            restart::resume_on_boot(&daemon);
        }
        Ok(daemon)
    }

    fn reload_containers(&self) -> Result<(), EngineError> {
        let dir = self.containers_dir();
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let Some(rec) = recovery::load_container(&path) else {
                continue;
            };
            let c = Container::new(path, rec);
            recovery::settle(&c);
            self.insert(c);
        }
        Ok(())
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.config.data_root.join("containers")
    }

    /// Scratch space for uploads (e.g. a tarball being loaded) on the same
    /// filesystem as the store, so finished files can be renamed into place.
    pub fn tmp_dir(&self) -> PathBuf {
        self.config.data_root.join("tmp")
    }

    pub fn data_root(&self) -> &Path {
        &self.config.data_root
    }

    pub fn supervisor(&self) -> &Arc<Supervisor> {
        &self.supervisor
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    fn table(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn table_mut(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, c: Arc<Container>) {
        let name = c.name();
        let mut t = self.table_mut();
        t.names.insert(name, c.id.clone());
        t.by_id.insert(c.id.clone(), c);
    }

    /// Reserves `name` ("/x") for a container about to be created.
    /// Fails with dockerd's conflict message when the name is taken.
    pub fn reserve_name(&self, name: &str, id: &str) -> Result<(), EngineError> {
        let mut t = self.table_mut();
        if let Some(owner) = t.names.get(name) {
            return Err(EngineError::Conflict(format!(
                "Conflict. The container name \"{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        t.names.insert(name.to_string(), id.to_string());
        Ok(())
    }

    /// Gives `c` the name `new` ("/x"), with dockerd's conflict message when
    /// it is taken; the record is saved with the new name.
    pub fn rename(&self, c: &Container, new: &str) -> Result<(), EngineError> {
        self.reserve_name(new, &c.id)?;
        let old = std::mem::replace(&mut c.record().name, new.to_string());
        if let Err(e) = c.save() {
            c.record().name = old;
            self.release_name(new);
            return Err(e.into());
        }
        let mut t = self.table_mut();
        if t.names.get(&old) == Some(&c.id) {
            t.names.remove(&old);
        }
        Ok(())
    }

    pub fn release_name(&self, name: &str) {
        self.table_mut().names.remove(name);
    }

    pub fn register(&self, c: Arc<Container>) {
        self.table_mut().by_id.insert(c.id.clone(), c);
    }

    pub fn unregister(&self, c: &Container) {
        let name = c.name();
        let mut t = self.table_mut();
        t.by_id.remove(&c.id);
        if t.names.get(&name) == Some(&c.id) {
            t.names.remove(&name);
        }
    }

    /// Finds a container as dockerd does: full ID, then name, then unique ID prefix.
    pub fn container(&self, key: &str) -> Result<Arc<Container>, EngineError> {
        let t = self.table();
        if let Some(c) = t.by_id.get(key) {
            return Ok(c.clone());
        }
        let name = if key.starts_with('/') {
            key.to_string()
        } else {
            format!("/{key}")
        };
        if let Some(c) = t.names.get(&name).and_then(|id| t.by_id.get(id)) {
            return Ok(c.clone());
        }
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found = t.by_id.values().filter(|c| c.id.starts_with(key));
            if let Some(first) = found.next() {
                if found.next().is_some() {
                    return Err(EngineError::NotFound(format!(
                        "Multiple IDs found with provided prefix: {key}"
                    )));
                }
                return Ok(first.clone());
            }
        }
        Err(EngineError::NotFound(format!("No such container: {key}")))
    }

    pub fn all_containers(&self) -> Vec<Arc<Container>> {
        self.table().by_id.values().cloned().collect()
    }

    /// Containers created from `image_id` (a full `sha256:` ID).
    pub fn containers_using_image(&self, image_id: &str) -> Vec<ImageUser> {
        self.table()
            .by_id
            .values()
            .filter_map(|c| {
                let r = c.record();
                (r.image_id == image_id).then(|| ImageUser {
                    container_id: c.id.clone(),
                    running: r.state.running(),
                })
            })
            .collect()
    }

    /// On SIGTERM: stop every running container (SIGTERM, then SIGKILL after
    /// a short grace period), so none outlives the daemon unsupervised.
    pub async fn shutdown(self: &Arc<Self>) {
        restart::set_shutting_down();
        let running: Vec<_> = self
            .all_containers()
            .into_iter()
            .filter(|c| c.is_running())
            .collect();
        let stops = running.into_iter().map(|c| {
            let d = self.clone();
            tokio::spawn(async move {
                let _ = lifecycle::stop(&d, &c, None, Some(5)).await;
            })
        });
        for s in stops.collect::<Vec<_>>() {
            let _ = s.await;
        }
        let d = self.clone();
        let _ = tokio::task::spawn_blocking(move || d.networks.tear_down()).await;
    }
}

/// The host's name: Info.Name, and a host-network container's hostname.
pub fn host_name() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}
