//! WAL segments: snappy-compressed write, delete and delete-range entries.
//!
//! ```text
//! segment: entry entry ... (no header, no footer)
//! entry:   [type u8: 1 write, 2 delete, 3 delete-range][length L u32 BE][L bytes: snappy raw block]
//!
//! write payload, repeated:        [value type u8][key len u16 BE][key][count N u32 BE]
//!                                 N × ([time i64 BE][value])
//!   value type: 1 float (u64 bits), 2 integer (i64), 3 boolean (1 byte, 1 = true),
//!               4 string ([len u32 BE][bytes]), 5 unsigned (u64)   -- not the TSM codes
//! delete payload:                 keys joined by '\n'
//! delete-range payload:           [min i64 BE][max i64 BE] then repeated [key len u32 BE][key]
//! ```
//!
//! # Following influxd
//!
//! Checked against `WALSegmentReader.Next` and the `UnmarshalBinary` methods in
//! `tsdb/engine/tsm1/wal.go` of InfluxDB v1.8.10 (identical in v1.6.7):
//!
//! * A segment ends cleanly only where an entry would start. A partial 5-byte entry
//!   header, a payload shorter than its length, a snappy error, an unknown entry type or a
//!   malformed payload all end the segment with an error. influxd then truncates the file
//!   after the last good entry and goes on with the next segment; [`WalSegmentReader::offset`]
//!   is that position, and the reader yields nothing after its first error.
//! * A write entry needs at least one point per key; a boolean is true only when its
//!   byte is 1. The writer never repeats a key inside one entry (it encodes a Go map);
//!   if a damaged entry did, influxd would keep only the last copy, and
//!   the shard crate's cache does the same. This reader returns every copy in file order.
//! * A delete entry's keys are split on every `\n`, so empty keys survive the split as
//!   they do in Go; an empty payload has no keys. influxd 1.x never writes delete
//!   entries any more (`WAL.Delete` has no caller), but replays them.
//! * A delete-range payload shorter than 16 bytes is corrupt; one with no keys is legal.
//!
//! Sizes in the file are claims. The compressed length is checked against the bytes
//! left, the snappy block's declared length against [`Limits::max_decompressed_bytes`]
//! (influxd trusts both and allocates them), and a key's point count against the bytes
//! left in the payload before anything is reserved for it.

use crate::error::{Error, ErrorKind, PayloadFault, Result, WalEntryFault};
use crate::format::wal_entry;
use crate::limits::Limits;
use crate::values::{FieldType, Strings, Values};

/// Entry type plus compressed length.
const ENTRY_HEADER_LEN: usize = 5;

/// One entry of a WAL segment.
#[derive(Clone, Debug, PartialEq)]
pub enum WalEntry {
    /// Points to append to the cache, one [`WalWrite`] per key, in file order.
    Write(Vec<WalWrite>),
    /// Keys whose cached points are all dropped.
    Delete {
        /// Full composite keys.
        keys: Vec<Vec<u8>>,
    },
    /// Cached points of these keys with `min_time <= t <= max_time` are dropped.
    DeleteRange {
        /// First deleted timestamp, inclusive.
        min_time: i64,
        /// Last deleted timestamp, inclusive.
        max_time: i64,
        /// Full composite keys.
        keys: Vec<Vec<u8>>,
    },
}

/// The points of one key inside a write entry, in arrival order: not sorted, and a
/// timestamp may repeat.
#[derive(Clone, Debug, PartialEq)]
pub struct WalWrite {
    /// The full composite key, `series#!~#field`.
    pub key: Vec<u8>,
    /// One timestamp per value.
    pub timestamps: Vec<i64>,
    /// The values, all of the type the entry declared for the key.
    pub values: Values,
}

