//! Timestamps: raw deltas, simple8b deltas or RLE, each scaled by a power of ten.
//!
//! ```text
//! header   high nibble: 0 raw, 1 simple8b, 2 RLE; low nibble N: log10 of the divisor, 0..=12
//! raw      [0x00][first u64 BE][delta u64 BE]...
//! simple8b [0x1N][first u64 BE][simple8b words of delta / 10^N]...
//! RLE      [0x2N][first u64 BE][uvarint delta / 10^N][uvarint number of timestamps]
//! ```
//!
//! Deltas are unsigned differences of consecutive timestamps and every sum wraps, as in
//! Go. The first timestamp is stored as is, never divided. A single timestamp is written
//! as simple8b with no words and header `0x1c`. The running sums are the (private)
//! `delta` module's, shared with the integer streams.

use super::delta::{self, Plain, Scaled, Stream};
use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, Result};

/// Header high nibble of raw deltas (whose low nibble is always 0).
pub const RAW: u8 = 0;
/// Header high nibble of simple8b deltas.
pub const SIMPLE8B: u8 = 1;
/// Header high nibble of run-length encoding.
pub const RLE: u8 = 2;

/// Divisors by the header's low nibble. InfluxDB starts at 10^12 and never goes higher.
const DIVISORS: [u64; 13] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
];

const TIMESTAMPS: Stream = Stream {
    name: "timestamp",
    values: "timestamps in a block",
};

