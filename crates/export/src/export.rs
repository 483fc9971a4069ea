//! The export: shards in parallel (one per rayon worker of the caller's pool), each
//! measurement streamed batch by batch into its Parquet file, or each shard into its
//! line-protocol file ([`crate::lp_export`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use influx_tsm_arrow::{CastStats, Columns, Projection};
use influx_tsm_shard::layout::ShardLocation;
use influx_tsm_shard::rows::{MeasurementSchema, RowBatch};
use influx_tsm_shard::shard::{MeasurementRows, Shard};
use rayon::prelude::*;

use crate::error::{Error, IoContext, Result, cannot};
use crate::group::ShardGroup;
use crate::manifest::{ExportManifest, MANIFEST_FILE};
use crate::observer::Observer;
use crate::opened::{OpenedShard, open_shard, shard_name};
use crate::options::{Format, Options};
use crate::output::{
    PendingFile, file_properties, file_schema, lp_group_path, relative_path, sync_dir,
    writer_properties,
};
use crate::parts::{PartJoiner, part_path};
use crate::plan::{ElsewhereShard, Plan, PlannedShard, path_string};
use crate::report::ShardResult;
use crate::state::{FieldRecord, FileRecord, Manifest, OutDir, SkipRecord, shard_key};
use crate::tables::Tables;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};

pub(crate) struct Shared<'a> {
    pub(crate) config: &'a Options,
    pub(crate) out: &'a OutDir,
    pub(crate) progress: &'a dyn Observer,
    pub(crate) cancel: AtomicBool,
    first_error: Mutex<Option<Error>>,
    /// Each measurement's one schema (Parquet only).
    pub(crate) tables: &'a Tables,
    /// Shards opened while making the tables and kept for their export, by position in
    /// `Plan::shards`.
    opened: Vec<Mutex<Option<OpenedShard>>>,
    /// The measurements each shard held when the tables were made (those the filters
    /// select), by position in `Plan::shards`; empty for line protocol.
    pub(crate) measurements: Vec<Vec<Vec<u8>>>,
}

/// Why a measurement stopped.
pub(crate) enum Failure {
    /// Damaged or unreadable input.
    Data(influx_tsm_shard::Error),
    /// Anything else (output I/O, a bug).
    Other(Error),
    /// Another worker failed.
    Cancelled,
}

impl Failure {
    /// Whether the failure stops the shard: anything but damaged data under
    /// `skip_corrupt` (which is recorded and skipped) or a cancellation.
    pub(crate) fn is_fatal(&self, skip_corrupt: bool) -> bool {
        match self {
            Failure::Data(err) => !(skip_corrupt && err.is_corruption()),
            Failure::Other(_) => true,
            Failure::Cancelled => false,
        }
    }

