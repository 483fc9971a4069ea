//! The open pass over a shard's keys: each measurement's schema, where its keys are, and
//! the problems of the keys, without keeping anything per key or per series.
//!
//! A shard with a big index is cut into key ranges that start at series boundaries. Where
//! the cuts fall depends on the index bytes only, never on how many threads there are, so
//! the joined result is the same however the ranges were scanned. Each range is scanned on
//! its own (on whatever thread the caller chooses) and the results are joined in key
//! order. Where a range's result cannot be joined into what one pass would have found
//! (damage, a type conflict, a series cut in two, a range whose start was guessed wrong),
//! the whole shard is scanned again in one pass, so what the open reports never depends
//! on the cuts.

use std::collections::{BTreeMap, BTreeSet};

use super::opened::{
    KeyGroup, NO_ENTRY, OpenTsm, Placement, Problem, ProblemKind, SEGMENT_KEYS, Segment, next_key,
    resolve,
};
use crate::cache::Cache;
use crate::file::{IndexEntry, TsmFile};
use crate::format::FIELD_SEPARATOR;
use crate::index_merge::IndexMerge;
use crate::key::{SortedSplit, SortedSplitter, measurement_of, tags_of, unescape_into};
use crate::rows::{FieldSchema, MeasurementSchema};
use crate::values::FieldType;
use crate::{ConflictWith, Error, ErrorKind, Result};

/// Index bytes (summed over the shard's files) per key range by default: a shard with
/// less than twice this is scanned in one pass, short enough that cutting it would gain
/// less than the joining costs.
pub(super) const RANGE_INDEX_BYTES: u64 = 32 << 20;

/// Most key ranges one shard is cut into.
const MAX_KEY_RANGES: u64 = 16;

/// Where a key range starts: its first key and, per file, the offset of the file's first
/// index entry at or after it ([`NO_ENTRY`] when there is none). The range ends where the
/// next one starts.
pub(super) struct KeyRange {
    from: Box<[u8]>,
    starts: Box<[u64]>,
}

