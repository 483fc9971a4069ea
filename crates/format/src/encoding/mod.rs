//! The encodings of TSM block sections, one file each.
//!
//! Every decoder appends to a caller-owned buffer, so one allocation serves many blocks,
//! and refuses to append more than `max_values` values: counts come from the file and are
//! claims, not facts. Error offsets are relative to the slice passed in; [`crate::block`]
//! rebases them to file offsets.

pub mod boolean;
mod delta;
pub mod float;
pub mod integer;
pub mod simple8b;
pub mod string;
pub mod timestamp;
pub mod unsigned;
pub mod varint;

pub use boolean::decode_booleans;
pub use float::decode_floats;
pub use integer::decode_integers;
pub use string::decode_strings;
pub use timestamp::decode_timestamps;
pub use unsigned::decode_unsigned;
