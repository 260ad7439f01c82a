//! `COPY --chown=user[:group]` and `ADD --chown=...`, as dockerd's classic
//! builder reads them: numbers are taken as they are; names are looked up
//! in the stage's own `/etc/passwd` and `/etc/group` (resolved inside its
//! root); without a group, the group is looked up under the user's name.
//! Failures end the build with dockerd's words, e.g. "unable to convert
//! uid/gid chown string to host mapping: can't find uid for user nosuch:
//! no such user: nosuch".

use std::path::Path;
use std::sync::Arc;

use shipshape_store::archive;

use super::context::Owner;
use super::stage_root::ImageRoot;
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// The owner `spec` names in the image `image_id` (None: an empty scratch
/// stage, which has no user database).
pub async fn resolve(
    d: &Arc<Daemon>,
    image_id: Option<String>,
    spec: &str,
) -> Result<Owner, EngineError> {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() > 2 {
        return Err(EngineError::InvalidParameter(format!(
            "invalid chown string format: {spec}"
        )));
    }
    let user = parts[0].to_string();
    let group = parts.get(1).unwrap_or(&parts[0]).to_string();
    let numeric = |s: &str| s.parse::<u32>().ok();
    if let (Some(u), Some(g)) = (numeric(&user), numeric(&group)) {
        return Ok((u.into(), g.into()));
    }
    let d = d.clone();
    tokio::task::spawn_blocking(move || {
        let root = image_id.map(|id| ImageRoot::mount(&d, &id)).transpose()?;
        let root = root.as_ref().map(ImageRoot::root);
        let wrap = |e: String| {
            EngineError::InvalidParameter(format!(
                "unable to convert uid/gid chown string to host mapping: {e}"
            ))
        };
        let uid = lookup(root, "passwd", &user)
            .map_err(|e| wrap(format!("can't find uid for user {user}: {e}")))?;
        let gid = lookup(root, "group", &group)
            .map_err(|e| wrap(format!("can't find gid for group {group}: {e}")))?;
        Ok((uid.into(), gid.into()))
    })
    .await
    .map_err(EngineError::system)?
}

/// A name's id (the third field) in `/etc/<db>`, or the number itself.
fn lookup(root: Option<&Path>, db: &str, name: &str) -> Result<u32, String> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(n);
    }
    let missing = || format!("open /etc/{db}: no such file or directory");
    let root = root.ok_or_else(missing)?;
    let path = archive::resolve_in_scope(root, &format!("etc/{db}")).map_err(|_| missing())?;
    let text = std::fs::read_to_string(path).map_err(|_| missing())?;
    let what = if db == "passwd" { "user" } else { "group" };
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(2)?.parse().ok())
        .ok_or_else(|| format!("no such {what}: {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0::/:/bin/sh\nprobe:x:1000:1000::/:/p\n",
        )
        .unwrap();
        std::fs::write(t.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let root = Some(t.path());
        assert_eq!(lookup(root, "passwd", "probe"), Ok(1000));
        assert_eq!(lookup(root, "group", "staff"), Ok(50));
        assert_eq!(lookup(root, "group", "7"), Ok(7));
        assert_eq!(
            lookup(root, "passwd", "nosuch"),
            Err("no such user: nosuch".into())
        );
        assert_eq!(
            lookup(None, "group", "x"),
            Err("open /etc/group: no such file or directory".into())
        );
    }
}
