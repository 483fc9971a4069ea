//! What a storage directory holds (`influx-tsm inspect`), from the TSM indexes, the block
//! headers (for point counts) and the replayed WAL; no block value is decoded.
//!
//! Counts are of *stored* values: a value overwritten in a newer file or deleted by a
//! tombstone is still counted where it is stored (the merged count is what `export`
//! reports). WAL values are counted after replay (deletes applied, duplicates collapsed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use influx_tsm_backup::{BackupShard, ReadOptions};
use influx_tsm_shard::Limits;
use influx_tsm_shard::block_info::count_values;
use influx_tsm_shard::cache::Cache;
use influx_tsm_shard::file::{IndexEntry, TsmFile};
use influx_tsm_shard::index_merge::IndexMerge;
use influx_tsm_shard::key::{measurement_of, split_composite, tags_of, unescape};
use influx_tsm_shard::layout::ShardLocation;
use influx_tsm_shard::source::{FileSource, ShardFiles};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::plan::conflicts::{Conflict, Conflicts};
use crate::plan::{Input, shard_status_name};
use crate::shard::ShardInput;

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
    /// Adds a key's stored values; `new_series` is its series key when the key is the
    /// first seen of its series.
    fn add(
        &mut self,
        new_series: Option<&[u8]>,
        field: &[u8],
        ty: &str,
        values: u64,
        min: i64,
        max: i64,
    ) {
        if let Some(series) = new_series {
            self.series += 1;
            for (k, _) in tags_of(series) {
                let k = String::from_utf8_lossy(&unescape(k, b", =")).into_owned();
                if !self.tag_keys.contains(&k) {
                    self.tag_keys.insert(k);
                }
            }
        }
        let field = String::from_utf8_lossy(field);
        let f = match self.fields.get_mut(field.as_ref()) {
            Some(f) => f,
            None => self.fields.entry(field.into_owned()).or_default(),
        };
        if !f.types.contains(ty) {
            f.types.insert(ty.to_string());
        }
        f.values += values;
        let mut range = (f.min_time, f.max_time);
        widen(&mut range, min, max);
        (f.min_time, f.max_time) = range;
        self.values += values;
        let mut range = (self.min_time, self.max_time);
        widen(&mut range, min, max);
        (self.min_time, self.max_time) = range;
    }
}

/// Adds keys to a [`ShardInfo`] in merged key order (every TSM file and the WAL), which
/// lets it count series by counting changes of series key: a series' keys are
/// consecutive in that order (they all start with `series#!~#`). Nothing is kept per
/// series.
struct Adder<'k> {
    last_series: Option<&'k [u8]>,
    last_escaped: Option<&'k [u8]>,
    last_name: String,
}

impl<'k> Adder<'k> {
    /// Adds one stored copy of `key`; a problem goes to `problems`.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        info: &mut ShardInfo,
        problems: &mut Vec<String>,
        key: &'k [u8],
        ty: &str,
        values: u64,
        min: i64,
        max: i64,
    ) {
        let Some((series, field)) = split_composite(key) else {
            problems.push(format!(
                "key without a field: {:?}",
                String::from_utf8_lossy(key)
            ));
            return;
        };
        let escaped = measurement_of(series);
        if self.last_escaped != Some(escaped) {
            self.last_name = String::from_utf8_lossy(&unescape(escaped, b", ")).into_owned();
            self.last_escaped = Some(escaped);
        }
        let new_series = (self.last_series != Some(series)).then_some(series);
        self.last_series = Some(series);
        let m = match info.measurements.get_mut(&self.last_name) {
            Some(m) => m,
            None => info.measurements.entry(self.last_name.clone()).or_default(),
        };
        m.add(new_series, field, ty, values, min, max);
        let mut range = (info.min_time, info.max_time);
        widen(&mut range, min, max);
        (info.min_time, info.max_time) = range;
    }
}

fn file_info(path: &Path) -> FileInfo {
    FileInfo {
        path: path.to_path_buf(),
        bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
    }
}

/// A file opened for inspection, or why it could not be.
type Opened = (PathBuf, std::result::Result<FileSource, String>);

fn map_file(path: &Path) -> Opened {
    (
        path.to_path_buf(),
        FileSource::map(path).map_err(|e| e.to_string()),
    )
}

