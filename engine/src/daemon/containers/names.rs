//! Container IDs and names, as Docker makes and checks them.

use rand::Rng;

/// A new 64-hex-digit container ID. Docker avoids all-numeric short IDs
/// (they could be mistaken for numbers); so do we.
pub fn new_id() -> String {
    let mut rng = rand::thread_rng();
    loop {
        let bytes: [u8; 32] = rng.gen();
        let id = hex::encode(bytes);
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, with an optional leading slash.
pub fn is_valid_name(name: &str) -> bool {
    let name = name.strip_prefix('/').unwrap_or(name);
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    let rest = chars.as_str();
    !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

const LEFT: &[&str] = &[
    "brave", "calm", "eager", "fond", "happy", "keen", "lucid", "merry", "nifty", "quiet", "sharp",
    "tender", "vivid", "witty", "zen", "bold",
];
const RIGHT: &[&str] = &[
    "hopper", "lovelace", "turing", "curie", "noether", "ritchie", "thompson", "liskov",
    "hamilton", "knuth", "dijkstra", "shannon", "babbage", "goldberg", "kay", "lamport",
];

/// A generated name in Docker's `adjective_surname` style.
pub fn random_name() -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{}_{}{}",
        LEFT[rng.gen_range(0..LEFT.len())],
        RIGHT[rng.gen_range(0..RIGHT.len())],
        rng.gen_range(0..1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_pattern() {
        for ok in ["ab", "a1", "web.1", "x_y-z", "/abc"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "a", "-bad", "_x", "a b", "a/b", "é1", "/"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(is_valid_name(&random_name()));
    }

    #[test]
    fn ids_are_64_hex() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
