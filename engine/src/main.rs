//! `shipshape-engine`: the thin binary. Flags as dockerd names them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use shipshape_engine::daemon::{Config, Daemon};
use shipshape_engine::server::{self, Host, ServeOptions, TlsOptions};

/// A reference Docker engine: serves the Docker Engine API and runs real containers.
#[derive(Parser, Debug)]
#[command(name = "shipshape-engine", version)]
struct Args {
    /// Where to listen: unix:///path or tcp://IP:PORT (repeatable); an
    /// address other than loopback needs --tlsverify.
    #[arg(
        short = 'H',
        long = "host",
        default_value = "unix:///run/shipshape/engine.sock"
    )]
    hosts: Vec<String>,
    /// Where images, containers and logs are kept.
    #[arg(long = "data-root", default_value = "/var/lib/shipshape")]
    data_root: PathBuf,
    /// Log filter (tracing EnvFilter syntax); RUST_LOG overrides it.
    #[arg(long = "log-level", short = 'l', default_value = "info")]
    log_level: String,
    /// Group for the unix socket(s) [default: docker, when that group exists].
    #[arg(short = 'G', long = "group")]
    group: Option<String>,
    /// Use TLS on TCP hosts; implied by --tlsverify.
    #[arg(long = "tls")]
    tls: bool,
    /// Use TLS and require client certificates signed by --tlscacert.
    #[arg(long = "tlsverify")]
    tlsverify: bool,
    /// Trust certs signed only by this CA [default: $DOCKER_CERT_PATH/ca.pem or ~/.docker/ca.pem].
    #[arg(long = "tlscacert")]
    tlscacert: Option<PathBuf>,
    /// Path to the TLS certificate file [default: $DOCKER_CERT_PATH/cert.pem or ~/.docker/cert.pem].
    #[arg(long = "tlscert")]
    tlscert: Option<PathBuf>,
    /// Path to the TLS key file [default: $DOCKER_CERT_PATH/key.pem or ~/.docker/key.pem].
    #[arg(long = "tlskey")]
    tlskey: Option<PathBuf>,
    /// Seconds a client has to send a request's headers before it is dropped.
    #[arg(long = "header-read-timeout", default_value_t = 30.0)]
    header_read_timeout: f64,
    /// Runtime options, as dockerd's: only `native.cgroupdriver=cgroupfs`.
    #[arg(long = "exec-opt")]
    exec_opts: Vec<String>,
    /// Where the embedded DNS resolver of user-defined networks forwards
    /// names it does not know: IP or IP:PORT (repeatable) [default: the
    /// nameservers of the host's /etc/resolv.conf].
    #[arg(long = "dns-upstream", value_parser = parse_upstream)]
    dns_upstreams: Vec<std::net::SocketAddr>,
    /// A registry (HOST[:PORT], or a CIDR) reached over plain HTTP, or
    /// over TLS without checking its certificate (repeatable); loopback
    /// always is, as in dockerd.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure_registries: Vec<String>,
    /// Layers downloaded at once per pull.
    #[arg(long = "max-concurrent-downloads", default_value_t = 3)]
    max_concurrent_downloads: usize,
    /// Layers uploaded at once per push.
    #[arg(long = "max-concurrent-uploads", default_value_t = 5)]
    max_concurrent_uploads: usize,
    /// Where registry CAs are read from: DIR/HOST:PORT/ca.crt (as dockerd's /etc/docker/certs.d).
    #[arg(long = "certs-dir", default_value = "/etc/docker/certs.d")]
    certs_dir: PathBuf,
}

