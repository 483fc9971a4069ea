//! A group of one shard: each measurement streamed batch by batch into its Parquet
//! file, a measurement of many series cut into parts written in parallel and joined.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use influx_tsm_arrow::{CastStats, Columns, Projection, Table};
use influx_tsm_shard::layout::ShardLocation;
use influx_tsm_shard::rows::{MeasurementSchema, RowBatch};
use influx_tsm_shard::shard::{MeasurementRows, Shard};
use rayon::prelude::*;

use crate::destination::records::{FieldRecord, FileRecord, Manifest, SkipRecord};
use crate::error::{Error, InternalError, Result};
use crate::naming::path_string;
use crate::parquet_file::output::{
    FileSettings, PendingFile, file_properties, file_schema, relative_path, writer_properties,
};
use crate::parquet_file::parts::{PartJoiner, part_path};
use crate::plan::options::Options;
use crate::shard::open::OpenedShard;
use crate::shard::shard_name;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};

use crate::run::{Failure, Shared};

/// Exports one shard's measurements into a Parquet file each (the group of one shard);
/// returns the folders written into, `None` when cancelled.
pub(crate) fn export_shard(
    ctx: &Shared<'_>,
    loc: &ShardLocation,
    opened: OpenedShard,
    manifest: &mut Manifest,
) -> Result<Option<BTreeSet<PathBuf>>> {
    manifest.skipped = opened.skipped;
    manifest.warnings = opened.warnings;
    manifest.relisted += u64::from(opened.relisted);
    let shard = opened.shard;
    let mut dirs = BTreeSet::new();
    if let Some(shard) = &shard {
        let selected: Vec<usize> = (0..shard.measurements().len())
            .filter(|&i| ctx.config.filter.measurement(&shard.measurements()[i].name))
            .collect();
        // A shard's measurements are independent files: idle workers take them, so a
        // directory with fewer shards than threads still keeps every core busy. Each
        // measurement records into its own part of the manifest; the parts are joined
        // in measurement order, so the manifest does not depend on the scheduling.
        let mut outcomes: Vec<(Manifest, Result<Option<PathBuf>, Failure>)> = selected
            .par_iter()
            .with_max_len(1)
            .map(|&index| {
                let schema = &shard.measurements()[index];
                let mut part = Manifest::new(loc, 0);
                let result = export_measurement(ctx, shard, loc, index, schema, &mut part);
                if let Err(failure) = &result
                    && failure.is_fatal(ctx.config.skip_corrupt)
                {
                    // The shard fails: its other measurements need not finish.
                    ctx.cancel.store(true, Ordering::Relaxed);
                }
                (part, result)
            })
            .collect();
        // The first failure in measurement order is the shard's error, also when a later
        // measurement was only cancelled because of it.
        let fatal = outcomes.iter().position(|(_, result)| {
            result
                .as_ref()
                .is_err_and(|failure| failure.is_fatal(ctx.config.skip_corrupt))
        });
        if let Some(pos) = fatal
            && let (_, Err(failure)) = outcomes.swap_remove(pos)
        {
            let name = String::from_utf8_lossy(&shard.measurements()[selected[pos]].name);
            return Err(failure.into_error(shard_name(loc), name.into_owned()));
        }
        if outcomes
            .iter()
            .any(|(_, r)| matches!(r, Err(Failure::Cancelled)))
        {
            return Ok(None);
        }
        for (&index, (part, result)) in selected.iter().zip(outcomes) {
            manifest.absorb(part);
            match result {
                Ok(Some(dir)) => {
                    dirs.insert(dir);
                }
                Ok(None) => {}
                Err(Failure::Data(err)) => {
                    let name = String::from_utf8_lossy(&shard.measurements()[index].name);
                    manifest
                        .skipped
                        .push(SkipRecord::new(loc, Some(name.into_owned()), &err));
                }
                Err(Failure::Other(_) | Failure::Cancelled) => {
                    unreachable!("fatal failures and cancellations returned above")
                }
            }
        }
    }
    Ok(Some(dirs))
}

