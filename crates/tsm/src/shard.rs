//! One shard opened: its TSM files mapped (or handed in as bytes, see [`crate::source`]),
//! tombstones read, WAL replayed; and its merged view, measurement by measurement, as rows.
//!
//! What [`Shard`] returns is what `SELECT * FROM <measurement> GROUP BY *` returns on the
//! live server for this shard: every composite key's values merged across TSM files and
//! the WAL ([`crate::merge`] has the rules), each file's tombstones applied, the fields
//! of a series re-joined into rows.
//!
//! Memory: the shard's key list (one entry per composite key: the key bytes and where its
//! index entries are) and the replayed WAL are held, as influxd holds its index and cache;
//! block data is decoded while streaming, a few blocks per field in flight.

use std::collections::{BTreeMap, BTreeSet};

use crate::cache::{Cache, ReplayProblemKind};
use crate::error::{ConflictWith, Error, ErrorKind, Result};
use crate::file::TsmFile;
use crate::key::{SeriesKey, measurement_of, split_composite, unescape};
use crate::layout::ShardLocation;
use crate::limits::Limits;
use crate::merge::{BlockSource, KeyMerger, covered};
use crate::rows::{FieldSchema, MeasurementSchema};
use crate::source::{FileSource, ShardFiles, TsmSource};
use crate::tombstone::{TombstoneSet, decode_tombstones};
use crate::values::FieldType;

mod measurement_rows;

// The streaming and the option types live in their own modules; these paths are the ones
// callers have always used.
pub use crate::options::{ShardOptions, TimeRange};
pub use measurement_rows::MeasurementRows;

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

/// A key's index entry in one file: (key, file index, entry offset, type).
type IndexRef<'a> = (&'a [u8], usize, u64, FieldType);

/// Where a composite key's data is.
struct KeyInfo {
    key: Box<[u8]>,
    field_type: FieldType,
    /// (file index, absolute offset of the key's index entry), oldest file first.
    sources: Vec<(usize, u64)>,
}

struct SeriesInfo {
    key: Vec<u8>,
    tags: Vec<Option<Vec<u8>>>,
    /// (index into the schema's fields, index into `Shard::keys`).
    fields: Vec<(usize, usize)>,
}

