//! A measurement's rows streamed out of an opened [`Shard`]: its keys walked again in
//! merged order from where the open pass saw them, grouped into series, one
//! [`KeyMerger`] per field of the current series, joined on time into a [`RowBatch`].
//!
//! A child of [`crate::shard`] so that it reads the shard's placements directly; nothing
//! outside the shard module needs to see them.
//!
//! Nothing is allocated per key: the series key, its tag values, the field cursors and
//! their mergers' buffers are reused from one series to the next.

use std::cmp::Ordering;

use crate::file::TsmFile;
use crate::format::FIELD_SEPARATOR;
use crate::key::{
    SortedSplit, SortedSplitter, measurement_of, split_composite, tags_of, unescape_into,
    unescapes_to,
};
use crate::merge::KeyMerger;
use crate::options::TimeRange;
use crate::rows::{MeasurementSchema, RowBatch};
use crate::values::{FieldType, Values};
use crate::{Error, Result};

use super::opened::{KeyGroup, KeyStream, Segment, Shard, resolve};

/// The rows of one measurement of a shard, in batches; see [`Shard::rows`].
pub struct MeasurementRows<'a> {
    shard: &'a Shard,
    schema: &'a MeasurementSchema,
    segments: &'a [Segment],
    range: TimeRange,
    from: Option<Vec<u8>>,
    to: Option<Vec<u8>>,
    /// The files parsed again, once the first batch is asked for.
    files: Option<Vec<TsmFile<'a>>>,
    /// The walk over the current run of the measurement's keys.
    stream: Option<KeyStream<'a>>,
    /// The segment to open when the current run ends.
    next_segment: usize,
    /// No series is left.
    finished: bool,
    /// The escaped measurement of the last key found to belong to the measurement.
    last_escaped: Option<&'a [u8]>,
    splitter: SortedSplitter<'a>,
    /// Whether the last key asked about belongs to the measurement.
    last_member: bool,
    /// Where in the schema the next field of the current series is expected.
    next_field: usize,
    group: KeyGroup<'a>,
    series: Series,
    /// The current series is loaded and not fully appended yet.
    in_series: bool,
    /// The current series' fields; the first `active` are in use.
    cursors: Vec<FieldCursor<'a>>,
    active: usize,
    join: JoinScratch,
    skipped: Vec<Error>,
    /// With [`MeasurementRows::only_fields`]: which of the schema's fields are read.
    selected: Option<Vec<bool>>,
}

/// The series being joined.
#[derive(Default)]
struct Series {
    key: Vec<u8>,
    /// Unescaped tag values aligned with the schema's tag keys; valid where `present`.
    values: Vec<Vec<u8>>,
    present: Vec<bool>,
    scratch: Vec<u8>,
}

impl Series {
    /// Makes this the series `key`, its tags aligned with `tag_keys`.
    fn load(&mut self, key: &[u8], tag_keys: &[Vec<u8>]) {
        self.key.clear();
        self.key.extend_from_slice(key);
        self.values.resize_with(tag_keys.len(), Vec::new);
        self.present.clear();
        self.present.resize(tag_keys.len(), false);
        // A series' tag keys come sorted, as the schema's: mostly the next one is the
        // schema's next.
        let mut next = 0;
        for (k, v) in tags_of(key) {
            unescape_into(k, b", =", &mut self.scratch);
            let found = match tag_keys.get(next) {
                Some(expected) if *expected == self.scratch => Some(next),
                _ => tag_keys.binary_search(&self.scratch).ok(),
            };
            if let Some(i) = found {
                unescape_into(v, b", =", &mut self.values[i]);
                self.present[i] = true;
                next = i + 1;
            }
        }
    }
}

/// Compares series keys as their composite keys order them (each followed by `#!~#`).
fn cmp_series(a: &[u8], b: &[u8]) -> Ordering {
    // The common length in bulk; past it, a few bytes at most differ from the separator.
    let n = a.len().min(b.len());
    a[..n].cmp(&b[..n]).then_with(|| {
        a[n..]
            .iter()
            .chain(FIELD_SEPARATOR)
            .cmp(b[n..].iter().chain(FIELD_SEPARATOR))
    })
}

