//! What a storage directory holds (`influx-tsm inspect`), from the TSM indexes, the block
//! headers (for point counts) and the replayed WAL; no block value is decoded.
//!
//! Counts are of *stored* values: a value overwritten in a newer file or deleted by a
//! tombstone is still counted where it is stored (the merged count is what `export`
//! reports). WAL values are counted after replay (deletes applied, duplicates collapsed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use tsm::Limits;
use tsm::block_info::count_values;
use tsm::cache::Cache;
use tsm::file::TsmFile;
use tsm::key::{SeriesKey, measurement_of, split_composite, unescape};
use tsm::layout::ShardLocation;
use tsm::mmap::MappedFile;

use crate::conflicts::{Conflict, Conflicts};
use crate::error::{Error, Result};
use crate::plan::{catalogue, shard_status_name};

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
    let layout = tsm::layout::scan(data_dir, wal_dir).map_err(|source| Error::Scan {
        dir: data_dir.to_path_buf(),
        source,
    })?;
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
