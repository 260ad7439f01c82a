//! Container logs on disk, so they survive a daemon restart.
//!
//! Format: append-only records `[time_ns: u64 LE][stream: u8][len: u32 LE][bytes]`.
//! Binary-safe (a container may print anything) and crash-tolerant: a record
//! torn by a crash is shorter than its header says, and readers stop there.
//! Each record is one line of output (with its newline) or a final partial line,
//! as Docker's json-file driver splits them.
//!
//! Rotation (`--log-opt max-size=... max-file=N`) is json-file's: before a
//! write, a file that has reached `max-size` becomes `<log>.1` (older ones
//! shift to `.2`..., the one past `max-file - 1` goes; with `max-file=1` the
//! file is emptied instead). Sizes count what dockerd's json-file would
//! have written for each line (its JSON object), so a log keeps as many
//! lines as dockerd's would. Readers go through the rotated files, oldest
//! first, then the current one; a follower's [`Cursor`] names its file by
//! inode, so a rotation under it loses nothing still on disk.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
const HEADER: usize = 13;
/// Docker splits lines longer than this into several messages.
const MAX_LINE: usize = 16 * 1024;
/// How many rotated files a reader looks for (dockerd caps nothing; a
/// `max-file` beyond this keeps files no reader sees).
const MAX_ROTATED: u32 = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub time_ns: i64,
    pub stream: u8,
    pub bytes: Vec<u8>,
}

/// json-file's rotation settings (see `log_driver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Bytes (of json-file's encoding) after which the file rotates.
    pub max_size: u64,
    /// Files kept, the current one included (at least 1).
    pub max_file: u32,
}

/// `<log>.<n>`: the n-th most recent rotated file.
fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The size of the line dockerd's json-file driver would write for this
/// record: `{"log":"...","stream":"stdout","time":"<RFC 3339, nanoseconds
/// without trailing zeros>"}` and a newline. The log text is escaped as
/// Go's encoder does (`<`, `>`, `&` as `\u003c`...), within a few bytes
/// for invalid UTF-8.
fn json_size(time_ns: i64, line: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(line);
    let escaped = serde_json::to_string(&*text).map_or(line.len() + 2, |s| s.len());
    let html = text
        .chars()
        .filter(|c| matches!(c, '<' | '>' | '&'))
        .count()
        * 5;
    let nanos = time_ns.rem_euclid(1_000_000_000);
    let fraction = if nanos == 0 {
        0
    } else {
        let digits = format!("{nanos:09}");
        digits.trim_end_matches('0').len() + 1
    };
    // {"log": , "stream":" stdout ","time":" 2006-01-02T15:04:05 Z "} \n
    (7 + escaped + html + 11 + 6 + 10 + 19 + fraction + 1 + 2 + 1) as u64
}

/// Appends a stream's output, one record per line.
pub struct LogWriter {
    file: BufWriter<File>,
    partial: [Vec<u8>; 2],
    path: PathBuf,
    rotation: Option<Rotation>,
    /// The current file's size as json-file counts it (with rotation).
    size: u64,
}

impl LogWriter {
    pub fn open(path: &Path) -> io::Result<Self> {
        Self::open_rotating(path, None)
    }

