//! Strings: one snappy block of length-prefixed byte strings.
use crate::error::Result;
use crate::values::Strings;
/// Appends the strings of a block's value section to `dst`.
pub fn decode_strings(
    _src: &[u8],
    _max_values: usize,
    _max_bytes: usize,
    _dst: &mut Strings,
) -> Result<()> {
    Err(crate::Error::corrupt(0, "string decoding not written yet"))
}
