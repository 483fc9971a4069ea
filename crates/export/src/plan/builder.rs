//! Building [`Options`] and checking them against each other and the file system.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use influx_tsm_arrow::TypeConflicts;

use crate::destination::remote::Remote;
use influx_tsm_shard::shard::TimeRange;

use crate::error::{Error, OptionsError, Result};
use crate::plan::options::*;

impl Options {
    /// Starts options for exporting the data directory `data_dir` (the folder holding
    /// `<db>/<rp>/<shard>/`) into `out`. Use `out` = `-` with
    /// [`crate::export_lp_stream`], which writes no folder.
    pub fn builder(data_dir: impl Into<PathBuf>, out: impl Into<PathBuf>) -> OptionsBuilder {
        OptionsBuilder {
            options: Options {
                data_dir: data_dir.into(),
                wal_dir: None,
                out: out.into(),
                format: Format::Parquet,
                gzip: None,
                with_ddl: false,
                filter: Filter::default(),
                range: TimeRange::ALL,
                compression: Compression::default(),
                row_group_size: DEFAULT_ROW_GROUP_SIZE,
                batch_rows: BATCH_ROWS,
                batch_bytes: DEFAULT_BATCH_BYTES,
                skip_corrupt: false,
                include_unlisted_shards: false,
                partition: None,
                node: None,
                verify_crc: true,
                mode: OutMode::Fresh,
                series_per_part: DEFAULT_SERIES_PER_PART,
                target_file_size: Some(DEFAULT_TARGET_FILE_SIZE),
                small_shard_bytes: DEFAULT_SMALL_SHARD_BYTES,
                type_conflicts: TypeConflicts::default(),
                remote: None,
            },
            measurements: Vec::new(),
            exclude_measurements: Vec::new(),
        }
    }
}

/// An options error as the crate's error.
fn usage(err: OptionsError) -> Error {
    Error::Options(err)
}

fn glob_set(patterns: &[String]) -> Result<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        let glob = GlobBuilder::new(p)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|err| {
                usage(OptionsError::BadGlob {
                    pattern: Some(p.clone()),
                    reason: err.to_string(),
                })
            })?;
        set.add(glob);
    }
    set.build().map_err(|err| {
        usage(OptionsError::BadGlob {
            pattern: None,
            reason: err.to_string(),
        })
    })
}

/// Builds [`Options`]; [`OptionsBuilder::build`] checks them.
///
/// ```
/// use influx_tsm_export::{Compression, Options};
///
/// let options = Options::builder("../../fixtures/small-a/influxdb/data", "/tmp/out")
///     .wal_dir("../../fixtures/small-a/influxdb/wal")
///     .databases(["airq"])
///     .measurements(["air*"])
///     .compression(Compression::Snappy)
///     .build()?;
/// assert_eq!(options.range(), influx_tsm_shard::shard::TimeRange::ALL);
/// # Ok::<(), influx_tsm_export::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct OptionsBuilder {
    options: Options,
    measurements: Vec<String>,
    exclude_measurements: Vec<String>,
}

