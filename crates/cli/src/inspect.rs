//! `influx-tsm inspect`: what a storage directory holds, from the TSM indexes, the block
//! headers (for point counts) and the replayed WAL; no block value is decoded.
//!
//! Counts are of *stored* values: a value overwritten in a newer file or deleted by a
//! tombstone is still counted where it is stored (the merged count is what `export`
//! reports). WAL values are counted after replay (deletes applied, duplicates collapsed).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::Serialize;
use tsm::Limits;
use tsm::block_info::count_values;
use tsm::cache::Cache;
use tsm::file::TsmFile;
use tsm::key::{SeriesKey, measurement_of, split_composite, unescape};
use tsm::layout::ShardLocation;
use tsm::mmap::MappedFile;

use crate::UsageError;
use crate::args::InspectArgs;
use crate::render::{group, human_bytes};
use tsm_export::conflicts::{Conflict, Conflicts};
use tsm_export::{catalogue, shard_status_name};

/// A file of a shard.
#[derive(Debug, Serialize)]
pub struct FileInfo {
    /// Its path.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
}

/// A field of a measurement in one shard.
#[derive(Debug, Default, Serialize)]
pub struct FieldInfo {
    /// Types stored (more than one only in damaged or drop-and-recreated shards).
    pub types: BTreeSet<String>,
    /// Values stored (TSM block counts plus replayed WAL values).
    pub values: u64,
    /// First timestamp stored.
    pub min_time: Option<i64>,
    /// Last timestamp stored.
    pub max_time: Option<i64>,
}

/// A measurement in one shard.
#[derive(Debug, Default, Serialize)]
pub struct MeasurementInfo {
    /// Series (distinct series keys).
    pub series: usize,
    /// Tag keys used by its series.
    pub tag_keys: BTreeSet<String>,
    /// Fields by key.
    pub fields: BTreeMap<String, FieldInfo>,
    /// Sum of the field values.
    pub values: u64,
    /// First timestamp.
    pub min_time: Option<i64>,
    /// Last timestamp.
    pub max_time: Option<i64>,
    #[serde(skip)]
    series_keys: BTreeSet<Vec<u8>>,
}

/// One shard.
#[derive(Debug, Serialize)]
pub struct ShardInfo {
    /// The database.
    pub database: String,
    /// The retention policy.
    pub retention_policy: String,
    /// The shard id.
    pub id: u64,
    /// First timestamp of its data.
    pub min_time: Option<i64>,
    /// Last timestamp of its data.
    pub max_time: Option<i64>,
    /// TSM files, oldest first.
    pub tsm_files: Vec<FileInfo>,
    /// Tombstone files.
    pub tombstone_files: Vec<FileInfo>,
    /// Non-empty WAL segments.
    pub wal_files: Vec<FileInfo>,
    /// Measurements by name (lossy).
    pub measurements: BTreeMap<String, MeasurementInfo>,
    /// What could not be read.
    pub problems: Vec<String>,
    /// What `meta/meta.db` says of the folder: `live`, `deleted` (its shard group was
    /// dropped) or `unlisted`; absent without a readable `meta.db`. Only live shards are
    /// read by the server's queries (and exported by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<&'static str>,
}

/// A key used both as a tag key and as a field key of one measurement (`SELECT *` then
/// renames one of them).
#[derive(Debug, Serialize)]
pub struct KeyClash {
    /// The database.
    pub database: String,
    /// The retention policy.
    pub retention_policy: String,
    /// The measurement.
    pub measurement: String,
    /// The key.
    pub key: String,
    /// Shards where it clashes.
    pub shards: Vec<u64>,
}

/// What `inspect` reports.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// Shards in (database, retention policy, id) order.
    pub shards: Vec<ShardInfo>,
    /// Fields whose type differs between shards.
    pub type_conflicts: Vec<Conflict>,
    /// Keys that are tag keys and field keys.
    pub key_clashes: Vec<KeyClash>,
    /// Paths passed over, with the reason.
    pub ignored: Vec<(PathBuf, String)>,
    /// Why `meta/meta.db` could not be read, when it exists.
    pub catalogue_problem: Option<String>,
}

fn widen(range: &mut (Option<i64>, Option<i64>), min: i64, max: i64) {
    range.0 = Some(range.0.map_or(min, |m| m.min(min)));
    range.1 = Some(range.1.map_or(max, |m| m.max(max)));
}

impl MeasurementInfo {
    fn add(&mut self, series: &[u8], field: &str, ty: &str, values: u64, min: i64, max: i64) {
        if self.series_keys.insert(series.to_vec()) {
            for (k, _) in SeriesKey::parse(series).tags_unescaped() {
                self.tag_keys
                    .insert(String::from_utf8_lossy(&k).into_owned());
            }
        }
        let f = self.fields.entry(field.to_string()).or_default();
        f.types.insert(ty.to_string());
        f.values += values;
        let mut range = (f.min_time, f.max_time);
        widen(&mut range, min, max);
        (f.min_time, f.max_time) = range;
        self.values += values;
        let mut range = (self.min_time, self.max_time);
        widen(&mut range, min, max);
        (self.min_time, self.max_time) = range;
        self.series = self.series_keys.len();
    }
}

