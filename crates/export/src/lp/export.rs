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

use influx_tsm_shard::layout::ShardLocation;
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::Shard;

use crate::destination::atomic::{create_temp, sync_and_rename, temp_path};
use crate::destination::records::ShardResult;
use crate::destination::records::{FieldRecord, FileRecord, Manifest, SkipRecord};
use crate::error::{Error, IoContext, Result, cannot};
use crate::lp::sink::{ChunkWriter, LpSink, PendingLpFile};
use crate::lp::{LineFormat, LpStats, quote_ident};
use crate::naming::path_string;
use crate::parquet_file::output::lp_group_path;
use crate::plan::Plan;
use crate::plan::group::ShardGroup;
use crate::plan::options::Options;
use crate::plan::shards::PlannedShard;
use crate::report::observer::Observer;
use crate::run::{Shared, take_opened};
use crate::shard::open::open_shard;
use crate::shard::shard_name;
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

/// A shard's part file of its group, created at its first line.
pub(crate) struct LazyFile {
    dest: PathBuf,
    gzip: Option<u32>,
    file: Option<PendingLpFile>,
}

/// Mark meaning "roll back to no file at all".
const NO_FILE: u64 = u64::MAX;

impl LazyFile {
    pub(crate) fn new(dest: PathBuf, gzip: Option<u32>) -> LazyFile {
        LazyFile {
            dest,
            gzip,
            file: None,
        }
    }

