//! Our readers as an Arrow C stream ([`FFI_ArrowArrayStream`], the Arrow C stream
//! interface): the one way across a difference of arrow-rs versions.
//!
//! A Rust type of arrow-rs is only the same type for code built on the same arrow-rs
//! release, so a program on an older or newer Arrow (DataFusion, pyo3-arrow, Polars) cannot
//! take a [`MeasurementScan`](crate::MeasurementScan) as a `RecordBatchReader` of its own.
//! The C stream is a `#[repr(C)]` struct of function pointers whose layout the Arrow
//! specification fixes, so every arrow-rs release (and pyarrow, DuckDB, Polars, DataFusion)
//! reads it: hand the stream to the other version's
//! `arrow_array::ffi_stream::ArrowArrayStreamReader::from_raw`, or to Python as an
//! `arrow_array_stream` capsule. The batches' buffers are shared, not copied.
//!
//! ```
//! use influx_tsm_arrow::ScanBuilder;
//! use arrow_array::ffi_stream::ArrowArrayStreamReader;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::path::Path::new("../../fixtures/small-a/influxdb");
//! let scan = ScanBuilder::new("airq", "air").open_dir(dir)?;
//! let stream = influx_tsm_arrow::ffi::into_stream(scan);
//! // The same arrow-rs here; another version takes it through `from_raw`.
//! let reader = ArrowArrayStreamReader::try_new(stream)?;
//! let rows: usize = reader.map(|b| b.map(|b| b.num_rows())).sum::<Result<_, _>>()?;
//! assert!(rows > 0);
//! # Ok(())
//! # }
//! ```

use arrow_array::RecordBatchReader;
pub use arrow_array::ffi_stream::FFI_ArrowArrayStream;

/// `reader` as an Arrow C stream. Errors of the reader reach the consumer as the stream's
/// last error (their `Display` text, naming the file and byte offset of damaged data).
/// The stream owns the reader; releasing the stream drops it.
pub fn into_stream(reader: impl RecordBatchReader + Send + 'static) -> FFI_ArrowArrayStream {
    FFI_ArrowArrayStream::new(Box::new(reader))
}
