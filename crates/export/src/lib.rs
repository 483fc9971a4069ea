//! `influx-tsm-export`: exports a copied InfluxDB 1.x storage directory (TSM files, tombstones,
//! WAL) to typed Parquet, one file per (database, retention policy, measurement, group of
//! shards), or to line protocol; the engine behind the `influx-tsm` command, for Rust programs.
//!
//! The steps, each a public item:
//!
//! 1. [`Options::builder`] says what to export and how, and checks it.
//! 2. [`Plan::new`] scans the input, applies the shard filters (and the server's
//!    catalogue, `meta/meta.db`) and groups consecutive shards into files ([`group`]).
//! 3. [`OutDir::prepare`] makes the output folder ready: fresh, resumed or overwritten.
//! 4. [`export`] exports the groups of shards in the caller's rayon pool, telling an [`Observer`]
//!    how far it got; every Parquet file of a measurement has the measurement's one
//!    schema ([`tables`]), and `manifest.json` lists every file ([`manifest`], which
//!    [`manifest::check_export`] checks an export against); [`export_lp_stream`] writes
//!    line protocol into any `Write`.
//! 5. [`Report::new`] adds up what each shard produced.
//!
//! [`Job::run`] does steps 3 and 4 as the binary and the Python package do, with a dry
//! run ([`DryRun`]) and a cluster node's registration and share ([`cluster`]) in their
//! places.
//!
//! Nothing here prints: errors are [`Error`], progress goes to the [`Observer`], and the
//! report is data for the caller to show.
//!
//! # Example
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use influx_tsm_export::{Observer, Options, OutDir, Plan, Report, export};
//!
//! /// Counts values as they are written.
//! #[derive(Default)]
//! struct Count(AtomicU64);
//!
//! impl Observer for Count {
//!     fn values_written(&self, values: u64) {
//!         self.0.fetch_add(values, Ordering::Relaxed);
//!     }
//! }
//!
//! # fn main() -> Result<(), influx_tsm_export::Error> {
//! let input = std::path::Path::new("../../fixtures/small-a/influxdb");
//! let out = tempfile::tempdir().unwrap();
//! let options = Options::builder(input.join("data"), out.path().join("parquet"))
//!     .wal_dir(input.join("wal"))
//!     .build()?;
//! let plan = Plan::new(&options)?;
//! let dir = OutDir::prepare(&options)?;
//! let count = Count::default();
//! let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
//! let results = pool.install(|| export(&options, &plan, &dir, &count))?;
//! let report = Report::new(options.out().to_path_buf(), &plan, &results, 0.0);
//! // What the server itself returned for this directory (fixtures/small-a/oracle.jsonl).
//! assert_eq!(report.values, 16_159);
//! assert_eq!(count.0.into_inner(), 16_159);
//! # Ok(())
//! # }
//! ```
//!
//! # Output
//!
//! ```text
//! OUT/<db>/<rp>/<measurement>/<group>.parquet   one file per measurement of each group
//! OUT/<db>/<rp>/<group>.lp[.gz]                 line protocol: one file per group
//!                                               (<group>: `<shard>` or `<first>-<last>`)
//! OUT/manifest.json                             every file, table and conflict (at the end)
//! OUT/.influx-tsm/options.json                  the options that decide the contents
//! OUT/.influx-tsm/tables.json                   each measurement's one schema
//! OUT/.influx-tsm/done/<db>/<rp>/<group>.json   written once a group is finished
//! OUT/.influx-tsm/nodes/<node>.json             a cluster node's shards and schemas
//! OUT/.influx-tsm/cluster.json                  which node writes each shard
//! ```
//!
//! Several processes may share one output: `--partition I/N` splits one input among N
//! processes ([`partition`]), and [`cluster`] lets the data nodes of a cluster, each with
//! its own folder, export into one output with each replicated shard written once.
//!
//! Columns, the same in every file of a measurement: `time` (timestamp, ns, UTC), one
//! dictionary-encoded string column per tag key of any shard, one column per field key
//! (and, for a key stored with several types, per type or cast as
//! [`TypeConflicts`] says); clashing names get `_1`, `_2`... and every column says its
//! role, original key and type in Arrow field metadata (see [`influx_tsm_arrow`]). Tag values
//! and strings that are not UTF-8 are replaced lossily (U+FFFD) and counted in the
//! report. File metadata, in the Parquet key-value metadata and the stored Arrow schema
//! alike: `influxdb.database`, `influxdb.retention_policy`, `influxdb.measurement`,
//! `influxdb.shard`, `influx-tsm.version`.
//!
//! Output files are named by [`naming`] (percent-encoding, reversible and injective) and
//! written under a hidden temporary name, synced and renamed, so a file is there whole or
//! not at all; [`state`] records finished shards for resuming.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod cluster;
pub mod destination;
mod error;
mod export;
mod job;
pub mod lp;
pub mod naming;
pub mod parquet_file;
mod plan;
mod report;
mod run;
pub mod shard;
pub mod verify;

// The modules under their names from before the tree of folders, for callers.
pub use destination::{manifest, remote, state};
pub use lp::sink as lp_sink;
pub use parquet_file::{field_encoding, output, parts, tag_chunk};
pub use plan::{conflicts, group, tables};
pub use report::inspect;

pub use destination::records::ShardResult;
pub use destination::state::OutDir;
pub use error::{Error, InternalError, OptionsError, OutDirError, Result};
pub use export::export;
pub use influx_tsm_arrow::TypeConflicts;
pub use job::{Done, Job};
pub use lp::export::{context as lp_context, ddl as lp_ddl};
pub use lp::stream::export_lp_stream;
pub use naming::path_string;
pub use plan::builder::{OptionsBuilder, check_apart};
pub use plan::options::{
    Compression, DEFAULT_BATCH_BYTES, DEFAULT_ROW_GROUP_SIZE, DEFAULT_SERIES_PER_PART,
    DEFAULT_SMALL_SHARD_BYTES, DEFAULT_TARGET_FILE_SIZE, Filter, Format, INTERNAL_DATABASE,
    Options, OutMode, Partition, resolve,
};
pub use plan::shards::{ElsewhereShard, PlannedShard, UnlistedShard};
pub use plan::storage::{StorageDirs, wal_of};
pub use plan::{Input, Plan, catalogue, partition, shard_status_name};
pub use report::dry_run::{DryRun, DryRunShard};
pub use report::observer::{NoProgress, Observer};
pub use report::{Ignored, Report, conflicts as type_conflicts};
pub use shard::open::{OpenedShard, open_shard};
pub use shard::{ShardId, ShardInput, shard_name};