/// An opened shard.
pub struct Shard {
    location: ShardLocation,
    options: ShardOptions,
    files: Vec<OpenTsm>,
    cache: Cache,
    keys: Vec<KeyInfo>,
    measurements: Vec<MeasurementSchema>,
    series: Vec<Vec<SeriesInfo>>,
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
        let mut shard = Shard::open_from(ShardFiles::map(location)?, options)?;
        // The location scanned knows more (database, retention policy, WAL folder) than
        // the names of the mapped files.
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
    /// use tsm::rows::RowBatch;
    /// use tsm::shard::{Shard, ShardOptions, TimeRange};
    /// use tsm::source::{FileSource, ShardFiles, TsmSource};
    ///
    /// # fn main() -> tsm::Result<()> {
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
        let mut shard = Shard {
            location,
            options: *options,
            files,
            cache,
            keys: Vec::new(),
            measurements: Vec::new(),
            series: Vec::new(),
            problems,
            file_bytes,
        };
        shard.build_keys()?;
        shard.build_measurements();
        Ok(shard)
    }

    /// Collects every composite key from the TSM indexes and the WAL, in byte order, with
    /// where its data is; drops keys whose data is entirely deleted.
    fn build_keys(&mut self) -> Result<()> {
        let mut entries: Vec<IndexRef<'_>> = Vec::new();
        for (i, open) in self.files.iter().enumerate() {
            for entry in open.file()?.index() {
                match entry {
                    Ok(e) => entries.push((e.key, i, e.offset, e.field_type)),
                    Err(err) => {
                        let err = err.in_file(open.name());
                        if !self.options.skip_corrupt {
                            return Err(err);
                        }
                        // Keys before the damage were read intact and stay.
                        self.problems.push(Problem {
                            error: err,
                            kind: ProblemKind::Skipped,
                        });
                    }
                }
            }
        }
        entries.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
        let mut cache_keys = self.cache.keys().peekable();
        let mut keys: Vec<KeyInfo> = Vec::new();
        let mut i = 0;
        loop {
            let next_tsm = entries.get(i).map(|e| e.0);
            let next_cache = cache_keys.peek().copied();
            let key: &[u8] = match (next_tsm, next_cache) {
                (None, None) => break,
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
            };
            let mut sources = Vec::new();
            while let Some(e) = entries.get(i).filter(|e| e.0 == key) {
                sources.push((e.1, e.2, e.3));
                i += 1;
            }
            let cached = self.cache.get(key);
            if next_cache == Some(key) {
                cache_keys.next();
            }
            let cache_type = cached.map(|c| c.values.field_type());
            if let Some(info) = key_info(&self.files, &mut self.problems, key, sources, cache_type)
            {
                keys.push(info);
            }
        }
        self.keys = keys;
        Ok(())
    }

    /// Groups the keys by measurement and series, and derives each measurement's schema.
    fn build_measurements(&mut self) {
        struct Builder {
            tag_keys: BTreeSet<Vec<u8>>,
            fields: BTreeMap<Vec<u8>, FieldType>,
            series: Vec<SeriesBuilder>,
        }
        struct SeriesBuilder {
            key: Vec<u8>,
            tags: Vec<(Vec<u8>, Vec<u8>)>,
            /// (field key, index into `Shard::keys`)
            fields: Vec<(Vec<u8>, usize)>,
        }
        let mut by_name: BTreeMap<Vec<u8>, Builder> = BTreeMap::new();
        for (k, info) in self.keys.iter().enumerate() {
            let Some((series_key, field)) = split_composite(&info.key) else {
                self.problems.push(Problem {
                    error: Error::new(ErrorKind::MissingFieldSeparator)
                        .at(0)
                        .for_key(&info.key)
                        .in_file(&self.location.data_dir),
                    kind: ProblemKind::Conflict,
                });
                continue;
            };
            let name = unescape(measurement_of(series_key), b", ");
            let b = by_name.entry(name).or_insert_with(|| Builder {
                tag_keys: BTreeSet::new(),
                fields: BTreeMap::new(),
                series: Vec::new(),
            });
            let declared = *b.fields.entry(field.to_vec()).or_insert(info.field_type);
            if declared != info.field_type {
                self.problems.push(Problem {
                    error: Error::new(ErrorKind::TypeConflict {
                        found: info.field_type,
                        kept: declared,
                        with: ConflictWith::OtherSeries,
                    })
                    .at(0)
                    .for_key(&info.key)
                    .in_file(&self.location.data_dir),
                    kind: ProblemKind::Conflict,
                });
                continue;
            }
            if b.series.last().is_none_or(|s| s.key != series_key) {
                let tags = SeriesKey::parse(series_key).tags_unescaped();
                b.tag_keys.extend(tags.iter().map(|(k, _)| k.clone()));
                b.series.push(SeriesBuilder {
                    key: series_key.to_vec(),
                    tags,
                    fields: Vec::new(),
                });
            }
            if let Some(last) = b.series.last_mut() {
                last.fields.push((field.to_vec(), k));
            }
        }
        for (name, b) in by_name {
            let tag_keys: Vec<Vec<u8>> = b.tag_keys.into_iter().collect();
            let fields: Vec<FieldSchema> = b
                .fields
                .into_iter()
                .map(|(key, field_type)| FieldSchema { key, field_type })
                .collect();
            let series = b
                .series
                .into_iter()
                .map(|series| {
                    let mut aligned = vec![None; tag_keys.len()];
                    for (k, v) in series.tags {
                        if let Ok(i) = tag_keys.binary_search(&k) {
                            aligned[i] = Some(v);
                        }
                    }
                    let fields = series
                        .fields
                        .into_iter()
                        .filter_map(|(f, key_idx)| {
                            fields
                                .binary_search_by(|s| s.key.as_slice().cmp(&f))
                                .ok()
                                .map(|i| (i, key_idx))
                        })
                        .collect();
                    SeriesInfo {
                        key: series.key,
                        tags: aligned,
                        fields,
                    }
                })
                .collect();
            self.measurements.push(MeasurementSchema {
                name,
                tag_keys,
                fields,
            });
            self.series.push(series);
        }
    }

    /// Where the shard's files are.
    pub fn location(&self) -> &ShardLocation {
        &self.location
    }

    /// The measurements of the shard, sorted by name.
    pub fn measurements(&self) -> &[MeasurementSchema] {
        &self.measurements
    }

    /// Number of series of measurement `index`.
    pub fn series_count(&self, index: usize) -> usize {
        self.series.get(index).map_or(0, Vec::len)
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

    /// Number of composite keys with data.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Streams the merged values of the composite key `key` in `range`.
    pub fn key_values(&self, key: &[u8], range: TimeRange) -> Result<Option<KeyMerger<'_>>> {
        match self.keys.binary_search_by(|k| k.key.as_ref().cmp(key)) {
            Ok(i) => self.merger(i, range).map(Some),
            Err(_) => Ok(None),
        }
    }

    fn merger(&self, key_index: usize, range: TimeRange) -> Result<KeyMerger<'_>> {
        let info = &self.keys[key_index];
        let mut blocks = Vec::new();
        for &(file_index, offset) in &info.sources {
            let open = &self.files[file_index];
            let file = open.file()?;
            let entry = file
                .index_entry_at(offset)
                .map_err(|e| e.in_file(open.name()))?;
            let tombstones = open.tombstones.ranges(&info.key);
            for (b, block) in entry.blocks().enumerate() {
                blocks.push(BlockSource {
                    file,
                    entry: block,
                    priority: ((file_index as u64) << 32) | b as u64,
                    tombstones,
                    path: open.name(),
                });
            }
        }
        let cache = self
            .cache
            .get(&info.key)
            .map(|c| (c.timestamps.as_slice(), &c.values));
        Ok(KeyMerger::new(
            info.field_type,
            blocks,
            cache,
            range,
            self.options,
        ))
    }

    /// Streams the rows of measurement `index` (into [`Shard::measurements`]) in `range`.
    ///
    /// # Panics
    /// When `index` is out of range.
    pub fn rows(&self, index: usize, range: TimeRange) -> MeasurementRows<'_> {
        assert!(
            index < self.measurements.len(),
            "measurement index out of range"
        );
        MeasurementRows::new(self, index, range)
    }

    /// Total bytes of the shard's TSM files (those opened), their tombstone files and its
    /// WAL segments, as counted when the shard was opened.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }
}

