//! Turns a shard's merged view of one measurement ([`influx_tsm_shard::rows::RowBatch`]) into typed
//! Arrow record batches.
//!
//! # Columns
//!
//! | column | Arrow type | nulls |
//! | --- | --- | --- |
//! | `time` | `Timestamp(Nanosecond, "UTC")` | never |
//! | one per tag key, sorted | `Dictionary(Int32, Utf8)` | where the series lacks the tag |
//! | one per field key, sorted | `Float64`, `Int64`, `UInt64`, `Utf8` or `Boolean`, the field's type in the shard | where the point lacks the field |
//!
//! A field whose key equals a tag key, or any key equal to `time`, gets a distinct column
//! name (`key_1`, `key_2`, ..., as InfluxQL does); see [`Columns`]. Every column carries
//! Arrow field metadata [`META_ROLE`] (`time`, `tag` or `field`) and [`META_KEY`] (the
//! original key), so nothing about a clash is lost.
//!
//! # Bytes that are not UTF-8
//!
//! InfluxDB stores tag values and string fields as bytes; Arrow's `Utf8` must be UTF-8.
//! Each string or tag value that is not valid UTF-8 is replaced lossily (every invalid
//! sequence becomes U+FFFD, as [`String::from_utf8_lossy`] does) and counted in
//! [`Stats`], so the caller can report how many cells were changed. Valid data pays one
//! UTF-8 check over each column's whole buffer. Keys that are not UTF-8 appear lossily in
//! column names and [`META_KEY`], and exactly (hex) in [`META_KEY_HEX`].
//!
//! # Example
//!
//! ```
//! use arrow_array::{Array, Float64Array, StringArray};
//! use influx_tsm_shard::rows::{FieldColumn, FieldSchema, MeasurementSchema, RowBatch, SeriesRun};
//! use influx_tsm_shard::{FieldType, Values};
//!
//! // `cpu,host=a value=1.5,host="x" 10` and `cpu,host=a value=2.5 20`: the field `host`
//! // clashes with the tag `host`.
//! let schema = MeasurementSchema {
//!     name: b"cpu".to_vec(),
//!     tag_keys: vec![b"host".to_vec()],
//!     fields: vec![
//!         FieldSchema { key: b"host".to_vec(), field_type: FieldType::String },
//!         FieldSchema { key: b"value".to_vec(), field_type: FieldType::Float },
//!     ],
//! };
//! let rows = RowBatch {
//!     series: [SeriesRun { key: b"cpu,host=a".to_vec(), tags: vec![Some(b"a".to_vec())], rows: 2 }]
//!         .into_iter()
//!         .collect(),
//!     time: vec![10, 20],
//!     fields: vec![
//!         FieldColumn {
//!             valid: vec![true, false],
//!             values: Values::String([&b"x"[..], b""].into_iter().collect()),
//!         },
//!         FieldColumn { valid: vec![true, true], values: Values::Float(vec![1.5, 2.5]) },
//!     ],
//! };
//!
//! let columns = influx_tsm_arrow::Columns::new(&schema);
//! let batch = influx_tsm_arrow::record_batch(&columns, &rows)?;
//!
//! let names: Vec<_> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
//! assert_eq!(names, ["time", "host", "host_1", "value"]);
//! let host_field = batch.schema().field(2).metadata().clone();
//! assert_eq!(host_field["influxdb.role"], "field");
//! assert_eq!(host_field["influxdb.key"], "host");
//!
//! let strings = batch.column(2).as_any().downcast_ref::<StringArray>().unwrap();
//! assert_eq!(strings.value(0), "x");
//! assert!(strings.is_null(1));
//! let values = batch.column(3).as_any().downcast_ref::<Float64Array>().unwrap();
//! assert_eq!(values.values(), &[1.5, 2.5]);
//! # Ok::<(), influx_tsm_arrow::Error>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod columns;
mod error;
#[cfg(feature = "ffi")]
pub mod ffi;
mod reader;
mod schema;
mod table;

use std::borrow::Cow;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use influx_tsm_shard::rows::{MeasurementSchema, RowBatch, SeriesRuns};

use crate::columns::{ValuesSource, field_array, tag_array, time_array};
pub use crate::error::{Error, Result};
pub use crate::reader::{
    DEFAULT_BATCH_BYTES, DEFAULT_BATCH_ROWS, MeasurementReader, MeasurementScan, ReadOptions,
    ScanBuilder, open_on_pool,
};
pub use crate::schema::{
    Column, Columns, META_CAST_FROM, META_KEY, META_KEY_HEX, META_MEASUREMENT,
    META_MEASUREMENT_HEX, META_ROLE, META_TYPE, Role, field_data_type, hex, tag_data_type,
    time_data_type, unhex,
};
pub use crate::table::{
    CastStats, Projection, Table, TableBuilder, TableField, TypeConflicts, influxql_precedence,
};

/// The Arrow schema of `measurement`'s record batches (shorthand for
/// [`Columns::new`]`(measurement).schema()`).
pub fn schema(measurement: &MeasurementSchema) -> SchemaRef {
    Columns::new(measurement).schema().clone()
}

/// What a conversion changed: counts of cells whose bytes were not UTF-8 and were
/// replaced lossily. Counts add up over calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Non-null string field values replaced.
    pub replaced_field_values: u64,
    /// Rows whose tag value was replaced (counted once per tag column and row).
    pub replaced_tag_values: u64,
}

impl Stats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Stats) {
        self.replaced_field_values += other.replaced_field_values;
        self.replaced_tag_values += other.replaced_tag_values;
    }
}

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
/// `into` must have `batch`'s field columns (the same [`MeasurementSchema`]); columns that
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
