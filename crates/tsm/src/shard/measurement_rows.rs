//! A measurement's rows streamed out of an opened [`Shard`]: one [`KeyMerger`] per field
//! of the current series, joined on time into a [`RowBatch`].
//!
//! A child of [`crate::shard`] so that it reads the shard's key and series tables
//! directly; nothing outside the shard module needs to see them.

use crate::error::{Error, Result};
use crate::merge::KeyMerger;
use crate::options::TimeRange;
use crate::rows::{RowBatch, SeriesRun};
use crate::values::{FieldType, Values};

use super::Shard;

/// The rows of one measurement of a shard, in batches; see [`Shard::rows`].
pub struct MeasurementRows<'a> {
    shard: &'a Shard,
    measurement: usize,
    range: TimeRange,
    next_series: usize,
    join: Option<SeriesJoin<'a>>,
    skipped: Vec<Error>,
}

impl<'a> MeasurementRows<'a> {
    /// Rows of measurement `measurement` of `shard`; the index was checked by the caller.
    pub(super) fn new(shard: &'a Shard, measurement: usize, range: TimeRange) -> Self {
        MeasurementRows {
            shard,
            measurement,
            range,
            next_series: 0,
            join: None,
            skipped: Vec::new(),
        }
    }

    /// The damaged blocks left out since the last call (only with
    /// [`crate::options::ShardOptions::skip_corrupt`]; without it the first damaged block is an error of
    /// [`MeasurementRows::next_batch`]). Each error names the file, the byte offset and the
    /// series.
    pub fn take_skipped(&mut self) -> Vec<Error> {
        std::mem::take(&mut self.skipped)
    }

    /// Clears `batch` and fills it with the next rows, stopping once it holds `max_rows`
    /// rows or `max_bytes` bytes (a series may be split across batches). Returns `false`
    /// when no rows are left.
    ///
    /// `batch` must have been made for this measurement's schema ([`RowBatch::new`]).
    pub fn next_batch(
        &mut self,
        batch: &mut RowBatch,
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<bool> {
        batch.clear();
        let max_rows = max_rows.max(1);
        let series = &self.shard.series[self.measurement];
        let mut run_series = None;
        loop {
            if batch.len() >= max_rows || batch.byte_len() >= max_bytes {
                return Ok(true);
            }
            if self.join.is_none() {
                let Some(info) = series.get(self.next_series) else {
                    return Ok(!batch.is_empty());
                };
                let mut fields = Vec::with_capacity(info.fields.len());
                for &(schema_index, key_index) in &info.fields {
                    let merger = self.shard.merger(key_index, self.range)?;
                    fields.push(FieldCursor::new(
                        schema_index,
                        merger,
                        self.shard.keys[key_index].field_type,
                    ));
                }
                self.join = Some(SeriesJoin { fields });
            }
            let join = self.join.as_mut().expect("set above");
            let budget = (max_rows - batch.len()).min(8192);
            let before = batch.len();
            let info = &series[self.next_series];
            let finished = join
                .append(batch, budget)
                .map_err(|e| e.for_key(&info.key))?;
            for f in &mut join.fields {
                self.skipped.extend(
                    f.merger
                        .take_skipped()
                        .into_iter()
                        .map(|e| e.for_key(&info.key)),
                );
            }
            let added = batch.len() - before;
            if added > 0 {
                if run_series == Some(self.next_series) {
                    if let Some(run) = batch.series.last_mut() {
                        run.rows += added;
                    }
                } else {
                    let info = &series[self.next_series];
                    batch.series.push(SeriesRun {
                        key: info.key.clone(),
                        tags: info.tags.clone(),
                        rows: added,
                    });
                    run_series = Some(self.next_series);
                }
            }
            if finished {
                self.join = None;
                self.next_series += 1;
            }
        }
    }
}

struct FieldCursor<'a> {
    schema_index: usize,
    merger: KeyMerger<'a>,
    ts: Vec<i64>,
    values: Values,
    pos: usize,
    done: bool,
}