/// Most parts one measurement is cut into.
const MAX_PARTS: usize = 16;

/// Series keys `from <= series < to`; `None` is open.
type SeriesRange<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// What was written of a measurement or of a part of it.
#[derive(Default)]
pub(crate) struct Written {
    pub(crate) rows: u64,
    pub(crate) values: u64,
    pub(crate) stats: influx_tsm_arrow::Stats,
    pub(crate) casts: CastStats,
    /// Earliest and latest timestamp written; none before the first row.
    pub(crate) time_range: Option<(i64, i64)>,
}

impl Written {
    pub(crate) fn add(&mut self, other: &Written) {
        self.rows += other.rows;
        self.values += other.values;
        self.stats.add(&other.stats);
        self.casts.add(&other.casts);
        self.add_times(other.time_range);
    }

    /// Counts a converted batch's rows, values and times.
    pub(crate) fn count(&mut self, converted: &Converted) {
        self.rows += converted.rows;
        self.values += converted.values;
        self.add_times(Some(converted.time_range));
    }

    fn add_times(&mut self, range: Option<(i64, i64)>) {
        if let Some((min, max)) = range {
            self.time_range = Some(match self.time_range {
                Some((a, b)) => (a.min(min), b.max(max)),
                None => (min, max),
            });
        }
    }
}

/// A part (or the whole) of a measurement, written and committed.
struct PartFile {
    written: Written,
    /// The file and its size; none when the part had no rows.
    file: Option<(PathBuf, u64)>,
}

/// What one part (or the whole) of a measurement produced.
struct PartOutcome {
    result: Result<PartFile, Failure>,
    /// Damaged blocks left out (`--skip-corrupt`).
    damaged_blocks: Vec<influx_tsm_shard::Error>,
}

/// Where one measurement's rows go.
pub(crate) struct Target<'a> {
    pub(crate) loc: &'a ShardLocation,
    /// The shards of the file's group (the shard of `loc` alone, or a group's).
    pub(crate) shards: &'a [u64],
    /// The measurement's schema in this shard, and its columns.
    pub(crate) schema: &'a MeasurementSchema,
    pub(crate) columns: &'a Columns,
    /// From the shard's columns to the measurement's table.
    pub(crate) projection: &'a Projection,
    /// The table's schema with the file's metadata.
    pub(crate) file_schema: SchemaRef,
}

impl Target<'_> {
    /// The settings of the measurement's file.
    fn settings(&self, config: &Options) -> FileSettings<'_> {
        FileSettings::new(
            config,
            &self.loc.database,
            &self.loc.retention_policy,
            &self.schema.name,
            self.shards,
        )
    }

    /// The measurement's file settings that do not depend on its data.
    fn file_properties(&self, config: &Options) -> Result<WriterPropertiesBuilder> {
        file_properties(&self.settings(config))
    }

    /// The settings of a file whose first batch is `first_batch`.
    fn writer_properties(
        &self,
        config: &Options,
        first_batch: &RecordBatch,
    ) -> Result<WriterProperties> {
        writer_properties(&self.settings(config), first_batch)
    }
}

