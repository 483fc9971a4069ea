//! Signed integers: zigzag deltas, raw, simple8b or RLE.
use crate::error::Result;
/// Appends the integers of a block's value section to `dst`.
pub fn decode_integers(_src: &[u8], _max_values: usize, _dst: &mut Vec<i64>) -> Result<()> {
    Err(crate::Error::corrupt(0, "integer decoding not written yet"))
}
