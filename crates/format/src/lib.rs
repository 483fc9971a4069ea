//! The bytes of InfluxDB 1.x storage files, decoded: TSM files (header, index, footer,
//! blocks and every block encoding), series keys, tombstone files v1–v4, WAL segments
//! and the meta store (`meta.db`), plus integrity checks of each ([`verify`]).
//!
//! This crate is the pure core: it works on `&[u8]` the caller holds, never opens a
//! file, maps memory or starts a thread, and has no `unsafe` code. It never panics on any
//! input, and checks every length and offset read from the bytes before using it (sizes
//! are capped by [`Limits`]). Errors ([`Error`]) carry the byte offset, the key being
//! decoded and what was wrong; the caller that knows the file adds its path
//! ([`Error::in_file`]). Listing a server's directories, mapping files and merging a
//! shard's files into one view are `influx-tsm-shard`'s, on top of this crate.
//!
//! | bytes → | module |
//! |---|---|
//! | TSM header, index, footer | [`file`](mod@file) ([`file::TsmFile`], [`file::IndexEntry`]) |
//! | a block's sections, decoded into caller-owned buffers | [`block`], [`block_info`], [`encoding`] |
//! | series keys `measurement,tag=v#!~#field` | [`key`] |
//! | tombstone files v1–v4 | [`tombstone`] |
//! | WAL segments, entry by entry | [`wal`] |
//! | the meta store and backup metadata | [`meta`] |
//! | integrity checks of all of the above | [`verify`] |
//!
//! # Example
//!
//! A TSM file of one key and one block, written in memory by the `testkit` writer, read
//! back through its index:
//!
//! ```
//! use influx_tsm_format::block::decode_block;
//! use influx_tsm_format::file::TsmFile;
//! use influx_tsm_format::testkit::tsm::TsmWriter;
//! use influx_tsm_format::{FieldType, Limits, Values};
//!
//! # fn main() -> influx_tsm_format::Result<()> {
//! let mut writer = TsmWriter::new();
//! writer.write_block(b"cpu,host=a#!~#usage", &[10, 20, 30], &Values::Float(vec![0.5, 0.25, 1.0]));
//! let bytes = writer.finish();
//!
//! let file = TsmFile::parse(&bytes)?;
//! let mut index = file.index();
//! let entry = index.next_entry()?.expect("one key");
//! assert_eq!(entry.key, b"cpu,host=a#!~#usage");
//! assert_eq!(entry.field_type, FieldType::Float);
//!
//! let (mut timestamps, mut values) = (Vec::new(), Values::Float(Vec::new()));
//! for block in entry.blocks() {
//!     let data = file.block(&block, true)?;
//!     decode_block(data, block.offset + 4, &Limits::default(), &mut timestamps, &mut values)?;
//! }
//! assert_eq!(timestamps, [10, 20, 30]);
//! assert_eq!(values, Values::Float(vec![0.5, 0.25, 1.0]));
//! assert!(index.next_entry()?.is_none());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// `#[inline]` marks the small functions the shard crate calls once per series or block
// (series keys, block entries, varints): across a crate boundary they are not inlined
// otherwise, and an embedder's build may have no LTO.
pub mod block;
pub mod block_info;
pub mod cursor;
pub mod describe;
pub mod encoding;
mod error;
pub mod file;
pub mod format;
pub mod key;
pub mod limits;
pub mod meta;
pub mod tombstone;
pub mod values;
pub mod verify;
pub mod wal;

pub use error::{
    ConflictWith, EncodingFault, Error, ErrorKind, Inconsistency, IndexEntryFault, MetaFault,
    PayloadFault, Result, TombstoneFault, WalEntryFault,
};
pub use limits::Limits;
pub use values::{FieldType, Strings, Value, Values};
#[cfg(feature = "testkit")]
pub mod testkit;
