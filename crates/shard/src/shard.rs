//! One shard opened: its TSM files mapped (or handed in as bytes, see [`crate::source`]),
//! tombstones read, WAL replayed; and its merged view, measurement by measurement, as rows.
//!
//! What [`Shard`] returns is what `SELECT * FROM <measurement> GROUP BY *` returns on the
//! live server for this shard: every composite key's values merged across TSM files and
//! the WAL ([`crate::merge`] has the rules), each file's tombstones applied, the fields
//! of a series re-joined into rows.
//!
//! Memory: the replayed WAL is held, as influxd holds its cache; the keys are not. Opening
//! walks every file's index once, merged in key order, and keeps per measurement only its
//! schema and where its keys are (index offsets every few thousand keys); streaming a
//! measurement walks its keys again from there. So memory follows the work in flight (one
//! series, a few blocks per field), not the number of series.
//!
//! Threads: the library starts none. A big shard's keys are cut into ranges that
//! [`ShardOpening`] lets the caller scan on threads of its own; the shard is the same
//! either way.

use crate::cache::{Cache, CacheEntry, CacheRange, ReplayProblemKind};
use crate::file::{IndexEntry, TsmFile};
use crate::index_merge::IndexMerge;
use crate::key::{measurement_of, split_composite, unescape};
use crate::layout::ShardLocation;
use crate::limits::Limits;
use crate::merge::{BlockSource, KeyMerger, covered};
use crate::rows::MeasurementSchema;
use crate::source::{FileSource, ShardFiles, TsmSource};
use crate::tombstone::{TombstoneSet, decode_tombstones};
use crate::values::FieldType;
use crate::{Error, Result};

mod measurement_rows;
mod scan;

// The streaming and the option types live in their own modules; these paths are the ones
// callers have always used.
pub use crate::options::{ShardOptions, TimeRange};
pub use measurement_rows::MeasurementRows;
pub use scan::KeyRangeScan;

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

struct OpenTsm {
    source: FileSource,
    tombstones: TombstoneSet,
}

impl OpenTsm {
    /// The parsed file. Checked when opened, but parsed again rather than trusted: a
    /// caller's owner of the bytes could lend out other bytes the second time.
    fn file(&self) -> Result<TsmFile<'_>> {
        TsmFile::parse(self.source.bytes()).map_err(|e| e.in_file(self.source.name()))
    }

    fn name(&self) -> &std::path::Path {
        self.source.name()
    }
}

/// A stretch of one measurement's keys in the shard's merged key order, from a series'
/// first key on: where to resume the merged walk to stream them again.
struct Segment {
    /// The run (the longest stretch of consecutive keys of the measurement in the merged
    /// order) the segment belongs to; segments of one run follow each other.
    run: u32,
    /// Per file, the offset of its first index entry at or after `first_key`
    /// ([`NO_ENTRY`] when the file has none).
    starts: Box<[u64]>,
    /// The segment's first composite key.
    first_key: Box<[u8]>,
    /// Keys of the measurement in the segment, dead ones included.
    keys: u64,
}

/// Marks a file with no index entry left in [`Segment::starts`].
const NO_ENTRY: u64 = u64::MAX;

/// Keys per segment (a new one starts at the next series after that many): the
/// granularity of [`Shard::split_series`] and of seeking to a series.
const SEGMENT_KEYS: u64 = 4096;

/// Where a measurement's keys are, and how many series it has.
struct Placement {
    segments: Vec<Segment>,
    series: usize,
}

/// An opened shard.
pub struct Shard {
    location: ShardLocation,
    options: ShardOptions,
    files: Vec<OpenTsm>,
    cache: Cache,
    measurements: Vec<MeasurementSchema>,
    placements: Vec<Placement>,
    key_count: usize,
    problems: Vec<Problem>,
    /// Bytes of the TSM files opened, their tombstones and the WAL segments replayed.
    file_bytes: u64,
}

impl Shard {
    /// Opens the shard's files with default options.
    pub fn open(location: &ShardLocation, limits: &Limits) -> Result<Shard> {
        Shard::open_with(location, &ShardOptions::default().limits(*limits))
    }

