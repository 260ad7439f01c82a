//! Images beyond what the store does itself: commit, import, the Dockerfile
//! parser and the classic builder.

pub mod build;
pub mod commit;
pub mod dockerfile;
pub mod import;
