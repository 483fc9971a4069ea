//! Go `encoding/binary` unsigned varints and zigzag.

/// Decodes an unsigned varint at the start of `src`: the value and the bytes used.
///
/// `None` when `src` ends inside the varint or the varint is longer than 10 bytes or
/// overflows 64 bits, which Go's `binary.Uvarint` also rejects.
#[inline]
pub fn decode_uvarint(src: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in src.iter().take(10).enumerate() {
        if i == 9 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte < 0x80 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Inverse of zigzag: 0, 1, 2, 3, 4 become 0, -1, 1, -2, 2.
#[inline]
pub fn zigzag_decode(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Zigzag: maps signed to unsigned so small magnitudes stay small.
#[inline]
pub fn zigzag_encode(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Appends `value` as an unsigned varint (used by test writers and encoders).
pub fn encode_uvarint(mut value: u64, dst: &mut Vec<u8>) {
    while value >= 0x80 {
        dst.push((value as u8) | 0x80);
        value >>= 7;
    }
    dst.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(decode_uvarint(&[0]), Some((0, 1)));
        assert_eq!(decode_uvarint(&[0xAC, 0x02]), Some((300, 2)));
        let max = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
        assert_eq!(decode_uvarint(&max), Some((u64::MAX, 10)));
    }

    #[test]
    fn rejects_truncated_and_overflowing() {
        assert_eq!(decode_uvarint(&[]), None);
        assert_eq!(decode_uvarint(&[0x80]), None);
        let over = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02];
        assert_eq!(decode_uvarint(&over), None);
        assert_eq!(decode_uvarint(&[0x80; 11]), None);
    }

    #[test]
    fn zigzag_table() {
        for (v, u) in [(0i64, 0u64), (-1, 1), (1, 2), (-2, 3), (2, 4)] {
            assert_eq!(zigzag_encode(v), u);
            assert_eq!(zigzag_decode(u), v);
        }
        assert_eq!(zigzag_decode(zigzag_encode(i64::MIN)), i64::MIN);
        assert_eq!(zigzag_decode(zigzag_encode(i64::MAX)), i64::MAX);
    }

    proptest::proptest! {
        #[test]
        fn uvarint_round_trips(v: u64) {
            let mut buf = Vec::new();
            encode_uvarint(v, &mut buf);
            proptest::prop_assert_eq!(decode_uvarint(&buf), Some((v, buf.len())));
        }
    }
}