/// Inspects one shard of a data directory, as one moment of its files on a folder a
/// running influxd changes ([`ShardFiles::map_live`]); when no listing holds, the files
/// of the first listing, each that cannot be mapped a problem of its own.
pub fn inspect_shard(loc: &ShardLocation, limits: &Limits) -> ShardInfo {
    if let Ok((files, listed, _)) = ShardFiles::map_live(loc, crate::shard::open::LISTING_ATTEMPTS)
    {
        return inspect_mapped(&listed, files, limits);
    }
    let tsm = loc.tsm_files.iter().map(|f| map_file(&f.path)).collect();
    let tombstones = loc
        .tsm_files
        .iter()
        .filter_map(|f| f.tombstone.as_deref())
        .map(file_info)
        .collect();
    let wal = loc.wal_segments.iter().map(|p| map_file(p)).collect();
    inspect_files(loc, tsm, tombstones, wal, limits)
}

/// Inspects one shard of a backup: its archives are read (and checked) first; a damaged
/// archive is the shard's one problem.
pub fn inspect_backup_shard(
    loc: &ShardLocation,
    shard: &BackupShard,
    limits: &Limits,
) -> ShardInfo {
    match shard.files(&ReadOptions::default()) {
        Ok(files) => inspect_mapped(loc, files, limits),
        Err(err) => {
            let mut info = inspect_files(loc, Vec::new(), Vec::new(), Vec::new(), limits);
            info.problems.push(err.to_string());
            info
        }
    }
}

/// Inspects a shard's files, all mapped (or read) already.
fn inspect_mapped(loc: &ShardLocation, files: ShardFiles, limits: &Limits) -> ShardInfo {
    let mut tsm = Vec::new();
    let mut tombstones = Vec::new();
    for t in files.tsm_files {
        if let Some(tombstone) = &t.tombstone {
            tombstones.push(FileInfo {
                path: tombstone.name().to_path_buf(),
                bytes: tombstone.len(),
            });
        }
        tsm.push((t.file.name().to_path_buf(), Ok(t.file)));
    }
    let wal = files
        .wal_segments
        .into_iter()
        .map(|w| (w.name().to_path_buf(), Ok(w)))
        .collect();
    inspect_files(loc, tsm, tombstones, wal, limits)
}

fn inspect_files(
    loc: &ShardLocation,
    tsm: Vec<Opened>,
    tombstone_files: Vec<FileInfo>,
    wal: Vec<Opened>,
    limits: &Limits,
) -> ShardInfo {
    let mut info = empty_info(loc, &tsm, tombstone_files, &wal);
    let paths: Vec<&Path> = tsm.iter().map(|(p, _)| p.as_path()).collect();
    // Problems per TSM file, then the WAL's: the order a file-by-file walk reports them.
    let (files, mut file_problems) = parse_tsm(&tsm);
    let mut wal_problems = Vec::new();
    let mut segments = Vec::new();
    for (_, source) in wal {
        match source {
            Ok(source) => segments.push(source),
            Err(err) => wal_problems.push(err),
        }
    }
    let (cache, problems) = Cache::replay(segments.iter().map(FileSource::bytes), limits);
    for p in problems {
        let path = segments[p.segment].name().to_path_buf();
        wal_problems.push(p.into_error().in_file(&path).to_string());
    }
    let mut merge = IndexMerge::new(files.iter().map(|(_, f)| Some(f.index())).collect());
    let mut cache_keys = cache.iter().peekable();
    let mut adder = Adder {
        last_series: None,
        last_escaped: None,
        last_name: String::new(),
    };
    let mut entries = Vec::new();
    let index_errors = |merge: &mut IndexMerge<'_>, file_problems: &mut Vec<Vec<String>>| {
        for (f, err) in merge.take_errors() {
            let (i, _) = files[f];
            file_problems[i].push(err.in_file(paths[i]).to_string());
        }
    };
    index_errors(&mut merge, &mut file_problems);
    loop {
        let cached = cache_keys.peek().map(|(k, _)| *k);
        let key = match (merge.peek(), cached) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => break,
        };
        if merge.peek() == Some(key) {
            merge.next_key(&mut entries);
        } else {
            entries.clear();
        }
        add_entries(
            &mut info,
            &mut adder,
            &entries,
            &files,
            &paths,
            &mut file_problems,
        );
        // An index error is met on moving past an entry: it follows that entry's.
        index_errors(&mut merge, &mut file_problems);
        if let Some(&(k, entry)) = cache_keys.peek()
            && k == key
        {
            cache_keys.next();
            if let (Some(&min), Some(&max)) = (entry.timestamps.first(), entry.timestamps.last()) {
                adder.add(
                    &mut info,
                    &mut wal_problems,
                    key,
                    entry.field_type().name(),
                    entry.len() as u64,
                    min,
                    max,
                );
            }
        }
    }
    info.problems = file_problems
        .into_iter()
        .flatten()
        .chain(wal_problems)
        .collect();
    info
}

