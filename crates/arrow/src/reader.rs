//! [`RecordBatchReader`]s over the merged rows of one measurement: of one borrowed shard
//! ([`MeasurementReader`]), or of one or many shards owned by the reader
//! ([`MeasurementScan`], `'static + Send`, for a `Box<dyn RecordBatchReader + Send>`; a
//! program on another arrow-rs release, such as DataFusion's or pyo3-arrow's, takes it
//! as an Arrow C stream: feature `ffi`, `ffi::into_stream`).
//!
//! Rows come as [`Shard::rows`] gives them: within a shard grouped by series (in
//! series-key order), ascending time within a series; a scan reads its shards one after
//! another in time order. Decoding errors from `influx-tsm-shard` surface as
//! [`ArrowError::ExternalError`] wrapping the [`influx_tsm_shard::Error`], which callers can downcast.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use influx_tsm_shard::layout::{Layout, ShardLocation};
use influx_tsm_shard::meta::Meta;
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{MeasurementRows, Shard, ShardOpening, ShardOptions, TimeRange};
use influx_tsm_shard::source::ShardFiles;
use rayon::prelude::*;

use crate::{
    CastStats, Columns, Error, Projection, Result, Stats, Table, TableBuilder, TypeConflicts,
    record_batch_counted,
};

/// Opens a shard as [`Shard::open_with`] does. Called from a rayon pool, a big shard's
/// key ranges (see [`ShardOpening`]) are scanned on that pool; otherwise
/// [`Shard::open_with`] scans them one after another: the library never starts threads of
/// its own. The shard is the same either way.
fn open_shard(location: &ShardLocation, options: &ShardOptions) -> influx_tsm_shard::Result<Shard> {
    if rayon::current_thread_index().is_none() {
        return Shard::open_with(location, options);
    }
    open_on_pool(location, ShardFiles::map(location)?, options)
}

/// Opens the shard at `location` from its `files`, its key ranges (see [`ShardOpening`])
/// scanned by the current rayon pool's idle workers: a big shard opens faster than on one
/// thread when there are fewer shards than workers. The shard is the one
/// [`Shard::open_with`] gives. The one routine for this, the exporter's too.
///
/// # Errors
/// As [`Shard::open_with`].
pub fn open_on_pool(
    location: &ShardLocation,
    files: ShardFiles,
    options: &ShardOptions,
) -> influx_tsm_shard::Result<Shard> {
    let opening = ShardOpening::new(files, options)?.located(location);
    let scans = (0..opening.key_ranges())
        .into_par_iter()
        .with_max_len(1)
        .map(|range| opening.scan(range))
        .collect();
    opening.finish(scans)
}

/// Where a scan gets a selected shard's files (see [`ScanBuilder::files_from`]): for
/// shards whose location lists no files of their own, such as the members of an
/// `influxd backup` archive.
#[derive(Clone)]
struct FilesFrom(Arc<FilesOf>);

/// A selected shard's files, from its location.
type FilesOf = dyn Fn(&ShardLocation) -> influx_tsm_shard::Result<ShardFiles> + Send + Sync;

impl std::fmt::Debug for FilesFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FilesFrom(..)")
    }
}

/// Opens a shard as [`open_shard`] does, its files from `files` when given.
fn open_selected(
    location: &ShardLocation,
    options: &ShardOptions,
    files: Option<&FilesFrom>,
) -> influx_tsm_shard::Result<Shard> {
    let Some(FilesFrom(files)) = files else {
        return open_shard(location, options);
    };
    let opening = ShardOpening::new(files(location)?, options)?.located(location);
    let scans = if rayon::current_thread_index().is_none() {
        (0..opening.key_ranges())
            .map(|range| opening.scan(range))
            .collect()
    } else {
        (0..opening.key_ranges())
            .into_par_iter()
            .with_max_len(1)
            .map(|range| opening.scan(range))
            .collect()
    };
    opening.finish(scans)
}

/// The default cap on rows per batch, the exporter's too.
pub const DEFAULT_BATCH_ROWS: usize = 64 * 1024;
/// The default cap on decoded bytes per batch, the exporter's too (`--batch-bytes 64M`).
pub const DEFAULT_BATCH_BYTES: usize = 64 << 20;

