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

/// One series' run of consecutive rows, owned: for building a [`SeriesRuns`] by hand
/// (`runs.into_iter().collect()`).
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

/// One series' run of consecutive rows in a [`SeriesRuns`], borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesRunRef<'a> {
    /// The series key as stored (escaped measurement and tags), for exact round trips.
    pub key: &'a [u8],
    /// How many consecutive rows of the batch belong to this series.
    pub rows: usize,
    bytes: &'a [u8],
    tags: &'a [Option<(usize, usize)>],
}

impl<'a> SeriesRunRef<'a> {
    /// Number of tag values (present or not): the schema's tag keys.
    pub fn tag_count(&self) -> usize {
        self.tags.len()
    }

    /// The value of tag `i` (unescaped, aligned with [`MeasurementSchema::tag_keys`]);
    /// `None` where the series lacks the tag or `i` is out of range.
    pub fn tag(&self, i: usize) -> Option<&'a [u8]> {
        let bytes = self.bytes;
        self.tags
            .get(i)
            .copied()
            .flatten()
            .and_then(|(start, end)| bytes.get(start..end))
    }

    /// The tag values in schema order, as [`SeriesRunRef::tag`] gives them.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = Option<&'a [u8]>> + use<'a> {
        let bytes = self.bytes;
        self.tags
            .iter()
            .map(move |t| t.and_then(|(start, end)| bytes.get(start..end)))
    }

    /// An owned copy.
    pub fn to_owned(&self) -> SeriesRun {
        SeriesRun {
            key: self.key.to_vec(),
            tags: self.tags().map(|t| t.map(<[u8]>::to_vec)).collect(),
            rows: self.rows,
        }
    }
}

/// Where a run's key and tags are in a [`SeriesRuns`]' buffers.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RunSlot {
    key: (usize, usize),
    tags: (usize, usize),
    rows: usize,
}

/// The runs of a [`RowBatch`], one per series, in series-key order. Keys and tag values
/// are kept in one buffer, reused when the batch is cleared: a batch of a measurement of
/// millions of series holds tens of thousands of them, and one allocation per key and
/// tag value cost more than the rows' decoding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeriesRuns {
    runs: Vec<RunSlot>,
    /// Keys and present tag values, one after another.
    bytes: Vec<u8>,
    /// Each run's tag values as ranges of `bytes`.
    tags: Vec<Option<(usize, usize)>>,
}

impl SeriesRuns {
    /// Number of runs.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether there are no runs.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Removes every run, keeping allocations.
    pub fn clear(&mut self) {
        self.runs.clear();
        self.bytes.clear();
        self.tags.clear();
    }

    /// Appends a run of `rows` rows of the series `key` with these tag values.
    pub fn push<'t>(
        &mut self,
        key: &[u8],
        tags: impl IntoIterator<Item = Option<&'t [u8]>>,
        rows: usize,
    ) {
        let key_start = self.bytes.len();
        self.bytes.extend_from_slice(key);
        let key = (key_start, self.bytes.len());
        let tags_start = self.tags.len();
        for tag in tags {
            let range = tag.map(|value| {
                let start = self.bytes.len();
                self.bytes.extend_from_slice(value);
                (start, self.bytes.len())
            });
            self.tags.push(range);
        }
        self.runs.push(RunSlot {
            key,
            tags: (tags_start, self.tags.len()),
            rows,
        });
    }

    /// Adds `rows` rows to the last run; `false` when there is none.
    pub fn extend_last(&mut self, rows: usize) -> bool {
        match self.runs.last_mut() {
            Some(run) => {
                run.rows += rows;
                true
            }
            None => false,
        }
    }

    /// Run `i`.
    pub fn get(&self, i: usize) -> Option<SeriesRunRef<'_>> {
        self.runs.get(i).map(|slot| self.view(slot))
    }

    /// The runs in order.
    pub fn iter(&self) -> SeriesRunsIter<'_> {
        SeriesRunsIter {
            runs: self,
            slots: self.runs.iter(),
        }
    }

    fn view<'a>(&'a self, slot: &RunSlot) -> SeriesRunRef<'a> {
        SeriesRunRef {
            key: self.bytes.get(slot.key.0..slot.key.1).unwrap_or_default(),
            rows: slot.rows,
            bytes: &self.bytes,
            tags: self.tags.get(slot.tags.0..slot.tags.1).unwrap_or_default(),
        }
    }
}

/// The runs of a [`SeriesRuns`]; see [`SeriesRuns::iter`].
#[derive(Clone, Debug)]
pub struct SeriesRunsIter<'a> {
    runs: &'a SeriesRuns,
    slots: std::slice::Iter<'a, RunSlot>,
}

impl<'a> Iterator for SeriesRunsIter<'a> {
    type Item = SeriesRunRef<'a>;

    fn next(&mut self) -> Option<SeriesRunRef<'a>> {
        let slot = self.slots.next()?;
        Some(self.runs.view(slot))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.slots.size_hint()
    }
}

impl ExactSizeIterator for SeriesRunsIter<'_> {}

impl<'a> IntoIterator for &'a SeriesRuns {
    type Item = SeriesRunRef<'a>;
    type IntoIter = SeriesRunsIter<'a>;

    fn into_iter(self) -> SeriesRunsIter<'a> {
        self.iter()
    }
}

impl FromIterator<SeriesRun> for SeriesRuns {
    fn from_iter<I: IntoIterator<Item = SeriesRun>>(runs: I) -> SeriesRuns {
        let mut out = SeriesRuns::default();
        for run in runs {
            out.push(&run.key, run.tags.iter().map(Option::as_deref), run.rows);
        }
        out
    }
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
    pub series: SeriesRuns,
    /// Timestamps in nanoseconds since the Unix epoch; ascending within each run.
    pub time: Vec<i64>,
    /// One column per field of the schema, in schema order.
    pub fields: Vec<FieldColumn>,
}

impl RowBatch {
    /// An empty batch with one column per field of `schema`.
    pub fn new(schema: &MeasurementSchema) -> RowBatch {
        RowBatch {
            series: SeriesRuns::default(),
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
            series: SeriesRuns::default(),
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
