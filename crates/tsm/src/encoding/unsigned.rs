//! Unsigned integers: the integer encoding, reinterpreted.
use crate::error::Result;
/// Appends the unsigned integers of a block's value section to `dst`.
pub fn decode_unsigned(_src: &[u8], _max_values: usize, _dst: &mut Vec<u64>) -> Result<()> {
    Err(crate::Error::corrupt(0, "unsigned decoding not written yet"))
}
