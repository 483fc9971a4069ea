//! Command-line arguments, as clap parses them, and [`ExportArgs::options`], which turns
//! them into the library's checked [`Options`].

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use influx_tsm_shard::shard::TimeRange;
use std::sync::Arc;

use influx_tsm_export::remote::Remote;
use influx_tsm_export::{
    Compression, Options, OptionsError, OutMode, Partition, TypeConflicts, check_apart,
};
use influx_tsm_export::{StorageDirs, wal_of};

/// Offline reader of InfluxDB 1.x storage (TSM and WAL files): export to typed Parquet or
/// line protocol, inspect, verify, dump.
#[derive(Debug, Parser)]
#[command(name = "influx-tsm", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Export shards to Parquet files.
    ///
    /// One file per (database, retention policy, measurement, group of consecutive
    /// shards up to --target-file-size): OUT/DB/RP/MEASUREMENT/FIRST-LAST.parquet (SHARD.parquet
    /// for a group of one; --file-per-shard for one file per shard); every file of a
    /// measurement has the same columns, so each folder reads as one table.
    /// OUT/manifest.json lists every file. With --format lp, line protocol: one file per
    /// group, OUT/DB/RP/FIRST-LAST.lp[.gz], or all on stdout.
    Export(Box<ExportArgs>),
    /// Summarise a storage directory from its indexes: databases, retention policies,
    /// shards, files, measurements, series, fields and their types, value counts, time
    /// ranges, type conflicts.
    Inspect(InspectArgs),
    /// Check every TSM block's CRC and the index, every tombstone and WAL entry; exit 1 if
    /// anything is damaged. Given an export's folder (with manifest.json), check the export
    /// against its manifest instead.
    Verify(VerifyArgs),
    /// Print a TSM file (index, blocks, values), a WAL segment or a tombstone file.
    Dump(DumpArgs),
}

/// What `export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Typed Parquet, one file per measurement of each shard.
    Parquet,
    /// Line protocol, one file per shard (or stdout), for `influx -import` or `/write`.
    Lp,
}

/// `influx-tsm inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The InfluxDB directory (holding `data/` and `wal/`), a data directory, or an
    /// `influxd backup` folder.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// The WAL directory, instead of DIR/wal.
    #[arg(long, value_name = "DIR")]
    pub wal_dir: Option<PathBuf>,

    /// Only this database (repeatable). Without it, every database but `_internal`
    /// (the server's self-monitoring) is exported.
    #[arg(long = "database", value_name = "NAME")]
    pub databases: Vec<String>,

    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `influx-tsm verify`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 nothing damaged (warnings allowed); 1 damage found \
or a file could not be read; 64 bad arguments."
)]
pub struct VerifyArgs {
    /// An InfluxDB directory, a data or WAL directory, a shard folder, one .tsm,
    /// .tombstone or .wal file, an `influxd backup` folder (each archive, then each
    /// file in it), or the folder of an export (holding manifest.json).
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// Check CRCs, headers and the index only; do not decode block values.
    #[arg(long)]
    pub no_decode: bool,

    /// Files checked at once [default: all cores].
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<NonZeroUsize>,

    /// Print only problems and the final line.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

impl VerifyArgs {
    /// Files checked at once: `--threads`, or every core.
    pub fn threads(&self) -> usize {
        worker_threads(self.threads)
    }
}

/// `--threads N`, or every core.
fn worker_threads(threads: Option<NonZeroUsize>) -> usize {
    threads
        .map(usize::from)
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
}

/// `influx-tsm dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// A .tsm file, a WAL segment (_NNNNN.wal) or a .tombstone file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// TSM: also print each block's header (offset, size, CRC, type, encodings, count).
    #[arg(long)]
    pub blocks: bool,

    /// TSM: also print the decoded values of each block (implies --blocks); WAL: print
    /// every point.
    #[arg(long)]
    pub values: bool,

    /// TSM: only keys containing this text.
    #[arg(long, value_name = "TEXT")]
    pub filter_key: Option<String>,
}

/// `influx-tsm export`.
#[derive(Debug, Args)]
#[command(after_help = "\
Exit status: 0 success; 1 error (a damaged file names the file and byte offset); \
2 finished with --skip-corrupt but skipped damaged data; 64 bad arguments.

