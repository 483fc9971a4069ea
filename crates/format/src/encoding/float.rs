//! Floats: InfluxDB's Gorilla XOR variant.
//!
//! ```text
//! [0x10][first value: 64 bits][XOR steps ...][end marker step][zero padding to a byte]
//!
//! step  0                          same value as before
//!       1 0 <m bits>               XOR with the previous value: same window as last time
//!       1 1 <L: 5> <S: 6> <S bits> new window: L leading zeros, S significant bits
//!                                  (S = 0 means 64), T = 64 - L - S trailing zeros
//! ```
//!
//! Bits are read most significant first. A step's bits, shifted left by `T`, are XORed
//! into the previous value. The window starts as `L = 0, T = 0`, which Go also assumes.
//! The stream ends with the value `0x7FF8000000000001` (Go's `math.NaN()`) written as one
//! more step, so NaN itself cannot be stored; a stream whose first value is the marker
//! holds no values.
//!
//! InfluxDB's encoder masks `L` with `& 0x1F`, so 32 or more leading zeros are written as
//! `L & 31`: the window is wider than needed but the value is the same, and the decoder
//! needs nothing special.

use std::iter;

use crate::error::{EncodingFault, Error, ErrorKind, Result};
use crate::format::FLOAT_END_MARKER;

/// The only header InfluxDB writes: Gorilla.
pub const HEADER: u8 = 0x10;

/// Appends the floats of a block's value section to `dst`.
///
/// An empty section holds no values, as does a stream whose first value is the end
/// marker (what InfluxDB writes for no values).
///
/// # Errors
/// [`ErrorKind::UnknownEncoding`] for a header other than `0x10`;
/// [`ErrorKind::Truncated`] when the bits end before the end marker;
/// [`ErrorKind::BadEncoding`] for a window wider than 64 bits or whole bytes after the end
/// marker; [`ErrorKind::LimitExceeded`] as soon as more than `max_values` values have
/// been read. On error `dst` may hold part of the section's values.
pub fn decode_floats(src: &[u8], max_values: usize, dst: &mut Vec<f64>) -> Result<()> {
    let Some((&header, payload)) = src.split_first() else {
        return Ok(());
    };
    if header != HEADER {
        return Err(Error::new(ErrorKind::UnknownEncoding {
            stream: "float",
            header,
        })
        .at(0));
    }
    let Some(first) = payload.first_chunk::<8>() else {
        return Err(Error::truncated(1, 8, payload.len() as u64));
    };
    if payload.len() > usize::MAX / 8 {
        // Only possible on 32-bit targets, where bit positions would overflow.
        return Err(Error::limit(
            PAYLOAD_AT,
            "float section bytes",
            payload.len() as u64,
            (usize::MAX / 8) as u64,
        ));
    }
    let first = u64::from_be_bytes(*first);
    let end = if first == FLOAT_END_MARKER {
        64
    } else {
        // Room for values of up to 64 bits each: bounded by the input, unlike
        // `max_values`, and rarely short, since most values take fewer bits.
        dst.reserve(max_values.min(payload.len() / 8 + 1));
        let mut reader = Reader {
            prev: first,
            meaningful: 64,
            trailing: 0,
            budget: max_values,
            max_values,
        };
        reader.emit(first, 1, dst)?;
        reader.run(payload, 64, dst)?
    };
    let used = end.div_ceil(8);
    if used != payload.len() {
        return Err(Error::encoding(
            PAYLOAD_AT + used as u64,
            "float",
            EncodingFault::BytesAfterEnd {
                count: (payload.len() - used) as u64,
            },
        ));
    }
    Ok(())
}

/// Where the payload (the bits after the header) starts in the section.
const PAYLOAD_AT: u64 = 1;

/// The first 25 or more bits from `shift` bits into `chunk`, left-aligned.
#[inline(always)]
fn head(chunk: &[u8; 16], shift: u32) -> u32 {
    let [b0, b1, b2, b3, ..] = *chunk;
    u32::from_be_bytes([b0, b1, b2, b3]) << shift
}

