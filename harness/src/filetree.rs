//! The file tree under the fixture's /data as the probe's `dump` shows it:
//! what the image holds ([`baseline`]), parsing a dump and rendering a
//! tree for messages. The seed properties (`crate::scenarios::seed`) and
//! the model (`crate::model`) both compare against it.

use crate::fixture::SEED_FILES;
use std::collections::BTreeMap;

/// A file as the probe's `dump` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// `f` file, `d` directory, `l` anything else.
    pub kind: char,
    pub mode: u32,
    pub content: Vec<u8>,
}

pub type Tree = BTreeMap<String, FileState>;

/// /data as the fixture image holds it.
pub fn baseline() -> Tree {
    SEED_FILES
        .iter()
        .map(|(n, m, c)| {
            (
                n.to_string(),
                FileState {
                    kind: 'f',
                    mode: *m,
                    content: c.as_bytes().to_vec(),
                },
            )
        })
        .collect()
}

/// Parses the `nth` (0-based) `dump` block in probe output.
pub fn parse_dump(out: &str, nth: usize) -> Result<Tree, String> {
    let mut blocks = 0;
    let mut lines = out.lines();
    while let Some(l) = lines.next() {
        if !l.starts_with("== dump ") {
            continue;
        }
        if blocks < nth {
            blocks += 1;
            continue;
        }
        let mut tree = Tree::new();
        for l in lines.by_ref() {
            if l == "== end" {
                return Ok(tree);
            }
            let parts: Vec<&str> = l.splitn(5, ' ').collect();
            let kind = parts.first().and_then(|k| k.chars().next()).unwrap_or('?');
            let name = parts.get(1).ok_or_else(|| format!("bad dump line {l:?}"))?;
            let mode = parts
                .get(2)
                .and_then(|m| u32::from_str_radix(m, 8).ok())
                .ok_or_else(|| format!("bad mode in dump line {l:?}"))?;
            let content = match kind {
                'f' => hex::decode(parts.get(4).copied().unwrap_or(""))
                    .map_err(|_| format!("bad content in dump line {l:?}"))?,
                _ => Vec::new(),
            };
            tree.insert(
                name.to_string(),
                FileState {
                    kind,
                    mode,
                    content,
                },
            );
        }
        return Err("dump block without its end line".into());
    }
    Err(format!("no dump block #{} in the output {out:?}", nth + 1))
}

/// Compact rendering of a tree for messages.
pub fn show(tree: &Tree) -> String {
    let items: Vec<String> = tree
        .iter()
        .map(|(n, f)| {
            format!(
                "{n}({}{:o} {:?})",
                if f.kind == 'f' { "" } else { "dir " },
                f.mode,
                String::from_utf8_lossy(&f.content)
            )
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}
