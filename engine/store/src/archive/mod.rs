//! Tar handling: decompression detection, hashing readers, the syscalls the
//! unpacker needs, and resolving paths inside an extracted archive. The
//! unpacker itself (dockerd's rules for hostile entries) is `crate::unpack`,
//! re-exported here.
//!
//! - `hash`: sha256-hashing readers and writers, digests;
//! - `compress`: which compression a stream starts with, and gzip decoding;
//! - `sys`: the path syscalls std lacks (lchown, xattrs, mknod, mtimes);
//! - `scope`: paths inside an extracted archive, resolved as in a chroot.

mod compress;
mod hash;
mod scope;
mod sys;

pub use crate::unpack::{unpack, unpack_at, UnpackOptions, TAR_ERROR_PREFIX};
pub use compress::{decompress, is_compressed};
pub use hash::{sha256_digest, HashReader, HashWriter};
pub use scope::{open_in_scope, resolve_in_scope};
pub use sys::lgetxattr;
pub(crate) use sys::{cpath, lchown, lsetxattr, mknod, set_mtime};
