//! Validated settings, built from [`ExportArgs`] before any work starts.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde_json::json;
use tsm::layout::ShardLocation;
use tsm::shard::{ShardOptions, TimeRange};

use crate::args::{Compression, ExportArgs, Format};

/// A problem with the arguments found after parsing (exit status 64).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

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

/// InfluxDB's self-monitoring database.
pub const INTERNAL_DATABASE: &str = "_internal";

/// Which shards and measurements to export.
#[derive(Debug)]
pub struct Filter {
    databases: Vec<String>,
    retention_policies: Vec<String>,
    shards: Vec<u64>,
    include: Vec<String>,
    exclude: Vec<String>,
    include_set: GlobSet,
    exclude_set: GlobSet,
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

fn glob_set(patterns: &[String]) -> Result<GlobSet, UsageError> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        let glob = GlobBuilder::new(p)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|err| usage(format!("bad glob {p:?}: {err}")))?;
        set.add(glob);
    }
    set.build().map_err(|err| usage(err.to_string()))
}

/// Everything the export needs to know, checked.
#[derive(Debug)]
pub struct Config {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The WAL directory, if any.
    pub wal_dir: Option<PathBuf>,
    /// The output directory (`-` with [`Config::stdout`]).
    pub out: PathBuf,
    /// What to write.
    pub format: Format,
    /// Line protocol to stdout (`--out -`), not into files.
    pub stdout: bool,
    /// Line protocol: gzip level, or uncompressed.
    pub gzip: Option<u32>,
    /// Line protocol: write the `# DDL` section and context lines.
    pub with_ddl: bool,
    /// Worker threads.
    pub threads: usize,
    /// Shard and measurement selection.
    pub filter: Filter,
    /// Points kept.
    pub range: TimeRange,
    /// Parquet compression.
    pub compression: Compression,
    /// Most rows per row group.
    pub row_group_size: usize,
    /// Most rows per decoded batch.
    pub batch_rows: usize,
    /// Most bytes per decoded batch.
    pub batch_bytes: usize,
    /// Skip damaged data instead of stopping.
    pub skip_corrupt: bool,
    /// Export shards the catalogue (`meta.db`) does not list as live.
    pub include_unlisted_shards: bool,
    /// Check block CRCs.
    pub verify_crc: bool,
    /// What to do with a non-empty output directory.
    pub mode: OutMode,
    /// Plan only.
    pub dry_run: bool,
    /// Progress bar on stderr.
    pub progress: bool,
    /// Summary paragraph on stderr.
    pub summary: bool,
    /// JSON on stdout.
    pub json: bool,
}

/// Rows per decoded batch: enough to amortise per-batch work, small enough that
/// `--batch-bytes` is what usually bounds memory.
const BATCH_ROWS: usize = 64 * 1024;

impl Config {
    /// How to open shards: damaged files stop the open (the exporter reopens with
    /// `skip_corrupt` itself under `--skip-corrupt`, to know what was skipped).
    pub fn shard_options(&self) -> ShardOptions {
        ShardOptions::default()
            .verify_crc(self.verify_crc)
            .skip_corrupt(self.skip_corrupt)
    }

