#![no_main]
//! Split independence: a segment cut at an entry boundary into two segments replays to
//! the same cache as the whole segment (the reader takes whole files, so the split is
//! done on entry boundaries found by reading the whole).
use libfuzzer_sys::fuzz_target;
use influx_tsm_shard::Limits;
use influx_tsm_shard::cache::Cache;
use influx_tsm_shard::wal::WalSegmentReader;

fuzz_target!(|input: &[u8]| {
    let Some((&pick, data)) = input.split_first() else {
        return;
    };
    let limits = Limits::default().max_decompressed_bytes(1 << 22);
    let mut reader = WalSegmentReader::new(data, limits);
    let mut bounds = vec![0];
    while let Ok(Some(_)) = reader.next_entry() {
        bounds.push(reader.offset() as usize);
    }
    let cut = bounds[pick as usize % bounds.len()];
    let (whole, whole_problems) = Cache::replay([data], &limits);
    let (split, split_problems) = Cache::replay([&data[..cut], &data[cut..]], &limits);
    // Debug output compares NaN floats by bits, where == would not.
    assert!(
        format!("{whole:?}") == format!("{split:?}"),
        "split at {cut} differs"
    );
    assert_eq!(whole_problems.len(), split_problems.len());
});