fn file_info(path: &Path) -> FileInfo {
    FileInfo {
        path: path.to_path_buf(),
        bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
    }
}

/// Inspects one shard.
pub fn inspect_shard(loc: &ShardLocation, limits: &Limits) -> ShardInfo {
    let mut info = ShardInfo {
        database: loc.database.clone(),
        retention_policy: loc.retention_policy.clone(),
        id: loc.id,
        min_time: None,
        max_time: None,
        tsm_files: loc.tsm_files.iter().map(|f| file_info(&f.path)).collect(),
        tombstone_files: loc
            .tsm_files
            .iter()
            .filter_map(|f| f.tombstone.as_deref())
            .map(file_info)
            .collect(),
        wal_files: loc.wal_segments.iter().map(|p| file_info(p)).collect(),
        measurements: BTreeMap::new(),
        problems: Vec::new(),
        catalogue: None,
    };
    let add = |info: &mut ShardInfo, key: &[u8], ty: &str, values: u64, min: i64, max: i64| {
        let Some((series, field)) = split_composite(key) else {
            info.problems.push(format!(
                "key without a field: {:?}",
                String::from_utf8_lossy(key)
            ));
            return;
        };
        let name = unescape(measurement_of(series), b", ");
        let name = String::from_utf8_lossy(&name).into_owned();
        let field = String::from_utf8_lossy(field);
        info.measurements
            .entry(name)
            .or_default()
            .add(series, &field, ty, values, min, max);
        let mut range = (info.min_time, info.max_time);
        widen(&mut range, min, max);
        (info.min_time, info.max_time) = range;
    };
    for tsm in &loc.tsm_files {
        let map = match MappedFile::open(&tsm.path) {
            Ok(map) => map,
            Err(err) => {
                info.problems.push(err.to_string());
                continue;
            }
        };
        let file = match TsmFile::parse(map.bytes()) {
            Ok(file) => file,
            Err(err) => {
                info.problems.push(err.in_file(&tsm.path).to_string());
                continue;
            }
        };
        for entry in file.index() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    info.problems.push(err.in_file(&tsm.path).to_string());
                    break;
                }
            };
            let mut values = 0u64;
            for block in entry.blocks() {
                match file.block(&block, false).and_then(count_values) {
                    Ok(n) => values += n as u64,
                    Err(err) => info.problems.push(
                        err.rebase(block.offset + 4)
                            .in_file(&tsm.path)
                            .for_key(entry.key)
                            .to_string(),
                    ),
                }
            }
            let (min, max) = entry.time_range();
            add(
                &mut info,
                entry.key,
                entry.field_type.name(),
                values,
                min,
                max,
            );
        }
    }
    let mut maps = Vec::new();
    for path in &loc.wal_segments {
        match MappedFile::open(path) {
            Ok(map) => maps.push(map),
            Err(err) => info.problems.push(err.to_string()),
        }
    }
    let (cache, problems) = Cache::replay(maps.iter().map(MappedFile::bytes), limits);
    for p in problems {
        let path = maps[p.segment].path().to_path_buf();
        info.problems
            .push(p.into_error().in_file(&path).to_string());
    }
    for (key, entry) in cache.iter() {
        if let (Some(&min), Some(&max)) = (entry.timestamps.first(), entry.timestamps.last()) {
            add(
                &mut info,
                key,
                entry.field_type().name(),
                entry.len() as u64,
                min,
                max,
            );
        }
    }
    info
}

/// Inspects every shard under `data_dir` (and `wal_dir`).
///
/// # Errors
/// When the folders cannot be listed.
pub fn inspect(
    data_dir: &Path,
    wal_dir: Option<&Path>,
    databases: &[String],
) -> Result<Inspection> {
    let layout = tsm::layout::scan(data_dir, wal_dir)
        .with_context(|| format!("cannot scan {}", data_dir.display()))?;
    let limits = Limits::default();
    let (meta, catalogue_problem) = catalogue(data_dir);
    let shards: Vec<ShardInfo> = layout
        .shards
        .par_iter()
        .filter(|s| databases.is_empty() || databases.contains(&s.database))
        .map(|s| {
            let mut info = inspect_shard(s, &limits);
            info.catalogue = meta
                .as_ref()
                .map(|m| shard_status_name(m.shard_status(&s.database, &s.retention_policy, s.id)));
            info
        })
        .collect();
    // (database, retention policy, measurement, field)
    type Key = (String, String, String, String);
    let mut conflicts = Conflicts::default();
    let mut clashes: BTreeMap<Key, Vec<u64>> = BTreeMap::new();
    for s in &shards {
        for (m, info) in &s.measurements {
            for (f, field) in &info.fields {
                let key = (
                    s.database.clone(),
                    s.retention_policy.clone(),
                    m.clone(),
                    f.clone(),
                );
                for ty in &field.types {
                    conflicts.add(&s.database, &s.retention_policy, m, f, ty, s.id);
                }
                if info.tag_keys.contains(f) {
                    clashes.entry(key).or_default().push(s.id);
                }
            }
        }
    }
    Ok(Inspection {
        shards,
        type_conflicts: conflicts.finish(),
        key_clashes: clashes
            .into_iter()
            .map(
                |((database, retention_policy, measurement, key), shards)| KeyClash {
                    database,
                    retention_policy,
                    measurement,
                    key,
                    shards,
                },
            )
            .collect(),
        ignored: layout.skipped,
        catalogue_problem,
    })
}