/// Exports one measurement of a shard; returns the folder of the file written, if any
/// (none when no point falls in the time range).
///
/// A measurement of many series is cut into series ranges ([`Shard::split_series`]),
/// written as parts by whichever workers are idle and joined into the one file
/// ([`crate::parquet_file::parts::PartJoiner`], as the parts finish): a shard holding one huge
/// measurement still uses every core. The rows and their order are those of one piece.
fn export_measurement(
    ctx: &Shared<'_>,
    shard: &Shard,
    loc: &ShardLocation,
    index: usize,
    schema: &MeasurementSchema,
    manifest: &mut Manifest,
) -> Result<Option<PathBuf>, Failure> {
    let relative = relative_path(&loc.database, &loc.retention_policy, &schema.name, loc.id);
    let dest = ctx.out.root().join(&relative);
    let parts = (shard.series_count(index) / ctx.config.series_per_part).clamp(1, MAX_PARTS);
    let cuts = if parts > 1 {
        shard.split_series(index, parts)
    } else {
        Vec::new()
    };
    let bounds = series_ranges(&cuts);
    // In parts: each is a temporary file, joined at the end.
    let split = bounds.len() > 1;
    let columns = Columns::new(schema);
    let (table, projection) = table_of(ctx, loc, schema)?;
    let target = Target {
        loc,
        shards: std::slice::from_ref(&loc.id),
        schema,
        columns: &columns,
        projection: &projection,
        file_schema: file_schema(
            table.columns().schema(),
            &FileSettings::new(
                ctx.config,
                &loc.database,
                &loc.retention_policy,
                &schema.name,
                std::slice::from_ref(&loc.id),
            ),
        ),
    };
    // The column chunks come encoded from the parts (each part chose its field encodings
    // from its own first batch): the file's own settings are enough to join them.
    let joiner = match split {
        true => Some(PartJoiner::new(
            &dest,
            target.file_schema.clone(),
            target.file_properties(ctx.config)?.build(),
        )),
        false => None,
    };
    let outcomes = write_parts(ctx, shard, index, &target, &bounds, &dest, joiner.as_ref());
    let measurement = String::from_utf8_lossy(&schema.name).into_owned();
    let (total, files, failure) = gather(outcomes, manifest, loc, &measurement);
    if let Some(failure) = failure {
        // Finished parts are hidden temporary files, and so is what was joined of them; a
        // single piece that failed was never committed.
        if let Some(joiner) = joiner {
            joiner.abort();
        }
        return Err(failure);
    }
    let bytes = match (joiner, files.as_slice()) {
        (_, []) => return Ok(None),
        (None, [(_, bytes)]) => *bytes,
        (Some(joiner), _) => match joiner.finish(bounds.len())? {
            Some(bytes) => bytes,
            None => return Ok(None),
        },
        (None, _) => {
            return Err(Failure::Other(Error::Internal(InternalError::Impossible(
                "a measurement written in one piece made several files",
            ))));
        }
    };
    let time_range = total.time_range;
    manifest.files.push(FileRecord {
        measurement: measurement.clone(),
        path: path_string(&relative),
        rows: total.rows,
        values: total.values,
        bytes,
        min_time: time_range.map(|(min, _)| min),
        max_time: time_range.map(|(_, max)| max),
    });
    record_fields(manifest, schema, &measurement, &total);
    Ok(dest.parent().map(Path::to_path_buf))
}

/// The series ranges between `cuts` (sorted series keys): one open range without cuts.
fn series_ranges(cuts: &[Vec<u8>]) -> Vec<SeriesRange<'_>> {
    (0..=cuts.len())
        .map(|i| {
            let from = i.checked_sub(1).map(|j| cuts[j].as_slice());
            (from, cuts.get(i).map(Vec::as_slice))
        })
        .collect()
}

/// The measurement's table, and the projection from this shard's schema to it.
fn table_of<'t>(
    ctx: &'t Shared<'_>,
    loc: &ShardLocation,
    schema: &MeasurementSchema,
) -> Result<(&'t Table, Projection), Failure> {
    let table = ctx
        .tables
        .get(&loc.database, &loc.retention_policy, &schema.name)
        .ok_or(Error::Internal(InternalError::Impossible(
            "a measurement without a table",
        )))?;
    let projection = table
        .projection(schema)
        .map_err(|err| Failure::Other(Error::Arrow(err)))?;
    Ok((table, projection))
}

