//! Container logs on disk, so they survive a daemon restart.
//!
//! Format: append-only records `[time_ns: u64 LE][stream: u8][len: u32 LE][bytes]`.
//! Binary-safe (a container may print anything) and crash-tolerant: a record
//! torn by a crash is shorter than its header says, and readers stop there.
//! Each record is one line of output (with its newline) or a final partial line,
//! as Docker's json-file driver splits them.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
const HEADER: usize = 13;
/// Docker splits lines longer than this into several messages.
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub time_ns: i64,
    pub stream: u8,
    pub bytes: Vec<u8>,
}

/// Appends a stream's output, one record per line.
pub struct LogWriter {
    file: BufWriter<File>,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(LogWriter {
            file: BufWriter::new(file),
            partial: [Vec::new(), Vec::new()],
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
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(&now.to_le_bytes());
        header[8] = stream;
        header[9..].copy_from_slice(&len.to_le_bytes());
        self.file.write_all(&header)?;
        self.file.write_all(line)
    }
}

/// Reads records from `offset` on; returns them and the offset after the last
/// whole record (a torn tail is left for a later read, or ignored).
pub fn read_from(path: &Path, offset: u64) -> io::Result<(Vec<Entry>, u64)> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(e),
    };
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