    /// The error of a fatal failure in measurement `measurement` of `shard`.
    pub(crate) fn into_error(self, shard: String, measurement: String) -> Error {
        match self {
            Failure::Data(err) => Error::Input(err).in_shard(shard, Some(measurement)),
            Failure::Other(err) => err.in_shard(shard, Some(measurement)),
            Failure::Cancelled => Error::Internal("a cancelled measurement has no error".into()),
        }
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Failure {
        Failure::Other(err)
    }
}

/// Exports every planned group of shards ([`crate::group`]) into files under `out`,
/// biggest groups first, one group per worker of the current rayon pool (call it inside
/// `ThreadPool::install` to choose the pool; idle workers also help with a group's
/// measurements, the parts of a big one, and the encoding of its Parquet columns).
///
/// Every Parquet file of a measurement has the measurement's one schema
/// ([`crate::tables`]); when every group is done, `manifest.json` is written at the root
/// of `out` ([`crate::manifest`]).
///
/// # Errors
/// The first error of any worker (the others stop at their next batch); groups finished
/// before it keep their files and manifests, so a resumed export continues from there.
pub fn export(
    config: &Options,
    plan: &Plan,
    out: &OutDir,
    progress: &dyn Observer,
) -> Result<Vec<ShardResult>> {
    let (finished, mut todo) = settle(plan, out);
    todo.sort_by_key(|g| std::cmp::Reverse(g.bytes));
    let (tables, opened, measurements) = match config.format {
        Format::Parquet => make_tables(config, out, plan, &todo, progress)?,
        Format::Lp => (Tables::default(), Vec::new(), Vec::new()),
    };
    let ctx = Shared {
        config,
        out,
        progress,
        cancel: AtomicBool::new(false),
        first_error: Mutex::new(None),
        tables: &tables,
        opened: opened.into_iter().map(Mutex::new).collect(),
        measurements,
    };
    for planned in plan
        .shards
        .iter()
        .filter(|s| out.done(&s.location).is_some())
    {
        progress.shard_finished(&planned.location, planned.bytes);
    }
    let results: Vec<Option<ShardResult>> = todo
        .par_iter()
        .with_max_len(1)
        .map(|group| {
            let first = &plan.shards[group.members[0]].location;
            match guarded(first, || export_group(&ctx, plan, group)) {
                Ok(result) => result,
                Err(err) => {
                    ctx.cancel.store(true, Ordering::Relaxed);
                    let mut first = ctx.first_error.lock().unwrap_or_else(|e| e.into_inner());
                    first.get_or_insert(err);
                    None
                }
            }
        })
        .collect();
    if let Some(err) = ctx
        .first_error
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
    {
        return Err(err);
    }
    let mut results: Vec<ShardResult> = results.into_iter().flatten().collect();
    results.extend(finished.into_iter().map(|manifest| ShardResult {
        manifest,
        resumed: true,
    }));
    results.sort_by(|a, b| {
        let key = |r: &ShardResult| {
            (
                r.manifest.database.clone(),
                r.manifest.retention_policy.clone(),
                r.manifest.shard,
            )
        };
        key(a).cmp(&key(b))
    });
    // A re-run that found everything done writes nothing, not even the manifest again.
    let nothing_new = results.iter().all(|r| r.resumed) && out.has_root_file(MANIFEST_FILE)?;
    if !nothing_new {
        if !config.is_shared() {
            ExportManifest::new(config, &tables, &results).write(out)?;
        } else {
            let every_shard = plan
                .shards
                .iter()
                .chain(&plan.other_shares)
                .map(|s| shard_key(&s.location))
                .chain(plan.elsewhere.iter().map(ElsewhereShard::key));
            if let Some(all) = out.all_done(every_shard)? {
                // The last partition (or node) to finish sees every shard done and writes
                // the manifest of the whole export (two finishing at once write the same
                // bytes).
                ExportManifest::new(config, &tables, &all).write(out)?;
            }
        }
    }
    Ok(results)
}

/// The plan's groups against what an earlier run finished: the finished groups'
/// manifests (each once), and the groups still to export. A group is finished as a whole
/// when an earlier run wrote it; where the earlier run grouped otherwise (a shard grew in
/// between), its finished groups are kept and the plan's groups are cut around them.
fn settle(plan: &Plan, out: &OutDir) -> (Vec<crate::state::Manifest>, Vec<ShardGroup>) {
    let mut finished: Vec<crate::state::Manifest> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut todo = Vec::new();
    for group in &plan.groups {
        let mut run: Vec<usize> = Vec::new();
        let close = |run: &mut Vec<usize>, todo: &mut Vec<ShardGroup>| {
            if !run.is_empty() {
                let members = std::mem::take(run);
                todo.push(ShardGroup {
                    ids: members
                        .iter()
                        .map(|&i| plan.shards[i].location.id)
                        .collect(),
                    bytes: members.iter().map(|&i| plan.shards[i].bytes).sum(),
                    members,
                });
            }
        };
        for &member in &group.members {
            let loc = &plan.shards[member].location;
            match out.done(loc) {
                Some(manifest) => {
                    close(&mut run, &mut todo);
                    let key = (
                        manifest.database.clone(),
                        manifest.retention_policy.clone(),
                        manifest.shard,
                    );
                    if seen.insert(key) {
                        finished.push(manifest.clone());
                    }
                }
                None => run.push(member),
            }
        }
        close(&mut run, &mut todo);
    }
    (finished, todo)
}

/// Input bytes of the shards [`make_tables`] keeps open for their export beyond the
/// first groups': a small shard costs more to open than to export, and an open shard
/// holds little memory of its own (its files are mapped; its WAL is decoded).
const KEEP_OPEN_BYTES: u64 = 256 << 20;

/// The tables, the shards kept open, and each shard's measurements ([`make_tables`]).
type TablesMade = (Tables, Vec<Option<OpenedShard>>, Vec<Vec<Vec<u8>>>);

/// Makes each measurement's table from the shards still to export (opening each once,
/// in parallel), or takes the saved tables of a resumed export and checks that those
/// shards fit them; saves new tables in the output's state. Returns the tables and, by
/// position in `plan.shards`, the shards kept open for their export: those alone in the
/// first groups of the export order (as many as there are workers: the ones that start
/// first), and others while their bytes stay within [`KEEP_OPEN_BYTES`].
fn make_tables(
    config: &Options,
    out: &OutDir,
    plan: &Plan,
    todo: &[ShardGroup],
    progress: &dyn Observer,
) -> Result<TablesMade> {
    let workers = rayon::current_num_threads();
    let mut first = vec![false; plan.shards.len()];
    let mut to_read = vec![false; plan.shards.len()];
    for (rank, group) in todo.iter().enumerate() {
        for &member in &group.members {
            // A big shard alone in its group, among the first to start: kept whatever
            // its size (it would be opened again at once).
            first[member] = rank < workers && group.members.len() == 1;
            to_read[member] = true;
        }
    }
    let kept_bytes = std::sync::atomic::AtomicU64::new(0);
    // The other partitions' shards come last, never kept: only their schemas count here.
    let own = plan.shards.len();
    let all: Vec<&PlannedShard> = plan.shards.iter().chain(&plan.other_shares).collect();
    let mut opened: Vec<(Vec<MeasurementSchema>, Option<OpenedShard>)> = all
        .par_iter()
        .enumerate()
        .with_max_len(1)
        .map(|(position, planned)| {
            let loc = &planned.location;
            // Only the shards of this export count for progress; the other partitions'
            // are opened for their schemas alone.
            let tell = || {
                if position < own {
                    progress.schema_read(loc);
                }
            };
            if out.done(loc).is_some() || (position < own && !to_read[position]) {
                tell();
                return Ok((Vec::new(), None));
            }
            let read = guarded(loc, || {
                let (schemas, opened) = shard_schemas(config, planned)?;
                let keep = position < own
                    && (first[position]
                        || kept_bytes.fetch_add(planned.bytes, Ordering::Relaxed) + planned.bytes
                            <= KEEP_OPEN_BYTES);
                Ok((schemas, keep.then_some(opened)))
            });
            tell();
            read
        })
        .collect::<Result<_>>()?;
    let schemas = all.iter().zip(&opened).flat_map(|(planned, (schemas, _))| {
        let loc = &planned.location;
        schemas
            .iter()
            .map(|s| (loc.database.as_str(), loc.retention_policy.as_str(), s))
    });
    let tables = match out.saved_tables()? {
        Some(text) => {
            let tables = Tables::from_state(&text)?;
            tables.check(config.node.is_some(), schemas)?;
            tables
        }
        None => {
            let tables = Tables::build(config.type_conflicts, schemas);
            out.write_tables(&tables.to_state()?)?;
            tables
        }
    };
    opened.truncate(own);
    let (measurements, opened) = opened
        .into_iter()
        .map(|(schemas, shard)| (schemas.into_iter().map(|s| s.name).collect(), shard))
        .unzip();
    Ok((tables, opened, measurements))
}

/// Opens `planned` and reads the schemas of its measurements that the filters select;
/// the shard stays open for its export.
pub(crate) fn shard_schemas(
    config: &Options,
    planned: &PlannedShard,
) -> Result<(Vec<MeasurementSchema>, OpenedShard)> {
    let loc = &planned.location;
    let opened = open_shard(config, planned)
        .map_err(|err| Error::Input(err).in_shard(shard_name(loc), None))?;
    let schemas = opened
        .shard
        .iter()
        .flat_map(Shard::measurements)
        .filter(|m| config.filter.measurement(&m.name))
        .cloned()
        .collect();
    Ok((schemas, opened))
}

/// Runs `work` for the shard at `loc`, turning a panic (a bug in a decoder, say) into an
/// error naming the shard, so the other workers stop cleanly and the exit status is 1.
pub(crate) fn guarded<T>(loc: &ShardLocation, work: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(Error::Internal(format!(
            "internal error while exporting shard {}: {message} (please report this bug)",
            shard_name(loc)
        )))
    })
}

