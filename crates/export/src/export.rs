//! The export: shards in parallel (one per rayon worker of the caller's pool), each
//! measurement streamed batch by batch into its Parquet file, or each shard into its
//! line-protocol file ([`crate::lp_export`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_array::RecordBatch;
use arrow_build::Columns;
use rayon::prelude::*;
use tsm::layout::ShardLocation;
use tsm::rows::{MeasurementSchema, RowBatch};
use tsm::shard::Shard;

use crate::error::{Error, IoContext, Result, cannot};
use crate::observer::Observer;
use crate::opened::{open_shard, shard_name};
use crate::options::{Format, Options};
use crate::output::{PendingFile, lp_relative_path, relative_path, sync_dir, writer_properties};
use crate::plan::{Plan, PlannedShard, path_string};
use crate::report::ShardResult;
use crate::state::{FieldRecord, FileRecord, Manifest, OutDir, SkipRecord};

struct Shared<'a> {
    config: &'a Options,
    out: &'a OutDir,
    progress: &'a dyn Observer,
    cancel: AtomicBool,
    first_error: Mutex<Option<Error>>,
}

/// Why a measurement stopped.
enum Failure {
    /// Damaged or unreadable input.
    Data(tsm::Error),
    /// Anything else (output I/O, a bug).
    Other(Error),
    /// Another worker failed.
    Cancelled,
}

impl From<Error> for Failure {
    fn from(err: Error) -> Failure {
        Failure::Other(err)
    }
}

