//! The merged values of one composite key in one shard: every TSM file's blocks, each
//! filtered by that file's tombstones, plus the replayed WAL, newest first on equal
//! timestamps.
//!
//! # The rules (InfluxDB 1.x, `tsdb/engine/tsm1` at v1.8.10)
//!
//! - Between TSM files, the newer (larger generation, then sequence) wins a timestamp;
//!   inside one file, the later block wins; inside one block, the later position wins.
//!   (`KeyCursor` orders overlapping blocks by file, `Values.Merge` lets the second
//!   argument win, `Deduplicate` keeps the last.)
//! - A file's tombstones hide only that file's values: an older file's value becomes
//!   visible again if the newer file's copy was deleted and the older one was not.
//! - The WAL (replayed into the cache) wins over every TSM file (the engine's cursors
//!   prefer the cache on equal timestamps).
//!
//! # Streaming
//!
//! Blocks are visited in ascending min time and decoded only when the merge reaches them.
//! Values older than the next undecoded block's min time are final and are handed out;
//! so memory holds the blocks that overlap each other, not the key's whole history.
//! Blocks outside the time range are never decoded.

use crate::Result;
use crate::block::decode_block;
use crate::file::{BlockEntry, TsmFile};
use crate::options::{ShardOptions, TimeRange};
use crate::values::Values;

/// One block of the key, with what is needed to decode and filter it.
#[derive(Clone, Copy, Debug)]
pub struct BlockSource<'a> {
    /// The file holding the block.
    pub file: TsmFile<'a>,
    /// The block's index entry.
    pub entry: BlockEntry,
    /// Larger wins on equal timestamps: (file order, block order).
    pub priority: u64,
    /// The file's tombstone ranges for this key: sorted, inclusive.
    pub tombstones: &'a [(i64, i64)],
    /// The file's path, for error messages.
    pub path: &'a std::path::Path,
}

/// Streams the merged values of one key in ascending time, in chunks.
pub struct KeyMerger<'a> {
    blocks: Vec<BlockSource<'a>>,
    next_block: usize,
    cache_ts: &'a [i64],
    cache_values: Option<&'a Values>,
    cache_pos: usize,
    cache_end: usize,
    pending_ts: Vec<i64>,
    pending_values: Values,
    pending_priority: Vec<u64>,
    block_ts: Vec<i64>,
    block_values: Values,
    range: TimeRange,
    options: ShardOptions,
    skipped: Vec<crate::Error>,
}

