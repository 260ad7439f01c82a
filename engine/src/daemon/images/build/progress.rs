//! The build's answer: dockerd's JSON progress lines, and a failure as
//! the stream reports it.

use super::*;

/// A build failure as the stream reports it (with the exit code for RUN).
pub struct BuildError {
    pub message: String,
    pub code: Option<i32>,
}

impl From<EngineError> for BuildError {
    fn from(e: EngineError) -> Self {
        BuildError {
            message: e.to_string(),
            code: None,
        }
    }
}

impl From<std::io::Error> for BuildError {
    fn from(e: std::io::Error) -> Self {
        EngineError::from(e).into()
    }
}

impl From<shipshape_store::StoreError> for BuildError {
    fn from(e: shipshape_store::StoreError) -> Self {
        EngineError::from(e).into()
    }
}

/// The progress stream: dockerd's JSON lines.
pub struct Progress {
    tx: mpsc::Sender<Bytes>,
    quiet: bool,
    /// While ONBUILD triggers run: each step's ` ---> <id>` is not shown.
    quiet_results: std::sync::atomic::AtomicBool,
}

impl Progress {
    pub fn new(tx: mpsc::Sender<Bytes>, quiet: bool) -> Self {
        Progress {
            tx,
            quiet,
            quiet_results: std::sync::atomic::AtomicBool::new(false),
        }
    }

    async fn send(&self, v: Value) {
        let mut out = serde_json::to_vec(&v).unwrap_or_default();
        out.push(b'\n');
        let _ = self.tx.send(Bytes::from(out)).await;
    }

    /// A `{"stream": ...}` line (suppressed with `q`).
    pub async fn stream(&self, s: &str) {
        if !self.quiet {
            self.send(json!({ "stream": s })).await;
        }
    }

    /// `{"aux":{"ID":...}}`: an image the build made (not in quiet mode).
    pub async fn aux_id(&self, id: &str) {
        if !self.quiet {
            self.send(json!({ "aux": { "ID": id } })).await;
        }
    }

    /// Any other line (a remote context's download), suppressed with `q`.
    pub async fn message(&self, v: Value) {
        if !self.quiet {
            self.send(v).await;
        }
    }

    /// A line sent even in quiet mode.
    pub async fn always(&self, v: Value) {
        self.send(v).await;
    }

    pub(super) fn set_quiet_results(&self, on: bool) {
        self.quiet_results
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// A step's ` ---> <short id>` line.
    pub(super) async fn result(&self, id: &str) {
        if !self
            .quiet_results
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            self.stream(&format!(" ---> {}\n", short(id))).await;
        }
    }

    pub async fn error(&self, e: &BuildError) {
        // dockerd's field order: code (only for a failed RUN), then message.
        let detail = match e.code {
            Some(c) => json!({ "code": c, "message": e.message }),
            None => json!({ "message": e.message }),
        };
        self.send(json!({ "errorDetail": detail, "error": e.message }))
            .await;
    }

    pub(super) fn gone(&self) -> bool {
        self.tx.is_closed()
    }
}

pub(super) fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}
