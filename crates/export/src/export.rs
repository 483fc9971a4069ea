//! The export: shards in parallel (one per rayon worker of the caller's pool), each
//! measurement streamed batch by batch into its Parquet file, or each shard into its
//! line-protocol file ([`crate::lp::export`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use influx_tsm_shard::rows::MeasurementSchema;
use rayon::prelude::*;

use crate::destination::atomic::sync_dir;
use crate::destination::manifest::{ExportManifest, MANIFEST_FILE};
use crate::destination::records::Manifest;
use crate::destination::records::ShardResult;
use crate::destination::state::OutDir;
use crate::error::{IoContext, Result, cannot};
use crate::parquet_file::output::lp_group_path;
use crate::parquet_file::shard_file::export_shard;
use crate::plan::Plan;
use crate::plan::group::ShardGroup;
use crate::plan::options::{Format, Options};
use crate::plan::shards::{ElsewhereShard, PlannedShard};
use crate::plan::tables::Tables;
use crate::report::observer::Observer;
use crate::run::{Shared, guarded, shard_schemas, take_opened};
use crate::shard::ShardId;
use crate::shard::open::OpenedShard;

/// Exports every planned group of shards ([`crate::plan::group`]) into files under `out`,
/// biggest groups first, one group per worker of the current rayon pool (call it inside
/// `ThreadPool::install` to choose the pool; idle workers also help with a group's
/// measurements, the parts of a big one, and the encoding of its Parquet columns).
///
/// Every Parquet file of a measurement has the measurement's one schema
/// ([`crate::plan::tables`]); when every group is done, `manifest.json` is written at the root
/// of `out` ([`crate::destination::manifest`]).
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
    progress.planned(plan.shards.len(), plan.bytes());
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
    results.sort_by_key(|r| r.manifest.shard_id());
    write_manifest(config, plan, out, &tables, &results)?;
    Ok(results)
}

/// Writes `manifest.json` once the export is whole: by this process alone, or, when
/// partitions or nodes share the output, by the last to finish.
fn write_manifest(
    config: &Options,
    plan: &Plan,
    out: &OutDir,
    tables: &Tables,
    results: &[ShardResult],
) -> Result<()> {
    // A re-run that found everything done writes nothing, not even the manifest again.
    let nothing_new = results.iter().all(|r| r.resumed) && out.has_root_file(MANIFEST_FILE)?;
    if !nothing_new {
        if !config.is_shared() {
            ExportManifest::new(config, tables, results).write(out)?;
        } else {
            let every_shard = plan
                .shards
                .iter()
                .chain(&plan.other_shares)
                .map(|s| ShardId::of(&s.location))
                .chain(plan.elsewhere.iter().map(ElsewhereShard::key));
            if let Some(all) = out.all_done(every_shard)? {
                // The last partition (or node) to finish sees every shard done and writes
                // the manifest of the whole export (two finishing at once write the same
                // bytes).
                ExportManifest::new(config, tables, &all).write(out)?;
            }
        }
    }
    Ok(())
}

/// The plan's groups against what an earlier run finished: the finished groups'
/// manifests (each once), and the groups still to export. A group is finished as a whole
/// when an earlier run wrote it; where the earlier run grouped otherwise (a shard grew in
/// between), its finished groups are kept and the plan's groups are cut around them.
fn settle(plan: &Plan, out: &OutDir) -> (Vec<Manifest>, Vec<ShardGroup>) {
    let mut finished: Vec<Manifest> = Vec::new();
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
        (Format::Lp, _) => {
            crate::lp::group_file::export_group_file(ctx, plan, group, &mut manifest)?
        }
        (Format::Parquet, &[member]) => {
            let opened = take_opened(ctx, plan, member)?;
            export_shard(ctx, loc, opened, &mut manifest)?
        }
        (Format::Parquet, _) => {
            crate::parquet_file::group_file::export_group(ctx, plan, group, &mut manifest)?
        }
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
