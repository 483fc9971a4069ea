//! `--format lp --out -`: every shard's lines into one stream, in plan order.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::destination::records::ShardResult;
use crate::destination::records::{FileRecord, Manifest};
use crate::error::{Error, InternalError, IoContext, Result};
use crate::lp::export::compress_error;
use crate::lp::export::{FLUSH_BYTES, context, context_warning, ddl, stream_closed, write_shard};
use crate::lp::sink::{ChunkWriter, LpSink};
use crate::plan::Plan;
use crate::plan::options::Options;
use crate::plan::shards::PlannedShard;
use crate::report::observer::Observer;
use crate::shard::open::open_shard;
use crate::shard::shard_name;

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
    progress.planned(plan.shards.len(), plan.bytes());
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

    let header = ddl_header(config, plan)?;

    let write_result = std::thread::scope(|scope| -> Result<()> {
        for _ in 0..threads.max(1).min(n.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    if cancel.load(Ordering::Relaxed) {
                        drop_untaken(&senders);
                        break;
                    }
                    // None: a failure elsewhere dropped the shards nobody had taken.
                    let Some(tx) = senders.lock().unwrap_or_else(|e| e.into_inner())[i].take()
                    else {
                        break;
                    };
                    // The writer sees this shard end only once its outcome is recorded
                    // below: after a failure, cancel is set before the writer reads it.
                    let keep_open = tx.clone();
                    let planned = &plan.shards[i];
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        stream_shard(config, &cancel, progress, planned, tx)
                    }))
                    .unwrap_or_else(|_| {
                        Err(Error::Internal(InternalError::Panic {
                            shard: shard_name(&planned.location),
                            message: None,
                        }))
                    });
                    match outcome {
                        Ok(result) => {
                            results.lock().unwrap_or_else(|e| e.into_inner())[i] = result;
                        }
                        Err(err) => {
                            cancel.store(true, Ordering::Relaxed);
                            drop_untaken(&senders);
                            first_error
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .get_or_insert(err);
                        }
                    }
                    drop(keep_open);
                }
            });
        }
        let written = write_out(stdout, &header, receivers, &cancel).io_context(stream_closed);
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

/// Drops the senders of the shards no worker has taken, once the stream is cancelled:
/// the writer may already wait on one of them, and only a dropped sender ends its wait.
/// (Kept alive, they hung the stream when a shard failed while the writer was between
/// two shards.)
fn drop_untaken(senders: &Mutex<Vec<Option<SyncSender<Vec<u8>>>>>) {
    for sender in senders.lock().unwrap_or_else(|e| e.into_inner()).iter_mut() {
        sender.take();
    }
}

/// With `--with-ddl`, the stream's DDL for every database and retention policy of the
/// plan (compressed as the stream is); empty without.
fn ddl_header(config: &Options, plan: &Plan) -> Result<Vec<u8>> {
    if !config.with_ddl {
        return Ok(Vec::new());
    }
    let mut dbs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &plan.shards {
        dbs.entry(s.location.database.clone())
            .or_default()
            .insert(s.location.retention_policy.clone());
    }
    let mut sink = LpSink::new(Vec::new(), config.gzip);
    sink.write_all(ddl(&dbs, false).as_bytes())
        .and_then(|()| sink.finish())
        .map_err(|err| compress_error("the DDL", &err))
}

/// Writes `header`, then each shard's chunks as its worker sends them, shard after shard,
/// until the end or a cancellation.
fn write_out(
    stdout: &mut dyn Write,
    header: &[u8],
    receivers: Vec<Receiver<Vec<u8>>>,
    cancel: &AtomicBool,
) -> std::io::Result<()> {
    stdout.write_all(header)?;
    for rx in receivers {
        for chunk in rx {
            stdout.write_all(&chunk)?;
        }
        if cancel.load(Ordering::Relaxed) {
            break;
        }
    }
    stdout.flush()
}

/// One shard of [`export_lp_stream`]: its context lines, then its measurements.
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
