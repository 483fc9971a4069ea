//! What to export and how: [`Options`], built and checked by [`OptionsBuilder`] before
//! any work starts.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use std::sync::Arc;

use globset::GlobSet;
use influx_tsm_arrow::TypeConflicts;
use serde_json::json;

use crate::destination::remote::Remote;
use influx_tsm_shard::layout::ShardLocation;
use influx_tsm_shard::shard::{ShardOptions, TimeRange};

use crate::error::Result;

/// What to do with an output directory that already holds files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutMode {
    /// It must be empty or absent.
    Fresh,
    /// Continue an earlier export with the same options.
    Resume,
    /// Delete an earlier export first.
    Overwrite,
}

impl OutMode {
    /// The mode `--resume` and `--overwrite` ask for (`--resume` wins; the command line
    /// refuses both together).
    pub fn from_flags(resume: bool, overwrite: bool) -> OutMode {
        match (resume, overwrite) {
            (true, _) => OutMode::Resume,
            (false, true) => OutMode::Overwrite,
            (false, false) => OutMode::Fresh,
        }
    }
}

/// InfluxDB's self-monitoring database.
pub const INTERNAL_DATABASE: &str = "_internal";

/// Which shards and measurements to export.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub(crate) databases: Vec<String>,
    pub(crate) retention_policies: Vec<String>,
    pub(crate) shards: Vec<u64>,
    pub(crate) include: Vec<String>,
    pub(crate) exclude: Vec<String>,
    pub(crate) include_set: GlobSet,
    pub(crate) exclude_set: GlobSet,
}

impl Filter {
    /// Whether the shard's database, retention policy and id are selected.
    ///
    /// Without `--database`, InfluxDB's self-monitoring database `_internal` is left out:
    /// it is the server's statistics about itself, not the user's data, and `SELECT`s
    /// over the user's databases never see it. `--database _internal` exports it.
    pub fn shard(&self, shard: &ShardLocation) -> bool {
        let database = if self.databases.is_empty() {
            shard.database != INTERNAL_DATABASE
        } else {
            self.databases.contains(&shard.database)
        };
        database
            && (self.retention_policies.is_empty()
                || self.retention_policies.contains(&shard.retention_policy))
            && (self.shards.is_empty() || self.shards.contains(&shard.id))
    }

    /// Whether the measurement is selected.
    pub fn measurement(&self, name: &[u8]) -> bool {
        let name = String::from_utf8_lossy(name);
        let path = Path::new(name.as_ref());
        (self.include.is_empty() || self.include_set.is_match(path))
            && !self.exclude_set.is_match(path)
    }
}

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Typed Parquet, one file per measurement of each shard.
    #[default]
    Parquet,
    /// Line protocol, one file per shard (or one stream), for `influx -import` or `/write`.
    Lp,
}

/// A Parquet compression codec with its level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Zstandard at a level 1..=22.
    Zstd(i32),
    /// Snappy.
    Snappy,
    /// LZ4 (the LZ4_RAW codec).
    Lz4,
    /// No compression.
    None,
}

impl Default for Compression {
    fn default() -> Compression {
        Compression::Zstd(1)
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::Zstd(level) => write!(f, "zstd({level})"),
            Compression::Snappy => f.write_str("snappy"),
            Compression::Lz4 => f.write_str("lz4"),
            Compression::None => f.write_str("none"),
        }
    }
}

impl FromStr for Compression {
    type Err = String;

    /// Parses `zstd`, `zstd(N)` (1 to 22), `snappy`, `lz4` or `none`, in any case.
    fn from_str(s: &str) -> Result<Compression, String> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "zstd" => return Ok(Compression::Zstd(1)),
            "snappy" => return Ok(Compression::Snappy),
            "lz4" | "lz4_raw" => return Ok(Compression::Lz4),
            "none" | "uncompressed" => return Ok(Compression::None),
            _ => {}
        }
        if let Some(level) = lower
            .strip_prefix("zstd(")
            .and_then(|r| r.strip_suffix(')'))
        {
            return match level.trim().parse::<i32>() {
                Ok(n) if (1..=22).contains(&n) => Ok(Compression::Zstd(n)),
                _ => Err(format!("zstd level must be 1 to 22, not {level:?}")),
            };
        }
        Err("expected zstd, zstd(LEVEL), snappy, lz4 or none".to_string())
    }
}

