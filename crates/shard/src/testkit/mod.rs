//! Writers for InfluxDB storage bytes, for tests, benchmarks and fuzzing (feature `testkit`).
//!
//! They produce what InfluxDB 1.x writes (same encoder choices), so a decoder tested
//! against them is tested against the format, and property tests can build random
//! shards whose truth is known. Also [`finish_on_threads`], for tests of a shard opened
//! with its key ranges scanned in parallel.

use crate::Result;
use crate::shard::{Shard, ShardOpening};

// The byte writers are the format crate's; they keep their paths here.
pub use influx_tsm_format::testkit::{encode, tombstone, tsm, wal};
#[cfg(feature = "oracle")]
pub mod oracle;

/// Scans every key range of `opening` on a thread of its own and finishes the shard.
///
/// # Errors
/// As [`ShardOpening::finish`].
///
/// # Panics
/// When a scan panics.
pub fn finish_on_threads(opening: ShardOpening) -> Result<Shard> {
    let shared = &opening;
    let scans = std::thread::scope(|threads| {
        let running: Vec<_> = (0..shared.key_ranges())
            .map(|range| threads.spawn(move || shared.scan(range)))
            .collect();
        running
            .into_iter()
            .map(|t| t.join().expect("a key range scan panicked"))
            .collect()
    });
    opening.finish(scans)
}