    /// Finishes the file under its temporary name, neither synced nor renamed (a part to
    /// be copied into its group's file); its temporary name, none when no line was
    /// written.
    pub(crate) fn finish_unsynced(self) -> Result<Option<PathBuf>> {
        self.file.map(PendingLpFile::finish_unsynced).transpose()
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
            self.file = Some(PendingLpFile::create(self.dest.clone(), self.gzip)?);
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
        let result: Result<(), influx_tsm_shard::Error> = loop {
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
                    let shards = match manifest.shards.is_empty() {
                        true => Vec::new(),
                        false => vec![loc.id],
                    };
                    manifest
                        .fields
                        .extend(schema.fields.iter().map(|f| FieldRecord {
                            shards: shards.clone(),
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

/// A window of a group's shards is formatted at once, in parallel, while the window
/// before is appended to the file: it ends once it has a shard for every worker and this
/// many input bytes (so that appending one window overlaps formatting the next), or at
/// [`WINDOW_SHARDS`] shards or [`WINDOW_MEMORY_BYTES`] of shards formatted in memory.
/// Windows only schedule the work: the file is the same whatever they are.
const WINDOW_BYTES: u64 = 1 << 20;
const WINDOW_SHARDS: usize = 1024;
const WINDOW_MEMORY_BYTES: u64 = 8 << 20;

/// Exports one group of shards into its own file (`--format lp` with an output folder),
/// the shards in time order; returns the folder written into (none without lines),
/// `None` when cancelled.
///
/// The shards of a window are formatted in parallel, each into a piece of its own (in
/// memory for a small shard, else a hidden part file), while the pieces of the window
/// before are appended to the file in order, so a group of several shards keeps every
/// worker busy and its file holds the shards' lines in the same order as one worker
/// writes them. With gzip each piece is whole gzip members, which concatenate.
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
        let text = ddl(&dbs, true) + &context(&loc.database, &loc.retention_policy);
        let mut sink = LpSink::new(Vec::new(), config.gzip);
        sink.write_all(text.as_bytes())
            .and_then(|()| sink.finish())
            .map_err(|err| Error::Internal(format!("cannot compress the DDL: {err}")))?
    } else {
        Vec::new()
    };
    let dest = ctx.out.root().join(&relative);
    let mut file = GroupLpFile {
        dest: dest.clone(),
        header,
        file: None,
    };
    let stats = match write_group(ctx, plan, group, &mut file, manifest) {
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

/// The lines of one shard of a group, formatted.
enum Piece {
    /// In memory (plain, or whole gzip members).
    Memory(Vec<u8>),
    /// In a hidden part file, finished (not synced).
    Part(PathBuf),
    /// No line.
    Empty,
}

impl Piece {
    /// Deletes a part file.
    fn discard(self) {
        if let Piece::Part(path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// What formatting one shard of a group gave.
struct Formatted {
    piece: Piece,
    stats: LpStats,
    /// What it recorded: fields, what was left out.
    manifest: Manifest,
}

/// An in-memory piece: line protocol (gzip members when compressed) in a `Vec`, rolled
/// back by cutting it.
struct MemoryLp {
    sink: Option<LpSink<Vec<u8>>>,
}

impl MemoryLp {
    fn sink(&mut self) -> &mut LpSink<Vec<u8>> {
        self.sink.as_mut().expect("a memory piece's sink")
    }

    fn into_bytes(mut self) -> Vec<u8> {
        self.sink
            .take()
            .and_then(|sink| sink.finish().ok())
            .unwrap_or_default()
    }
}

impl LpOut for MemoryLp {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.sink()
            .write_all(bytes)
            .map_err(|err| Error::Internal(format!("cannot compress in memory: {err}")))
    }

    fn mark(&mut self) -> Result<Option<u64>> {
        LpOut::end_member(self)?;
        let len = match self.sink() {
            LpSink::Plain(bytes) => bytes.len(),
            LpSink::Gzip { inner, .. } => inner.as_ref().map_or(0, Vec::len),
        };
        Ok(Some(len as u64))
    }

    fn rollback(&mut self, mark: u64) -> Result<()> {
        LpOut::end_member(self)?;
        let len = usize::try_from(mark).unwrap_or(usize::MAX);
        match self.sink() {
            LpSink::Plain(bytes) => bytes.truncate(len),
            LpSink::Gzip { inner, .. } => {
                if let Some(bytes) = inner {
                    bytes.truncate(len);
                }
            }
        }
        Ok(())
    }

    fn end_member(&mut self) -> Result<()> {
        self.sink()
            .end_member()
            .map_err(|err| Error::Internal(format!("cannot compress in memory: {err}")))
    }
}

/// The group's file: its header, then each piece's bytes as they are.
struct GroupLpFile {
    dest: PathBuf,
    /// The DDL and context lines (compressed when the file is), written before the first
    /// line.
    header: Vec<u8>,
    /// The temporary name and the writer, from the first piece with lines on.
    file: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
}

impl GroupLpFile {
    /// Appends a piece (deleting its part file).
    fn append(&mut self, piece: Piece) -> Result<()> {
        if matches!(piece, Piece::Empty) {
            return Ok(());
        }
        // The first piece, when there is no header, becomes the file: no copy (a group of
        // one big shard is written once).
        if let (None, true, Piece::Part(part)) = (&self.file, self.header.is_empty(), &piece) {
            let temp = temp_path(&self.dest);
            let adopted = std::fs::rename(part, &temp)
                .and_then(|()| std::fs::OpenOptions::new().append(true).open(&temp));
            match adopted {
                Ok(file) => {
                    self.file = Some((temp, std::io::BufWriter::with_capacity(1 << 20, file)));
                    return Ok(());
                }
                Err(err) => {
                    let _ = std::fs::remove_file(part);
                    return Err(Error::io(cannot("write", &temp)(), err));
                }
            }
        }
        if self.file.is_none() {
            let (temp, file) = create_temp(&self.dest)?;
            let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
            writer
                .write_all(&self.header)
                .io_context(cannot("write", &temp))?;
            self.file = Some((temp, writer));
        }
        let (temp, writer) = self.file.as_mut().expect("created above");
        match piece {
            Piece::Memory(bytes) => writer.write_all(&bytes).io_context(cannot("write", temp)),
            Piece::Part(path) => {
                let copied = std::fs::File::open(&path)
                    .and_then(|mut part| std::io::copy(&mut part, writer));
                let _ = std::fs::remove_file(&path);
                copied.map(drop).io_context(cannot("write", temp))
            }
            Piece::Empty => Ok(()),
        }
    }

    /// Syncs the file and gives it its name; its size, none when no piece had lines.
    fn commit(self) -> Result<Option<u64>> {
        let Some((temp, writer)) = self.file else {
            return Ok(None);
        };
        let result = writer
            .into_inner()
            .map_err(|err| err.into_error())
            .io_context(cannot("write", &temp))
            .and_then(|file| sync_and_rename(&file, &temp, &self.dest));
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result.map(Some)
    }

    /// Gives up: deletes the temporary file.
    fn abort(self) {
        if let Some((temp, writer)) = self.file {
            drop(writer);
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Formats the shards of `group` in windows, each window's shards in parallel while the
/// window before is appended to `file`; `None` when cancelled.
fn write_group(
    ctx: &Shared<'_>,
    plan: &Plan,
    group: &ShardGroup,
    file: &mut GroupLpFile,
    manifest: &mut Manifest,
) -> Result<Option<LpStats>> {
    let windows = windows(plan, group, ctx.config.small_shard_bytes);
    let format_window = |window: &[usize]| -> Vec<Result<Option<Formatted>>> {
        window
            .par_iter()
            .with_max_len(1)
            .map(|&position| format_shard(ctx, plan, group, position))
            .collect()
    };
    let mut total = LpStats::default();
    let mut current = windows.first().map(|w| (w.as_slice(), format_window(w)));
    let mut next_index = 1;
    while let Some((members, formatted)) = current.take() {
        let next = windows.get(next_index).map(Vec::as_slice);
        next_index += 1;
        let (appended, formatted_next) = rayon::join(
            || append_window(ctx, plan, members, formatted, file, manifest, &mut total),
            || next.map(|w| (w, format_window(w))),
        );
        match appended {
            Ok(true) => current = formatted_next,
            result => {
                // Stopped: the next window's parts go too.
                if let Some((_, formatted)) = formatted_next {
                    discard(formatted);
                }
                return result.map(|_| None);
            }
        }
    }
    Ok(Some(total))
}

/// The group's positions in `plan.shards`, cut into windows.
fn windows(plan: &Plan, group: &ShardGroup, small: u64) -> Vec<Vec<usize>> {
    let workers = rayon::current_num_threads();
    let mut windows: Vec<Vec<usize>> = Vec::new();
    let (mut bytes, mut memory) = (0u64, 0u64);
    for &member in &group.members {
        let size = plan.shards[member].bytes;
        let in_memory = if size <= small { size } else { 0 };
        let full = windows.last().is_none_or(|w| {
            (w.len() >= workers && bytes >= WINDOW_BYTES)
                || w.len() >= WINDOW_SHARDS
                || memory + in_memory > WINDOW_MEMORY_BYTES
        });
        if full {
            windows.push(Vec::new());
            (bytes, memory) = (0, 0);
        }
        windows.last_mut().expect("pushed above").push(member);
        bytes += size;
        memory += in_memory;
    }
    windows
}

/// Appends a window's pieces in order; `Ok(false)` when cancelled (the rest discarded).
fn append_window(
    ctx: &Shared<'_>,
    plan: &Plan,
    members: &[usize],
    formatted: Vec<Result<Option<Formatted>>>,
    file: &mut GroupLpFile,
    manifest: &mut Manifest,
    total: &mut LpStats,
) -> Result<bool> {
    let mut results = formatted.into_iter();
    for &member in members {
        let Some(result) = results.next() else {
            break;
        };
        let formatted = match result {
            Ok(Some(formatted)) => formatted,
            stopped => {
                discard(results.collect());
                return stopped.map(|_| false);
            }
        };
        manifest.absorb(formatted.manifest);
        total.add(&formatted.stats);
        if let Err(err) = file.append(formatted.piece) {
            discard(results.collect());
            return Err(err);
        }
        let planned = &plan.shards[member];
        ctx.progress
            .shard_finished(&planned.location, planned.bytes);
    }
    Ok(true)
}

/// Deletes the part files of pieces that will not be appended.
fn discard(formatted: Vec<Result<Option<Formatted>>>) {
    for f in formatted.into_iter().flatten().flatten() {
        f.piece.discard();
    }
}

/// Opens the shard at `position` and formats its lines into a piece; `None` when
/// cancelled.
fn format_shard(
    ctx: &Shared<'_>,
    plan: &Plan,
    group: &ShardGroup,
    position: usize,
) -> Result<Option<Formatted>> {
    let planned = &plan.shards[position];
    let loc = &planned.location;
    let opened = take_opened(ctx, plan, position)?;
    let mut manifest = Manifest::for_group(loc, &group.ids, 0);
    manifest.skipped = opened.skipped;
    manifest.warnings = opened.warnings;
    manifest.relisted = u64::from(opened.relisted);
    let Some(shard) = &opened.shard else {
        return Ok(Some(Formatted {
            piece: Piece::Empty,
            stats: LpStats::default(),
            manifest,
        }));
    };
    let write = |out: &mut dyn LpOut, manifest: &mut Manifest| {
        write_shard(ctx.config, &ctx.cancel, ctx.progress, shard, out, manifest)
    };
    // A small shard's lines in memory, a bigger one's in a part file.
    let (piece, stats) = if planned.bytes <= ctx.config.small_shard_bytes {
        let mut out = MemoryLp {
            sink: Some(LpSink::new(Vec::new(), ctx.config.gzip)),
        };
        let stats = write(&mut out, &mut manifest)?;
        let bytes = out.into_bytes();
        let piece = if bytes.is_empty() {
            Piece::Empty
        } else {
            Piece::Memory(bytes)
        };
        (piece, stats)
    } else {
        let group_dest = lp_group_path(
            &loc.database,
            &loc.retention_policy,
            &group.name(),
            ctx.config.gzip.is_some(),
        );
        let dest =
            crate::parquet_file::parts::part_path(&ctx.out.root().join(group_dest), position);
        let mut out = LazyFile::new(dest, ctx.config.gzip);
        let stats = match write(&mut out, &mut manifest) {
            Ok(stats) => stats,
            Err(err) => {
                out.abort();
                return Err(err);
            }
        };
        if stats.is_none() {
            out.abort();
            return Ok(None);
        }
        let piece = match out.finish_unsynced()? {
            Some(path) => Piece::Part(path),
            None => Piece::Empty,
        };
        (piece, stats)
    };
    Ok(stats.map(|stats| Formatted {
        piece,
        stats,
        manifest,
    }))
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
    manifest.relisted = u64::from(opened.relisted);
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
