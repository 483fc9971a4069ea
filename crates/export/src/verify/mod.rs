//! `verify DIR|FILE|BACKUP`: checks every TSM, tombstone and WAL file of an input (or
//! every shard archive of a backup, and the files inside them) and reports each problem
//! with its file and byte offset, as data for the caller to show.
//!
//! 1. [`Input::find`] says what a path is: an export (checked against its manifest by
//!    [`crate::manifest::check_export`], not here), a backup, or storage files.
//! 2. [`verify`] checks each file on the caller's rayon pool, telling a progress
//!    callback how many bytes are done, and returns a [`VerifyReport`] (serde: the
//!    `verify --json` output).
//!
//! The checks themselves are [`influx_tsm_shard::verify`]'s; this module finds the files,
//! spreads them over threads and gathers the results.

mod check;
mod error;
mod input;
mod report;

pub use check::{verify, verify_file};
pub use error::Error;
pub use input::{FileKind, Input, find_files};
pub use report::{FileReport, Problem, Severity, VerifyReport};

#[cfg(test)]
mod tests;
