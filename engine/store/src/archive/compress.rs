//! Compressed streams: the magics dockerd recognises, one table shared by
//! detection and decoding. gzip and zstd are decoded (zstd by `ruzstd`, a
//! pure-Rust decoder); bzip2 and xz are refused.

use std::io::{BufRead, BufReader, Read};

use crate::StoreError;

/// The compressions dockerd knows, by their first bytes.
const COMPRESSIONS: [(&[u8], &str); 4] = [
    (&[0x1f, 0x8b], "gzip"),
    (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
    (b"BZh", "bzip2"),
    (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz"),
];

/// The compression `head` (the first bytes of a stream) starts with, if any.
fn compression(head: &[u8]) -> Option<&'static str> {
    COMPRESSIONS
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|&(_, name)| name)
}

/// Whether `head` (the first bytes of a file) starts like a compressed
/// stream: gzip, zstd, or one of the formats `decompress` refuses.
pub fn is_compressed(head: &[u8]) -> bool {
    compression(head).is_some()
}

/// Wraps `r` in a gzip or zstd decoder if it starts with that magic;
/// refuses the other compressions dockerd knows (we ship no decoder for
/// them) with a clear message.
pub fn decompress<'a, R: Read + Send + 'a>(r: R) -> Result<Box<dyn Read + Send + 'a>, StoreError> {
    let mut br = BufReader::with_capacity(64 * 1024, r);
    let head = br.fill_buf()?.to_vec();
    match compression(&head) {
        None => Ok(Box::new(br)),
        // MultiGzDecoder: some tools write concatenated gzip members.
        Some("gzip") => Ok(Box::new(flate2::read::MultiGzDecoder::new(br))),
        Some("zstd") => ruzstd::decoding::StreamingDecoder::new(br)
            .map(|d| Box::new(d) as Box<dyn Read + Send + 'a>)
            .map_err(|e| StoreError::InvalidInput(format!("invalid zstd stream: {e}"))),
        Some(name) => Err(StoreError::InvalidInput(format!(
            "unsupported compression format {name}: only gzip, zstd and uncompressed archives can be loaded"
        ))),
    }
}
