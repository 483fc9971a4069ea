//! An opened shard: its mapped files, replayed WAL and per-measurement placements, and
//! the walk of its keys merged across files and WAL that streaming and scanning share.

use crate::cache::{Cache, CacheEntry, CacheRange};
use crate::file::{IndexEntry, TsmFile};
use crate::index_merge::IndexMerge;
use crate::key::{measurement_of, split_composite, unescape};
use crate::layout::ShardLocation;
use crate::limits::Limits;
use crate::merge::{BlockSource, KeyMerger, covered};
use crate::options::{ShardOptions, TimeRange};
use crate::rows::MeasurementSchema;
use crate::source::{FileSource, TsmSource};
use crate::tombstone::{TombstoneSet, decode_tombstones};
use crate::values::FieldType;
use crate::{Error, Result};

/// Something found while opening a shard that did not stop it.
#[derive(Debug)]
pub struct Problem {
    /// What happened, with the file and offset it names.
    pub error: Error,
    /// What kind of problem it is.
    pub kind: ProblemKind,
}

/// The kinds of [`Problem`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// Damaged data was left out because [`ShardOptions::skip_corrupt`] is set.
    Skipped,
    /// Data influxd itself drops at start-up was left out: a torn WAL tail.
    DroppedByInfluxd,
    /// Conflicting data was left out where influxd would refuse to open the shard or
    /// hide it: a key or field with values of two types, a key without a field.
    Conflict,
}

pub(super) struct OpenTsm {
    pub(super) source: FileSource,
    pub(super) tombstones: TombstoneSet,
}

impl OpenTsm {
    /// The parsed file. Checked when opened, but parsed again rather than trusted: a
    /// caller's owner of the bytes could lend out other bytes the second time.
    pub(super) fn file(&self) -> Result<TsmFile<'_>> {
        TsmFile::parse(self.source.bytes()).map_err(|e| e.in_file(self.source.name()))
    }

    pub(super) fn name(&self) -> &std::path::Path {
        self.source.name()
    }
}

/// A stretch of one measurement's keys in the shard's merged key order, from a series'
/// first key on: where to resume the merged walk to stream them again.
pub(super) struct Segment {
    /// The run (the longest stretch of consecutive keys of the measurement in the merged
    /// order) the segment belongs to; segments of one run follow each other.
    pub(super) run: u32,
    /// Per file, the offset of its first index entry at or after `first_key`
    /// ([`NO_ENTRY`] when the file has none).
    pub(super) starts: Box<[u64]>,
    /// The segment's first composite key.
    pub(super) first_key: Box<[u8]>,
    /// Keys of the measurement in the segment, dead ones included.
    pub(super) keys: u64,
}

/// Marks a file with no index entry left in [`Segment::starts`].
pub(super) const NO_ENTRY: u64 = u64::MAX;

/// Keys per segment (a new one starts at the next series after that many): the
/// granularity of [`Shard::split_series`] and of seeking to a series.
pub(super) const SEGMENT_KEYS: u64 = 4096;

/// Where a measurement's keys are, and how many series it has.
pub(super) struct Placement {
    pub(super) segments: Vec<Segment>,
    pub(super) series: usize,
}

/// An opened shard.
pub struct Shard {
    pub(super) location: ShardLocation,
    pub(super) options: ShardOptions,
    pub(super) files: Vec<OpenTsm>,
    pub(super) cache: Cache,
    pub(super) measurements: Vec<MeasurementSchema>,
    pub(super) placements: Vec<Placement>,
    pub(super) key_count: usize,
    pub(super) problems: Vec<Problem>,
    /// Bytes of the TSM files opened, their tombstones and the WAL segments replayed.
    pub(super) file_bytes: u64,
}

impl Shard {
    /// Where the shard's files are.
    pub fn location(&self) -> &ShardLocation {
        &self.location
    }

    /// The measurements of the shard, sorted by name.
    pub fn measurements(&self) -> &[MeasurementSchema] {
        &self.measurements
    }

    /// Number of series of measurement `index`, counted at open from the indexes: series
    /// with at least one key whose blocks are not wholly deleted by one tombstone. A series
    /// whose points are deleted only by several tombstones together is counted but yields no
    /// rows (telling would mean decoding its blocks), so this is an upper bound on the
    /// series that [`Shard::rows_between`] streams, exact when no such deletes exist.
    pub fn series_count(&self, index: usize) -> usize {
        self.placements.get(index).map_or(0, |p| p.series)
    }

    /// What went wrong without stopping the open: torn WAL tails, skipped damaged files,
    /// type conflicts.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The replayed WAL.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Number of composite keys with data (counted at open).
    pub fn key_count(&self) -> usize {
        self.key_count
    }

