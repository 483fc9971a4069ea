//! `--format lp` into a folder: one file per group of shards, the shards of a window
//! formatted in parallel while the window before is appended in order.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use crate::destination::atomic::{create_temp, sync_and_rename, temp_path};
use crate::destination::records::{FileRecord, Manifest};
use crate::error::{Error, IoContext, Result, cannot};
use crate::lp::LpStats;
use crate::lp::export::{LazyFile, LpOut, compress_error, write_shard};
use crate::lp::export::{context, context_warning, ddl};
use crate::lp::sink::LpSink;
use crate::naming::path_string;
use crate::parquet_file::output::lp_group_path;
use crate::plan::Plan;
use crate::plan::group::ShardGroup;
use crate::run::{Shared, take_opened};
use rayon::prelude::*;

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
            .map_err(|err| compress_error("the DDL", &err))?
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
            .map_err(|err| compress_error("in memory", &err))
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
            .map_err(|err| compress_error("in memory", &err))
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