/// The shard at `member` of `plan.shards`, opened: the one [`make_tables`] kept open,
/// or opened now.
pub(crate) fn take_opened(ctx: &Shared<'_>, plan: &Plan, member: usize) -> Result<OpenedShard> {
    let kept = ctx
        .opened
        .get(member)
        .and_then(|slot| slot.lock().unwrap_or_else(|e| e.into_inner()).take());
    match kept {
        Some(opened) => Ok(opened),
        None => {
            let planned = &plan.shards[member];
            open_shard(ctx.config, planned)
                .map_err(|err| Error::Input(err).in_shard(shard_name(&planned.location), None))
        }
    }
}

/// Exports one group of shards into its files and records it finished; `None` when
/// cancelled.
fn export_group(ctx: &Shared<'_>, plan: &Plan, group: &ShardGroup) -> Result<Option<ShardResult>> {
    let loc = &plan.shards[group.members[0]].location;
    if ctx.cancel.load(Ordering::Relaxed) {
        return Ok(None);
    }
    let name = group.name();
    if ctx.out.cleans_shards() {
        let lp_file = (ctx.config.format == Format::Lp).then(|| {
            lp_group_path(
                &loc.database,
                &loc.retention_policy,
                &name,
                ctx.config.gzip.is_some(),
            )
        });
        ctx.out.remove_group_files(loc, &name, lp_file.as_deref())?;
    }
    for &member in &group.members {
        ctx.progress.shard_started(&plan.shards[member].location);
    }
    let mut manifest = Manifest::for_group(loc, &group.ids, group.bytes);
    let dirs = match (ctx.config.format, group.members.as_slice()) {
        (Format::Lp, _) => crate::lp_export::export_group_file(ctx, plan, group, &mut manifest)?,
        (Format::Parquet, &[member]) => {
            let opened = take_opened(ctx, plan, member)?;
            export_shard(ctx, loc, opened, &mut manifest)?
        }
        (Format::Parquet, _) => crate::group_file::export_group(ctx, plan, group, &mut manifest)?,
    };
    let Some(dirs) = dirs else {
        return Ok(None);
    };
    if group.members.len() > 1 {
        manifest.compact_fields();
    }
    sync_tree(ctx.out.root(), &dirs)?;
    ctx.out.write_manifest(&manifest)?;
    // A group of several shards tells of each shard as its rows are written.
    if let [member] = group.members.as_slice() {
        let planned = &plan.shards[*member];
        ctx.progress
            .shard_finished(&planned.location, planned.bytes);
    }
    Ok(Some(ShardResult {
        manifest,
        resumed: false,
    }))
}

