//! A step's result committed as an image: the config, the parent's layers
//! and the step's own layer, if any.

use super::*;

/// Commits `config` + the parent's layers (+ `layer`) with the stage's image as parent.
pub(super) async fn commit(
    d: &Arc<Daemon>,
    st: &Stage,
    config: Value,
    layer: Option<LayerSource>,
) -> Result<Image, BuildError> {
    let d2 = d.clone();
    let parent = st.image.clone();
    let img = tokio::task::spawn_blocking(move || -> Result<Image, EngineError> {
        let mut layers: Vec<LayerSource> = parent
            .as_ref()
            .map(|p| {
                p.layers
                    .iter()
                    .cloned()
                    .map(LayerSource::Existing)
                    .collect()
            })
            .unwrap_or_default();
        layers.extend(layer);
        Ok(d2
            .images
            .create_image(config, layers, parent.as_ref().map(|p| p.id.as_str()), &[])?)
    })
    .await
    .map_err(EngineError::system)??;
    Ok(img)
}

/// A config-only step: an image with an `empty_layer` history entry.
pub(super) async fn config_step(
    d: &Arc<Daemon>,
    st: &mut Stage,
    text: &str,
    opts: &BuildOptions,
    out: &Progress,
) -> Result<(), BuildError> {
    let cc = step_container_config(
        st,
        vec![
            "/bin/sh".into(),
            "-c".into(),
            "#(nop) ".into(),
            text.trim_start().to_string(),
        ],
    );
    if let Some(img) = cached(d, st, &cc, opts) {
        out.stream(" ---> Using cache\n").await;
        out.result(&img.id).await;
        st.image = Some(img);
        return Ok(());
    }
    // dockerd runs a no-op container for these steps; only its ID shows.
    let cid = crate::daemon::containers::names::new_id();
    out.stream(&format!(" ---> Running in {}\n", &cid[..12]))
        .await;
    let entry = json!({
        "created": now_rfc3339(),
        "created_by": format!("/bin/sh -c #(nop) {text}"),
        "empty_layer": true,
    });
    let config = image_config(st, &cid, cc, entry);
    let img = commit(d, st, config, None).await?;
    out.stream(&format!("Removing intermediate container {}\n", &cid[..12]))
        .await;
    out.result(&img.id).await;
    st.image = Some(img);
    Ok(())
}