/// What to read and in what pieces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Only rows whose time lies in this range (pushed down to [`Shard::rows`], so
    /// blocks outside it are not decoded).
    pub range: TimeRange,
    /// Most rows in one record batch.
    pub batch_rows: usize,
    /// Most decoded bytes ([`RowBatch::byte_len`]) in one batch: what bounds memory when
    /// rows are wide or strings long.
    pub batch_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            range: TimeRange::ALL,
            batch_rows: DEFAULT_BATCH_ROWS,
            batch_bytes: DEFAULT_BATCH_BYTES,
        }
    }
}

impl ReadOptions {
    /// Sets [`ReadOptions::range`].
    pub fn range(mut self, range: TimeRange) -> ReadOptions {
        self.range = range;
        self
    }

    /// Sets [`ReadOptions::batch_rows`].
    pub fn batch_rows(mut self, rows: usize) -> ReadOptions {
        self.batch_rows = rows;
        self
    }

    /// Sets [`ReadOptions::batch_bytes`].
    pub fn batch_bytes(mut self, bytes: usize) -> ReadOptions {
        self.batch_bytes = bytes;
        self
    }
}

/// An error of `influx-tsm-shard` as Arrow readers report errors, the typed error kept for downcasting.
fn external(err: influx_tsm_shard::Error) -> ArrowError {
    ArrowError::ExternalError(Box::new(err))
}

/// A conversion error as an [`ArrowError`]: Arrow's own errors as they are.
fn to_arrow(err: Error) -> ArrowError {
    match err {
        Error::Arrow(err) => err,
        Error::Tsm(err) => external(err),
        other => ArrowError::ExternalError(Box::new(other)),
    }
}

fn measurement_index(shard: &Shard, measurement: &[u8]) -> Option<usize> {
    shard
        .measurements()
        .binary_search_by(|m| m.name.as_slice().cmp(measurement))
        .ok()
}

/// Decodes the next non-empty batch of `rows` into `batch` and converts it; `None` at the
/// end. `batch` is cleared and refilled each time, so its buffers are reused.
fn next_converted(
    rows: &mut MeasurementRows<'_>,
    batch: &mut RowBatch,
    columns: &Columns,
    options: &ReadOptions,
    stats: &mut Stats,
) -> Result<Option<RecordBatch>, ArrowError> {
    while rows
        .next_batch(batch, options.batch_rows, options.batch_bytes)
        .map_err(external)?
    {
        if !batch.is_empty() {
            return record_batch_counted(columns, batch, stats)
                .map(Some)
                .map_err(to_arrow);
        }
    }
    Ok(None)
}

/// The record batches of one measurement of a borrowed shard.
///
/// The schema is exactly [`Columns::new`]`(schema).schema()` for the measurement's
/// schema in this shard: the schema of the exporter's Parquet file for it. After an
/// error the reader yields nothing more.
pub struct MeasurementReader<'a> {
    columns: Columns,
    rows: MeasurementRows<'a>,
    batch: RowBatch,
    options: ReadOptions,
    stats: Stats,
    done: bool,
}

impl<'a> MeasurementReader<'a> {
    /// A reader of `measurement` (the name as stored) in `shard`.
    ///
    /// # Errors
    /// [`Error::MeasurementNotFound`] when the shard has no such measurement.
    pub fn new(
        shard: &'a Shard,
        measurement: &[u8],
        options: ReadOptions,
    ) -> Result<MeasurementReader<'a>> {
        let index = measurement_index(shard, measurement).ok_or_else(|| not_found(measurement))?;
        let schema = &shard.measurements()[index];
        Ok(MeasurementReader {
            columns: Columns::new(schema),
            rows: shard.rows(index, options.range),
            batch: RowBatch::new(schema),
            options,
            stats: Stats::default(),
            done: false,
        })
    }

    /// The columns of the batches.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// Lossy UTF-8 replacements made so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Damaged blocks left out since the last call (only with
    /// [`ShardOptions::skip_corrupt`]); see [`MeasurementRows::take_skipped`].
    pub fn take_skipped(&mut self) -> Vec<influx_tsm_shard::Error> {
        self.rows.take_skipped()
    }
}

impl Iterator for MeasurementReader<'_> {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = next_converted(
            &mut self.rows,
            &mut self.batch,
            &self.columns,
            &self.options,
            &mut self.stats,
        );
        // Nothing sensible follows an error: the cursor may be mid-series.
        self.done = !matches!(next, Ok(Some(_)));
        next.transpose()
    }
}

