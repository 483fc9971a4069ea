//! Integrity checks of TSM files, tombstone files and WAL segments, from their bytes.
//!
//! A TSM file is checked for everything the format lets a reader check:
//!
//! * header magic and version, footer pointing inside the file;
//! * the index: walked to the footer exactly, keys strictly ascending, every block entry
//!   with `min <= max`, inside the blocks region and longer than a CRC and a type byte;
//!   block entries of a key in ascending min time; no two blocks sharing bytes;
//! * every block: its CRC-32, its type byte equal to the index type, a readable timestamp
//!   header, and (unless [`VerifyOptions::decode`] is off) a full decode: as many values as
//!   timestamps, timestamps ascending, the first and last equal to the index's min and
//!   max.
//!
//! A tombstone file must decode whole. A WAL segment must read entry by entry to its
//! end: a truncated *last* entry is what a crash leaves, influxd drops it at start-up, so
//! it is a [`Severity::Warning`]; any other damage (bad snappy, bad payload) is an error,
//! although influxd also drops everything from there to the end of the segment.
//!
//! Nothing here touches files: callers pass bytes and attach paths to the findings.

use crate::block::decode_block;
use crate::block_info::BlockInfo;
use crate::error::{Error, Inconsistency, Result};
use crate::file::TsmFile;
use crate::limits::Limits;
use crate::tombstone::decode_tombstones;
use crate::values::Values;
use crate::wal::{WalEntry, WalSegmentReader};

/// How serious a [`Finding`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// influxd itself tolerates it (drops the data silently); reported, not a failure.
    Warning,
    /// Damage: data is lost or wrong.
    Error,
}

/// One problem, with the absolute offset (and key, when known) in its [`Error`].
#[derive(Debug)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong, and where.
    pub error: Error,
}

impl Finding {
    fn error(error: Error) -> Finding {
        Finding {
            severity: Severity::Error,
            error,
        }
    }
}

/// What to check.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// Decode every block fully (else: CRC, headers and index only, much faster).
    pub decode: bool,
    /// Caps on sizes read from the files.
    pub limits: Limits,
}

impl Default for VerifyOptions {
    fn default() -> VerifyOptions {
        VerifyOptions {
            decode: true,
            limits: Limits::default(),
        }
    }
}

impl VerifyOptions {
    /// Sets [`VerifyOptions::decode`].
    pub fn decode(mut self, yes: bool) -> VerifyOptions {
        self.decode = yes;
        self
    }

    /// Sets [`VerifyOptions::limits`].
    pub fn limits(mut self, limits: Limits) -> VerifyOptions {
        self.limits = limits;
        self
    }
}

/// The result of checking one file.
#[derive(Debug, Default)]
pub struct Report {
    /// Keys (TSM), records (tombstone) or entries (WAL) read.
    pub items: u64,
    /// Blocks checked (TSM only).
    pub blocks: u64,
    /// Values counted: block point counts (TSM), points written (WAL).
    pub values: u64,
    /// Everything wrong, in file order.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Checks a whole TSM file. `progress` is called with the bytes of each block checked.
pub fn verify_tsm(data: &[u8], options: &VerifyOptions, progress: &mut dyn FnMut(u64)) -> Report {
    let mut report = Report::default();
    let file = match TsmFile::parse(data) {
        Ok(file) => file,
        Err(err) => {
            report.findings.push(Finding::error(err));
            return report;
        }
    };
    // Blocks are written in index order, so each one usually starts where the one before
    // it ended, and then none can overlap another. Only when one does not is the list of
    // every block's span (24 bytes a block) built, by a second walk.
    let mut in_order = true;
    let mut end_so_far = 0u64;
    let mut timestamps = Vec::new();
    let mut values = Values::new(crate::values::FieldType::Float);
    for entry in file.index() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                report.findings.push(Finding::error(err));
                break;
            }
        };
        report.items += 1;
        let mut prev_min = i64::MIN;
        for (i, block) in entry.blocks().enumerate() {
            report.blocks += 1;
            let entry_at = entry.block_entry_offset(i);
            if block.min_time < prev_min {
                report.findings.push(Finding::error(
                    Error::inconsistent(
                        entry_at,
                        Inconsistency::BlocksOutOfOrder {
                            min_time: block.min_time,
                            previous: prev_min,
                        },
                    )
                    .for_key(entry.key),
                ));
            }
            prev_min = block.min_time;
            in_order &= block.offset >= end_so_far;
            end_so_far = end_so_far.max(block.offset + u64::from(block.size));
            progress(u64::from(block.size));
            if let Err(err) = check_block(
                &file,
                entry.field_type,
                &block,
                options,
                &mut timestamps,
                &mut values,
                &mut report.values,
            ) {
                report.findings.push(Finding::error(err.for_key(entry.key)));
            }
        }
    }
    if in_order {
        return report;
    }
    let mut spans: Vec<(u64, u64, u64)> = Vec::new(); // (start, end, index entry offset)
    for entry in file.index().map_while(std::result::Result::ok) {
        for (i, block) in entry.blocks().enumerate() {
            let entry_at = entry.block_entry_offset(i);
            spans.push((block.offset, block.offset + u64::from(block.size), entry_at));
        }
    }
    spans.sort_unstable();
    for pair in spans.windows(2) {
        if let [(a_start, a_end, a_entry), (b_start, _, b_entry)] = pair
            && b_start < a_end
        {
            report.findings.push(Finding::error(Error::inconsistent(
                *b_entry,
                Inconsistency::BlocksOverlap {
                    block: *b_start,
                    other: *a_start,
                    other_entry: *a_entry,
                },
            )));
        }
    }
    report
}

