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
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use influx_tsm_shard::layout::ShardLocation;
use influx_tsm_shard::rows::{MeasurementSchema, RowBatch};
use influx_tsm_shard::shard::Shard;

use crate::destination::records::{FieldRecord, Manifest, SkipRecord};
use crate::error::{Error, InternalError, IoContext, Result};
use crate::lp::sink::{ChunkWriter, LpSink, PendingLpFile};
use crate::lp::{LineFormat, LpStats, quote_ident};
use crate::plan::options::Options;
use crate::report::observer::Observer;
use crate::shard::shard_name;

/// Bytes of line protocol buffered before they are written out.
pub(crate) const FLUSH_BYTES: usize = 1 << 20;

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
pub(crate) fn context_warning(loc: &ShardLocation) -> Option<SkipRecord> {
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

/// Compressing into memory failed: a bug, as memory does not refuse writes.
pub(crate) fn compress_error(what: &'static str, err: &std::io::Error) -> Error {
    Error::Internal(InternalError::Compress {
        what,
        reason: err.to_string(),
    })
}

pub(crate) fn stream_closed() -> String {
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
                    record_fields(manifest, loc, schema, &name);
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

/// Records the fields of a measurement that had lines, and, in a group of several
/// shards, which shard had which type.
fn record_fields(
    manifest: &mut Manifest,
    loc: &ShardLocation,
    schema: &MeasurementSchema,
    name: &str,
) {
    let shards = match manifest.shards.is_empty() {
        true => Vec::new(),
        false => vec![loc.id],
    };
    manifest
        .fields
        .extend(schema.fields.iter().map(|f| FieldRecord {
            shards: shards.clone(),
            measurement: name.to_string(),
            field: String::from_utf8_lossy(&f.key).into_owned(),
            field_type: f.field_type.name().to_string(),
        }));
}

/// Records what line protocol could not carry as it is.
pub(crate) fn note_stats(
    manifest: &mut Manifest,
    loc: &ShardLocation,
    measurement: &str,
    stats: &LpStats,
) {
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
