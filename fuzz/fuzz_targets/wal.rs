#![no_main]
//! A WAL segment: entries decode or the reader stops at the failing entry's offset;
//! the replayed cache is sorted, deduplicated and typed consistently.
use libfuzzer_sys::fuzz_target;
use influx_tsm_shard::Limits;
use influx_tsm_shard::cache::Cache;
use influx_tsm_shard::wal::{WalEntry, WalSegmentReader};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default().max_decompressed_bytes(1 << 22);
    let mut reader = WalSegmentReader::new(data, limits);
    loop {
        let before = reader.offset();
        match reader.next_entry() {
            Ok(Some(WalEntry::Write(writes))) => {
                assert!(reader.offset() > before);
                assert!(writes.iter().all(|w| w.timestamps.len() == w.values.len()));
            }
            Ok(Some(_)) => assert!(reader.offset() > before),
            Ok(None) => break,
            Err(_) => {
                assert_eq!(reader.offset(), before);
                break;
            }
        }
    }
    let _ = influx_tsm_shard::verify::verify_wal(data, &limits);
    let (cache, _) = Cache::replay([data], &limits);
    for (_, entry) in cache.iter() {
        assert_eq!(entry.timestamps.len(), entry.values.len());
        assert!(entry.timestamps.windows(2).all(|w| w[0] < w[1]));
    }
});
