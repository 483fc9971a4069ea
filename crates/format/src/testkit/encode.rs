//! Encoders for every block section encoding, choosing the scheme InfluxDB would.
//!
//! InfluxDB 1.8 writes blocks with two encoder families that share the format but differ
//! in a few choices: the batch encoders (`*ArrayEncodeAll`, used by compactions) and the
//! streaming ones (`TimeEncoder`, `IntegerEncoder`, ..., used for cache snapshots). These
//! follow the batch encoders byte for byte, except that snappy output comes from the
//! `snap` crate. Where the streaming encoders differ, the function says how; the decoders
//! read both.

use crate::encoding::simple8b::{BITS_PER_VALUE, MAX_VALUE, VALUES_PER_WORD};
use crate::encoding::varint::{encode_uvarint, zigzag_encode};
use crate::encoding::{boolean, float, integer, string, timestamp};
use crate::format::FLOAT_END_MARKER;
use crate::values::Values;

/// Packs `values` into simple8b words (big-endian bytes) the way InfluxDB's
/// `simple8b.EncodeAll` does: a run selector when the next 240 or 120 values are all 1,
/// otherwise the selector with the most values that all fit its width.
///
/// `None` when a value is above [`MAX_VALUE`].
///
/// The streaming encoder (jwilder/encoding `Encoder`, used for timestamps of cache
/// snapshots) only takes a run selector when every value still buffered is 1, and may
/// bit-pack a run that this function writes as one word.
pub fn encode_simple8b(values: &[u64]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(values.len().div_ceil(8));
    let mut rest = values;
    while !rest.is_empty() {
        let (word, used) = pack_word(rest)?;
        out.extend_from_slice(&word.to_be_bytes());
        rest = &rest[used..];
    }
    Some(out)
}

/// One word from the start of `values` (not empty): the word and how many values it took.
fn pack_word(values: &[u64]) -> Option<(u64, usize)> {
    let ones = values.iter().take(240).take_while(|&&v| v == 1).count();
    if ones == 240 {
        return Some((0, 240));
    }
    if ones >= 120 {
        return Some((1 << 60, 120));
    }
    (2..16).find_map(|selector| {
        let (n, bits) = (VALUES_PER_WORD[selector], BITS_PER_VALUE[selector]);
        let chunk = values.get(..n)?;
        chunk.iter().all(|&v| v >> bits == 0).then(|| {
            let payload = chunk
                .iter()
                .enumerate()
                .fold(0, |word, (i, &v)| word | v << (i as u32 * bits));
            ((selector as u64) << 60 | payload, n)
        })
    })
}

/// Encodes a timestamp section the way InfluxDB does.
///
/// With `d[i] = t[i] - t[i-1]` (wrapping, unsigned) and `div` the largest power of ten up
/// to 10^12 dividing every delta: RLE when there are at least 2 timestamps and every
/// delta is equal; raw when a delta exceeds 2^60 - 1; otherwise simple8b of `d / div`.
/// A single timestamp is simple8b with no words (header `0x1c`); no timestamps are an
/// empty section.
pub fn encode_timestamps(timestamps: &[i64]) -> Vec<u8> {
    let Some(&first) = timestamps.first() else {
        return Vec::new();
    };
    let deltas: Vec<u64> = timestamps
        .windows(2)
        .map(|w| (w[1] as u64).wrapping_sub(w[0] as u64))
        .collect();
    let mut log10 = 12u8;
    for &delta in &deltas {
        while log10 > 0 && delta % 10u64.pow(u32::from(log10)) != 0 {
            log10 -= 1;
        }
    }
    let div = 10u64.pow(u32::from(log10));
    let mut out = Vec::new();
    if deltas
        .first()
        .is_some_and(|&d| deltas.iter().all(|&x| x == d))
    {
        out.push(timestamp::RLE << 4 | log10);
        out.extend_from_slice(&first.to_be_bytes());
        encode_uvarint(deltas[0] / div, &mut out);
        encode_uvarint(timestamps.len() as u64, &mut out);
    } else if deltas.iter().any(|&d| d > MAX_VALUE) {
        out.push(timestamp::RAW << 4);
        out.extend_from_slice(&first.to_be_bytes());
        for delta in deltas {
            out.extend_from_slice(&delta.to_be_bytes());
        }
    } else {
        out.push(timestamp::SIMPLE8B << 4 | log10);
        out.extend_from_slice(&first.to_be_bytes());
        let scaled: Vec<u64> = deltas.iter().map(|d| d / div).collect();
        out.extend(encode_simple8b(&scaled).expect("deltas checked against MAX_VALUE"));
    }
    out
}