Path components are percent-encoded: letters, digits, `-_.,+=@()[]`, space and non-ASCII \
UTF-8 stay; other bytes become %XX; a leading `.` becomes %2E; names longer than 200 bytes \
are cut and end in `~` and a hash. The exact names are in each file's key-value metadata.")]
pub struct ExportArgs {
    /// The InfluxDB directory: the one holding `data/` and, optionally, `wal/`; or a
    /// folder written by `influxd backup` (portable or legacy), read in place.
    #[arg(value_name = "INFLUXDB_DIR", required_unless_present = "data_dir")]
    pub influxdb_dir: Option<PathBuf>,

    /// The data directory (`<db>/<rp>/<shard>/*.tsm`), instead of INFLUXDB_DIR/data.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The WAL directory, instead of INFLUXDB_DIR/wal.
    #[arg(long, value_name = "DIR")]
    pub wal_dir: Option<PathBuf>,

    /// Where to write the files: a folder, or a bucket URL (s3://BUCKET/PREFIX, gs://,
    /// az://; credentials and endpoint from the usual AWS_*, GOOGLE_*, AZURE_* variables).
    /// Must be empty or absent, unless --resume or --overwrite; must not be inside the
    /// input. With --format lp, `-` writes everything to stdout, shard after shard in
    /// (database, retention policy, id) order.
    #[arg(long, short = 'o', value_name = "DIR|URL")]
    pub out: PathBuf,

    /// With a bucket URL as --out: where files wait for their upload (the shards being
    /// exported, deleted once uploaded) [default: the system's temporary folder].
    #[arg(long, value_name = "DIR")]
    pub staging: Option<PathBuf>,

    /// Output format: parquet, or lp (line protocol).
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: Format,

    /// Line protocol only: gzip or gzip(LEVEL) with LEVEL 0-9 (default 6), or none.
    #[arg(long, value_name = "CODEC", value_parser = parse_gzip)]
    pub compress: Option<LpCompression>,

    /// Line protocol only: start each file (or the stream) with the `# DDL` section that
    /// creates the databases and retention policies, and `# CONTEXT-DATABASE:` /
    /// `# CONTEXT-RETENTION-POLICY:` lines, as `influx -import` needs.
    #[arg(long)]
    pub with_ddl: bool,

    /// Shards exported at once, one per thread [default: all cores].
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<NonZeroUsize>,

    /// Only this database (repeatable). Without it, every database but `_internal`
    /// (the server's self-monitoring) is exported.
    #[arg(long = "database", value_name = "NAME")]
    pub databases: Vec<String>,

    /// Only this retention policy (repeatable).
    #[arg(long = "retention-policy", value_name = "NAME")]
    pub retention_policies: Vec<String>,

    /// Only measurements matching this glob (repeatable; `*`, `?`, `[a-z]`, `{a,b}`).
    #[arg(long = "measurement", value_name = "GLOB", value_parser = parse_glob)]
    pub measurements: Vec<String>,

    /// Leave out measurements matching this glob (repeatable).
    #[arg(long = "exclude-measurement", value_name = "GLOB", value_parser = parse_glob)]
    pub exclude_measurements: Vec<String>,

    /// Only points at or after this time: RFC 3339 with an offset
    /// (2024-03-04T00:00:00Z, 2024-03-04T07:00:00+07:00) or integer nanoseconds.
    #[arg(long, value_name = "TIME", value_parser = parse_time, allow_hyphen_values = true)]
    pub start: Option<i64>,

    /// Only points before this time (exclusive); same forms as --start.
    #[arg(long, value_name = "TIME", value_parser = parse_time, allow_hyphen_values = true)]
    pub end: Option<i64>,

    /// Only this shard id (repeatable).
    #[arg(long = "shard", value_name = "ID")]
    pub shards: Vec<u64>,

    /// Parquet compression: zstd, zstd(LEVEL) with LEVEL 1-22, snappy, lz4 (LZ4_RAW) or
    /// none [default: zstd(1)].
    #[arg(long, value_name = "CODEC", value_parser = parse_compression)]
    pub compression: Option<Compression>,

    /// A field stored with different types in different shards: `split` gives each type
    /// its own column (the type InfluxQL returns keeps the key as name, the others are
    /// named KEY_TYPE, e.g. mem_string); `float` puts integers in the float column
    /// (values beyond 2^53 that no float equals are left null and counted); `string`
    /// writes every type as text. No value is ever changed without being counted.
    #[arg(long, value_name = "POLICY", default_value = "split", value_parser = parse_type_conflicts)]
    pub type_conflicts: TypeConflicts,

