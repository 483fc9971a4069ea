//! A TSM block: type byte, timestamp section, value section; decoded into caller-owned
//! buffers.
//!
//! ```text
//! [type u8][uvarint ts_len][timestamps: ts_len bytes][values: the rest]
//! ```

use crate::cursor::Cursor;
use crate::encoding;
use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limits;
use crate::values::{FieldType, Values};

/// A block's bytes (after the CRC) split into its sections.
#[derive(Clone, Copy, Debug)]
pub struct BlockSections<'a> {
    /// The type of the values.
    pub field_type: FieldType,
    /// The encoded timestamps.
    pub timestamps: &'a [u8],
    /// Absolute offset of the timestamp section.
    pub timestamps_offset: u64,
    /// The encoded values.
    pub values: &'a [u8],
    /// Absolute offset of the value section.
    pub values_offset: u64,
}

impl<'a> BlockSections<'a> {
    /// Splits `block`, whose first byte is at absolute `offset`.
    pub fn split(block: &'a [u8], offset: u64) -> Result<BlockSections<'a>> {
        let mut cursor = Cursor::new(block, offset);
        let code = cursor.u8()?;
        let field_type = FieldType::from_block_type(code)
            .ok_or_else(|| Error::new(ErrorKind::UnknownType { found: code }).at(offset))?;
        let len_at = cursor.offset();
        let ts_len = cursor.uvarint()?;
        let ts_len = usize::try_from(ts_len)
            .ok()
            .filter(|&n| n <= cursor.remaining())
            .ok_or_else(|| Error::truncated(len_at, ts_len, cursor.remaining() as u64))?;
        let timestamps_offset = cursor.offset();
        let timestamps = cursor.bytes(ts_len)?;
        let values_offset = cursor.offset();
        Ok(BlockSections {
            field_type,
            timestamps,
            timestamps_offset,
            values: cursor.rest(),
            values_offset,
        })
    }
}

/// Decodes `block` (the bytes after the CRC, first byte at absolute `offset`) into
/// `timestamps` and `values`, which are cleared first. `values` takes the block's type.
///
/// The block must hold as many values as timestamps: a mismatch is corruption (Go would
/// silently cut the longer stream or fail, depending on the type).
pub fn decode_block(
    block: &[u8],
    offset: u64,
    limits: &Limits,
    timestamps: &mut Vec<i64>,
    values: &mut Values,
) -> Result<()> {
    let sections = BlockSections::split(block, offset)?;
    timestamps.clear();
    values.reset(sections.field_type);
    let max = limits.max_block_values;
    encoding::decode_timestamps(sections.timestamps, max, timestamps)
        .map_err(|e| e.rebase(sections.timestamps_offset))?;
    let v = sections.values;
    match values {
        Values::Float(dst) => encoding::decode_floats(v, max, dst),
        Values::Integer(dst) => encoding::decode_integers(v, max, dst),
        Values::Unsigned(dst) => encoding::decode_unsigned(v, max, dst),
        Values::Boolean(dst) => encoding::decode_booleans(v, max, dst),
        Values::String(dst) => encoding::decode_strings(v, max, limits.max_decompressed_bytes, dst),
    }
    .map_err(|e| e.rebase(sections.values_offset))?;
    if timestamps.len() != values.len() {
        return Err(Error::new(ErrorKind::CountMismatch {
            timestamps: timestamps.len(),
            values: values.len(),
        })
        .at(offset));
    }
    if timestamps.is_empty() {
        return Err(Error::new(ErrorKind::EmptyBlock).at(offset));
    }
    Ok(())
}