impl RecordBatchReader for MeasurementReader<'_> {
    fn schema(&self) -> SchemaRef {
        self.columns.schema().clone()
    }
}

fn not_found(measurement: &[u8]) -> Error {
    Error::MeasurementNotFound {
        measurement: String::from_utf8_lossy(measurement).into_owned(),
    }
}

self_cell::self_cell!(
    /// A shard and a row cursor borrowing it, owned together so a reader can be
    /// `'static`.
    struct ShardRows {
        owner: Arc<Shard>,
        #[not_covariant]
        dependent: MeasurementRows,
    }
);

/// The shard being read.
struct Current {
    rows: ShardRows,
    /// The measurement's columns in this shard.
    columns: Columns,
    /// From the shard's columns to the scan's table.
    projection: Projection,
    batch: RowBatch,
}

/// The record batches of one measurement over one or many shards, owning what it reads:
/// `'static + Send`, so it can be boxed as `Box<dyn RecordBatchReader + Send>`.
///
/// Build one with [`ScanBuilder`] (shards of a directory, a [`Layout`] or a list of
/// [`ShardLocation`]s) or [`MeasurementScan::from_shard`].
///
/// # Schema
///
/// Over one shard, exactly [`Columns::new`]`(schema).schema()`, as
/// [`MeasurementReader`]. Over several, the columns of the union: every tag key and every
/// field key of the measurement in any selected shard, each group sorted, named by the
/// rules of [`Columns`]. A column a shard lacks is all null in that shard's batches.
///
/// The scan's schema is a [`Table`]: a field stored with different types in different
/// shards becomes the columns [`ScanBuilder::type_conflicts`] asks for (by default one
/// per type, [`TypeConflicts::Split`]); values cast are counted in
/// [`MeasurementScan::cast_stats`].
///
/// # Memory
///
/// Shards are opened one at a time, each dropped before the next is opened; building the
/// scan opens every selected shard once, one at a time, to learn its schema (the first
/// one stays open for reading). Besides the open shard, one batch of at most
/// [`ReadOptions::batch_rows`] rows and about [`ReadOptions::batch_bytes`] bytes is
/// held, plus the record batch handed out.
///
/// # Example
///
/// One measurement of a directory into a Parquet file:
///
/// ```
/// use arrow_array::RecordBatchReader;
/// use influx_tsm_arrow::ScanBuilder;
/// use parquet::arrow::ArrowWriter;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::path::Path::new("../../fixtures/small-a/influxdb");
/// let reader = ScanBuilder::new("airq", "air").retention_policy("autogen").open_dir(dir)?;
///
/// let out = tempfile::tempfile()?;
/// let mut writer = ArrowWriter::try_new(out, reader.schema(), None)?;
/// let mut rows = 0;
/// for batch in reader {
///     let batch = batch?;
///     rows += batch.num_rows();
///     writer.write(&batch)?;
/// }
/// writer.close()?;
/// assert!(rows > 0);
/// # Ok(())
/// # }
/// ```
pub struct MeasurementScan {
    measurement: Vec<u8>,
    table: Table,
    /// Shards still to read, opened when their turn comes: one shard held at a time.
    pending: VecDeque<ShardLocation>,
    current: Option<Current>,
    shard_options: ShardOptions,
    files_from: Option<FilesFrom>,
    options: ReadOptions,
    /// With [`ScanBuilder::only_fields`]: the keys of the fields read.
    fields: Option<Arc<[Vec<u8>]>>,
    stats: Stats,
    cast_stats: CastStats,
    skipped: Vec<influx_tsm_shard::Error>,
    done: bool,
}

impl MeasurementScan {
    /// A scan of `measurement` in one opened shard. Its schema is the shard's
    /// [`Columns::new`]`(schema).schema()`.
    ///
    /// # Errors
    /// [`Error::MeasurementNotFound`] when the shard has no such measurement.
    pub fn from_shard(
        shard: Arc<Shard>,
        measurement: &[u8],
        options: ReadOptions,
    ) -> Result<MeasurementScan> {
        let index = measurement_index(&shard, measurement).ok_or_else(|| not_found(measurement))?;
        let mut table = TableBuilder::new(measurement);
        table.add(&shard.measurements()[index]);
        let mut scan = MeasurementScan {
            measurement: measurement.to_vec(),
            table: table.finish(TypeConflicts::default()),
            pending: VecDeque::new(),
            current: None,
            shard_options: ShardOptions::default(),
            files_from: None,
            options,
            fields: None,
            stats: Stats::default(),
            cast_stats: CastStats::default(),
            skipped: Vec::new(),
            done: false,
        };
        scan.start(shard)?;
        Ok(scan)
    }

