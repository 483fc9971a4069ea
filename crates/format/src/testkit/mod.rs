//! Writers for InfluxDB storage bytes, for tests, benchmarks and fuzzing (feature `testkit`).
//!
//! They produce what InfluxDB 1.x writes (same encoder choices), so a decoder tested
//! against them is tested against the format, and property tests can build random
//! shards whose truth is known.

pub mod encode;
pub mod tombstone;
pub mod tsm;
pub mod wal;