/// The key ranges of the files `parsed`, about `range_bytes` of index each: where the
/// cuts fall (the first range, from the shard's first key, is implied), placed in the
/// largest file by [`series_cuts`] and in the others by [`seek`], without walking any
/// index whole. None for a shard scanned in one pass, and none when stepping over an
/// index met damage: the one pass finds and reports it.
pub(super) fn plan_key_ranges(parsed: &[TsmFile<'_>], range_bytes: u64) -> Vec<KeyRange> {
    let sizes: Vec<u64> = parsed.iter().map(TsmFile::index_len).collect();
    let total: u64 = sizes.iter().sum();
    let ranges = (total / range_bytes.max(1)).min(MAX_KEY_RANGES);
    let Some(largest) = (0..sizes.len()).max_by_key(|&i| (sizes[i], std::cmp::Reverse(i))) else {
        return Vec::new();
    };
    if ranges < 2 {
        return Vec::new();
    }
    let cuts = series_cuts(&parsed[largest], ranges);
    let mut starts = vec![vec![NO_ENTRY; parsed.len()]; cuts.len()];
    for (file_index, file) in parsed.iter().enumerate() {
        if file_index == largest {
            for (start, &(_, offset)) in starts.iter_mut().zip(&cuts) {
                start[file_index] = offset;
            }
            continue;
        }
        for (start, (prefix, _)) in starts.iter_mut().zip(&cuts) {
            match seek(file, prefix) {
                Some(offset) => start[file_index] = offset,
                None => return Vec::new(),
            }
        }
    }
    cuts.into_iter()
        .zip(starts)
        .map(|((prefix, _), starts)| KeyRange {
            from: prefix.into(),
            starts: starts.into(),
        })
        .collect()
}

/// Entries in a row that must read as well-formed and ascending for [`resync`] to take a
/// byte offset for the start of an entry.
const RESYNC_ENTRIES: usize = 8;

/// Bytes past a share's end searched for the start of an entry.
const RESYNC_WINDOW: u64 = 1 << 20;

/// Up to `ranges - 1` cuts of `file`'s index into shares of about equal bytes, each the
/// `series#!~#` prefix of the first series starting past a share's end (every key of that
/// series, in any file, sorts at or after it; every key of the series before, before it),
/// with the offset of the first entry of that series.
///
/// The index is not walked to get there: its entries have no fixed size, so the start of
/// an entry after each share's end is found by [`resync`], a guess that the joining of
/// the ranges' scans checks (every range's walk must end exactly where the next begins).
fn series_cuts(file: &TsmFile<'_>, ranges: u64) -> Vec<(Vec<u8>, u64)> {
    let (start, len) = (file.index_start(), file.index_len());
    let mut cuts: Vec<(Vec<u8>, u64)> = Vec::new();
    for share in 1..ranges {
        let share_end = start + len / ranges * share;
        let after_last = cuts.last().map_or(start, |(_, at)| at + 1);
        let Some(cut) = resync(file, share_end.max(after_last))
            .and_then(|entry| next_series(file, entry))
            .filter(|(prefix, _)| cuts.last().is_none_or(|(last, _)| prefix > last))
        else {
            continue;
        };
        cuts.push(cut);
    }
    cuts
}

/// The start of an entry at or after `from` (looked for within [`RESYNC_WINDOW`]): at the
/// first offset where [`RESYNC_ENTRIES`] entries in a row (or all up to the end of the
/// index) read as index entries, each well-formed, keys and block offsets ascending (as a
/// writer lays them out), the start of the middle one. Not the first: bytes inside an
/// entry can read as one whose end falls on the next real entry, but hardly as several.
fn resync(file: &TsmFile<'_>, from: u64) -> Option<u64> {
    let end = file.index_start() + file.index_len();
    (from..end.min(from.saturating_add(RESYNC_WINDOW))).find_map(|at| {
        let mut entries = file.index_at(at).ok()?;
        let mut last_block = 0;
        let mut middle = None;
        for i in 0..RESYNC_ENTRIES {
            if i == RESYNC_ENTRIES / 2 {
                middle = Some(entries.offset());
            }
            match entries.next_entry() {
                Ok(Some(entry)) => {
                    for block in entry.blocks() {
                        if block.offset <= last_block {
                            return None;
                        }
                        last_block = block.offset;
                    }
                }
                Ok(None) => break,
                Err(_) => return None,
            }
        }
        // An index whose last few entries follow is not cut there.
        middle.filter(|&m| m < end)
    })
}

/// Bytes of index below which [`seek`] walks rather than bisects.
const SEEK_WALK_BYTES: u64 = 64 << 10;

/// The offset of `file`'s first index entry whose key is at or after `key` ([`NO_ENTRY`]
/// when there is none): the index bisected at entry starts found by [`resync`] (guesses,
/// checked as the range starts are), then walked over the last stretch. None when the
/// walk cannot step over the index.
fn seek(file: &TsmFile<'_>, key: &[u8]) -> Option<u64> {
    let end = file.index_start() + file.index_len();
    // `lo` is the start of an entry before `key` (or of the index); the answer lies at
    // or after it and at or before `hi`.
    let (mut lo, mut hi) = (file.index_start(), end);
    while hi - lo > SEEK_WALK_BYTES {
        let mid = lo + (hi - lo) / 2;
        let Some(entry) = resync(file, mid).filter(|&e| e < hi) else {
            break;
        };
        let found = file.index_at(entry).ok()?.skim().ok()??;
        if found < key {
            lo = entry;
        } else {
            hi = entry;
        }
    }
    let mut entries = file.index_at(lo).ok()?;
    loop {
        let at = entries.offset();
        match entries.skim().ok()? {
            Some(found) if found >= key => return Some(at),
            Some(_) => {}
            None => return Some(NO_ENTRY),
        }
    }
}

/// The `series#!~#` prefix and offset of the first entry after the one at `entry` whose
/// series differs from the entry before it.
fn next_series(file: &TsmFile<'_>, entry: u64) -> Option<(Vec<u8>, u64)> {
    let mut entries = file.index_at(entry).ok()?;
    let mut splitter = SortedSplitter::default();
    let mut first = true;
    loop {
        let at = entries.offset();
        let key = entries.skim().ok()??;
        let split = splitter.split(key);
        if !first && let Some(split) = split.filter(|s| !s.same_series) {
            let prefix = &key[..split.series.len() + FIELD_SEPARATOR.len()];
            return Some((prefix.to_vec(), at));
        }
        first = false;
    }
}

/// What scanning one key range found; see [`super::ShardOpening::scan`].
pub struct KeyRangeScan {
    /// Which range.
    pub(super) range: usize,
    pub(super) found: Result<Found>,
}

/// The first or last key of a range with the measurement it belongs to (none for a key
/// without a field separator).
struct Edge {
    key: Box<[u8]>,
    measurement: Option<Vec<u8>>,
}

/// What one pass over some of the keys found, before it is joined with other passes'.
pub(super) struct Found {
    /// Per measurement name, what was found of it.
    measurements: BTreeMap<Vec<u8>, Builder>,
    /// Runs started, numbered from 1 in the order found.
    runs: u32,
    first: Option<Edge>,
    last: Option<Edge>,
    key_count: usize,
    /// Conflicts with newer data, in key order.
    newer: Vec<Problem>,
    /// Problems of keys within their measurement, in key order.
    later: Vec<Problem>,
    /// Damage met walking the indexes.
    index_errors: Vec<(usize, Error)>,
    /// Per file, where the walk started ([`KeyRange::starts`]); none from the start.
    starts: Option<Box<[u64]>>,
    /// Per file, where the walk stopped: the offset of the first entry it did not take
    /// ([`NO_ENTRY`] when it took all).
    ends: Box<[u64]>,
}

impl Found {
    /// Whether this pass's result can be joined with others': it met nothing it would
    /// have had to report.
    fn is_clean(&self) -> bool {
        self.newer.is_empty() && self.later.is_empty() && self.index_errors.is_empty()
    }
}

/// What the open pass over the keys finds.
pub(super) struct Scanned {
    pub(super) measurements: Vec<MeasurementSchema>,
    pub(super) placements: Vec<Placement>,
    pub(super) key_count: usize,
    pub(super) problems: Vec<Problem>,
}

/// One measurement as the open pass builds it.
struct Builder {
    tag_keys: BTreeSet<Vec<u8>>,
    fields: BTreeMap<Vec<u8>, FieldType>,
    segments: Vec<Segment>,
    series: usize,
    /// Whether any of its keys has data: a measurement made only of deleted keys does
    /// not exist.
    live: bool,
    /// The fields of the last series, in order, with their declared types: the next
    /// series mostly has the same, found here without searching `fields`.
    recent: Vec<(Vec<u8>, FieldType)>,
    /// Where the next field of series `recent_series` is expected in `recent`.
    recent_next: usize,
    recent_series: u64,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            tag_keys: BTreeSet::new(),
            fields: BTreeMap::new(),
            segments: Vec::new(),
            series: 0,
            live: false,
            recent: Vec::new(),
            recent_next: 0,
            recent_series: 0,
        }
    }

    /// The type of `field` in the measurement (`field_type` if it is new), for a key of
    /// series number `series`.
    fn declare(&mut self, series: u64, field: &[u8], field_type: FieldType) -> FieldType {
        if self.recent_series != series {
            self.recent_series = series;
            self.recent_next = 0;
        }
        let at = self.recent_next;
        self.recent_next += 1;
        if let Some((key, declared)) = self.recent.get(at)
            && key.as_slice() == field
        {
            return *declared;
        }
        let declared = match self.fields.get(field) {
            Some(&declared) => declared,
            None => {
                self.fields.insert(field.to_vec(), field_type);
                field_type
            }
        };
        match self.recent.get_mut(at) {
            Some((key, ty)) => {
                key.clear();
                key.extend_from_slice(field);
                *ty = declared;
            }
            None => self.recent.push((field.to_vec(), declared)),
        }
        declared
    }

    /// Adds what a later range found of the same measurement; `runs` maps that range's
    /// run numbers to the shard's. False when a field was declared with another type
    /// there: one pass would have reported its keys as conflicts.
    fn join(&mut self, later: Builder, runs: impl Fn(u32) -> u32) -> bool {
        for (field, field_type) in later.fields {
            match self.fields.get(&field) {
                Some(&declared) if declared != field_type => return false,
                Some(_) => {}
                None => {
                    self.fields.insert(field, field_type);
                }
            }
        }
        self.tag_keys.extend(later.tag_keys);
        self.segments
            .extend(later.segments.into_iter().map(|segment| Segment {
                run: runs(segment.run),
                ..segment
            }));
        self.series += later.series;
        self.live |= later.live;
        true
    }
}