/// Decides a key's type and drops sources that are entirely deleted or of another
/// type. `None` when nothing of the key is left.
fn key_info(
    files: &[OpenTsm],
    problems: &mut Vec<Problem>,
    key: &[u8],
    sources: Vec<(usize, u64, FieldType)>,
    cache_type: Option<FieldType>,
) -> Option<KeyInfo> {
    let live: Vec<(usize, u64, FieldType)> = sources
        .into_iter()
        .filter(|&(file, offset, _)| {
            let open = &files[file];
            let ranges = open.tombstones.ranges(key);
            ranges.is_empty()
                || open
                    .file()
                    .and_then(|f| f.index_entry_at(offset))
                    .is_ok_and(|e| {
                        let (min, max) = e.time_range();
                        !covered(ranges, min, max)
                    })
        })
        .collect();
    let field_type = cache_type.or_else(|| live.last().map(|s| s.2))?;
    let mut kept = Vec::with_capacity(live.len());
    for (file, offset, ty) in live {
        if ty == field_type {
            kept.push((file, offset));
        } else {
            let path = files[file].name();
            problems.push(Problem {
                error: Error::new(ErrorKind::TypeConflict {
                    found: ty,
                    kept: field_type,
                    with: ConflictWith::NewerData,
                })
                .at(offset)
                .for_key(key)
                .in_file(path),
                kind: ProblemKind::Conflict,
            });
        }
    }
    Some(KeyInfo {
        key: key.into(),
        field_type,
        sources: kept,
    })
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
