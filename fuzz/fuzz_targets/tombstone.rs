#![no_main]
//! A tombstone file of any version: decodes or fails; the set built from it answers
//! range queries consistently with its ranges.
use libfuzzer_sys::fuzz_target;
use influx_tsm_shard::Limits;
use influx_tsm_shard::tombstone::{TombstoneSet, decode_tombstones};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default().max_decompressed_bytes(1 << 22);
    let _ = influx_tsm_shard::verify::verify_tombstone(data, &limits);
    let Ok(tombstones) = decode_tombstones(data, &limits) else {
        return;
    };
    let set = TombstoneSet::new(tombstones.clone());
    for t in &tombstones {
        if t.min_time <= t.max_time {
            assert!(set.covers(&t.key, t.min_time) && set.covers(&t.key, t.max_time));
            assert!(set.covers_range(&t.key, t.min_time, t.max_time));
        }
    }
});