/// dockerd's `--exec-opt` keys. The cgroup driver is cgroupfs: the engine
/// writes its containers' groups itself. The systemd driver (transient
/// scopes made through systemd's D-Bus API) is refused rather than ignored.
fn check_exec_opts(opts: &[String]) -> Result<(), String> {
    for opt in opts {
        let Some((key, value)) = opt.split_once('=') else {
            return Err(format!("Unable to parse key/value option: {opt}"));
        };
        match (key.trim().to_lowercase().as_str(), value.trim()) {
            ("native.cgroupdriver", "cgroupfs") => {}
            ("native.cgroupdriver", "systemd") => {
                return Err("native.cgroupdriver option systemd not supported: \
                     shipshape-engine manages its containers' cgroups itself (cgroupfs); \
                     see README (cgroups)"
                    .into())
            }
            ("native.cgroupdriver", other) => {
                return Err(format!("native.cgroupdriver option {other} not supported"))
            }
            (other, _) => return Err(format!("Unknown option {other}")),
        }
    }
    Ok(())
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`; port 53 when none is given.
fn parse_upstream(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    s.parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .map_err(|_| format!("not an IP or IP:PORT: {s:?}"))
}

impl Args {
    /// dockerd's rules: --tlsverify implies --tls; the files default to
    /// $DOCKER_CERT_PATH (or ~/.docker)/{ca,cert,key}.pem.
    fn tls_options(&self) -> Option<TlsOptions> {
        if !(self.tls || self.tlsverify) {
            return None;
        }
        let dir = std::env::var_os("DOCKER_CERT_PATH")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
            .unwrap_or_else(|| PathBuf::from(".docker"));
        let pick = |p: &Option<PathBuf>, name: &str| p.clone().unwrap_or_else(|| dir.join(name));
        Some(TlsOptions {
            verify: self.tlsverify,
            ca: pick(&self.tlscacert, "ca.pem"),
            cert: pick(&self.tlscert, "cert.pem"),
            key: pick(&self.tlskey, "key.pem"),
        })
    }

    /// The socket's group id. dockerd falls back to root when its default
    /// group `docker` does not exist, and fails when a named one does not.
    fn socket_group(&self) -> Result<Option<u32>, String> {
        let name = self.group.as_deref().unwrap_or("docker");
        match nix::unistd::Group::from_name(name) {
            Ok(Some(g)) => Ok(Some(g.gid.as_raw())),
            Ok(None) if self.group.is_none() => Ok(None),
            Ok(None) => Err(format!("group {name:?} not found")),
            Err(e) => Err(format!("looking up group {name:?}: {e}")),
        }
    }
}

/// tokio's multi-threaded scheduler calls the C `pow` (an `f64::powf` in
/// its poll-time average), the engine's only use of libm.so: defined here,
/// the link resolves it in the binary and libm.so is neither needed nor
/// mapped (its pages were about 0.3 MB of an idle engine's RSS).
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

fn main() -> ExitCode {
    // A container's init is this same binary, re-executed: it must branch off
    // before anything starts threads.
    if std::env::args().nth(1).as_deref() == Some(shipshape_runtime::INIT_ARG) {
        shipshape_runtime::init_main();
    }
    // One malloc arena for all threads: glibc's default (one per thread
    // that allocates, up to 8 per core) keeps each blocking thread's freed
    // memory resident; about 0.4 MB of an idle engine's RSS after an
    // image load. Small allocations still go through per-thread caches.
    // SAFETY: mallopt before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let hosts: Vec<Host> = match args.hosts.iter().map(|h| Host::parse(h)).collect() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("shipshape-engine: {e}");
            return ExitCode::from(2);
        }
    };
    let tls = args.tls_options();
    if let Some(e) = hosts.iter().find_map(|h| h.check(tls.as_ref()).err()) {
        eprintln!("shipshape-engine: {e}");
        return ExitCode::from(2);
    }
    let acceptor = match tls.as_ref().map(server::tls_acceptor).transpose() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("shipshape-engine: TLS: {e}");
            return ExitCode::from(2);
        }
    };
    let group = match args.socket_group() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("shipshape-engine: -G: {e}");
            return ExitCode::from(2);
        }
    };
    if !(args.header_read_timeout.is_finite() && args.header_read_timeout > 0.0) {
        eprintln!("shipshape-engine: --header-read-timeout must be a positive number of seconds");
        return ExitCode::from(2);
    }
    if let Err(e) = check_exec_opts(&args.exec_opts) {
        eprintln!("shipshape-engine: --exec-opt: {e}");
        return ExitCode::from(2);
    }
    let serve_opts = ServeOptions {
        header_read_timeout: std::time::Duration::from_secs_f64(args.header_read_timeout),
    };
    let listen = Listen {
        hosts,
        group,
        tls: acceptor,
        opts: serve_opts,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shipshape-engine: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dns_upstreams = (!args.dns_upstreams.is_empty()).then_some(args.dns_upstreams.clone());
    let registry = shipshape_engine::daemon::distribution::RegistryConfig {
        insecure_registries: args.insecure_registries.clone(),
        max_concurrent_downloads: args.max_concurrent_downloads.max(1),
        max_concurrent_uploads: args.max_concurrent_uploads.max(1),
        certs_dir: args.certs_dir.clone(),
    };
    match rt.block_on(run(listen, args.data_root, dns_upstreams, registry)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shipshape-engine: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where and how to serve, checked before anything is opened.
struct Listen {
    hosts: Vec<Host>,
    group: Option<u32>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    opts: ServeOptions,
}

async fn run(
    listen: Listen,
    data_root: PathBuf,
    dns_upstreams: Option<Vec<std::net::SocketAddr>>,
    registry: shipshape_engine::daemon::distribution::RegistryConfig,
) -> Result<(), String> {
    let daemon = Daemon::open(Config {
        data_root: data_root.clone(),
        dns_upstreams,
        registry,
    })
    .map_err(|e| format!("opening data root {}: {e}", data_root.display()))?;
    let listeners = server::bind(&listen.hosts, listen.group, listen.tls.as_ref())
        .map_err(|e| format!("listening: {e}"))?;
    let sockets: Vec<_> = listeners
        .iter()
        .filter_map(|l| match l {
            server::Listener::Unix(_, p) => Some(p.clone()),
            server::Listener::Tcp(..) => None,
        })
        .collect();
    tracing::info!(
        hosts = ?listen.hosts,
        tls = listen.tls.is_some(),
        data_root = %data_root.display(),
        "API listening"
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = server::serve(listeners, daemon.clone(), listen.opts) => {}
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    daemon.shutdown().await;
    for s in sockets {
        let _ = std::fs::remove_file(s);
    }
    Ok(())
}
