//! Decoder for InfluxDB 1.x storage files, straight from bytes.
#![deny(unsafe_code)]

pub mod block;
pub mod block_info;
pub mod cache;
pub mod cursor;
pub mod encoding;
mod error;
pub mod file;
pub mod format;
pub mod key;
pub mod layout;
pub mod limits;
pub mod merge;
pub mod mmap;
pub mod rows;
pub mod shard;
pub mod tombstone;
pub mod values;
pub mod verify;
pub mod wal;

pub use error::{Error, ErrorKind, Result};
pub use limits::Limits;
pub use values::{FieldType, Strings, Value, Values};
#[cfg(feature = "testkit")]
pub mod testkit;