impl OptionsBuilder {
    /// The WAL directory (the folder holding `<db>/<rp>/<shard>/_*.wal`).
    pub fn wal_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.wal_dir = Some(dir.into());
        self
    }

    /// Parquet (the default) or line protocol.
    pub fn format(mut self, format: Format) -> Self {
        self.options.format = format;
        self
    }

    /// Line protocol: gzip at this level (0 to 9), or uncompressed (`None`, the default).
    pub fn gzip(mut self, level: Option<u32>) -> Self {
        self.options.gzip = level;
        self
    }

    /// Line protocol: start with the `# DDL` section and context lines for `influx -import`.
    pub fn with_ddl(mut self, yes: bool) -> Self {
        self.options.with_ddl = yes;
        self
    }

    /// Only these databases; without any, every database but `_internal`.
    pub fn databases<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.options
            .filter
            .databases
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// Only these retention policies.
    pub fn retention_policies<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Self {
        self.options
            .filter
            .retention_policies
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// Only these shard ids.
    pub fn shards(mut self, ids: impl IntoIterator<Item = u64>) -> Self {
        self.options.filter.shards.extend(ids);
        self
    }

    /// Only measurements matching one of these globs.
    pub fn measurements<S: Into<String>>(mut self, globs: impl IntoIterator<Item = S>) -> Self {
        self.measurements.extend(globs.into_iter().map(Into::into));
        self
    }

    /// Leave out measurements matching one of these globs.
    pub fn exclude_measurements<S: Into<String>>(
        mut self,
        globs: impl IntoIterator<Item = S>,
    ) -> Self {
        self.exclude_measurements
            .extend(globs.into_iter().map(Into::into));
        self
    }

    /// Only points in this range (start inclusive, end exclusive).
    pub fn range(mut self, range: TimeRange) -> Self {
        self.options.range = range;
        self
    }

    /// Parquet compression (default zstd(1)).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.options.compression = compression;
        self
    }

    /// Most rows per Parquet row group (default 1,048,576; at least 1).
    pub fn row_group_size(mut self, rows: usize) -> Self {
        self.options.row_group_size = rows.max(1);
        self
    }

    /// Most bytes of decoded rows held per batch and worker (default 64 MiB).
    pub fn batch_bytes(mut self, bytes: usize) -> Self {
        self.options.batch_bytes = bytes.max(1);
        self
    }

    /// Export everything readable, leaving out (and reporting) damaged data.
    pub fn skip_corrupt(mut self, yes: bool) -> Self {
        self.options.skip_corrupt = yes;
        self
    }

    /// Exports only one share of the planned shards (`--partition I/N`); the output
    /// folder may then hold the other shares' files, written with the same options.
    pub fn partition(mut self, partition: Option<Partition>) -> Self {
        self.options.partition = partition;
        self
    }

    /// This process is the node `name` of a cluster export: every data node reads its
    /// own folder into one output, shards held by several nodes (replicas) are exported
    /// by one of them, and every table has the schema of all nodes' shards (see
    /// [`crate::cluster`]). Names: 1 to 128 of `A-Z a-z 0-9 . _ -`.
    pub fn node(mut self, name: Option<String>) -> Self {
        self.options.node = name;
        self
    }

    /// Also export shard folders that `meta/meta.db` does not list as live.
    pub fn include_unlisted_shards(mut self, yes: bool) -> Self {
        self.options.include_unlisted_shards = yes;
        self
    }

    /// Check each block's CRC-32 before decoding it (default on).
    pub fn verify_crc(mut self, yes: bool) -> Self {
        self.options.verify_crc = yes;
        self
    }

    /// Series per part when a measurement is cut into parts written in parallel and joined
    /// into its one file (default 100,000; at least 1). The rows and their order do not
    /// depend on it; the row group boundaries do (each part ends one), so keep the default
    /// unless testing.
    pub fn series_per_part(mut self, series: usize) -> Self {
        self.options.series_per_part = series.max(1);
        self
    }

    /// Groups the consecutive shards of each retention policy into one file per
    /// measurement (one line-protocol file) until their input reaches `bytes` (default
    /// [`DEFAULT_TARGET_FILE_SIZE`]; see [`crate::plan::group`]); `None` writes one file per
    /// shard and measurement, as `--file-per-shard` does.
    pub fn target_file_size(mut self, bytes: Option<u64>) -> Self {
        self.options.target_file_size = bytes;
        self
    }

    /// Input bytes up to which a shard of a group is small (default
    /// [`DEFAULT_SMALL_SHARD_BYTES`]): its rows are gathered in memory with other small
    /// shards' before they are written. The rows and their order do not depend on it;
    /// keep the default unless testing the other way.
    pub fn small_shard_bytes(mut self, bytes: u64) -> Self {
        self.options.small_shard_bytes = bytes;
        self
    }

    /// How a field stored with different types in different shards becomes Parquet
    /// columns (default [`TypeConflicts::Split`]: one column per stored type, nothing
    /// cast). Line protocol keeps every value's own type whatever this says.
    pub fn type_conflicts(mut self, policy: TypeConflicts) -> Self {
        self.options.type_conflicts = policy;
        self
    }

    /// Uploads the export into `remote` (a bucket and prefix); `out` is then the local
    /// staging folder, which holds only the shards in flight (see [`crate::destination::remote`]).
    pub fn remote(mut self, remote: Arc<Remote>) -> Self {
        self.options.remote = Some(remote);
        self
    }

    /// What to do with a non-empty output directory (default: refuse).
    pub fn mode(mut self, mode: OutMode) -> Self {
        self.options.mode = mode;
        self
    }

    /// Checks the options against each other and the file system.
    ///
    /// # Errors
    /// [`Error::Options`] for a missing input folder, an output inside the input (or the
    /// other way round), an empty time range, a bad glob, options of the other format.
    pub fn build(self) -> Result<Options> {
        let OptionsBuilder {
            mut options,
            measurements,
            exclude_measurements,
        } = self;
        if !options.data_dir.is_dir() {
            return Err(usage(OptionsError::MissingFolder {
                what: "data folder",
                path: options.data_dir.clone(),
            }));
        }
        if let Some(dir) = options.wal_dir.as_ref().filter(|d| !d.is_dir()) {
            return Err(usage(OptionsError::MissingFolder {
                what: "WAL folder",
                path: dir.clone(),
            }));
        }
        if options.format == Format::Parquet && (options.gzip.is_some() || options.with_ddl) {
            return Err(usage(OptionsError::Conflicting(
                "--compress and --with-ddl need --format lp",
            )));
        }
        if let Some(level) = options.gzip.filter(|&level| level > 9) {
            return Err(usage(OptionsError::GzipLevel(level)));
        }
        if let Compression::Zstd(level) = options.compression
            && !(1..=22).contains(&level)
        {
            return Err(usage(OptionsError::ZstdLevel(level)));
        }
        let stream = options.is_stream();
        if stream && options.format != Format::Lp {
            return Err(usage(OptionsError::Conflicting(
                "--out - (stdout) needs --format lp",
            )));
        }
        if stream && options.mode != OutMode::Fresh {
            return Err(usage(OptionsError::Conflicting(
                "--resume, --overwrite and --dry-run need an output folder, not --out -",
            )));
        }
        if !stream {
            check_apart(&options.out, &options.data_dir)?;
            if let Some(wal) = &options.wal_dir {
                check_apart(&options.out, wal)?;
            }
        }
        if options.range.start >= options.range.end {
            return Err(usage(OptionsError::EmptyRange));
        }
        if options.partition.is_some() && options.mode == OutMode::Overwrite {
            return Err(usage(OptionsError::Conflicting(
                "--overwrite would delete the other partitions' files; empty --out first",
            )));
        }
        if let Some(node) = &options.node {
            check_node(node, &options, stream)?;
        }
        options.batch_rows = BATCH_ROWS.min(options.row_group_size);
        options.filter.include_set = glob_set(&measurements)?;
        options.filter.exclude_set = glob_set(&exclude_measurements)?;
        options.filter.include = measurements;
        options.filter.exclude = exclude_measurements;
        Ok(options)
    }
}

