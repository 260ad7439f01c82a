//! dockerd's JSON progress messages (`pkg/jsonmessage`): `{"status", "id",
//! "progressDetail", "progress"}`, with the bar and the sizes rendered as
//! the daemon renders them (a 50-character bar, go-units' HumanSize).

use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Where progress goes: the response stream (one JSON value per message).
#[derive(Clone)]
pub struct Progress {
    tx: mpsc::UnboundedSender<Value>,
}

impl Progress {
    pub fn new() -> (Progress, mpsc::UnboundedReceiver<Value>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Progress { tx }, rx)
    }

    /// A plain status line (`{"status": ...}`).
    pub fn status(&self, status: &str) {
        let _ = self.tx.send(json!({ "status": status }));
    }

    /// A status with an id but no detail (`Pulling from x`, id = tag).
    pub fn status_id(&self, id: &str, status: &str) {
        let _ = self.tx.send(json!({ "status": status, "id": id }));
    }

    /// A status of one layer (`Pulling fs layer`, `Pull complete`, ...).
    pub fn layer(&self, id: &str, status: &str) {
        let _ = self
            .tx
            .send(json!({ "status": status, "progressDetail": {}, "id": id }));
    }

    /// A progress update of one layer (`Downloading`, `Extracting`, `Pushing`).
    pub fn bar(&self, id: &str, status: &str, current: u64, total: u64) {
        let _ = self.tx.send(json!({
            "status": status,
            "progressDetail": { "current": current, "total": total },
            "progress": render(current, total),
            "id": id,
        }));
    }

    /// An `aux` message (push's final `{"Tag","Digest","Size"}`).
    pub fn aux(&self, aux: Value) {
        let _ = self.tx.send(json!({ "progressDetail": {}, "aux": aux }));
    }
}

/// `JSONProgress.String()` for a terminal wider than 110 columns, as the
/// daemon renders it (no time left: the daemon sets no start time).
pub fn render(current: u64, total: u64) -> String {
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let pct = ((current as f64 / total as f64 * 100.0) as u64 / 2).min(50) as usize;
    let bar = format!("[{}>{}] ", "=".repeat(pct), " ".repeat(50 - pct));
    let numbers = if current > total {
        format!("{:>8}", human_size(current))
    } else {
        format!("{:>8}/{}", human_size(current), human_size(total))
    };
    bar + &numbers
}

/// go-units' `HumanSize`: decimal units, 4 significant digits (`%.4g`).
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", format_g4(v), UNITS[i])
}

/// Go's `%.4g` for 0 <= v < 1000 (never in exponent form there).
fn format_g4(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    // libm's log10, not std's: std's is libm.so's (see pow in main.rs).
    let exp = libm::log10(v.abs()).floor() as i32;
    let decimals = (3 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    // Rounding up may add a digit (999.95 -> "1000"): still what Go prints.
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_go_units() {
        assert_eq!(human_size(114), "114B");
        assert_eq!(human_size(3678), "3.678kB");
        assert_eq!(human_size(300291), "300.3kB");
        assert_eq!(human_size(300000), "300kB");
        assert_eq!(human_size(2048), "2.048kB");
        assert_eq!(human_size(33280), "33.28kB");
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1_500_000), "1.5MB");
    }

    #[test]
    fn bars_as_dockerd() {
        // Seen in dockerd 20.10's pull and push streams.
        assert_eq!(
            render(3678, 300291),
            "[>                                                  ]  3.678kB/300.3kB"
        );
        assert_eq!(
            render(512, 6),
            "[==================================================>]     512B"
        );
        assert_eq!(
            render(33280, 300000),
            "[=====>                                             ]  33.28kB/300kB"
        );
        assert_eq!(
            render(114, 114),
            "[==================================================>]     114B/114B"
        );
    }
}
