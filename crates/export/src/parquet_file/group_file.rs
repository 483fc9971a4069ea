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

mod measurement_file;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use influx_tsm_arrow::{Columns, Projection, Table};
use influx_tsm_shard::layout::ShardLocation;
use influx_tsm_shard::rows::{MeasurementSchema, RowBatch};
use influx_tsm_shard::shard::Shard;
use rayon::prelude::*;

use crate::destination::records::Manifest;
use crate::error::{Error, InternalError, Result};
use crate::parquet_file::group_file::measurement_file::{
    MAX_OPEN_FILES, MeasurementFile, abort_all, commit_all, fail, flush, record_damage,
    record_written,
};
use crate::parquet_file::output::{FileSettings, file_schema, group_path};
use crate::parquet_file::shard_file::{Target, Written, next_record_batch, write_measurement};
use crate::plan::Plan;
use crate::plan::group::ShardGroup;
use crate::run::{Failure, Shared, take_opened};
use crate::shard::open::OpenedShard;
use crate::shard::shard_name;

/// Most shards open at once within a group (a chunk): each measurement's task appends a
/// whole chunk, so fewer, longer tasks; [`CHUNK_BYTES`] keeps the memory of a chunk
/// (each shard's decoded WAL) small.
const CHUNK_SHARDS: usize = 1024;

/// Input bytes of the shards opened at once within a group (a chunk ends at either limit).
const CHUNK_BYTES: u64 = 128 << 20;

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
    // The measurements the tables saw in the group's shards, in passes of at most
    // MAX_OPEN_FILES; the last pass also takes any measurement none of them knew.
    let known: BTreeSet<&[u8]> = group
        .members
        .iter()
        .filter_map(|&m| ctx.measurements.get(m))
        .flatten()
        .map(Vec::as_slice)
        .collect();
    let known: Vec<&[u8]> = known.into_iter().collect();
    let passes = known.len().div_ceil(MAX_OPEN_FILES).max(1);
    let mut dirs = BTreeSet::new();
    for pass in 0..passes {
        let from = pass * MAX_OPEN_FILES;
        let to = if pass + 1 == passes {
            known.len()
        } else {
            from + MAX_OPEN_FILES
        };
        let wanted = |m: &[u8]| match known.binary_search(&m) {
            Ok(i) => (from..to).contains(&i),
            Err(_) => pass + 1 == passes,
        };
        let pass = Pass {
            wanted: &wanted,
            first: pass == 0,
            last: pass + 1 == passes,
        };
        match export_pass(ctx, plan, group, manifest, &pass)? {
            Some(written) => dirs.extend(written),
            None => return Ok(None),
        }
    }
    Ok(Some(dirs))
}

/// One pass of [`export_group`] over a group's shards.
struct Pass<'a> {
    /// The measurements it writes.
    wanted: &'a dyn Fn(&[u8]) -> bool,
    /// The first pass records what opening the shards left out.
    first: bool,
    /// The last pass tells the progress of each shard.
    last: bool,
}