impl<'a> KeyMerger<'a> {
    /// A merger over `blocks` (any order) and the key's WAL values (sorted, deduplicated),
    /// limited to `range`. Every source must hold values of `field_type`. `options` says
    /// whether to check CRCs and whether a damaged block is skipped (see
    /// [`KeyMerger::take_skipped`]) or stops the merge.
    pub fn new(
        field_type: crate::FieldType,
        blocks: Vec<BlockSource<'a>>,
        cache: Option<(&'a [i64], &'a Values)>,
        range: TimeRange,
        options: ShardOptions,
    ) -> KeyMerger<'a> {
        let mut merger = KeyMerger {
            blocks,
            next_block: 0,
            cache_ts: &[],
            cache_values: None,
            cache_pos: 0,
            cache_end: 0,
            pending_ts: Vec::new(),
            pending_values: Values::new(field_type),
            pending_priority: Vec::new(),
            block_ts: Vec::new(),
            block_values: Values::new(field_type),
            range,
            options,
            skipped: Vec::new(),
        };
        merger.start(cache, range, options);
        merger
    }

    /// Makes this merger one over another key, as [`KeyMerger::new`] would, keeping its
    /// buffers: a shard streams millions of keys of a few values each, and their
    /// allocations would cost more than their decoding.
    // Inlined into the caller: it runs once per series key and field (millions of times on
    // a high-cardinality shard), and out of line it cost 2 % more instructions there.
    #[inline]
    pub fn reset(
        &mut self,
        field_type: crate::FieldType,
        blocks: impl IntoIterator<Item = BlockSource<'a>>,
        cache: Option<(&'a [i64], &'a Values)>,
        range: TimeRange,
        options: ShardOptions,
    ) {
        self.blocks.clear();
        self.blocks.extend(blocks);
        self.pending_ts.clear();
        self.pending_values.reset(field_type);
        self.pending_priority.clear();
        self.block_ts.clear();
        self.block_values.reset(field_type);
        self.skipped.clear();
        self.start(cache, range, options);
    }

    #[inline]
    fn start(
        &mut self,
        cache: Option<(&'a [i64], &'a Values)>,
        range: TimeRange,
        options: ShardOptions,
    ) {
        self.blocks
            .retain(|b| b.entry.max_time >= range.start && b.entry.min_time < range.end);
        self.blocks
            .retain(|b| !covered(b.tombstones, b.entry.min_time, b.entry.max_time));
        // Usually one block per source, already in order: no sort needed.
        if !self
            .blocks
            .is_sorted_by_key(|b| (b.entry.min_time, b.priority))
        {
            self.blocks.sort_by_key(|b| (b.entry.min_time, b.priority));
        }
        let (cache_ts, cache_values) = match cache {
            Some((ts, v)) => (ts, Some(v)),
            None => (&[][..], None),
        };
        self.cache_ts = cache_ts;
        self.cache_values = cache_values;
        self.cache_pos = cache_ts.partition_point(|&t| t < range.start);
        self.cache_end = cache_ts.partition_point(|&t| t < range.end);
        self.next_block = 0;
        self.range = range;
        self.options = options;
    }

    /// The damaged blocks left out since the last call, each error naming the file and
    /// offset; only with [`ShardOptions::skip_corrupt`] (otherwise the first one is
    /// returned by [`KeyMerger::next_chunk`]).
    pub fn take_skipped(&mut self) -> Vec<crate::Error> {
        std::mem::take(&mut self.skipped)
    }

    /// Clears `ts` and `values` and fills them with the next chunk of merged values.
    /// Returns `false` when the key has no more values.
    pub fn next_chunk(&mut self, ts: &mut Vec<i64>, values: &mut Values) -> Result<bool> {
        ts.clear();
        values.reset(self.pending_values.field_type());
        loop {
            let frontier = self.blocks.get(self.next_block).map(|b| b.entry.min_time);
            let n = match frontier {
                Some(f) => self.pending_ts.partition_point(|&t| t < f),
                None => self.pending_ts.len(),
            };
            let cache_stop = match frontier {
                Some(f) => {
                    self.cache_pos
                        + self.cache_ts[self.cache_pos..self.cache_end].partition_point(|&t| t < f)
                }
                None => self.cache_end,
            };
            if n > 0 || cache_stop > self.cache_pos {
                self.emit(n, cache_stop, ts, values);
                return Ok(true);
            }
            if frontier.is_none() {
                return Ok(false);
            }
            self.decode_next_block()?;
        }
    }

    /// Moves `pending[..n]` and `cache[cache_pos..cache_stop]` into the output, the cache
    /// winning equal timestamps.
    fn emit(&mut self, n: usize, cache_stop: usize, ts: &mut Vec<i64>, values: &mut Values) {
        let cache_ts = &self.cache_ts[self.cache_pos..cache_stop];
        match self.cache_values {
            Some(cache_values) if !cache_ts.is_empty() => {
                let (mut i, mut j) = (0, 0);
                while i < n || j < cache_ts.len() {
                    let take_cache =
                        j < cache_ts.len() && (i == n || cache_ts[j] <= self.pending_ts[i]);
                    if take_cache {
                        if i < n && self.pending_ts[i] == cache_ts[j] {
                            i += 1;
                        }
                        ts.push(cache_ts[j]);
                        values.push_from(cache_values, self.cache_pos + j);
                        j += 1;
                    } else {
                        ts.push(self.pending_ts[i]);
                        values.push_from(&self.pending_values, i);
                        i += 1;
                    }
                }
            }
            _ => {
                ts.extend_from_slice(&self.pending_ts[..n]);
                values.extend_from(&self.pending_values, 0..n);
            }
        }
        self.cache_pos = cache_stop;
        if n == self.pending_ts.len() {
            self.pending_ts.clear();
            self.pending_values.clear();
            self.pending_priority.clear();
        } else {
            self.pending_ts.drain(..n);
            self.pending_values.drain_front(n);
            self.pending_priority.drain(..n);
        }
    }

    /// Decodes the next block, drops what its file's tombstones and the range hide, and
    /// merges the rest into `pending`.
    fn decode_next_block(&mut self) -> Result<()> {
        let source = self.blocks[self.next_block];
        self.next_block += 1;
        if let Err(err) = self.read_block(&source) {
            if self.options.skip_corrupt && err.is_corruption() {
                // Only this block is lost: the key's other blocks, and older files'
                // values at these times, still count.
                self.skipped.push(err);
                return Ok(());
            }
            return Err(err);
        }
        if self.block_ts.is_empty() {
            return Ok(());
        }
        if self.pending_ts.is_empty() {
            std::mem::swap(&mut self.pending_ts, &mut self.block_ts);
            std::mem::swap(&mut self.pending_values, &mut self.block_values);
            self.pending_priority.clear();
            self.pending_priority
                .resize(self.pending_ts.len(), source.priority);
            return Ok(());
        }
        self.merge_block_into_pending(source.priority);
        Ok(())
    }

    /// Decodes and checks one block into `block_ts`/`block_values`, dropping what the
    /// file's tombstones and the range hide.
    fn read_block(&mut self, source: &BlockSource<'_>) -> Result<()> {
        let offset = source.entry.offset + crate::format::BLOCK_CRC_LEN as u64;
        source
            .file
            .block(&source.entry, self.options.verify_crc)
            .and_then(|bytes| {
                decode_block(
                    bytes,
                    offset,
                    &self.options.limits,
                    &mut self.block_ts,
                    &mut self.block_values,
                )
            })
            .map_err(|e| e.in_file(source.path))?;
        if self.block_values.field_type() != self.pending_values.field_type() {
            return Err(crate::Error::new(crate::ErrorKind::TypeMismatch {
                found: self.block_values.field_type(),
                expected: self.pending_values.field_type(),
                expected_by: "the key's type is",
            })
            .at(source.entry.offset)
            .in_file(source.path));
        }
        normalize(
            &mut self.block_ts,
            &mut self.block_values,
            self.range,
            source.tombstones,
        );
        let (Some(&first), Some(&last)) = (self.block_ts.first(), self.block_ts.last()) else {
            return Ok(());
        };
        // The merge orders blocks by their index ranges; a block holding other times
        // (damage the CRC does not cover, or unchecked CRCs) would come out unsorted.
        if first < source.entry.min_time || last > source.entry.max_time {
            self.block_ts.clear();
            return Err(crate::Error::new(crate::ErrorKind::TimesOutsideIndex {
                first,
                last,
                min_time: source.entry.min_time,
                max_time: source.entry.max_time,
            })
            .at(source.entry.offset)
            .in_file(source.path));
        }
        Ok(())
    }

    fn merge_block_into_pending(&mut self, priority: u64) {
        let (a_ts, a_v, a_p) = (
            &self.pending_ts,
            &self.pending_values,
            &self.pending_priority,
        );
        let (b_ts, b_v) = (&self.block_ts, &self.block_values);
        let mut ts = Vec::with_capacity(a_ts.len() + b_ts.len());
        let mut v = Values::new(a_v.field_type());
        let mut p = Vec::with_capacity(a_ts.len() + b_ts.len());
        let (mut i, mut j) = (0, 0);
        while i < a_ts.len() || j < b_ts.len() {
            let take_a = j == b_ts.len() || (i < a_ts.len() && a_ts[i] < b_ts[j]);
            let take_b = i == a_ts.len() || (j < b_ts.len() && b_ts[j] < a_ts[i]);
            if take_a {
                ts.push(a_ts[i]);
                v.push_from(a_v, i);
                p.push(a_p[i]);
                i += 1;
            } else if take_b {
                ts.push(b_ts[j]);
                v.push_from(b_v, j);
                p.push(priority);
                j += 1;
            } else {
                // Equal timestamps: the newer source wins.
                ts.push(a_ts[i]);
                if priority > a_p[i] {
                    v.push_from(b_v, j);
                    p.push(priority);
                } else {
                    v.push_from(a_v, i);
                    p.push(a_p[i]);
                }
                i += 1;
                j += 1;
            }
        }
        self.pending_ts = ts;
        self.pending_values = v;
        self.pending_priority = p;
    }
}

