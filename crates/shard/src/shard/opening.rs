//! Opening a shard: its TSM files checked, tombstones read, WAL replayed, then its keys
//! scanned in ranges (on the caller's threads, or one after another) into a [`Shard`].

use super::opened::{OpenTsm, Problem, ProblemKind, Shard, open_tsm};
use super::scan::KeyRangeScan;
use crate::Result;
use crate::cache::{Cache, ReplayProblemKind};
use crate::file::TsmFile;
use crate::layout::ShardLocation;
use crate::limits::Limits;
use crate::options::ShardOptions;
use crate::source::{FileSource, ShardFiles};

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
    pub(super) files: Vec<OpenTsm>,
    pub(super) cache: Cache,
    problems: Vec<Problem>,
    file_bytes: u64,
    /// Where key ranges after the first start; none for a shard scanned in one pass.
    pub(super) cuts: Vec<super::scan::KeyRange>,
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
        let cuts = super::scan::plan_key_ranges(&parsed, super::scan::RANGE_INDEX_BYTES);
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
            .map(|parsed| super::scan::plan_key_ranges(&parsed, index_bytes.max(1)))
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
            found: super::scan::scan_range(
                &self.files,
                &self.cache,
                &self.location.data_dir,
                from,
                to,
            ),
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
        let scanned = super::scan::finish_scan(
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