/// Reads the entries of one WAL segment held in memory.
///
/// ```
/// use influx_tsm_format::Limits;
/// use influx_tsm_format::wal::WalSegmentReader;
///
/// let mut reader = WalSegmentReader::new(&[], Limits::default());
/// assert!(reader.next_entry().unwrap().is_none());
/// assert_eq!(reader.offset(), 0);
/// ```
#[derive(Debug)]
pub struct WalSegmentReader<'a> {
    data: &'a [u8],
    pos: usize,
    limits: Limits,
    failed: bool,
    decoder: snap::raw::Decoder,
    /// Decompressed payload, reused from entry to entry.
    buf: Vec<u8>,
}

impl<'a> WalSegmentReader<'a> {
    /// A reader over a whole segment file.
    pub fn new(data: &'a [u8], limits: Limits) -> WalSegmentReader<'a> {
        WalSegmentReader {
            data,
            pos: 0,
            limits,
            failed: false,
            decoder: snap::raw::Decoder::new(),
            buf: Vec::new(),
        }
    }

    /// The offset of the next entry to read. After an error it stays at the start of the
    /// entry that failed: everything before it decoded, so a torn tail starts here.
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// Reads the next entry; `None` at the end of the segment or after an error.
    ///
    /// # Errors
    /// A short entry header or payload ([`ErrorKind::Truncated`]), a snappy block that
    /// inflates beyond [`Limits::max_decompressed_bytes`] ([`ErrorKind::LimitExceeded`]),
    /// an unknown value type ([`ErrorKind::UnknownType`]) or any other malformed entry
    /// ([`ErrorKind::BadWalEntry`]). The error's offset is the segment offset of the entry.
    pub fn next_entry(&mut self) -> Result<Option<WalEntry>> {
        if self.failed || self.pos >= self.data.len() {
            return Ok(None);
        }
        match self.read_entry() {
            Ok((entry, len)) => {
                self.pos += len;
                Ok(Some(entry))
            }
            Err(err) => {
                self.failed = true;
                Err(err)
            }
        }
    }

    /// Decodes the entry at `self.pos` and returns it with its length in the segment.
    fn read_entry(&mut self) -> Result<(WalEntry, usize)> {
        let at = self.pos as u64;
        let rest = &self.data[self.pos..];
        let Some((header, after)) = rest.split_first_chunk::<ENTRY_HEADER_LEN>() else {
            return Err(Error::truncated(
                at,
                ENTRY_HEADER_LEN as u64,
                rest.len() as u64,
            ));
        };
        let entry_type = header[0];
        let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let Some(compressed) = usize::try_from(length).ok().and_then(|n| after.get(..n)) else {
            return Err(Error::truncated(
                at,
                ENTRY_HEADER_LEN as u64 + u64::from(length),
                rest.len() as u64,
            ));
        };

        let inflated_len = snap::raw::decompress_len(compressed)
            .map_err(|err| bad_entry(at, WalEntryFault::SnappyHeader(err.to_string())))?;
        if inflated_len > self.limits.max_decompressed_bytes {
            return Err(Error::limit(
                at,
                "decompressed WAL entry bytes",
                inflated_len as u64,
                self.limits.max_decompressed_bytes as u64,
            ));
        }
        self.buf.clear();
        self.buf.resize(inflated_len, 0);
        let n = self
            .decoder
            .decompress(compressed, &mut self.buf)
            .map_err(|err| bad_entry(at, WalEntryFault::SnappyBlock(err.to_string())))?;
        let payload = &self.buf[..n];

        // influxd looks at the type only after the payload inflated; keep its order so a
        // damaged entry reports the same first problem.
        let entry = match entry_type {
            wal_entry::WRITE => decode_write(payload, at)?,
            wal_entry::DELETE => decode_delete(payload),
            wal_entry::DELETE_RANGE => decode_delete_range(payload, at)?,
            other => {
                return Err(bad_entry(at, WalEntryFault::UnknownType(other)));
            }
        };
        Ok((entry, ENTRY_HEADER_LEN + compressed.len()))
    }
}

impl Iterator for WalSegmentReader<'_> {
    type Item = Result<WalEntry>;

