//! RUN: a real container from the current image; its output streamed,
//! its changes committed as the step's layer.

use super::*;

/// RUN: a real container from the current image; its changes become a layer.
pub(super) async fn run_step(
    d: &Arc<Daemon>,
    st: &mut Stage,
    ins: &Instruction,
    opts: &BuildOptions,
    out: &Progress,
) -> Result<(), BuildError> {
    if ins.args.is_empty() {
        return Err(
            EngineError::InvalidParameter("RUN requires at least one argument".into()).into(),
        );
    }
    let argv = match dockerfile::json_form(&ins.args) {
        Some(v) => v,
        None => shell_of(&st.config)
            .into_iter()
            .chain([ins.args.clone()])
            .collect(),
    };
    let args = st.arg_pairs();
    // dockerd records the build args used by a RUN as `|N k=v ...` so the
    // cache tells runs with different args apart.
    let mut recorded = Vec::new();
    if !args.is_empty() {
        recorded.push(format!("|{}", args.len()));
        recorded.extend(args.iter().cloned());
    }
    recorded.extend(argv.iter().cloned());
    let cc = step_container_config(st, recorded.clone());
    if let Some(img) = cached(d, st, &cc, opts) {
        out.stream(" ---> Using cache\n").await;
        out.result(&img.id).await;
        st.image = Some(img);
        return Ok(());
    }
    let Some(image) = st.image.clone() else {
        return Err(EngineError::InvalidParameter(
            "RUN needs a filesystem: FROM scratch has no files to run (COPY some first)".into(),
        )
        .into());
    };
    // ENV wins over a build arg of the same name.
    let mut env = dockerfile::env_of(&st.config);
    for a in &args {
        let k = a.split('=').next().unwrap_or("");
        if !env.iter().any(|e| e.split('=').next() == Some(k)) {
            env.push(a.clone());
        }
    }
    let text = |k: &str| {
        st.config
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let req = CreateRequest {
        config: Config {
            image: image.id.clone(),
            cmd: Some(argv.clone()),
            entrypoint: Some(Vec::new()),
            env: Some(env),
            working_dir: text("WorkingDir"),
            user: text("User"),
            attach_stdout: true,
            attach_stderr: true,
            ..Default::default()
        },
        host_config: run_host_config(opts),
        networking_config: None,
        platform: None,
        several_networks: false,
    };
    let d2 = d.clone();
    let (cid, _) = tokio::task::spawn_blocking(move || lifecycle::create(&d2, None, req))
        .await
        .map_err(EngineError::system)??;
    let c = d.container(&cid)?;
    out.stream(&format!(" ---> Running in {}\n", &cid[..12]))
        .await;
    let result = run_container(d, &c, out).await;
    let outcome = match result {
        Ok(0) => commit_run(d, st, &c, cc, &argv, &args).await,
        Ok(code) => Err(BuildError {
            message: format!(
                "The command '{}' returned a non-zero code: {code}",
                argv.join(" ")
            ),
            code: Some(code),
        }),
        Err(e) => Err(e),
    };
    // As dockerd: `rm` removes the container of a successful step, `forcerm`
    // that of a failed one too (it stays for inspection otherwise).
    let cleanup = if outcome.is_ok() {
        opts.rm
    } else {
        opts.forcerm
    };
    if cleanup {
        if let Err(e) = lifecycle::remove(d, &c, true).await {
            tracing::warn!(id = %cid, error = %e, "removing intermediate container");
        }
        // dockerd says so before the step's error too (forcerm).
        out.stream(&format!("Removing intermediate container {}\n", &cid[..12]))
            .await;
    }
    let img = outcome?;
    out.result(&img.id).await;
    st.image = Some(img);
    Ok(())
}

/// The RUN step container's HostConfig: the build's `extrahosts` and
/// `networkmode`, as dockerd's classic builder gives them to it.
fn run_host_config(opts: &super::BuildOptions) -> Option<serde_json::Value> {
    let mut hc = serde_json::Map::new();
    if !opts.extra_hosts.is_empty() {
        hc.insert("ExtraHosts".into(), json!(opts.extra_hosts));
    }
    if !opts.network_mode.is_empty() {
        hc.insert("NetworkMode".into(), json!(opts.network_mode));
    }
    (!hc.is_empty()).then_some(serde_json::Value::Object(hc))
}

/// Starts the container, streams its output, and returns its exit code.
async fn run_container(
    d: &Arc<Daemon>,
    c: &Arc<crate::daemon::Container>,
    out: &Progress,
) -> Result<i32, BuildError> {
    lifecycle::start(d, c).await?;
    let done = lifecycle::wait(c.clone(), lifecycle::WaitCondition::NotRunning);
    tokio::pin!(done);
    let log = c.log_path();
    let mut offset = 0u64;
    let code = loop {
        let finished = tokio::select! {
            code = &mut done => Some(code),
            _ = tokio::time::sleep(Duration::from_millis(200)) => None,
        };
        offset = forward_logs(&log, offset, out).await;
        if let Some(code) = finished {
            break code;
        }
    };
    forward_logs(&log, offset, out).await;
    Ok(code)
}

/// Streams new log records since `offset`; returns the new offset.
async fn forward_logs(log: &std::path::Path, offset: u64, out: &Progress) -> u64 {
    let path = log.to_path_buf();
    let read = tokio::task::spawn_blocking(move || {
        crate::daemon::containers::logs::read_from(&path, offset)
    })
    .await;
    match read {
        Ok(Ok((entries, next))) => {
            for e in entries {
                let text = String::from_utf8_lossy(&e.bytes);
                if e.stream == crate::daemon::containers::logs::STDERR {
                    // dockerd shows a RUN's stderr in red.
                    out.stream(&format!("\x1b[91m{text}\x1b[0m")).await;
                } else {
                    out.stream(&text).await;
                }
            }
            next
        }
        _ => offset,
    }
}

/// Commits a finished RUN container's changes as the step's layer.
async fn commit_run(
    d: &Arc<Daemon>,
    st: &Stage,
    c: &Arc<crate::daemon::Container>,
    cc: Value,
    argv: &[String],
    args: &[String],
) -> Result<Image, BuildError> {
    let fs_dir = c.fs_dir();
    if shipshape_runtime::rootfs_kind(&fs_dir) == shipshape_runtime::RootfsKind::Copy {
        return Err(EngineError::NotImplemented(
            "RUN needs overlayfs to commit its changes (this container has a copied root)".into(),
        )
        .into());
    }
    let mut created_by = String::new();
    if !args.is_empty() {
        created_by = format!("|{} {} ", args.len(), args.join(" "));
    }
    created_by.push_str(&argv.join(" "));
    let entry = json!({ "created": now_rfc3339(), "created_by": created_by });
    let config = image_config(st, &c.id, cc, entry);
    // Packed straight into the store, unpacked as it is written.
    let layer = crate::daemon::images::commit::packed_upper(fs_dir.join("upper"));
    commit(d, st, config, Some(layer)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_host_config_carries_hosts_and_network_mode() {
        let mut opts = super::super::BuildOptions::default();
        assert_eq!(run_host_config(&opts), None);
        opts.network_mode = "none".into();
        opts.extra_hosts = vec!["h:10.1.2.3".into()];
        assert_eq!(
            run_host_config(&opts),
            Some(json!({"ExtraHosts": ["h:10.1.2.3"], "NetworkMode": "none"}))
        );
    }
}
