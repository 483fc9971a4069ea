//! What a block's headers say without decoding its values: the number of points (read
//! from the timestamp section alone) and the encoding of each section.
//!
//! The point count of a block is its number of timestamps. Each timestamp encoding
//! gives it cheaply:
//!
//! ```text
//! raw       0x00 then 8-byte words            count = (len - 1) / 8
//! simple8b  0x1d, first (8 B), 64-bit words   count = 1 + Σ values-per-word(selector)
//! RLE       0x2d, first (8 B), uvarint delta, uvarint count N    count = N
//! ```
//!
//! `inspect` uses this to count values from the index and block headers only; `dump`
//! uses [`BlockInfo`] to print block headers.

use crate::block::BlockSections;
use crate::encoding::varint::decode_uvarint;
use crate::error::{EncodingFault, Error, ErrorKind, Result};
use crate::values::FieldType;

/// Values per simple8b word, by selector (the top 4 bits).
const SIMPLE8B_COUNTS: [usize; 16] = [240, 120, 60, 30, 20, 15, 12, 10, 8, 7, 6, 5, 4, 3, 2, 1];

/// A section's encoding, from the high nibble of its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// Uncompressed 8-byte words (timestamps: deltas; integers: zigzag deltas).
    Raw,
    /// simple8b-packed deltas.
    Simple8b,
    /// Run-length: first value, delta, count.
    Rle,
    /// Gorilla XOR floats.
    Gorilla,
    /// Bit-packed booleans.
    BitPacked,
    /// Snappy-compressed strings.
    Snappy,
    /// A header no InfluxDB version writes for this stream.
    Unknown(u8),
}

impl Encoding {
    /// The short name `influx_inspect dumptsm` uses (`none`, `s8b`, `rle`, `gor`, `bp`,
    /// `snpy`), or `?XX` with the header byte.
    pub fn name(self) -> String {
        match self {
            Encoding::Raw => "none".into(),
            Encoding::Simple8b => "s8b".into(),
            Encoding::Rle => "rle".into(),
            Encoding::Gorilla => "gor".into(),
            Encoding::BitPacked => "bp".into(),
            Encoding::Snappy => "snpy".into(),
            Encoding::Unknown(b) => format!("?{b:02x}"),
        }
    }

    fn of_timestamps(header: u8) -> Encoding {
        match header >> 4 {
            0 => Encoding::Raw,
            1 => Encoding::Simple8b,
            2 => Encoding::Rle,
            _ => Encoding::Unknown(header),
        }
    }

    fn of_values(ty: FieldType, header: u8) -> Encoding {
        match (ty, header >> 4) {
            (FieldType::Integer | FieldType::Unsigned, 0) => Encoding::Raw,
            (FieldType::Integer | FieldType::Unsigned, 1) => Encoding::Simple8b,
            (FieldType::Integer | FieldType::Unsigned, 2) => Encoding::Rle,
            (FieldType::Float, 1) => Encoding::Gorilla,
            (FieldType::Boolean, 1) => Encoding::BitPacked,
            (FieldType::String, 1) => Encoding::Snappy,
            _ => Encoding::Unknown(header),
        }
    }
}

/// A block's headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// The type byte of the block.
    pub field_type: FieldType,
    /// Number of points, from the timestamp section.
    pub count: usize,
    /// Encoding of the timestamps.
    pub timestamp_encoding: Encoding,
    /// log10 of the timestamp divisor (low nibble of the timestamp header).
    pub timestamp_scale: u8,
    /// Bytes of the timestamp section.
    pub timestamp_len: usize,
    /// Encoding of the values.
    pub value_encoding: Encoding,
    /// Bytes of the value section.
    pub value_len: usize,
}

impl BlockInfo {
    /// Reads the headers of `block` (the bytes after the CRC; first byte at absolute
    /// `offset`).
    ///
    /// # Errors
    /// An unknown type byte, a timestamp section that is empty, of an unknown encoding,
    /// or whose length does not fit its encoding.
    pub fn read(block: &[u8], offset: u64) -> Result<BlockInfo> {
        let sections = BlockSections::split(block, offset)?;
        let count = count_timestamps(sections.timestamps, sections.timestamps_offset)?;
        let ts_header = sections.timestamps.first().copied().unwrap_or(0);
        Ok(BlockInfo {
            field_type: sections.field_type,
            count,
            timestamp_encoding: Encoding::of_timestamps(ts_header),
            timestamp_scale: ts_header & 0x0F,
            timestamp_len: sections.timestamps.len(),
            value_encoding: sections.values.first().map_or(Encoding::Unknown(0), |&h| {
                Encoding::of_values(sections.field_type, h)
            }),
            value_len: sections.values.len(),
        })
    }
}