    fn next(&mut self) -> Option<Result<WalEntry>> {
        self.next_entry().transpose()
    }
}

impl std::iter::FusedIterator for WalSegmentReader<'_> {}

/// A problem inside a decompressed payload: where, and what.
struct PayloadError {
    at: usize,
    what: PayloadFault,
}

/// A bounds-checked reader over a decompressed payload, whose offsets only make sense
/// inside it; [`PayloadError`]s are turned into errors at the entry's segment offset.
struct Payload<'b> {
    data: &'b [u8],
    pos: usize,
}

impl<'b> Payload<'b> {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'b [u8], PayloadError> {
        match self.data[self.pos..].get(..n) {
            Some(out) => {
                self.pos += n;
                Ok(out)
            }
            None => Err(PayloadError {
                at: self.pos,
                what: PayloadFault::FieldCutShort {
                    field: what,
                    needed: n as u64,
                    available: self.remaining() as u64,
                },
            }),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], PayloadError> {
        let bytes = self.take(N, what)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, PayloadError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, PayloadError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, PayloadError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, PayloadError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, PayloadError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }
}

fn payload_error(entry: &'static str, at: u64, err: PayloadError) -> Error {
    bad_entry(
        at,
        WalEntryFault::Payload {
            entry,
            at: err.at as u64,
            what: err.what,
        },
    )
}

fn bad_entry(at: u64, fault: WalEntryFault) -> Error {
    Error::new(ErrorKind::BadWalEntry(fault)).at(at)
}

/// Smallest encoding of one point of `ty`: timestamp plus value (a string's length
/// prefix only). Used to test a point count against the bytes left before reserving.
fn min_point_len(ty: FieldType) -> u64 {
    match ty {
        FieldType::Boolean => 8 + 1,
        FieldType::String => 8 + 4,
        FieldType::Float | FieldType::Integer | FieldType::Unsigned => 8 + 8,
    }
}

fn decode_write(payload: &[u8], at: u64) -> Result<WalEntry> {
    let mut p = Payload {
        data: payload,
        pos: 0,
    };
    let mut writes = Vec::new();
    while p.remaining() > 0 {
        let start = p.pos;
        let header = (|| {
            let ty = p.u8("value type")?;
            let key_len = p.u16("key length")?;
            let key = p.take(usize::from(key_len), "key")?;
            let count = p.u32("point count")?;
            Ok((ty, key, count))
        })();
        let (ty, key, count) = header.map_err(|e| payload_error("write", at, e))?;
        let key_error = |err: PayloadError| payload_error("write", at, err).for_key(key);
        if count == 0 {
            return Err(key_error(PayloadError {
                at: start,
                what: PayloadFault::NoPoints,
            }));
        }
        let Some(field_type) = FieldType::from_wal_type(ty) else {
            return Err(Error::new(ErrorKind::UnknownType { found: ty })
                .at(at)
                .for_key(key));
        };
        let claimed = u64::from(count) * min_point_len(field_type);
        if claimed > p.remaining() as u64 {
            return Err(key_error(PayloadError {
                at: start,
                what: PayloadFault::PointsCutShort {
                    count,
                    field_type,
                    needed: claimed,
                    available: p.remaining() as u64,
                },
            }));
        }
        // The check above bounds count by the payload size, itself under the limit.
        let n = count as usize;
        let mut timestamps = Vec::with_capacity(n);
        let values = read_points(&mut p, field_type, n, &mut timestamps).map_err(key_error)?;
        writes.push(WalWrite {
            key: key.to_vec(),
            timestamps,
            values,
        });
    }
    Ok(WalEntry::Write(writes))
}

