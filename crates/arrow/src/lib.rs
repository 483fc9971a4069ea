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

mod batch;
mod columns;
mod error;
#[cfg(feature = "ffi")]
pub mod ffi;
mod reader;
mod schema;
mod stats;
mod table;

use arrow_schema::SchemaRef;
use influx_tsm_shard::rows::MeasurementSchema;

pub use crate::batch::{into_record_batch, reclaim, record_batch, record_batch_counted};
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
pub use crate::stats::Stats;
pub use crate::table::{
    CastStats, Projection, Table, TableBuilder, TableField, TypeConflicts, influxql_precedence,
};

/// The Arrow schema of `measurement`'s record batches (shorthand for
/// [`Columns::new`]`(measurement).schema()`).
pub fn schema(measurement: &MeasurementSchema) -> SchemaRef {
    Columns::new(measurement).schema().clone()
}