/// Appends the timestamps of a block's timestamp section to `dst`.
///
/// An empty section holds no timestamps (Go reads it that way; the block layer rejects
/// blocks without points).
///
/// # Errors
/// [`ErrorKind::UnknownEncoding`] for a header InfluxDB never writes,
/// [`ErrorKind::LimitExceeded`] before allocating when the section claims more than
/// `max_values` timestamps, [`ErrorKind::Truncated`], [`ErrorKind::BadVarint`] or
/// [`ErrorKind::BadEncoding`] for damaged bytes. On error `dst` may hold part of the section's timestamps.
pub fn decode_timestamps(src: &[u8], max_values: usize, dst: &mut Vec<i64>) -> Result<()> {
    let mut cursor = Cursor::new(src, 0);
    let Ok(header) = cursor.u8() else {
        return Ok(());
    };
    let log10 = header & 0x0F;
    match (header >> 4, DIVISORS.get(usize::from(log10))) {
        (RAW, _) if log10 == 0 => delta::decode_raw(cursor, TIMESTAMPS, Plain, max_values, dst),
        (SIMPLE8B, Some(&divisor)) => {
            delta::decode_simple8b(cursor, TIMESTAMPS, Scaled(divisor), max_values, dst)
        }
        (RLE, Some(&divisor)) => {
            delta::decode_rle(cursor, TIMESTAMPS, Scaled(divisor), max_values, dst)
        }
        _ => Err(Error::new(ErrorKind::UnknownEncoding {
            stream: TIMESTAMPS.name,
            header,
        })
        .at(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EncodingFault;
    use crate::testkit::encode::encode_timestamps;
    use proptest::prelude::*;

    fn decode(src: &[u8]) -> Result<Vec<i64>> {
        let mut out = Vec::new();
        decode_timestamps(src, 1 << 20, &mut out)?;
        Ok(out)
    }

    fn section(header: u8, first: i64, rest: &[u8]) -> Vec<u8> {
        let mut out = vec![header];
        out.extend_from_slice(&first.to_be_bytes());
        out.extend_from_slice(rest);
        out
    }

    #[test]
    fn rle_count_is_the_total_and_delta_is_scaled() {
        // delta 7 ns, 3 timestamps.
        let src = section(0x20, 1000, &[7, 3]);
        assert_eq!(decode(&src).unwrap(), vec![1000, 1007, 1014]);
        assert_eq!(encode_timestamps(&[1000, 1007, 1014]), src);
        // delta 10 ns is stored as 1 with divisor 10.
        assert_eq!(
            encode_timestamps(&[1000, 1010, 1020]),
            section(0x21, 1000, &[1, 3])
        );
        // delta 5 * 10^3, 2 timestamps; uvarint 300 = [0xAC, 0x02].
        assert_eq!(decode(&section(0x23, -7, &[5, 2])).unwrap(), vec![-7, 4993]);
        assert_eq!(
            decode(&section(0x20, 0, &[0xAC, 0x02, 2])).unwrap(),
            vec![0, 300]
        );
        // One-second interval: divisor 10^9, stored delta 1.
        let secs = [0, 1_000_000_000, 2_000_000_000, 3_000_000_000];
        assert_eq!(encode_timestamps(&secs), section(0x29, 0, &[1, 4]));
        // Equal timestamps: delta 0 keeps the divisor at 10^12.
        assert_eq!(encode_timestamps(&[5, 5]), section(0x2C, 5, &[0, 2]));
    }

    #[test]
    fn single_point_is_simple8b_without_words() {
        let src = section(0x1C, 1_600_000_000_123_456_789, &[]);
        assert_eq!(src.len(), 9);
        assert_eq!(encode_timestamps(&[1_600_000_000_123_456_789]), src);
        assert_eq!(decode(&src).unwrap(), vec![1_600_000_000_123_456_789]);
    }

    #[test]
    fn simple8b_deltas_are_scaled_but_first_is_not() {
        // One selector-15 word holding 5, one selector-14 word holding 1 then 2.
        let mut words = vec![0xF0, 0, 0, 0, 0, 0, 0, 5];
        words.extend_from_slice(&((14u64 << 60) | (2 << 30) | 1).to_be_bytes());
        assert_eq!(
            decode(&section(0x10, 3, &words)).unwrap(),
            vec![3, 8, 9, 11]
        );
        assert_eq!(
            decode(&section(0x12, 3, &words)).unwrap(),
            vec![3, 503, 603, 803]
        );
        // The encoder picks the largest power of ten dividing every delta.
        let ts = [0, 1_000, 3_000, 3_500];
        assert_eq!(encode_timestamps(&ts)[0], 0x12);
        assert_eq!(decode(&encode_timestamps(&ts)).unwrap(), ts);
        let ts = [0, 10_i64.pow(15), 3 * 10_i64.pow(15)];
        assert_eq!(encode_timestamps(&ts)[0], 0x1C);
    }

    #[test]
    fn raw_holds_first_then_deltas() {
        let mut rest = Vec::new();
        rest.extend_from_slice(&(1u64 << 61).to_be_bytes());
        rest.extend_from_slice(&1u64.to_be_bytes());
        let src = section(0x00, -10, &rest);
        let want = vec![-10, -10 + (1 << 61), -9 + (1 << 61)];
        assert_eq!(decode(&src).unwrap(), want);
        // A delta above 2^60 - 1 forces raw.
        assert_eq!(encode_timestamps(&want), src);
        assert_eq!(decode(&[0x00]).unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn sums_wrap_like_go() {
        assert_eq!(
            decode(&section(0x20, i64::MAX, &[1, 2])).unwrap(),
            vec![i64::MAX, i64::MIN]
        );
        // Delta 2^63 - 1 times 10^12 wraps; no overflow panic in debug builds.
        let mut rest = vec![0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F];
        rest.push(3);
        let got = decode(&section(0x2C, 0, &rest)).unwrap();
        let step = (i64::MAX as u64).wrapping_mul(1_000_000_000_000) as i64;
        assert_eq!(got, vec![0, step, step.wrapping_mul(2)]);
        let mut raw = vec![0x00];
        raw.extend_from_slice(&u64::MAX.to_be_bytes());
        raw.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(decode(&raw).unwrap(), vec![-1, -2]);
        let words = [0xF0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            decode(&section(0x10, i64::MAX, &words)).unwrap(),
            vec![i64::MAX, i64::MIN]
        );
    }

    #[test]
    fn empty_section_holds_nothing_and_dst_is_appended() {
        let mut out = vec![42];
        decode_timestamps(&[], 10, &mut out).unwrap();
        decode_timestamps(&section(0x20, 7, &[1, 2]), 10, &mut out).unwrap();
        assert_eq!(out, vec![42, 7, 8]);
    }

    #[test]
    fn rejects_headers_influxdb_never_writes() {
        for header in [0x01, 0x0F, 0x1D, 0x1F, 0x2D, 0x30, 0xF0] {
            let err = decode(&section(header, 0, &[1, 2])).unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::UnknownEncoding { stream: "timestamp", header: h } if *h == header),
                "{header:#x}: {err}"
            );
            assert_eq!(err.offset(), Some(0));
        }
    }

    #[test]
    fn damaged_sections_fail_with_offsets() {
        let err = decode(&[0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BadEncoding {
                    stream: "timestamp",
                    what: EncodingFault::RawEndsInsideValue { tail: 1 }
                }
            ),
            "{err}"
        );
        assert_eq!(err.offset(), Some(9));
        let err = decode(&[0x1C, 1, 2, 3]).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::Truncated {
                needed: 8,
                available: 3
            }
        ));
        assert_eq!(err.offset(), Some(1));
        let err = decode(&section(0x10, 0, &[0xF0, 0, 0])).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BadEncoding {
                    stream: "simple8b",
                    what: EncodingFault::EndsInsideWord { tail: 3 }
                }
            ),
            "{err}"
        );
        assert_eq!(err.offset(), Some(9));
        let err = decode(&section(0x20, 0, &[0x80])).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::BadVarint));
        assert_eq!(err.offset(), Some(9));
        let err = decode(&section(0x20, 0, &[1])).unwrap_err();
        assert_eq!(err.offset(), Some(10));
        let err = decode(&section(0x20, 0, &[1, 2, 0])).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BadEncoding {
                    stream: "timestamp",
                    what: EncodingFault::BytesAfterRun
                }
            ),
            "{err}"
        );
        assert_eq!(err.offset(), Some(11));
    }

    #[test]
    fn every_prefix_fails_or_decodes_without_panicking() {
        let ts: Vec<i64> = (0..300).map(|i| i * 1_000_000_007 + (i % 7)).collect();
        let encoded = encode_timestamps(&ts);
        assert_eq!(encoded[0] >> 4, SIMPLE8B);
        for len in 0..encoded.len() {
            let _ = decode(&encoded[..len]);
        }
        assert_eq!(decode(&encoded).unwrap(), ts);
    }

    #[test]
    fn counts_are_checked_before_allocating() {
        let huge = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
        let mut rest = vec![1];
        rest.extend_from_slice(&huge);
        let mut out = Vec::new();
        let err = decode_timestamps(&section(0x20, 0, &rest), 1000, &mut out).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: u64::MAX,
                limit: 1000,
                ..
            }
        ));
        assert_eq!(err.offset(), Some(10));
        assert_eq!(out.capacity(), 0);

        // 1 + 240 timestamps against a limit of 240.
        let err = decode_timestamps(&section(0x10, 0, &[0; 8]), 240, &mut out).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 241,
                limit: 240,
                ..
            }
        ));
        decode_timestamps(&section(0x10, 0, &[0; 8]), 241, &mut out).unwrap();
        assert_eq!(out.len(), 241);

        let err = decode_timestamps(&[0; 17], 1, &mut Vec::new()).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 2,
                limit: 1,
                ..
            }
        ));
        let err = decode_timestamps(&section(0x1C, 0, &[]), 0, &mut Vec::new()).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 1,
                limit: 0,
                ..
            }
        ));
    }

    fn regular() -> impl Strategy<Value = Vec<i64>> {
        (
            any::<i64>(),
            0u32..13,
            1i64..1000,
            0usize..1200,
            prop::bool::ANY,
        )
            .prop_map(|(start, log, step, n, jitter)| {
                let unit = 10i64.pow(log);
                (0..n as i64)
                    .map(|i| {
                        let t = start.wrapping_add(i.wrapping_mul(step).wrapping_mul(unit));
                        if jitter && i % 3 == 1 {
                            t.wrapping_add(unit)
                        } else {
                            t
                        }
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn round_trips_anything(ts in prop::collection::vec(any::<i64>(), 0..300)) {
            prop_assert_eq!(decode(&encode_timestamps(&ts)).unwrap(), ts);
        }

        #[test]
        fn round_trips_regular_series(ts in regular()) {
            prop_assert_eq!(decode(&encode_timestamps(&ts)).unwrap(), ts);
        }

        #[test]
        fn round_trips_sorted_with_extremes(mut ts in prop::collection::vec(
            prop_oneof![Just(i64::MIN), Just(i64::MIN + 2), Just(i64::MAX), Just(-1i64), any::<i64>()],
            1..50,
        )) {
            ts.sort_unstable();
            prop_assert_eq!(decode(&encode_timestamps(&ts)).unwrap(), ts);
        }

        #[test]
        fn any_bytes_decode_or_fail_cleanly(src in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            if decode_timestamps(&src, 500, &mut out).is_ok() {
                prop_assert!(out.len() <= 500);
            }
        }
    }
}
