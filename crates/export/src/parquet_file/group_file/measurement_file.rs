//! A group's file of one measurement, open while the group's shards are appended to it:
//! written, recorded, committed or dropped.

use crate::destination::records::{FieldRecord, FileRecord, Manifest, SkipRecord};
use crate::error::{Error, Result};
use crate::naming::path_string;
use crate::parquet_file::output::{FileSettings, PendingFile, writer_properties};
use crate::parquet_file::shard_file::Written;
use crate::plan::group::ShardGroup;
use crate::run::{Failure, Shared};
use crate::shard::shard_name;
use arrow_array::RecordBatch;
use influx_tsm_shard::layout::ShardLocation;
use influx_tsm_shard::rows::MeasurementSchema;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

/// One measurement's file of the group, being written.
pub(crate) struct MeasurementFile {
    /// Its database, retention policy and measurement.
    pub(crate) database: String,
    pub(crate) retention_policy: String,
    pub(crate) measurement: Vec<u8>,
    /// Relative to the output folder.
    pub(crate) relative: PathBuf,
    /// The table's schema with the file's metadata (made once: it lists every shard).
    pub(crate) schema: Option<arrow_schema::SchemaRef>,
    pub(crate) file: Option<PendingFile>,
    /// Batches of small shards gathered to be written as one, and their rows.
    pub(crate) pending: Vec<RecordBatch>,
    pub(crate) pending_rows: u64,
    pub(crate) written: Written,
    /// Field types, per shard, of what was written.
    pub(crate) fields: Vec<FieldRecord>,
    pub(crate) skipped: Vec<SkipRecord>,
    /// Left out under `--skip-corrupt` after damage that could not be skipped block by
    /// block: nothing more is written and the file is not committed.
    pub(crate) dropped: bool,
}

/// Most measurement files of a group open at once (each holds a file descriptor until
/// the group is done): a group of more measurements is written in passes over its shards,
/// this many measurements each, so that thousands of measurements stay within the
/// usual limit of 1,024 open files. (Each pass opens the shards it did not keep again: on
/// a running server each pass reads its own moment of them.)
pub(crate) const MAX_OPEN_FILES: usize = 256;

/// Writes the gathered batches of small shards into the file, as one batch (creating the
/// file at its first rows).
pub(crate) fn flush(
    ctx: &Shared<'_>,
    group: &ShardGroup,
    file: &mut MeasurementFile,
) -> Result<(), Failure> {
    let pending = std::mem::take(&mut file.pending);
    file.pending_rows = 0;
    let Some(schema) = file.schema.clone() else {
        return Ok(());
    };
    let batch = match pending.len() {
        0 => return Ok(()),
        1 => pending.into_iter().next().expect("one batch"),
        _ => arrow_select::concat::concat_batches(&pending[0].schema(), &pending)
            .map_err(|err| Failure::Other(Error::Arrow(influx_tsm_arrow::Error::Arrow(err))))?,
    };
    let pending_file = match &mut file.file {
        Some(pending_file) => pending_file,
        none => {
            let settings = FileSettings::new(
                ctx.config,
                &file.database,
                &file.retention_policy,
                &file.measurement,
                &group.ids,
            );
            let properties = writer_properties(&settings, &batch)?;
            let dest = ctx.out.root().join(&file.relative);
            none.insert(PendingFile::create(dest, schema, properties)?)
        }
    };
    pending_file.write(&batch)?;
    Ok(())
}

/// Records the damaged blocks of `schema`'s measurement left out in shard `loc`.
pub(crate) fn record_damage(
    file: &mut MeasurementFile,
    loc: &ShardLocation,
    schema: &MeasurementSchema,
    damaged: &[influx_tsm_shard::Error],
) {
    let name = String::from_utf8_lossy(&schema.name);
    file.skipped.extend(
        damaged
            .iter()
            .map(|err| SkipRecord::block(loc, name.clone().into_owned(), err)),
    );
}

/// Records what shard `loc` added to the file: its rows and its fields' types.
pub(crate) fn record_written(
    file: &mut MeasurementFile,
    loc: &ShardLocation,
    schema: &MeasurementSchema,
    written: &Written,
) {
    if written.rows > 0 {
        let name = String::from_utf8_lossy(&schema.name);
        file.fields
            .extend(schema.fields.iter().map(|f| FieldRecord {
                shards: vec![loc.id],
                measurement: name.clone().into_owned(),
                field: String::from_utf8_lossy(&f.key).into_owned(),
                field_type: f.field_type.name().to_string(),
            }));
    }
    file.written.add(written);
}

/// A shard's failure: damage that `--skip-corrupt` skips drops the file
/// ([`drop_file`]); anything else stops the group.
pub(crate) fn fail(
    ctx: &Shared<'_>,
    group: &ShardGroup,
    file: &mut MeasurementFile,
    loc: &ShardLocation,
    schema: &MeasurementSchema,
    failure: Failure,
) -> Result<(), (String, Failure)> {
    match failure {
        Failure::Data(err) if ctx.config.skip_corrupt && err.is_corruption() => {
            let name = String::from_utf8_lossy(&schema.name);
            drop_file(file, loc, &name, &err, group);
            Ok(())
        }
        failure => Err((shard_name(loc), failure)),
    }
}

/// Leaves `measurement`'s file of the group out after damage in shard `loc` that could
/// not be skipped block by block (`--skip-corrupt`): the rows of the group's other shards
/// already in the file cannot be taken back, so the whole file goes, and every shard of
/// the group is recorded as having lost the measurement.
pub(crate) fn drop_file(
    file: &mut MeasurementFile,
    loc: &ShardLocation,
    measurement: &str,
    err: &influx_tsm_shard::Error,
    group: &ShardGroup,
) {
    if let Some(pending) = file.file.take() {
        pending.abort();
    }
    file.pending.clear();
    file.pending_rows = 0;
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
pub(crate) fn abort_all(files: BTreeMap<Vec<u8>, Mutex<MeasurementFile>>) {
    for file in files.into_values() {
        let file = file.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(pending) = file.file {
            pending.abort();
        }
    }
}

/// Commits every file of the group (in parallel: each is synced) and records them, in
/// measurement order; returns the folders written into.
pub(crate) fn commit_all(
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