/// Rows per decoded batch: enough to amortise per-batch work, small enough that
/// the batch byte limit is what usually bounds memory. The Arrow readers use the same.
pub(crate) const BATCH_ROWS: usize = influx_tsm_arrow::DEFAULT_BATCH_ROWS;

/// Rows per Parquet row group unless set.
pub const DEFAULT_ROW_GROUP_SIZE: usize = 1 << 20;

/// Series per part of a measurement cut into parts written in parallel, unless set: a
/// measurement of fewer than twice this many series is written in one piece. It depends on
/// the data only, never on the number of threads, so the files are the same whatever the
/// thread count. A part's memory (its row group, held until the part ends) does not grow
/// with the measurement, so parts this small keep two workers busy on a 200,000-series
/// measurement at no cost in memory per worker; a part ends a row group, which cost 1 to 2 %
/// in bytes on the cardinality directories.
pub const DEFAULT_SERIES_PER_PART: usize = 100_000;

/// Input bytes (TSM, tombstone and WAL files) of one group of shards unless set: the
/// consecutive shards of a retention policy are exported together, one file per
/// measurement, until their input reaches this ([`crate::plan::group`]). Query engines want
/// files of 100 MiB to 1 GiB (DuckDB's and the lakehouse formats' advice: Iceberg's
/// default target is 512 MiB, Delta's 1 GiB); a measurement's Parquet is 0.05 to 0.4 of
/// the TSM bytes it comes from, so a group of 1 GiB of input gives files of at most a few
/// hundred MiB, and hundreds of small shards give one file per measurement instead of one
/// per shard.
pub const DEFAULT_TARGET_FILE_SIZE: u64 = 1 << 30;

/// Input bytes up to which a shard of a group is small unless set: its rows of a
/// measurement are decoded whole, in parallel with other small shards, and gathered into
/// one batch (Parquet), or its lines formatted in memory (line protocol). Bigger shards
/// are streamed batch by batch (Parquet) or through a hidden part file (line protocol).
/// The rows and their order are the same either way; only the work (and so the row
/// group boundaries and encodings Parquet chooses) differs.
pub const DEFAULT_SMALL_SHARD_BYTES: u64 = 4 << 20;

/// Bytes of decoded rows per batch (and per worker) unless set; the Arrow readers' too.
pub const DEFAULT_BATCH_BYTES: usize = influx_tsm_arrow::DEFAULT_BATCH_BYTES;

/// Everything an export needs to know, checked; made by [`Options::builder`].
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) data_dir: PathBuf,
    pub(crate) wal_dir: Option<PathBuf>,
    pub(crate) out: PathBuf,
    pub(crate) format: Format,
    pub(crate) gzip: Option<u32>,
    pub(crate) with_ddl: bool,
    pub(crate) filter: Filter,
    pub(crate) range: TimeRange,
    pub(crate) compression: Compression,
    pub(crate) row_group_size: usize,
    pub(crate) batch_rows: usize,
    pub(crate) batch_bytes: usize,
    pub(crate) skip_corrupt: bool,
    pub(crate) include_unlisted_shards: bool,
    pub(crate) verify_crc: bool,
    pub(crate) mode: OutMode,
    pub(crate) series_per_part: usize,
    /// Input bytes per group of shards; `None`: one group per shard (`--file-per-shard`).
    pub(crate) target_file_size: Option<u64>,
    /// Input bytes up to which a shard of a group is small: decoded whole (Parquet) or
    /// formatted in memory (line protocol) before it is added to its group's files.
    pub(crate) small_shard_bytes: u64,
    pub(crate) type_conflicts: TypeConflicts,
    pub(crate) remote: Option<Arc<Remote>>,
    pub(crate) partition: Option<Partition>,
    pub(crate) node: Option<String>,
}

/// `--partition I/N`: this process exports the I-th of N disjoint shares of the planned
/// shards (see [`crate::plan::partition`]), so that N processes, on one machine or
/// several, share an export into one output folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Which share, 1 to `count`.
    pub index: u32,
    /// How many shares.
    pub count: u32,
}

impl FromStr for Partition {
    type Err = String;

