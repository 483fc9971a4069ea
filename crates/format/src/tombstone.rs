//! Tombstone files: deletions that apply to the one TSM file with the same stem.
//!
//! ```text
//! first 4 bytes (BE u32)   body
//! 0x00001502  v2           records, uncompressed
//! 0x00001503  v3           gzip (all members read as one stream) of records
//! 0x00001504  v4           gzip members, one per delete batch; each member holds whole records
//! other / < 4 bytes  v1    text: one composite key per line, each deleting all time
//!
//! record: [key len u32 BE][key][min i64 BE][max i64 BE]
//! ```
//!
//! # What influxd does, and where this decoder follows it
//!
//! Checked against `tsdb/engine/tsm1/tombstone.go` (`Walk`, `readTombstoneV1..V4`) of
//! InfluxDB v1.8.10 and v1.6.7 (which wrote the `small-a` fixture):
//!
//! * An empty file is an empty v1 file ("an old bug allowed them"). A file shorter than
//!   four bytes cannot carry a header, so it is v1 text too.
//! * v1 lines are split like Go's `bufio.ScanLines`: a `\r` before the `\n` is dropped and
//!   empty lines are skipped. Go's scanner refuses lines of 64 KiB or more, and so do we,
//!   because influxd would refuse the whole file.
//! * v3 uses Go's default multi-stream gzip reader, so every member is part of one record
//!   stream; v4 parses each member on its own, so a record never spans members.
//! * A v4 file holding only the header is empty (v1.8.10 checks for `io.EOF` from the
//!   first gzip header). A v3 file holding only the header is an error in influxd.
//! * When a gzip record stream ends inside the 4-byte key length, influxd treats it as
//!   the end of the stream (it stops on `io.ErrUnexpectedEOF`), so we accept such a tail
//!   as well. A stream ending inside a key or a time is an error, as in influxd.
//! * Where influxd is laxer than we are: it ignores up to 9 bytes of junk after the last
//!   v4 member, and compressed data cut off (so that inflating fails) while it reads a key
//!   length; its v2 reader does not check for short reads. Tombstone files are written to a temporary file, synced and
//!   renamed, so none of these shapes occurs in a real directory; we report them.
//!
//! When a tombstone file cannot be read, influxd fails to open the TSM file it belongs to,
//! renames that `.tsm` to `.tsm.bad`, and fails the shard open; the next start then runs
//! without that TSM file. What a caller does with an error here is its policy.
//!
//! # Semantics
//!
//! A record hides the points of exactly its key (byte equality) with `min <= t <= max`,
//! in its own TSM file only. A record with `min > max` hides nothing. The engine writes a
//! record into every TSM file that overlaps the delete at the moment it runs
//! (`Engine.deleteSeriesRange`), before it touches the cache and the WAL.

use std::collections::BTreeMap;
use std::io::Read;

use crate::error::{Error, Result, TombstoneFault};
use crate::format::tombstone_header;
use crate::limits::Limits;

/// One deletion: points of `key` with `min_time <= t <= max_time`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tombstone {
    /// The full composite key, `series#!~#field`.
    pub key: Vec<u8>,
    /// First deleted timestamp, inclusive.
    pub min_time: i64,
    /// Last deleted timestamp, inclusive.
    pub max_time: i64,
}

/// Go's `bufio.Scanner` gives up on a token that fills its 64 KiB buffer.
const V1_MAX_LINE: usize = 64 * 1024 - 1;

/// Key length, min time, max time.
const RECORD_FIXED_LEN: usize = 4 + 8 + 8;

/// Decodes a whole tombstone file, in file order.
///
/// # Errors
/// A truncated or malformed record, a gzip error, or more decompressed bytes than
/// [`Limits::max_decompressed_bytes`]. Offsets are file offsets; for gzip'd versions the
/// error points at the start of the gzip stream or member and the message names the
/// offset inside its decompressed bytes.
pub fn decode_tombstones(data: &[u8], limits: &Limits) -> Result<Vec<Tombstone>> {
    let mut out = Vec::new();
    let Some(header) = data.first_chunk::<4>().map(|h| u32::from_be_bytes(*h)) else {
        decode_v1(data, &mut out)?;
        return Ok(out);
    };
    let body = &data[4..];
    match header {
        tombstone_header::V2 => decode_records_raw(body, 4, &mut out)?,
        tombstone_header::V3 => decode_v3(body, limits, &mut out)?,
        tombstone_header::V4 => decode_v4(body, limits, &mut out)?,
        _ => decode_v1(data, &mut out)?,
    }
    Ok(out)
}

