//! The directory tree of a copied `/var/lib/influxdb`: databases, retention policies,
//! shards, and each shard's TSM files, tombstones and WAL segments, in the order the
//! engine would use them.

use std::path::PathBuf;

/// A TSM file of a shard and its tombstone file, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsmFileLocation {
    /// Path of the `.tsm` file.
    pub path: PathBuf,
    /// Generation parsed from the file name; newer data has a larger (generation, sequence).
    pub generation: u64,
    /// Sequence parsed from the file name.
    pub sequence: u64,
    /// Path of the `.tombstone` file with the same stem, when present.
    pub tombstone: Option<PathBuf>,
}

/// Where one shard's files are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardLocation {
    /// Database name (the directory name under `data/`).
    pub database: String,
    /// Retention policy name (the directory name under the database).
    pub retention_policy: String,
    /// Shard id (the directory name under the retention policy).
    pub id: u64,
    /// The shard's data directory.
    pub data_dir: PathBuf,
    /// The shard's WAL directory, when it exists.
    pub wal_dir: Option<PathBuf>,
    /// TSM files, oldest first: ascending (generation, sequence).
    pub tsm_files: Vec<TsmFileLocation>,
    /// Non-empty WAL segments in segment-id order.
    pub wal_segments: Vec<PathBuf>,
}