    /// Opens for appending, rotating as `rotation` says (None: never).
    pub fn open_rotating(path: &Path, rotation: Option<Rotation>) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        // A log written by an earlier run counts too.
        let size = match rotation {
            Some(_) => read_from(path, 0)?
                .0
                .iter()
                .map(|e| json_size(e.time_ns, &e.bytes))
                .sum(),
            None => 0,
        };
        Ok(LogWriter {
            file: BufWriter::new(file),
            partial: [Vec::new(), Vec::new()],
            path: path.to_path_buf(),
            rotation,
            size,
        })
    }
    /// Buffers `data`, writing every complete line. Returns whether anything was written.
    pub fn write(&mut self, stream: u8, data: &[u8]) -> io::Result<bool> {
        let idx = usize::from(stream == STDERR);
        let mut wrote = false;
        let mut rest = data;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.partial[idx]);
            line.extend_from_slice(&rest[..=pos]);
            self.record(stream, &line)?;
            wrote = true;
            rest = &rest[pos + 1..];
        }
        self.partial[idx].extend_from_slice(rest);
        if self.partial[idx].len() >= MAX_LINE {
            let line = std::mem::take(&mut self.partial[idx]);
            self.record(stream, &line)?;
            wrote = true;
        }
        if wrote {
            self.file.flush()?;
        }
        Ok(wrote)
    }

    /// Writes out partial lines (at EOF of the streams).
    pub fn finish(&mut self) -> io::Result<()> {
        for (idx, stream) in [(0, STDOUT), (1, STDERR)] {
            let line = std::mem::take(&mut self.partial[idx]);
            if !line.is_empty() {
                self.record(stream, &line)?;
            }
        }
        self.file.flush()?;
        self.file.get_ref().sync_data()
    }

    fn record(&mut self, stream: u8, line: &[u8]) -> io::Result<()> {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let len = u32::try_from(line.len()).map_err(io::Error::other)?;
        if let Some(r) = self.rotation {
            // As json-file: the check comes before the write, so a file
            // ends at its first line at or past max-size.
            if self.size >= r.max_size {
                self.rotate(r)?;
            }
            self.size += json_size(now, line);
        }
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(&now.to_le_bytes());
        header[8] = stream;
        header[9..].copy_from_slice(&len.to_le_bytes());
        self.file.write_all(&header)?;
        self.file.write_all(line)
    }

    /// Shifts `<log>.k` to `.k+1` (the oldest kept goes), the current file
    /// to `.1`, and starts an empty one. A reader holding a rotated file
    /// open keeps reading it.
    fn rotate(&mut self, r: Rotation) -> io::Result<()> {
        self.file.flush()?;
        if r.max_file < 2 {
            self.file.get_ref().set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let keep = r.max_file - 1;
        match std::fs::remove_file(rotated(&self.path, keep)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for n in (1..keep).rev() {
            match std::fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.file = BufWriter::new(file);
        self.size = 0;
        Ok(())
    }
}

/// Where a reader is in a log that may rotate: the file (by inode) and the
/// offset of the next record in it. The default reads from the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    ino: Option<FileId>,
    offset: u64,
}

/// A file's identity: its inode and its birth time. An inode alone is not
/// enough: a file deleted by rotation frees its inode, and the next file of
/// the log may get the same number, which would put an old cursor's offset
/// into a new file. Filesystems without a birth time give 0 (inode only).
type FileId = (u64, u128);

fn file_id(f: &File) -> io::Result<FileId> {
    let m = f.metadata()?;
    let born = m
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok((m.ino(), born))
}

/// The log's files that exist, oldest first, each open with its inode.
/// Opened newest first: a rotation between two opens then shows one file
/// twice (dropped by inode) rather than skipping one.
fn open_files(path: &Path) -> io::Result<Vec<(File, FileId)>> {
    let mut out: Vec<(File, FileId)> = Vec::new();
    let candidates =
        std::iter::once(path.to_path_buf()).chain((1..=MAX_ROTATED).map(|n| rotated(path, n)));
    for (i, p) in candidates.enumerate() {
        match File::open(&p) {
            Ok(f) => {
                let ino = file_id(&f)?;
                if !out.iter().any(|(_, seen)| *seen == ino) {
                    out.push((f, ino));
                }
            }
            // Rotated files are numbered without gaps.
            Err(e) if e.kind() == io::ErrorKind::NotFound && i > 0 => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    out.reverse();
    Ok(out)
}

/// Every record after `cursor`, across rotated files, and the cursor after
/// the last whole one. A cursor whose file has been rotated away entirely
/// resumes at the oldest file left.
pub fn read_since(path: &Path, cursor: Cursor) -> io::Result<(Vec<Entry>, Cursor)> {
    let files = open_files(path)?;
    let start = cursor
        .ino
        .and_then(|ino| files.iter().position(|(_, i)| *i == ino));
    let mut entries = Vec::new();
    let mut next = cursor;
    for (i, (file, ino)) in files.into_iter().enumerate() {
        if start.is_some_and(|s| i < s) {
            continue;
        }
        let offset = if start == Some(i) { cursor.offset } else { 0 };
        let (mut e, end) = read_file(file, offset)?;
        entries.append(&mut e);
        next = Cursor {
            ino: Some(ino),
            offset: end,
        };
    }
    Ok((entries, next))
}

/// Every record of the log, rotated files included.
pub fn read_all(path: &Path) -> io::Result<Vec<Entry>> {
    Ok(read_since(path, Cursor::default())?.0)
}

/// Reads records from `offset` on; returns them and the offset after the last
/// whole record (a torn tail is left for a later read, or ignored).
pub fn read_from(path: &Path, offset: u64) -> io::Result<(Vec<Entry>, u64)> {
    match File::open(path) {
        Ok(f) => read_file(f, offset),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((Vec::new(), offset)),
        Err(e) => Err(e),
    }
}

fn read_file(mut file: File, offset: u64) -> io::Result<(Vec<Entry>, u64)> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    let mut entries = Vec::new();
    let mut pos = 0usize;
    while buf.len() - pos >= HEADER {
        let h = &buf[pos..pos + HEADER];
        let time_ns = i64::from_le_bytes(h[..8].try_into().unwrap_or([0; 8]));
        let stream = h[8];
        let len = u32::from_le_bytes(h[9..].try_into().unwrap_or([0; 4])) as usize;
        if buf.len() - pos - HEADER < len {
            break;
        }
        let start = pos + HEADER;
        entries.push(Entry {
            time_ns,
            stream,
            bytes: buf[start..start + len].to_vec(),
        });
        pos = start + len;
    }
    Ok((entries, offset + pos as u64))
}

/// Cuts a record torn by a crash off the end of the log. Readers would skip
/// it, but the next run appends after it, and its header's length would then
/// swallow the new records (and misframe every one after). Returns whether
/// anything was cut.
pub fn truncate_torn_tail(path: &Path) -> io::Result<bool> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let (_, whole) = read_from(path, 0)?;
    if whole >= len {
        return Ok(false);
    }
    OpenOptions::new().write(true).open(path)?.set_len(whole)?;
    Ok(true)
}

/// `docker logs` options, already parsed.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub stdout: bool,
    pub stderr: bool,
    pub since_ns: Option<i64>,
    pub until_ns: Option<i64>,
    pub tail: Option<usize>,
}

