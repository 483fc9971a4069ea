//! Signed integers: zigzag deltas, raw, simple8b or RLE.
//!
//! Every scheme stores `u[i] = zigzag(v[i] - v[i-1])` with `v[-1] = 0`:
//!
//! ```text
//! raw      [0x00][u[0] u64 BE][u[1] u64 BE]...
//! simple8b [0x10][u[0] u64 BE][simple8b words of u[1..]]...
//! RLE      [0x20][u[0] u64 BE][uvarint u[1]][uvarint N - 1]   all of u[1..] are equal
//! ```
//!
//! Unlike the timestamp run, the integer run stores the number of *repeats* (`N - 1`) and
//! zigzags both numbers. All sums wrap, as in Go. The running sums are the (private)
//! `delta` module's, shared with the timestamp stream.

use super::delta::{self, Stream, Zigzag};
use crate::cursor::Cursor;
use crate::encoding::simple8b::Bits64;
use crate::error::{Error, ErrorKind, Result};

/// Header of raw zigzag deltas.
pub const RAW: u8 = 0x00;
/// Header of a zigzag first value and simple8b zigzag deltas.
pub const SIMPLE8B: u8 = 0x10;
/// Header of a run: zigzag first value, zigzag delta, repeat count.
pub const RLE: u8 = 0x20;

/// Appends the integers of a block's value section to `dst`.
///
/// An empty section holds no values (Go reads it that way).
///
/// # Errors
/// [`ErrorKind::UnknownEncoding`] for a header other than `0x00`, `0x10`, `0x20`;
/// [`ErrorKind::LimitExceeded`] before allocating when the section claims more than
/// `max_values` values; [`ErrorKind::Truncated`], [`ErrorKind::BadVarint`] or [`ErrorKind::BadEncoding`]
/// for damaged bytes. On error `dst` may hold part of the section's values.
pub fn decode_integers(src: &[u8], max_values: usize, dst: &mut Vec<i64>) -> Result<()> {
    decode_zigzag(src, INTEGERS, max_values, dst)
}

const INTEGERS: Stream = Stream {
    name: "integer",
    values: "integers in a block",
};