/// One pass of [`export_group`] over the group's shards, writing the measurements the
/// pass wants.
fn export_pass(
    ctx: &Shared<'_>,
    plan: &Plan,
    group: &ShardGroup,
    manifest: &mut Manifest,
    pass: &Pass<'_>,
) -> Result<Option<BTreeSet<PathBuf>>> {
    let first = &plan.shards[group.members[0]].location;
    let name = group.name();
    let mut files: BTreeMap<Vec<u8>, Mutex<MeasurementFile>> = BTreeMap::new();
    let mut start = 0;
    while start < group.members.len() {
        let end = chunk_end(plan, group, start);
        let chunk = &group.members[start..end];
        start = end;
        let opened = chunk
            .par_iter()
            .with_max_len(1)
            .map(|&member| take_opened(ctx, plan, member))
            .collect::<Result<Vec<OpenedShard>>>()?;
        let mut shards: Vec<(&Shard, u64)> = Vec::new();
        for (opened, &member) in opened.iter().zip(chunk) {
            if pass.first {
                manifest.skipped.extend(opened.skipped.iter().cloned());
                manifest.warnings.extend(opened.warnings.iter().cloned());
                manifest.relisted += u64::from(opened.relisted);
            }
            if let Some(shard) = &opened.shard {
                shards.push((shard, plan.shards[member].bytes));
            }
        }
        add_files(ctx, pass, first, &name, &shards, &mut files);
        let present: Vec<(&Vec<u8>, &Mutex<MeasurementFile>)> = files
            .iter()
            .filter(|(m, _)| {
                shards
                    .iter()
                    .any(|(s, _)| measurement_index(s, m).is_some())
            })
            .collect();
        let outcome = present
            .par_iter()
            .with_max_len(1)
            .map(|(measurement, file)| {
                let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
                let result = append_chunk(ctx, group, &shards, measurement, &mut file)
                    .and_then(|()| end_chunk(ctx, group, &mut file));
                if let Err((_, failure)) = &result
                    && failure.is_fatal(ctx.config.skip_corrupt)
                {
                    ctx.cancel.store(true, Ordering::Relaxed);
                }
                result
            })
            .collect::<Vec<_>>();
        let (cancelled, fatal) = first_failure(&present, outcome);
        if let Some(err) = fatal {
            abort_all(files);
            return Err(err);
        }
        if cancelled || ctx.cancel.load(Ordering::Relaxed) {
            abort_all(files);
            return Ok(None);
        }
        if pass.last {
            for &member in chunk {
                let planned = &plan.shards[member];
                ctx.progress
                    .shard_finished(&planned.location, planned.bytes);
            }
        }
    }
    // Each chunk ended with every file's gathered rows written (`end_chunk`).
    commit_all(ctx, files, manifest)
}

/// The end of the chunk of `group.members` that starts at `start`: at most
/// [`CHUNK_SHARDS`] shards, and [`CHUNK_BYTES`] of input past the first.
fn chunk_end(plan: &Plan, group: &ShardGroup, start: usize) -> usize {
    let mut end = start;
    let mut bytes = 0u64;
    while end < group.members.len()
        && end - start < CHUNK_SHARDS
        && (end == start || bytes < CHUNK_BYTES)
    {
        bytes += plan.shards[group.members[end]].bytes;
        end += 1;
    }
    end
}

