//! Unsigned integers: the integer encoding, reinterpreted.
//!
//! InfluxDB encodes a `u64` column by reinterpreting every value as `i64` and running the
//! signed integer encoder, so deltas, zigzag and wrapping all happen on the bits; decoding
//! the integer stream into `u64` gives back the exact values.

use super::delta::Stream;
use super::integer::decode_zigzag;
use crate::error::Result;

const UNSIGNED: Stream = Stream {
    name: "unsigned",
    values: "unsigned integers in a block",
};

/// Appends the unsigned integers of a block's value section to `dst`.
///
/// # Errors
/// As for [`decode_integers`](super::decode_integers), with the stream named `unsigned`.
pub fn decode_unsigned(src: &[u8], max_values: usize, dst: &mut Vec<u64>) -> Result<()> {
    decode_zigzag(src, UNSIGNED, max_values, dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::testkit::encode::{encode_integers, encode_unsigned};
    use proptest::prelude::*;

    fn decode(src: &[u8]) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        decode_unsigned(src, 1 << 20, &mut out)?;
        Ok(out)
    }

    #[test]
    fn shares_the_integer_bytes() {
        let values = [0, u64::MAX, 1 << 63, 7];
        let signed: Vec<i64> = values.iter().map(|&v| v as i64).collect();
        assert_eq!(encode_unsigned(&values), encode_integers(&signed));
        assert_eq!(decode(&encode_unsigned(&values)).unwrap(), values);
        // A run from u64::MAX by +1 wraps to 0.
        let run = [u64::MAX - 1, u64::MAX, 0, 1];
        assert_eq!(encode_unsigned(&run)[0], 0x20);
        assert_eq!(decode(&encode_unsigned(&run)).unwrap(), run);
    }

    #[test]
    fn errors_name_the_unsigned_stream() {
        let err = decode(&[0x30, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::UnknownEncoding {
                stream: "unsigned",
                header: 0x30
            }
        ));
        let err = decode_unsigned(&[0; 17], 1, &mut Vec::new()).unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::LimitExceeded {
                what: "unsigned integers in a block",
                claimed: 2,
                limit: 1
            }
        ));
    }

    proptest! {
        #[test]
        fn round_trips(values in prop_oneof![
            prop::collection::vec(any::<u64>(), 0..300),
            prop::collection::vec(0u64..100, 0..1200),
            prop::collection::vec(prop_oneof![Just(0u64), Just(u64::MAX), Just(1u64 << 63), any::<u64>()], 0..40),
        ]) {
            prop_assert_eq!(decode(&encode_unsigned(&values)).unwrap(), values);
        }
    }
}