/// Whether the sorted, merged `ranges` cover all of `[min, max]`.
pub(crate) fn covered(ranges: &[(i64, i64)], min: i64, max: i64) -> bool {
    ranges.iter().any(|&(lo, hi)| lo <= min && max <= hi)
}

/// Sorts a decoded block by time if needed (keeping the later of equal timestamps), and
/// drops values outside `range` or inside a tombstone range.
fn normalize(ts: &mut Vec<i64>, values: &mut Values, range: TimeRange, tombstones: &[(i64, i64)]) {
    let sorted = ts.windows(2).all(|w| w[0] < w[1]);
    let first = ts.first().copied().unwrap_or(0);
    let last = ts.last().copied().unwrap_or(0);
    let in_range = sorted && first >= range.start && last < range.end;
    let touched = tombstones.iter().any(|&(lo, hi)| lo <= last && first <= hi);
    if in_range && !touched {
        return;
    }
    let mut order: Vec<usize> = (0..ts.len()).collect();
    if !sorted {
        // Stable: among equal timestamps the later position stays last.
        order.sort_by_key(|&i| ts[i]);
    }
    let keep = |k: usize, order: &[usize]| {
        let i = order[k];
        let t = ts[i];
        let last_of_equal = order.get(k + 1).is_none_or(|&next| ts[next] != t);
        last_of_equal
            && t >= range.start
            && t < range.end
            && !tombstones.iter().any(|&(lo, hi)| lo <= t && t <= hi)
    };
    let picked: Vec<usize> = (0..order.len())
        .filter(|&k| keep(k, &order))
        .map(|k| order[k])
        .collect();
    let mut new_ts = Vec::with_capacity(picked.len());
    let mut new_values = Values::new(values.field_type());
    for i in picked {
        new_ts.push(ts[i]);
        new_values.push_from(values, i);
    }
    *ts = new_ts;
    *values = new_values;
}
