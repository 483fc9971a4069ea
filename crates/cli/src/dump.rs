//! `influx-tsm dump`: a TSM file, WAL segment or tombstone file as text, for debugging.

use std::io::Write;

use anyhow::Result;
use influx_tsm_shard::Limits;
use influx_tsm_shard::describe::{BlockDescription, Crc, IndexTotals, TombstoneVersion};
use influx_tsm_shard::file::{BlockEntry, TsmFile};
use influx_tsm_shard::mmap::MappedFile;
use influx_tsm_shard::tombstone::decode_tombstones;
use influx_tsm_shard::values::{Value, Values};
use influx_tsm_shard::wal::{WalEntry, WalSegmentReader};

use crate::UsageError;
use crate::args::DumpArgs;
use crate::inspect::time_text;
use influx_tsm_export::verify::FileKind;

/// Runs `dump`; returns the exit status (1 when the file is damaged).
///
/// # Errors
/// A file of an unknown kind, read or output errors.
pub fn run(args: &DumpArgs) -> Result<u8> {
    let kind = FileKind::of(&args.file).ok_or_else(|| {
        UsageError(format!(
            "{} is not a .tsm, .tombstone or .wal file",
            args.file.display()
        ))
    })?;
    let map = MappedFile::open(&args.file)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let ok = match kind {
        FileKind::Tsm => dump_tsm(map.bytes(), args, &mut out)?,
        FileKind::Wal => dump_wal(map.bytes(), args.values, &mut out)?,
        FileKind::Tombstone => dump_tombstone(map.bytes(), &mut out)?,
        // `of` names files by their extension; archives are only met inside backups.
        FileKind::Archive => {
            return Err(UsageError(format!("{} is a backup archive", args.file.display())).into());
        }
    };
    out.flush()?;
    Ok(if ok { 0 } else { 1 })
}

fn key_text(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

fn value_text(v: Value<'_>) -> String {
    match v {
        Value::Float(f) => {
            let mut out = Vec::new();
            if !influx_tsm_export::lp::write_float(f, &mut out) {
                return f.to_string();
            }
            String::from_utf8_lossy(&out).into_owned()
        }
        Value::Integer(i) => format!("{i}i"),
        Value::Unsigned(u) => format!("{u}u"),
        Value::Boolean(b) => b.to_string(),
        Value::String(s) => format!("{:?}", String::from_utf8_lossy(s)),
    }
}

/// Prints the index (and blocks); returns whether the file was read without damage.
pub fn dump_tsm(data: &[u8], args: &DumpArgs, w: &mut impl Write) -> Result<bool> {
    let file = match TsmFile::parse(data) {
        Ok(file) => file,
        Err(err) => {
            writeln!(w, "damaged: {err}")?;
            return Ok(false);
        }
    };
    writeln!(
        w,
        "TSM file: {} bytes, index at {}",
        data.len(),
        file.index_start()
    )?;
    let mut ok = true;
    let mut totals = IndexTotals::default();
    for entry in file.index() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                writeln!(w, "damaged index: {err}")?;
                ok = false;
                break;
            }
        };
        totals.add(&entry);
        if args
            .filter_key
            .as_deref()
            .is_some_and(|f| !key_text(entry.key).contains(f))
        {
            continue;
        }
        writeln!(
            w,
            "key {:?} {} ({} blocks, entry at {})",
            key_text(entry.key),
            entry.field_type,
            entry.block_count(),
            entry.offset
        )?;
        for (i, block) in entry.blocks().enumerate() {
            writeln!(
                w,
                "  block {i}: {} .. {} at {} size {}",
                block.min_time, block.max_time, block.offset, block.size
            )?;
            if args.blocks || args.values {
                ok &= dump_block(&file, &block, args.values, w)?;
            }
        }
    }
    let range = match totals.time_range {
        Some((min, max)) => format!("{} .. {}", time_text(Some(min)), time_text(Some(max))),
        None => "-".to_string(),
    };
    writeln!(w, "{} keys, {} blocks, {range}", totals.keys, totals.blocks)?;
    Ok(ok)
}

