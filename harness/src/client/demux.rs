//! Docker's multiplexed stream (stdout and stderr in one body, 8-byte frame
//! headers), split back into its streams.

/// Output of a multiplexed stream, split by stream id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demuxed {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Every frame in order: (stream id, payload).
    pub frames: Vec<(u8, Vec<u8>)>,
}

impl Demuxed {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Splits Docker's multiplexed stream: frames of an 8-byte header
/// `[stream, 0, 0, 0, size (u32 big-endian)]` followed by `size` bytes;
/// stream 0 = stdin, 1 = stdout, 2 = stderr.
pub fn demux(data: &[u8]) -> Result<Demuxed, String> {
    let mut out = Demuxed::default();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.len() < 8 {
            return Err(format!(
                "truncated frame header: {} trailing bytes at offset {}",
                rest.len(),
                data.len() - rest.len()
            ));
        }
        let stream = rest[0];
        if stream > 3 || rest[1..4] != [0, 0, 0] {
            return Err(format!(
                "invalid frame header {:02x?} at offset {}",
                &rest[..8],
                data.len() - rest.len()
            ));
        }
        let size = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let payload = rest
            .get(8..8 + size)
            .ok_or_else(|| format!("frame of {size} bytes truncated to {}", rest.len() - 8))?;
        match stream {
            1 => out.stdout.extend_from_slice(payload),
            2 => out.stderr.extend_from_slice(payload),
            _ => {}
        }
        out.frames.push((stream, payload.to_vec()));
        rest = &rest[8 + size..];
    }
    Ok(out)
}