    /// Checks the arguments and resolves the input and output paths.
    ///
    /// # Errors
    /// A [`UsageError`] for missing input folders, an output inside the input, an empty
    /// time range, bad globs.
    pub fn from_args(args: ExportArgs, stderr_is_terminal: bool) -> Result<Config, UsageError> {
        let data_dir = match (&args.data_dir, &args.influxdb_dir) {
            (Some(dir), _) => dir.clone(),
            (None, Some(root)) => {
                let data = root.join("data");
                if !data.is_dir() {
                    return Err(usage(format!(
                        "{} has no data/ folder (use --data-dir for a data folder elsewhere)",
                        root.display()
                    )));
                }
                data
            }
            (None, None) => return Err(usage("give INFLUXDB_DIR or --data-dir")),
        };
        if !data_dir.is_dir() {
            return Err(usage(format!(
                "data folder {} does not exist",
                data_dir.display()
            )));
        }
        let wal_dir = match (&args.wal_dir, &args.influxdb_dir) {
            (Some(dir), _) => {
                if !dir.is_dir() {
                    return Err(usage(format!(
                        "WAL folder {} does not exist",
                        dir.display()
                    )));
                }
                Some(dir.clone())
            }
            (None, Some(root)) if root.join("wal").is_dir() => Some(root.join("wal")),
            _ => None,
        };

        let stdout = args.out.as_os_str() == "-";
        if stdout && args.format != Format::Lp {
            return Err(usage("--out - (stdout) needs --format lp"));
        }
        if stdout && (args.resume || args.overwrite || args.dry_run) {
            return Err(usage(
                "--resume, --overwrite and --dry-run need an output folder, not --out -",
            ));
        }
        if stdout && args.json {
            return Err(usage(
                "--json prints to stdout, which --out - uses for the data",
            ));
        }
        if args.format == Format::Lp && args.compression.is_some() {
            return Err(usage(
                "--compression is for Parquet; line protocol takes --compress gzip",
            ));
        }
        if args.format == Format::Parquet && (args.compress.is_some() || args.with_ddl) {
            return Err(usage("--compress and --with-ddl need --format lp"));
        }
        let out_resolved = resolve(&args.out).map_err(|err| {
            usage(format!(
                "cannot resolve --out {}: {err}",
                args.out.display()
            ))
        })?;
        let mut inputs = vec![data_dir.clone()];
        inputs.extend(wal_dir.clone());
        inputs.extend(args.influxdb_dir.clone());
        for input in inputs.iter().filter(|_| !stdout) {
            let input_resolved = resolve(input)
                .map_err(|err| usage(format!("cannot resolve {}: {err}", input.display())))?;
            if out_resolved.starts_with(&input_resolved) {
                return Err(usage(format!(
                    "--out {} is inside the input {}; never writing into the input",
                    args.out.display(),
                    input.display()
                )));
            }
            if input_resolved.starts_with(&out_resolved) {
                return Err(usage(format!(
                    "the input {} is inside --out {}",
                    input.display(),
                    args.out.display()
                )));
            }
        }

        let range = TimeRange {
            start: args.start.unwrap_or(i64::MIN),
            end: args.end.unwrap_or(i64::MAX),
        };
        if range.start >= range.end {
            return Err(usage("--start must be before --end"));
        }
        let threads = args
            .threads
            .map(usize::from)
            .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
            .unwrap_or(1);
        let mode = match (args.resume, args.overwrite) {
            (true, _) => OutMode::Resume,
            (false, true) => OutMode::Overwrite,
            (false, false) => OutMode::Fresh,
        };
        let filter = Filter {
            include_set: glob_set(&args.measurements)?,
            exclude_set: glob_set(&args.exclude_measurements)?,
            databases: args.databases,
            retention_policies: args.retention_policies,
            shards: args.shards,
            include: args.measurements,
            exclude: args.exclude_measurements,
        };
        Ok(Config {
            data_dir,
            wal_dir,
            out: args.out,
            format: args.format,
            stdout,
            gzip: args.compress.and_then(|c| c.0),
            with_ddl: args.with_ddl,
            threads,
            filter,
            range,
            compression: args.compression.unwrap_or(Compression::Zstd(1)),
            row_group_size: args.row_group_size.into(),
            batch_rows: BATCH_ROWS.min(args.row_group_size.into()),
            batch_bytes: args.batch_bytes,
            skip_corrupt: args.skip_corrupt,
            include_unlisted_shards: args.include_unlisted_shards,
            verify_crc: !args.no_verify_crc,
            mode,
            dry_run: args.dry_run,
            progress: stderr_is_terminal && !args.quiet && !args.dry_run,
            summary: !args.quiet,
            json: args.json,
        })
    }

    /// The options that decide the output's contents, for `--resume` to compare.
    pub fn fingerprint(&self) -> serde_json::Value {
        let canonical = |p: &Path| resolve(p).unwrap_or_else(|_| p.to_path_buf());
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