/// Writes the parts of a measurement (`bounds`, one piece when there is one bound), each
/// into its temporary file when `joiner` joins them; the outcomes in part order.
///
/// Parts are handed out in order (a parallel iterator would split them in halves), so
/// they finish nearly in order and each is joined while the ones after it are written.
fn write_parts(
    ctx: &Shared<'_>,
    shard: &Shard,
    index: usize,
    target: &Target<'_>,
    bounds: &[SeriesRange<'_>],
    dest: &Path,
    joiner: Option<&PartJoiner>,
) -> Vec<PartOutcome> {
    let split = bounds.len() > 1;
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<PartOutcome>>> = bounds.iter().map(|_| Mutex::new(None)).collect();
    let workers = rayon::current_num_threads().clamp(1, bounds.len());
    (0..workers).into_par_iter().with_max_len(1).for_each(|_| {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&(from, to)) = bounds.get(i) else {
                break;
            };
            let part_dest = if split {
                part_path(dest, i)
            } else {
                dest.to_path_buf()
            };
            let rows = shard.rows_between(index, ctx.config.range, from, to);
            let outcome = write_part(ctx, target, rows, part_dest, split);
            if let (Some(joiner), Ok(part)) = (joiner, &outcome.result) {
                joiner.part_done(i, part.file.as_ref().map(|(path, _)| path.clone()));
            }
            *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            let outcome = slot.into_inner().unwrap_or_else(|e| e.into_inner());
            outcome.unwrap_or_else(|| PartOutcome {
                result: Err(Failure::Other(Error::Internal(InternalError::Impossible(
                    "a part of a measurement was never written",
                )))),
                damaged_blocks: Vec::new(),
            })
        })
        .collect()
}

/// The parts' outcomes added up: what was written, the files, and the first failure in
/// part order (a later part may only have been cancelled); damaged blocks are recorded.
fn gather(
    outcomes: Vec<PartOutcome>,
    manifest: &mut Manifest,
    loc: &ShardLocation,
    measurement: &str,
) -> (Written, Vec<(PathBuf, u64)>, Option<Failure>) {
    let mut total = Written::default();
    let mut files = Vec::new();
    let mut failure = None;
    for outcome in outcomes {
        manifest.skipped.extend(
            outcome
                .damaged_blocks
                .iter()
                .map(|err| SkipRecord::block(loc, measurement.to_string(), err)),
        );
        match outcome.result {
            Ok(part) => {
                total.add(&part.written);
                files.extend(part.file);
            }
            Err(err) => {
                if failure.is_none() || matches!(failure, Some(Failure::Cancelled)) {
                    failure = Some(err);
                }
            }
        }
    }
    (total, files, failure)
}

/// Records a measurement's fields and what its values went through.
fn record_fields(
    manifest: &mut Manifest,
    schema: &MeasurementSchema,
    measurement: &str,
    written: &Written,
) {
    manifest
        .fields
        .extend(schema.fields.iter().map(|f| FieldRecord {
            shards: Vec::new(),
            measurement: measurement.to_string(),
            field: String::from_utf8_lossy(&f.key).into_owned(),
            field_type: f.field_type.name().to_string(),
        }));
    manifest.replaced_field_values += written.stats.replaced_field_values;
    manifest.replaced_tag_values += written.stats.replaced_tag_values;
    manifest.cast_values += written.casts.cast;
    manifest.inexact_values += written.casts.inexact;
}

/// Streams `rows` into a file at `dest` (created at the first row) and commits it; a
/// `part` is only finished, under its temporary name, to be joined.
fn write_part(
    ctx: &Shared<'_>,
    target: &Target<'_>,
    rows: MeasurementRows<'_>,
    dest: PathBuf,
    part: bool,
) -> PartOutcome {
    let mut file = None;
    let mut damaged_blocks = Vec::new();
    let written = write_measurement(ctx, target, rows, &dest, &mut file, &mut damaged_blocks);
    let result = match written {
        Ok(written) => {
            let finished = file
                .map(|file| match part {
                    true => file.finish_temporary(),
                    false => file.commit().map(|bytes| (dest, bytes)),
                })
                .transpose();
            match finished {
                Ok(file) => Ok(PartFile { written, file }),
                Err(err) => Err(Failure::Other(err)),
            }
        }
        Err(failure) => {
            if let Some(file) = file {
                file.abort();
            }
            Err(failure)
        }
    };
    PartOutcome {
        result,
        damaged_blocks,
    }
}