/// Values decoded between two appends to the destination.
const BATCH: usize = 128;

/// Why [`Reader::run`] left its inner loop.
enum Stop {
    /// The batch is full.
    Full,
    /// Fewer than 16 bytes are left.
    Tail,
    /// At least eight repeats start the window.
    Repeats(u128),
    /// The end marker.
    End,
}

/// The decoder state between steps.
struct Reader {
    /// Bits of the last value; never the end marker.
    prev: u64,
    /// Significant bits of the current window, 1..=64.
    meaningful: u32,
    /// Trailing zeros of the current window, 0..=63.
    trailing: u32,
    /// Values that may still be appended.
    budget: usize,
    /// The caller's limit, for error messages.
    max_values: usize,
}

impl Reader {
    /// Decodes steps from bit `pos` of `payload` to the end marker and returns the bit
    /// position just after it.
    ///
    /// While 16 bytes remain from the byte holding `pos`, one unaligned 128-bit load
    /// holds every bit of the next step (at most 2 + 11 + 64 bits, after at most 7 bits
    /// of that byte already read). Values go to a stack batch first, so the loop does not
    /// touch the `Vec` per value. The last bytes, and the step after a full budget, go
    /// through [`Reader::run_checked`].
    #[inline]
    fn run(&mut self, payload: &[u8], mut pos: usize, dst: &mut Vec<f64>) -> Result<usize> {
        let mut batch = [0u64; BATCH];
        loop {
            let room = self.budget.min(BATCH);
            let mut filled = 0;
            let mut stop = Stop::Full;
            for slot in &mut batch[..room] {
                let Some(chunk) = payload.get(pos / 8..).and_then(<[u8]>::first_chunk::<16>) else {
                    stop = Stop::Tail;
                    break;
                };
                let shift = (pos % 8) as u32;
                // Runs of repeats (steps of one 0 bit) go out in one piece. Eight in a row
                // are rare enough in changing data for the branch to be predicted.
                if head(chunk, shift) >> 24 == 0 {
                    stop = Stop::Repeats(u128::from_be_bytes(*chunk) << shift);
                    break;
                }
                let (bits, used) = self.step(chunk, shift, pos)?;
                pos += used;
                if bits == FLOAT_END_MARKER {
                    stop = Stop::End;
                    break;
                }
                *slot = bits;
                filled += 1;
            }
            self.budget -= filled;
            dst.extend(batch.iter().take(filled).map(|&bits| f64::from_bits(bits)));
            match stop {
                Stop::End => return Ok(pos),
                Stop::Full if self.budget > 0 => {}
                Stop::Full | Stop::Tail => return self.run_checked(payload, pos, dst),
                Stop::Repeats(window) => {
                    // 121 bits of the window are data; the rest is the shift's zero fill.
                    let n = (window.leading_zeros() as usize).min(121);
                    self.emit(self.prev, n, dst)?;
                    pos += n;
                }
            }
        }
    }

    /// [`Reader::run`] one step at a time, reading through a zero-padded copy and
    /// checking every step against the bits that really exist and the budget.
    #[cold]
    #[inline(never)]
    fn run_checked(&mut self, payload: &[u8], mut pos: usize, dst: &mut Vec<f64>) -> Result<usize> {
        // `decode_floats` checked that bit positions fit a `usize`.
        let total = payload.len() * 8;
        loop {
            let rest = payload.get(pos / 8..).unwrap_or_default();
            let mut padded = [0u8; 16];
            for (to, from) in padded.iter_mut().zip(rest) {
                *to = *from;
            }
            let (bits, used) = self.step(&padded, (pos % 8) as u32, pos)?;
            if used > total - pos {
                let byte = pos / 8;
                return Err(Error::truncated(
                    PAYLOAD_AT + byte as u64,
                    (pos % 8 + used).div_ceil(8) as u64,
                    (payload.len() - byte) as u64,
                ));
            }
            if bits == FLOAT_END_MARKER {
                return Ok(pos + used);
            }
            self.emit(bits, 1, dst)?;
            pos += used;
        }
    }