/// Encodes a float section the way InfluxDB does, end marker included; no values are the
/// end marker alone.
///
/// # Panics
/// On a NaN value, which InfluxDB refuses to store: it is the end marker.
pub fn encode_floats(values: &[f64]) -> Vec<u8> {
    assert!(
        !values.iter().any(|v| v.is_nan()),
        "InfluxDB cannot store NaN floats"
    );
    let mut out = BitWriter {
        bytes: vec![float::HEADER],
        used: 8,
    };
    let mut bits = values.iter().map(|v| v.to_bits()).chain([FLOAT_END_MARKER]);
    let mut prev = bits.next().unwrap_or(FLOAT_END_MARKER);
    out.write(prev, 64);
    // (leading, trailing) of the last window written; none before the first.
    let mut window: Option<(u32, u32)> = None;
    for cur in bits {
        let xor = cur ^ prev;
        prev = cur;
        if xor == 0 {
            out.write(0, 1);
            continue;
        }
        // InfluxDB masks the count to its 5-bit field instead of capping it at 31.
        let leading = xor.leading_zeros() & 0x1F;
        let trailing = xor.trailing_zeros();
        match window {
            Some((l, t)) if leading >= l && trailing >= t => {
                out.write(0b10, 2);
                out.write(xor >> t, 64 - l - t);
            }
            _ => {
                window = Some((leading, trailing));
                let significant = 64 - leading - trailing;
                out.write(0b11, 2);
                out.write(u64::from(leading), 5);
                // 64 does not fit in 6 bits and is written as 0.
                out.write(u64::from(significant & 0x3F), 6);
                out.write(xor >> trailing, significant);
            }
        }
        if cur == FLOAT_END_MARKER {
            break;
        }
    }
    out.bytes
}

/// Bits appended most significant first.
struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte, 1..=8.
    used: u32,
}

impl BitWriter {
    /// Appends the low `n` bits of `value` (n <= 64).
    fn write(&mut self, value: u64, n: u32) {
        for i in (0..n).rev() {
            if self.used == 8 {
                self.bytes.push(0);
                self.used = 0;
            }
            let bit = ((value >> i) & 1) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= bit << (7 - self.used);
            }
            self.used += 1;
        }
    }
}

/// Encodes a signed integer section the way InfluxDB's batch encoder does.
///
/// With `u[i] = zigzag(v[i] - v[i-1])` and `v[-1] = 0`: RLE when there are more than 2
/// values and `u[1..]` are all equal; raw when one of `u[1..]` exceeds 2^60 - 1;
/// otherwise `u[0]` as 8 bytes and simple8b of `u[1..]`. No values are an empty section.
///
/// The streaming encoder also goes raw when `u[0]` alone exceeds 2^60 - 1 (a first value
/// beyond ±2^59), where this writes simple8b.
pub fn encode_integers(values: &[i64]) -> Vec<u8> {
    let Some(&first) = values.first() else {
        return Vec::new();
    };
    let first = zigzag_encode(first);
    let deltas: Vec<u64> = values
        .windows(2)
        .map(|w| zigzag_encode(w[1].wrapping_sub(w[0])))
        .collect();
    let mut out = Vec::new();
    if values.len() > 2 && deltas.iter().all(|&d| d == deltas[0]) {
        out.push(integer::RLE);
        out.extend_from_slice(&first.to_be_bytes());
        encode_uvarint(deltas[0], &mut out);
        encode_uvarint(deltas.len() as u64, &mut out);
    } else if let Some(words) = encode_simple8b(&deltas) {
        out.push(integer::SIMPLE8B);
        out.extend_from_slice(&first.to_be_bytes());
        out.extend(words);
    } else {
        out.push(integer::RAW);
        for u in [first].into_iter().chain(deltas) {
            out.extend_from_slice(&u.to_be_bytes());
        }
    }
    out
}