    /// The columns of the batches.
    pub fn columns(&self) -> &Columns {
        self.table.columns()
    }

    /// The table the batches share: columns, and where each stored type of a field goes.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Values cast to another type, or left null for want of an exact cast, so far.
    pub fn cast_stats(&self) -> CastStats {
        self.cast_stats
    }

    /// Lossy UTF-8 replacements made so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Damaged blocks left out since the last call (only with
    /// [`ShardOptions::skip_corrupt`]), each naming its shard's file and series.
    ///
    /// What a shard's open left out ([`Shard::problems`]: torn WAL tails, type
    /// conflicts, damaged files skipped) is not reported here, as those errors stay with
    /// the shard; callers who need them open the shards themselves and read them with
    /// [`MeasurementReader`] or [`MeasurementScan::from_shard`].
    pub fn take_skipped(&mut self) -> Vec<influx_tsm_shard::Error> {
        std::mem::take(&mut self.skipped)
    }

    /// Makes `shard` the one being read; `false` when it lacks the measurement.
    fn start(&mut self, shard: Arc<Shard>) -> Result<bool> {
        let Some(index) = measurement_index(&shard, &self.measurement) else {
            return Ok(false);
        };
        let schema = &shard.measurements()[index];
        let columns = Columns::new(schema);
        let projection = self.table.projection(schema)?;
        let batch = RowBatch::new(schema);
        let range = self.options.range;
        let fields = self.fields.clone();
        let rows = ShardRows::new(shard, |shard| match &fields {
            Some(keys) => shard.rows(index, range).only_fields(keys),
            None => shard.rows(index, range),
        });
        self.current = Some(Current {
            rows,
            columns,
            projection,
            batch,
        });
        Ok(true)
    }

    /// Opens the next pending shard that has the measurement; `false` when none is left.
    fn advance(&mut self) -> Result<bool, ArrowError> {
        while let Some(location) = self.pending.pop_front() {
            let shard = open_selected(&location, &self.shard_options, self.files_from.as_ref())
                .map_err(external)?;
            if self.start(Arc::new(shard)).map_err(to_arrow)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        loop {
            if self.current.is_none() && !self.advance()? {
                return Ok(None);
            }
            let current = self.current.as_mut().expect("set by advance");
            let Current {
                rows,
                columns,
                projection,
                batch,
            } = current;
            let (options, stats) = (&self.options, &mut self.stats);
            let (next, skipped) = rows.with_dependent_mut(|_, rows| {
                let next = next_converted(rows, batch, columns, options, stats);
                (next, rows.take_skipped())
            });
            self.skipped.extend(skipped);
            match next? {
                Some(record_batch) => {
                    return projection
                        .apply(&record_batch, &mut self.cast_stats)
                        .map(Some)
                        .map_err(to_arrow);
                }
                // Dropping the cursor and the shard before the next is opened.
                None => self.current = None,
            }
        }
    }
}

impl Iterator for MeasurementScan {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_batch();
        // Nothing sensible follows an error: the cursor may be mid-series.
        if !matches!(next, Ok(Some(_))) {
            self.done = true;
            self.current = None;
            self.pending.clear();
        }
        next.transpose()
    }
}

impl RecordBatchReader for MeasurementScan {
    fn schema(&self) -> SchemaRef {
        self.table.columns().schema().clone()
    }
}

/// Which shards a [`MeasurementScan`] reads, and how.
///
/// Shards are selected by database, optionally retention policy, optionally shard ids,
/// and (when the catalogue gives shard group times, see [`ScanBuilder::meta`]) the time
/// range; shards not selected are never opened. They are read in order of retention
/// policy name, then shard group start time (when known; unknown sorts first), then
/// shard id. Shards of one retention policy do not overlap in time, so within one policy
/// batches of different shards come in time order.
#[derive(Clone, Debug)]
pub struct ScanBuilder {
    database: String,
    measurement: Vec<u8>,
    retention_policy: Option<String>,
    shard_ids: Option<BTreeSet<u64>>,
    options: ReadOptions,
    shard_options: ShardOptions,
    type_conflicts: TypeConflicts,
    files_from: Option<FilesFrom>,
    /// (retention policy, shard id) -> shard group `[start, end)`.
    group_times: HashMap<(String, u64), (i64, i64)>,
    fields: Option<Vec<Vec<u8>>>,
}