    /// Decodes the step starting `shift` bits into `chunk` and returns the value's bits
    /// (the end marker at the end) and the number of bits the step used. `pos` only
    /// locates errors.
    ///
    /// The step's length depends only on its first 13 bits, read through a narrow load
    /// of their own: the next step's position waits on as little as possible. A repeat
    /// is selected rather than branched on, because repeats and changes alternate
    /// unpredictably in real data and a mispredicted branch costs more than the
    /// arithmetic.
    #[inline(always)]
    fn step(&mut self, chunk: &[u8; 16], shift: u32, pos: usize) -> Result<(u64, usize)> {
        let head = head(chunk, shift);
        let repeat = head >> 31 == 0;
        let header = if !repeat && (head >> 30) & 1 == 1 {
            let leading = (head >> 25) & 0x1F;
            let meaningful = match (head >> 19) & 0x3F {
                0 => 64,
                n => n,
            };
            if leading + meaningful > 64 {
                return Err(self.wide_window(leading, meaningful, pos));
            }
            self.meaningful = meaningful;
            self.trailing = 64 - leading - meaningful;
            13
        } else {
            2
        };
        // After the header (shift + header <= 20 bits), the top 64 bits of the chunk hold
        // the value's bits, left-aligned.
        let window = u128::from_be_bytes(*chunk) << (shift + header);
        let xor = (window >> 64) as u64 >> (64 - self.meaningful);
        let bits = if repeat {
            self.prev
        } else {
            self.prev ^ (xor << self.trailing)
        };
        let used = if repeat { 1 } else { header + self.meaningful };
        if bits != FLOAT_END_MARKER {
            self.prev = bits;
        }
        Ok((bits, used as usize))
    }

    #[cold]
    fn wide_window(&self, leading: u32, meaningful: u32, pos: usize) -> Error {
        Error::encoding(
            PAYLOAD_AT + (pos / 8) as u64,
            "float",
            EncodingFault::WindowTooWide {
                leading,
                meaningful,
            },
        )
    }

    /// Appends `n` copies of the value with `bits`, within the budget.
    #[inline(always)]
    fn emit(&mut self, bits: u64, n: usize, dst: &mut Vec<f64>) -> Result<()> {
        if n > self.budget {
            return Err(self.over_budget(n));
        }
        self.budget -= n;
        if n == 1 {
            dst.push(f64::from_bits(bits));
        } else {
            dst.extend(iter::repeat_n(f64::from_bits(bits), n));
        }
        Ok(())
    }

