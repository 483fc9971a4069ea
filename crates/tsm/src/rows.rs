//! Points re-joined from per-field series: the rows a `SELECT *` returns.
//!
//! A shard stores one series per field (`measurement,tags#!~#field`). A columnar consumer
//! wants one row per (series, timestamp) with every field of the measurement as a
//! column. [`RowBatch`] is that shape: rows grouped by series (in series-key order),
//! ascending time within a series, one [`FieldColumn`] per field of the
//! [`MeasurementSchema`], null where the point lacks the field.

use crate::values::{FieldType, Values};

/// The columns of one measurement in one shard: its tag keys and typed field keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeasurementSchema {
    /// The measurement name, unescaped.
    pub name: Vec<u8>,
    /// Every tag key used by a series of the measurement, unescaped, sorted bytewise.
    pub tag_keys: Vec<Vec<u8>>,
    /// Every field of the measurement, sorted bytewise by key.
    pub fields: Vec<FieldSchema>,
}

/// One field of a measurement, with the type it has in this shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSchema {
    /// The field key, as stored (InfluxDB keeps field keys unescaped).
    pub key: Vec<u8>,
    /// The type of the field's values in this shard.
    pub field_type: FieldType,
}

/// One series' run of consecutive rows in a [`RowBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesRun {
    /// The series key as stored (escaped measurement and tags), for exact round trips.
    pub key: Vec<u8>,
    /// The series' tag values, unescaped, aligned with [`MeasurementSchema::tag_keys`];
    /// `None` where the series lacks the tag.
    pub tags: Vec<Option<Vec<u8>>>,
    /// How many consecutive rows of the batch belong to this series.
    pub rows: usize,
}

/// A field's column in a [`RowBatch`]: `values.len() == valid.len() == time.len()`;
/// where `valid[i]` is false the value is a placeholder (zero, false or empty).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldColumn {
    /// Whether row `i` has a value for the field.
    pub valid: Vec<bool>,
    /// The values, typed as in the shard.
    pub values: Values,
}

/// Rows of one measurement of one shard.
#[derive(Clone, Debug, PartialEq)]
pub struct RowBatch {
    /// Runs of rows, one per series, in series-key order; their `rows` add up to
    /// `time.len()`.
    pub series: Vec<SeriesRun>,
    /// Timestamps in nanoseconds since the Unix epoch; ascending within each run.
    pub time: Vec<i64>,
    /// One column per field of the schema, in schema order.
    pub fields: Vec<FieldColumn>,
}

impl RowBatch {
    /// An empty batch with one column per field of `schema`.
    pub fn new(schema: &MeasurementSchema) -> RowBatch {
        RowBatch {
            series: Vec::new(),
            time: Vec::new(),
            fields: schema
                .fields
                .iter()
                .map(|f| FieldColumn {
                    valid: Vec::new(),
                    values: Values::new(f.field_type),
                })
                .collect(),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Moves the rows out, leaving an empty batch with the same columns and no
    /// allocations (for a consumer that takes the buffers over).
    pub fn take(&mut self) -> RowBatch {
        let empty = RowBatch {
            series: Vec::new(),
            time: Vec::new(),
            fields: self
                .fields
                .iter()
                .map(|f| FieldColumn {
                    valid: Vec::new(),
                    values: Values::new(f.values.field_type()),
                })
                .collect(),
        };
        std::mem::replace(self, empty)
    }

    /// Reserves room for `rows` more rows in every column (string bytes excepted), so
    /// that filling a batch does not grow its buffers step by step. Memory that is
    /// reserved but not written is normally not backed by pages yet.
    pub fn reserve(&mut self, rows: usize) {
        self.time.reserve(rows);
        for f in &mut self.fields {
            f.valid.reserve(rows);
            f.values.reserve(rows);
        }
    }

    /// Removes every row, keeping allocations.
    pub fn clear(&mut self) {
        self.series.clear();
        self.time.clear();
        for f in &mut self.fields {
            f.valid.clear();
            f.values.clear();
        }
    }

    /// Number of present field values.
    pub fn value_count(&self) -> usize {
        self.fields
            .iter()
            .map(|f| f.valid.iter().filter(|v| **v).count())
            .sum()
    }

    /// Approximate heap bytes held (for bounding batches by size).
    pub fn byte_len(&self) -> usize {
        self.time.len() * 8
            + self
                .fields
                .iter()
                .map(|f| f.valid.len() + f.values.byte_len())
                .sum::<usize>()
    }
}