fn read_points(
    p: &mut Payload<'_>,
    ty: FieldType,
    n: usize,
    timestamps: &mut Vec<i64>,
) -> Result<Values, PayloadError> {
    Ok(match ty {
        FieldType::Float => {
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                timestamps.push(p.i64("timestamp")?);
                v.push(f64::from_bits(p.u64("float value")?));
            }
            Values::Float(v)
        }
        FieldType::Integer => {
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                timestamps.push(p.i64("timestamp")?);
                v.push(p.i64("integer value")?);
            }
            Values::Integer(v)
        }
        FieldType::Unsigned => {
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                timestamps.push(p.i64("timestamp")?);
                v.push(p.u64("unsigned value")?);
            }
            Values::Unsigned(v)
        }
        FieldType::Boolean => {
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                timestamps.push(p.i64("timestamp")?);
                // Go writes 1 or 0 and reads anything but 1 as false.
                v.push(p.u8("boolean value")? == 1);
            }
            Values::Boolean(v)
        }
        FieldType::String => {
            let mut v = Strings::new();
            for _ in 0..n {
                timestamps.push(p.i64("timestamp")?);
                let len = p.u32("string length")?;
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                v.push(p.take(len, "string value")?);
            }
            Values::String(v)
        }
    })
}

fn decode_delete(payload: &[u8]) -> WalEntry {
    let keys = if payload.is_empty() {
        Vec::new()
    } else {
        payload.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
    };
    WalEntry::Delete { keys }
}

