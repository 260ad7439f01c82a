//! A container's persisted record: Docker's `Config` and `HostConfig` as the
//! client sent them (merged with the image's defaults), plus its `State`.
//! Field names are Docker's, so inspect can render them directly.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Docker's container `Config`. Unknown input fields are ignored, as dockerd does.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<serde_json::Value>,
    /// The MAC of the endpoint on the container's own network (dockerd
    /// omits it when empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "str_slice")]
    pub cmd: Option<Vec<String>>,
    pub image: String,
    pub volumes: Option<serde_json::Value>,
    pub working_dir: String,
    #[serde(deserialize_with = "str_slice")]
    pub entrypoint: Option<Vec<String>>,
    pub on_build: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Kept for inspect (and `docker commit`); the engine runs no shell form.
    #[serde(
        deserialize_with = "str_slice",
        skip_serializing_if = "Option::is_none"
    )]
    pub shell: Option<Vec<String>>,
    /// No network at all: the container joins none of its networks, not
    /// even its NetworkMode's (which inspect still shows); dockerd omits
    /// the field when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub network_disabled: bool,
    /// Run while the container runs (see `health.rs`); durations checked at create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
}

/// The parts of `HostConfig` the engine acts on. The whole object the client
/// sent is kept as JSON too (`Record::host_config_raw`) so inspect can echo it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    pub mounts: Option<Vec<serde_json::Value>>,
    pub tmpfs: Option<BTreeMap<String, String>>,
    pub auto_remove: bool,
    /// `--log-driver` and `--log-opt` (see `daemon::containers::log_driver`).
    pub log_config: Option<super::log_driver::LogConfig>,
    pub readonly_rootfs: bool,
    pub network_mode: String,
    pub restart_policy: Option<RestartPolicy>,
    pub console_size: Option<[u32; 2]>,
    /// Run an init as pid 1 that reaps and forwards signals (`--init`).
    pub init: Option<bool>,
    /// Other containers whose mounts this one shares (`--volumes-from`).
    pub volumes_from: Option<Vec<String>>,
    /// Extra supplementary groups (`--group-add`), numbers or names.
    pub group_add: Option<Vec<String>>,
    /// Written under /proc/sys in the container (`--sysctl`).
    pub sysctls: Option<BTreeMap<String, String>>,
    /// Resources (see `daemon::containers::cgroups`): bytes, counts, CFS µs; 0 = unset.
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub pids_limit: Option<i64>,
    pub cpu_shares: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub nano_cpus: i64,
    /// -1 (or none): the host's; else 0..=100.
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    pub blkio_weight: u16,
    /// Block I/O per device (see `daemon::containers::blkio`).
    pub blkio_weight_device: Option<Vec<super::blkio::WeightDevice>>,
    pub blkio_device_read_bps: Option<Vec<super::blkio::ThrottleDevice>>,
    pub blkio_device_write_bps: Option<Vec<super::blkio::ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<super::blkio::ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<super::blkio::ThrottleDevice>>,
    /// Privileges (see `daemon::containers::security`).
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub security_opt: Option<Vec<String>>,
    pub devices: Option<Vec<super::devices::DeviceMapping>>,
    /// All capabilities, no seccomp filter (see `security`).
    pub privileged: bool,
    /// `--ulimit`s, set on the container's processes.
    pub ulimits: Option<Vec<Ulimit>>,
    /// Namespaces and /dev/shm (see `daemon::containers::namespaces`).
    pub pid_mode: String,
    pub ipc_mode: String,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub cgroupns_mode: String,
    pub shm_size: i64,
    /// Resolver options (`--dns`, `--dns-search`, `--dns-option`) and
    /// `--add-host` entries: see `daemon::networks::dns`.
    pub dns: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
}

/// One `--ulimit` (Go's int64s; -1 is unlimited, as a cast makes it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

/// The body of `POST /containers/create`: Config fields at the top level,
/// plus HostConfig and NetworkingConfig.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateRequest {
    #[serde(flatten)]
    pub config: Config,
    pub host_config: Option<serde_json::Value>,
    pub networking_config: Option<serde_json::Value>,
    /// The `platform` query parameter, not part of the body.
    #[serde(skip)]
    pub platform: Option<String>,
    /// API >= 1.44: `EndpointsConfig` may name several networks.
    #[serde(skip)]
    pub several_networks: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

/// Docker's zero time, shown for "never started/finished".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: Status,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// The process's start time (clock ticks since boot, /proc/PID/stat
    /// field 22), so after a daemon crash a reused pid is never mistaken for
    /// the container's.
    #[serde(default)]
    pub pid_start_time: u64,
    /// `State.Health`: absent until a run with a healthcheck starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<super::health::Health>,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            oom_killed: false,
            pid_start_time: 0,
            health: None,
        }
    }
}

impl State {
    pub fn running(&self) -> bool {
        matches!(
            self.status,
            Status::Running | Status::Paused | Status::Restarting
        )
    }
}

/// Everything persisted about one container (`config.v2.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// With Docker's leading slash: "/name".
    pub name: String,
    /// RFC 3339 with nanoseconds, UTC.
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub config: Config,
    pub host_config: HostConfig,
    pub host_config_raw: serde_json::Value,
    pub image_id: String,
    pub state: State,
    pub restart_count: i64,
    /// Binds, volumes and tmpfs mounts, resolved at create.
    #[serde(default)]
    pub mount_points: Vec<crate::daemon::volumes::mounts::MountPoint>,
    /// dockerd's HasBeenManuallyStopped: stopped or killed through the API,
    /// so `unless-stopped` does not bring it back when the daemon starts.
    #[serde(default)]
    pub manually_stopped: bool,
    /// The create request's `NetworkingConfig` (endpoint settings: static
    /// addresses, aliases), applied at each start.
    #[serde(default)]
    pub networking_config: Option<serde_json::Value>,
}

impl Record {
    /// A created container's record with nothing set: the unit tests'
    /// starting point.
    #[cfg(test)]
    pub fn minimal() -> Record {
        serde_json::from_value(serde_json::json!({
            "id": "c1", "name": "/c1", "created": "", "path": "/probe", "args": [],
            "config": {}, "host_config": {}, "host_config_raw": null, "image_id": "",
            "state": {"Status": "created", "Pid": 0, "ExitCode": 0, "Error": "",
                      "StartedAt": "", "FinishedAt": "", "OOMKilled": false},
            "restart_count": 0
        }))
        .expect("a minimal record decodes")
    }

    /// The network a container shows as attached to (and a `network` list
    /// filter matches): dockerd's name for its NetworkMode.
    pub fn network_name(&self) -> &str {
        match self.host_config.network_mode.as_str() {
            "" | "default" => "bridge",
            other => other,
        }
    }
}

/// Docker accepts `Cmd`/`Entrypoint` as a string or an array of strings.
fn str_slice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(s)) => Some(vec![s]),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_accepts_string_or_array_cmd() {
        let r: CreateRequest =
            serde_json::from_str(r#"{"Image":"x","Cmd":"echo hi","Entrypoint":["/a","b"]}"#)
                .unwrap();
        assert_eq!(r.config.cmd, Some(vec!["echo hi".to_string()]));
        assert_eq!(r.config.entrypoint, Some(vec!["/a".into(), "b".into()]));
        let r: CreateRequest =
            serde_json::from_str(r#"{"Image":"x","Cmd":null,"HostConfig":{"AutoRemove":true}}"#)
                .unwrap();
        assert_eq!(r.config.cmd, None);
        assert!(r.host_config.is_some());
    }
}