    /// Most rows in one Parquet row group.
    #[arg(long, value_name = "ROWS", default_value = "1048576")]
    pub row_group_size: NonZeroUsize,

    /// Consecutive shards (in time order) of one retention policy are exported together,
    /// one file per measurement (one line-protocol file), until their input (TSM, WAL and
    /// tombstone bytes) reaches this; a bigger shard stays alone. Parquet is 0.05 to 0.4
    /// of the TSM bytes and split by measurement, so files stay well under it. Accepts K,
    /// M, G suffixes (powers of 1024).
    #[arg(long, value_name = "BYTES", default_value = "1G", value_parser = parse_bytes)]
    pub target_file_size: usize,

    /// One file per shard and measurement (one line-protocol file per shard), as before
    /// shards were grouped; overrides --target-file-size.
    #[arg(long)]
    pub file_per_shard: bool,

    /// For tests: input bytes up to which a shard of a group is gathered in memory (the
    /// rows and their order are the same whatever it is).
    #[arg(long, value_name = "BYTES", default_value = "4M", value_parser = parse_bytes, hide = true)]
    pub small_shard_bytes: usize,

    /// Most bytes of decoded rows held per batch (and per thread) while converting;
    /// accepts K, M, G suffixes (powers of 1024).
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_bytes)]
    pub batch_bytes: usize,

    /// Export everything readable: skip damaged shards and measurements, list them, and
    /// exit with status 2.
    #[arg(long)]
    pub skip_corrupt: bool,

    /// Also export shard folders that `meta/meta.db` (next to the data directory) does not
    /// list as live: shards of dropped shard groups and folders the server never queries.
    #[arg(long)]
    pub include_unlisted_shards: bool,

    /// Export only share I of N of the planned shards (e.g. 1/4), balanced by bytes and
    /// the same in every process: N processes with 1/N .. N/N, on one machine or several,
    /// may write into one --out at once. Not with --overwrite.
    #[arg(long, value_name = "I/N")]
    pub partition: Option<Partition>,

    /// This machine is node NAME of a cluster (each data node exports its own folder
    /// into one --out): run with --register on every node first, then without it on every
    /// node. A shard several nodes hold is written by one of them, every table has the
    /// schema of all nodes' shards, re-runs keep what is finished, and the last node to
    /// finish writes manifest.json. Names: A-Z a-z 0-9 . _ - (e.g. the host name).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["partition", "overwrite"])]
    pub node: Option<String>,

    /// With --node: record this node's shards and their schemas in --out and export
    /// nothing (the first step of a cluster export).
    #[arg(long, requires = "node", conflicts_with = "dry_run")]
    pub register: bool,

    /// Do not check each block's CRC-32 before decoding it (InfluxDB's own query path does
    /// not; checking finds damaged blocks instead of decoding garbage).
    #[arg(long)]
    pub no_verify_crc: bool,

    /// Continue an earlier export into OUT made with the same options: finished shards are
    /// kept, the rest are exported again.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,

    /// Delete an earlier export in OUT (only a folder influx-tsm wrote) and start over.
    #[arg(long)]
    pub overwrite: bool,

    /// Print the plan (shards, measurements, files, bytes) and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// No progress bar and no summary on stderr (errors and warnings still show).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Print the summary (or the --dry-run plan) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

impl ExportArgs {
    /// Whether the output is stdout (`--out -`).
    pub fn is_stdout(&self) -> bool {
        self.out.as_os_str() == "-"
    }

    /// Worker threads: `--threads`, or every core.
    pub fn threads(&self) -> usize {
        worker_threads(self.threads)
    }

    /// The library's options for these arguments, checked.
    ///
    /// # Errors
    /// [`influx_tsm_export::Error::Options`] for arguments that do not fit together or the input.
    /// `--out` as a local path: a `file://` URL becomes its path.
    pub fn local_out(&self) -> Result<PathBuf, influx_tsm_export::Error> {
        match self.out.to_str() {
            Some(text) if text.starts_with("file://") => url::Url::parse(text)
                .ok()
                .and_then(|u| u.to_file_path().ok())
                .ok_or_else(|| {
                    influx_tsm_export::Error::Options(OptionsError::BadUrl {
                        url: text.to_string(),
                        reason: "not a file URL of a path".to_string(),
                    })
                }),
            _ => Ok(self.out.clone()),
        }
    }

