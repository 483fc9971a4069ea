//! Floats: InfluxDB's Gorilla XOR variant.
use crate::error::Result;
/// Appends the floats of a block's value section to `dst`.
pub fn decode_floats(_src: &[u8], _max_values: usize, _dst: &mut Vec<f64>) -> Result<()> {
    Err(crate::Error::corrupt(0, "float decoding not written yet"))
}
