//! simple8b: up to 240 small unsigned integers per 64-bit word.
//!
//! ```text
//! word: u64, stored big-endian
//! ┌──────────┬─────────────────────────────────────────────────────────────┐
//! │ selector │ payload: n values of b bits each, value 0 in the lowest bits │
//! │  4 bits  │ 60 bits                                                     │
//! └──────────┴─────────────────────────────────────────────────────────────┘
//! ```
//!
//! Selectors 0 and 1 carry no payload: they stand for 240 and 120 copies of the value
//! **1** (not 0), and their payload bits are ignored. The other selectors leave unused
//! high payload bits when `n * b < 60`; those are ignored too, as InfluxDB does.
//!
//! Encoders never pad: a selector is only chosen when at least `n` values remain, so the
//! number of values in a stream is the sum of `n` over its words. Every 8-byte word is
//! valid, which leaves only the stream length to check.

use crate::error::{EncodingFault, Error, Result};

/// The largest value a word can hold: 60 bits.
pub const MAX_VALUE: u64 = (1 << 60) - 1;

/// Values in a word, by selector.
pub const VALUES_PER_WORD: [usize; 16] = [240, 120, 60, 30, 20, 15, 12, 10, 8, 7, 6, 5, 4, 3, 2, 1];

/// Bits per value, by selector. Selectors 0 and 1 use none: their values are all 1.
pub const BITS_PER_VALUE: [u32; 16] = [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30, 60];

mod sealed {
    pub trait Sealed {}
    impl Sealed for u64 {}
    impl Sealed for i64 {}
}

/// A 64-bit integer type decoded values are stored in bit for bit: `u64` or `i64`.
///
/// Timestamps and signed integers are decoded straight into their `Vec<i64>` and turned
/// into absolute values in place, which saves a buffer and a copy per block.
pub trait Bits64: Copy + sealed::Sealed {
    /// The value whose two's-complement bits are `bits`.
    fn from_bits(bits: u64) -> Self;
    /// The two's-complement bits of the value.
    fn to_bits(self) -> u64;
}

impl Bits64 for u64 {
    #[inline(always)]
    fn from_bits(bits: u64) -> u64 {
        bits
    }
    #[inline(always)]
    fn to_bits(self) -> u64 {
        self
    }
}

impl Bits64 for i64 {
    #[inline(always)]
    fn from_bits(bits: u64) -> i64 {
        bits as i64
    }
    #[inline(always)]
    fn to_bits(self) -> u64 {
        self as u64
    }
}

/// Appends every value of the simple8b stream `src` to `dst`.
///
/// # Errors
/// [`ErrorKind::BadEncoding`](crate::ErrorKind::BadEncoding) when `src` is not a whole number of
/// words; [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded), before anything
/// is allocated or appended, when it holds more than `max_values` values.
pub fn decode_simple8b<T: Bits64>(src: &[u8], max_values: usize, dst: &mut Vec<T>) -> Result<()> {
    let count = count_values(src)?;
    if count > max_values {
        return Err(Error::limit(
            0,
            "simple8b values",
            count as u64,
            max_values as u64,
        ));
    }
    let start = dst.len();
    dst.resize(start + count, T::from_bits(0));
    let written = unpack_into(src, dst.get_mut(start..).unwrap_or_default(), T::from_bits);
    dst.truncate(start + written);
    Ok(())
}

/// The number of values in the simple8b stream `src`, read from the selectors alone.
///
/// Saturates instead of overflowing on absurd input, so the result is always safe to
/// compare with a limit.
///
/// # Errors
/// [`ErrorKind::BadEncoding`](crate::ErrorKind::BadEncoding) when `src` is not a whole number of
/// 8-byte words.
pub fn count_values(src: &[u8]) -> Result<usize> {
    let (words, rest) = src.as_chunks::<8>();
    if !rest.is_empty() {
        let at = src.len() - rest.len();
        return Err(Error::encoding(
            at as u64,
            "simple8b",
            EncodingFault::EndsInsideWord {
                tail: rest.len() as u64,
            },
        ));
    }
    Ok(words.iter().fold(0usize, |n, word| {
        n.saturating_add(VALUES_PER_WORD[usize::from(word[0] >> 4)])
    }))
}

