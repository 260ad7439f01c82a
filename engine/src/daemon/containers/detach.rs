//! Detach keys: the key sequence that, read from a TTY's stdin, ends a
//! client's attach (or exec) stream while the process keeps running. The
//! spec grammar and the matching are dockerd's (moby/term `ToBytes` and its
//! escape proxy).

use crate::errdefs::EngineError;

/// ctrl-p, ctrl-q: what an empty spec means.
pub const DEFAULT: [u8; 2] = [0x10, 0x11];

/// `ctrl-@` is 0, `ctrl-a` 1 … `ctrl-z` 26, then `ctrl-[` … `ctrl-_` (27–31).
const CONTROL: [&str; 32] = [
    "ctrl-@", "ctrl-a", "ctrl-b", "ctrl-c", "ctrl-d", "ctrl-e", "ctrl-f", "ctrl-g", "ctrl-h",
    "ctrl-i", "ctrl-j", "ctrl-k", "ctrl-l", "ctrl-m", "ctrl-n", "ctrl-o", "ctrl-p", "ctrl-q",
    "ctrl-r", "ctrl-s", "ctrl-t", "ctrl-u", "ctrl-v", "ctrl-w", "ctrl-x", "ctrl-y", "ctrl-z",
    "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_",
];

/// The bytes of a spec such as `ctrl-p,ctrl-q` or `ctrl-a,x`: comma
/// separated, each a single character or a lower-case control name. None
/// for an invalid spec (the caller words the error: attach and exec differ).
pub fn parse(spec: &str) -> Option<Vec<u8>> {
    spec.split(',')
        .map(|key| match key.as_bytes() {
            [b] => Some(*b),
            _ => CONTROL.iter().position(|c| *c == key).map(|i| i as u8),
        })
        .collect()
}

/// Attach's `detachKeys`: dockerd refuses a bad one as invalid input.
pub fn for_attach(spec: &str) -> Result<Vec<u8>, EngineError> {
    if spec.is_empty() {
        return Ok(DEFAULT.to_vec());
    }
    parse(spec).ok_or_else(|| {
        EngineError::InvalidParameter(format!("Invalid detach keys ({spec}) provided"))
    })
}

/// Exec create's `DetachKeys` (None when not given). dockerd's error here
/// carries no category, hence a 500.
pub fn for_exec(spec: &str) -> Result<Option<Vec<u8>>, EngineError> {
    if spec.is_empty() {
        return Ok(None);
    }
    parse(spec)
        .map(Some)
        .ok_or_else(|| EngineError::System(format!("Invalid escape keys ({spec}) provided")))
}

/// Watches a client's stdin for the detach sequence, one read at a time.
pub struct Escape {
    keys: Vec<u8>,
    /// How many keys of the sequence the last reads matched.
    pos: usize,
}

impl Escape {
    pub fn new(keys: Vec<u8>) -> Self {
        let keys = if keys.is_empty() {
            DEFAULT.to_vec()
        } else {
            keys
        };
        Escape { keys, pos: 0 }
    }

    /// What of one read goes on to the process, or None when it completed
    /// the sequence. As dockerd's proxy, only a read of exactly one byte
    /// can match (a terminal sends one key per read; a paste of the
    /// sequence is data), and the held-back keys of a sequence that
    /// breaks off are forwarded before the read that broke it.
    pub fn filter(&mut self, read: &[u8]) -> Option<Vec<u8>> {
        if let [b] = read {
            if *b == self.keys[self.pos] {
                if self.pos + 1 == self.keys.len() {
                    return None;
                }
                self.pos += 1;
                return Some(Vec::new());
            }
        }
        let mut out = self.keys[..self.pos].to_vec();
        out.extend_from_slice(read);
        self.pos = 0;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_as_dockerd_reads_them() {
        assert_eq!(parse("ctrl-p,ctrl-q"), Some(vec![16, 17]));
        assert_eq!(parse("ctrl-a,x"), Some(vec![1, b'x']));
        assert_eq!(parse("ctrl-@,ctrl-_,ctrl-\\"), Some(vec![0, 31, 28]));
        assert_eq!(parse("foo"), None);
        assert_eq!(parse("ctrl-A"), None);
        assert_eq!(parse("a,,b"), None);
        assert_eq!(for_attach("").unwrap(), DEFAULT.to_vec());
        assert_eq!(for_exec("").unwrap(), None);
        assert_eq!(
            for_exec("foo").unwrap_err().to_string(),
            "Invalid escape keys (foo) provided"
        );
        assert_eq!(
            for_attach("foo").unwrap_err().to_string(),
            "Invalid detach keys (foo) provided"
        );
    }

    #[test]
    fn only_single_key_reads_match_and_partial_sequences_pass_through() {
        let mut e = Escape::new(DEFAULT.to_vec());
        assert_eq!(e.filter(b"ab"), Some(b"ab".to_vec()));
        assert_eq!(e.filter(b"\x10"), Some(vec![]));
        assert_eq!(e.filter(b"c"), Some(b"\x10c".to_vec()));
        assert_eq!(e.filter(b"\x10\x11"), Some(b"\x10\x11".to_vec()));
        assert_eq!(e.filter(b"\x10"), Some(vec![]));
        assert_eq!(e.filter(b"\x11"), None);
    }
}