    /// Streams the merged values of the composite key `key` in `range`.
    ///
    /// Cost: the shard keeps no per-key table, so this walks the merged indexes from the
    /// start of `key`'s measurement (or of the shard, for a key of no measurement) up to
    /// `key`; for tools and tests, not for a loop over keys ([`Shard::rows`] streams).
    pub fn key_values(&self, key: &[u8], range: TimeRange) -> Result<Option<KeyMerger<'_>>> {
        let files = self.parsed_files()?;
        let measurement = split_composite(key).and_then(|(series, _)| {
            let name = unescape(measurement_of(series), b", ");
            self.measurements
                .binary_search_by(|m| m.name.as_slice().cmp(&name))
                .ok()
        });
        let mut stream = match measurement.and_then(|m| {
            let segments = &self.placements[m].segments;
            let after = segments.partition_point(|s| *s.first_key <= *key);
            after.checked_sub(1).map(|i| &segments[i])
        }) {
            Some(segment) => KeyStream::at(self, &files, segment)?,
            None => KeyStream::start(self, &files)?,
        };
        let mut group = KeyGroup::default();
        while let Some(next) = stream.peek() {
            if next > key {
                break;
            }
            stream.next(&mut group)?;
            if next < key {
                continue;
            }
            let Some(ty) = resolve(&self.files, &mut group, |_, _, _| {}) else {
                return Ok(None);
            };
            let mut merger = KeyMerger::new(ty, Vec::new(), None, range, self.options);
            self.reset_merger(&mut merger, &files, &group, ty, range);
            return Ok(Some(merger));
        }
        Ok(None)
    }

    /// The files parsed again (see [`OpenTsm::file`]).
    pub(super) fn parsed_files(&self) -> Result<Vec<TsmFile<'_>>> {
        self.files.iter().map(OpenTsm::file).collect()
    }

    /// Points `merger` at the key of `group`, whose sources [`resolve`] kept.
    #[inline]
    pub(super) fn reset_merger<'a>(
        &'a self,
        merger: &mut KeyMerger<'a>,
        files: &[TsmFile<'a>],
        group: &KeyGroup<'a>,
        field_type: FieldType,
        range: TimeRange,
    ) {
        let key = group.key;
        let blocks = group.sources.iter().flat_map(|&(file_index, entry)| {
            let open = &self.files[file_index];
            let tombstones = open.tombstones.ranges(key);
            let file = files[file_index];
            entry
                .blocks()
                .enumerate()
                .map(move |(b, block)| BlockSource {
                    file,
                    entry: block,
                    priority: ((file_index as u64) << 32) | b as u64,
                    tombstones,
                    path: open.name(),
                })
        });
        let cache = group.cache.map(|c| (c.timestamps.as_slice(), &c.values));
        merger.reset(field_type, blocks, cache, range, self.options);
    }

    /// Up to `parts - 1` series keys of measurement `index`, ascending, that cut its series
    /// into `parts` shares of roughly equal key counts, for [`Shard::rows_between`] on
    /// several threads. Fewer when the measurement is small (shares are made of whole
    /// stretches of about 4096 keys); none when `index` is out of range.
    pub fn split_series(&self, index: usize, parts: usize) -> Vec<Vec<u8>> {
        let Some(placement) = self.placements.get(index) else {
            return Vec::new();
        };
        let total: u64 = placement.segments.iter().map(|s| s.keys).sum();
        let parts = parts.max(1) as u64;
        let mut cuts: Vec<Vec<u8>> = Vec::new();
        let mut before = 0u64;
        for segment in &placement.segments {
            // Cut before this segment when it starts past the next share's boundary.
            let share = (cuts.len() as u64 + 1).saturating_mul(total) / parts;
            if before > 0
                && before >= share
                && (cuts.len() as u64) + 1 < parts
                && let Some((series, _)) = split_composite(&segment.first_key)
            {
                cuts.push(series.to_vec());
            }
            before += segment.keys;
        }
        cuts
    }

    /// Total bytes of the shard's TSM files (those opened), their tombstone files and its
    /// WAL segments, as counted when the shard was opened.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }
}

/// One key of the merged walk: the files' entries holding it and its WAL points.
#[derive(Default)]
pub(super) struct KeyGroup<'a> {
    pub(super) key: &'a [u8],
    /// (file index, entry), oldest file first.
    pub(super) sources: Vec<(usize, IndexEntry<'a>)>,
    pub(super) cache: Option<&'a CacheEntry>,
}

/// Every composite key of the shard (TSM indexes and WAL) in byte order, from a starting
/// point on; see [`IndexMerge`].
pub(super) struct KeyStream<'a> {
    pub(super) shard: &'a Shard,
    pub(super) index: IndexMerge<'a>,
    pub(super) cache: std::iter::Peekable<CacheRange<'a>>,
}