    /// The export's options; with `remote`, files are staged in its folder and uploaded
    /// to its bucket.
    pub fn options(
        &self,
        remote: Option<(&std::path::Path, Arc<Remote>)>,
    ) -> Result<Options, influx_tsm_export::Error> {
        let usage = |message: &'static str| {
            influx_tsm_export::Error::Options(OptionsError::Conflicting(message))
        };
        let dirs = match (&self.data_dir, &self.influxdb_dir) {
            (Some(dir), root) => StorageDirs {
                data: dir.clone(),
                wal: self
                    .wal_dir
                    .clone()
                    .or_else(|| root.as_deref().and_then(wal_of)),
            },
            (None, Some(root)) => {
                StorageDirs::of_root(root, self.wal_dir.clone()).ok_or_else(|| {
                    influx_tsm_export::Error::Options(OptionsError::NoData { root: root.clone() })
                })?
            }
            (None, None) => return Err(usage("give INFLUXDB_DIR or --data-dir")),
        };
        let StorageDirs {
            data: data_dir,
            wal: wal_dir,
        } = dirs;
        let stdout = self.is_stdout();
        if stdout && self.dry_run {
            return Err(usage(
                "--resume, --overwrite and --dry-run need an output folder, not --out -",
            ));
        }
        if stdout && self.json {
            return Err(usage(
                "--json prints to stdout, which --out - uses for the data",
            ));
        }
        if self.format == Format::Lp && self.compression.is_some() {
            return Err(usage(
                "--compression is for Parquet; line protocol takes --compress gzip",
            ));
        }
        if self.format == Format::Lp && self.type_conflicts != TypeConflicts::Split {
            return Err(usage(
                "--type-conflicts is for Parquet; line protocol writes every value with its \
                 own type",
            ));
        }
        if let (false, None, Some(root), true) =
            (stdout, &remote, &self.influxdb_dir, data_dir.is_dir())
        {
            check_apart(&self.local_out()?, root)?;
        }
        let mode = OutMode::from_flags(self.resume, self.overwrite);
        let out = match &remote {
            Some((staging, _)) => staging.to_path_buf(),
            None => self.local_out()?,
        };
        let mut builder = Options::builder(data_dir, out)
            .format(match self.format {
                Format::Parquet => influx_tsm_export::Format::Parquet,
                Format::Lp => influx_tsm_export::Format::Lp,
            })
            .gzip(self.compress.and_then(|c| c.0))
            .with_ddl(self.with_ddl)
            .databases(self.databases.iter().cloned())
            .retention_policies(self.retention_policies.iter().cloned())
            .shards(self.shards.iter().copied())
            .measurements(self.measurements.iter().cloned())
            .exclude_measurements(self.exclude_measurements.iter().cloned())
            .range(TimeRange {
                start: self.start.unwrap_or(i64::MIN),
                end: self.end.unwrap_or(i64::MAX),
            })
            .compression(self.compression.unwrap_or_default())
            .row_group_size(self.row_group_size.into())
            .batch_bytes(self.batch_bytes)
            .target_file_size((!self.file_per_shard).then_some(self.target_file_size as u64))
            .small_shard_bytes(self.small_shard_bytes as u64)
            .skip_corrupt(self.skip_corrupt)
            .include_unlisted_shards(self.include_unlisted_shards)
            .partition(self.partition)
            .node(self.node.clone())
            .verify_crc(!self.no_verify_crc)
            .type_conflicts(self.type_conflicts)
            .mode(mode);
        if let Some(wal) = wal_dir {
            builder = builder.wal_dir(wal);
        }
        if let Some((_, remote)) = remote {
            builder = builder.remote(remote);
        }
        builder.build()
    }
}

/// Parses `split`, `float` or `string`.
pub fn parse_type_conflicts(s: &str) -> Result<TypeConflicts, String> {
    TypeConflicts::from_name(s).ok_or_else(|| format!("{s:?} is not split, float or string"))
}

/// Parses `zstd`, `zstd(N)`, `snappy`, `lz4` or `none`.
pub fn parse_compression(s: &str) -> Result<Compression, String> {
    s.parse()
}

/// Compression of line-protocol output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LpCompression(pub Option<u32>);

impl std::fmt::Display for LpCompression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(level) => write!(f, "gzip({level})"),
            None => f.write_str("none"),
        }
    }
}