/// RFC 3339 in UTC with nanoseconds when needed.
pub fn time_text(ns: Option<i64>) -> String {
    match ns {
        None => "-".to_string(),
        Some(ns) => chrono::DateTime::from_timestamp_nanos(ns)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    }
}

impl Inspection {
    /// Writes the report as indented text.
    pub fn write_text(&self, w: &mut impl Write) -> std::io::Result<()> {
        let mut last: Option<(&str, &str)> = None;
        for s in &self.shards {
            if last.is_none_or(|(db, _)| db != s.database) {
                writeln!(w, "database {}", s.database)?;
            }
            if last != Some((&s.database, &s.retention_policy)) {
                let n = self
                    .shards
                    .iter()
                    .filter(|x| {
                        x.database == s.database && x.retention_policy == s.retention_policy
                    })
                    .count();
                writeln!(w, "  retention policy {}: {n} shards", s.retention_policy)?;
            }
            last = Some((&s.database, &s.retention_policy));
            let sum = |files: &[FileInfo]| files.iter().map(|f| f.bytes).sum::<u64>();
            writeln!(
                w,
                "    shard {}{}: {} .. {}; {} TSM ({}), {} tombstone ({}), {} WAL ({})",
                s.id,
                match s.catalogue {
                    Some(status) if status != "live" => {
                        format!(" ({status} in meta.db: not queried, not exported by default)")
                    }
                    _ => String::new(),
                },
                time_text(s.min_time),
                time_text(s.max_time),
                s.tsm_files.len(),
                human_bytes(sum(&s.tsm_files)),
                s.tombstone_files.len(),
                human_bytes(sum(&s.tombstone_files)),
                s.wal_files.len(),
                human_bytes(sum(&s.wal_files)),
            )?;
            for (name, m) in &s.measurements {
                writeln!(
                    w,
                    "      {name:?}: {} series, {} values, {} .. {}",
                    m.series,
                    group(m.values),
                    time_text(m.min_time),
                    time_text(m.max_time)
                )?;
                let fields: Vec<String> = m
                    .fields
                    .iter()
                    .map(|(k, f)| {
                        let types: Vec<&str> = f.types.iter().map(String::as_str).collect();
                        format!("{k:?} {} ({})", types.join("|"), group(f.values))
                    })
                    .collect();
                writeln!(w, "        fields: {}", fields.join(", "))?;
                if !m.tag_keys.is_empty() {
                    let tags: Vec<String> = m.tag_keys.iter().map(|t| format!("{t:?}")).collect();
                    writeln!(w, "        tags: {}", tags.join(", "))?;
                }
            }
            for p in &s.problems {
                writeln!(w, "      problem: {p}")?;
            }
        }
        for c in &self.type_conflicts {
            writeln!(w, "type conflict: {c}")?;
        }
        if let Some(problem) = &self.catalogue_problem {
            writeln!(w, "warning: cannot use the catalogue {problem}")?;
        }
        for c in &self.key_clashes {
            let ids: Vec<String> = c.shards.iter().map(u64::to_string).collect();
            writeln!(
                w,
                "key clash: {}/{} measurement {:?}: {:?} is a tag key and a field key (shards {})",
                c.database,
                c.retention_policy,
                c.measurement,
                c.key,
                ids.join(", ")
            )?;
        }
        let values: u64 = self
            .shards
            .iter()
            .flat_map(|s| s.measurements.values())
            .map(|m| m.values)
            .sum();
        let dbs: BTreeSet<&str> = self.shards.iter().map(|s| s.database.as_str()).collect();
        writeln!(
            w,
            "{} databases, {} shards, {} stored values; {} type conflicts, {} key clashes",
            dbs.len(),
            self.shards.len(),
            group(values),
            self.type_conflicts.len(),
            self.key_clashes.len()
        )
    }
}

/// Runs `inspect`; returns the exit status.
///
/// # Errors
/// A missing folder, folders that cannot be listed, output errors.
pub fn run(args: &InspectArgs) -> Result<u8> {
    let (data_dir, wal_dir) = if args.dir.join("data").is_dir() {
        let wal = args.dir.join("wal");
        (
            args.dir.join("data"),
            args.wal_dir.clone().or(wal.is_dir().then_some(wal)),
        )
    } else if args.dir.is_dir() {
        (args.dir.clone(), args.wal_dir.clone())
    } else {
        return Err(UsageError(format!("{} is not a folder", args.dir.display())).into());
    };
    let report = inspect(&data_dir, wal_dir.as_deref(), &args.databases)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        report.write_text(&mut stdout)?;
    }
    stdout.flush()?;
    Ok(0)
}