fn decode_v1(data: &[u8], out: &mut Vec<Tombstone>) -> Result<()> {
    let mut start = 0;
    while start < data.len() {
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| start + i);
        let mut line = &data[start..end];
        if line.len() > V1_MAX_LINE {
            return Err(bad(
                start as u64,
                TombstoneFault::LineTooLong {
                    len: line.len() as u64,
                    limit: V1_MAX_LINE as u64,
                },
            ));
        }
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        if !line.is_empty() {
            out.push(Tombstone {
                key: line.to_vec(),
                min_time: i64::MIN,
                max_time: i64::MAX,
            });
        }
        start = end + 1;
    }
    Ok(())
}

/// v2 body: records straight from the file, so offsets are exact file offsets.
fn decode_records_raw(body: &[u8], base: u64, out: &mut Vec<Tombstone>) -> Result<()> {
    let mut cur = crate::cursor::Cursor::new(body, base);
    while !cur.is_empty() {
        let key_len = cur.u32_be()?;
        let key_len = usize::try_from(key_len).unwrap_or(usize::MAX);
        let key = cur.bytes(key_len)?;
        let min_time = cur.i64_be()?;
        let max_time = cur.i64_be()?;
        out.push(Tombstone {
            key: key.to_vec(),
            min_time,
            max_time,
        });
    }
    Ok(())
}

/// Where a decompressed record stream came from, for error messages.
#[derive(Clone, Copy)]
struct Stream {
    /// File offset of the gzip stream or member.
    offset: u64,
    /// `"v3 gzip stream"` or `"v4 gzip member"`.
    what: &'static str,
}

/// Records of one decompressed stream. A tail shorter than a key length ends the stream,
/// as in influxd; anything else cut short is an error.
fn decode_records_inflated(data: &[u8], from: Stream, out: &mut Vec<Tombstone>) -> Result<()> {
    let mut pos = 0;
    while let Some((len_bytes, rest)) = data.get(pos..).and_then(<[u8]>::split_first_chunk::<4>) {
        let key_len = u32::from_be_bytes(*len_bytes);
        let parsed = usize::try_from(key_len).ok().and_then(|n| {
            let (key, after) = rest.split_at_checked(n)?;
            let (min, after) = after.split_first_chunk::<8>()?;
            let (max, _) = after.split_first_chunk::<8>()?;
            Some((key, i64::from_be_bytes(*min), i64::from_be_bytes(*max)))
        });
        let Some((key, min_time, max_time)) = parsed else {
            return Err(bad(
                from.offset,
                TombstoneFault::RecordCutShort {
                    stream: from.what,
                    stream_offset: from.offset,
                    record_at: pos as u64,
                    key_len,
                    needed: u64::from(key_len) + 16,
                    available: rest.len() as u64,
                },
            ));
        };
        out.push(Tombstone {
            key: key.to_vec(),
            min_time,
            max_time,
        });
        pos += RECORD_FIXED_LEN + key.len();
    }
    Ok(())
}

/// Reads `decoder` to its end into `out`, in small chunks, refusing to hold more than
/// `budget` bytes in total: the size a gzip stream inflates to is never written down.
fn inflate(decoder: &mut impl Read, out: &mut Vec<u8>, budget: usize) -> InflateResult {
    let mut chunk = [0u8; 8192];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => return InflateResult::Done,
            Ok(n) => {
                if out.len().saturating_add(n) > budget {
                    return InflateResult::OverBudget(out.len() as u64 + n as u64);
                }
                out.extend_from_slice(&chunk[..n]);
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return InflateResult::Failed(err),
        }
    }
}

enum InflateResult {
    Done,
    /// At least this many bytes were on the way.
    OverBudget(u64),
    Failed(std::io::Error),
}

fn gzip_error(data_len: usize, remaining: usize, from: Stream, err: std::io::Error) -> Error {
    // The decoder consumed input up to here (give or take its look-ahead).
    let at = 4 + data_len.saturating_sub(remaining);
    bad(
        at as u64,
        TombstoneFault::Gzip {
            stream: from.what,
            stream_offset: from.offset,
            near: at as u64,
            message: err.to_string(),
        },
    )
}

fn bad(at: u64, fault: TombstoneFault) -> Error {
    Error::new(crate::ErrorKind::BadTombstone(fault)).at(at)
}

