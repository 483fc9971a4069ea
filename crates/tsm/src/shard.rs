//! One shard opened: its TSM files mapped, tombstones read, WAL replayed; and its merged
//! view by measurement.

use crate::error::Result;
use crate::layout::ShardLocation;
use crate::limits::Limits;
use crate::rows::{MeasurementSchema, RowBatch};

/// A time range: `start` inclusive, `end` exclusive, nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// First nanosecond included.
    pub start: i64,
    /// First nanosecond excluded.
    pub end: i64,
}

impl TimeRange {
    /// Every representable time (`i64::MIN` included, `i64::MAX` excluded; InfluxDB never
    /// stores either).
    pub const ALL: TimeRange = TimeRange {
        start: i64::MIN,
        end: i64::MAX,
    };
}

/// An opened shard.
pub struct Shard {
    _private: (),
}

impl Shard {
    /// Opens the shard's files.
    pub fn open(_location: &ShardLocation, _limits: &Limits) -> Result<Shard> {
        Err(crate::Error::corrupt(0, "Shard::open not written yet"))
    }

    /// The measurements of the shard, sorted by name.
    pub fn measurements(&self) -> &[MeasurementSchema] {
        &[]
    }

    /// Streams the rows of measurement `index` (into [`Shard::measurements`]) in `range`.
    pub fn rows(&self, _index: usize, _range: TimeRange) -> MeasurementRows<'_> {
        MeasurementRows { _shard: self }
    }
}

/// The rows of one measurement of a shard, in batches.
pub struct MeasurementRows<'a> {
    _shard: &'a Shard,
}

impl MeasurementRows<'_> {
    /// Clears `batch` and fills it with the next rows, stopping after the series that takes
    /// it past `max_rows` rows or `max_bytes` bytes (a single series may be split across
    /// batches). Returns `false` when no rows are left.
    pub fn next_batch(
        &mut self,
        _batch: &mut RowBatch,
        _max_rows: usize,
        _max_bytes: usize,
    ) -> Result<bool> {
        Ok(false)
    }
}
