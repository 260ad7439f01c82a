//! Compressed streams: the magics dockerd recognises, one table shared by
//! detection and decoding. Only gzip is decoded.

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
/// stream: gzip, or one of the formats `decompress` refuses.
pub fn is_compressed(head: &[u8]) -> bool {
    compression(head).is_some()
}

/// Wraps `r` in a gzip decoder if it starts with the gzip magic; refuses the
/// other compressions dockerd knows (we ship no decoder for them) with a clear message.
pub fn decompress<'a, R: Read + Send + 'a>(r: R) -> Result<Box<dyn Read + Send + 'a>, StoreError> {
    let mut br = BufReader::with_capacity(64 * 1024, r);
    let head = br.fill_buf()?.to_vec();
    match compression(&head) {
        None => Ok(Box::new(br)),
        // MultiGzDecoder: some tools write concatenated gzip members.
        Some("gzip") => Ok(Box::new(flate2::read::MultiGzDecoder::new(br))),
        Some(name) => Err(StoreError::InvalidInput(format!(
            "unsupported compression format {name}: only gzip and uncompressed archives can be loaded"
        ))),
    }
}