/// Adds a file for each measurement of `shards` this pass writes that has none yet.
fn add_files(
    ctx: &Shared<'_>,
    pass: &Pass<'_>,
    first: &ShardLocation,
    name: &str,
    shards: &[(&Shard, u64)],
    files: &mut BTreeMap<Vec<u8>, Mutex<MeasurementFile>>,
) {
    for (shard, _) in shards {
        for schema in shard.measurements() {
            if ctx.config.filter.measurement(&schema.name)
                && (pass.wanted)(&schema.name)
                && !files.contains_key(&schema.name)
            {
                let relative =
                    group_path(&first.database, &first.retention_policy, &schema.name, name);
                files.insert(
                    schema.name.clone(),
                    Mutex::new(MeasurementFile {
                        database: first.database.clone(),
                        retention_policy: first.retention_policy.clone(),
                        measurement: schema.name.clone(),
                        relative,
                        pending: Vec::new(),
                        pending_rows: 0,
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
}

/// Whether a measurement of the chunk was cancelled, and the error of the first that
/// failed: the first failure in measurement order is the group's error, also when a later
/// measurement was only cancelled because of it.
fn first_failure(
    present: &[(&Vec<u8>, &Mutex<MeasurementFile>)],
    outcome: Vec<Result<(), (String, Failure)>>,
) -> (bool, Option<Error>) {
    let mut cancelled = false;
    for ((measurement, _), result) in present.iter().zip(outcome) {
        match result {
            Ok(()) => {}
            Err((_, Failure::Cancelled)) => cancelled = true,
            Err((shard, failure)) => {
                let measurement = String::from_utf8_lossy(measurement).into_owned();
                return (cancelled, Some(failure.into_error(shard, measurement)));
            }
        }
    }
    (cancelled, None)
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

/// Input bytes of the small shards (`Options::small_shard_bytes`: decoded whole, in
/// parallel with the other small shards of a window, and gathered with theirs into one
/// batch before they are written; bigger shards are streamed batch by batch) decoded at
/// once (a window), which bounds the decoded rows held per measurement being written.
const WINDOW_BYTES: u64 = 4 << 20;

/// Rows of small shards gathered before they are written as one batch: encoding a batch
/// costs the same per column whatever its length, and the shards of a group may hold a
/// few hundred rows each.
const GATHER_ROWS: u64 = 1 << 16;

/// A measurement schema's columns and its projection onto the table, made once per
/// distinct schema of a chunk (not once per shard).
struct Reader<'a> {
    schema: &'a MeasurementSchema,
    columns: Columns,
    projection: Projection,
}

impl Reader<'_> {
    /// Where `shard`'s rows of this schema go: the group's file of the measurement.
    fn target<'a>(
        &'a self,
        group: &'a ShardGroup,
        file_schema: &SchemaRef,
        shard: &'a Shard,
    ) -> Target<'a> {
        Target {
            loc: shard.location(),
            shards: &group.ids,
            schema: self.schema,
            columns: &self.columns,
            projection: &self.projection,
            file_schema: file_schema.clone(),
        }
    }
}

/// One shard's rows of a measurement, decoded whole.
struct Decoded {
    batches: Vec<RecordBatch>,
    written: Written,
    damaged: Vec<influx_tsm_shard::Error>,
    result: Result<(), Failure>,
}

/// Appends `measurement`'s rows of each shard of a chunk, in order, to its file. A failure
/// comes with the name of the shard it happened in.
fn append_chunk(
    ctx: &Shared<'_>,
    group: &ShardGroup,
    shards: &[(&Shard, u64)],
    measurement: &[u8],
    file: &mut MeasurementFile,
) -> Result<(), (String, Failure)> {
    let present: Vec<(&Shard, usize, u64)> = shards
        .iter()
        .filter_map(|&(shard, bytes)| {
            measurement_index(shard, measurement).map(|index| (shard, index, bytes))
        })
        .collect();
    let Some(&(first, first_index, _)) = present.first() else {
        return Ok(());
    };
    let loc = first.location();
    let table = ctx
        .tables
        .get(&loc.database, &loc.retention_policy, measurement)
        .ok_or_else(|| {
            let err = Error::Internal(InternalError::Impossible("a measurement without a table"));
            (shard_name(loc), Failure::Other(err))
        })?;
    let file_schema = file
        .schema
        .get_or_insert_with(|| {
            let name = &first.measurements()[first_index].name;
            let settings = FileSettings::new(
                ctx.config,
                &loc.database,
                &loc.retention_policy,
                name,
                &group.ids,
            );
            file_schema(table.columns().schema(), &settings)
        })
        .clone();
    let readers = readers(table, &present)?;
    let reader_of = |schema: &MeasurementSchema| {
        readers
            .iter()
            .find(|r| r.schema == schema)
            .expect("a reader for every schema")
    };
    let mut i = 0;
    while i < present.len() && !file.dropped {
        let (shard, index, bytes) = present[i];
        if bytes > ctx.config.small_shard_bytes {
            flush(ctx, group, file).map_err(|f| (shard_name(shard.location()), f))?;
            let reader = reader_of(&shard.measurements()[index]);
            stream_shard(ctx, group, reader, &file_schema, shard, index, file)?;
            i += 1;
            continue;
        }
        let mut end = i;
        let mut window = 0;
        while end < present.len()
            && present[end].2 <= ctx.config.small_shard_bytes
            && (end == i || window + present[end].2 <= WINDOW_BYTES)
        {
            window += present[end].2;
            end += 1;
        }
        let decoded: Vec<Decoded> = present[i..end]
            .par_iter()
            .map(|&(shard, index, _)| {
                let reader = reader_of(&shard.measurements()[index]);
                decode(ctx, group, reader, &file_schema, shard, index)
            })
            .collect();
        take_decoded(ctx, group, file, &present[i..end], decoded)?;
        i = end;
    }
    Ok(())
}

/// A reader for each of the measurement's schemas among the shards `present` (shards
/// written by one version of influxd share one).
fn readers<'s>(
    table: &Table,
    present: &[(&'s Shard, usize, u64)],
) -> Result<Vec<Reader<'s>>, (String, Failure)> {
    let mut readers: Vec<Reader<'s>> = Vec::new();
    for &(shard, index, _) in present {
        let schema = &shard.measurements()[index];
        if readers.iter().all(|r| r.schema != schema) {
            let projection = table.projection(schema).map_err(|err| {
                (
                    shard_name(shard.location()),
                    Failure::Other(Error::Arrow(err)),
                )
            })?;
            readers.push(Reader {
                schema,
                columns: Columns::new(schema),
                projection,
            });
        }
    }
    Ok(readers)
}

/// Gathers the shards of a window (`window`, decoded in parallel into `decoded`) into
/// `file`, in order, flushing it whenever enough rows are gathered.
fn take_decoded(
    ctx: &Shared<'_>,
    group: &ShardGroup,
    file: &mut MeasurementFile,
    window: &[(&Shard, usize, u64)],
    decoded: Vec<Decoded>,
) -> Result<(), (String, Failure)> {
    for (&(shard, index, _), decoded) in window.iter().zip(decoded) {
        if file.dropped {
            break;
        }
        let schema = &shard.measurements()[index];
        record_damage(file, shard.location(), schema, &decoded.damaged);
        match decoded.result {
            Ok(()) => {
                ctx.progress.values_written(decoded.written.values);
                record_written(file, shard.location(), schema, &decoded.written);
                file.pending_rows += decoded.written.rows;
                file.pending.extend(decoded.batches);
                if file.pending_rows >= GATHER_ROWS {
                    flush(ctx, group, file).map_err(|f| (shard_name(shard.location()), f))?;
                }
            }
            Err(failure) => fail(ctx, group, file, shard.location(), schema, failure)?,
        }
    }
    Ok(())
}

/// Writes what is gathered and ends the row group: between chunks a file holds no rows
/// in memory, so the files of a group's many measurements, all open until the group is
/// done, cost no more memory than the ones being written.
fn end_chunk(
    ctx: &Shared<'_>,
    group: &ShardGroup,
    file: &mut MeasurementFile,
) -> Result<(), (String, Failure)> {
    if file.dropped {
        return Ok(());
    }
    let name = format!(
        "{}/{} (shards {})",
        file.database,
        file.retention_policy,
        group.name()
    );
    flush(ctx, group, file).map_err(|f| (name.clone(), f))?;
    if let Some(pending) = file.file.as_mut() {
        pending
            .end_row_group()
            .map_err(|err| (name, Failure::Other(err)))?;
    }
    Ok(())
}

/// Streams a big shard's rows of a measurement into the file, batch by batch.
fn stream_shard(
    ctx: &Shared<'_>,
    group: &ShardGroup,
    reader: &Reader<'_>,
    file_schema: &SchemaRef,
    shard: &Shard,
    index: usize,
    file: &mut MeasurementFile,
) -> Result<(), (String, Failure)> {
    let loc = shard.location();
    let target = reader.target(group, file_schema, shard);
    let dest = ctx.out.root().join(&file.relative);
    let rows = shard.rows(index, ctx.config.range);
    let mut damaged = Vec::new();
    let result = write_measurement(ctx, &target, rows, &dest, &mut file.file, &mut damaged);
    record_damage(file, loc, reader.schema, &damaged);
    match result {
        Ok(written) => {
            record_written(file, loc, reader.schema, &written);
            Ok(())
        }
        Err(failure) => fail(ctx, group, file, loc, reader.schema, failure),
    }
}

/// Decodes a small shard's rows of a measurement whole, converted to the table's columns.
fn decode(
    ctx: &Shared<'_>,
    group: &ShardGroup,
    reader: &Reader<'_>,
    file_schema: &SchemaRef,
    shard: &Shard,
    index: usize,
) -> Decoded {
    let target = reader.target(group, file_schema, shard);
    let mut rows = shard.rows(index, ctx.config.range);
    let mut batch = RowBatch::new(reader.schema);
    let mut decoded = Decoded {
        batches: Vec::new(),
        written: Written::default(),
        damaged: Vec::new(),
        result: Ok(()),
    };
    decoded.result = loop {
        if ctx.cancel.load(Ordering::Relaxed) {
            break Err(Failure::Cancelled);
        }
        let next = next_record_batch(
            ctx.config,
            &target,
            &mut rows,
            &mut batch,
            &mut decoded.written,
        );
        decoded.damaged.extend(rows.take_skipped());
        match next {
            Ok(Some(converted)) => {
                decoded.written.count(&converted);
                decoded.batches.push(converted.batch);
            }
            Ok(None) => break Ok(()),
            Err(failure) => break Err(failure),
        }
    };
    decoded
}