impl ScanBuilder {
    /// A scan of `measurement` (the name as stored) in every retention policy of
    /// `database`, every shard, all time, with the exporter's batch sizes.
    pub fn new(database: impl Into<String>, measurement: impl Into<Vec<u8>>) -> ScanBuilder {
        ScanBuilder {
            database: database.into(),
            measurement: measurement.into(),
            retention_policy: None,
            shard_ids: None,
            options: ReadOptions::default(),
            shard_options: ShardOptions::default(),
            type_conflicts: TypeConflicts::default(),
            files_from: None,
            group_times: HashMap::new(),
            fields: None,
        }
    }

    /// Reads only the fields whose columns are named in `names` (InfluxQL's
    /// `SELECT f1, f2`): the other fields are never decoded and their columns are null,
    /// and a row is a time at which a selected field has a value. Names that are not
    /// field columns of the measurement (tags, `time`) are ignored; when none is, every
    /// field is read, so a selection of tags and time keeps every row.
    pub fn only_fields<N: AsRef<[u8]>>(
        mut self,
        names: impl IntoIterator<Item = N>,
    ) -> ScanBuilder {
        self.fields = Some(names.into_iter().map(|n| n.as_ref().to_vec()).collect());
        self
    }

    /// How a field stored with different types in different shards becomes columns
    /// (default [`TypeConflicts::Split`]: one column per type, nothing cast).
    pub fn type_conflicts(mut self, policy: TypeConflicts) -> ScanBuilder {
        self.type_conflicts = policy;
        self
    }

    /// Reads only retention policy `name`. Without it every policy of the database is
    /// read, one after another, with nothing in the batches telling them apart.
    pub fn retention_policy(mut self, name: impl Into<String>) -> ScanBuilder {
        self.retention_policy = Some(name.into());
        self
    }

    /// Reads only the shards with these ids.
    pub fn shards(mut self, ids: impl IntoIterator<Item = u64>) -> ScanBuilder {
        self.shard_ids = Some(ids.into_iter().collect());
        self
    }

    /// Reads only rows in `range` (see [`ReadOptions::range`]).
    pub fn time_range(mut self, range: TimeRange) -> ScanBuilder {
        self.options.range = range;
        self
    }

    /// Sets the batch size caps (and the time range) at once.
    pub fn read_options(mut self, options: ReadOptions) -> ScanBuilder {
        self.options = options;
        self
    }

    /// How shards are opened (CRC checks, skipping damaged data, limits).
    pub fn shard_options(mut self, options: ShardOptions) -> ScanBuilder {
        self.shard_options = options;
        self
    }

    /// Reads each selected shard's files with `files` instead of mapping the files its
    /// [`ShardLocation`] lists: for shards held elsewhere, such as the members of an
    /// `influxd backup` archive (`influx-tsm-backup`'s `BackupShard::files`). `files` is
    /// called once when the scan is built and once more when the shard's turn to be read
    /// comes (the first shard read is kept open).
    pub fn files_from(
        mut self,
        files: impl Fn(&ShardLocation) -> influx_tsm_shard::Result<ShardFiles> + Send + Sync + 'static,
    ) -> ScanBuilder {
        self.files_from = Some(FilesFrom(Arc::new(files)));
        self
    }

    /// Takes shard group times from the catalogue: shards are then ordered by time, and
    /// shards whose group lies outside the time range are not opened. A shard the
    /// catalogue does not list is still read.
    pub fn meta(mut self, meta: &Meta) -> ScanBuilder {
        self.group_times.clear();
        for rp in meta
            .database(&self.database)
            .into_iter()
            .flat_map(|db| &db.retention_policies)
        {
            for group in &rp.shard_groups {
                for &id in &group.shards {
                    let times = (group.start_time, group.end_time);
                    let entry = self.group_times.entry((rp.name.clone(), id));
                    // A live group wins over a deleted one listing the same shard.
                    if group.deleted_at == 0 {
                        entry.insert_entry(times);
                    } else {
                        entry.or_insert(times);
                    }
                }
            }
        }
        self
    }