/// The integer decoder for any 64-bit type: unsigned blocks share the encoding and only
/// read the bits differently.
pub(super) fn decode_zigzag<T: Bits64>(
    src: &[u8],
    stream: Stream,
    max_values: usize,
    dst: &mut Vec<T>,
) -> Result<()> {
    let mut cursor = Cursor::new(src, 0);
    let Ok(header) = cursor.u8() else {
        return Ok(());
    };
    match header {
        RAW => delta::decode_raw(cursor, stream, Zigzag, max_values, dst),
        SIMPLE8B => delta::decode_simple8b(cursor, stream, Zigzag, max_values, dst),
        RLE => delta::decode_rle(cursor, stream, Zigzag, max_values, dst),
        _ => Err(Error::new(ErrorKind::UnknownEncoding {
            stream: stream.name,
            header,
        })
        .at(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EncodingFault;
    use crate::encoding::varint::zigzag_encode;
    use crate::testkit::encode::encode_integers;
    use proptest::prelude::*;

    fn decode(src: &[u8]) -> Result<Vec<i64>> {
        let mut out = Vec::new();
        decode_integers(src, 1 << 20, &mut out)?;
        Ok(out)
    }

    fn section(header: u8, first: u64, rest: &[u8]) -> Vec<u8> {
        let mut out = vec![header];
        out.extend_from_slice(&first.to_be_bytes());
        out.extend_from_slice(rest);
        out
    }

    #[test]
    fn rle_stores_repeats_and_zigzags_both_numbers() {
        // first 10 (zigzag 20), delta -3 (zigzag 5), 3 repeats: 4 values.
        let src = section(RLE, 20, &[5, 3]);
        assert_eq!(decode(&src).unwrap(), vec![10, 7, 4, 1]);
        assert_eq!(encode_integers(&[10, 7, 4, 1]), src);
        // Zero repeats is one value.
        assert_eq!(decode(&section(RLE, 1, &[0, 0])).unwrap(), vec![-1]);
        // Constant series: delta 0.
        assert_eq!(encode_integers(&[5, 5, 5]), section(RLE, 10, &[0, 2]));
    }

    #[test]
    fn simple8b_has_a_zigzag_first_then_zigzag_deltas() {
        // first -1 (zigzag 1); one selector-15 word holding zigzag(5) = 10.
        let src = section(SIMPLE8B, 1, &[0xF0, 0, 0, 0, 0, 0, 0, 10]);
        assert_eq!(decode(&src).unwrap(), vec![-1, 4]);
        assert_eq!(encode_integers(&[-1, 4]), src);
        // Two values are never a run.
        assert_eq!(encode_integers(&[3, 3])[0], SIMPLE8B);
        // A single value: no words.
        assert_eq!(encode_integers(&[-2]), section(SIMPLE8B, 3, &[]));
    }

    #[test]
    fn raw_holds_every_zigzag_delta() {
        let src = [
            &[RAW][..],
            &zigzag_encode(1).to_be_bytes(),
            &zigzag_encode(i64::MAX - 1).to_be_bytes(),
            &zigzag_encode(-1).to_be_bytes(),
        ]
        .concat();
        assert_eq!(decode(&src).unwrap(), vec![1, i64::MAX, i64::MAX - 1]);
        assert_eq!(encode_integers(&[1, i64::MAX, i64::MAX - 1]), src);
        assert_eq!(decode(&[RAW]).unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn sums_wrap_like_go() {
        // i64::MIN then i64::MAX: the delta is -1 after wrapping.
        assert_eq!(
            decode(&encode_integers(&[i64::MIN, i64::MAX])).unwrap(),
            vec![i64::MIN, i64::MAX]
        );
        let src = section(RLE, zigzag_encode(i64::MAX), &[2, 2]);
        assert_eq!(
            decode(&src).unwrap(),
            vec![i64::MAX, i64::MIN, i64::MIN + 1]
        );
        let src = section(
            SIMPLE8B,
            zigzag_encode(i64::MAX),
            &[0xF0, 0, 0, 0, 0, 0, 0, 2],
        );
        assert_eq!(decode(&src).unwrap(), vec![i64::MAX, i64::MIN]);
    }

    #[test]
    fn empty_section_holds_nothing_and_dst_is_appended() {
        let mut out = vec![9];
        decode_integers(&[], 10, &mut out).unwrap();
        decode_integers(&section(RLE, 2, &[2, 1]), 10, &mut out).unwrap();
        assert_eq!(out, vec![9, 1, 2]);
    }

    #[test]
    fn rejects_headers_influxdb_never_writes() {
        for header in [0x01, 0x11, 0x2F, 0x30, 0xFF] {
            let err = decode(&section(header, 0, &[1, 2])).unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::UnknownEncoding { stream: "integer", header: h } if *h == header),
                "{header:#x}: {err}"
            );
        }
    }

    #[test]
    fn damaged_sections_fail_with_offsets() {
        let err = decode(&[RAW, 0, 0, 0, 0, 0, 0, 0, 0, 1]).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BadEncoding {
                    stream: "integer",
                    what: EncodingFault::RawEndsInsideValue { tail: 1 }
                }
            ),
            "{err}"
        );
        assert_eq!(err.offset(), Some(9));
        let err = decode(&[SIMPLE8B, 0, 0]).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::Truncated {
                needed: 8,
                available: 2
            }
        ));
        assert_eq!(err.offset(), Some(1));
        let err = decode(&section(SIMPLE8B, 0, &[0; 12])).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BadEncoding {
                    stream: "simple8b",
                    what: EncodingFault::EndsInsideWord { tail: 4 }
                }
            ),
            "{err}"
        );
        assert_eq!(err.offset(), Some(17));
        let err = decode(&section(RLE, 0, &[])).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::BadVarint));
        assert_eq!(err.offset(), Some(9));
        let err = decode(&section(RLE, 0, &[1, 1, 1])).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BadEncoding {
                    stream: "integer",
                    what: EncodingFault::BytesAfterRun
                }
            ),
            "{err}"
        );
        assert_eq!(err.offset(), Some(11));
    }

    #[test]
    fn every_prefix_fails_or_decodes_without_panicking() {
        let values: Vec<i64> = (0..500).map(|i| (i * i) % 977 - 400).collect();
        let encoded = encode_integers(&values);
        assert_eq!(encoded[0], SIMPLE8B);
        for len in 0..encoded.len() {
            let _ = decode(&encoded[..len]);
        }
        assert_eq!(decode(&encoded).unwrap(), values);
    }

    #[test]
    fn counts_are_checked_before_allocating() {
        let huge = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
        let mut rest = vec![2];
        rest.extend_from_slice(&huge);
        let mut out = Vec::new();
        let err = decode_integers(&section(RLE, 0, &rest), 1000, &mut out).unwrap_err();
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
        // 3 repeats are 4 values.
        let err = decode_integers(&section(RLE, 0, &[0, 3]), 3, &mut out).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 4,
                limit: 3,
                ..
            }
        ));
        decode_integers(&section(RLE, 0, &[0, 3]), 4, &mut out).unwrap();
        assert_eq!(out.len(), 4);

        let err =
            decode_integers(&section(SIMPLE8B, 0, &[0; 8]), 240, &mut Vec::new()).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 241,
                limit: 240,
                ..
            }
        ));
        let err = decode_integers(&[0; 25], 2, &mut Vec::new()).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 3,
                limit: 2,
                ..
            }
        ));
    }

    fn series() -> impl Strategy<Value = Vec<i64>> {
        prop_oneof![
            prop::collection::vec(any::<i64>(), 0..300),
            prop::collection::vec(-1000i64..1000, 0..1200),
            (any::<i64>(), any::<i64>(), 0usize..1200).prop_map(|(first, step, n)| {
                (0..n as i64)
                    .map(|i| first.wrapping_add(i.wrapping_mul(step)))
                    .collect()
            }),
            prop::collection::vec(
                prop_oneof![
                    Just(i64::MIN),
                    Just(i64::MAX),
                    Just(0i64),
                    Just(-1i64),
                    any::<i64>()
                ],
                0..40,
            ),
            (any::<i64>(), prop::collection::vec(-3i64..4, 0..1200)).prop_map(|(start, steps)| {
                steps
                    .iter()
                    .scan(start, |acc, &d| {
                        *acc = acc.wrapping_add(d);
                        Some(*acc)
                    })
                    .collect()
            }),
        ]
    }

    proptest! {
        #[test]
        fn round_trips(values in series()) {
            prop_assert_eq!(decode(&encode_integers(&values)).unwrap(), values);
        }

        #[test]
        fn any_bytes_decode_or_fail_cleanly(src in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            if decode_integers(&src, 500, &mut out).is_ok() {
                prop_assert!(out.len() <= 500);
            }
        }
    }
}
