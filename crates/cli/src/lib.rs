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
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod args;
pub mod config;
pub mod export;
pub mod naming;
pub mod output;
pub mod plan;
pub mod progress;
pub mod state;
pub mod summary;