    /// Scans `dir`, a copy of an InfluxDB directory holding `data/`, `wal/` and
    /// `meta/meta.db` (the catalogue is used as [`ScanBuilder::meta`] when present), and
    /// builds the scan.
    ///
    /// # Errors
    /// As [`ScanBuilder::build`]; [`Error::Tsm`] when the tree cannot be listed or
    /// `meta.db` cannot be read or decoded.
    pub fn open_dir(mut self, dir: &Path) -> Result<MeasurementScan> {
        let layout = influx_tsm_shard::layout::scan(&dir.join("data"), Some(&dir.join("wal")))?;
        let meta_path = dir.join("meta").join("meta.db");
        if meta_path.is_file() {
            let bytes = std::fs::read(&meta_path)
                .map_err(|e| influx_tsm_shard::Error::from(e).in_file(&meta_path))?;
            let meta =
                influx_tsm_shard::meta::decode_meta(&bytes).map_err(|e| e.in_file(&meta_path))?;
            self = self.meta(&meta);
        }
        self.build(&layout)
    }

    /// Builds the scan over the selected shards of `layout`; the scan keeps copies of
    /// their locations, not the layout.
    ///
    /// # Errors
    /// As [`ScanBuilder::build_from`].
    pub fn build(self, layout: &Layout) -> Result<MeasurementScan> {
        self.build_from(layout.shards.iter().cloned())
    }

    /// Builds the scan over the selected shards among `locations`: opens each (one at a
    /// time) to learn the measurement's schema in it.
    ///
    /// # Errors
    /// [`Error::Tsm`] when a shard cannot be opened; [`Error::MeasurementNotFound`] when
    /// no selected shard has the measurement.
    pub fn build_from(
        self,
        locations: impl IntoIterator<Item = ShardLocation>,
    ) -> Result<MeasurementScan> {
        let range = self.options.range;
        let mut selected: Vec<(ShardLocation, i64)> = locations
            .into_iter()
            .filter(|l| l.database == self.database)
            .filter(|l| {
                self.retention_policy
                    .as_ref()
                    .is_none_or(|rp| *rp == l.retention_policy)
            })
            .filter(|l| {
                self.shard_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&l.id))
            })
            .filter_map(
                |l| match self.group_times.get(&(l.retention_policy.clone(), l.id)) {
                    Some(&(start, end)) => {
                        (start < range.end && range.start < end).then_some((l, start))
                    }
                    None => Some((l, i64::MIN)),
                },
            )
            .collect();
        selected.sort_by(|(a, a_start), (b, b_start)| {
            (&a.retention_policy, a_start, a.id).cmp(&(&b.retention_policy, b_start, b.id))
        });

        // Newest first, so the first shard to read is the last opened and stays open.
        let mut table = TableBuilder::new(&self.measurement);
        let mut pending: VecDeque<ShardLocation> = VecDeque::new();
        let mut first: Option<Shard> = None;
        for (location, _) in selected.into_iter().rev() {
            let shard = open_selected(&location, &self.shard_options, self.files_from.as_ref())?;
            let Some(index) = measurement_index(&shard, &self.measurement) else {
                continue;
            };
            table.add(&shard.measurements()[index]);
            if let Some(later) = first.take() {
                pending.push_front(later.location().clone());
            }
            first = Some(shard);
        }
        let Some(first) = first else {
            return Err(not_found(&self.measurement));
        };
        let table = table.finish(self.type_conflicts);
        // Names are column names (a type-split or clashing field's column is not named
        // as its key): the fields read are the keys behind the columns named.
        let fields = self.fields.and_then(|names| {
            let mut keys: Vec<Vec<u8>> = table
                .columns()
                .fields()
                .iter()
                .filter(|column| names.iter().any(|n| n.as_slice() == column.name.as_bytes()))
                .map(|column| column.key.clone())
                .collect();
            keys.dedup();
            (!keys.is_empty()).then(|| Arc::from(keys))
        });
        let mut scan = MeasurementScan {
            measurement: self.measurement,
            table,
            pending,
            current: None,
            shard_options: self.shard_options,
            files_from: self.files_from,
            options: self.options,
            fields,
            stats: Stats::default(),
            cast_stats: CastStats::default(),
            skipped: Vec::new(),
            done: false,
        };
        scan.start(Arc::new(first))?;
        Ok(scan)
    }
}
