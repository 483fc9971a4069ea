//! Timestamps: raw deltas, simple8b deltas or RLE, each scaled by a power of ten.
use crate::error::Result;
/// Appends the timestamps of a block's timestamp section to `dst`.
pub fn decode_timestamps(_src: &[u8], _max_values: usize, _dst: &mut Vec<i64>) -> Result<()> {
    Err(crate::Error::corrupt(0, "timestamp decoding not written yet"))
}