/// Exports one shard's measurements into a Parquet file each (the group of one shard);
/// returns the folders written into, `None` when cancelled.
fn export_shard(
    ctx: &Shared<'_>,
    loc: &ShardLocation,
    opened: OpenedShard,
    manifest: &mut Manifest,
) -> Result<Option<BTreeSet<PathBuf>>> {
    manifest.skipped = opened.skipped;
    manifest.warnings = opened.warnings;
    manifest.relisted += u64::from(opened.relisted);
    let shard = opened.shard;
    let mut dirs = BTreeSet::new();
    if let Some(shard) = &shard {
        let selected: Vec<usize> = (0..shard.measurements().len())
            .filter(|&i| ctx.config.filter.measurement(&shard.measurements()[i].name))
            .collect();
        // A shard's measurements are independent files: idle workers take them, so a
        // directory with fewer shards than threads still keeps every core busy. Each
        // measurement records into its own part of the manifest; the parts are joined
        // in measurement order, so the manifest does not depend on the scheduling.
        let mut outcomes: Vec<(Manifest, Result<Option<PathBuf>, Failure>)> = selected
            .par_iter()
            .with_max_len(1)
            .map(|&index| {
                let schema = &shard.measurements()[index];
                let mut part = Manifest::new(loc, 0);
                let result = export_measurement(ctx, shard, loc, index, schema, &mut part);
                if let Err(failure) = &result
                    && failure.is_fatal(ctx.config.skip_corrupt)
                {
                    // The shard fails: its other measurements need not finish.
                    ctx.cancel.store(true, Ordering::Relaxed);
                }
                (part, result)
            })
            .collect();
        // The first failure in measurement order is the shard's error, also when a later
        // measurement was only cancelled because of it.
        let fatal = outcomes.iter().position(|(_, result)| {
            result
                .as_ref()
                .is_err_and(|failure| failure.is_fatal(ctx.config.skip_corrupt))
        });
        if let Some(pos) = fatal
            && let (_, Err(failure)) = outcomes.swap_remove(pos)
        {
            let name = String::from_utf8_lossy(&shard.measurements()[selected[pos]].name);
            return Err(failure.into_error(shard_name(loc), name.into_owned()));
        }
        if outcomes
            .iter()
            .any(|(_, r)| matches!(r, Err(Failure::Cancelled)))
        {
            return Ok(None);
        }
        for (&index, (part, result)) in selected.iter().zip(outcomes) {
            manifest.absorb(part);
            match result {
                Ok(Some(dir)) => {
                    dirs.insert(dir);
                }
                Ok(None) => {}
                Err(Failure::Data(err)) => {
                    let name = String::from_utf8_lossy(&shard.measurements()[index].name);
                    manifest
                        .skipped
                        .push(SkipRecord::new(loc, Some(name.into_owned()), &err));
                }
                Err(Failure::Other(_) | Failure::Cancelled) => {
                    unreachable!("fatal failures and cancellations returned above")
                }
            }
        }
    }
    Ok(Some(dirs))
}

