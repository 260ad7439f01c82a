//! Writing files that are mostly zeros as sparse files.
//!
//! Layer tars carry no sparse entries (dockerd's Go tar writer has none, so
//! a sparse file in a container's changes is stored with all its zeros: 8
//! GiB for moby's `TestBuildWithHugeFile`). Whatever holds such a tar or
//! such a file on disk (the temp file of a commit, the unpacked tree) skips
//! the zero blocks instead of writing them, so a hole stays a hole and the
//! data read back is the same.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

/// Zero runs shorter than this are written: a hole smaller than a block
/// saves nothing.
const BLOCK: usize = 64 * 1024;

/// A writer to a file that seeks over whole blocks of zeros. `finish` sets
/// the file's length (a trailing hole is not written at all).
pub struct HoleWriter<'f> {
    file: &'f File,
    buf: Vec<u8>,
    /// Where the next byte goes (the file's offset may lag behind it).
    pos: u64,
    /// Whether the file's offset is at `pos`.
    synced: bool,
}

impl<'f> HoleWriter<'f> {
    /// Writes from `file`'s current offset on.
    pub fn new(file: &'f File) -> io::Result<Self> {
        let mut at = file;
        let pos = at.stream_position()?;
        Ok(HoleWriter {
            file,
            buf: Vec::with_capacity(BLOCK),
            pos,
            synced: true,
        })
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let len = self.buf.len() as u64;
        // An OR over the whole block (no early exit) vectorizes: gigabytes of
        // zeros are checked at memory speed.
        if self.buf.len() == BLOCK && self.buf.iter().fold(0u8, |acc, &b| acc | b) == 0 {
            self.synced = false;
        } else {
            if !self.synced {
                self.file.seek(SeekFrom::Start(self.pos))?;
                self.synced = true;
            }
            self.file.write_all(&self.buf)?;
        }
        self.pos += len;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is buffered and gives the file its full length.
    pub fn finish(mut self) -> io::Result<u64> {
        self.flush_block()?;
        if !self.synced {
            self.file.set_len(self.pos)?;
            self.file.seek(SeekFrom::Start(self.pos))?;
        }
        Ok(self.pos)
    }
}

impl Write for HoleWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(BLOCK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == BLOCK {
            self.flush_block()?;
        }
        Ok(n)
    }

    /// Buffered bytes wait for a full block (a partial one is written by
    /// `finish`): flushing early would split blocks and lose holes.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn zeros_become_holes_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create(&path).unwrap();
        let mut want = Vec::new();
        want.extend_from_slice(b"head");
        want.extend(std::iter::repeat_n(0u8, 64 * BLOCK));
        want.extend_from_slice(b"middle");
        want.extend(std::iter::repeat_n(0u8, 16 * BLOCK + 7));
        let mut w = HoleWriter::new(&file).unwrap();
        // Odd-sized writes: blocks are cut by the writer, not the caller.
        for chunk in want.chunks(1000) {
            w.write_all(chunk).unwrap();
        }
        assert_eq!(w.finish().unwrap(), want.len() as u64);
        drop(file);
        let mut got = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut got).unwrap();
        assert!(got == want, "the content read back differs");
        // Most of the 80 zero blocks are holes (st_blocks is in 512 bytes).
        let used = std::fs::metadata(&path).unwrap().blocks() * 512;
        assert!(used < (8 * BLOCK) as u64, "{used} bytes used on disk");
    }
}