/// Scans the keys from `from` (the shard's first key when `None`) up to `to` (the end
/// when `None`).
pub(super) fn scan_range(
    files: &[OpenTsm],
    cache: &Cache,
    shard_name: &std::path::Path,
    from: Option<&KeyRange>,
    to: Option<&KeyRange>,
) -> Result<Found> {
    let parsed: Vec<TsmFile<'_>> = files.iter().map(OpenTsm::file).collect::<Result<_>>()?;
    let mut iters = Vec::with_capacity(parsed.len());
    for (i, file) in parsed.iter().enumerate() {
        iters.push(match from.map(|r| r.starts.get(i).copied()) {
            None => Some(file.index()),
            Some(None | Some(NO_ENTRY)) => None,
            Some(Some(offset)) => Some(
                file.index_at(offset)
                    .map_err(|e| e.in_file(files[i].name()))?,
            ),
        });
    }
    let mut index = IndexMerge::new(iters);
    let mut cache_keys = cache.range_from(from.map_or(&[], |r| &r.from)).peekable();
    let end = to.map(|r| &*r.from);
    let mut group = KeyGroup::default();
    let mut newer = Vec::new();
    let mut later = Vec::new();
    let mut names: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut builders: Vec<Builder> = Vec::new();
    let mut name_buf = Vec::new();
    let mut tag_buf = Vec::new();
    // The escaped measurement of the previous key with a field, and its builder: keys of
    // one measurement come in long stretches, so a name is looked up once per stretch.
    let mut last_escaped: Option<(&[u8], usize)> = None;
    let mut run: Option<usize> = None;
    let mut runs = 0u32;
    let mut splitter = SortedSplitter::default();
    // Series are numbered as they come: keys of one series are consecutive.
    let mut series_number = 0u64;
    let mut last_counted: Option<u64> = None;
    // The escaped tag keys of the last series whose tag keys were added, and its builder.
    let mut last_tag_owner: Option<usize> = None;
    let mut last_tag_keys: Vec<&[u8]> = Vec::new();
    let mut tag_keys: Vec<&[u8]> = Vec::new();
    let mut key_count = 0;
    let mut first_key: Option<&[u8]> = None;
    let mut last_key: Option<&[u8]> = None;
    let mut first_member = None;
    loop {
        let cached = cache_keys.peek().map(|(k, _)| *k);
        let Some((key, indexed)) = next_key(index.peek(), cached) else {
            break;
        };
        if end.is_some_and(|end| key >= end) {
            break;
        }
        let split = splitter.split(key);
        // A key of the last key's series belongs to its measurement.
        let same_series = split.is_some_and(|s| s.same_series);
        let member = split.map(|s| match last_escaped {
            Some((_, id)) if same_series => id,
            _ => {
                let escaped = measurement_of(s.series);
                match last_escaped {
                    Some((e, id)) if e == escaped => id,
                    _ => {
                        unescape_into(escaped, b", ", &mut name_buf);
                        let id = match names.get(name_buf.as_slice()) {
                            Some(&id) => id,
                            None => {
                                names.insert(name_buf.clone(), builders.len());
                                builders.push(Builder::new());
                                builders.len() - 1
                            }
                        };
                        last_escaped = Some((escaped, id));
                        id
                    }
                }
            }
        });
        if first_key.is_none() {
            first_key = Some(key);
            first_member = member;
        }
        last_key = Some(key);
        if !same_series {
            series_number += 1;
        }
        if let Some(id) = member {
            let b = &mut builders[id];
            let new_run = run != Some(id);
            let long = b.segments.last().is_none_or(|s| s.keys >= SEGMENT_KEYS);
            if new_run || (long && !same_series) {
                if new_run {
                    runs += 1;
                }
                b.segments.push(Segment {
                    run: runs,
                    starts: index.positions().map(|p| p.unwrap_or(NO_ENTRY)).collect(),
                    first_key: key.into(),
                    keys: 0,
                });
            }
            if let Some(segment) = b.segments.last_mut() {
                segment.keys += 1;
            }
        }
        run = member;

        if indexed {
            index.next_key(&mut group.sources);
        } else {
            group.sources.clear();
        }
        group.key = key;
        group.cache = match cache_keys.peek() {
            Some(&(k, entry)) if k == key => {
                cache_keys.next();
                Some(entry)
            }
            _ => None,
        };
        let conflict = |file: usize, entry: &IndexEntry<'_>, kept: FieldType| {
            newer.push(Problem {
                error: Error::new(ErrorKind::TypeConflict {
                    found: entry.field_type,
                    kept,
                    with: ConflictWith::NewerData,
                })
                .at(entry.offset)
                .for_key(key)
                .in_file(files[file].name()),
                kind: ProblemKind::Conflict,
            });
        };
        let Some(field_type) = resolve(files, &mut group, conflict) else {
            continue;
        };
        key_count += 1;
        let (Some(SortedSplit { series, field, .. }), Some(id)) = (split, member) else {
            later.push(Problem {
                error: Error::new(ErrorKind::MissingFieldSeparator)
                    .at(0)
                    .for_key(key)
                    .in_file(shard_name),
                kind: ProblemKind::Conflict,
            });
            continue;
        };
        let b = &mut builders[id];
        b.live = true;
        let declared = b.declare(series_number, field, field_type);
        if declared != field_type {
            later.push(Problem {
                error: Error::new(ErrorKind::TypeConflict {
                    found: field_type,
                    kept: declared,
                    with: ConflictWith::OtherSeries,
                })
                .at(0)
                .for_key(key)
                .in_file(shard_name),
                kind: ProblemKind::Conflict,
            });
            continue;
        }
        // A series' keys are consecutive in the merged order (they all start with
        // `series#!~#`), so a new series is a change from the last one counted.
        if last_counted != Some(series_number) {
            last_counted = Some(series_number);
            b.series += 1;
            // Neighbouring series mostly have the same tag keys, known already.
            tag_keys.clear();
            tag_keys.extend(tags_of(series).map(|(k, _)| k));
            if last_tag_owner != Some(id) || last_tag_keys != tag_keys {
                for k in &tag_keys {
                    unescape_into(k, b", =", &mut tag_buf);
                    if !b.tag_keys.contains(tag_buf.as_slice()) {
                        b.tag_keys.insert(tag_buf.clone());
                    }
                }
                last_tag_owner = Some(id);
                std::mem::swap(&mut last_tag_keys, &mut tag_keys);
            }
        }
    }
    let mut by_id: Vec<Option<Vec<u8>>> = vec![None; builders.len()];
    for (name, &id) in &names {
        by_id[id] = Some(name.clone());
    }
    let edge = |key: Option<&[u8]>, member: Option<usize>| {
        key.map(|key| Edge {
            key: key.into(),
            measurement: member.and_then(|id| by_id[id].clone()),
        })
    };
    let first = edge(first_key, first_member);
    let last = edge(last_key, run);
    let mut builders: Vec<Option<Builder>> = builders.into_iter().map(Some).collect();
    let measurements = names
        .into_iter()
        .filter_map(|(name, id)| builders[id].take().map(|b| (name, b)))
        .collect();
    Ok(Found {
        measurements,
        runs,
        first,
        last,
        key_count,
        newer,
        later,
        index_errors: index.take_errors(),
        starts: from.map(|r| r.starts.clone()),
        ends: index.positions().map(|p| p.unwrap_or(NO_ENTRY)).collect(),
    })
}