    /// The stream holds at least `n` more values than the budget allows.
    #[cold]
    fn over_budget(&self, n: usize) -> Error {
        let claimed = (self.max_values - self.budget).saturating_add(n);
        Error::limit(
            PAYLOAD_AT,
            "floats in a block",
            claimed as u64,
            self.max_values as u64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::encode::encode_floats;
    use proptest::prelude::*;

    fn decode(src: &[u8]) -> Result<Vec<f64>> {
        let mut out = Vec::new();
        decode_floats(src, 1 << 20, &mut out)?;
        Ok(out)
    }

    fn bits_of(values: &[f64]) -> Vec<u64> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    /// A section: the header, `first`, then the steps written as `0`/`1` characters
    /// (spaces ignored), zero-padded to a byte.
    fn section(first: u64, steps: &str) -> Vec<u8> {
        let mut out = vec![HEADER];
        out.extend_from_slice(&first.to_be_bytes());
        let steps: Vec<bool> = steps
            .chars()
            .filter(|c| *c != ' ')
            .map(|c| c == '1')
            .collect();
        for byte in steps.chunks(8) {
            out.push(
                byte.iter()
                    .enumerate()
                    .fold(0, |b, (i, &bit)| b | (u8::from(bit) << (7 - i))),
            );
        }
        out
    }

    fn ones(n: usize) -> String {
        "1".repeat(n)
    }

    fn zeros(n: usize) -> String {
        "0".repeat(n)
    }

    #[test]
    fn repeat_then_end_marker_with_a_new_window() {
        // 0.0 twice. The end marker 0x7FF8000000000001 XOR 0.0 has 1 leading zero and no
        // trailing zeros: control 11, L = 1, S = 63, then its low 63 bits.
        let marker = format!("{}000{}1", ones(12), zeros(47));
        let src = section(0, &format!("0 11 00001 111111 {marker}"));
        assert_eq!(src.len(), 1 + 8 + 10);
        assert_eq!(bits_of(&decode(&src).unwrap()), vec![0, 0]);
        assert_eq!(encode_floats(&[0.0, 0.0]), src);
    }

    #[test]
    fn control_10_before_any_window_reads_64_bits() {
        // The encoder never writes this, but Go starts with L = T = 0 and so do we.
        let two = format!("01{}", zeros(62)); // 2.0
        let end = format!("0011111111111000{}1", zeros(47)); // 2.0 XOR marker
        let src = section(0, &format!("10 {two} 10 {end}"));
        assert_eq!(bits_of(&decode(&src).unwrap()), vec![0, 2f64.to_bits()]);
    }

    #[test]
    fn leading_zeros_are_masked_to_five_bits() {
        // 1.0 then 1.0 with its lowest bit flipped: the XOR has 63 leading zeros, written
        // as 63 & 31 = 31, so the window has 64 - 31 = 33 significant bits.
        let next = f64::from_bits(1f64.to_bits() ^ 1);
        let step = format!("11 11111 100001 {}1", zeros(32));
        // End: next XOR marker = 0x4008000000000000, 1 leading and 51 trailing zeros;
        // 1 < 31 so a new window: L = 1, S = 12, bits 100000000001.
        let end = "11 00001 001100 100000000001";
        let src = section(1f64.to_bits(), &format!("{step} {end}"));
        assert_eq!(encode_floats(&[1.0, next]), src);
        assert_eq!(bits_of(&decode(&src).unwrap()), bits_of(&[1.0, next]));
    }

    #[test]
    fn six_zero_bits_mean_64_significant_bits() {
        // 0.0 then 0x8000000000000001: no leading or trailing zeros, S = 64 written as 0.
        // The end (0xFFF8000000000000) fits that window, so it reuses it with control 10.
        let next = f64::from_bits(0x8000_0000_0000_0001);
        let step = format!("11 00000 000000 1{}1", zeros(62));
        let end = format!("10 {}{}", ones(13), zeros(51));
        let src = section(0, &format!("{step} {end}"));
        assert_eq!(encode_floats(&[0.0, next]), src);
        assert_eq!(bits_of(&decode(&src).unwrap()), bits_of(&[0.0, next]));
    }

    #[test]
    fn no_values() {
        assert!(decode(&[]).unwrap().is_empty());
        let src = section(FLOAT_END_MARKER, "");
        assert_eq!(encode_floats(&[]), src);
        assert!(decode(&src).unwrap().is_empty());
    }

    #[test]
    fn appends_to_existing_values() {
        let mut out = vec![9.5];
        decode_floats(&encode_floats(&[1.5, -2.0]), 2, &mut out).unwrap();
        assert_eq!(out, vec![9.5, 1.5, -2.0]);
    }

    #[test]
    fn window_wider_than_64_bits_is_corrupt() {
        let src = section(0, &format!("11 11111 111111 {}", zeros(80)));
        let err = decode(&src).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BadEncoding {
                    stream: "float",
                    what: EncodingFault::WindowTooWide {
                        leading: 31,
                        meaningful: 63
                    }
                }
            ),
            "{err}"
        );
        assert_eq!(err.offset(), Some(9));
    }