    /// Opens the shard's files: maps every TSM file and walks its index, reads its
    /// tombstones, replays the WAL. The same as [`Shard::open_from`] with
    /// [`ShardFiles::map`]; errors name the files' paths.
    ///
    /// # Errors
    /// When a file cannot be read, or is damaged and `skip_corrupt` is off. A torn WAL
    /// tail is never an error (influxd drops it too); see [`Shard::problems`].
    pub fn open_with(location: &ShardLocation, options: &ShardOptions) -> Result<Shard> {
        Shard::open_located(location, ShardFiles::map(location)?, options)
    }

    /// [`Shard::open_from`] for a shard whose database, retention policy and id the
    /// caller knows (a shard of a backup, whose files are archive members):
    /// [`Shard::location`] is `location`, not the names of `files`.
    ///
    /// # Errors
    /// As [`Shard::open_from`].
    pub fn open_located(
        location: &ShardLocation,
        files: ShardFiles,
        options: &ShardOptions,
    ) -> Result<Shard> {
        let mut shard = Shard::open_from(files, options)?;
        shard.location = location.clone();
        Ok(shard)
    }

    /// Opens a shard from files the caller provides: walks every TSM file's index, reads
    /// its tombstones, replays the WAL. The shard keeps the TSM files' owners and decodes
    /// blocks from their bytes while streaming; tombstone and WAL bytes are released once
    /// read. Errors name each file by its [`FileSource::name`], and [`Shard::location`]
    /// lists those names (database and retention policy empty, id 0).
    ///
    /// ```
    /// use influx_tsm_shard::rows::RowBatch;
    /// use influx_tsm_shard::shard::{Shard, ShardOptions, TimeRange};
    /// use influx_tsm_shard::source::{FileSource, ShardFiles, TsmSource};
    ///
    /// # fn main() -> influx_tsm_shard::Result<()> {
    /// // Bytes from anywhere: here a fixture shard's files, read into memory.
    /// let dir = "../../fixtures/small-a/influxdb/data/fleet_ops/autogen/17";
    /// let tsm = std::fs::read(format!("{dir}/000000003-000000001.tsm"))?;
    /// let files = ShardFiles::new("fleet_ops/17")
    ///     .tsm(TsmSource::new(FileSource::new("gen 3", tsm), 3, 1));
    /// let shard = Shard::open_from(files, &ShardOptions::default().verify_crc(true))?;
    ///
    /// let mut values = 0;
    /// for (i, schema) in shard.measurements().iter().enumerate() {
    ///     let mut rows = shard.rows(i, TimeRange::ALL);
    ///     let mut batch = RowBatch::new(schema);
    ///     while rows.next_batch(&mut batch, 1024, 1 << 20)? {
    ///         values += batch.value_count();
    ///     }
    /// }
    /// assert!(values > 0);
    ///
    /// // A damaged copy: the error names the caller's name and the byte offset.
    /// let err = Shard::open_from(
    ///     ShardFiles::new("x").tsm(TsmSource::new(FileSource::new("gen 3", vec![0u8; 64]), 3, 1)),
    ///     &ShardOptions::default(),
    /// )
    /// .err()
    /// .expect("not a TSM file");
    /// assert_eq!(err.path(), Some(std::path::Path::new("gen 3")));
    /// assert_eq!(err.offset(), Some(0));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// When a file is damaged and `skip_corrupt` is off. A torn WAL tail is never an error
    /// (influxd drops it too); see [`Shard::problems`].
    pub fn open_from(files: ShardFiles, options: &ShardOptions) -> Result<Shard> {
        let opening = ShardOpening::new(files, options)?;
        let scans = (0..opening.key_ranges()).map(|i| opening.scan(i)).collect();
        opening.finish(scans)
    }

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
    fn parsed_files(&self) -> Result<Vec<TsmFile<'_>>> {
        self.files.iter().map(OpenTsm::file).collect()
    }

    /// Points `merger` at the key of `group`, whose sources [`resolve`] kept.
    fn reset_merger<'a>(
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