/// Parses `gzip`, `gzip(LEVEL)` (0-9) or `none`.
pub fn parse_gzip(s: &str) -> Result<LpCompression, String> {
    let lower = s.trim().to_ascii_lowercase();
    match lower.as_str() {
        "gzip" => return Ok(LpCompression(Some(6))),
        "none" => return Ok(LpCompression(None)),
        _ => {}
    }
    if let Some(level) = lower
        .strip_prefix("gzip(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return match level.trim().parse::<u32>() {
            Ok(n) if n <= 9 => Ok(LpCompression(Some(n))),
            _ => Err(format!("gzip level must be 0 to 9, not {level:?}")),
        };
    }
    Err("expected gzip, gzip(LEVEL) or none".to_string())
}

/// Parses RFC 3339 with an offset, or integer nanoseconds since the epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ns) = s.parse::<i64>() {
        return Ok(ns);
    }
    let time = chrono::DateTime::parse_from_rfc3339(s).map_err(|err| {
        format!("{err}: expected RFC 3339 with an offset (2024-03-04T00:00:00Z) or nanoseconds")
    })?;
    time.timestamp_nanos_opt()
        .ok_or_else(|| "out of the range of nanosecond timestamps (1677 to 2262)".to_string())
}

/// Parses a byte count with an optional K, M or G suffix (powers of 1024).
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim().to_ascii_uppercase();
    let t = t
        .strip_suffix("IB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(&t);
    let (digits, shift) = match t.as_bytes().last() {
        Some(b'K') => (&t[..t.len() - 1], 10),
        Some(b'M') => (&t[..t.len() - 1], 20),
        Some(b'G') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: usize = digits
        .trim()
        .parse()
        .map_err(|_| format!("not a byte count: {s:?}"))?;
    let bytes = n
        .checked_shl(shift)
        .filter(|b| b >> shift == n)
        .ok_or("too large")?;
    if bytes < 1024 {
        return Err("at least 1K".to_string());
    }
    Ok(bytes)
}

/// Checks that `s` is a glob.
pub fn parse_glob(s: &str) -> Result<String, String> {
    globset::Glob::new(s)
        .map(|_| s.to_string())
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression() {
        assert_eq!(parse_compression("zstd"), Ok(Compression::Zstd(1)));
        assert_eq!(parse_compression("ZSTD(9)"), Ok(Compression::Zstd(9)));
        assert_eq!(parse_compression("snappy"), Ok(Compression::Snappy));
        assert_eq!(parse_compression("lz4"), Ok(Compression::Lz4));
        assert_eq!(parse_compression("none"), Ok(Compression::None));
        assert!(parse_compression("zstd(0)").is_err());
        assert!(parse_compression("gzip").is_err());
        for c in [
            Compression::Zstd(3),
            Compression::Snappy,
            Compression::Lz4,
            Compression::None,
        ] {
            assert_eq!(parse_compression(&c.to_string()), Ok(c));
        }
    }

    #[test]
    fn gzip_levels() {
        assert_eq!(parse_gzip("gzip"), Ok(LpCompression(Some(6))));
        assert_eq!(parse_gzip("GZIP(1)"), Ok(LpCompression(Some(1))));
        assert_eq!(parse_gzip("none"), Ok(LpCompression(None)));
        assert!(parse_gzip("gzip(10)").is_err());
        assert!(parse_gzip("zstd").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("0"), Ok(0));
        assert_eq!(parse_time("-5"), Ok(-5));
        assert_eq!(
            parse_time("2024-03-04T00:00:00Z"),
            Ok(1_709_510_400_000_000_000)
        );
        assert_eq!(
            parse_time("2024-03-04T07:00:00+07:00"),
            Ok(1_709_510_400_000_000_000)
        );
        assert_eq!(
            parse_time("2024-03-04T00:00:00.000000001Z"),
            Ok(1_709_510_400_000_000_001)
        );
        assert!(parse_time("2024-03-04").is_err());
        assert!(parse_time("2024-03-04T00:00:00").is_err());
        assert!(parse_time("3000-01-01T00:00:00Z").is_err());
    }

    #[test]
    fn byte_counts() {
        assert_eq!(parse_bytes("64M"), Ok(64 << 20));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("2k"), Ok(2048));
        assert_eq!(parse_bytes("5000"), Ok(5000));
        assert!(parse_bytes("12").is_err());
        assert!(parse_bytes("x").is_err());
    }
}