/// Most parts one measurement is cut into.
const MAX_PARTS: usize = 16;

/// Series keys `from <= series < to`; `None` is open.
type SeriesRange<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// What was written of a measurement or of a part of it.
#[derive(Default)]
pub(crate) struct Written {
    pub(crate) rows: u64,
    pub(crate) values: u64,
    pub(crate) stats: influx_tsm_arrow::Stats,
    pub(crate) casts: CastStats,
    /// Earliest and latest timestamp written; none before the first row.
    pub(crate) time_range: Option<(i64, i64)>,
}

impl Written {
    pub(crate) fn add(&mut self, other: &Written) {
        self.rows += other.rows;
        self.values += other.values;
        self.stats.add(&other.stats);
        self.casts.add(&other.casts);
        self.add_times(other.time_range);
    }

    /// Counts a converted batch's rows, values and times.
    pub(crate) fn count(&mut self, converted: &Converted) {
        self.rows += converted.rows;
        self.values += converted.values;
        self.add_times(Some(converted.time_range));
    }

    fn add_times(&mut self, range: Option<(i64, i64)>) {
        if let Some((min, max)) = range {
            self.time_range = Some(match self.time_range {
                Some((a, b)) => (a.min(min), b.max(max)),
                None => (min, max),
            });
        }
    }
}

/// A part (or the whole) of a measurement, written and committed.
struct PartFile {
    written: Written,
    /// The file and its size; none when the part had no rows.
    file: Option<(PathBuf, u64)>,
}

/// What one part (or the whole) of a measurement produced.
struct PartOutcome {
    result: Result<PartFile, Failure>,
    /// Damaged blocks left out (`--skip-corrupt`).
    damaged_blocks: Vec<influx_tsm_shard::Error>,
}

/// Where one measurement's rows go.
pub(crate) struct Target<'a> {
    pub(crate) loc: &'a ShardLocation,
    /// The shards of the file's group (the shard of `loc` alone, or a group's).
    pub(crate) shards: &'a [u64],
    /// The measurement's schema in this shard, and its columns.
    pub(crate) schema: &'a MeasurementSchema,
    pub(crate) columns: &'a Columns,
    /// From the shard's columns to the measurement's table.
    pub(crate) projection: &'a Projection,
    /// The table's schema with the file's metadata.
    pub(crate) file_schema: SchemaRef,
}

