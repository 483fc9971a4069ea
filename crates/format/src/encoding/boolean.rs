//! Booleans: a count, then bits packed most significant first.
//!
//! ```text
//! [0x10][uvarint count N][ceil(N / 8) bytes; value i is bit 7 - i % 8 of byte i / 8, 1 = true]
//! ```
//!
//! The streaming Go encoder writes one zero byte even for no values; the batch encoder
//! writes none. Go reads at most as many values as there are bits, whatever the count
//! says, and ignores bytes past the last value; so do we.

use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, Result};

/// The only header InfluxDB writes: bit-packed.
pub const HEADER: u8 = 0x10;

/// Appends the booleans of a block's value section to `dst`.
///
/// An empty section holds no values (Go reads it that way).
///
/// # Errors
/// [`ErrorKind::UnknownEncoding`] for a header other than `0x10`,
/// [`ErrorKind::BadVarint`] for a damaged count, [`ErrorKind::LimitExceeded`] before
/// allocating when the section holds more than `max_values` values.
pub fn decode_booleans(src: &[u8], max_values: usize, dst: &mut Vec<bool>) -> Result<()> {
    let mut cursor = Cursor::new(src, 0);
    let Ok(header) = cursor.u8() else {
        return Ok(());
    };
    if header != HEADER {
        return Err(Error::new(ErrorKind::UnknownEncoding {
            stream: "boolean",
            header,
        })
        .at(0));
    }
    let count_at = cursor.offset();
    let claimed = cursor.uvarint()?;
    let bits = cursor.rest();
    let count = claimed.min((bits.len() as u64).saturating_mul(8));
    let count = usize::try_from(count)
        .ok()
        .filter(|&n| n <= max_values)
        .ok_or_else(|| Error::limit(count_at, "booleans in a block", count, max_values as u64))?;
    dst.reserve(count);
    let (words, _) = bits.as_chunks::<8>();
    let whole_words = count / 64;
    for word in words.iter().take(whole_words) {
        unpack(u64::from_be_bytes(*word), 64, dst);
    }
    if count % 64 != 0 {
        unpack_tail(
            bits.get(whole_words * 8..).unwrap_or_default(),
            count % 64,
            dst,
        );
    }
    Ok(())
}

/// Appends the first `n` bits of `word`, most significant first.
#[inline(always)]
fn unpack(word: u64, n: usize, dst: &mut Vec<bool>) {
    dst.extend((0..n).map(|i| (word << i) >> 63 != 0));
}

/// The last, partial word: up to 8 bytes, zero-padded.
fn unpack_tail(bytes: &[u8], n: usize, dst: &mut Vec<bool>) {
    let mut word = [0u8; 8];
    for (to, from) in word.iter_mut().zip(bytes) {
        *to = *from;
    }
    unpack(u64::from_be_bytes(word), n, dst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::encode::encode_booleans;
    use proptest::prelude::*;

    fn decode(src: &[u8]) -> Result<Vec<bool>> {
        let mut out = Vec::new();
        decode_booleans(src, 1 << 20, &mut out)?;
        Ok(out)
    }

    #[test]
    fn bits_are_most_significant_first() {
        let src = [0x10, 3, 0b1010_0000];
        assert_eq!(decode(&src).unwrap(), vec![true, false, true]);
        assert_eq!(encode_booleans(&[true, false, true]), src);
        let src = [0x10, 9, 0b0000_0001, 0b1000_0000];
        let mut want = vec![false; 9];
        want[7] = true;
        want[8] = true;
        assert_eq!(decode(&src).unwrap(), want);
        assert_eq!(encode_booleans(&want), src);
    }

    #[test]
    fn empty_forms() {
        assert_eq!(decode(&[]).unwrap(), Vec::<bool>::new());
        // Batch encoder: no data byte. Streaming encoder: one zero byte.
        assert_eq!(decode(&[0x10, 0]).unwrap(), Vec::<bool>::new());
        assert_eq!(decode(&[0x10, 0, 0]).unwrap(), Vec::<bool>::new());
        assert_eq!(encode_booleans(&[]), vec![0x10, 0]);
    }

    #[test]
    fn count_is_clamped_to_the_bits_present_like_go() {
        assert_eq!(decode(&[0x10, 32, 0xFF]).unwrap(), vec![true; 8]);
        assert_eq!(decode(&[0x10, 5]).unwrap(), Vec::<bool>::new());
        // Extra bytes past the count are ignored.
        assert_eq!(decode(&[0x10, 1, 0x80, 0xFF, 0xFF]).unwrap(), vec![true]);
    }

    #[test]
    fn word_path_and_tail_agree() {
        let values: Vec<bool> = (0..200).map(|i| i % 3 == 0 || i % 7 == 0).collect();
        for n in [63, 64, 65, 127, 128, 129, 200] {
            assert_eq!(
                decode(&encode_booleans(&values[..n])).unwrap(),
                &values[..n]
            );
        }
    }

    #[test]
    fn damaged_sections_fail() {
        let err = decode(&[0x11, 1, 0x80]).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::UnknownEncoding {
                stream: "boolean",
                header: 0x11
            }
        ));
        let err = decode(&[0x10]).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::BadVarint));
        assert_eq!(err.offset(), Some(1));
        let err = decode(&[0x10, 0x80]).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::BadVarint));
    }

    #[test]
    fn limit_is_checked_before_allocating() {
        let mut out = Vec::new();
        let err = decode_booleans(&[0x10, 9, 0xFF, 0xFF], 8, &mut out).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                claimed: 9,
                limit: 8,
                ..
            }
        ));
        assert_eq!(out.capacity(), 0);
        // A huge claimed count is first clamped to the bits present.
        let mut src = vec![0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F];
        src.extend_from_slice(&[0; 2]);
        decode_booleans(&src, 16, &mut out).unwrap();
        assert_eq!(out, vec![false; 16]);
    }

    proptest! {
        #[test]
        fn round_trips(values in prop::collection::vec(any::<bool>(), 0..1500)) {
            prop_assert_eq!(decode(&encode_booleans(&values)).unwrap(), values);
        }

        #[test]
        fn any_bytes_decode_or_fail_cleanly(src in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            if decode_booleans(&src, 100, &mut out).is_ok() {
                prop_assert!(out.len() <= 100);
            }
        }
    }
}