impl<'a> FieldCursor<'a> {
    fn new(schema_index: usize, merger: KeyMerger<'a>, ty: FieldType) -> FieldCursor<'a> {
        FieldCursor {
            schema_index,
            merger,
            ts: Vec::new(),
            values: Values::new(ty),
            pos: 0,
            done: false,
        }
    }

    /// Makes sure a value is buffered unless the key is exhausted.
    fn refill(&mut self) -> Result<()> {
        while !self.done && self.pos == self.ts.len() {
            self.pos = 0;
            if !self.merger.next_chunk(&mut self.ts, &mut self.values)? {
                self.done = true;
            }
        }
        Ok(())
    }

    fn remaining(&self) -> &[i64] {
        &self.ts[self.pos..]
    }
}

/// Joins the fields of one series on time.
struct SeriesJoin<'a> {
    fields: Vec<FieldCursor<'a>>,
}

impl SeriesJoin<'_> {
    /// Appends up to `budget` rows; returns whether the series is finished.
    fn append(&mut self, batch: &mut RowBatch, budget: usize) -> Result<bool> {
        let mut added = 0;
        // Which schema columns got a value in the current rows; allocated once per call,
        // not once per row on the general path.
        let mut present = vec![false; batch.fields.len()];
        while added < budget {
            for f in &mut self.fields {
                f.refill()?;
            }
            let active: Vec<usize> = (0..self.fields.len())
                .filter(|&i| !self.fields[i].remaining().is_empty())
                .collect();
            let Some(&first) = active.first() else {
                return Ok(true);
            };
            // Rows up to `bound` are final: every field's next chunk starts after it.
            let bound = active
                .iter()
                .map(|&i| *self.fields[i].remaining().last().expect("non-empty"))
                .min()
                .expect("non-empty");
            // Fast path: all fields have values at the same timestamps (the usual case).
            let lead = self.fields[first].remaining();
            let n = lead.partition_point(|&t| t <= bound).min(budget - added);
            let aligned = active
                .iter()
                .all(|&i| self.fields[i].remaining().get(..n) == Some(&lead[..n]));
            if aligned && n > 0 {
                batch.time.extend_from_slice(&lead[..n]);
                present.fill(false);
                for &i in &active {
                    let f = &mut self.fields[i];
                    let column = &mut batch.fields[f.schema_index];
                    column.values.extend_from(&f.values, f.pos..f.pos + n);
                    column.valid.extend(std::iter::repeat_n(true, n));
                    present[f.schema_index] = true;
                    f.pos += n;
                }
                for (column, _) in batch.fields.iter_mut().zip(&present).filter(|(_, p)| !**p) {
                    for _ in 0..n {
                        column.values.push_default();
                    }
                    column.valid.extend(std::iter::repeat_n(false, n));
                }
                added += n;
                continue;
            }
            // General path: one row at a time, the smallest pending timestamp first.
            while added < budget {
                let t = self
                    .fields
                    .iter()
                    .filter_map(|f| f.remaining().first().copied())
                    .min();
                let Some(t) = t.filter(|&t| t <= bound) else {
                    break;
                };
                batch.time.push(t);
                present.fill(false);
                for f in &mut self.fields {
                    if f.remaining().first() == Some(&t) {
                        let column = &mut batch.fields[f.schema_index];
                        column.values.push_from(&f.values, f.pos);
                        column.valid.push(true);
                        present[f.schema_index] = true;
                        f.pos += 1;
                    }
                }
                for (column, _) in batch.fields.iter_mut().zip(&present).filter(|(_, p)| !**p) {
                    column.values.push_default();
                    column.valid.push(false);
                }
                added += 1;
            }
        }
        // Budget used up: finished only if nothing is left anywhere.
        for f in &mut self.fields {
            f.refill()?;
        }
        Ok(self.fields.iter().all(|f| f.remaining().is_empty()))
    }
}
