//! System API group: /_ping, /version, /info.

use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use hyper::Method;
use serde_json::json;

use super::{body, json, Ctx, Response};
use crate::daemon::containers::cgroups;
use crate::errdefs::EngineError;
use crate::version::{ApiVersion, ENGINE_VERSION, MAX_API_VERSION, MIN_API_VERSION};

/// `GET|HEAD /_ping`: "OK" (empty for HEAD), text/plain, never cached.
pub fn ping(_ctx: &Ctx, method: &Method) -> Result<Response, EngineError> {
    let b = if method == Method::HEAD {
        body::empty()
    } else {
        body::full("OK")
    };
    let mut r = hyper::Response::new(b);
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    if method == Method::HEAD {
        h.insert(hyper::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    Ok(r)
}

/// `OPTIONS` on any path: dockerd's catch-all options route (meant for
/// CORS preflights) answers 200 with an empty body, whatever the path.
pub fn options() -> Result<Response, EngineError> {
    let mut r = hyper::Response::new(body::empty());
    r.headers_mut()
        .insert(hyper::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    Ok(r)
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn version(_ctx: &Ctx) -> Result<Response, EngineError> {
    let kernel = kernel_version();
    let (api, min) = (MAX_API_VERSION.to_string(), MIN_API_VERSION.to_string());
    Ok(json(&json!({
        "Platform": {"Name": "Shipshape Engine"},
        "Components": [{
            "Name": "Engine",
            "Version": ENGINE_VERSION,
            "Details": {
                "ApiVersion": api, "Arch": "amd64", "BuildTime": "", "Experimental": "false",
                "GitCommit": "", "GoVersion": "", "KernelVersion": kernel,
                "MinAPIVersion": min, "Os": "linux"
            }
        }],
        "Version": ENGINE_VERSION,
        "ApiVersion": api,
        "MinAPIVersion": min,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
        "KernelVersion": kernel,
        "BuildTime": "",
    })))
}

/// Whether a host sysctl (a path under /proc/sys) is set to 1, as dockerd
/// reports forwarding and bridge netfilter.
fn sysctl_on(name: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/{name}")).is_ok_and(|v| v.trim() == "1")
}

fn os_release_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".into())
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

pub async fn info(ctx: &Ctx) -> Result<Response, EngineError> {
    let d = &ctx.daemon;
    let containers = d.all_containers();
    let (mut running, mut paused, mut stopped) = (0, 0, 0);
    for c in &containers {
        match c.record().state.status.as_str() {
            "running" | "restarting" => running += 1,
            "paused" => paused += 1,
            _ => stopped += 1,
        }
    }
    let images = d.image_count();
    let hostname = crate::daemon::host_name();
    let (cgroup_version, can) = cgroups::host_support();
    let mut info = json!({
        "ID": format!("shipshape-{hostname}"),
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"]],
        "Plugins": {"Volume": [], "Network": ["host", "null"], "Authorization": null, "Log": ["local"]},
        "MemoryLimit": can.memory_limit, "SwapLimit": can.swap_limit,
        "KernelMemory": can.kernel_memory, "KernelMemoryTCP": can.kernel_memory_tcp,
        "CpuCfsPeriod": can.cpu_cfs_period, "CpuCfsQuota": can.cpu_cfs_quota,
        "CPUShares": can.cpu_shares, "CPUSet": can.cpuset, "PidsLimit": can.pids_limit,
        "IPv4Forwarding": sysctl_on("net/ipv4/ip_forward"),
        "BridgeNfIptables": sysctl_on("net/bridge/bridge-nf-call-iptables"),
        "BridgeNfIp6tables": sysctl_on("net/bridge/bridge-nf-call-ip6tables"),
        "Debug": false,
        "NFd": std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
        "OomKillDisable": can.oom_kill_disable,
        "NGoroutines": 0,
        "SystemTime": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string(),
        "LoggingDriver": "local",
        // The engine writes its groups itself, as dockerd's cgroupfs driver.
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "NEventsListener": 0,
        "KernelVersion": kernel_version(),
        "OperatingSystem": os_release_name(),
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": [], "IndexConfigs": {}, "Mirrors": []},
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem_total(),
        "GenericResources": null,
        "DockerRootDir": d.data_root(),
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": hostname,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": ENGINE_VERSION,
        // dockerd's runtime name, as inspect shows it (HostConfig.Runtime);
        // the engine itself is what runs containers.
        "Runtimes": {"runc": {"path": "shipshape-engine"}},
        "DefaultRuntime": super::containers::DEFAULT_RUNTIME,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
        "LiveRestoreEnabled": false,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": [],
        "Warnings": null,
    });
    if ctx.version < ApiVersion(1, 25) {
        // Execution drivers are gone; dockerd still names the field before 1.25.
        info["ExecutionDriver"] = json!("<not supported>");
    }
    Ok(json(&info))
}