fn decode_v3(body: &[u8], limits: &Limits, out: &mut Vec<Tombstone>) -> Result<()> {
    let from = Stream {
        offset: 4,
        what: "v3 gzip stream",
    };
    if body.is_empty() {
        // Go's gzip.NewReader returns io.EOF here and influxd reports it.
        return Err(bad(4, TombstoneFault::NoGzipData));
    }
    let mut decoder = flate2::bufread::MultiGzDecoder::new(body);
    let mut inflated = Vec::new();
    match inflate(&mut decoder, &mut inflated, limits.max_decompressed_bytes) {
        InflateResult::Done => {}
        InflateResult::OverBudget(claimed) => {
            return Err(Error::limit(
                4,
                "decompressed tombstone bytes",
                claimed,
                limits.max_decompressed_bytes as u64,
            ));
        }
        InflateResult::Failed(err) => {
            return Err(gzip_error(body.len(), decoder.get_ref().len(), from, err));
        }
    }
    decode_records_inflated(&inflated, from, out)
}

fn decode_v4(body: &[u8], limits: &Limits, out: &mut Vec<Tombstone>) -> Result<()> {
    let mut rest = body;
    let mut inflated = Vec::new();
    let mut budget = limits.max_decompressed_bytes;
    while !rest.is_empty() {
        let offset = 4 + (body.len() - rest.len()) as u64;
        let from = Stream {
            offset,
            what: "v4 gzip member",
        };
        let mut decoder = flate2::bufread::GzDecoder::new(rest);
        inflated.clear();
        match inflate(&mut decoder, &mut inflated, budget) {
            InflateResult::Done => {}
            InflateResult::OverBudget(claimed) => {
                let used = (limits.max_decompressed_bytes - budget) as u64;
                return Err(Error::limit(
                    offset,
                    "decompressed tombstone bytes",
                    used + claimed,
                    limits.max_decompressed_bytes as u64,
                ));
            }
            InflateResult::Failed(err) => {
                return Err(gzip_error(body.len(), decoder.get_ref().len(), from, err));
            }
        }
        let next = decoder.into_inner();
        if next.len() >= rest.len() {
            // A member always has a header, so this cannot happen; it guards the loop.
            return Err(bad(offset, TombstoneFault::EmptyGzipMember));
        }
        rest = next;
        budget -= inflated.len();
        decode_records_inflated(&inflated, from, out)?;
    }
    Ok(())
}

/// The tombstones of one TSM file, by key: sorted, merged time ranges. `Default` is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TombstoneSet {
    ranges: BTreeMap<Vec<u8>, Vec<(i64, i64)>>,
}

impl TombstoneSet {
    /// The set of a file's decoded tombstones (see [`decode_tombstones`]).
    pub fn new(tombstones: Vec<Tombstone>) -> TombstoneSet {
        tombstones.into_iter().collect()
    }

    /// Whether no key has a deleted range.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of keys with at least one deleted range.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The deleted ranges of `key`: inclusive, ascending, neither overlapping nor
    /// adjacent. Empty when nothing of the key is deleted.
    pub fn ranges(&self, key: &[u8]) -> &[(i64, i64)] {
        self.ranges.get(key).map_or(&[], Vec::as_slice)
    }

    /// Whether the point `(key, t)` is deleted.
    pub fn covers(&self, key: &[u8], t: i64) -> bool {
        let ranges = self.ranges(key);
        // First range whose end is at or after t; merged ranges are sorted by both ends.
        let i = ranges.partition_point(|&(_, max)| max < t);
        ranges.get(i).is_some_and(|&(min, _)| min <= t)
    }

    /// Whether every timestamp in `min..=max` of `key` is deleted, so a block with that
    /// time range can be skipped without decoding. False when `min > max`: an impossible
    /// range says the caller's data is damaged, and hiding it would hide that.
    pub fn covers_range(&self, key: &[u8], min: i64, max: i64) -> bool {
        if min > max {
            return false;
        }
        let ranges = self.ranges(key);
        let i = ranges.partition_point(|&(_, end)| end < min);
        ranges
            .get(i)
            .is_some_and(|&(start, end)| start <= min && max <= end)
    }

    /// Keys with at least one deleted range, ascending.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.ranges.keys().map(Vec::as_slice)
    }

    /// Adds one deletion. Ranges with `min > max` delete nothing and are dropped.
    pub fn insert(&mut self, key: &[u8], min: i64, max: i64) {
        if min > max {
            return;
        }
        let ranges = self.ranges.entry(key.to_vec()).or_default();
        ranges.push((min, max));
        merge_ranges(ranges);
    }
}

