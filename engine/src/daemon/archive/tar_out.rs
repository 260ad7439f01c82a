//! A container's files as a tar, named as dockerd names them: `docker cp`
//! out of the container rebases the entries on the requested path's base
//! name, and for the root itself that is `/`, so the entries are `/`,
//! `/etc/`, `/etc/passwd`, ... (dockerd 20.10.24, `GET
//! /containers/{id}/archive?path=/`, read with curl; moby's
//! `TestCopyFromContainer` looks for `/foo` and `/bar/quux/baz`).
//!
//! tar-rs refuses absolute names unless asked, and its path setter writes
//! `/` as `//` (a trailing slash is added to a path ending in one), for the
//! root's name and for a link to `/` alike; so names and link targets that
//! fit the header are copied into it byte for byte, and only longer ones go
//! through tar-rs (whose GNU long-name entries carry the bytes as given).
//! Everything runs inside the container's chroot (see `super::in_root`).

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{Builder, EntryType, Header, HeaderMode};

fn builder<W: Write>(w: W) -> Builder<W> {
    let mut b = Builder::new(w);
    b.follow_symlinks(false);
    // Absolute names reach tar-rs only when too long for the header.
    b.preserve_absolute(true);
    // Go's tar writer (dockerd's) writes no sparse entries.
    b.sparse(false);
    b
}

/// Writes `src` as a tar whose top entry is named `name`. A symbolic link
/// is the link itself when `link_itself`, else what it points to.
pub(super) fn write_tar(
    src: &Path,
    name: &str,
    link_itself: bool,
    w: &mut impl Write,
) -> io::Result<()> {
    let mut b = builder(w);
    let top = PathBuf::from(name);
    let meta = if link_itself {
        fs::symlink_metadata(src)?
    } else {
        fs::metadata(src)?
    };
    if meta.is_dir() {
        append_dir_entry(&mut b, &meta, &top)?;
        append_children(&mut b, src, &top)?;
    } else {
        append_entry(&mut b, src, &meta, &top)?;
    }
    b.finish()
}

/// The whole root (`docker export`): entries named relative to it.
pub(super) fn write_root(w: &mut impl Write) -> io::Result<()> {
    let mut b = builder(w);
    let mut names: Vec<_> = fs::read_dir("/")?
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        append_tree(&mut b, &Path::new("/").join(&name), Path::new(&name))?;
    }
    b.finish()
}

fn append_dir_entry<W: Write>(
    b: &mut Builder<W>,
    meta: &fs::Metadata,
    name: &Path,
) -> io::Result<()> {
    let mut h = Header::new_gnu();
    h.set_metadata_in_mode(meta, HeaderMode::Complete);
    h.set_entry_type(EntryType::Directory);
    h.set_size(0);
    let mut n = name.as_os_str().as_bytes().to_vec();
    if n.last() != Some(&b'/') {
        n.push(b'/');
    }
    append_named(b, &mut h, &n, None, io::empty())
}

fn append_children<W: Write>(b: &mut Builder<W>, dir: &Path, name: &Path) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let child_name = name.join(e.file_name());
        append_tree(b, &dir.join(e.file_name()), &child_name)?;
    }
    Ok(())
}

/// One path and, for a directory, everything below it. Sockets are skipped
/// (tar cannot hold them, dockerd skips them too).
fn append_tree<W: Write>(b: &mut Builder<W>, path: &Path, name: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        // Gone meanwhile (a running container changes its files).
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_socket() {
        return Ok(());
    }
    if meta.is_dir() {
        append_dir_entry(b, &meta, name)?;
        return append_children(b, path, name);
    }
    match append_entry(b, path, &meta, name) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// A file, symbolic link, device or FIFO (`meta` is its lstat).
fn append_entry<W: Write>(
    b: &mut Builder<W>,
    path: &Path,
    meta: &fs::Metadata,
    name: &Path,
) -> io::Result<()> {
    let ft = meta.file_type();
    if ft.is_socket() {
        return Ok(());
    }
    let mut h = Header::new_gnu();
    h.set_metadata_in_mode(meta, HeaderMode::Complete);
    let name = name.as_os_str().as_bytes();
    if ft.is_symlink() {
        let target = fs::read_link(path)?;
        return append_named(
            b,
            &mut h,
            name,
            Some(target.as_os_str().as_bytes()),
            io::empty(),
        );
    }
    if ft.is_file() {
        let file = fs::File::open(path)?;
        // The size the data is read to: a file growing meanwhile must not
        // overrun its header.
        let size = file.metadata()?.len();
        h.set_size(size);
        return append_named(b, &mut h, name, None, io::Read::take(file, size));
    }
    if ft.is_char_device() || ft.is_block_device() {
        let rdev = meta.rdev();
        h.set_device_major(libc::major(rdev))?;
        h.set_device_minor(libc::minor(rdev))?;
    }
    h.set_size(0);
    append_named(b, &mut h, name, None, io::empty())
}

/// Appends `h` named `name` (and linking to `link`), the bytes as given
/// when they fit the header, else through tar-rs's long-name entries.
fn append_named<W: Write, R: io::Read>(
    b: &mut Builder<W>,
    h: &mut Header,
    name: &[u8],
    link: Option<&[u8]>,
    data: R,
) -> io::Result<()> {
    let old = h.as_old_mut();
    let fits = name.len() <= old.name.len()
        && link.is_none_or(|l| l.len() <= old.linkname.len())
        && !name.contains(&0)
        && !link.is_some_and(|l| l.contains(&0));
    if fits {
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name);
        if let Some(l) = link {
            old.linkname = [0; 100];
            old.linkname[..l.len()].copy_from_slice(l);
        }
        h.set_cksum();
        return b.append(h, data);
    }
    let name = Path::new(OsStr::from_bytes(name));
    match link {
        Some(l) => b.append_link(h, name, Path::new(OsStr::from_bytes(l))),
        None => b.append_data(h, name, data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar: &[u8]) -> Vec<(String, Option<String>)> {
        let mut ar = tar::Archive::new(tar);
        ar.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                let link = e
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned());
                (name, link)
            })
            .collect()
    }

    #[test]
    fn root_names_and_links_to_root_are_kept_as_given() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("foo"), "hello").unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("root")).unwrap();
        let long = "d".repeat(120);
        std::os::unix::fs::symlink(format!("/{long}"), dir.path().join(&long)).unwrap();
        let mut out = Vec::new();
        write_tar(dir.path(), "/", false, &mut out).unwrap();
        let got = names(&out);
        let want = vec![
            ("/".to_string(), None),
            (format!("/{long}"), Some(format!("/{long}"))),
            ("/foo".to_string(), None),
            ("/root".to_string(), Some("/".to_string())),
        ];
        assert_eq!(got, want);
    }
}