impl<'a> KeyStream<'a> {
    /// From the first key of the shard.
    pub(super) fn start(shard: &'a Shard, files: &[TsmFile<'a>]) -> Result<KeyStream<'a>> {
        let iters = files.iter().map(|f| Some(f.index())).collect();
        let mut stream = KeyStream {
            shard,
            index: IndexMerge::new(iters),
            cache: shard.cache.range_from(&[]).peekable(),
        };
        stream.check()?;
        Ok(stream)
    }

    /// From the first key of `segment`.
    pub(super) fn at(
        shard: &'a Shard,
        files: &[TsmFile<'a>],
        segment: &Segment,
    ) -> Result<KeyStream<'a>> {
        let mut iters = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            match segment.starts.get(i) {
                Some(&NO_ENTRY) | None => iters.push(None),
                Some(&offset) => iters.push(Some(
                    file.index_at(offset)
                        .map_err(|e| e.in_file(shard.files[i].name()))?,
                )),
            }
        }
        let mut stream = KeyStream {
            shard,
            index: IndexMerge::new(iters),
            cache: shard.cache.range_from(&segment.first_key).peekable(),
        };
        stream.check()?;
        Ok(stream)
    }

    /// Index errors met while streaming: the damage was found at open too, and was either
    /// skipped there (the file's keys end at it, as they did at open) or refused the open;
    /// one met only now means the bytes changed since, and is refused.
    pub(super) fn check(&mut self) -> Result<()> {
        if self.index.has_errors() {
            let errors = self.index.take_errors();
            if !self.shard.options.skip_corrupt
                && let Some((file, err)) = errors.into_iter().next()
            {
                return Err(err.in_file(self.shard.files[file].name()));
            }
        }
        Ok(())
    }

    pub(super) fn peek(&mut self) -> Option<&'a [u8]> {
        let cached = self.cache.peek().map(|(k, _)| *k);
        next_key(self.index.peek(), cached).map(|(key, _)| key)
    }

    /// Moves to the next key, filling `group`; `false` at the end.
    pub(super) fn next(&mut self, group: &mut KeyGroup<'a>) -> Result<bool> {
        let cached = self.cache.peek().map(|(k, _)| *k);
        let Some((key, indexed)) = next_key(self.index.peek(), cached) else {
            group.sources.clear();
            return Ok(false);
        };
        if indexed {
            self.index.next_key(&mut group.sources);
        } else {
            group.sources.clear();
        }
        group.key = key;
        group.cache = match self.cache.peek() {
            Some(&(k, entry)) if k == key => {
                self.cache.next();
                Some(entry)
            }
            _ => None,
        };
        self.check()?;
        Ok(true)
    }
}

/// The smaller of the next key of the indexes and of the WAL, and whether the indexes
/// hold it (both may).
pub(super) fn next_key<'a>(
    indexed: Option<&'a [u8]>,
    cached: Option<&'a [u8]>,
) -> Option<(&'a [u8], bool)> {
    match (indexed, cached) {
        (Some(a), Some(b)) => Some((a.min(b), a <= b)),
        (Some(a), None) => Some((a, true)),
        (None, b) => b.map(|b| (b, false)),
    }
}

/// Decides a key's type and keeps in `group.sources` only the sources of that type with
/// data left after their file's tombstones; `None` when nothing of the key is left.
/// `conflict(file, entry, kept)` hears of each live source of another type.
///
/// The type is the WAL's if the key is there (the cache wins every timestamp), else that
/// of the newest file with data left: what influxd's cursors would read.
pub(super) fn resolve<'a>(
    files: &[OpenTsm],
    group: &mut KeyGroup<'a>,
    mut conflict: impl FnMut(usize, &IndexEntry<'a>, FieldType),
) -> Option<FieldType> {
    let key = group.key;
    group.sources.retain(|(file, entry)| {
        let tombstones = &files[*file].tombstones;
        if tombstones.is_empty() {
            return true;
        }
        let ranges = tombstones.ranges(key);
        let (min, max) = entry.time_range();
        ranges.is_empty() || !covered(ranges, min, max)
    });
    let field_type = group
        .cache
        .map(CacheEntry::field_type)
        .or_else(|| group.sources.last().map(|s| s.1.field_type))?;
    group.sources.retain(|(file, entry)| {
        let keep = entry.field_type == field_type;
        if !keep {
            conflict(*file, entry, field_type);
        }
        keep
    });
    Some(field_type)
}

/// Checks a TSM file's header and footer and decodes its tombstones; returns the file
/// and how many tombstone bytes were read.
pub(super) fn open_tsm(tsm: TsmSource, limits: &Limits) -> Result<(OpenTsm, u64)> {
    let TsmSource {
        file: source,
        tombstone,
        ..
    } = tsm;
    TsmFile::parse(source.bytes()).map_err(|e| e.in_file(source.name()))?;
    let (tombstones, tombstone_bytes) = match tombstone {
        Some(t) => {
            // Capped like the bytes a gzip'd tombstone file inflates to: a mapped one is
            // never copied whole, but what it decodes to is held.
            let cap = limits.max_decompressed_bytes as u64;
            if t.len() > cap {
                return Err(Error::limit(0, "tombstone file bytes", t.len(), cap).in_file(t.name()));
            }
            let set = decode_tombstones(t.bytes(), limits).map_err(|e| e.in_file(t.name()))?;
            (TombstoneSet::new(set), t.len())
        }
        None => (TombstoneSet::default(), 0),
    };
    Ok((OpenTsm { source, tombstones }, tombstone_bytes))
}