/// A shard being opened: its TSM files checked, tombstones read, WAL replayed; its keys
/// not yet scanned. [`Shard::open_from`] does all of it on the calling thread. A caller
/// with threads to spare scans the key ranges on them (each scan borrows the opening
/// only; the library starts no thread of its own) and hands the scans back in order:
///
/// ```
/// use influx_tsm_shard::layout::scan;
/// use influx_tsm_shard::shard::{ShardOpening, ShardOptions};
/// use influx_tsm_shard::source::ShardFiles;
///
/// # fn main() -> influx_tsm_shard::Result<()> {
/// let dir = std::path::Path::new("../../fixtures/small-a/influxdb");
/// let layout = scan(&dir.join("data"), Some(&dir.join("wal")))?;
/// let location = &layout.shards[0];
/// let opening = ShardOpening::new(ShardFiles::map(location)?, &ShardOptions::default())?
///     .located(location);
/// let shared = &opening;
/// let scans = std::thread::scope(|threads| {
///     let running: Vec<_> = (0..shared.key_ranges())
///         .map(|range| threads.spawn(move || shared.scan(range)))
///         .collect();
///     running.into_iter().map(|t| t.join().expect("scan")).collect()
/// });
/// let shard = opening.finish(scans)?;
/// assert!(!shard.measurements().is_empty());
/// # Ok(())
/// # }
/// ```
///
/// Where the key ranges fall depends on the files only, and the shard [`ShardOpening::finish`]
/// makes is the same whichever threads scanned them.
pub struct ShardOpening {
    location: ShardLocation,
    options: ShardOptions,
    files: Vec<OpenTsm>,
    cache: Cache,
    problems: Vec<Problem>,
    file_bytes: u64,
    /// Where key ranges after the first start; none for a shard scanned in one pass.
    cuts: Vec<scan::KeyRange>,
}

impl ShardOpening {
    /// Checks the TSM files' headers and footers, reads their tombstones, replays the
    /// WAL, and places the key ranges of a shard big enough to be cut (from a few entries
    /// read near each cut, not a walk of the indexes).
    ///
    /// # Errors
    /// As [`Shard::open_from`], except for damage inside an index: that is found by the
    /// scans and reported by [`ShardOpening::finish`].
    pub fn new(files: ShardFiles, options: &ShardOptions) -> Result<ShardOpening> {
        let location = files.location();
        let ShardFiles {
            name: _,
            mut tsm_files,
            wal_segments,
        } = files;
        // Stable: files of equal (generation, sequence) keep the caller's order.
        tsm_files.sort_by_key(|t| (t.generation, t.sequence));
        let mut problems = Vec::new();
        let mut files = Vec::new();
        let mut file_bytes = 0;
        for tsm in tsm_files {
            match open_tsm(tsm, &options.limits) {
                Ok((file, tombstone_bytes)) => {
                    file_bytes += file.source.len() + tombstone_bytes;
                    files.push(file);
                }
                Err(err) if options.skip_corrupt && err.is_corruption() => problems.push(Problem {
                    error: err,
                    kind: ProblemKind::Skipped,
                }),
                Err(err) => return Err(err),
            }
        }
        file_bytes += wal_segments.iter().map(FileSource::len).sum::<u64>();
        let (cache, replay_problems) =
            Cache::replay(wal_segments.iter().map(FileSource::bytes), &options.limits);
        problems.extend(replay_problems.into_iter().map(|p| {
            let name = wal_segments[p.segment].name().to_path_buf();
            let kind = match p.kind {
                ReplayProblemKind::Unreadable(_) => ProblemKind::DroppedByInfluxd,
                _ => ProblemKind::Conflict,
            };
            Problem {
                error: p.into_error().in_file(&name),
                kind,
            }
        }));
        // The cache owns its values; the segments' bytes can go.
        drop(wal_segments);
        let parsed: Vec<TsmFile<'_>> = files.iter().map(OpenTsm::file).collect::<Result<_>>()?;
        let cuts = scan::plan_key_ranges(&parsed, scan::RANGE_INDEX_BYTES);
        Ok(ShardOpening {
            location,
            options: *options,
            files,
            cache,
            problems,
            file_bytes,
            cuts,
        })
    }

    /// Sets the shard's [`Shard::location`] (see [`Shard::open_located`]).
    pub fn located(mut self, location: &ShardLocation) -> ShardOpening {
        self.location = location.clone();
        self
    }