/// Writes the values of every whole word of `src`, each passed through `map` in stream
/// order, to the front of `out`, and returns how many it wrote. A trailing partial word
/// is ignored, and so is every word from the first one that no longer fits in `out`.
///
/// Callers size `out` with [`count_values`] first, so that everything fits. Writing into a
/// sized slice instead of appending keeps capacity checks out of the loop, and `map`
/// lets delta decoding run in the same pass while the value is still in a register.
#[inline(always)]
pub fn unpack_into<T: Copy>(src: &[u8], out: &mut [T], mut map: impl FnMut(u64) -> T) -> usize {
    let len = out.len();
    let mut rest = out;
    let mut words = src.as_chunks::<8>().0;
    while let Some(first) = words.first() {
        let selector = first[0] >> 4;
        // Consecutive words with the same selector, the usual case (a series' deltas
        // have similar sizes), are unpacked by one loop with no dispatch per word.
        let same = words
            .iter()
            .position(|w| w[0] >> 4 != selector)
            .unwrap_or(words.len());
        let (group, later) = words.split_at_checked(same).unwrap_or((words, &[]));
        words = later;
        // One arm per selector with constant count and width, so each arm compiles to
        // straight-line shifts and masks.
        let fits = match selector {
            0 => run::<T, 240>(group, &mut rest, &mut map),
            1 => run::<T, 120>(group, &mut rest, &mut map),
            2 => unpack::<T, 60, 1>(group, &mut rest, &mut map),
            3 => unpack::<T, 30, 2>(group, &mut rest, &mut map),
            4 => unpack::<T, 20, 3>(group, &mut rest, &mut map),
            5 => unpack::<T, 15, 4>(group, &mut rest, &mut map),
            6 => unpack::<T, 12, 5>(group, &mut rest, &mut map),
            7 => unpack::<T, 10, 6>(group, &mut rest, &mut map),
            8 => unpack::<T, 8, 7>(group, &mut rest, &mut map),
            9 => unpack::<T, 7, 8>(group, &mut rest, &mut map),
            10 => unpack::<T, 6, 10>(group, &mut rest, &mut map),
            11 => unpack::<T, 5, 12>(group, &mut rest, &mut map),
            12 => unpack::<T, 4, 15>(group, &mut rest, &mut map),
            13 => unpack::<T, 3, 20>(group, &mut rest, &mut map),
            14 => unpack::<T, 2, 30>(group, &mut rest, &mut map),
            _ => unpack::<T, 1, 60>(group, &mut rest, &mut map),
        };
        if !fits {
            break;
        }
    }
    len - rest.len()
}

/// Takes room for as many of `words` words of `N` values as fit from the front of
/// `out`, which then moves past it. The room, and whether every word fit.
#[inline(always)]
fn take<'a, T, const N: usize>(words: usize, out: &mut &'a mut [T]) -> (&'a mut [[T; N]], bool) {
    let fit = words.min(out.len() / N);
    let (room, tail) = std::mem::take(out).split_at_mut(fit * N);
    *out = tail;
    (room.as_chunks_mut::<N>().0, fit == words)
}

/// The words of selectors 0 and 1: `N` copies of the value 1 each.
#[inline(always)]
fn run<T, const N: usize>(
    words: &[[u8; 8]],
    out: &mut &mut [T],
    map: &mut impl FnMut(u64) -> T,
) -> bool {
    let (room, all) = take::<T, N>(words.len(), out);
    for slot in room.as_flattened_mut() {
        *slot = map(1);
    }
    all
}

