//! The byte-level pieces of a tag chunk's pages: compression, RLE runs, and the
//! truncated min/max statistics.

use parquet::basic::Compression;
use parquet::errors::{ParquetError, Result};

/// Compresses pages with the codec of the other columns, through the crates parquet uses
/// for it (its own compressors are not public); only the codecs influx-tsm offers. One
/// zstd context serves all the chunk's pages: creating one costs more than compressing
/// a small page.
pub(crate) enum PageCompressor {
    None,
    Snappy(Box<snap::raw::Encoder>),
    Lz4Raw,
    Zstd(Box<zstd::bulk::Compressor<'static>>),
}

impl PageCompressor {
    pub(crate) fn new(compression: Compression) -> Result<Self> {
        let external = |err: std::io::Error| ParquetError::External(Box::new(err));
        Ok(match compression {
            Compression::UNCOMPRESSED => PageCompressor::None,
            Compression::SNAPPY => PageCompressor::Snappy(Box::new(snap::raw::Encoder::new())),
            Compression::LZ4_RAW => PageCompressor::Lz4Raw,
            Compression::ZSTD(level) => PageCompressor::Zstd(Box::new(
                zstd::bulk::Compressor::new(level.compression_level()).map_err(external)?,
            )),
            other => {
                return Err(ParquetError::NYI(format!(
                    "tag columns compressed with {other}"
                )));
            }
        })
    }

    pub(crate) fn compress(&mut self, buf: Vec<u8>) -> Result<Vec<u8>> {
        match self {
            PageCompressor::None => Ok(buf),
            PageCompressor::Snappy(encoder) => encoder
                .compress_vec(&buf)
                .map_err(|err| ParquetError::External(Box::new(err))),
            PageCompressor::Lz4Raw => Ok(lz4_flex::block::compress(&buf)),
            PageCompressor::Zstd(compressor) => compressor
                .compress(&buf)
                .map_err(|err| ParquetError::External(Box::new(err))),
        }
    }
}

/// Sets `slot` to `value`, reusing its allocation.
pub(crate) fn replace(slot: &mut Option<Vec<u8>>, value: &[u8]) {
    let v = slot.get_or_insert_with(Vec::new);
    v.clear();
    v.extend_from_slice(value);
}

/// The bits needed for `max` (0 for 0).
pub(crate) fn bits_for(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// One RLE run of the RLE/bit-packed hybrid encoding: the count shifted left by one
/// (LSB 0 = RLE) as ULEB128, then the value in `ceil(bit_width / 8)` little-endian
/// bytes. Runs longer than a ULEB128 header can say are split.
pub(crate) fn rle_run(out: &mut Vec<u8>, mut len: usize, value: u32, bit_width: u8) {
    const MAX_RUN: usize = (u32::MAX >> 1) as usize;
    let value_bytes = usize::from(bit_width).div_ceil(8);
    while len > 0 {
        let take = len.min(MAX_RUN);
        let mut header = (take as u64) << 1;
        loop {
            let byte = (header & 0x7f) as u8;
            header >>= 7;
            if header == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(&value.to_le_bytes()[..value_bytes]);
        len -= take;
    }
}

/// A lower bound of `value` of at most `limit` bytes: its longest prefix that ends on a
/// character boundary (values are UTF-8). Returns the value itself when it fits or no
/// non-empty prefix does; the flag says whether it was truncated.
pub(crate) fn truncate_min(value: &[u8], limit: Option<usize>) -> (Vec<u8>, bool) {
    let Some(limit) = limit.filter(|l| value.len() > *l) else {
        return (value.to_vec(), false);
    };
    let Ok(text) = std::str::from_utf8(value) else {
        return (value[..limit].to_vec(), true);
    };
    match (1..=limit).rev().find(|i| text.is_char_boundary(*i)) {
        Some(end) => (value[..end].to_vec(), true),
        None => (value.to_vec(), false),
    }
}

/// An upper bound of `value` of at most `limit` bytes: a prefix ending on a character
/// boundary whose last character that can be incremented (without growing in UTF-8
/// length) is incremented, the rest cut. Returns the value itself when it fits or no
/// such bound exists; the flag says whether it was truncated.
pub(crate) fn truncate_max(value: &[u8], limit: Option<usize>) -> (Vec<u8>, bool) {
    let Some(limit) = limit.filter(|l| value.len() > *l) else {
        return (value.to_vec(), false);
    };
    let bound = match std::str::from_utf8(value) {
        Ok(text) => (limit.saturating_sub(3)..=limit)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .and_then(|end| increment_last_char(&text[..end])),
        Err(_) => increment_bytes(&value[..limit]),
    };
    match bound {
        Some(bound) => (bound, true),
        None => (value.to_vec(), false),
    }
}

pub(crate) fn increment_last_char(text: &str) -> Option<Vec<u8>> {
    text.char_indices().rev().find_map(|(at, c)| {
        let next = char::from_u32(u32::from(c) + 1).filter(|n| n.len_utf8() == c.len_utf8())?;
        let mut out = text.as_bytes()[..at].to_vec();
        let mut buf = [0u8; 4];
        out.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
        Some(out)
    })
}

pub(crate) fn increment_bytes(bytes: &[u8]) -> Option<Vec<u8>> {
    let last = bytes.iter().rposition(|b| *b != u8::MAX)?;
    let mut out = bytes[..=last].to_vec();
    out[last] += 1;
    Some(out)
}