/// Exports every planned shard into files under `out`, biggest shards first, one shard
/// per worker of the current rayon pool (call it inside `ThreadPool::install` to choose
/// the pool; idle workers also help encode a shard's Parquet columns).
///
/// # Errors
/// The first error of any worker (the others stop at their next batch); shards finished
/// before it keep their files and manifests, so a resumed export continues from there.
pub fn export(
    config: &Options,
    plan: &Plan,
    out: &OutDir,
    progress: &dyn Observer,
) -> Result<Vec<ShardResult>> {
    let ctx = Shared {
        config,
        out,
        progress,
        cancel: AtomicBool::new(false),
        first_error: Mutex::new(None),
    };
    let mut order: Vec<&PlannedShard> = plan.shards.iter().collect();
    order.sort_by_key(|s| std::cmp::Reverse(s.bytes));
    let results: Vec<Option<ShardResult>> = {
        order
            .par_iter()
            .with_max_len(1)
            .map(|planned| match export_shard_guarded(&ctx, planned) {
                Ok(result) => result,
                Err(err) => {
                    ctx.cancel.store(true, Ordering::Relaxed);
                    let mut first = ctx.first_error.lock().unwrap_or_else(|e| e.into_inner());
                    first.get_or_insert(err);
                    None
                }
            })
            .collect()
    };
    if let Some(err) = ctx
        .first_error
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
    {
        return Err(err);
    }
    let mut results: Vec<ShardResult> = results.into_iter().flatten().collect();
    results.sort_by(|a, b| {
        let key = |r: &ShardResult| {
            (
                r.manifest.database.clone(),
                r.manifest.retention_policy.clone(),
                r.manifest.shard,
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(results)
}

/// [`export_shard`], turning a panic (a bug in a decoder, say) into an error naming the
/// shard, so the other workers stop cleanly and the exit status is 1.
fn export_shard_guarded(ctx: &Shared<'_>, planned: &PlannedShard) -> Result<Option<ShardResult>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| export_shard(ctx, planned)))
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(Error::Internal(format!(
                "internal error while exporting shard {}: {message} (please report this bug)",
                shard_name(&planned.location)
            )))
        })
}

/// Exports one shard; `None` when cancelled.
fn export_shard(ctx: &Shared<'_>, planned: &PlannedShard) -> Result<Option<ShardResult>> {
    let loc = &planned.location;
    if let Some(manifest) = ctx.out.done(loc) {
        ctx.progress.shard_finished(loc, planned.bytes);
        return Ok(Some(ShardResult {
            manifest: manifest.clone(),
            resumed: true,
        }));
    }
    if ctx.cancel.load(Ordering::Relaxed) {
        return Ok(None);
    }
    if ctx.out.is_resume() {
        let lp_file = (ctx.config.format == Format::Lp).then(|| {
            lp_relative_path(
                &loc.database,
                &loc.retention_policy,
                loc.id,
                ctx.config.gzip.is_some(),
            )
        });
        ctx.out.remove_shard_files(loc, lp_file.as_deref())?;
    }
    ctx.progress.shard_started(loc);
    let mut manifest = Manifest::new(loc, planned.bytes);
    let opened = open_shard(ctx.config, loc)
        .map_err(|err| Error::Input(err).in_shard(shard_name(loc), None))?;
    manifest.skipped = opened.skipped;
    manifest.warnings = opened.warnings;
    let shard = opened.shard;
    let mut dirs = BTreeSet::new();
    if let Some(shard) = shard.as_ref().filter(|_| ctx.config.format == Format::Lp) {
        match crate::lp_export::export_shard_file(
            ctx.config,
            &ctx.cancel,
            ctx.progress,
            ctx.out.root(),
            shard,
            &mut manifest,
        )? {
            None => return Ok(None),
            Some(dir) => dirs.extend(dir),
        }
    } else if let Some(shard) = &shard {
        for (index, schema) in shard.measurements().iter().enumerate() {
            if !ctx.config.filter.measurement(&schema.name) {
                continue;
            }
            let name = String::from_utf8_lossy(&schema.name).into_owned();
            match export_measurement(ctx, shard, loc, index, schema, &mut manifest) {
                Ok(Some(dir)) => {
                    dirs.insert(dir);
                }
                Ok(None) => {}
                Err(Failure::Cancelled) => return Ok(None),
                Err(Failure::Data(err)) if ctx.config.skip_corrupt && err.is_corruption() => {
                    manifest
                        .skipped
                        .push(SkipRecord::new(loc, Some(name), &err));
                }
                Err(Failure::Data(err)) => {
                    return Err(Error::Input(err).in_shard(shard_name(loc), Some(name)));
                }
                Err(Failure::Other(err)) => {
                    return Err(err.in_shard(shard_name(loc), Some(name)));
                }
            }
        }
    }
    sync_tree(ctx.out.root(), &dirs)?;
    ctx.out.write_manifest(&manifest)?;
    ctx.progress.shard_finished(loc, planned.bytes);
    Ok(Some(ShardResult {
        manifest,
        resumed: false,
    }))
}

/// Exports one measurement of a shard; returns the folder of the file written, if any
/// (none when no point falls in the time range).
fn export_measurement(
    ctx: &Shared<'_>,
    shard: &Shard,
    loc: &ShardLocation,
    index: usize,
    schema: &MeasurementSchema,
    manifest: &mut Manifest,
) -> Result<Option<PathBuf>, Failure> {
    let mut file = None;
    let mut damaged_blocks = Vec::new();
    let result = write_measurement(
        ctx,
        shard,
        loc,
        index,
        schema,
        &mut file,
        &mut damaged_blocks,
    );
    let measurement = String::from_utf8_lossy(&schema.name).into_owned();
    manifest.skipped.extend(
        damaged_blocks
            .iter()
            .map(|err| SkipRecord::block(loc, measurement.clone(), err)),
    );
    let (rows, values, stats) = match result {
        Ok(counts) => counts,
        Err(failure) => {
            if let Some(file) = file {
                file.abort();
            }
            return Err(failure);
        }
    };
    let Some(file) = file else { return Ok(None) };
    let relative = relative_path(&loc.database, &loc.retention_policy, &schema.name, loc.id);
    let bytes = file.commit()?;
    manifest.files.push(FileRecord {
        measurement: measurement.clone(),
        path: path_string(&relative),
        rows,
        values,
        bytes,
    });
    manifest
        .fields
        .extend(schema.fields.iter().map(|f| FieldRecord {
            measurement: measurement.clone(),
            field: String::from_utf8_lossy(&f.key).into_owned(),
            field_type: f.field_type.name().to_string(),
        }));
    manifest.replaced_field_values += stats.replaced_field_values;
    manifest.replaced_tag_values += stats.replaced_tag_values;
    Ok(ctx
        .out
        .root()
        .join(relative)
        .parent()
        .map(Path::to_path_buf))
}

/// Streams the measurement's batches into `file` (created at the first row); returns the
/// rows, values and lossy replacements written. Damaged blocks left out under
/// `--skip-corrupt` are added to `damaged_blocks`.
///
/// Decoding the next batch overlaps encoding the previous one (`rayon::join`, so an idle
/// worker takes whichever half it can): at most two converted batches per measurement
/// are alive at once, besides the rows being decoded.
fn write_measurement(
    ctx: &Shared<'_>,
    shard: &Shard,
    loc: &ShardLocation,
    index: usize,
    schema: &MeasurementSchema,
    file: &mut Option<PendingFile>,
    damaged_blocks: &mut Vec<tsm::Error>,
) -> Result<(u64, u64, arrow_build::Stats), Failure> {
    let config = ctx.config;
    let columns = Columns::new(schema);
    let mut rows = shard.rows(index, config.range);
    let mut batch = RowBatch::new(schema);
    let mut stats = arrow_build::Stats::default();
    let (mut row_count, mut value_count) = (0u64, 0u64);
    // The next batch to encode, with its row and value counts.
    let mut next: Option<(RecordBatch, u64, u64)> = None;
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
        let (written, decoded) = rayon::join(
            || match &pending {
                Some((record_batch, _, _)) => {
                    write_batch(ctx, loc, schema, &columns, file, record_batch)
                }
                None => Ok(()),
            },
            || next_record_batch(config, &columns, &mut rows, &mut batch, &mut stats),
        );
        written?;
        if let Some((record_batch, rows, values)) = pending {
            row_count += rows;
            value_count += values;
            ctx.progress.values_written(values);
            // The next batch is decoded into this one's buffers.
            arrow_build::reclaim(record_batch, &mut batch);
        }
        next = decoded?;
        damaged_blocks.extend(rows.take_skipped());
    }
    Ok((row_count, value_count, stats))
}

/// Decodes and converts the next non-empty batch; `None` at the end.
fn next_record_batch(
    config: &Options,
    columns: &Columns,
    rows: &mut tsm::shard::MeasurementRows<'_>,
    batch: &mut RowBatch,
    stats: &mut arrow_build::Stats,
) -> Result<Option<(RecordBatch, u64, u64)>, Failure> {
    loop {
        if !rows
            .next_batch(batch, config.batch_rows, config.batch_bytes)
            .map_err(Failure::Data)?
        {
            return Ok(None);
        }
        if batch.is_empty() {
            continue;
        }
        let (rows, values) = (batch.len() as u64, batch.value_count() as u64);
        // The buffers move into the arrays; `reclaim` gives them back once written.
        let owned = batch.take();
        let record_batch = arrow_build::into_record_batch(columns, owned, stats)
            .map_err(|err| Failure::Other(Error::Arrow(err)))?;
        return Ok(Some((record_batch, rows, values)));
    }
}

/// Writes one batch into `file`, creating the file first if needed.
fn write_batch(
    ctx: &Shared<'_>,
    loc: &ShardLocation,
    schema: &MeasurementSchema,
    columns: &Columns,
    file: &mut Option<PendingFile>,
    record_batch: &RecordBatch,
) -> Result<(), Failure> {
    let file = match file {
        Some(file) => file,
        none => {
            let config = ctx.config;
            let dest = ctx.out.root().join(relative_path(
                &loc.database,
                &loc.retention_policy,
                &schema.name,
                loc.id,
            ));
            let properties = writer_properties(
                config.compression,
                config.row_group_size,
                &loc.database,
                &loc.retention_policy,
                &schema.name,
                loc.id,
                record_batch,
            )?;
            none.insert(PendingFile::create(
                dest,
                columns.schema().clone(),
                properties,
            )?)
        }
    };
    file.write(record_batch)?;
    Ok(())
}

/// Syncs each folder in `dirs` and its ancestors up to `root`, so renamed files and new
/// folders survive a crash before the shard's manifest is written.
fn sync_tree(root: &Path, dirs: &BTreeSet<PathBuf>) -> Result<()> {
    let mut all = BTreeSet::new();
    for dir in dirs {
        let mut d = dir.as_path();
        while d.starts_with(root) {
            all.insert(d.to_path_buf());
            match d.parent() {
                Some(parent) if d != root => d = parent,
                _ => break,
            }
        }
    }
    for dir in all {
        sync_dir(&dir).io_context(cannot("sync", &dir))?;
    }
    Ok(())
}