impl Filter {
    pub fn keep(&self, e: &Entry) -> bool {
        let stream_ok = (e.stream == STDOUT && self.stdout) || (e.stream == STDERR && self.stderr);
        stream_ok
            && self.since_ns.is_none_or(|s| e.time_ns >= s)
            && self.until_ns.is_none_or(|u| e.time_ns <= u)
    }

    /// Applies stream/time filters, then keeps the last `tail` entries.
    pub fn apply(&self, entries: Vec<Entry>) -> Vec<Entry> {
        let mut kept: Vec<Entry> = entries.into_iter().filter(|e| self.keep(e)).collect();
        if let Some(n) = self.tail {
            let skip = kept.len().saturating_sub(n);
            kept.drain(..skip);
        }
        kept
    }
}

/// RFC 3339 with nanoseconds, as Docker prints timestamps.
pub fn format_time_ns(ns: i64) -> String {
    chrono::DateTime::from_timestamp(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )
    .unwrap_or_default()
    .format("%Y-%m-%dT%H:%M:%S%.9fZ")
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_partial_lines_kept_until_finish() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write(STDOUT, b"one\ntw").unwrap();
        w.write(STDERR, b"err\n").unwrap();
        w.write(STDOUT, b"o\nthree").unwrap();
        let (entries, _) = read_from(&p, 0).unwrap();
        let lines: Vec<_> = entries
            .iter()
            .map(|e| (e.stream, e.bytes.clone()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (STDOUT, b"one\n".to_vec()),
                (STDERR, b"err\n".to_vec()),
                (STDOUT, b"two\n".to_vec())
            ]
        );
        w.finish().unwrap();
        let (entries, end) = read_from(&p, 0).unwrap();
        assert_eq!(entries.last().unwrap().bytes, b"three");
        assert_eq!(end, std::fs::metadata(&p).unwrap().len());
    }

    fn text(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.bytes).into_owned())
            .collect()
    }

    #[test]
    fn json_size_is_json_files_line() {
        // dockerd wrote `{"log":"a<b\n","stream":"stdout","time":"1970-01-01T00:00:01.5Z"}`
        // plus a newline for this line (Go escapes < as \u003c).
        let line = r#"{"log":"a\u003cb\n","stream":"stdout","time":"1970-01-01T00:00:01.5Z"}"#;
        assert_eq!(json_size(1_500_000_000, b"a<b\n"), line.len() as u64 + 1);
    }

    #[test]
    fn rotation_keeps_max_file_files_and_readers_span_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let r = Rotation {
            max_size: 300,
            max_file: 3,
        };
        let mut w = LogWriter::open_rotating(&p, Some(r)).unwrap();
        // A follower that read the first line, before any rotation.
        w.write(STDOUT, b"line 0\n").unwrap();
        let (first, cursor) = read_since(&p, Cursor::default()).unwrap();
        assert_eq!(text(&first), vec!["line 0\n"]);
        for i in 1..40 {
            w.write(STDOUT, format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(rotated(&p, 2).exists());
        assert!(!rotated(&p, 3).exists(), "only max-file files are kept");
        let all = text(&read_all(&p).unwrap());
        assert_eq!(all.last().unwrap(), "line 39\n");
        assert!(all.len() < 40 && all.len() > 2 * (300 / 80), "{all:?}");
        // Contiguous: rotation drops the oldest lines only.
        let start: usize = all[0]["line ".len()..].trim().parse().unwrap();
        let want: Vec<String> = (start..40).map(|i| format!("line {i}\n")).collect();
        assert_eq!(all, want);
        // The follower's file is gone: it resumes at the oldest file left.
        let (rest, end) = read_since(&p, cursor).unwrap();
        assert_eq!(text(&rest), all);
        w.write(STDOUT, b"line 40\n").unwrap();
        assert_eq!(text(&read_since(&p, end).unwrap().0), vec!["line 40\n"]);
    }

    #[test]
    fn a_follower_keeps_its_place_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let r = Rotation {
            max_size: 150,
            max_file: 2,
        };
        let mut w = LogWriter::open_rotating(&p, Some(r)).unwrap();
        w.write(STDOUT, b"a\nb\n").unwrap();
        let (_, cursor) = read_since(&p, Cursor::default()).unwrap();
        // Lines of about 70 bytes: c or d finds the file at 150 and rotates it.
        w.write(STDOUT, b"c\nd\n").unwrap();
        assert!(rotated(&p, 1).exists());
        assert_eq!(text(&read_since(&p, cursor).unwrap().0), vec!["c\n", "d\n"]);
    }

    #[test]
    fn max_file_one_empties_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let r = Rotation {
            max_size: 100,
            max_file: 1,
        };
        let mut w = LogWriter::open_rotating(&p, Some(r)).unwrap();
        for i in 0..10 {
            w.write(STDOUT, format!("{i}\n").as_bytes()).unwrap();
        }
        assert!(!rotated(&p, 1).exists());
        assert_eq!(text(&read_all(&p).unwrap()), vec!["8\n", "9\n"]);
    }

    #[test]
    fn torn_tail_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write(STDOUT, b"whole\n").unwrap();
        drop(w);
        let good = std::fs::metadata(&p).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&[1, 2, 3, 4, 5, 6, 7, 8, 1, 100, 0, 0, 0, b'x'])
            .unwrap();
        let (entries, end) = read_from(&p, 0).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(end, good);

        // Cut on recovery, so the next run's records frame correctly.
        assert!(truncate_torn_tail(&p).unwrap());
        assert!(!truncate_torn_tail(&p).unwrap());
        let mut w = LogWriter::open(&p).unwrap();
        w.write(STDOUT, b"next\n").unwrap();
        let (entries, _) = read_from(&p, 0).unwrap();
        let lines: Vec<_> = entries.iter().map(|e| e.bytes.clone()).collect();
        assert_eq!(lines, vec![b"whole\n".to_vec(), b"next\n".to_vec()]);
    }

    #[test]
    fn filter_tail_and_streams() {
        let e = |t, s: u8| Entry {
            time_ns: t,
            stream: s,
            bytes: vec![],
        };
        let all = vec![e(1, STDOUT), e(2, STDERR), e(3, STDOUT), e(4, STDOUT)];
        let f = Filter {
            stdout: true,
            tail: Some(2),
            ..Default::default()
        };
        assert_eq!(f.apply(all.clone()), vec![e(3, STDOUT), e(4, STDOUT)]);
        let f = Filter {
            stdout: true,
            stderr: true,
            since_ns: Some(2),
            until_ns: Some(3),
            ..Default::default()
        };
        assert_eq!(f.apply(all), vec![e(2, STDERR), e(3, STDOUT)]);
    }

    #[test]
    fn times_are_formatted_as_docker() {
        assert_eq!(
            format_time_ns(1_500_000_001),
            "1970-01-01T00:00:01.500000001Z"
        );
    }
}
