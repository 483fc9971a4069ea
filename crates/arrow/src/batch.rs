//! A shard's rows as an Arrow record batch, and the buffers handed back for reuse.

use std::borrow::Cow;

use arrow_array::{ArrayRef, RecordBatch};
use influx_tsm_shard::rows::{RowBatch, SeriesRuns};

use crate::columns::{ValuesSource, field_array, tag_array, time_array};
use crate::error::{Error, Result};
use crate::schema::Columns;
use crate::stats::Stats;

/// Converts `rows` into a record batch of `columns`' schema, copying numeric buffers in
/// bulk (use [`into_record_batch`] to move them instead).
///
/// # Errors
/// [`Error::Shape`] when `rows` does not fit `columns` (column count, lengths, types);
/// [`Error::StringsTooLong`] when a string column holds 2 GiB or more.
pub fn record_batch(columns: &Columns, rows: &RowBatch) -> Result<RecordBatch> {
    record_batch_counted(columns, rows, &mut Stats::default())
}

/// [`record_batch`], adding lossy UTF-8 replacements to `stats`.
///
/// # Errors
/// As [`record_batch`].
pub fn record_batch_counted(
    columns: &Columns,
    rows: &RowBatch,
    stats: &mut Stats,
) -> Result<RecordBatch> {
    check_shape(columns, rows)?;
    let fields = rows.fields.iter().map(|f| {
        (
            Cow::Borrowed(f.valid.as_slice()),
            ValuesSource::borrowed(&f.values),
        )
    });
    build(
        columns,
        &rows.series,
        rows.time.len(),
        Cow::Borrowed(&rows.time),
        fields,
        stats,
    )
}

/// Converts `rows` into a record batch, moving its timestamp and numeric buffers into the
/// arrays without copying them.
///
/// # Errors
/// As [`record_batch`].
pub fn into_record_batch(
    columns: &Columns,
    rows: RowBatch,
    stats: &mut Stats,
) -> Result<RecordBatch> {
    check_shape(columns, &rows)?;
    let RowBatch {
        series,
        time,
        fields,
    } = rows;
    let len = time.len();
    let fields = fields
        .into_iter()
        .map(|f| (Cow::Owned(f.valid), ValuesSource::owned(f.values)));
    build(columns, &series, len, Cow::Owned(time), fields, stats)
}

/// Takes back the timestamp and numeric buffers of a record batch made by
/// [`into_record_batch`], once nothing else holds them, into `into` (emptied, capacity
/// kept) so the next batch is decoded into them: no fresh allocation per batch, whose
/// pages the kernel would have to zero again. Buffers still shared, or of another shape,
/// are left alone; string, boolean and validity buffers are not taken back.
///
/// `into` must have `batch`'s field columns (the same [`MeasurementSchema`](influx_tsm_shard::rows::MeasurementSchema)); columns that
/// do not match are skipped.
pub fn reclaim(batch: RecordBatch, into: &mut RowBatch) {
    let fields = into.fields.len();
    let (_, arrays, _) = batch.into_parts();
    let Some(tags) = arrays.len().checked_sub(1 + fields) else {
        return;
    };
    let mut arrays = arrays.into_iter();
    if let Some(time) = arrays.next() {
        put_back(&mut into.time, time);
    }
    for (array, field) in arrays.skip(tags).zip(&mut into.fields) {
        put_back_values(&mut field.values, array);
    }
}

/// Replaces `values`' buffer with `array`'s when both have the same numeric type and
/// [`reclaim_values`] can take it.
pub(crate) fn put_back_values(values: &mut influx_tsm_shard::Values, array: ArrayRef) {
    match (values, array.data_type()) {
        (influx_tsm_shard::Values::Float(v), arrow_schema::DataType::Float64) => put_back(v, array),
        (influx_tsm_shard::Values::Integer(v), arrow_schema::DataType::Int64) => put_back(v, array),
        (influx_tsm_shard::Values::Unsigned(v), arrow_schema::DataType::UInt64) => {
            put_back(v, array)
        }
        _ => {}
    }
}

/// Replaces `slot` with `array`'s values buffer when [`reclaim_values`] can take it.
pub(crate) fn put_back<T: arrow_buffer::ArrowNativeType>(slot: &mut Vec<T>, array: ArrayRef) {
    if let Some(values) = reclaim_values(array) {
        *slot = values;
    }
}

/// The values buffer of a primitive array as an empty `Vec` with its capacity, if this
/// was the last reference to it.
fn reclaim_values<T: arrow_buffer::ArrowNativeType>(array: ArrayRef) -> Option<Vec<T>> {
    // The clone shares the buffers; dropping the array leaves it their only holder.
    let data = array.to_data();
    drop(array);
    let (_, _, _, offset, mut buffers, _) = data.into_parts();
    if offset != 0 || buffers.len() != 1 {
        return None;
    }
    let mut values = buffers.pop()?.into_vec::<T>().ok()?;
    values.clear();
    Some(values)
}

fn build<'a>(
    columns: &Columns,
    series: &SeriesRuns,
    len: usize,
    time: Cow<'a, [i64]>,
    fields: impl Iterator<Item = (Cow<'a, [bool]>, ValuesSource<'a>)>,
    stats: &mut Stats,
) -> Result<RecordBatch> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.columns().len());
    arrays.push(time_array(time));
    for (i, tag) in columns.tags().iter().enumerate() {
        arrays.push(tag_array(&tag.key, series, i, len, stats)?);
    }
    for (column, (valid, values)) in columns.fields().iter().zip(fields) {
        arrays.push(field_array(&column.key, &valid, values, stats)?);
    }
    Ok(RecordBatch::try_new(columns.schema().clone(), arrays)?)
}

fn check_shape(columns: &Columns, rows: &RowBatch) -> Result<()> {
    let len = rows.time.len();
    let run_rows: usize = rows.series.iter().map(|s| s.rows).sum();
    if run_rows != len {
        return Err(Error::Shape(format!(
            "series runs cover {run_rows} rows, batch has {len}"
        )));
    }
    let tags = columns.tags().len();
    if let Some(run) = rows.series.iter().find(|s| s.tag_count() != tags) {
        return Err(Error::Shape(format!(
            "series {:?} has {} tag values, schema has {tags} tag keys",
            String::from_utf8_lossy(run.key),
            run.tag_count()
        )));
    }
    if rows.fields.len() != columns.fields().len() {
        return Err(Error::Shape(format!(
            "batch has {} field columns, schema has {}",
            rows.fields.len(),
            columns.fields().len()
        )));
    }
    for (column, field) in columns.fields().iter().zip(&rows.fields) {
        let name = String::from_utf8_lossy(&column.key);
        if Some(field.values.field_type()) != column.field_type {
            return Err(Error::Shape(format!(
                "field {name:?} holds {} values, schema says {}",
                field.values.field_type(),
                column.field_type.map_or("none", |t| t.name())
            )));
        }
        if field.valid.len() != len || field.values.len() != len {
            return Err(Error::Shape(format!(
                "field {name:?} has {} values and {} flags for {len} rows",
                field.values.len(),
                field.valid.len()
            )));
        }
    }
    Ok(())
}
