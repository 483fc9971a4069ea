//! A group of several shards written into one Parquet file per measurement.
//!
//! The group's shards are taken in time order, a few at a time (a chunk, opened in
//! parallel or kept open since the tables were made); each measurement of a chunk is one
//! task for an idle worker, which appends that measurement's rows of every shard of the
//! chunk, in order, to the measurement's file. A file stays open across chunks, so its
//! row groups fill up with the rows of many small shards instead of ending with each, and
//! the files are committed (synced, renamed) together once every shard is in. The rows
//! and their order (shards in time order, each shard's series in key order) do not
//! depend on the number of threads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use arrow_build::Columns;
use rayon::prelude::*;
use tsm::layout::ShardLocation;
use tsm::shard::Shard;

use crate::error::{Error, Result};
use crate::export::{Failure, Shared, Target, Written, take_opened, write_measurement};
use crate::group::ShardGroup;
use crate::opened::{OpenedShard, shard_name};
use crate::output::{PendingFile, file_schema, group_path};
use crate::plan::{Plan, path_string};
use crate::state::{FieldRecord, FileRecord, Manifest, SkipRecord};

/// Most shards open at once within a group (a chunk): each measurement's task appends a
/// whole chunk, so fewer, longer tasks; [`CHUNK_BYTES`] keeps the memory of a chunk
/// (each shard's decoded WAL) small.
const CHUNK_SHARDS: usize = 1024;

/// Input bytes of the shards opened at once within a group (a chunk ends at either limit).
const CHUNK_BYTES: u64 = 128 << 20;

/// One measurement's file of the group, being written.
struct MeasurementFile {
    /// Relative to the output folder.
    relative: PathBuf,
    /// The table's schema with the file's metadata (made once: it lists every shard).
    schema: Option<arrow_schema::SchemaRef>,
    file: Option<PendingFile>,
    written: Written,
    /// Field types, per shard, of what was written.
    fields: Vec<FieldRecord>,
    skipped: Vec<SkipRecord>,
    /// Left out under `--skip-corrupt` after damage that could not be skipped block by
    /// block: nothing more is written and the file is not committed.
    dropped: bool,
}

/// Exports the group `group` (of several shards) into one Parquet file per measurement;
/// returns the folders written into, `None` when cancelled.
///
/// # Errors
/// The first failure of a measurement (damaged data without `--skip-corrupt`, output
/// errors), naming the shard and measurement.
pub(crate) fn export_group(
    ctx: &Shared<'_>,
    plan: &Plan,
    group: &ShardGroup,
    manifest: &mut Manifest,
) -> Result<Option<BTreeSet<PathBuf>>> {
    let first = &plan.shards[group.members[0]].location;
    let name = group.name();
    let mut files: BTreeMap<Vec<u8>, Mutex<MeasurementFile>> = BTreeMap::new();
    let mut start = 0;
    while start < group.members.len() {
        let mut end = start;
        let mut bytes = 0u64;
        while end < group.members.len()
            && end - start < CHUNK_SHARDS
            && (end == start || bytes < CHUNK_BYTES)
        {
            bytes += plan.shards[group.members[end]].bytes;
            end += 1;
        }
        let chunk = &group.members[start..end];
        start = end;
        let opened = chunk
            .par_iter()
            .with_max_len(1)
            .map(|&member| take_opened(ctx, plan, member))
            .collect::<Result<Vec<OpenedShard>>>()?;
        let mut shards: Vec<&Shard> = Vec::new();
        for opened in &opened {
            manifest.skipped.extend(opened.skipped.iter().cloned());
            manifest.warnings.extend(opened.warnings.iter().cloned());
            shards.extend(opened.shard.as_ref());
        }
        for shard in &shards {
            for schema in shard.measurements() {
                if ctx.config.filter.measurement(&schema.name) && !files.contains_key(&schema.name)
                {
                    let relative = group_path(
                        &first.database,
                        &first.retention_policy,
                        &schema.name,
                        &name,
                    );
                    files.insert(
                        schema.name.clone(),
                        Mutex::new(MeasurementFile {
                            relative,
                            schema: None,
                            file: None,
                            written: Written::default(),
                            fields: Vec::new(),
                            skipped: Vec::new(),
                            dropped: false,
                        }),
                    );
                }
            }
        }
        let present: Vec<(&Vec<u8>, &Mutex<MeasurementFile>)> = files
            .iter()
            .filter(|(m, _)| shards.iter().any(|s| measurement_index(s, m).is_some()))
            .collect();
        let outcome = present
            .par_iter()
            .with_max_len(1)
            .map(|(measurement, file)| {
                let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
                let result = append_chunk(ctx, group, &shards, measurement, &mut file);
                if let Err((_, failure)) = &result
                    && failure.is_fatal(ctx.config.skip_corrupt)
                {
                    ctx.cancel.store(true, Ordering::Relaxed);
                }
                result
            })
            .collect::<Vec<_>>();
        // The first failure in measurement order is the group's error, also when a later
        // measurement was only cancelled because of it.
        let mut cancelled = false;
        let mut fatal = None;
        for ((measurement, _), result) in present.iter().zip(outcome) {
            match result {
                Ok(()) => {}
                Err((_, Failure::Cancelled)) => cancelled = true,
                Err((shard, failure)) => {
                    let measurement = String::from_utf8_lossy(measurement).into_owned();
                    fatal = Some(failure.into_error(shard, measurement));
                    break;
                }
            }
        }
        if let Some(err) = fatal {
            abort_all(files);
            return Err(err);
        }
        if cancelled {
            abort_all(files);
            return Ok(None);
        }
        if ctx.cancel.load(Ordering::Relaxed) {
            abort_all(files);
            return Ok(None);
        }
    }
    commit_all(ctx, files, manifest)
}