/// Prints a block's checksum and headers (and its points); returns whether it is sound.
fn dump_block(
    file: &TsmFile<'_>,
    block: &BlockEntry,
    points: bool,
    w: &mut impl Write,
) -> Result<bool> {
    let block = match BlockDescription::read(file, block) {
        Ok(block) => block,
        Err(err) => {
            writeln!(w, "    damaged: {err}")?;
            return Ok(false);
        }
    };
    let Crc { stored, computed } = block.crc;
    let mut ok = block.crc.is_ok();
    let crc = if ok {
        format!("crc {stored:08x} ok")
    } else {
        format!("crc {stored:08x} BAD (computed {computed:08x})")
    };
    match block.headers() {
        Ok(info) => writeln!(
            w,
            "    {crc}, type {}, {} points, timestamps {} (10^{}) {} B, values {} {} B",
            info.field_type,
            info.count,
            info.timestamp_encoding.name(),
            info.timestamp_scale,
            info.timestamp_len,
            info.value_encoding.name(),
            info.value_len
        )?,
        Err(err) => {
            ok = false;
            writeln!(w, "    {crc}, damaged header: {err}")?;
        }
    }
    if points {
        let mut ts = Vec::new();
        let mut values = Values::new(influx_tsm_shard::FieldType::Float);
        match block.decode(&Limits::default(), &mut ts, &mut values) {
            Ok(()) => {
                for (i, t) in ts.iter().enumerate() {
                    let v = values.get(i).map_or_else(String::new, value_text);
                    writeln!(w, "      {t} {v}")?;
                }
            }
            Err(err) => {
                ok = false;
                writeln!(w, "    cannot decode: {err}")?;
            }
        }
    }
    Ok(ok)
}

/// Prints every entry of a WAL segment; returns whether it read to its end.
pub fn dump_wal(data: &[u8], points: bool, w: &mut impl Write) -> Result<bool> {
    let mut reader = WalSegmentReader::new(data, Limits::default());
    let mut n = 0;
    loop {
        let at = reader.offset();
        match reader.next_entry() {
            Ok(None) => break,
            Ok(Some(WalEntry::Write(writes))) => {
                n += 1;
                let count: usize = writes.iter().map(|x| x.timestamps.len()).sum();
                writeln!(w, "[write] at {at}: {} keys, {count} points", writes.len())?;
                for write in &writes {
                    writeln!(
                        w,
                        "  {:?} {} x{}",
                        key_text(&write.key),
                        write.values.field_type(),
                        write.timestamps.len()
                    )?;
                    if points {
                        for (i, t) in write.timestamps.iter().enumerate() {
                            let v = write.values.get(i).map_or_else(String::new, value_text);
                            writeln!(w, "    {t} {v}")?;
                        }
                    }
                }
            }
            Ok(Some(WalEntry::Delete { keys })) => {
                n += 1;
                writeln!(w, "[delete] at {at}: {} keys", keys.len())?;
                for k in &keys {
                    writeln!(w, "  {:?}", key_text(k))?;
                }
            }
            Ok(Some(WalEntry::DeleteRange {
                min_time,
                max_time,
                keys,
            })) => {
                n += 1;
                writeln!(
                    w,
                    "[delete-range] at {at}: min={min_time} max={max_time}, {} keys",
                    keys.len()
                )?;
                for k in &keys {
                    writeln!(w, "  {:?}", key_text(k))?;
                }
            }
            Err(err) => {
                writeln!(w, "damaged at {at}: {err}")?;
                writeln!(w, "{n} entries before the damage")?;
                return Ok(false);
            }
        }
    }
    writeln!(w, "{n} entries")?;
    Ok(true)
}

/// Prints every record of a tombstone file; returns whether it decoded.
pub fn dump_tombstone(data: &[u8], w: &mut impl Write) -> Result<bool> {
    let version = TombstoneVersion::of(data).name();
    match decode_tombstones(data, &Limits::default()) {
        Ok(records) => {
            writeln!(w, "tombstone {version}: {} records", records.len())?;
            for r in &records {
                writeln!(w, "{:?} {} {}", key_text(&r.key), r.min_time, r.max_time)?;
            }
            Ok(true)
        }
        Err(err) => {
            writeln!(w, "tombstone {version}: damaged: {err}")?;
            Ok(false)
        }
    }
}
