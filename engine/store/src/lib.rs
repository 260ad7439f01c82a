//! The image store: images (config blobs named by their sha256, which is the
//! image ID), tags, and layers unpacked once each for use as overlayfs
//! lower directories. Knows nothing of HTTP; messages are dockerd's words.
//!
//! On-disk layout under `root` (`<data-root>/image`):
//! ```text
//! imagedb/content/sha256/<hex>        image config, verbatim (sha256 = <hex> = image ID)
//! imagedb/metadata/sha256/<hex>.json  {parent, last_tag_time}
//! repositories.json                   {"tags": {"name:tag": "sha256:<id>"}}
//! retained.json                       layers kept for containers of force-deleted images
//! layers/<diffhex>/diff/              the unpacked layer (overlay whiteouts), a lowerdir
//! layers/<diffhex>/layer.split        the tar's headers and padding: with diff/, its tar (see split)
//! layers/<diffhex>/layer.tar          instead of layer.split, the tar verbatim, for a tar
//!                                     that rewrites its own entries (or stored before the split)
//! layers/<diffhex>/meta.json          {diff_id, size, tar_size}
//! layers/.tmp-*                       in-progress unpack or delete; removed on open
//! tmp/                                scratch for archive extraction; emptied on open
//! ```
//! Crash safety: a layer appears under its final name only by an atomic
//! rename after it is complete and synced; records are written with
//! `atomic::write_*`. A load reports success only after all are durable.
//!
//! Where things live:
//! - `store`: the `ImageStore` handle, its in-memory index, persisted records;
//! - `recovery`: `ImageStore::open`, reloading and removing crash leftovers;
//! - `image`: image records and storing a new image (`create_image`);
//! - `layer`: layer registration and chain IDs;
//! - `resolve`: from a reference to an image ID (dockerd's `GetImage`);
//! - `tag`: tagging and which names may be tags;
//! - `remove`: deletes, their conflicts, and releasing layers;
//! - `load`, `save`: `docker load` and `docker save` archives;
//! - `archive`, `unpack`, `diff`: tar streams in and out, hostile-safe;
//! - `split`: one copy of each layer, its tar rebuilt from the tree;
//! - `sparse`: zeros skipped, not written, where tars and files land;
//! - `atomic`: crash-safe file writes; `reference`: Docker reference syntax;
//! - `gopath`, `gotime`: Go's path and time rules, as dockerd applies them.

pub mod archive;
pub mod atomic;
pub mod diff;
mod distribution;
mod error;
mod gopath;
mod gotime;
mod image;
mod layer;
mod load;
mod recovery;
pub mod reference;
mod remove;
mod resolve;
mod save;
pub mod sparse;
mod split;
mod store;
mod tag;
mod unpack;

pub use error::{ErrorKind, StoreError};
pub use gopath::{errno_text, path_error};
pub use gotime::parse_time_unix;
pub use image::Image;
pub use layer::{LayerInfo, LayerSource, PackFn};
pub use remove::{DeleteItem, ImageUserView};
pub use save::SavePlan;
pub use store::ImageStore;

#[cfg(test)]
mod tests;