/// The position of `measurement` among `shard`'s measurements.
fn measurement_index(shard: &Shard, measurement: &[u8]) -> Option<usize> {
    shard
        .measurements()
        .binary_search_by(|m| m.name.as_slice().cmp(measurement))
        .ok()
        .or_else(|| {
            shard
                .measurements()
                .iter()
                .position(|m| m.name == measurement)
        })
}

/// Appends `measurement`'s rows of each shard of a chunk, in order, to its file. A failure
/// comes with the name of the shard it happened in.
fn append_chunk(
    ctx: &Shared<'_>,
    group: &ShardGroup,
    shards: &[&Shard],
    measurement: &[u8],
    file: &mut MeasurementFile,
) -> Result<(), (String, Failure)> {
    for shard in shards {
        if file.dropped {
            return Ok(());
        }
        let Some(index) = measurement_index(shard, measurement) else {
            continue;
        };
        let loc = shard.location();
        let in_shard = |failure: Failure| (shard_name(loc), failure);
        let schema = &shard.measurements()[index];
        let table = ctx
            .tables
            .get(&loc.database, &loc.retention_policy, &schema.name)
            .ok_or_else(|| {
                in_shard(Error::Internal("a measurement without a table".into()).into())
            })?;
        let projection = table
            .projection(schema)
            .map_err(|err| in_shard(Failure::Other(Error::Arrow(err))))?;
        let columns = Columns::new(schema);
        let file_schema = file
            .schema
            .get_or_insert_with(|| {
                file_schema(
                    table.columns().schema(),
                    &loc.database,
                    &loc.retention_policy,
                    &schema.name,
                    &group.ids,
                )
            })
            .clone();
        let target = Target {
            loc,
            shards: &group.ids,
            schema,
            columns: &columns,
            projection: &projection,
            file_schema,
        };
        let dest = ctx.out.root().join(&file.relative);
        let rows = shard.rows(index, ctx.config.range);
        let mut damaged = Vec::new();
        let result = write_measurement(ctx, &target, rows, &dest, &mut file.file, &mut damaged);
        let name = String::from_utf8_lossy(&schema.name).into_owned();
        file.skipped.extend(
            damaged
                .iter()
                .map(|err| SkipRecord::block(loc, name.clone(), err)),
        );
        match result {
            Ok(written) => {
                if written.rows > 0 {
                    file.fields
                        .extend(schema.fields.iter().map(|f| FieldRecord {
                            shard: Some(loc.id),
                            measurement: name.clone(),
                            field: String::from_utf8_lossy(&f.key).into_owned(),
                            field_type: f.field_type.name().to_string(),
                        }));
                }
                file.written.add(&written);
            }
            Err(Failure::Data(err)) if ctx.config.skip_corrupt && err.is_corruption() => {
                drop_file(file, loc, &name, &err, group);
            }
            Err(failure) => return Err(in_shard(failure)),
        }
    }
    Ok(())
}

