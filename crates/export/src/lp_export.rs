//! `export --format lp`: line protocol from each shard's merged view, into one file per
//! shard (through the same plan, workers, resume state and summary as Parquet), or to
//! stdout in shard order.
//!
//! With `--with-ddl` the output is what `influx -import` expects:
//!
//! ```text
//! # DDL
//! CREATE DATABASE "airq" WITH DURATION INF REPLICATION 1 NAME "autogen"
//! CREATE RETENTION POLICY "hourly" ON "airq" DURATION INF REPLICATION 1
//! # DML
//! # CONTEXT-DATABASE:airq
//! # CONTEXT-RETENTION-POLICY:autogen
//! air,device=AQ-0001 humid=70,pm25=12.5 1709512362000000000
//! ```
//!
//! Retention policies are created with an infinite duration so that importing old data
//! does not drop it; the original durations live in `meta.db`, which is not read. In a
//! file per shard the DDL names only that shard's database and policy: `CREATE DATABASE
//! ... NAME` creates both when the database is new, and `CREATE RETENTION POLICY` adds
//! the policy when an earlier file created the database (the importer logs the refused
//! statement and goes on).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use tsm::layout::ShardLocation;
use tsm::rows::RowBatch;
use tsm::shard::Shard;

use crate::error::{Error, IoContext, Result};
use crate::export::{Shared, take_opened};
use crate::group::ShardGroup;
use crate::lp::{LineFormat, LpStats, quote_ident};
use crate::lp_sink::{ChunkWriter, LpSink, PendingLpFile};
use crate::observer::Observer;
use crate::opened::{OpenedShard, open_shard, shard_name};
use crate::options::Options;
use crate::output::lp_group_path;
use crate::plan::{Plan, PlannedShard, path_string};
use crate::report::ShardResult;
use crate::state::{FieldRecord, FileRecord, Manifest, SkipRecord};
use rayon::prelude::*;

/// Bytes of line protocol buffered before they are written out.
const FLUSH_BYTES: usize = 1 << 20;

/// The `# DDL` ... `# DML` section for these databases and their retention policies.
pub fn ddl(databases: &BTreeMap<String, BTreeSet<String>>, per_file: bool) -> String {
    let mut out = String::from("# DDL\n");
    for (db, rps) in databases {
        for (i, rp) in rps.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!(
                    "CREATE DATABASE {} WITH DURATION INF REPLICATION 1 NAME {}\n",
                    quote_ident(db),
                    quote_ident(rp)
                ));
            }
            if i > 0 || per_file {
                out.push_str(&format!(
                    "CREATE RETENTION POLICY {} ON {} DURATION INF REPLICATION 1\n",
                    quote_ident(rp),
                    quote_ident(db)
                ));
            }
        }
    }
    out.push_str("# DML\n");
    out
}

/// The lines that tell `influx -import` where the following points go.
pub fn context(database: &str, retention_policy: &str) -> String {
    format!("# CONTEXT-DATABASE:{database}\n# CONTEXT-RETENTION-POLICY:{retention_policy}\n")
}

/// Names `influx -import` cannot take from a context line (it keeps the text between
/// the first and second `:` and trims spaces).
fn context_warning(loc: &ShardLocation) -> Option<SkipRecord> {
    let bad = |s: &str| s.contains(':') || s.trim() != s || s.contains('\n');
    (bad(&loc.database) || bad(&loc.retention_policy)).then(|| SkipRecord {
        database: loc.database.clone(),
        retention_policy: loc.retention_policy.clone(),
        shard: loc.id,
        measurement: None,
        path: None,
        offset: None,
        error: "the database or retention policy name holds ':', a newline or outer spaces, \
                which influx -import cannot read from a # CONTEXT line"
            .to_string(),
        block: false,
    })
}