fn decode_delete_range(payload: &[u8], at: u64) -> Result<WalEntry> {
    let mut p = Payload {
        data: payload,
        pos: 0,
    };
    let err = |e| payload_error("delete-range", at, e);
    let min_time = p.i64("min time").map_err(err)?;
    let max_time = p.i64("max time").map_err(err)?;
    let mut keys = Vec::new();
    while p.remaining() > 0 {
        let len = p.u32("key length").map_err(err)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        keys.push(p.take(len, "key").map_err(err)?.to_vec());
    }
    Ok(WalEntry::DeleteRange {
        min_time,
        max_time,
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::wal::{self as tk, WalSegmentWriter};
    use proptest::prelude::*;

    fn read_all(data: &[u8]) -> (Vec<WalEntry>, Option<Error>, u64) {
        let mut r = WalSegmentReader::new(data, Limits::default());
        let mut entries = Vec::new();
        loop {
            match r.next_entry() {
                Ok(Some(e)) => entries.push(e),
                Ok(None) => return (entries, None, r.offset()),
                Err(err) => {
                    assert!(r.next_entry().unwrap().is_none(), "fused after an error");
                    return (entries, Some(err), r.offset());
                }
            }
        }
    }

    fn write(key: &str, ts: &[i64], values: Values) -> WalWrite {
        WalWrite {
            key: key.as_bytes().to_vec(),
            timestamps: ts.to_vec(),
            values,
        }
    }

    fn all_kinds() -> Vec<WalEntry> {
        vec![
            WalEntry::Write(vec![
                write(
                    "m#!~#f",
                    &[3, 1, 3],
                    Values::Float(vec![1.5, -0.0, f64::INFINITY]),
                ),
                write("m#!~#i", &[-7], Values::Integer(vec![i64::MIN])),
                write("m#!~#u", &[0, 1], Values::Unsigned(vec![u64::MAX, 0])),
                write("m#!~#b", &[5, 6], Values::Boolean(vec![true, false])),
                write(
                    "m#!~#s",
                    &[9, 9],
                    Values::String([&b""[..], b"a\"\n"].into_iter().collect()),
                ),
            ]),
            WalEntry::Delete {
                keys: vec![b"m#!~#f".to_vec(), b"x".to_vec()],
            },
            WalEntry::DeleteRange {
                min_time: i64::MIN,
                max_time: 4,
                keys: vec![b"m#!~#u".to_vec(), b"m#!~#s".to_vec()],
            },
        ]
    }

    fn segment(entries: &[WalEntry]) -> Vec<u8> {
        let mut w = WalSegmentWriter::new();
        for e in entries {
            w.entry(e);
        }
        w.finish()
    }

    #[test]
    fn every_entry_kind_round_trips() {
        let entries = all_kinds();
        let data = segment(&entries);
        let (got, err, offset) = read_all(&data);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got, entries);
        assert_eq!(offset, data.len() as u64);
    }

    #[test]
    fn hand_built_write_entry() {
        // One integer key with two points, framed and compressed by hand.
        let mut payload = vec![2, 0, 3, b'k', b'#', b'v', 0, 0, 0, 2];
        payload.extend_from_slice(&10i64.to_be_bytes());
        payload.extend_from_slice(&(-1i64).to_be_bytes());
        payload.extend_from_slice(&5i64.to_be_bytes());
        payload.extend_from_slice(&42i64.to_be_bytes());
        let data = tk::frame(wal_entry::WRITE, &payload);
        assert_eq!(
            read_all(&data).0,
            vec![WalEntry::Write(vec![write(
                "k#v",
                &[10, 5],
                Values::Integer(vec![-1, 42])
            )])]
        );
    }

    #[test]
    fn boolean_byte_other_than_one_is_false() {
        let mut payload = vec![3, 0, 1, b'b', 0, 0, 0, 3];
        for (t, b) in [(1i64, 1u8), (2, 2), (3, 0)] {
            payload.extend_from_slice(&t.to_be_bytes());
            payload.push(b);
        }
        let (got, err, _) = read_all(&tk::frame(wal_entry::WRITE, &payload));
        assert!(err.is_none());
        assert_eq!(
            got,
            vec![WalEntry::Write(vec![write(
                "b",
                &[1, 2, 3],
                Values::Boolean(vec![true, false, false])
            )])]
        );
    }

    #[test]
    fn delete_payload_split_like_go() {
        let (got, _, _) = read_all(&tk::frame(wal_entry::DELETE, b"a\n\nb\n"));
        let keys: Vec<Vec<u8>> = vec![b"a".to_vec(), vec![], b"b".to_vec(), vec![]];
        assert_eq!(got, vec![WalEntry::Delete { keys }]);
        let (got, _, _) = read_all(&tk::frame(wal_entry::DELETE, b""));
        assert_eq!(got, vec![WalEntry::Delete { keys: vec![] }]);
    }

    #[test]
    fn empty_write_and_keyless_delete_range_are_legal() {
        let mut data = tk::frame(wal_entry::WRITE, b"");
        data.extend(tk::frame(wal_entry::DELETE_RANGE, &[0; 16]));
        let (got, err, _) = read_all(&data);
        assert!(err.is_none());
        assert_eq!(
            got,
            vec![
                WalEntry::Write(vec![]),
                WalEntry::DeleteRange {
                    min_time: 0,
                    max_time: 0,
                    keys: vec![]
                }
            ]
        );
    }

    #[test]
    fn every_truncation_is_an_error_after_the_good_entries() {
        let entries = all_kinds();
        let mut ends = Vec::new();
        let mut w = WalSegmentWriter::new();
        for e in &entries {
            w.entry(e);
            ends.push(w.len());
        }
        let data = w.finish();
        for cut in 0..data.len() {
            let (got, err, offset) = read_all(&data[..cut]);
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            assert_eq!(got, entries[..whole], "cut {cut}");
            let good_end = if whole == 0 { 0 } else { ends[whole - 1] };
            assert_eq!(offset, good_end as u64, "cut {cut}");
            if cut == good_end {
                assert!(err.is_none(), "cut {cut}");
            } else {
                let err = err.expect("torn entry");
                assert_eq!(err.offset(), Some(good_end as u64));
                assert!(
                    matches!(err.kind(), ErrorKind::Truncated { .. }),
                    "cut {cut}: {err}"
                );
            }
        }
    }

    #[test]
    fn huge_compressed_length_is_truncation_not_allocation() {
        let mut data = tk::frame(wal_entry::DELETE, b"k");
        let good = data.len();
        data.extend_from_slice(&[1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0]);
        let (got, err, offset) = read_all(&data);
        assert_eq!(got.len(), 1);
        assert_eq!(offset, good as u64);
        let err = err.unwrap();
        assert!(matches!(
            err.kind(),
            ErrorKind::Truncated {
                needed: 0x1_0000_0004,
                available: 7
            }
        ));
    }

    #[test]
    fn huge_snappy_length_hits_the_limit() {
        // A snappy header claiming 2^32 - 1 bytes, followed by nothing.
        let data = tk::frame_raw(wal_entry::WRITE, &[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        let err = read_all(&data).1.unwrap();
        assert!(
            matches!(err.kind(), ErrorKind::LimitExceeded { .. }),
            "{err}"
        );
        let small = Limits::default().max_decompressed_bytes(4);
        let data = tk::frame(wal_entry::DELETE, b"12345");
        let err = WalSegmentReader::new(&data, small)
            .next_entry()
            .unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 5,
                limit: 4,
                ..
            }
        ));
    }

    #[test]
    fn huge_point_count_is_checked_before_reserving() {
        let mut payload = vec![1, 0, 1, b'k'];
        payload.extend_from_slice(&u32::MAX.to_be_bytes());
        payload.extend_from_slice(&[0; 16]);
        let err = read_all(&tk::frame(wal_entry::WRITE, &payload)).1.unwrap();
        assert_eq!(err.key(), Some(&b"k"[..]));
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BadWalEntry(WalEntryFault::Payload {
                    entry: "write",
                    at: 0,
                    what: PayloadFault::PointsCutShort {
                        count: u32::MAX,
                        field_type: FieldType::Float,
                        ..
                    },
                })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("points need at least"), "{err}");
        let mut payload = vec![4, 0, 1, b's', 0, 0, 0, 1];
        payload.extend_from_slice(&1i64.to_be_bytes());
        payload.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = read_all(&tk::frame(wal_entry::WRITE, &payload)).1.unwrap();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BadWalEntry(WalEntryFault::Payload {
                    what: PayloadFault::FieldCutShort {
                        field: "string value",
                        needed: 4_294_967_295,
                        available: 0,
                    },
                    ..
                })
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("string value needs 4294967295 bytes"),
            "{err}"
        );
    }

    #[test]
    fn malformed_payloads() {
        let cases: &[(u8, &[u8], &str)] = &[
            (wal_entry::WRITE, &[1, 0, 1, b'k', 0, 0, 0, 0], "0 points"),
            (
                wal_entry::WRITE,
                &[9, 0, 1, b'k', 0, 0, 0, 1],
                "unknown value type 9",
            ),
            (wal_entry::WRITE, &[1, 0, 5, b'k'], "key needs 5 bytes"),
            (wal_entry::WRITE, &[1], "key length needs 2 bytes"),
            (wal_entry::DELETE_RANGE, &[0; 15], "max time needs 8 bytes"),
            (
                wal_entry::DELETE_RANGE,
                &[0; 18],
                "key length needs 4 bytes",
            ),
            (7, b"", "unknown WAL entry type 0x07"),
        ];
        for &(ty, payload, want) in cases {
            let mut data = tk::frame(wal_entry::DELETE, b"ok");
            let at = data.len() as u64;
            data.extend(tk::frame(ty, payload));
            let (got, err, offset) = read_all(&data);
            assert_eq!(got.len(), 1);
            assert_eq!(offset, at);
            let err = err.unwrap();
            assert_eq!(err.offset(), Some(at), "{want}");
            assert!(err.to_string().contains(want), "{want}: {err}");
        }
        let data = tk::frame_raw(wal_entry::WRITE, &[5, 0, 1, 2]);
        let err = read_all(&data).1.unwrap();
        assert!(err.to_string().contains("snappy"), "{err}");
    }

    #[test]
    fn iterator_is_fused() {
        let mut data = segment(&all_kinds()[1..2]);
        data.push(1);
        let items: Vec<_> = WalSegmentReader::new(&data, Limits::default()).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok() && items[1].is_err());
    }

    pub(crate) fn arb_values(len: usize) -> impl Strategy<Value = Values> {
        prop_oneof![
            prop::collection::vec(any::<f64>(), len).prop_map(Values::Float),
            prop::collection::vec(any::<i64>(), len).prop_map(Values::Integer),
            prop::collection::vec(any::<u64>(), len).prop_map(Values::Unsigned),
            prop::collection::vec(any::<bool>(), len).prop_map(Values::Boolean),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..6), len)
                .prop_map(|v| Values::String(v.iter().map(Vec::as_slice).collect())),
        ]
    }

    fn arb_write() -> impl Strategy<Value = WalWrite> {
        (prop::collection::vec(any::<u8>(), 0..12), 1usize..6).prop_flat_map(|(key, n)| {
            (prop::collection::vec(any::<i64>(), n), arb_values(n)).prop_map(
                move |(timestamps, values)| WalWrite {
                    key: key.clone(),
                    timestamps,
                    values,
                },
            )
        })
    }

    fn arb_entry() -> impl Strategy<Value = WalEntry> {
        let keys = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..10), 0..4);
        prop_oneof![
            prop::collection::vec(arb_write(), 0..4).prop_map(WalEntry::Write),
            // Keys without newlines, and a non-empty list: the only shapes Go writes.
            // (An empty single key encodes to an empty payload, which Go reads as no keys.)
            prop::collection::vec(prop::collection::vec(b'a'..=b'z', 1..8), 1..4)
                .prop_map(|keys| WalEntry::Delete { keys }),
            (any::<i64>(), any::<i64>(), keys).prop_map(|(min_time, max_time, keys)| {
                WalEntry::DeleteRange {
                    min_time,
                    max_time,
                    keys,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn writer_reader_round_trip(entries in prop::collection::vec(arb_entry(), 0..6)) {
            let data = segment(&entries);
            let (got, err, offset) = read_all(&data);
            prop_assert!(err.is_none(), "{:?}", err);
            prop_assert_eq!(offset, data.len() as u64);
            prop_assert_eq!(got.len(), entries.len());
            for (g, e) in got.iter().zip(&entries) {
                if let (WalEntry::Write(g), WalEntry::Write(e)) = (g, e) {
                    prop_assert_eq!(g.len(), e.len());
                    for (g, e) in g.iter().zip(e) {
                        prop_assert_eq!(&g.key, &e.key);
                        prop_assert_eq!(&g.timestamps, &e.timestamps);
                        // NaN != NaN: compare floats by bit pattern.
                        if let (Values::Float(g), Values::Float(e)) = (&g.values, &e.values) {
                            let g: Vec<u64> = g.iter().map(|f| f.to_bits()).collect();
                            let e: Vec<u64> = e.iter().map(|f| f.to_bits()).collect();
                            prop_assert_eq!(g, e);
                        } else {
                            prop_assert_eq!(&g.values, &e.values);
                        }
                    }
                } else {
                    prop_assert_eq!(g, e);
                }
            }
        }

        #[test]
        fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..300)) {
            let limits = Limits::default().max_decompressed_bytes(1 << 16);
            let mut r = WalSegmentReader::new(&data, limits);
            let mut last = 0;
            while let Ok(Some(_)) = r.next_entry() {
                prop_assert!(r.offset() > last);
                last = r.offset();
            }
            prop_assert!(r.offset() <= data.len() as u64);
        }

        #[test]
        fn garbage_payloads_never_panic(
            ty in 1u8..4,
            payload in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let data = tk::frame(ty, &payload);
            let _ = read_all(&data);
        }
    }
}