impl<'a> MeasurementRows<'a> {
    /// Rows of measurement `measurement` of `shard`; the index was checked by the caller.
    pub(super) fn new(
        shard: &'a Shard,
        measurement: usize,
        range: TimeRange,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
    ) -> Self {
        let segments = shard.placements[measurement].segments.as_slice();
        // Start at the last segment whose first series is at or before `from`: the
        // series before `from` in it are skipped.
        let next_segment = from.map_or(0, |from| {
            segments
                .partition_point(|s| {
                    split_composite(&s.first_key)
                        .is_some_and(|(series, _)| cmp_series(series, from) != Ordering::Greater)
                })
                .saturating_sub(1)
        });
        MeasurementRows {
            shard,
            schema: &shard.measurements[measurement],
            segments,
            range,
            from: from.map(<[u8]>::to_vec),
            to: to.map(<[u8]>::to_vec),
            files: None,
            stream: None,
            next_segment,
            finished: false,
            last_escaped: None,
            splitter: SortedSplitter::default(),
            last_member: false,
            next_field: 0,
            group: KeyGroup::default(),
            series: Series::default(),
            in_series: false,
            cursors: Vec::new(),
            active: 0,
            join: JoinScratch::default(),
            skipped: Vec::new(),
            selected: None,
        }
    }

    /// Reads only the fields whose keys are in `keys`, as InfluxQL's `SELECT f1, f2`
    /// does: the other fields' blocks are never decoded (their columns stay null), and a
    /// row is a time at which at least one selected field of the series has a value. A
    /// key the measurement lacks selects nothing; with none of its fields selected, the
    /// measurement has no rows.
    pub fn only_fields<K: AsRef<[u8]>>(mut self, keys: &[K]) -> Self {
        let selected = self
            .schema
            .fields
            .iter()
            .map(|field| keys.iter().any(|k| k.as_ref() == field.key.as_slice()))
            .collect();
        self.selected = Some(selected);
        self
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
        // Whether the last run of `batch` is the current series.
        let mut run_open = false;
        loop {
            if batch.len() >= max_rows || batch.byte_len() >= max_bytes {
                return Ok(true);
            }
            if !self.in_series {
                run_open = false;
                if !self.load_series()? {
                    return Ok(!batch.is_empty());
                }
                self.in_series = true;
            }
            let budget = (max_rows - batch.len()).min(8192);
            let before = batch.len();
            let cursors = &mut self.cursors[..self.active];
            let finished = append(cursors, &mut self.join, batch, budget)
                .map_err(|e| e.for_key(&self.series.key))?;
            for f in cursors.iter_mut() {
                let skipped = f.merger.take_skipped();
                if !skipped.is_empty() {
                    let key = &self.series.key;
                    self.skipped
                        .extend(skipped.into_iter().map(|e| e.for_key(key)));
                }
            }
            let added = batch.len() - before;
            if added > 0 && !(run_open && batch.series.extend_last(added)) {
                let series = &self.series;
                let tags = (series.values.iter().zip(&series.present))
                    .map(|(v, &p)| p.then_some(v.as_slice()));
                batch.series.push(&series.key, tags, added);
                run_open = true;
            }
            if finished {
                self.in_series = false;
            }
        }
    }