/// Where one shard's lines go.
pub(crate) trait LpOut {
    /// Appends bytes.
    fn write(&mut self, bytes: &[u8]) -> Result<()>;
    /// A point to roll back to; `None` when the output cannot roll back.
    fn mark(&mut self) -> Result<Option<u64>>;
    /// Cuts the output back to `mark`.
    fn rollback(&mut self, mark: u64) -> Result<()>;
    /// Ends the current gzip member.
    fn end_member(&mut self) -> Result<()>;
}

/// A shard's file, created at its first line (with the DDL header, if asked for).
pub(crate) struct LazyFile {
    dest: PathBuf,
    gzip: Option<u32>,
    header: Vec<u8>,
    file: Option<PendingLpFile>,
}

/// Mark meaning "roll back to no file at all".
const NO_FILE: u64 = u64::MAX;

impl LazyFile {
    pub(crate) fn new(dest: PathBuf, gzip: Option<u32>, header: Vec<u8>) -> LazyFile {
        LazyFile {
            dest,
            gzip,
            header,
            file: None,
        }
    }

    /// Commits the file; `None` when no line was written.
    pub(crate) fn commit(self) -> Result<Option<u64>> {
        self.file.map(PendingLpFile::commit).transpose()
    }

    pub(crate) fn abort(self) {
        if let Some(f) = self.file {
            f.abort();
        }
    }
}

impl LpOut for LazyFile {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        if self.file.is_none() {
            let mut file = PendingLpFile::create(self.dest.clone(), self.gzip)?;
            if !self.header.is_empty() {
                file.write(&self.header)?;
            }
            self.file = Some(file);
        }
        self.file.as_mut().expect("created above").write(bytes)
    }

    fn mark(&mut self) -> Result<Option<u64>> {
        match &mut self.file {
            Some(f) => f.mark().map(Some),
            None => Ok(Some(NO_FILE)),
        }
    }

    fn rollback(&mut self, mark: u64) -> Result<()> {
        if mark == NO_FILE {
            if let Some(f) = self.file.take() {
                f.abort();
            }
            return Ok(());
        }
        match &mut self.file {
            Some(f) => f.rollback(mark),
            None => Ok(()),
        }
    }

    fn end_member(&mut self) -> Result<()> {
        if let Some(f) = &mut self.file {
            f.mark()?;
        }
        Ok(())
    }
}

impl LpOut for LpSink<ChunkWriter> {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.write_all(bytes).io_context(stream_closed)
    }

    fn mark(&mut self) -> Result<Option<u64>> {
        LpOut::end_member(self)?;
        Ok(None)
    }

    fn rollback(&mut self, _mark: u64) -> Result<()> {
        Ok(())
    }

    fn end_member(&mut self) -> Result<()> {
        LpSink::end_member(self).io_context(stream_closed)
    }
}

fn stream_closed() -> String {
    "cannot write the line-protocol stream".to_string()
}