/// Words of `N` values of `BITS` bits each.
#[inline(always)]
fn unpack<T, const N: usize, const BITS: usize>(
    words: &[[u8; 8]],
    out: &mut &mut [T],
    map: &mut impl FnMut(u64) -> T,
) -> bool {
    let (room, all) = take::<T, N>(words.len(), out);
    let mask = (1u64 << BITS) - 1;
    for (word, slots) in words.iter().zip(room) {
        let word = u64::from_be_bytes(*word);
        for (i, slot) in slots.iter_mut().enumerate() {
            *slot = map((word >> (i * BITS)) & mask);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::encode::encode_simple8b;
    use crate::{EncodingFault, ErrorKind};
    use proptest::prelude::*;

    fn decode(src: &[u8]) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        decode_simple8b(src, usize::MAX, &mut out)?;
        Ok(out)
    }

    #[test]
    fn selectors_0_and_1_are_runs_of_one_and_ignore_payload() {
        assert_eq!(decode(&[0; 8]).unwrap(), vec![1; 240]);
        assert_eq!(
            decode(&[0x0F, 0xFF, 0, 0, 0, 0, 0xAB, 0xCD]).unwrap(),
            vec![1; 240]
        );
        assert_eq!(decode(&[0x10, 0, 0, 0, 0, 0, 0, 0]).unwrap(), vec![1; 120]);
        assert_eq!(
            decode(&[0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).unwrap(),
            vec![1; 120]
        );
    }

    #[test]
    fn value_zero_sits_in_the_low_bits() {
        // Selector 2: 60 one-bit values; bits 0 and 2 set.
        let mut want = vec![0u64; 60];
        want[0] = 1;
        want[2] = 1;
        assert_eq!(decode(&[0x20, 0, 0, 0, 0, 0, 0, 0b101]).unwrap(), want);
        // Selector 14: two 30-bit values, 7 low and 9 high.
        let word: u64 = (14 << 60) | (9 << 30) | 7;
        assert_eq!(decode(&word.to_be_bytes()).unwrap(), vec![7, 9]);
        // Selector 15: one 60-bit value.
        assert_eq!(decode(&[0xFF; 8]).unwrap(), vec![MAX_VALUE]);
        // Selector 9: seven bytes; the top four payload bits are unused and ignored.
        assert_eq!(
            decode(&[0x9F, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01]).unwrap(),
            vec![1, 2, 3, 4, 5, 6, 7]
        );
    }

    #[test]
    fn every_selector_has_its_count_and_width() {
        for selector in 2..16u64 {
            let (n, bits) = (
                VALUES_PER_WORD[selector as usize],
                BITS_PER_VALUE[selector as usize],
            );
            assert!(n as u32 * bits <= 60);
            // All payload bits set: every value is the largest of its width.
            let word = (selector << 60) | MAX_VALUE;
            let want = vec![(1u64 << bits) - 1; n];
            assert_eq!(
                decode(&word.to_be_bytes()).unwrap(),
                want,
                "selector {selector}"
            );
        }
    }

    #[test]
    fn counts_and_concatenates_words() {
        let mut src = vec![0x10, 0, 0, 0, 0, 0, 0, 0];
        src.extend_from_slice(&[0xF0, 0, 0, 0, 0, 0, 0, 42]);
        assert_eq!(count_values(&src).unwrap(), 121);
        let got = decode(&src).unwrap();
        assert_eq!(got.len(), 121);
        assert_eq!(got[120], 42);
        assert_eq!(count_values(&[]).unwrap(), 0);
    }

    #[test]
    fn appends_to_existing_values() {
        let mut out = vec![7u64];
        decode_simple8b(&[0xF0, 0, 0, 0, 0, 0, 0, 3], 1, &mut out).unwrap();
        assert_eq!(out, vec![7, 3]);
    }

    #[test]
    fn partial_word_is_corrupt() {
        for len in [1, 7, 9, 15] {
            let src = vec![0u8; len];
            let err = decode(&src).unwrap_err();
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::BadEncoding {
                        stream: "simple8b",
                        what: EncodingFault::EndsInsideWord { .. }
                    }
                ),
                "{err}"
            );
            assert_eq!(err.offset(), Some((len / 8 * 8) as u64));
        }
    }

    #[test]
    fn limit_is_checked_before_appending() {
        let mut out = Vec::<u64>::new();
        let err = decode_simple8b(&[0; 16], 479, &mut out).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 480,
                limit: 479,
                ..
            }
        ));
        assert!(out.is_empty());
        decode_simple8b(&[0; 16], 480, &mut out).unwrap();
        assert_eq!(out.len(), 480);
    }

    #[test]
    fn unpack_into_stops_before_a_word_that_does_not_fit() {
        // 2, then 120 ones, then 3: the run does not fit in 100 slots.
        let mut src = vec![0xF0, 0, 0, 0, 0, 0, 0, 2, 0x10, 0, 0, 0, 0, 0, 0, 0];
        src.extend_from_slice(&[0xF0, 0, 0, 0, 0, 0, 0, 3]);
        let mut out = [0u64; 100];
        assert_eq!(unpack_into(&src, &mut out, |v| v * 10), 1);
        assert_eq!(out[..2], [20, 0]);
        let mut out = [0u64; 122];
        assert_eq!(unpack_into(&src, &mut out, |v| v), 122);
        assert_eq!((out[0], out[1], out[120], out[121]), (2, 1, 1, 3));
        // A partial word at the end is ignored.
        assert_eq!(unpack_into(&src[..12], &mut out, |v| v), 1);
    }

    #[test]
    fn decodes_into_i64() {
        let mut out = Vec::<i64>::new();
        decode_simple8b(&[0xFF; 8], 1, &mut out).unwrap();
        assert_eq!(out, vec![MAX_VALUE as i64]);
    }

    #[test]
    fn encoder_packs_like_influxdb() {
        // 240 ones: one selector-0 word.
        assert_eq!(encode_simple8b(&[1; 240]).unwrap(), vec![0; 8]);
        // 239 ones: 120 run, then 60 one-bit values, 30 two-bit, 20 three-bit, then 9 left:
        // 8 seven-bit values and a final single value.
        let words = encode_simple8b(&[1; 239]).unwrap();
        let selectors: Vec<u8> = words.chunks(8).map(|w| w[0] >> 4).collect();
        assert_eq!(selectors, vec![1, 2, 3, 4, 8, 15]);
        // A run of 120 ones followed by other values still uses the run selector.
        let mut v = vec![1; 120];
        v.push(5);
        assert_eq!(
            encode_simple8b(&v).unwrap()[..8],
            [0x10, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(encode_simple8b(&[]).unwrap(), Vec::<u8>::new());
        assert_eq!(encode_simple8b(&[MAX_VALUE + 1]), None);
    }

    fn values() -> impl Strategy<Value = Vec<u64>> {
        let value = prop_oneof![
            3 => Just(1u64),
            2 => 0u64..4,
            2 => 0u64..1 << 12,
            1 => 0u64..=MAX_VALUE,
        ];
        prop::collection::vec(value, 0..1000)
    }

    proptest! {
        #[test]
        fn round_trips(values in values()) {
            let encoded = encode_simple8b(&values).unwrap();
            prop_assert_eq!(count_values(&encoded).unwrap(), values.len());
            prop_assert_eq!(decode(&encoded).unwrap(), values);
        }

        #[test]
        fn any_bytes_decode_or_fail_cleanly(src in prop::collection::vec(any::<u8>(), 0..100)) {
            let mut out = Vec::<u64>::new();
            match decode_simple8b(&src, 1000, &mut out) {
                Ok(()) => prop_assert!(out.len() <= 1000),
                Err(_) => prop_assert!(out.is_empty()),
            }
        }
    }
}