/// Joins the scans of consecutive key ranges into what one pass over them finds; `None`
/// when they cannot be joined so (see the module documentation).
fn join_ranges(scans: Vec<Found>) -> Option<Found> {
    let mut scans = scans.into_iter();
    let mut joined = scans.next()?;
    if !joined.is_clean() || joined.starts.is_some() {
        return None;
    }
    for found in scans {
        // Where a range starts in each file was placed by a guess (see `series_cuts`); it
        // was right if the range before ended there: the first range starts at the start
        // of every index, and each walk steps from entry to entry.
        if !found.is_clean() || found.starts.as_deref() != Some(&*joined.ends) {
            return None;
        }
        let (Some(last), Some(first)) = (&joined.last, &found.first) else {
            // An empty range on either side: nothing to join across.
            if joined.first.is_none() {
                joined = found;
            } else {
                joined.ends = found.ends;
            }
            continue;
        };
        // One pass numbers a series per change of series key: the cut must be one.
        let mut splitter = SortedSplitter::default();
        splitter.split(&last.key);
        if splitter.split(&first.key).is_some_and(|s| s.same_series) {
            return None;
        }
        // The run going on across the cut keeps its number.
        let goes_on = last.measurement.is_some() && last.measurement == first.measurement;
        let offset = joined.runs - u32::from(goes_on);
        for (name, builder) in found.measurements {
            match joined.measurements.get_mut(&name) {
                Some(existing) => {
                    if !existing.join(builder, |run| run + offset) {
                        return None;
                    }
                }
                None => {
                    let mut builder = builder;
                    for segment in &mut builder.segments {
                        segment.run += offset;
                    }
                    joined.measurements.insert(name, builder);
                }
            }
        }
        joined.runs = offset + found.runs;
        joined.last = found.last;
        joined.ends = found.ends;
        joined.key_count += found.key_count;
    }
    Some(joined)
}