/// Writes the selected measurements of `shard` into `out`. Returns `None` when cancelled.
///
/// # Errors
/// Output errors, and damaged data unless `--skip-corrupt` (then the measurement is cut
/// from a file, or left partly written on stdout, and recorded as skipped).
pub(crate) fn write_shard(
    config: &Options,
    cancel: &AtomicBool,
    progress: &dyn Observer,
    shard: &Shard,
    out: &mut dyn LpOut,
    manifest: &mut Manifest,
) -> Result<Option<LpStats>> {
    let loc = shard.location();
    let mut total = LpStats::default();
    let mut buf = Vec::with_capacity(FLUSH_BYTES + (64 << 10));
    for (index, schema) in shard.measurements().iter().enumerate() {
        if !config.filter.measurement(&schema.name) {
            continue;
        }
        let name = String::from_utf8_lossy(&schema.name).into_owned();
        let mark = out.mark()?;
        let format = LineFormat::new(schema);
        let mut rows = shard.rows(index, config.range);
        let mut batch = RowBatch::new(schema);
        let mut stats = LpStats::default();
        let result: Result<(), tsm::Error> = loop {
            if cancel.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let next = rows.next_batch(&mut batch, config.batch_rows, config.batch_bytes);
            manifest.skipped.extend(
                rows.take_skipped()
                    .iter()
                    .map(|err| SkipRecord::block(loc, name.clone(), err)),
            );
            match next {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(err) => break Err(err),
            }
            let before = stats.values;
            format.write_batch(&batch, &mut buf, &mut stats);
            progress.values_written(stats.values - before);
            if buf.len() >= FLUSH_BYTES {
                out.write(&buf)?;
                buf.clear();
            }
        };
        match result {
            Ok(()) => {
                if !buf.is_empty() {
                    out.write(&buf)?;
                    buf.clear();
                }
                out.end_member()?;
                if stats.lines > 0 {
                    // In a group of several shards, which shard had which type.
                    let shard = (!manifest.shards.is_empty()).then_some(loc.id);
                    manifest
                        .fields
                        .extend(schema.fields.iter().map(|f| FieldRecord {
                            shard,
                            measurement: name.clone(),
                            field: String::from_utf8_lossy(&f.key).into_owned(),
                            field_type: f.field_type.name().to_string(),
                        }));
                }
                note_stats(manifest, loc, &name, &stats);
                total.add(&stats);
            }
            Err(err) if config.skip_corrupt && err.is_corruption() => {
                buf.clear();
                let mut record = SkipRecord::new(loc, Some(name), &err);
                match mark {
                    Some(mark) => out.rollback(mark)?,
                    None => {
                        out.write(&buf)?;
                        record.error.push_str(
                            " (lines of this measurement before the damage were already \
                             written to stdout)",
                        );
                    }
                }
                manifest.skipped.push(record);
            }
            Err(err) => {
                return Err(Error::Input(err).in_shard(shard_name(loc), Some(name)));
            }
        }
    }
    Ok(Some(total))
}

/// Records what line protocol could not carry as it is.
fn note_stats(manifest: &mut Manifest, loc: &ShardLocation, measurement: &str, stats: &LpStats) {
    let mut warn = |error: String| {
        manifest.warnings.push(SkipRecord {
            database: loc.database.clone(),
            retention_policy: loc.retention_policy.clone(),
            shard: loc.id,
            measurement: Some(measurement.to_string()),
            path: None,
            offset: None,
            error,
            block: false,
        });
    };
    if stats.unrepresentable > 0 {
        warn(format!(
            "measurement {measurement:?}: {} infinite or NaN float values cannot be written \
             in line protocol and were left out ({} points had no other value)",
            stats.unrepresentable, stats.dropped_lines
        ));
    }
    if stats.strings_with_newline > 0 {
        warn(format!(
            "measurement {measurement:?}: {} string values hold newlines, written raw inside \
             the quotes (HTTP /write reads them back; influx -import splits lines and \
             doubles each such newline)",
            stats.strings_with_newline
        ));
    }
}

/// Shards of a group opened at once (`--format lp`): the next few are opened by idle
/// workers while the lines of the ones before are written.
const OPEN_AHEAD: usize = 16;

/// Exports one group of shards into its own file (`--format lp` with an output folder),
/// the shards in time order; returns the folder written into (none without lines),
/// `None` when cancelled.
pub(crate) fn export_group_file(
    ctx: &Shared<'_>,
    plan: &Plan,
    group: &ShardGroup,
    manifest: &mut Manifest,
) -> Result<Option<BTreeSet<PathBuf>>> {
    let config = ctx.config;
    let loc = &plan.shards[group.members[0]].location;
    let relative = lp_group_path(
        &loc.database,
        &loc.retention_policy,
        &group.name(),
        config.gzip.is_some(),
    );
    let header = if config.with_ddl {
        let dbs = BTreeMap::from([(
            loc.database.clone(),
            BTreeSet::from([loc.retention_policy.clone()]),
        )]);
        manifest.warnings.extend(context_warning(loc));
        (ddl(&dbs, true) + &context(&loc.database, &loc.retention_policy)).into_bytes()
    } else {
        Vec::new()
    };
    let mut file = LazyFile::new(ctx.out.root().join(&relative), config.gzip, header);
    let result = write_group(ctx, plan, group, &mut file, manifest);
    let stats = match result {
        Ok(Some(stats)) => stats,
        Ok(None) => {
            file.abort();
            return Ok(None);
        }
        Err(err) => {
            file.abort();
            return Err(err);
        }
    };
    let dest = file.dest.clone();
    let mut dirs = BTreeSet::new();
    if let Some(bytes) = file.commit()? {
        manifest.files.push(FileRecord {
            measurement: String::new(),
            path: path_string(&relative),
            rows: stats.lines,
            values: stats.values,
            bytes,
            min_time: stats.time_range.map(|(min, _)| min),
            max_time: stats.time_range.map(|(_, max)| max),
        });
        dirs.extend(dest.parent().map(std::path::Path::to_path_buf));
    }
    Ok(Some(dirs))
}

