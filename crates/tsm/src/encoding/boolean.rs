//! Booleans: a count, then bits packed most significant first.
use crate::error::Result;
/// Appends the booleans of a block's value section to `dst`.
pub fn decode_booleans(_src: &[u8], _max_values: usize, _dst: &mut Vec<bool>) -> Result<()> {
    Err(crate::Error::corrupt(0, "boolean decoding not written yet"))
}