    /// Whether `key` belongs to the measurement; its (series, field, whether the series is
    /// that of the last key asked about) if so.
    fn member(&mut self, key: &'a [u8]) -> Option<SortedSplit<'a>> {
        let split = self.splitter.split(key)?;
        if split.same_series && self.last_member {
            return Some(split);
        }
        self.last_member = false;
        let escaped = measurement_of(split.series);
        if self.last_escaped != Some(escaped) {
            if !unescapes_to(escaped, b", ", &self.schema.name) {
                return None;
            }
            self.last_escaped = Some(escaped);
        }
        self.last_member = true;
        Some(split)
    }

    /// The next key of the measurement, without moving past it; `None` when no series is
    /// left. Opens the next run when the current one ends.
    fn peek_member(&mut self) -> Result<Option<SortedSplit<'a>>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            if let Some(stream) = self.stream.as_mut() {
                if let Some(key) = stream.peek()
                    && let Some(split) = self.member(key)
                {
                    return Ok(Some(split));
                }
                // The run has ended: skip the rest of its segments.
                self.stream = None;
                let run = self
                    .segments
                    .get(self.next_segment.saturating_sub(1))
                    .map(|s| s.run);
                while self
                    .segments
                    .get(self.next_segment)
                    .is_some_and(|s| Some(s.run) == run)
                {
                    self.next_segment += 1;
                }
            }
            let Some(segment) = self.segments.get(self.next_segment) else {
                self.finished = true;
                return Ok(None);
            };
            if self.files.is_none() {
                self.files = Some(self.shard.parsed_files()?);
            }
            let files = self.files.as_deref().unwrap_or_default();
            self.stream = Some(KeyStream::at(self.shard, files, segment)?);
            self.next_segment += 1;
        }
    }

    /// Loads the next series with data in range of the bounds into the cursors; `false`
    /// when none is left.
    fn load_series(&mut self) -> Result<bool> {
        self.active = 0;
        let mut loaded = false;
        while let Some(SortedSplit {
            series,
            field,
            same_series,
        }) = self.peek_member()?
        {
            if loaded {
                // The last key asked about was of the loaded series.
                if !same_series {
                    return Ok(true);
                }
            } else {
                if let Some(to) = &self.to
                    && cmp_series(series, to) != Ordering::Less
                {
                    self.finished = true;
                    self.stream = None;
                    return Ok(false);
                }
                if let Some(from) = &self.from
                    && cmp_series(series, from) == Ordering::Less
                {
                    self.advance()?;
                    continue;
                }
            }
            self.advance()?;
            // Sources of another type were reported at open.
            let Some(ty) = resolve(&self.shard.files, &mut self.group, |_, _, _| {}) else {
                continue;
            };
            // A series' fields come in schema order: mostly the next one is the one after
            // the last.
            let fields = &self.schema.fields;
            let next = if loaded { self.next_field } else { 0 };
            let schema_index = match fields.get(next) {
                Some(f) if f.key.as_slice() == field => next,
                _ => match fields.binary_search_by(|f| f.key.as_slice().cmp(field)) {
                    Ok(i) => i,
                    Err(_) => continue,
                },
            };
            // A key of another type than the measurement's field was reported at open.
            if fields[schema_index].field_type != ty {
                continue;
            }
            if let Some(selected) = &self.selected
                && !selected[schema_index]
            {
                continue;
            }
            if !loaded {
                self.series.load(series, &self.schema.tag_keys);
                loaded = true;
            }
            self.next_field = schema_index + 1;
            if self.active == self.cursors.len() {
                self.cursors.push(FieldCursor::new(KeyMerger::new(
                    ty,
                    Vec::new(),
                    None,
                    self.range,
                    self.shard.options,
                )));
            }
            let files = self.files.as_deref().unwrap_or_default();
            let cursor = &mut self.cursors[self.active];
            self.shard
                .reset_merger(&mut cursor.merger, files, &self.group, ty, self.range);
            cursor.reset(schema_index, ty);
            self.active += 1;
        }
        Ok(loaded)
    }

    /// Moves the stream past the key [`MeasurementRows::peek_member`] returned.
    fn advance(&mut self) -> Result<()> {
        if let Some(stream) = self.stream.as_mut() {
            stream.next(&mut self.group)?;
        }
        Ok(())
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
    fn new(merger: KeyMerger<'a>) -> FieldCursor<'a> {
        FieldCursor {
            schema_index: 0,
            merger,
            ts: Vec::new(),
            values: Values::new(FieldType::Float),
            pos: 0,
            done: false,
        }
    }

    /// Starts over on a new key (its merger already reset), keeping the buffers.
    fn reset(&mut self, schema_index: usize, ty: FieldType) {
        self.schema_index = schema_index;
        self.ts.clear();
        self.values.reset(ty);
        self.pos = 0;
        self.done = false;
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

/// Buffers of [`append`], kept between calls.
#[derive(Default)]
struct JoinScratch {
    /// Which schema columns got a value in the current rows.
    present: Vec<bool>,
    /// The cursors with values left.
    active: Vec<usize>,
}

/// Joins the fields of one series on time: appends up to `budget` rows; returns whether
/// the series is finished.
fn append(
    fields: &mut [FieldCursor<'_>],
    scratch: &mut JoinScratch,
    batch: &mut RowBatch,
    budget: usize,
) -> Result<bool> {
    let mut added = 0;
    let present = &mut scratch.present;
    present.clear();
    present.resize(batch.fields.len(), false);
    let active = &mut scratch.active;
    while added < budget {
        for f in fields.iter_mut() {
            f.refill()?;
        }
        active.clear();
        active.extend((0..fields.len()).filter(|&i| !fields[i].remaining().is_empty()));
        let Some(&first) = active.first() else {
            return Ok(true);
        };
        // Rows up to `bound` are final: every field's next chunk starts after it.
        let Some(bound) = active
            .iter()
            .filter_map(|&i| fields[i].remaining().last().copied())
            .min()
        else {
            return Ok(true);
        };
        // Fast path: all fields have values at the same timestamps (the usual case).
        let lead = fields[first].remaining();
        let n = lead.partition_point(|&t| t <= bound).min(budget - added);
        let aligned = active
            .iter()
            .all(|&i| fields[i].remaining().get(..n) == Some(&lead[..n]));
        if aligned && n > 0 {
            batch.time.extend_from_slice(&lead[..n]);
            present.fill(false);
            for &i in active.iter() {
                let f = &mut fields[i];
                let column = &mut batch.fields[f.schema_index];
                column.values.extend_from(&f.values, f.pos..f.pos + n);
                column.valid.extend(std::iter::repeat_n(true, n));
                present[f.schema_index] = true;
                f.pos += n;
            }
            for (column, _) in batch
                .fields
                .iter_mut()
                .zip(present.iter())
                .filter(|(_, p)| !**p)
            {
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
            let t = fields
                .iter()
                .filter_map(|f| f.remaining().first().copied())
                .min();
            let Some(t) = t.filter(|&t| t <= bound) else {
                break;
            };
            batch.time.push(t);
            present.fill(false);
            for f in fields.iter_mut() {
                if f.remaining().first() == Some(&t) {
                    let column = &mut batch.fields[f.schema_index];
                    column.values.push_from(&f.values, f.pos);
                    column.valid.push(true);
                    present[f.schema_index] = true;
                    f.pos += 1;
                }
            }
            for (column, _) in batch
                .fields
                .iter_mut()
                .zip(present.iter())
                .filter(|(_, p)| !**p)
            {
                column.values.push_default();
                column.valid.push(false);
            }
            added += 1;
        }
    }
    // Budget used up: finished only if nothing is left anywhere.
    for f in fields.iter_mut() {
        f.refill()?;
    }
    Ok(fields.iter().all(|f| f.remaining().is_empty()))
}

impl Shard {
    /// Streams the rows of measurement `index` (into [`Shard::measurements`]) in `range`:
    /// its series in key order, each series' rows in time order.
    ///
    /// Memory: the measurement's keys are read from the indexes again as the rows are
    /// made; what is held is the series being joined and a few blocks per field.
    ///
    /// # Panics
    /// When `index` is out of range.
    pub fn rows(&self, index: usize, range: TimeRange) -> MeasurementRows<'_> {
        self.rows_between(index, range, None, None)
    }

    /// [`Shard::rows`] of the series `from <= series < to` only (an absent bound is open).
    /// Series compare as their keys do in the index (series key then `#!~#`), which is the
    /// order rows come in: the rows of consecutive ranges, concatenated, are the rows of
    /// the whole measurement. [`Shard::split_series`] gives bounds of similar sizes.
    ///
    /// # Panics
    /// When `index` is out of range.
    pub fn rows_between(
        &self,
        index: usize,
        range: TimeRange,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
    ) -> MeasurementRows<'_> {
        assert!(
            index < self.measurements.len(),
            "measurement index out of range"
        );
        MeasurementRows::new(self, index, range, from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmp_series_orders_as_composite_keys() {
        let keys: [&[u8]; 8] = [b"", b"a", b"a#", b"a#!~#", b"a,b", b"a\xff", b"ab", b"b"];
        for a in keys {
            for b in keys {
                let composite = |k: &[u8]| [k, FIELD_SEPARATOR].concat();
                assert_eq!(
                    cmp_series(a, b),
                    composite(a).cmp(&composite(b)),
                    "{a:?} {b:?}"
                );
            }
        }
    }
}
