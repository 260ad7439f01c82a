//! Reading /proc/self/mountinfo to tell whether a directory is a mount point.

use std::io;
use std::path::{Path, PathBuf};

/// Undo the octal escapes (`\040` for space etc.) mountinfo uses in paths.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if (b'0'..=b'3').contains(&oct[0]) && oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                out.push((oct[0] - b'0') * 64 + (oct[1] - b'0') * 8 + (oct[2] - b'0'));
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points listed in a mountinfo text (5th field of each line).
pub(crate) fn mount_points(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|f| PathBuf::from(unescape(f)))
        .collect()
}

/// Whether `path` is currently a mount point in this mount namespace.
pub(crate) fn is_mount_point(path: &Path) -> io::Result<bool> {
    let canonical = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(mount_points(&text).contains(&canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_escaped_mount_points() {
        let text = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    90 22 0:50 / /var/lib/with\\040space/merged rw - overlay overlay rw,lowerdir=/a\n";
        assert_eq!(
            mount_points(text),
            vec![
                PathBuf::from("/"),
                PathBuf::from("/var/lib/with space/merged")
            ]
        );
    }
}
