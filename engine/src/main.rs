//! `shipshape-engine`: the thin binary. Flags as dockerd names them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use shipshape_engine::daemon::{Config, Daemon};
use shipshape_engine::server::{self, Host};

/// A reference Docker engine: serves the Docker Engine API and runs real containers.
#[derive(Parser, Debug)]
#[command(name = "shipshape-engine", version)]
struct Args {
    /// Where to listen: unix:///path or tcp://127.0.0.1:PORT (repeatable).
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
}

fn main() -> ExitCode {
    // A container's init is this same binary, re-executed: it must branch off
    // before anything starts threads.
    if std::env::args().nth(1).as_deref() == Some(shipshape_runtime::INIT_ARG) {
        shipshape_runtime::init_main();
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
    match rt.block_on(run(hosts, args.data_root)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shipshape-engine: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(hosts: Vec<Host>, data_root: PathBuf) -> Result<(), String> {
    let daemon = Daemon::open(Config {
        data_root: data_root.clone(),
    })
    .map_err(|e| format!("opening data root {}: {e}", data_root.display()))?;
    let listeners = server::bind(&hosts).map_err(|e| format!("listening: {e}"))?;
    let sockets: Vec<_> = listeners
        .iter()
        .filter_map(|l| match l {
            server::Listener::Unix(_, p) => Some(p.clone()),
            server::Listener::Tcp(_) => None,
        })
        .collect();
    tracing::info!(hosts = ?hosts, data_root = %data_root.display(), "API listening");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = server::serve(listeners, daemon.clone()) => {}
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    daemon.shutdown().await;
    for s in sockets {
        let _ = std::fs::remove_file(s);
    }
    Ok(())
}
