//! `influx-tsm`: exports a copied InfluxDB 1.x storage directory (TSM files, tombstones,
//! WAL) to typed Parquet, one file per (database, retention policy, measurement, shard).
//!
//! The binary's `main` parses [`args`], validates them into a [`config::Config`], scans
//! the input into a [`plan::Plan`], prepares the output directory ([`state`]), runs
//! [`export::export`] (one shard per rayon worker, batches streamed into Parquet through
//! [`arrow_build`]) and prints a [`summary::Summary`].
//!
//! Output files are named by [`naming`] (percent-encoding, reversible and injective) and
//! written by [`output`] under a hidden temporary name, synced and renamed, so a file is
//! there whole or not at all; [`state`] records finished shards for `--resume`.
//!
//! # Output
//!
//! ```text
//! OUT/<db>/<rp>/<measurement>/<shard>.parquet   one file per measurement of each shard
//! OUT/.influx-tsm/options.json                  the options that decide the contents
//! OUT/.influx-tsm/done/<db>/<rp>/<shard>.json   written once a shard is finished
//! ```
//!
//! Columns: `time` (timestamp, ns, UTC), one dictionary-encoded string column per tag
//! key, one column per field typed as stored in the shard; clashing names get `_1`,
//! `_2`... and every column says its role and original key in Arrow field metadata (see
//! [`arrow_build`]). Tag values and strings that are not UTF-8 are replaced lossily
//! (U+FFFD) and counted in the summary. File key-value metadata: `influxdb.database`,
//! `influxdb.retention_policy`, `influxdb.measurement`, `influxdb.shard`,
//! `influx-tsm.version`.
//!
//! # Exit status
//!
//! 0 success; 1 error (a damaged file is named with the byte offset and what is wrong);
//! 2 finished under `--skip-corrupt` but skipped damaged data; 64 bad arguments or an
//! output directory that may not be used. A closed stdout (broken pipe) exits 0.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod args;
pub mod config;
pub mod conflicts;
pub mod dump;
pub mod export;
pub mod inspect;
pub mod lp;
pub mod lp_export;
pub mod lp_sink;
pub mod naming;
pub mod output;
pub mod plan;
pub mod progress;
pub mod state;
pub mod summary;
pub mod tag_chunk;
pub mod verify;