fn check_block(
    file: &TsmFile<'_>,
    index_type: crate::values::FieldType,
    block: &crate::file::BlockEntry,
    options: &VerifyOptions,
    timestamps: &mut Vec<i64>,
    values: &mut Values,
    counted: &mut u64,
) -> Result<()> {
    let bytes = file.block(block, true)?;
    let at = block.offset + 4;
    let info = BlockInfo::read(bytes, at)?;
    if info.field_type != index_type {
        return Err(Error::new(crate::ErrorKind::TypeMismatch {
            found: info.field_type,
            expected: index_type,
            expected_by: "the index says",
        })
        .at(at));
    }
    *counted += info.count as u64;
    if !options.decode {
        return Ok(());
    }
    decode_block(bytes, at, &options.limits, timestamps, values)?;
    if timestamps.len() != info.count {
        return Err(Error::inconsistent(
            at,
            Inconsistency::TimestampCount {
                counted: info.count as u64,
                decoded: timestamps.len() as u64,
            },
        ));
    }
    if let Some(i) = timestamps.windows(2).position(|w| w[0] > w[1]) {
        return Err(Error::inconsistent(
            at,
            Inconsistency::TimestampsNotAscending {
                point: (i + 1) as u64,
                time: timestamps[i + 1],
                previous: timestamps[i],
            },
        ));
    }
    let (first, last) = (timestamps.first(), timestamps.last());
    if first != Some(&block.min_time) || last != Some(&block.max_time) {
        return Err(Error::inconsistent(
            at,
            Inconsistency::IndexRange {
                min_time: block.min_time,
                max_time: block.max_time,
                first: first.copied().unwrap_or_default(),
                last: last.copied().unwrap_or_default(),
            },
        ));
    }
    Ok(())
}

/// Checks a tombstone file: it must decode whole.
pub fn verify_tombstone(data: &[u8], limits: &Limits) -> Report {
    let mut report = Report::default();
    match decode_tombstones(data, limits) {
        Ok(records) => {
            report.items = records.len() as u64;
            for r in records.iter().filter(|r| r.min_time > r.max_time) {
                report.findings.push(Finding {
                    severity: Severity::Warning,
                    error: Error::inconsistent(
                        0,
                        Inconsistency::EmptyDeleteRange {
                            min_time: r.min_time,
                            max_time: r.max_time,
                        },
                    )
                    .for_key(&r.key),
                });
            }
        }
        Err(err) => report.findings.push(Finding::error(err)),
    }
    report
}

/// Checks a WAL segment: every entry must decode. A damaged entry ends the segment (as in
/// influxd, which drops the rest); it is a warning when it is the torn last entry a crash
/// leaves, an error when whole entries could follow it.
pub fn verify_wal(data: &[u8], limits: &Limits) -> Report {
    let mut report = Report::default();
    let mut reader = WalSegmentReader::new(data, *limits);
    loop {
        let at = reader.offset();
        match reader.next_entry() {
            Ok(None) => break,
            Ok(Some(entry)) => {
                report.items += 1;
                if let WalEntry::Write(writes) = &entry {
                    report.values += writes
                        .iter()
                        .map(|w| w.timestamps.len() as u64)
                        .sum::<u64>();
                }
            }
            Err(err) => {
                let torn_tail = matches!(err.kind(), crate::ErrorKind::Truncated { .. });
                let lost = data.len() as u64 - at;
                let severity = if torn_tail {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                report.findings.push(Finding {
                    severity,
                    error: Error::new(crate::ErrorKind::UnreadableWal {
                        lost,
                        torn: torn_tail,
                        cause: Box::new(err),
                    })
                    .at(at),
                });
                break;
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::tsm::TsmWriter;

    /// A file of three keys with one block each, the entries' block offsets then set to
    /// `point(offsets)`.
    fn with_offsets(point: impl Fn(&[u64]) -> Vec<u64>) -> Vec<u8> {
        let mut w = TsmWriter::new();
        for key in [&b"a#!~#f"[..], b"b#!~#f", b"c#!~#f"] {
            w.write_block(key, &[1, 2], &Values::Integer(vec![5, 6]));
        }
        let mut data = w.finish();
        let file = TsmFile::parse(&data).unwrap();
        let entries: Vec<(u64, u64)> = file
            .index()
            .map(|e| {
                let e = e.unwrap();
                (e.block_entry_offset(0), e.blocks().next().unwrap().offset)
            })
            .collect();
        let offsets: Vec<u64> = entries.iter().map(|e| e.1).collect();
        for ((at, _), new) in entries.iter().zip(point(&offsets)) {
            let at = *at as usize + 16;
            data[at..at + 8].copy_from_slice(&new.to_be_bytes());
        }
        data
    }

    fn overlaps(data: &[u8]) -> Vec<String> {
        verify_tsm(data, &VerifyOptions::default(), &mut |_| {})
            .findings
            .iter()
            .map(|f| f.error.to_string())
            .filter(|m| m.contains("overlaps"))
            .collect()
    }

    #[test]
    fn blocks_out_of_order_are_checked_for_overlaps() {
        assert!(overlaps(&with_offsets(<[u64]>::to_vec)).is_empty());
        // Out of order but apart: the second walk finds nothing either.
        assert!(overlaps(&with_offsets(|o| vec![o[2], o[1], o[0]])).is_empty());
        // The third entry points at the first block.
        let found = overlaps(&with_offsets(|o| vec![o[0], o[1], o[0]]));
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