impl Target<'_> {
    /// The measurement's file settings that do not depend on its data.
    fn file_properties(&self, config: &Options) -> Result<WriterPropertiesBuilder> {
        file_properties(
            config.compression,
            config.row_group_size,
            &self.loc.database,
            &self.loc.retention_policy,
            &self.schema.name,
            self.shards,
        )
    }

    /// The settings of a file whose first batch is `first_batch`.
    fn writer_properties(
        &self,
        config: &Options,
        first_batch: &RecordBatch,
    ) -> Result<WriterProperties> {
        writer_properties(
            config.compression,
            config.row_group_size,
            &self.loc.database,
            &self.loc.retention_policy,
            &self.schema.name,
            self.shards,
            first_batch,
        )
    }
}

/// Exports one measurement of a shard; returns the folder of the file written, if any
/// (none when no point falls in the time range).
///
/// A measurement of many series is cut into series ranges ([`Shard::split_series`]),
/// written as parts by whichever workers are idle and joined into the one file
/// ([`crate::parts::PartJoiner`], as the parts finish): a shard holding one huge
/// measurement still uses every core. The rows and their order are those of one piece.
fn export_measurement(
    ctx: &Shared<'_>,
    shard: &Shard,
    loc: &ShardLocation,
    index: usize,
    schema: &MeasurementSchema,
    manifest: &mut Manifest,
) -> Result<Option<PathBuf>, Failure> {
    let relative = relative_path(&loc.database, &loc.retention_policy, &schema.name, loc.id);
    let dest = ctx.out.root().join(&relative);
    let parts = (shard.series_count(index) / ctx.config.series_per_part).clamp(1, MAX_PARTS);
    let cuts = if parts > 1 {
        shard.split_series(index, parts)
    } else {
        Vec::new()
    };
    let bounds: Vec<SeriesRange<'_>> = (0..=cuts.len())
        .map(|i| {
            let from = i.checked_sub(1).map(|j| cuts[j].as_slice());
            (from, cuts.get(i).map(Vec::as_slice))
        })
        .collect();
    // In parts: each is a temporary file, joined at the end.
    let split = bounds.len() > 1;
    let columns = Columns::new(schema);
    let table = ctx
        .tables
        .get(&loc.database, &loc.retention_policy, &schema.name)
        .ok_or_else(|| Error::Internal("a measurement without a table".into()))?;
    let projection = table
        .projection(schema)
        .map_err(|err| Failure::Other(Error::Arrow(err)))?;
    let target = Target {
        loc,
        shards: std::slice::from_ref(&loc.id),
        schema,
        columns: &columns,
        projection: &projection,
        file_schema: file_schema(
            table.columns().schema(),
            &loc.database,
            &loc.retention_policy,
            &schema.name,
            std::slice::from_ref(&loc.id),
        ),
    };
    // The column chunks come encoded from the parts (each part chose its field encodings
    // from its own first batch): the file's own settings are enough to join them.
    let joiner = match split {
        true => Some(PartJoiner::new(
            &dest,
            target.file_schema.clone(),
            target.file_properties(ctx.config)?.build(),
        )),
        false => None,
    };
    // Parts are handed out in order (a parallel iterator would split them in halves), so
    // they finish nearly in order and each is joined while the ones after it are written.
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<PartOutcome>>> = bounds.iter().map(|_| Mutex::new(None)).collect();
    let workers = rayon::current_num_threads().clamp(1, bounds.len());
    (0..workers).into_par_iter().with_max_len(1).for_each(|_| {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&(from, to)) = bounds.get(i) else {
                break;
            };
            let part_dest = if split {
                part_path(&dest, i)
            } else {
                dest.clone()
            };
            let rows = shard.rows_between(index, ctx.config.range, from, to);
            let outcome = write_part(ctx, &target, rows, part_dest, split);
            if let (Some(joiner), Ok(part)) = (&joiner, &outcome.result) {
                joiner.part_done(i, part.file.as_ref().map(|(path, _)| path.clone()));
            }
            *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        }
    });
    let outcomes = slots.into_iter().map(|slot| {
        let outcome = slot.into_inner().unwrap_or_else(|e| e.into_inner());
        outcome.unwrap_or_else(|| PartOutcome {
            result: Err(Failure::Other(Error::Internal(
                "a part of a measurement was never written".into(),
            ))),
            damaged_blocks: Vec::new(),
        })
    });
    let measurement = String::from_utf8_lossy(&schema.name).into_owned();
    let mut total = Written::default();
    let mut files = Vec::new();
    let mut failure = None;
    for outcome in outcomes {
        manifest.skipped.extend(
            outcome
                .damaged_blocks
                .iter()
                .map(|err| SkipRecord::block(loc, measurement.clone(), err)),
        );
        match outcome.result {
            Ok(part) => {
                total.add(&part.written);
                files.extend(part.file);
            }
            // The first failure in part order; a later part may only have been cancelled.
            Err(err) => {
                if failure.is_none() || matches!(failure, Some(Failure::Cancelled)) {
                    failure = Some(err);
                }
            }
        }
    }
    if let Some(failure) = failure {
        // Finished parts are hidden temporary files, and so is what was joined of them; a
        // single piece that failed was never committed.
        if let Some(joiner) = joiner {
            joiner.abort();
        }
        return Err(failure);
    }
    let Written {
        rows,
        values,
        stats,
        casts,
        time_range,
    } = total;
    let bytes = match (joiner, files.as_slice()) {
        (_, []) => return Ok(None),
        (None, [(_, bytes)]) => *bytes,
        (Some(joiner), _) => match joiner.finish(bounds.len())? {
            Some(bytes) => bytes,
            None => return Ok(None),
        },
        (None, _) => {
            return Err(Failure::Other(Error::Internal(
                "a measurement written in one piece made several files".into(),
            )));
        }
    };
    manifest.files.push(FileRecord {
        measurement: measurement.clone(),
        path: path_string(&relative),
        rows,
        values,
        bytes,
        min_time: time_range.map(|(min, _)| min),
        max_time: time_range.map(|(_, max)| max),
    });
    manifest
        .fields
        .extend(schema.fields.iter().map(|f| FieldRecord {
            shards: Vec::new(),
            measurement: measurement.clone(),
            field: String::from_utf8_lossy(&f.key).into_owned(),
            field_type: f.field_type.name().to_string(),
        }));
    manifest.replaced_field_values += stats.replaced_field_values;
    manifest.replaced_tag_values += stats.replaced_tag_values;
    manifest.cast_values += casts.cast;
    manifest.inexact_values += casts.inexact;
    Ok(dest.parent().map(Path::to_path_buf))
}