    /// Parses `I/N` with 1 <= I <= N.
    fn from_str(s: &str) -> Result<Partition, String> {
        let bad = || format!("--partition takes I/N with 1 <= I <= N, not {s:?}");
        let (index, count) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = index.trim().parse().map_err(|_| bad())?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Partition { index, count })
    }
}

impl Options {
    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The WAL directory, if any.
    pub fn wal_dir(&self) -> Option<&Path> {
        self.wal_dir.as_deref()
    }

    /// The output directory (`-` for a stream).
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// What is written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Shard and measurement selection.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The points kept.
    pub fn range(&self) -> TimeRange {
        self.range
    }

    /// What happens to a non-empty output directory.
    pub fn mode(&self) -> OutMode {
        self.mode
    }

    /// How to open shards: damaged files stop the open unless `skip_corrupt`.
    pub fn shard_options(&self) -> ShardOptions {
        ShardOptions::default()
            .verify_crc(self.verify_crc)
            .skip_corrupt(self.skip_corrupt)
    }

    /// How a field stored with several types becomes Parquet columns.
    pub fn type_conflicts_policy(&self) -> TypeConflicts {
        self.type_conflicts
    }

    /// The options that decide the output's contents, for a resumed export to compare.
    pub fn fingerprint(&self) -> serde_json::Value {
        let canonical = |p: &Path| resolve(p).unwrap_or_else(|_| p.to_path_buf());
        // The nodes of a cluster each read their own folder, wherever it is.
        let canonical = |p: &Path| {
            if self.node.is_some() {
                serde_json::Value::Null
            } else {
                json!(canonical(p))
            }
        };
        let mut fingerprint = json!({
            "tool": "influx-tsm",
            "version": env!("CARGO_PKG_VERSION"),
            "data_dir": canonical(&self.data_dir),
            "wal_dir": self.wal_dir.as_deref().map(canonical),
            "databases": self.filter.databases,
            "retention_policies": self.filter.retention_policies,
            "shards": self.filter.shards,
            "measurements": self.filter.include,
            "exclude_measurements": self.filter.exclude,
            "start": self.range.start,
            "end": self.range.end,
            "compression": self.compression.to_string(),
            "row_group_size": self.row_group_size,
        });
        // Added after the first release: present only when set, so earlier exports resume.
        if self.include_unlisted_shards {
            fingerprint["include_unlisted_shards"] = json!(true);
        }
        if self.node.is_some() {
            fingerprint["cluster"] = json!(true);
        }
        // Shards grouped into files since this key exists; without it (one file per
        // shard) an export of an earlier version resumes.
        if let Some(bytes) = self.target_file_size {
            fingerprint["target_file_size"] = json!(bytes);
        }
        // Files of one measurement share one schema since this key exists: an export of
        // an earlier version (per-shard schemas) must not be resumed into it.
        if self.format == Format::Parquet {
            fingerprint["type_conflicts"] = json!(self.type_conflicts.name());
        }
        // Parquet exports keep the fingerprint they had before line protocol existed.
        if self.format == Format::Lp {
            fingerprint["format"] = json!("lp");
            fingerprint["gzip"] = json!(self.gzip);
            fingerprint["with_ddl"] = json!(self.with_ddl);
            fingerprint["compression"] = json!(null);
            fingerprint["row_group_size"] = json!(null);
        }
        fingerprint
    }

    /// The share of the planned shards this process exports, if not all.
    pub fn partition(&self) -> Option<Partition> {
        self.partition
    }

    /// The name of this node of a cluster export (`--node`), if it is one.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// Whether other processes may write into the output at the same time
    /// (`--partition` or `--node`).
    pub fn is_shared(&self) -> bool {
        self.partition.is_some() || self.node.is_some()
    }

    /// Whether the output is a stream (`out` is `-`), not a folder.
    pub fn is_stream(&self) -> bool {
        self.out.as_os_str() == "-"
    }
}

/// `path` made absolute with symbolic links resolved, also when it (or its tail) does not
/// exist yet: the longest existing ancestor is canonicalised and the rest appended.
pub fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => out.push(component),
            Component::CurDir => {}
            // `out` is canonical whenever it exists, so its lexical parent is its real one.
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if let Ok(real) = out.canonicalize() {
                    out = real;
                }
            }
        }
    }
    Ok(out)
}