/// Writes the lines of every shard of `group` into `file`, in order, opening the next
/// shards while writing the ones before; `None` when cancelled.
fn write_group(
    ctx: &Shared<'_>,
    plan: &Plan,
    group: &ShardGroup,
    file: &mut LazyFile,
    manifest: &mut Manifest,
) -> Result<Option<LpStats>> {
    let open = |members: &[usize]| -> Result<Vec<OpenedShard>> {
        members
            .par_iter()
            .with_max_len(1)
            .map(|&member| take_opened(ctx, plan, member))
            .collect()
    };
    let mut chunks = group.members.chunks(OPEN_AHEAD);
    let mut total = LpStats::default();
    let mut current = open(chunks.next().unwrap_or_default())?;
    loop {
        let next = chunks.next();
        let (written, opened) = rayon::join(
            || -> Result<Option<()>> {
                for opened in &current {
                    manifest.skipped.extend(opened.skipped.iter().cloned());
                    manifest.warnings.extend(opened.warnings.iter().cloned());
                    let Some(shard) = &opened.shard else {
                        continue;
                    };
                    let stats =
                        write_shard(ctx.config, &ctx.cancel, ctx.progress, shard, file, manifest)?;
                    match stats {
                        Some(stats) => total.add(&stats),
                        None => return Ok(None),
                    }
                }
                Ok(Some(()))
            },
            || next.map(open).transpose(),
        );
        if written?.is_none() {
            return Ok(None);
        }
        match opened? {
            Some(opened) => current = opened,
            None => return Ok(Some(total)),
        }
    }
}

/// Exports every planned shard as one line-protocol stream into `stdout`, in plan order,
/// `threads` shards at once: each worker streams its shard's lines in chunks through a
/// bounded channel, and the calling thread writes the channels out one after the other.
/// Workers take shards in plan order, so the shard being written out always has a worker
/// and nothing deadlocks.
///
/// The workers are scoped threads of this call, not a rayon pool's: they block on their
/// channels while the caller writes, which would starve a pool that the caller's own
/// thread belongs to.
///
/// # Errors
/// The first error of any worker, or of writing `stdout` (a closed pipe included:
/// [`Error::is_broken_pipe`]).
pub fn export_lp_stream(
    config: &Options,
    plan: &Plan,
    threads: usize,
    progress: &dyn Observer,
    stdout: &mut dyn Write,
) -> Result<Vec<ShardResult>> {
    let n = plan.shards.len();
    let mut senders = Vec::with_capacity(n);
    let mut receivers: Vec<Receiver<Vec<u8>>> = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, rx) = sync_channel::<Vec<u8>>(4);
        senders.push(Some(tx));
        receivers.push(rx);
    }
    let senders = Mutex::new(senders);
    let next = AtomicUsize::new(0);
    let cancel = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let results: Mutex<Vec<Option<ShardResult>>> = Mutex::new((0..n).map(|_| None).collect());

    let mut header = Vec::new();
    if config.with_ddl {
        let mut dbs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for s in &plan.shards {
            dbs.entry(s.location.database.clone())
                .or_default()
                .insert(s.location.retention_policy.clone());
        }
        let mut sink = LpSink::new(Vec::new(), config.gzip);
        sink.write_all(ddl(&dbs, false).as_bytes())
            .and_then(|()| sink.finish())
            .map(|bytes| header = bytes)
            .map_err(|err| Error::Internal(format!("cannot compress the DDL: {err}")))?;
    }

    let write_result = std::thread::scope(|scope| -> Result<()> {
        for _ in 0..threads.max(1).min(n.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let tx = senders.lock().unwrap_or_else(|e| e.into_inner())[i]
                        .take()
                        .expect("each shard is taken once");
                    let planned = &plan.shards[i];
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        stream_shard(config, &cancel, progress, planned, tx)
                    }))
                    .unwrap_or_else(|_| {
                        Err(Error::Internal(format!(
                            "internal error while exporting shard {} (please report this bug)",
                            shard_name(&planned.location)
                        )))
                    });
                    match outcome {
                        Ok(result) => {
                            results.lock().unwrap_or_else(|e| e.into_inner())[i] = result;
                        }
                        Err(err) => {
                            cancel.store(true, Ordering::Relaxed);
                            first_error
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .get_or_insert(err);
                        }
                    }
                }
            });
        }
        let written = (|| -> std::io::Result<()> {
            stdout.write_all(&header)?;
            for rx in receivers {
                for chunk in rx {
                    stdout.write_all(&chunk)?;
                }
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
            }
            stdout.flush()
        })()
        .io_context(stream_closed);
        if written.is_err() {
            // Receivers are gone: blocked workers fail their next send and stop.
            cancel.store(true, Ordering::Relaxed);
        }
        written
    });
    if let Some(err) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(err);
    }
    write_result?;
    Ok(results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect())
}