/// Checks `--node` against the other options (`stream`: `--out -`) and its name.
fn check_node(node: &str, options: &Options, stream: bool) -> Result<()> {
    if options.partition.is_some() {
        return Err(usage(OptionsError::Conflicting(
            "--node and --partition do not go together",
        )));
    }
    if options.mode == OutMode::Overwrite {
        return Err(usage(OptionsError::Conflicting(
            "--overwrite would delete the other nodes' files; empty --out first",
        )));
    }
    if stream {
        return Err(usage(OptionsError::Conflicting(
            "--node needs an output folder or bucket, not --out -",
        )));
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if node.is_empty() || node.len() > 128 || !node.chars().all(valid) {
        return Err(usage(OptionsError::NodeName(node.to_string())));
    }
    Ok(())
}

/// Refuses an output folder inside `input`, or an input inside the output folder.
pub fn check_apart(out: &Path, input: &Path) -> Result<()> {
    let out_resolved = resolve(out).map_err(|err| unresolved(out, true, &err))?;
    let input_resolved = resolve(input).map_err(|err| unresolved(input, false, &err))?;
    if out_resolved.starts_with(&input_resolved) {
        return Err(usage(OptionsError::OutInsideInput {
            out: out.to_path_buf(),
            input: input.to_path_buf(),
        }));
    }
    if input_resolved.starts_with(&out_resolved) {
        return Err(usage(OptionsError::InputInsideOut {
            input: input.to_path_buf(),
            out: out.to_path_buf(),
        }));
    }
    Ok(())
}

/// `path` (`--out` when `is_out`) could not be resolved.
fn unresolved(path: &Path, is_out: bool, err: &std::io::Error) -> Error {
    usage(OptionsError::CannotResolve {
        path: path.to_path_buf(),
        is_out,
        reason: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_handles_missing_tails() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        assert_eq!(resolve(&dir.path().join("a/b")).unwrap(), base.join("a/b"));
        assert_eq!(resolve(&dir.path().join("a/../c")).unwrap(), base.join("c"));
        assert_eq!(resolve(dir.path()).unwrap(), base);
    }
}