/// Streams `rows` into a file at `dest` (created at the first row) and commits it; a
/// `part` is only finished, under its temporary name, to be joined.
fn write_part(
    ctx: &Shared<'_>,
    target: &Target<'_>,
    rows: MeasurementRows<'_>,
    dest: PathBuf,
    part: bool,
) -> PartOutcome {
    let mut file = None;
    let mut damaged_blocks = Vec::new();
    let written = write_measurement(ctx, target, rows, &dest, &mut file, &mut damaged_blocks);
    let result = match written {
        Ok(written) => {
            let finished = file
                .map(|file| match part {
                    true => file.finish_temporary(),
                    false => file.commit().map(|bytes| (dest, bytes)),
                })
                .transpose();
            match finished {
                Ok(file) => Ok(PartFile { written, file }),
                Err(err) => Err(Failure::Other(err)),
            }
        }
        Err(failure) => {
            if let Some(file) = file {
                file.abort();
            }
            Err(failure)
        }
    };
    PartOutcome {
        result,
        damaged_blocks,
    }
}

/// Streams the rows' batches into `file` (created at the first row, as `dest`); returns
/// the rows, values and lossy replacements written. Damaged blocks left out under
/// `--skip-corrupt` are added to `damaged_blocks`.
///
/// Decoding the next batch overlaps encoding the previous one (`rayon::join`, so an idle
/// worker takes whichever half it can): at most two converted batches per measurement
/// are alive at once, besides the rows being decoded.
pub(crate) fn write_measurement(
    ctx: &Shared<'_>,
    target: &Target<'_>,
    mut rows: MeasurementRows<'_>,
    dest: &Path,
    file: &mut Option<PendingFile>,
    damaged_blocks: &mut Vec<influx_tsm_shard::Error>,
) -> Result<Written, Failure> {
    let config = ctx.config;
    let mut batch = RowBatch::new(target.schema);
    let mut written = Written::default();
    // The next batch to encode.
    let mut next: Option<Converted> = None;
    let mut first = true;
    loop {
        if ctx.cancel.load(Ordering::Relaxed) {
            return Err(Failure::Cancelled);
        }
        let pending = next.take();
        if pending.is_none() && !first {
            break;
        }
        first = false;
        // Until a batch has been taken back, whole buffers at once rather than grown step
        // by step (a no-op once reclaimed; capacity never written costs no pages).
        batch.reserve(config.batch_rows);
        let (result, decoded) = rayon::join(
            || match &pending {
                Some(converted) => write_batch(ctx, target, dest, file, &converted.batch),
                None => Ok(()),
            },
            || next_record_batch(config, target, &mut rows, &mut batch, &mut written),
        );
        result?;
        if let Some(converted) = pending {
            written.count(&converted);
            ctx.progress.values_written(converted.values);
            // The next batch is decoded into this one's buffers.
            target.projection.reclaim(converted.batch, &mut batch);
        }
        next = decoded?;
        damaged_blocks.extend(rows.take_skipped());
    }
    Ok(written)
}