/// One shard of [`export_stdout`]: its context lines, then its measurements.
fn stream_shard(
    config: &Options,
    cancel: &AtomicBool,
    progress: &dyn Observer,
    planned: &PlannedShard,
    tx: SyncSender<Vec<u8>>,
) -> Result<Option<ShardResult>> {
    let loc = &planned.location;
    progress.shard_started(loc);
    let mut manifest = Manifest::new(loc, planned.bytes);
    let opened = open_shard(config, planned)
        .map_err(|err| Error::Input(err).in_shard(shard_name(loc), None))?;
    manifest.skipped = opened.skipped;
    manifest.warnings = opened.warnings;
    let mut sink = LpSink::new(ChunkWriter::new(tx, FLUSH_BYTES), config.gzip);
    if config.with_ddl {
        manifest.warnings.extend(context_warning(loc));
        sink.write_all(context(&loc.database, &loc.retention_policy).as_bytes())
            .io_context(stream_closed)?;
    }
    if let Some(shard) = &opened.shard {
        match write_shard(config, cancel, progress, shard, &mut sink, &mut manifest)? {
            Some(stats) => manifest.files.push(FileRecord {
                measurement: String::new(),
                path: "-".to_string(),
                rows: stats.lines,
                values: stats.values,
                bytes: 0,
                min_time: stats.time_range.map(|(min, _)| min),
                max_time: stats.time_range.map(|(_, max)| max),
            }),
            None => return Ok(None),
        }
    }
    sink.finish()
        .and_then(|mut w| w.flush())
        .io_context(stream_closed)?;
    progress.shard_finished(loc, planned.bytes);
    Ok(Some(ShardResult {
        manifest,
        resumed: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_for_several_policies() {
        let dbs = BTreeMap::from([(
            "airq".to_string(),
            BTreeSet::from(["autogen".to_string(), "hourly".to_string()]),
        )]);
        assert_eq!(
            ddl(&dbs, false),
            "# DDL\n\
             CREATE DATABASE \"airq\" WITH DURATION INF REPLICATION 1 NAME \"autogen\"\n\
             CREATE RETENTION POLICY \"hourly\" ON \"airq\" DURATION INF REPLICATION 1\n\
             # DML\n"
        );
        assert_eq!(
            context("airq", "hourly"),
            "# CONTEXT-DATABASE:airq\n# CONTEXT-RETENTION-POLICY:hourly\n"
        );
    }
}