/// Leaves `measurement`'s file of the group out after damage in shard `loc` that could
/// not be skipped block by block (`--skip-corrupt`): the rows of the group's other shards
/// already in the file cannot be taken back, so the whole file goes, and every shard of
/// the group is recorded as having lost the measurement.
fn drop_file(
    file: &mut MeasurementFile,
    loc: &ShardLocation,
    measurement: &str,
    err: &tsm::Error,
    group: &ShardGroup,
) {
    if let Some(pending) = file.file.take() {
        pending.abort();
    }
    file.dropped = true;
    file.fields.clear();
    file.written = Written::default();
    for &id in &group.ids {
        let mut record = SkipRecord::new(loc, Some(measurement.to_string()), err);
        if id != loc.id {
            record.shard = id;
            record.error = format!(
                "left out with the file of shards {} it shares with shard {}: {}",
                group.name(),
                loc.id,
                record.error
            );
            record.path = None;
            record.offset = None;
        }
        file.skipped.push(record);
    }
}

/// Gives up every file of the group.
fn abort_all(files: BTreeMap<Vec<u8>, Mutex<MeasurementFile>>) {
    for file in files.into_values() {
        let file = file.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(pending) = file.file {
            pending.abort();
        }
    }
}

/// Commits every file of the group (in parallel: each is synced) and records them, in
/// measurement order; returns the folders written into.
fn commit_all(
    ctx: &Shared<'_>,
    files: BTreeMap<Vec<u8>, Mutex<MeasurementFile>>,
    manifest: &mut Manifest,
) -> Result<Option<BTreeSet<PathBuf>>> {
    let files: Vec<(Vec<u8>, MeasurementFile)> = files
        .into_iter()
        .map(|(m, f)| (m, f.into_inner().unwrap_or_else(|e| e.into_inner())))
        .collect();
    let committed = files
        .into_par_iter()
        .with_max_len(1)
        .map(|(measurement, mut file)| {
            let bytes = file.file.take().map(PendingFile::commit).transpose();
            (measurement, file, bytes)
        })
        .collect::<Vec<_>>();
    let mut dirs = BTreeSet::new();
    let mut first_error = None;
    for (measurement, file, bytes) in committed {
        manifest.skipped.extend(file.skipped);
        let bytes = match bytes {
            Ok(Some(bytes)) => bytes,
            Ok(None) => continue,
            Err(err) => {
                first_error.get_or_insert(err);
                continue;
            }
        };
        let name = String::from_utf8_lossy(&measurement).into_owned();
        let written = file.written;
        manifest.files.push(FileRecord {
            measurement: name,
            path: path_string(&file.relative),
            rows: written.rows,
            values: written.values,
            bytes,
            min_time: written.time_range.map(|(min, _)| min),
            max_time: written.time_range.map(|(_, max)| max),
        });
        manifest.fields.extend(file.fields);
        manifest.replaced_field_values += written.stats.replaced_field_values;
        manifest.replaced_tag_values += written.stats.replaced_tag_values;
        manifest.cast_values += written.casts.cast;
        manifest.inexact_values += written.casts.inexact;
        if let Some(dir) = ctx.out.root().join(&file.relative).parent() {
            dirs.insert(dir.to_path_buf());
        }
    }
    match first_error {
        Some(err) => Err(err),
        None => Ok(Some(dirs)),
    }
}
