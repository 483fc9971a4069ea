//! Decoder for InfluxDB 1.x storage files, straight from bytes: TSM files (index, blocks,
//! every encoding), tombstones, WAL segments, the `data/` and `wal/` directory tree; and
//! each shard's merged view, exactly what InfluxDB itself would return.
//!
//! No Arrow, no threads, no I/O in the decoding core: that core is the crate
//! `influx-tsm-format` (re-exported here at the same paths: [`file`](mod@file), [`block`],
//! [`encoding`], [`key`], [`tombstone`], [`wal`], [`meta`], [`verify`], ...), which works on
//! `&[u8]`, never panics on any input, and checks every length and offset read from a file
//! before using it (sizes are capped by [`Limits`]). This crate adds the directory tree,
//! the file mappings and the merged view. Errors ([`Error`]) name the file, the byte offset
//! and what was wrong. The only `unsafe` code is the read-only file mapping in [`mmap`].
//!
//! # Layers
//!
//! | bytes → | module |
//! |---|---|
//! | TSM header, index, footer | [`file`](mod@file) ([`file::TsmFile`], [`file::IndexEntry`]) |
//! | a block's sections, decoded into caller-owned buffers | [`block`], [`encoding`] |
//! | series keys `measurement,tag=v#!~#field` | [`key`] |
//! | tombstone files v1–v4 | [`tombstone`] |
//! | WAL segments, and their replay into a cache | [`wal`], [`cache`] |
//! | the directory tree | [`layout`] |
//! | a shard's files, mapped or as bytes the caller holds | [`source`] |
//! | one key merged across files, tombstones and WAL | [`merge`] |
//! | a shard's measurements as rows (one per series and timestamp) | [`shard`], [`rows`] |
//! | how a shard is opened and which times are read, for both of the above | [`options`] |
//!
//! # Merge semantics
//!
//! For each composite key, the values of every TSM file of the shard and of its WAL are
//! merged by timestamp; on equal timestamps the newest wins: the WAL over TSM, later WAL
//! entries over earlier ones, higher (generation, sequence) over lower. A file's
//! tombstones hide only that file's values, in their inclusive range; WAL delete and
//! delete-range entries hide only the WAL writes replayed before them (InfluxDB wrote
//! tombstones for the TSM files at the same moment). [`merge`] and [`cache`] cite the
//! upstream code.
//!
//! # Example
//!
//! Every row of every shard of a directory, the way `SELECT * ... GROUP BY *` returns
//! them:
//!
//! ```
//! use influx_tsm_shard::layout::scan;
//! use influx_tsm_shard::rows::RowBatch;
//! use influx_tsm_shard::shard::{Shard, ShardOptions, TimeRange};
//!
//! # fn main() -> influx_tsm_shard::Result<()> {
//! let dir = std::path::Path::new("../../fixtures/small-a/influxdb");
//! let layout = scan(&dir.join("data"), Some(&dir.join("wal")))?;
//! let mut values = 0;
//! for location in &layout.shards {
//!     let shard = Shard::open_with(location, &ShardOptions::default().verify_crc(true))?;
//!     for (i, schema) in shard.measurements().iter().enumerate() {
//!         let mut rows = shard.rows(i, TimeRange::ALL);
//!         let mut batch = RowBatch::new(schema);
//!         while rows.next_batch(&mut batch, 64 * 1024, 64 << 20)? {
//!             values += batch.value_count();
//!         }
//!     }
//! }
//! // What the server itself returned for this directory (fixtures/small-a/oracle.jsonl).
//! assert_eq!(values, 16_159);
//! # Ok(())
//! # }
//! ```
//!
//! The mapped files must not change while a [`shard::Shard`] is open: point the library
//! at a copy of a server's directory, or at a stopped server's.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
pub mod index_merge;
pub mod layout;
pub mod merge;
pub mod mmap;
pub mod options;
pub mod rows;
pub mod shard;
pub mod source;

// The pure decoding lives in `influx-tsm-format`; its modules stay reachable at the paths
// this crate has always had them.
pub use influx_tsm_format::{
    ConflictWith, EncodingFault, Error, ErrorKind, FieldType, Inconsistency, IndexEntryFault,
    Limits, MetaFault, PayloadFault, Result, Strings, TombstoneFault, Value, Values, WalEntryFault,
};
pub use influx_tsm_format::{
    block, block_info, cursor, describe, encoding, file, format, key, limits, meta, tombstone,
    values, verify, wal,
};
#[cfg(feature = "testkit")]
pub mod testkit;