impl FromIterator<Tombstone> for TombstoneSet {
    fn from_iter<I: IntoIterator<Item = Tombstone>>(iter: I) -> TombstoneSet {
        let mut ranges: BTreeMap<Vec<u8>, Vec<(i64, i64)>> = BTreeMap::new();
        for t in iter {
            if t.min_time <= t.max_time {
                ranges
                    .entry(t.key)
                    .or_default()
                    .push((t.min_time, t.max_time));
            }
        }
        ranges.values_mut().for_each(merge_ranges);
        TombstoneSet { ranges }
    }
}

impl From<Vec<Tombstone>> for TombstoneSet {
    fn from(tombstones: Vec<Tombstone>) -> TombstoneSet {
        TombstoneSet::new(tombstones)
    }
}

/// Sorts and merges overlapping or adjacent inclusive ranges in place.
fn merge_ranges(ranges: &mut Vec<(i64, i64)>) {
    ranges.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for &(min, max) in ranges.iter() {
        match merged.last_mut() {
            // Integer timestamps: [a, b] and [b + 1, c] together cover [a, c].
            Some(last) if min <= last.1.saturating_add(1) => last.1 = last.1.max(max),
            _ => merged.push((min, max)),
        }
    }
    *ranges = merged;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::testkit::tombstone as tk;
    use proptest::prelude::*;

    fn ts(key: &str, min: i64, max: i64) -> Tombstone {
        Tombstone {
            key: key.as_bytes().to_vec(),
            min_time: min,
            max_time: max,
        }
    }

    fn decode(data: &[u8]) -> Result<Vec<Tombstone>> {
        decode_tombstones(data, &Limits::default())
    }

    #[test]
    fn empty_file_is_empty_v1() {
        assert_eq!(decode(b"").unwrap(), vec![]);
    }

    #[test]
    fn v1_text_lines() {
        let got = decode(b"cpu#!~#a\n\nmem#!~#b\r\n\r\nx").unwrap();
        assert_eq!(
            got,
            vec![
                ts("cpu#!~#a", i64::MIN, i64::MAX),
                ts("mem#!~#b", i64::MIN, i64::MAX),
                ts("x", i64::MIN, i64::MAX),
            ]
        );
        // Shorter than a header: still text.
        assert_eq!(decode(b"ab").unwrap(), vec![ts("ab", i64::MIN, i64::MAX)]);
        assert_eq!(decode(b"\n").unwrap(), vec![]);
    }

    #[test]
    fn v1_line_limit_matches_go_scanner() {
        let ok = vec![b'k'; V1_MAX_LINE];
        assert_eq!(decode(&ok).unwrap().len(), 1);
        let mut long = b"a\n".to_vec();
        long.extend(std::iter::repeat_n(b'k', V1_MAX_LINE + 1));
        let err = decode(&long).unwrap_err();
        assert_eq!(err.offset(), Some(2));
    }

    #[test]
    fn v2_hand_built() {
        let mut data = vec![0, 0, 0x15, 0x02];
        data.extend_from_slice(&3u32.to_be_bytes());
        data.extend_from_slice(b"k#v");
        data.extend_from_slice(&(-5i64).to_be_bytes());
        data.extend_from_slice(&7i64.to_be_bytes());
        assert_eq!(decode(&data).unwrap(), vec![ts("k#v", -5, 7)]);
        // Header only: no records.
        assert_eq!(decode(&data[..4]).unwrap(), vec![]);
        // Every cut inside the record is a truncation error at a file offset.
        for cut in 5..data.len() {
            let err = decode(&data[..cut]).unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::Truncated { .. }),
                "{cut}: {err}"
            );
            assert!(err.offset().unwrap() < cut as u64 + 1);
        }
    }

    #[test]
    fn v2_huge_key_length_is_truncation() {
        let mut data = vec![0, 0, 0x15, 0x02];
        data.extend_from_slice(&u32::MAX.to_be_bytes());
        data.extend_from_slice(b"abc");
        let err = decode(&data).unwrap_err();
        assert_eq!(err.offset(), Some(8));
        assert!(matches!(
            err.kind(),
            ErrorKind::Truncated { available: 3, .. }
        ));
    }

    #[test]
    fn v3_and_v4_round_trip() {
        let a = vec![ts("cpu#!~#a", 1, 2), ts("cpu#!~#b", i64::MIN, i64::MAX)];
        let b = vec![ts("mem#!~#x", -10, -1)];
        let both: Vec<_> = a.iter().chain(&b).cloned().collect();
        assert_eq!(decode(&tk::write_v3(&both)).unwrap(), both);
        assert_eq!(decode(&tk::write_v4(&[&a, &b])).unwrap(), both);
        assert_eq!(decode(&tk::write_v4(&[&a, &[], &b])).unwrap(), both);
    }

    #[test]
    fn v4_header_only_is_empty_but_v3_is_not() {
        assert_eq!(decode(&[0, 0, 0x15, 0x04]).unwrap(), vec![]);
        let err = decode(&[0, 0, 0x15, 0x03]).unwrap_err();
        assert_eq!(err.offset(), Some(4));
    }

    #[test]
    fn v3_record_may_span_members_v4_may_not() {
        let mut record = Vec::new();
        record.extend_from_slice(&1u32.to_be_bytes());
        record.push(b'k');
        record.extend_from_slice(&1i64.to_be_bytes());
        record.extend_from_slice(&2i64.to_be_bytes());
        let (head, tail) = record.split_at(9);
        let members = tk::gzip_members(&[head, tail]);

        let mut v3 = 0x1503u32.to_be_bytes().to_vec();
        v3.extend_from_slice(&members);
        assert_eq!(decode(&v3).unwrap(), vec![ts("k", 1, 2)]);

        let mut v4 = 0x1504u32.to_be_bytes().to_vec();
        v4.extend_from_slice(&members);
        let err = decode(&v4).unwrap_err();
        assert_eq!(err.offset(), Some(4));
        assert!(err.to_string().contains("decompressed byte 0"), "{err}");
    }

    #[test]
    fn partial_key_length_at_end_of_member_is_ignored_like_influxd() {
        let mut record = Vec::new();
        record.extend_from_slice(&1u32.to_be_bytes());
        record.push(b'k');
        record.extend_from_slice(&1i64.to_be_bytes());
        record.extend_from_slice(&2i64.to_be_bytes());
        record.extend_from_slice(&[0, 0]);
        let mut v4 = 0x1504u32.to_be_bytes().to_vec();
        v4.extend_from_slice(&tk::gzip_members(&[&record]));
        assert_eq!(decode(&v4).unwrap(), vec![ts("k", 1, 2)]);
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let first_member_end = tk::write_v4(&[&[ts("cpu#!~#a", 1, 2)]]).len();
        let data = tk::write_v4(&[&[ts("cpu#!~#a", 1, 2)], &[ts("cpu#!~#b", 3, 4)]]);
        for cut in (5..data.len()).filter(|&cut| cut != first_member_end) {
            let err = decode(&data[..cut]).unwrap_err();
            assert!(err.offset().is_some(), "{cut}: {err}");
        }
        let data = tk::write_v3(&[ts("cpu#!~#a", 1, 2)]);
        for cut in 5..data.len() {
            assert!(decode(&data[..cut]).is_err(), "{cut}");
        }
    }

    #[test]
    fn garbage_after_v4_members_is_an_error() {
        let mut data = tk::write_v4(&[&[ts("a", 1, 2)]]);
        let member_end = data.len() as u64;
        data.extend_from_slice(b"not gzip at all");
        let err = decode(&data).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("member at byte {member_end}")),
            "{err}"
        );
    }

    #[test]
    fn decompressed_size_is_capped() {
        let big: Vec<_> = (0..100).map(|i| ts(&format!("key-{i:04}"), i, i)).collect();
        let data = tk::write_v4(&[&big[..50], &big[50..]]);
        let per_record = RECORD_FIXED_LEN + 8;
        let limits = Limits::default().max_decompressed_bytes(per_record * 60);
        let err = decode_tombstones(&data, &limits).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::LimitExceeded { .. }),
            "{err}"
        );
        let limits = Limits::default().max_decompressed_bytes(per_record * 100);
        assert_eq!(decode_tombstones(&data, &limits).unwrap(), big);
        let data = tk::write_v3(&big);
        let limits = Limits::default().max_decompressed_bytes(per_record * 99);
        assert!(matches!(
            decode_tombstones(&data, &limits).unwrap_err().kind(),
            ErrorKind::LimitExceeded { .. }
        ));
    }

    #[test]
    fn huge_key_length_inside_gzip_is_an_error() {
        let mut record = u32::MAX.to_be_bytes().to_vec();
        record.extend_from_slice(&[0; 40]);
        let mut v4 = 0x1504u32.to_be_bytes().to_vec();
        v4.extend_from_slice(&tk::gzip_members(&[&record]));
        let err = decode(&v4).unwrap_err();
        assert!(err.to_string().contains("key length 4294967295"), "{err}");
    }

    #[test]
    fn set_merges_and_answers() {
        let set: TombstoneSet = vec![
            ts("a", 10, 20),
            ts("a", 21, 30),
            ts("a", 5, 12),
            ts("a", 40, 50),
            ts("a", 45, 45),
            ts("a", 9, 1),
            ts("b", i64::MIN, i64::MAX),
            ts("c", 3, 1),
        ]
        .into();
        assert_eq!(set.ranges(b"a"), &[(5, 30), (40, 50)]);
        assert_eq!(set.ranges(b"c"), &[]);
        assert_eq!(set.keys().collect::<Vec<_>>(), vec![&b"a"[..], b"b"]);
        assert!(set.covers(b"a", 5) && set.covers(b"a", 30) && set.covers(b"a", 45));
        assert!(!set.covers(b"a", 4) && !set.covers(b"a", 31) && !set.covers(b"a", 51));
        assert!(!set.covers(b"ab", 10));
        assert!(set.covers(b"b", i64::MIN) && set.covers(b"b", i64::MAX));
        assert!(set.covers_range(b"a", 5, 30));
        assert!(!set.covers_range(b"a", 5, 31));
        assert!(!set.covers_range(b"a", 29, 41));
        assert!(set.covers_range(b"b", i64::MIN, i64::MAX));
        assert!(!set.covers_range(b"a", 20, 10));
        assert!(TombstoneSet::default().is_empty());
        let mut set2 = TombstoneSet::default();
        set2.insert(b"x", i64::MAX, i64::MAX);
        set2.insert(b"x", i64::MIN, i64::MAX - 1);
        assert_eq!(set2.ranges(b"x"), &[(i64::MIN, i64::MAX)]);
    }

    fn arb_tombstone() -> impl Strategy<Value = Tombstone> {
        (
            prop::collection::vec(any::<u8>(), 0..40),
            any::<i64>(),
            any::<i64>(),
        )
            .prop_map(|(key, min_time, max_time)| Tombstone {
                key,
                min_time,
                max_time,
            })
    }

    proptest! {
        #[test]
        fn binary_versions_round_trip(
            batches in prop::collection::vec(prop::collection::vec(arb_tombstone(), 0..8), 0..5)
        ) {
            let all: Vec<Tombstone> = batches.iter().flatten().cloned().collect();
            prop_assert_eq!(&decode(&tk::write_v2(&all)).unwrap(), &all);
            prop_assert_eq!(&decode(&tk::write_v3(&all)).unwrap(), &all);
            let refs: Vec<&[Tombstone]> = batches.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(&decode(&tk::write_v4(&refs)).unwrap(), &all);
        }

        #[test]
        fn v1_round_trip(keys in prop::collection::vec("[a-z#!~,= ]{1,20}", 0..10)) {
            let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
            let got = decode(&tk::write_v1(&keys)).unwrap();
            let want: Vec<Tombstone> = keys
                .iter()
                .map(|k| Tombstone { key: k.to_vec(), min_time: i64::MIN, max_time: i64::MAX })
                .collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..200), v in 0u8..5) {
            let mut file = match v {
                0 => vec![],
                n => vec![0, 0, 0x15, n],
            };
            file.extend_from_slice(&data);
            let _ = decode_tombstones(&file, &Limits::default().max_decompressed_bytes(1 << 16));
        }

        #[test]
        fn set_agrees_with_naive_rule(
            list in prop::collection::vec((0u8..3, -20i64..20, -20i64..20), 0..12),
            probe in -25i64..25,
            width in 0i64..10,
        ) {
            let tombstones: Vec<Tombstone> = list
                .iter()
                .map(|&(k, min, max)| Tombstone { key: vec![k], min_time: min, max_time: max })
                .collect();
            let set = TombstoneSet::from(tombstones.clone());
            for k in 0u8..3 {
                let naive = |t: i64| {
                    tombstones.iter().any(|x| x.key == [k] && x.min_time <= t && t <= x.max_time)
                };
                prop_assert_eq!(set.covers(&[k], probe), naive(probe));
                let all = (probe..=probe + width).all(naive);
                prop_assert_eq!(set.covers_range(&[k], probe, probe + width), all);
                let r = set.ranges(&[k]);
                for w in r.windows(2) {
                    prop_assert!(w[0].1 < w[1].0 - 1);
                }
            }
        }
    }
}