    #[test]
    fn damaged_sections_fail() {
        let err = decode(&[0x11; 9]).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::UnknownEncoding {
                stream: "float",
                header: 0x11
            }
        ));
        let err = decode(&[HEADER, 1, 2, 3]).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::Truncated {
                needed: 8,
                available: 3
            }
        ));
        assert_eq!(err.offset(), Some(1));
        // A first value and nothing after it: the end marker is missing.
        let err = decode(&section(0, "")).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Truncated { .. }), "{err}");
        assert_eq!(err.offset(), Some(9));
        // Whole bytes after the end marker.
        let mut src = encode_floats(&[1.0, 2.0]);
        src.push(0);
        let err = decode(&src).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BadEncoding {
                    stream: "float",
                    what: EncodingFault::BytesAfterEnd { count: 1 }
                }
            ),
            "{err}"
        );
        assert_eq!(err.offset(), Some(src.len() as u64 - 1));
        let mut src = encode_floats(&[]);
        src.push(0);
        assert!(matches!(
            decode(&src).unwrap_err().kind(),
            ErrorKind::BadEncoding {
                stream: "float",
                ..
            }
        ));
    }

    #[test]
    fn every_prefix_of_a_stream_fails() {
        let values: Vec<f64> = (0..300)
            .map(|i| (f64::from(i) * 0.37).sin() * 1e3)
            .collect();
        let encoded = encode_floats(&values);
        assert!(encoded.len() > 40);
        for len in 1..encoded.len() {
            assert!(
                decode(&encoded[..len]).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
        assert_eq!(decode(&encoded).unwrap(), values);
    }

    #[test]
    fn limit_stops_decoding() {
        let mut out = Vec::new();
        let err = decode_floats(&encode_floats(&[1.0, 2.0, 3.0]), 2, &mut out).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 3,
                limit: 2,
                ..
            }
        ));
        // A run of repeats is refused as a whole.
        let err = decode_floats(&encode_floats(&[7.0; 100]), 50, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::LimitExceeded { limit: 50, .. }),
            "{err}"
        );
        let err = decode_floats(&encode_floats(&[7.0]), 0, &mut Vec::new()).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 1,
                limit: 0,
                ..
            }
        ));
        decode_floats(&encode_floats(&[7.0; 100]), 100, &mut out).unwrap();
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>()
                .prop_map(f64::from_bits)
                .prop_filter("NaN is the end marker", |v| !v.is_nan()),
            prop::sample::select(vec![
                0.0,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MIN,
                f64::MAX,
                f64::MIN_POSITIVE,
                f64::EPSILON,
                f64::from_bits(1),
                f64::from_bits(0x8000_0000_0000_0001),
                f64::from_bits(0x000F_FFFF_FFFF_FFFF),
                1.0,
            ]),
            (-100i32..100).prop_map(f64::from),
            (-1e6f64..1e6).prop_map(|v| (v * 100.0).round() / 100.0),
        ]
    }

    proptest! {
        #[test]
        fn round_trips(values in prop::collection::vec(float(), 0..600)) {
            let got = decode(&encode_floats(&values)).unwrap();
            prop_assert_eq!(bits_of(&got), bits_of(&values));
        }

        #[test]
        fn round_trips_runs(values in prop::collection::vec((float(), 1usize..200), 0..20)) {
            let values: Vec<f64> =
                values.iter().flat_map(|&(v, n)| iter::repeat_n(v, n)).collect();
            let got = decode(&encode_floats(&values)).unwrap();
            prop_assert_eq!(bits_of(&got), bits_of(&values));
        }

        #[test]
        fn any_bytes_decode_or_fail_cleanly(tail in prop::collection::vec(any::<u8>(), 0..80)) {
            let mut src = vec![HEADER];
            src.extend_from_slice(&tail);
            let mut out = Vec::new();
            if decode_floats(&src, 300, &mut out).is_ok() {
                prop_assert!(out.len() <= 300);
            }
        }
    }
}