/// Streams the rows' batches into `file` (created at the first row, as `dest`); returns
/// the rows, values and lossy replacements written. Damaged blocks left out under
/// `--skip-corrupt` are added to `damaged_blocks`.
///
/// Decoding the next batch overlaps encoding the previous one (`rayon::join`, so an idle
/// worker takes whichever half it can): at most two converted batches per measurement
/// are alive at once, besides the rows being decoded.
pub(crate) fn write_measurement(
    ctx: &Shared<'_>,
    target: &Target<'_>,
    mut rows: MeasurementRows<'_>,
    dest: &Path,
    file: &mut Option<PendingFile>,
    damaged_blocks: &mut Vec<influx_tsm_shard::Error>,
) -> Result<Written, Failure> {
    let config = ctx.config;
    let mut batch = RowBatch::new(target.schema);
    let mut written = Written::default();
    // The next batch to encode.
    let mut next: Option<Converted> = None;
    let mut first = true;
    loop {
        if ctx.cancel.load(Ordering::Relaxed) {
            return Err(Failure::Cancelled);
        }
        let pending = next.take();
        if pending.is_none() && !first {
            break;
        }
        first = false;
        // Until a batch has been taken back, whole buffers at once rather than grown step
        // by step (a no-op once reclaimed; capacity never written costs no pages).
        batch.reserve(config.batch_rows);
        let (result, decoded) = rayon::join(
            || match &pending {
                Some(converted) => write_batch(ctx, target, dest, file, &converted.batch),
                None => Ok(()),
            },
            || next_record_batch(config, target, &mut rows, &mut batch, &mut written),
        );
        result?;
        if let Some(converted) = pending {
            written.count(&converted);
            ctx.progress.values_written(converted.values);
            // The next batch is decoded into this one's buffers.
            target.projection.reclaim(converted.batch, &mut batch);
        }
        next = decoded?;
        damaged_blocks.extend(rows.take_skipped());
    }
    Ok(written)
}

/// A batch converted to the table's columns, with what it holds.
pub(crate) struct Converted {
    pub(crate) batch: RecordBatch,
    pub(crate) rows: u64,
    pub(crate) values: u64,
    /// Its earliest and latest timestamp.
    pub(crate) time_range: (i64, i64),
}

/// Decodes and converts the next non-empty batch; `None` at the end. Lossy UTF-8
/// replacements and casts are added to `written`.
pub(crate) fn next_record_batch(
    config: &Options,
    target: &Target<'_>,
    rows: &mut MeasurementRows<'_>,
    batch: &mut RowBatch,
    written: &mut Written,
) -> Result<Option<Converted>, Failure> {
    loop {
        if !rows
            .next_batch(batch, config.batch_rows, config.batch_bytes)
            .map_err(Failure::Data)?
        {
            return Ok(None);
        }
        let (Some(&min), Some(&max)) = (batch.time.iter().min(), batch.time.iter().max()) else {
            continue;
        };
        let (row_count, values) = (batch.len() as u64, batch.value_count() as u64);
        // The buffers move into the arrays; `reclaim` gives them back once written.
        let owned = batch.take();
        let arrow = |err| Failure::Other(Error::Arrow(err));
        let shard_batch =
            influx_tsm_arrow::into_record_batch(target.columns, owned, &mut written.stats)
                .map_err(arrow)?;
        let table_batch = target
            .projection
            .apply(&shard_batch, &mut written.casts)
            .map_err(arrow)?;
        return Ok(Some(Converted {
            batch: table_batch,
            rows: row_count,
            values,
            time_range: (min, max),
        }));
    }
}

/// Writes one batch into `file`, creating it as `dest` first if needed.
fn write_batch(
    ctx: &Shared<'_>,
    target: &Target<'_>,
    dest: &Path,
    file: &mut Option<PendingFile>,
    record_batch: &RecordBatch,
) -> Result<(), Failure> {
    let file = match file {
        Some(file) => file,
        none => {
            let properties = target.writer_properties(ctx.config, record_batch)?;
            none.insert(PendingFile::create(
                dest.to_path_buf(),
                target.file_schema.clone(),
                properties,
            )?)
        }
    };
    file.write(record_batch)?;
    Ok(())
}