/// A batch converted to the table's columns, with what it holds.
pub(crate) struct Converted {
    pub(crate) batch: RecordBatch,
    pub(crate) rows: u64,
    pub(crate) values: u64,
    /// Its earliest and latest timestamp.
    pub(crate) time_range: (i64, i64),
}

/// Decodes and converts the next non-empty batch; `None` at the end. Lossy UTF-8
/// replacements and casts are added to `written`.
pub(crate) fn next_record_batch(
    config: &Options,
    target: &Target<'_>,
    rows: &mut MeasurementRows<'_>,
    batch: &mut RowBatch,
    written: &mut Written,
) -> Result<Option<Converted>, Failure> {
    loop {
        if !rows
            .next_batch(batch, config.batch_rows, config.batch_bytes)
            .map_err(Failure::Data)?
        {
            return Ok(None);
        }
        let (Some(&min), Some(&max)) = (batch.time.iter().min(), batch.time.iter().max()) else {
            continue;
        };
        let (row_count, values) = (batch.len() as u64, batch.value_count() as u64);
        // The buffers move into the arrays; `reclaim` gives them back once written.
        let owned = batch.take();
        let arrow = |err| Failure::Other(Error::Arrow(err));
        let shard_batch =
            influx_tsm_arrow::into_record_batch(target.columns, owned, &mut written.stats)
                .map_err(arrow)?;
        let table_batch = target
            .projection
            .apply(&shard_batch, &mut written.casts)
            .map_err(arrow)?;
        return Ok(Some(Converted {
            batch: table_batch,
            rows: row_count,
            values,
            time_range: (min, max),
        }));
    }
}

/// Writes one batch into `file`, creating it as `dest` first if needed.
fn write_batch(
    ctx: &Shared<'_>,
    target: &Target<'_>,
    dest: &Path,
    file: &mut Option<PendingFile>,
    record_batch: &RecordBatch,
) -> Result<(), Failure> {
    let file = match file {
        Some(file) => file,
        none => {
            let properties = target.writer_properties(ctx.config, record_batch)?;
            none.insert(PendingFile::create(
                dest.to_path_buf(),
                target.file_schema.clone(),
                properties,
            )?)
        }
    };
    file.write(record_batch)?;
    Ok(())
}

/// Syncs each folder in `dirs` and its ancestors up to `root`, so renamed files and new
/// folders survive a crash before the shard's manifest is written.
fn sync_tree(root: &Path, dirs: &BTreeSet<PathBuf>) -> Result<()> {
    let mut all = BTreeSet::new();
    for dir in dirs {
        let mut d = dir.as_path();
        while d.starts_with(root) {
            all.insert(d.to_path_buf());
            match d.parent() {
                Some(parent) if d != root => d = parent,
                _ => break,
            }
        }
    }
    for dir in all {
        sync_dir(&dir).io_context(cannot("sync", &dir))?;
    }
    Ok(())
}
