//! COPY and ADD: a layer from the context (or `--from` a stage or image).

use super::*;

/// COPY/ADD: a layer from the context.
pub(super) async fn copy_step(
    d: &Arc<Daemon>,
    ctx: &Arc<Context>,
    st: &mut Stage,
    ins: &Instruction,
    opts: &BuildOptions,
    done: &[Done],
    out: &Progress,
) -> Result<(), BuildError> {
    // `--from=`: a finished stage (by name or index) or a local image.
    let from_image: Option<Option<Image>> = match ins.flags.iter().find(|(k, _)| k == "from") {
        None => None,
        Some((_, v)) => Some(copy_from_image(d, v, done).await?),
    };
    // `--chown=`: the owner of everything copied (root's without it).
    let owner = match ins.flags.iter().rev().find(|(k, _)| k == "chown") {
        Some((_, v)) if !v.is_empty() => {
            chown::resolve(d, st.image.as_ref().map(|i| i.id.clone()), v).await?
        }
        _ => (0, 0),
    };
    let upper = ins.cmd.to_ascii_uppercase();
    let words = dockerfile::list(&ins.args, &st.sub_env())?;
    if words.len() < 2 {
        return Err(EngineError::InvalidParameter(format!(
            "{upper} requires at least two arguments"
        ))
        .into());
    }
    let (srcs, dest) = words.split_at(words.len() - 1);
    let mut dest = dest[0].clone();
    if !dest.starts_with('/') {
        let wd = st
            .config
            .get("WorkingDir")
            .and_then(|v| v.as_str())
            .filter(|w| !w.is_empty())
            .unwrap_or("/")
            .to_string();
        let keep_slash = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
        dest = dockerfile::clean_path(&format!("{wd}/{dest}"));
        if keep_slash && !dest.ends_with('/') {
            dest.push('/');
        }
    }
    let (ctx2, cmd, srcs2, dest2, tmp) = (
        ctx.clone(),
        ins.cmd.clone(),
        srcs.to_vec(),
        dest.clone(),
        d.tmp_dir(),
    );
    let d2 = d.clone();
    let layer = tokio::task::spawn_blocking(move || match from_image {
        None => context::copy_layer(Source::Context(&ctx2), &cmd, &srcs2, &dest2, &tmp, owner),
        Some(Some(img)) => {
            let root = stage_root::ImageRoot::mount(&d2, &img.id)?;
            context::copy_layer(
                Source::Image(root.root()),
                &cmd,
                &srcs2,
                &dest2,
                &tmp,
                owner,
            )
        }
        Some(None) => {
            // An empty scratch stage: nothing to copy from.
            std::fs::create_dir_all(&tmp)?;
            let empty = tempfile::Builder::new()
                .prefix("copy-from-")
                .tempdir_in(&tmp)?;
            context::copy_layer(
                Source::Image(empty.path()),
                &cmd,
                &srcs2,
                &dest2,
                &tmp,
                owner,
            )
        }
    })
    .await
    .map_err(EngineError::system)??;
    let text = format!("{upper} {} in {dest} ", layer.source_id);
    let cc = step_container_config(
        st,
        vec!["/bin/sh".into(), "-c".into(), format!("#(nop) {text}")],
    );
    if let Some(img) = cached(d, st, &cc, opts) {
        out.stream(" ---> Using cache\n").await;
        out.result(&img.id).await;
        st.image = Some(img);
        return Ok(());
    }
    let entry = json!({
        "created": now_rfc3339(),
        "created_by": format!("/bin/sh -c #(nop) {text}"),
    });
    let config = image_config(st, "", cc, entry);
    // A scratch file of the build's: the store takes it over.
    let tar = LayerSource::TarFile(layer.tar.path().to_path_buf());
    let img = commit(d, st, config, Some(tar)).await?;
    drop(layer);
    out.result(&img.id).await;
    st.image = Some(img);
    Ok(())
}

/// The image `COPY --from=value` reads: a finished stage by name or index
/// (None for an empty scratch stage), else a local image.
async fn copy_from_image(
    d: &Arc<Daemon>,
    value: &str,
    done: &[Done],
) -> Result<Option<Image>, BuildError> {
    let lower = value.to_ascii_lowercase();
    if let Some(s) = done
        .iter()
        .rev()
        .find(|s| s.name.as_deref() == Some(&lower))
    {
        return Ok(s.image.clone());
    }
    if let Ok(i) = value.parse::<usize>() {
        return match done.get(i) {
            Some(s) => Ok(s.image.clone()),
            None => Err(EngineError::InvalidParameter(format!(
                "invalid from flag value {value}: index out of bounds"
            ))
            .into()),
        };
    }
    match d.images.get(value) {
        Ok(i) => Ok(Some(i)),
        Err(_) => Err(crate::daemon::images::pull::pull_error(value, "")
            .await
            .into()),
    }
}