/// Encodes an unsigned integer section: InfluxDB reinterprets the values as `i64` and
/// uses the integer encoder.
pub fn encode_unsigned(values: &[u64]) -> Vec<u8> {
    let signed: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    encode_integers(&signed)
}

/// Encodes a boolean section the way InfluxDB's batch encoder does: no data byte for no
/// values (the streaming encoder writes one zero byte).
pub fn encode_booleans(values: &[bool]) -> Vec<u8> {
    let mut out = vec![boolean::HEADER];
    encode_uvarint(values.len() as u64, &mut out);
    for chunk in values.chunks(8) {
        out.push(
            chunk
                .iter()
                .enumerate()
                .fold(0, |b, (i, &v)| b | (u8::from(v) << (7 - i))),
        );
    }
    out
}

/// Encodes a string section: length-prefixed strings in one snappy raw block.
///
/// # Panics
/// When the strings are too large for one snappy block (about 4 GiB).
pub fn encode_strings(values: &[&[u8]]) -> Vec<u8> {
    let mut payload = Vec::new();
    for value in values {
        encode_uvarint(value.len() as u64, &mut payload);
        payload.extend_from_slice(value);
    }
    let compressed = snap::raw::Encoder::new()
        .compress_vec(&payload)
        .expect("strings fit one snappy block");
    let mut out = vec![string::HEADER];
    out.extend(compressed);
    out
}

/// Builds a whole TSM block (without its CRC): type byte, uvarint length of the timestamp
/// section, timestamps, values.
///
/// The two columns are not checked against each other, so tests can build blocks whose
/// counts disagree.
///
/// # Panics
/// As [`encode_floats`] and [`encode_strings`] do.
pub fn encode_block(timestamps: &[i64], values: &Values) -> Vec<u8> {
    let ts = encode_timestamps(timestamps);
    let vs = match values {
        Values::Float(v) => encode_floats(v),
        Values::Integer(v) => encode_integers(v),
        Values::Unsigned(v) => encode_unsigned(v),
        Values::Boolean(v) => encode_booleans(v),
        Values::String(v) => encode_strings(&v.iter().collect::<Vec<_>>()),
    };
    let mut out = vec![values.field_type().block_type()];
    encode_uvarint(ts.len() as u64, &mut out);
    out.extend(ts);
    out.extend(vs);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::varint::decode_uvarint;
    use crate::values::{FieldType, Strings};

    #[test]
    fn block_is_type_length_timestamps_values() {
        let values = Values::Integer(vec![5, 6, 8]);
        let block = encode_block(&[10, 20, 31], &values);
        assert_eq!(block[0], FieldType::Integer.block_type());
        let (ts_len, used) = decode_uvarint(&block[1..]).unwrap();
        let ts = &block[1 + used..1 + used + ts_len as usize];
        assert_eq!(ts, encode_timestamps(&[10, 20, 31]));
        assert_eq!(&block[1 + used + ts.len()..], encode_integers(&[5, 6, 8]));
    }

    #[test]
    fn block_of_every_type() {
        let strings: Strings = [&b"a"[..], b""].into_iter().collect();
        for values in [
            Values::Float(vec![1.5, 2.5]),
            Values::Unsigned(vec![1, u64::MAX]),
            Values::Boolean(vec![true, false]),
            Values::String(strings),
        ] {
            let block = encode_block(&[1, 2], &values);
            assert_eq!(block[0], values.field_type().block_type());
            assert_eq!(block[1] as usize, encode_timestamps(&[1, 2]).len());
        }
    }

    #[test]
    fn float_window_reuse_follows_influxdb() {
        // 1.0, 3.0, 1.0: both XORs are 0x7FF8000000000000 (1 leading, 51 trailing zeros),
        // so the second step reuses the window of the first.
        let encoded = encode_floats(&[1.0, 3.0, 1.0]);
        // After the 64 bits of 1.0: 11 00001 001100 then 12 ones; 10 then 12 ones; ...
        assert_eq!(
            encoded[9..13],
            [0b1100_0010, 0b0110_0111, 0b1111_1111, 0b1101_1111]
        );
    }

    #[test]
    #[should_panic(expected = "NaN")]
    fn nan_is_refused() {
        encode_floats(&[1.0, f64::NAN]);
    }
}