/// Number of points in `block` (the bytes after the CRC), read from its timestamp section
/// without decoding any value.
///
/// # Errors
/// As [`BlockInfo::read`].
pub fn count_values(block: &[u8]) -> Result<usize> {
    let sections = BlockSections::split(block, 0)?;
    count_timestamps(sections.timestamps, sections.timestamps_offset)
}

/// Number of timestamps in an encoded timestamp section whose first byte is at absolute
/// `offset`.
///
/// # Errors
/// An empty section, an unknown encoding, a length that does not fit the encoding.
pub fn count_timestamps(section: &[u8], offset: u64) -> Result<usize> {
    let Some((&header, body)) = section.split_first() else {
        return Err(Error::encoding(
            offset,
            "timestamp",
            EncodingFault::EmptySection,
        ));
    };
    match header >> 4 {
        0 => {
            if !body.len().is_multiple_of(8) || body.is_empty() {
                return Err(Error::encoding(
                    offset,
                    "timestamp",
                    EncodingFault::RawSectionLength {
                        len: section.len() as u64,
                    },
                ));
            }
            Ok(body.len() / 8)
        }
        1 => {
            let Some(words) = body.get(8..) else {
                return Err(Error::truncated(offset + 1, 8, body.len() as u64));
            };
            if !words.len().is_multiple_of(8) {
                return Err(Error::encoding(
                    offset + 9,
                    "timestamp",
                    EncodingFault::WordsLength {
                        len: words.len() as u64,
                    },
                ));
            }
            Ok(1 + words
                .chunks_exact(8)
                .map(|w| {
                    w.first()
                        .map_or(0, |&b| SIMPLE8B_COUNTS[usize::from(b >> 4)])
                })
                .sum::<usize>())
        }
        2 => {
            let Some(rest) = body.get(8..) else {
                return Err(Error::truncated(offset + 1, 8, body.len() as u64));
            };
            let bad = || Error::encoding(offset + 9, "timestamp", EncodingFault::BadRunVarint);
            let (_, used) = decode_uvarint(rest).ok_or_else(bad)?;
            let (count, _) =
                decode_uvarint(rest.get(used..).unwrap_or_default()).ok_or_else(bad)?;
            usize::try_from(count).map_err(|_| bad())
        }
        _ => Err(Error::new(ErrorKind::UnknownEncoding {
            stream: "timestamp",
            header,
        })
        .at(offset)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ts: &[u8], values: &[u8]) -> Vec<u8> {
        let mut b = vec![FieldType::Float.block_type()];
        crate::encoding::varint::encode_uvarint(ts.len() as u64, &mut b);
        b.extend_from_slice(ts);
        b.extend_from_slice(values);
        b
    }

    #[test]
    fn counts_each_timestamp_encoding() {
        // raw: header + 3 words
        let mut raw = vec![0x00];
        raw.extend_from_slice(&[0; 24]);
        assert_eq!(count_values(&block(&raw, &[0x10])).unwrap(), 3);
        // simple8b: header, first, one word of selector 15 (1 value), one of selector 2 (60)
        let mut s8b = vec![0x1C];
        s8b.extend_from_slice(&[0; 8]);
        s8b.extend_from_slice(&[0xF0, 0, 0, 0, 0, 0, 0, 5]);
        s8b.extend_from_slice(&[0x20, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(count_values(&block(&s8b, &[0x10])).unwrap(), 62);
        // a single point: no words at all
        let mut one = vec![0x1C];
        one.extend_from_slice(&[0; 8]);
        assert_eq!(count_values(&block(&one, &[0x10])).unwrap(), 1);
        // RLE: header, first, delta 10 (1 byte), count 1000 (2 bytes)
        let mut rle = vec![0x29];
        rle.extend_from_slice(&[0; 8]);
        rle.push(10);
        crate::encoding::varint::encode_uvarint(1000, &mut rle);
        let info = BlockInfo::read(&block(&rle, &[0x10, 1, 2]), 100).unwrap();
        assert_eq!(info.count, 1000);
        assert_eq!(info.timestamp_encoding, Encoding::Rle);
        assert_eq!(info.timestamp_scale, 9);
        assert_eq!(info.value_encoding, Encoding::Gorilla);
        assert_eq!(info.value_len, 3);
    }

    #[test]
    fn rejects_bad_sections() {
        assert!(count_values(&block(&[], &[0x10])).is_err());
        assert!(count_values(&block(&[0x00, 1, 2], &[0x10])).is_err());
        assert!(count_values(&block(&[0x10, 0, 0], &[0x10])).is_err());
        let mut odd = vec![0x10];
        odd.extend_from_slice(&[0; 11]);
        assert!(count_values(&block(&odd, &[0x10])).is_err());
        let err = count_timestamps(&[0x30, 0], 40).unwrap_err();
        assert_eq!(err.offset(), Some(40));
        assert!(matches!(err.kind(), ErrorKind::UnknownEncoding { .. }));
    }
}