/// The shard's report before its keys are read: where it is and its files.
fn empty_info(
    loc: &ShardLocation,
    tsm: &[Opened],
    tombstone_files: Vec<FileInfo>,
    wal: &[Opened],
) -> ShardInfo {
    let source_info = |(path, source): &Opened| FileInfo {
        path: path.clone(),
        bytes: source.as_ref().map_or(0, FileSource::len),
    };
    ShardInfo {
        database: loc.database.clone(),
        retention_policy: loc.retention_policy.clone(),
        id: loc.id,
        min_time: None,
        max_time: None,
        tsm_files: tsm.iter().map(source_info).collect(),
        tombstone_files,
        wal_files: wal.iter().map(source_info).collect(),
        measurements: BTreeMap::new(),
        problems: Vec::new(),
        catalogue: None,
    }
}

/// Each TSM file of `tsm` that parses, with its position, and the problems of each file
/// (by position).
fn parse_tsm(tsm: &[Opened]) -> (Vec<(usize, TsmFile<'_>)>, Vec<Vec<String>>) {
    let mut file_problems: Vec<Vec<String>> = vec![Vec::new(); tsm.len()];
    let mut files: Vec<(usize, TsmFile<'_>)> = Vec::new();
    for (i, (path, source)) in tsm.iter().enumerate() {
        match source {
            Ok(source) => match TsmFile::parse(source.bytes()) {
                Ok(file) => files.push((i, file)),
                Err(err) => file_problems[i].push(err.in_file(path).to_string()),
            },
            Err(err) => file_problems[i].push(err.clone()),
        }
    }
    (files, file_problems)
}

/// Adds the stored copies of one key (`entries`, one per file holding it), their values
/// counted block by block; a damaged block is a problem of its file.
fn add_entries<'a>(
    info: &mut ShardInfo,
    adder: &mut Adder<'a>,
    entries: &[(usize, IndexEntry<'a>)],
    files: &[(usize, TsmFile<'a>)],
    paths: &[&Path],
    file_problems: &mut [Vec<String>],
) {
    for &(f, entry) in entries {
        let (i, file) = files[f];
        let path = paths[i];
        let problems = &mut file_problems[i];
        let mut values = 0u64;
        for block in entry.blocks() {
            match file.block(&block, false).and_then(count_values) {
                Ok(n) => values += n as u64,
                Err(err) => problems.push(
                    err.rebase(block.offset + 4)
                        .in_file(path)
                        .for_key(entry.key)
                        .to_string(),
                ),
            }
        }
        let (min, max) = entry.time_range();
        adder.add(
            info,
            problems,
            entry.key,
            entry.field_type.name(),
            values,
            min,
            max,
        );
    }
}

/// Inspects every shard under `data_dir` (and `wal_dir`), or of the backup folder
/// `data_dir`.
///
/// # Errors
/// When the folders cannot be listed, or a backup's catalogue cannot be read.
pub fn inspect(
    data_dir: &Path,
    wal_dir: Option<&Path>,
    databases: &[String],
) -> Result<Inspection> {
    let input = Input::scan(data_dir, wal_dir)?;
    let limits = Limits::default();
    let meta = input.meta;
    let shards: Vec<ShardInfo> = input
        .shards
        .par_iter()
        .filter(|(s, _)| databases.is_empty() || databases.contains(&s.database))
        .map(|(s, source)| {
            let mut info = match source {
                ShardInput::Folder => inspect_shard(s, &limits),
                ShardInput::Backup(shard) => inspect_backup_shard(s, shard, &limits),
            };
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
        ignored: input.ignored,
        catalogue_problem: input.catalogue_problem,
    })
}