    /// Places the key ranges anew, about `index_bytes` of the files' indexes each (by
    /// default 32 MiB; a shard with less than twice that is scanned in one pass), at most
    /// 16. More ranges than threads cost only their joining.
    pub fn range_bytes(mut self, index_bytes: u64) -> ShardOpening {
        let parsed: Result<Vec<TsmFile<'_>>> = self.files.iter().map(OpenTsm::file).collect();
        // Files that no longer parse are reported by the scan.
        self.cuts = parsed
            .map(|parsed| scan::plan_key_ranges(&parsed, index_bytes.max(1)))
            .unwrap_or_default();
        self
    }

    /// How many key ranges there are to scan (at least one).
    pub fn key_ranges(&self) -> usize {
        self.cuts.len() + 1
    }

    /// Scans key range `range` (of [`ShardOpening::key_ranges`]): each measurement's
    /// schema and where its keys are, within the range. Any thread may scan any range.
    pub fn scan(&self, range: usize) -> KeyRangeScan {
        let from = range.checked_sub(1).and_then(|i| self.cuts.get(i));
        let to = self.cuts.get(range);
        KeyRangeScan {
            range,
            found: scan::scan_range(&self.files, &self.cache, &self.location.data_dir, from, to),
        }
    }

    /// The opened shard, from one scan of each key range. Scans missing, repeated or out
    /// of order are redone here, in one pass over the whole shard, as is a shard whose
    /// scans met damage or conflicts (so their reports come in the order one pass finds
    /// them).
    ///
    /// # Errors
    /// As [`Shard::open_from`].
    pub fn finish(self, scans: Vec<KeyRangeScan>) -> Result<Shard> {
        let in_order = scans.len() == self.key_ranges()
            && scans.iter().enumerate().all(|(i, scan)| scan.range == i);
        let found = match in_order {
            true => scans.into_iter().map(|scan| scan.found).collect(),
            false => Vec::new(),
        };
        let scanned = scan::finish_scan(
            &self.files,
            &self.cache,
            self.options.skip_corrupt,
            &self.location.data_dir,
            found,
        )?;
        let mut problems = self.problems;
        problems.extend(scanned.problems);
        Ok(Shard {
            location: self.location,
            options: self.options,
            files: self.files,
            cache: self.cache,
            measurements: scanned.measurements,
            placements: scanned.placements,
            key_count: scanned.key_count,
            problems,
            file_bytes: self.file_bytes,
        })
    }
}

/// One key of the merged walk: the files' entries holding it and its WAL points.
#[derive(Default)]
struct KeyGroup<'a> {
    key: &'a [u8],
    /// (file index, entry), oldest file first.
    sources: Vec<(usize, IndexEntry<'a>)>,
    cache: Option<&'a CacheEntry>,
}

/// Every composite key of the shard (TSM indexes and WAL) in byte order, from a starting
/// point on; see [`IndexMerge`].
struct KeyStream<'a> {
    shard: &'a Shard,
    index: IndexMerge<'a>,
    cache: std::iter::Peekable<CacheRange<'a>>,
}

impl<'a> KeyStream<'a> {
    /// From the first key of the shard.
    fn start(shard: &'a Shard, files: &[TsmFile<'a>]) -> Result<KeyStream<'a>> {
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
    fn at(shard: &'a Shard, files: &[TsmFile<'a>], segment: &Segment) -> Result<KeyStream<'a>> {
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
    fn check(&mut self) -> Result<()> {
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

    fn peek(&mut self) -> Option<&'a [u8]> {
        let cached = self.cache.peek().map(|(k, _)| *k);
        next_key(self.index.peek(), cached).map(|(key, _)| key)
    }

    /// Moves to the next key, filling `group`; `false` at the end.
    fn next(&mut self, group: &mut KeyGroup<'a>) -> Result<bool> {
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
fn next_key<'a>(indexed: Option<&'a [u8]>, cached: Option<&'a [u8]>) -> Option<(&'a [u8], bool)> {
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
fn resolve<'a>(
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
fn open_tsm(tsm: TsmSource, limits: &Limits) -> Result<(OpenTsm, u64)> {
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
