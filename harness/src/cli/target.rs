//! The target options every command shares (`run`, `diff`, `bench`,
//! `fixture --load`), and choosing the endpoints from them the way the
//! docker CLI does: `--context` or `--host`, then `DOCKER_HOST`, then
//! `DOCKER_CONTEXT`, then `currentContext` in the CLI's config.
//!
//! One difference, on purpose: with none of these (or the `default`
//! context) the harness's endpoint is the built-in reference engine, not
//! /var/run/docker.sock.

use crate::client::context::{self, DEFAULT_CONTEXT};
use crate::client::tls::{TlsClient, TlsSettings};
use crate::client::Target;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// Endpoint: unix:///path, tcp://host:port, http://host:port or
    /// ssh://[user@]host[:port]; repeat for several. Defaults to
    /// $DOCKER_HOST, else the docker context, else a reference engine
    /// started for the run.
    #[arg(long = "host", short = 'H', value_name = "URL")]
    pub hosts: Vec<String>,
    /// Docker context to use (overrides DOCKER_HOST, DOCKER_CONTEXT and
    /// `currentContext`; see `docker context ls`).
    #[arg(long, short = 'c', value_name = "NAME")]
    pub context: Option<String>,
    /// Use TLS on tcp:// endpoints; implied by --tlsverify.
    #[arg(long)]
    pub tls: bool,
    /// Use TLS and verify the server (also: DOCKER_TLS_VERIFY non-empty).
    #[arg(long)]
    pub tlsverify: bool,
    /// Trust certs signed only by this CA [default: $DOCKER_CERT_PATH/ca.pem].
    #[arg(long, value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// Path to the TLS client certificate [default: $DOCKER_CERT_PATH/cert.pem].
    #[arg(long, value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// Path to the TLS client key [default: $DOCKER_CERT_PATH/key.pem].
    #[arg(long, value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
}

/// One endpoint to run against, and where it came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub target: Target,
    /// `--host`, `DOCKER_HOST`, `context NAME`.
    pub origin: String,
}

impl Resolved {
    /// `unix` / `tcp` / `tls (...)` / `ssh (...)`, and the context.
    pub fn transport(&self) -> String {
        match self.origin.strip_prefix("context ") {
            Some(name) => format!("{} via docker context {name}", self.target.transport()),
            None => self.target.transport(),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl TargetArgs {
    /// The endpoints named by the options and the environment; empty when
    /// none is (the caller then starts the reference engine).
    pub fn resolve(&self) -> Result<Vec<Resolved>> {
        if self.context.is_some() && !self.hosts.is_empty() {
            // The docker CLI's words.
            bail!("conflicting options: either specify --host or --context, not both");
        }
        let config = context::config_dir();
        let tls = self.tls_client(&config)?;
        let with_tls = |t: Target| match (&tls, &t) {
            // The CLI ignores TLS for unix sockets and ssh.
            (Some(c), Target::Tcp(_)) => Ok(t.with_tls(c.clone())?),
            _ => Ok::<_, anyhow::Error>(t),
        };
        if let Some(name) = &self.context {
            return Self::from_context(&config, name, "--context");
        }
        if !self.hosts.is_empty() {
            return self
                .hosts
                .iter()
                .map(|h| {
                    Ok(Resolved {
                        target: with_tls(Target::parse(h)?)?,
                        origin: "--host".into(),
                    })
                })
                .collect();
        }
        if let Some(h) = env("DOCKER_HOST") {
            return Ok(vec![Resolved {
                target: with_tls(Target::parse(&h).context("DOCKER_HOST")?)?,
                origin: "DOCKER_HOST".into(),
            }]);
        }
        if let Some(name) = env("DOCKER_CONTEXT") {
            return Self::from_context(&config, &name, "DOCKER_CONTEXT");
        }
        match context::current_context(&config)? {
            Some(name) => Self::from_context(&config, &name, "currentContext in config.json"),
            None => Ok(Vec::new()),
        }
    }

    fn from_context(config: &Path, name: &str, why: &str) -> Result<Vec<Resolved>> {
        if name == DEFAULT_CONTEXT {
            return Ok(Vec::new());
        }
        let ep = context::load(config, name).with_context(|| format!("context from {why}"))?;
        let mut target = Target::parse(&ep.host).with_context(|| format!("context {name:?}"))?;
        if let (Some(s), Target::Tcp(_)) = (ep.tls, &target) {
            target = target.with_tls(TlsClient::new(s)?)?;
        }
        Ok(vec![Resolved {
            target,
            origin: format!("context {name}"),
        }])
    }

    /// The TLS client `--tls`/`--tlsverify`/`DOCKER_TLS_VERIFY` ask for,
    /// with the CLI's file defaults: an explicit flag's file must exist; a
    /// default one is used only when it does.
    fn tls_client(&self, config: &Path) -> Result<Option<TlsClient>> {
        let verify = self.tlsverify || env("DOCKER_TLS_VERIFY").is_some();
        if !(self.tls || verify) {
            return Ok(None);
        }
        let dir = env("DOCKER_CERT_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| config.to_path_buf());
        let pick = |flag: &Option<PathBuf>, name: &str| match flag {
            Some(p) => Some(p.clone()),
            None => Some(dir.join(name)).filter(|p| p.is_file()),
        };
        let settings = TlsSettings {
            verify,
            ca: pick(&self.tlscacert, "ca.pem"),
            cert: pick(&self.tlscert, "cert.pem"),
            key: pick(&self.tlskey, "key.pem"),
        };
        Ok(Some(TlsClient::new(settings)?))
    }
}