/// The open pass's result from the scans of every key range (in range order), or from one
/// pass over the whole shard where they cannot be joined.
///
/// # Errors
/// Damage met walking the indexes when `skip_corrupt` is off; files that no longer parse.
pub(super) fn finish_scan(
    files: &[OpenTsm],
    cache: &Cache,
    skip_corrupt: bool,
    shard_name: &std::path::Path,
    scans: Vec<Result<Found>>,
) -> Result<Scanned> {
    let joined = match scans.into_iter().collect::<Result<Vec<_>>>() {
        Ok(scans) if scans.len() > 1 => join_ranges(scans),
        Ok(mut scans) => scans.pop(),
        Err(_) => None,
    };
    let found = match joined {
        Some(found) => found,
        None => scan_range(files, cache, shard_name, None, None)?,
    };
    scanned(files, skip_corrupt, found)
}

/// The shard's schemas and placements from what the pass found, and its problems in the
/// order the shard reports them.
fn scanned(files: &[OpenTsm], skip_corrupt: bool, found: Found) -> Result<Scanned> {
    let Found {
        measurements: builders,
        key_count,
        mut newer,
        mut later,
        mut index_errors,
        ..
    } = found;
    // Index errors in file order, as a file-by-file walk meets them.
    index_errors.sort_by_key(|(file, _)| *file);
    let mut problems = Vec::new();
    for (file, err) in index_errors {
        let err = err.in_file(files[file].name());
        if !skip_corrupt {
            return Err(err);
        }
        // Keys before the damage were read intact and stay.
        problems.push(Problem {
            error: err,
            kind: ProblemKind::Skipped,
        });
    }
    // Conflicts with newer data (per key, in key order) come before the problems of
    // keys within their measurement, as influxd's own order of checks has them.
    problems.append(&mut newer);
    problems.append(&mut later);
    let mut measurements = Vec::new();
    let mut placements = Vec::new();
    for (name, b) in builders.into_iter().filter(|(_, b)| b.live) {
        measurements.push(MeasurementSchema {
            name,
            tag_keys: b.tag_keys.into_iter().collect(),
            fields: b
                .fields
                .into_iter()
                .map(|(key, field_type)| FieldSchema { key, field_type })
                .collect(),
        });
        placements.push(Placement {
            segments: b.segments,
            series: b.series,
        });
    }
    Ok(Scanned {
        measurements,
        placements,
        key_count,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Values;
    use crate::source::{FileSource, ShardFiles, TsmSource};
    use crate::testkit::tombstone::write_v4;
    use crate::testkit::tsm::TsmWriter;
    use crate::testkit::wal::WalSegmentWriter;
    use crate::tombstone::Tombstone;
    use crate::wal::WalWrite;

    const SERIES: usize = 1000;

    fn key(measurement: &str, series: usize, field: &str) -> Vec<u8> {
        format!(
            "{measurement},host=h{series:04},rack=r{}#!~#{field}",
            series % 7
        )
        .into_bytes()
    }

    /// Three measurements of 1,000 series in three overlapping files (indexes of about 240 KB,
    /// so a range start in the smaller files is bisected for), a WAL and tombstones: clean
    /// data, so cut into ranges its scans join.
    fn files() -> ShardFiles {
        let mut writers = [TsmWriter::new(), TsmWriter::new(), TsmWriter::new()];
        let mut keys = Vec::new();
        for m in ["cpu", "disk", "mem"] {
            for s in 0..SERIES {
                for f in ["a", "b"] {
                    keys.push(key(m, s, f));
                }
            }
        }
        keys.sort();
        for (i, k) in keys.iter().enumerate() {
            for (w, writer) in writers.iter_mut().enumerate() {
                if (i + w) % 3 != 0 {
                    let t = [w as i64 * 10, w as i64 * 10 + 1];
                    writer.write_block(k, &t, &Values::Integer(vec![i as i64, w as i64]));
                }
            }
        }
        let mut files = ShardFiles::new("s");
        for (w, writer) in writers.into_iter().enumerate() {
            let mut source = TsmSource::new(
                FileSource::new(format!("{w}.tsm"), writer.finish()),
                w as u64 + 1,
                1,
            );
            {
                // Deletes every point of a few keys.
                let gone: Vec<Tombstone> = (0..40)
                    .map(|s| Tombstone {
                        key: key("disk", s, "a"),
                        min_time: i64::MIN,
                        max_time: i64::MAX,
                    })
                    .collect();
                let name = format!("{w}.tombstone");
                source = source.with_tombstone(FileSource::new(name, write_v4(&[&gone])));
            }
            files = files.tsm(source);
        }
        let mut wal = WalSegmentWriter::new();
        for s in (0..SERIES).step_by(9) {
            wal.write(&[WalWrite {
                key: key("mem", s, "c"),
                timestamps: vec![100],
                values: Values::Integer(vec![7]),
            }]);
        }
        files.wal(FileSource::new("_1.wal", wal.finish()))
    }

    fn scan_in_ranges(range_bytes: u64) -> (usize, Option<Found>, Found) {
        let opening = crate::shard::ShardOpening::new(files(), &Default::default())
            .expect("opens")
            .range_bytes(range_bytes);
        let name = std::path::Path::new("s");
        let scans: Vec<Found> = (0..opening.key_ranges())
            .map(|range| opening.scan(range).found.expect("scans"))
            .collect();
        let ranges = scans.len();
        let joined = join_ranges(scans);
        let whole = scan_range(&opening.files, &opening.cache, name, None, None).expect("scans");
        (ranges, joined, whole)
    }

    /// Each measurement's name, tag keys, fields and series count.
    fn summary(found: &Found) -> Vec<String> {
        found
            .measurements
            .iter()
            .map(|(name, b)| format!("{name:?} {:?} {:?} {}", b.tag_keys, b.fields, b.series))
            .collect()
    }

    #[test]
    fn scans_of_key_ranges_join_into_one_pass() {
        for range_bytes in [1, 5_000, 20_000] {
            let (ranges, joined, whole) = scan_in_ranges(range_bytes);
            assert!(ranges > 2, "{range_bytes}: {ranges} ranges");
            let joined = joined.expect("clean scans join");
            assert_eq!(summary(&joined), summary(&whole), "{range_bytes}");
            assert_eq!(joined.key_count, whole.key_count);
            assert_eq!(joined.key_count, 3 * SERIES * 2 - 40 + SERIES.div_ceil(9));
            for (name, b) in &joined.measurements {
                let keys: u64 = b.segments.iter().map(|s| s.keys).sum();
                let whole_keys: u64 = whole.measurements[name]
                    .segments
                    .iter()
                    .map(|s| s.keys)
                    .sum();
                assert_eq!(keys, whole_keys);
                // Each measurement is one run of consecutive keys, cut or not.
                assert!(
                    b.segments.windows(2).all(|w| w[0].run == w[1].run),
                    "{name:?}"
                );
                assert!(
                    b.segments
                        .windows(2)
                        .all(|w| w[0].first_key < w[1].first_key)
                );
            }
            let runs: BTreeSet<u32> = joined
                .measurements
                .values()
                .map(|b| b.segments[0].run)
                .collect();
            assert_eq!(runs.len(), 3, "{range_bytes}: {runs:?}");
        }
    }

    /// A range placed one entry off (as a wrong guess of [`resync`] would place it) is
    /// found out when the scans are joined; the shard is then scanned in one pass.
    #[test]
    fn a_range_placed_wrong_is_scanned_again_in_one_pass() {
        let opening = crate::shard::ShardOpening::new(files(), &Default::default())
            .expect("opens")
            .range_bytes(20_000);
        let mut misplaced = crate::shard::ShardOpening::new(files(), &Default::default())
            .expect("opens")
            .range_bytes(20_000);
        let parsed: Vec<TsmFile<'_>> = misplaced
            .files
            .iter()
            .map(|f| f.file().expect("parses"))
            .collect();
        let cut = &mut misplaced.cuts[1];
        let (file, &start) = cut
            .starts
            .iter()
            .enumerate()
            .find(|(_, s)| **s != NO_ENTRY)
            .expect("a file with keys after the cut");
        let mut entries = parsed[file].index_at(start).expect("an entry");
        entries.next_entry().expect("reads").expect("an entry");
        let next = entries.offset();
        drop(parsed);
        misplaced.cuts[1].starts[file] = next;
        let scans = |o: &crate::shard::ShardOpening| -> Vec<Found> {
            (0..o.key_ranges())
                .map(|r| o.scan(r).found.expect("scans"))
                .collect()
        };
        assert!(join_ranges(scans(&opening)).is_some());
        assert!(join_ranges(scans(&misplaced)).is_none());
        let shard = |o: crate::shard::ShardOpening| {
            let s: Vec<_> = (0..o.key_ranges()).map(|r| o.scan(r)).collect();
            o.finish(s).expect("opens")
        };
        let (right, wrong) = (shard(opening), shard(misplaced));
        assert_eq!(right.measurements(), wrong.measurements());
        assert_eq!(right.key_count(), wrong.key_count());
        for m in 0..right.measurements().len() {
            assert_eq!(right.series_count(m), wrong.series_count(m));
        }
    }
}
