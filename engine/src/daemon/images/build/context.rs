//! The build context (the uploaded tar, unpacked into a private temp dir)
//! and COPY/ADD: turning context files into a layer tar. Every source path
//! is resolved inside the context, so nothing outside it can be read.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use shipshape_store::archive::{self, UnpackOptions};

use crate::errdefs::EngineError;

/// An unpacked build context; removed when dropped.
pub struct Context {
    dir: tempfile::TempDir,
}

impl Context {
    /// Unpacks a (plain or gzip'd) context tar. Entries that would land
    /// outside the context are refused by the store's unpacker.
    pub fn unpack(tar: &Path, tmp: &Path) -> Result<Context, EngineError> {
        fs::create_dir_all(tmp)?;
        let dir = tempfile::Builder::new().prefix("build-").tempdir_in(tmp)?;
        let f = File::open(tar)?;
        let input = archive::decompress(io::BufReader::new(f))?;
        archive::unpack(
            input,
            dir.path(),
            UnpackOptions {
                overlay_whiteouts: false,
                preserve_owner: false,
                no_overwrite_dir_non_dir: false,
            },
        )
        // dockerd's status and wording: 500 "Error processing tar file(...)".
        .map_err(EngineError::from)?;
        Ok(Context { dir })
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// As dockerd: when `.dockerignore` lists the Dockerfile or itself,
    /// that file is dropped from the context (after the Dockerfile was read),
    /// so COPY cannot see it. Other files are the client's to filter.
    pub fn drop_ignored(&self, dockerfile: &str) -> Result<(), EngineError> {
        let Ok(p) = archive::resolve_in_scope(self.root(), ".dockerignore") else {
            return Ok(());
        };
        let text = match fs::read(&p) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(_) => return Ok(()),
        };
        let m = super::dockerignore::Matcher::parse(&text);
        for name in [".dockerignore", dockerfile] {
            if m.matches(name) {
                if let Ok(p) = archive::resolve_in_scope(self.root(), name) {
                    if p.is_file() || p.is_symlink() {
                        fs::remove_file(&p)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads the Dockerfile named by the `dockerfile` parameter.
    pub fn dockerfile(&self, name: &str) -> Result<String, EngineError> {
        let missing =
            || EngineError::InvalidParameter(format!("Cannot locate specified Dockerfile: {name}"));
        let p = archive::resolve_in_scope(self.root(), name).map_err(|_| missing())?;
        match fs::read(&p) {
            Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            Err(_) => Err(missing()),
        }
    }
}

/// Where COPY/ADD sources come from: the build context, or (`--from`) the
/// root of another stage's or an image's filesystem. Only the error for a
/// missing source differs (dockerd's words for each).
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Context(&'a Context),
    Image(&'a Path),
}

impl Source<'_> {
    fn root(&self) -> &Path {
        match self {
            Source::Context(c) => c.root(),
            Source::Image(p) => p,
        }
    }

    fn not_found(&self, cmd: &str, src: &str) -> EngineError {
        let cmd = cmd.to_ascii_uppercase();
        match self {
            Source::Context(_) => EngineError::InvalidParameter(format!(
                "{cmd} failed: file not found in build context or excluded by .dockerignore: stat {src}: file does not exist"
            )),
            Source::Image(_) => {
                let rel = crate::daemon::images::dockerfile::clean_path(&format!("/{src}"));
                EngineError::InvalidParameter(format!(
                    "{cmd} failed: stat {}: file does not exist",
                    rel.trim_start_matches('/')
                ))
            }
        }
    }

    /// The paths a COPY/ADD source names (wildcards in its last component
    /// are expanded), each confined to the source's root.
    fn sources(&self, cmd: &str, src: &str) -> Result<Vec<(PathBuf, String)>, EngineError> {
        let root = self.root();
        let not_found = || self.not_found(cmd, src);
        let trimmed = src.trim_end_matches('/');
        let (parent, last) = match trimmed.rsplit_once('/') {
            Some((p, l)) => (p, l),
            None => ("", trimmed),
        };
        if last.contains(['*', '?', '[']) {
            let dir = archive::resolve_in_scope(root, parent)?;
            let mut found = Vec::new();
            for e in fs::read_dir(&dir).map_err(|_| not_found())? {
                let e = e?;
                let name = e.file_name().to_string_lossy().into_owned();
                if glob(last, &name) {
                    let rel = if parent.is_empty() {
                        name.clone()
                    } else {
                        format!("{parent}/{name}")
                    };
                    found.push((archive::resolve_in_scope(root, &rel)?, name));
                }
            }
            if found.is_empty() {
                return Err(not_found());
            }
            found.sort_by(|a, b| a.1.cmp(&b.1));
            return Ok(found);
        }
        let p = archive::resolve_in_scope(root, src)?;
        if fs::symlink_metadata(&p).is_err() {
            return Err(not_found());
        }
        let base = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(vec![(p, base)])
    }
}

/// Shell-style `*` and `?` matching (Go's `filepath.Match` without classes).
fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn rec(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| rec(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && rec(&p[1..], &n[1..]),
            Some(c) => n.first() == Some(c) && rec(&p[1..], &n[1..]),
        }
    }
    rec(&p, &n)
}

/// A COPY/ADD layer, written to a temp file.
pub struct CopyLayer {
    pub tar: tempfile::NamedTempFile,
    /// `file:<hex>`, `dir:<hex>` or `multi:<hex>`, as dockerd names the source in history.
    pub source_id: String,
}

/// Is this file a tar archive (plain or gzip) that ADD should extract?
fn is_archive(p: &Path) -> bool {
    let Ok(f) = File::open(p) else { return false };
    let Ok(mut r) = archive::decompress(io::BufReader::new(f)) else {
        return false;
    };
    let mut head = [0u8; 512];
    if r.read_exact(&mut head).is_err() {
        return false;
    }
    &head[257..262] == b"ustar"
}

/// Builds the layer for `COPY`/`ADD srcs... dest` (`dest` already absolute).
pub fn copy_layer(
    from: Source<'_>,
    cmd: &str,
    srcs: &[String],
    dest: &str,
    tmp: &Path,
    owner: Owner,
) -> Result<CopyLayer, EngineError> {
    let add = cmd == "add";
    let mut sources = Vec::new();
    for s in srcs {
        if add && (s.starts_with("http://") || s.starts_with("https://")) {
            return Err(EngineError::NotImplemented(
                "ADD from a URL is not supported by this engine".into(),
            ));
        }
        sources.extend(from.sources(cmd, s)?);
    }
    let dest_is_dir = dest.ends_with('/') || sources.len() > 1;
    if sources.len() > 1 && !dest.ends_with('/') {
        return Err(EngineError::InvalidParameter(format!(
            "When using {} with more than one source file, the destination must be a directory and end with a /",
            cmd.to_ascii_uppercase()
        )));
    }
    let dest_rel = dest
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string();
    let tar = tempfile::NamedTempFile::new_in(tmp)?;
    {
        let mut b = tar::Builder::new(BufWriter::new(tar.as_file()));
        b.follow_symlinks(false);
        for (path, base) in &sources {
            let meta = fs::symlink_metadata(path)?;
            if meta.is_dir() {
                // A directory's contents go into dest (not the dir itself).
                if !dest_rel.is_empty() {
                    append_dir_entry(&mut b, &dest_rel, &meta, owner)?;
                }
                walk(&mut b, path, &dest_rel, owner)?;
            } else if add && meta.is_file() && is_archive(path) {
                // ADD extracts a local archive into dest, confined to a scratch dir first.
                let scratch = tempfile::Builder::new().prefix("add-").tempdir_in(tmp)?;
                let f = File::open(path)?;
                archive::unpack(
                    archive::decompress(io::BufReader::new(f))?,
                    scratch.path(),
                    UnpackOptions {
                        overlay_whiteouts: false,
                        preserve_owner: false,
                        no_overwrite_dir_non_dir: false,
                    },
                )
                .map_err(|e| EngineError::InvalidParameter(format!("ADD {base}: {e}")))?;
                if !dest_rel.is_empty() {
                    let m = fs::symlink_metadata(scratch.path())?;
                    append_dir_entry(&mut b, &dest_rel, &m, owner)?;
                }
                walk(&mut b, scratch.path(), &dest_rel, owner)?;
            } else {
                let target = if dest_is_dir {
                    join_rel(&dest_rel, base)
                } else {
                    dest_rel.clone()
                };
                if target.is_empty() {
                    return Err(EngineError::InvalidParameter(format!(
                        "cannot copy {base} to the root directory as a file"
                    )));
                }
                append_path(&mut b, path, &target, &meta, owner)?;
            }
        }
        b.into_inner()?.flush()?;
    }
    let named = matches!(from, Source::Context(_));
    let hashes = sources
        .iter()
        .map(|(path, _)| super::source_hash::of_path(from.root(), path, named))
        .collect::<io::Result<Vec<_>>>()?;
    Ok(CopyLayer {
        tar,
        source_id: super::source_hash::combine(hashes),
    })
}

fn join_rel(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// The owner COPY/ADD gives what it copies: root's unless `--chown`.
pub type Owner = (u64, u64);

fn header_for(meta: &fs::Metadata, owner: Owner) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(meta.permissions().mode() & 0o7777);
    // COPY without --chown makes files root's, as Docker does.
    h.set_uid(owner.0);
    h.set_gid(owner.1);
    h.set_mtime(meta.mtime().max(0) as u64);
    h
}

fn append_dir_entry<W: Write>(
    b: &mut tar::Builder<W>,
    rel: &str,
    meta: &fs::Metadata,
    owner: Owner,
) -> io::Result<()> {
    let mut h = header_for(meta, owner);
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    b.append_data(&mut h, format!("{rel}/"), io::empty())
}

fn append_path<W: Write>(
    b: &mut tar::Builder<W>,
    path: &Path,
    rel: &str,
    meta: &fs::Metadata,
    owner: Owner,
) -> io::Result<()> {
    let ft = meta.file_type();
    if ft.is_dir() {
        append_dir_entry(b, rel, meta, owner)
    } else if ft.is_symlink() {
        let target = fs::read_link(path)?;
        let mut h = header_for(meta, owner);
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, rel, target)
    } else if ft.is_file() {
        let mut h = header_for(meta, owner);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(meta.len());
        b.append_data(&mut h, rel, File::open(path)?)
    } else {
        // Devices, fifos and sockets in a context are skipped.
        Ok(())
    }
}

/// Adds everything under `dir` (not `dir` itself) at `prefix`, sorted so the
/// layer (and its cache key) is the same for the same content.
fn walk<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &Path,
    prefix: &str,
    owner: Owner,
) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = join_rel(prefix, &name);
        let meta = fs::symlink_metadata(e.path())?;
        append_path(b, &e.path(), &rel, &meta, owner)?;
        if meta.is_dir() {
            walk(b, &e.path(), &rel, owner)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*.txt", "a.txt"));
        assert!(!glob("*.txt", "a.tx"));
        assert!(glob("a?c", "abc"));
    }
}
