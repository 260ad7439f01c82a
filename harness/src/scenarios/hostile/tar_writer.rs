//! A tar writer that writes exactly what it is told: `..` and absolute
//! names, links pointing anywhere, device nodes, GNU long-name and PAX
//! headers of any declared size, archives cut short. The `tar` crate's
//! builder refuses most of these, which is the point of a hostile tar.
//!
//! Std only: the end-to-end tests include this file too (`#[path]`).

#![allow(dead_code)]

/// What one entry is.
pub enum Kind<'a> {
    File(&'a [u8]),
    Dir,
    Symlink(&'a str),
    Hardlink(&'a str),
    Char(u32, u32),
    Block(u32, u32),
}

#[derive(Default)]
pub struct RawTar {
    buf: Vec<u8>,
}

/// `value` as NUL-terminated octal filling `width` bytes.
fn octal(field: &mut [u8], value: u64) {
    let width = field.len();
    let text = format!("{value:0w$o}\0", w = width - 1);
    field.copy_from_slice(&text.as_bytes()[text.len() - width..]);
}

/// A ustar header; names longer than 100 bytes are cut (use a GNU
/// long-name or PAX header before the entry for those).
fn header(name: &str, typeflag: u8, size: u64, link: &str, dev: (u32, u32)) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.as_bytes();
    h[..n.len().min(100)].copy_from_slice(&n[..n.len().min(100)]);
    let mode = if typeflag == b'5' { 0o755 } else { 0o644 };
    octal(&mut h[100..108], mode);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = typeflag;
    let l = link.as_bytes();
    h[157..157 + l.len().min(100)].copy_from_slice(&l[..l.len().min(100)]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], u64::from(dev.0));
    octal(&mut h[337..345], u64::from(dev.1));
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    octal(&mut h[148..155], sum);
    h[155] = b' ';
    h
}

impl RawTar {
    pub fn new() -> Self {
        RawTar::default()
    }

    fn pad(&mut self) {
        let rem = self.buf.len() % 512;
        if rem != 0 {
            self.buf.resize(self.buf.len() + 512 - rem, 0);
        }
    }

    pub fn entry(&mut self, name: &str, kind: Kind) -> &mut Self {
        let (flag, data, link, dev): (u8, &[u8], &str, (u32, u32)) = match kind {
            Kind::File(d) => (b'0', d, "", (0, 0)),
            Kind::Dir => (b'5', b"", "", (0, 0)),
            Kind::Symlink(t) => (b'2', b"", t, (0, 0)),
            Kind::Hardlink(t) => (b'1', b"", t, (0, 0)),
            Kind::Char(a, b) => (b'3', b"", "", (a, b)),
            Kind::Block(a, b) => (b'4', b"", "", (a, b)),
        };
        self.buf
            .extend_from_slice(&header(name, flag, data.len() as u64, link, dev));
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    /// A special header (GNU `L`, PAX `x`) whose size field says
    /// `declared` but that carries only `data` (an archive cut short when
    /// they differ).
    pub fn special(&mut self, typeflag: u8, declared: u64, data: &[u8]) -> &mut Self {
        let name = if typeflag == b'L' {
            "././@LongLink"
        } else {
            "PaxHeaders/x"
        };
        self.buf
            .extend_from_slice(&header(name, typeflag, declared, "", (0, 0)));
        self.buf.extend_from_slice(data);
        self
    }

    /// A GNU long name for the next entry (as GNU tar writes it).
    pub fn gnu_long_name(&mut self, name: &str) -> &mut Self {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        self.special(b'L', data.len() as u64, &data);
        self.pad();
        self
    }

    /// The end-of-archive marker: two zero blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.pad();
        self.buf.extend_from_slice(&[0u8; 1024]);
        self.buf
    }

    /// What was written so far, without padding or end marker.
    pub fn truncated(self) -> Vec<u8> {
        self.buf
    }
}

/// A docker-archive (`docker save` format) of one image whose single layer
/// is `layer`, tagged `tag`; `layer_digest` is the layer's `sha256:<hex>`
/// (the config must name it, or dockerd refuses the layer before anything).
pub fn docker_archive(layer: &[u8], layer_digest: &str, tag: &str) -> Vec<u8> {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
    );
    let manifest =
        format!(r#"[{{"Config":"config.json","RepoTags":["{tag}"],"Layers":["layer.tar"]}}]"#);
    let mut t = RawTar::new();
    t.entry("config.json", Kind::File(config.as_bytes()))
        .entry("layer.tar", Kind::File(layer))
        .entry("manifest.json", Kind::File(manifest.as_bytes()));
    t.finish()
}
